// Browser benchmark of opening a room (see bench/open-room.test.ts). Build:
//   npx vite build --config bench/vite.bench.ts ; serve bench-dist on localhost
import { randomBytes, b64u } from '../src/crypto/bytes';
import { sealEnvelope } from '../src/crypto/envelope';
import { Chain } from '../src/crypto/ratchet';
import { LogVerifier, type DirMember } from '../src/crypto/verify';
import { generateDeviceKeys, memberId } from '../src/crypto/keys';
import type { RawEvent } from '../src/protocol/types';

const ROOM = 'YmVuY2gtcm9vbS0wMDAwMQ';
const out = document.getElementById('out')!;
const log = (s: string) => (out.textContent += s + '\n');

async function run() {
  const N = Number(new URLSearchParams(location.search).get('n') ?? 10000);
  const members = await Promise.all(
    Array.from({ length: 200 }, async (_, k) => {
      const keys = await generateDeviceKeys();
      return { id: await memberId(keys.signPub), name: `M${k}`, keys, sign: b64u(keys.signPub), dh: b64u(keys.dhPub) };
    }),
  );
  const writers = members.slice(0, 40);
  const chains = new Map(writers.map((m) => [m.id, new Chain(0, randomBytes(32))]));
  const events: RawEvent[] = [];
  let t = performance.now();
  for (let base = 0; base < N; base += 500) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(500, N - base) }, async (_, j) => {
        const k = base + j;
        const m = writers[k % writers.length];
        const seq = Math.floor(k / writers.length) + 1;
        const s = await sealEnvelope(m.keys.sign.privateKey, await chains.get(m.id)!.messageKey(seq - 1), { room: ROOM, epoch: 1, sender: m.id, seq, prev: 'x', refs: [], i: seq - 1 }, { t: 'log', kind: 'fact', text: `entry ${k} `.repeat(8), at: '2026-12-05T09:00:00.000Z' });
        return { pos: k + 1, body: s.body, sig: s.sig };
      }),
    );
    events.push(...batch);
  }
  log(`sealed ${N} in ${(performance.now() - t).toFixed(0)} ms`);
  const dir = new Map<string, DirMember>(members.map((m) => [m.id, { id: m.id, name: m.name, sign: m.sign, dh: m.dh, since: 1 }]));
  const ck0 = new Map([...chains.entries()].map(([id, c]) => [id, c]));
  const fresh = new Map<string, Chain>();
  for (const [id, c] of ck0) fresh.set(id, new Chain(0, await c.chainKey(0)));
  t = performance.now();
  const v0 = new LogVerifier({ room: ROOM, member: (id) => dir.get(id), chain: () => undefined, complete: false });
  for (let i = 0; i < N; i += 5000) await v0.add(events.slice(i, i + 5000));
  log(`hash+signatures only: ${(performance.now() - t).toFixed(0)} ms`);
  t = performance.now();
  const v = new LogVerifier({ room: ROOM, member: (id) => dir.get(id), chain: (s) => fresh.get(s), complete: false });
  for (let i = 0; i < N; i += 5000) await v.add(events.slice(i, i + 5000));
  const ms = performance.now() - t;
  log(`verified+decrypted ${N} in ${ms.toFixed(0)} ms; ok=${v.checks.filter((c) => c.key === 'ok').length}`);
  document.title = `done ${ms.toFixed(0)}`;
}
run().catch((e) => log('ERROR ' + e));

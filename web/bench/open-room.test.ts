// Benchmark (not part of `vitest run`): verify and decrypt a room of 200
// members with 10,000 logbook entries, as RoomClient does when it opens.
//   BENCH=1 npx vitest run
import { describe, expect, it } from 'vitest';
import { randomBytes } from '../src/crypto/bytes';
import { sealEnvelope } from '../src/crypto/envelope';
import { Chain } from '../src/crypto/ratchet';
import { LogVerifier, type DirMember } from '../src/crypto/verify';
import type { RawEvent } from '../src/protocol/types';
import { dirMember, newMember, type TestMember } from '../test/helpers';

const ROOM = 'YmVuY2gtcm9vbS0wMDAwMQ';

describe('open a room of 200 members and 10,000 entries', () => {
  it('verifies and decrypts', async () => {
    const members: TestMember[] = await Promise.all(Array.from({ length: 200 }, (_, k) => newMember(ROOM, `M${k}`)));
    const writers = members.slice(0, 40); // most members read; 40 write
    const chains = new Map(writers.map((m) => [m.id, new Chain(0, randomBytes(32))]));
    const t0 = performance.now();
    const events: RawEvent[] = [];
    const N = 10000;
    for (let base = 0; base < N; base += 500) {
      // seal in batches (the chain index of each writer is its seq - 1)
      const batch = await Promise.all(
        Array.from({ length: 500 }, async (_, j) => {
          const k = base + j;
          const m = writers[k % writers.length];
          const seq = Math.floor(k / writers.length) + 1;
          return { k, m, seq, s: await sealEnvelope(m.keys.sign.privateKey, await chains.get(m.id)!.messageKey(seq - 1), { room: ROOM, epoch: 1, sender: m.id, seq, prev: 'x', refs: [], i: seq - 1 }, { t: 'log', kind: 'fact', text: `entry ${k} `.repeat(8), at: '2026-12-05T09:00:00.000Z' }) };
        }),
      );
      void batch;
      events.push(...batch.map(({ k, s }) => ({ pos: k + 1, body: s.body, sig: s.sig })));
    }
    console.log(`sealed ${N} in ${(performance.now() - t0).toFixed(0)} ms (prev links not chained: this measures cost, not validity)`);
    const dir = new Map<string, DirMember>(members.map((m) => [m.id, dirMember(m)]));
    // fresh chains, as on a device that just received the wraps
    const fresh = new Map([...chains.entries()].map(([id]) => [id, chains.get(id)!]));
    const t1 = performance.now();
    const v = new LogVerifier({ room: ROOM, member: (id) => dir.get(id), chain: (s) => fresh.get(s), complete: false });
    for (let i = 0; i < N; i += 5000) await v.add(events.slice(i, i + 5000));
    const ms = performance.now() - t1;
    console.log(`verified + decrypted ${N} entries in ${ms.toFixed(0)} ms`);
    expect(v.checks.filter((c) => c.key === 'ok')).toHaveLength(N);
  }, 600_000);
});

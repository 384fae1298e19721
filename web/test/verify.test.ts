import { describe, expect, it } from 'vitest';
import { randomBytes, utf8 } from '../src/crypto/bytes';
import { sealEnvelope } from '../src/crypto/envelope';
import { hashBody } from '../src/crypto/keys';
import { Chain } from '../src/crypto/ratchet';
import { RosterError, verifyRoster } from '../src/crypto/roster';
import { signObject } from '../src/crypto/sign';
import { LogVerifier, verifyEvents, type DirMember, type VerifyContext } from '../src/crypto/verify';
import type { RawEvent } from '../src/protocol/types';
import { dirMember, newMember, rosterMember, signedRoster, type TestMember } from './helpers';

const ROOM = 'dGVzdC1yb29tLTAwMDAwMQ';

/** A small room where A and B write alternately, citing each other. */
async function makeLog(n = 6) {
  const [a, b] = await Promise.all([newMember(ROOM, 'Marie'), newMember(ROOM, 'DGS')]);
  const chains = new Map<string, Chain>([
    [a.id, new Chain(0, randomBytes(32))],
    [b.id, new Chain(0, randomBytes(32))],
  ]);
  const state = new Map<string, { seq: number; prev: string; i: number }>();
  const heads = new Map<string, string>();
  const events: RawEvent[] = [];
  for (let k = 0; k < n; k++) {
    const m: TestMember = k % 2 ? b : a;
    const st = state.get(m.id) ?? { seq: 0, prev: '', i: 0 };
    const refs = [...heads.entries()].filter(([id]) => id !== m.id).map(([, h]) => h);
    const s = await sealEnvelope(
      m.keys.sign.privateKey,
      await chains.get(m.id)!.messageKey(st.i),
      { room: ROOM, epoch: 1, sender: m.id, seq: st.seq + 1, prev: st.prev, refs, i: st.i },
      { t: 'log', kind: k === 2 ? 'decision' : 'fact', text: `entrée ${k}`, at: '2026-12-05T09:00:00.000Z' },
    );
    state.set(m.id, { seq: st.seq + 1, prev: s.hash, i: st.i + 1 });
    heads.set(m.id, s.hash);
    events.push({ pos: k + 1, body: s.body, sig: s.sig, received_at: '2026-12-05T09:00:01.000Z' });
  }
  const dir = new Map<string, DirMember>([
    [a.id, dirMember(a)],
    [b.id, dirMember(b)],
  ]);
  const ctx: VerifyContext = { room: ROOM, member: (id) => dir.get(id), chain: (s) => chains.get(s), complete: true };
  return { a, b, chains, events, ctx, dir };
}

describe('logbook verification', () => {
  it('an intact logbook verifies and decrypts', async () => {
    const { events, ctx } = await makeLog();
    const v = await verifyEvents(ctx, events);
    expect(v.summary).toMatchObject({ total: 6, verified: 6, failed: 0, ok: true });
    expect(v.checks.every((c) => c.key === 'ok')).toBe(true);
    expect((v.checks[2].plain as { kind: string }).kind).toBe('decision');
    expect(v.checks[0].hash).toBe(await hashBody(utf8(events[0].body)));
  });

  it('an altered stored entry fails its signature; only that entry is blamed', async () => {
    const { events, ctx } = await makeLog();
    const altered = events.map((e) => ({ ...e }));
    altered[2].body = altered[2].body.replace('"seq":2', '"seq":2 ');
    const v = await verifyEvents(ctx, altered);
    expect(v.summary.ok).toBe(false);
    expect(v.checks[2].verified).toBe(false);
    expect(v.checks[2].problems.join()).toMatch(/signature invalid/);
    expect(v.checks.filter((c) => !c.verified).map((c) => c.pos)).toEqual([3]);
    // the author's next entry says its predecessor was altered
    expect(v.checks[4].warnings.join()).toMatch(/previous entry was altered/);
  });

  it('a forged entry (signed by another member in the author\'s name) fails', async () => {
    const { events, ctx, b } = await makeLog();
    const body = JSON.parse(events[0].body);
    const forged = await signObject(b.keys.sign.privateKey, 'rempart-crisis-envelope-v1', ROOM, body);
    const v = await verifyEvents(ctx, [{ ...events[0], sig: forged.sig }, ...events.slice(1)]);
    expect(v.checks[0].verified).toBe(false);
    expect(v.checks[0].plain).toBeUndefined(); // never decrypted
  });

  it('a missing entry breaks the position sequence and the author\'s chain', async () => {
    const { events, ctx } = await makeLog();
    const v = await verifyEvents(ctx, events.filter((e) => e.pos !== 3));
    expect(v.summary.ok).toBe(false);
    const c5 = v.checks.find((c) => c.pos === 5)!;
    expect(c5.problems.join()).toMatch(/entries 2 to 2 of Marie are missing/);
    expect(v.checks.find((c) => c.pos === 4)!.problems.join()).toMatch(/entries 3 to 3 are missing/);
  });

  it('a missing entry renumbered by the server is still found', async () => {
    const { events, ctx } = await makeLog();
    const renumbered = events.filter((e) => e.pos !== 3).map((e, k) => ({ ...e, pos: k + 1 }));
    const v = await verifyEvents(ctx, renumbered);
    expect(v.summary.ok).toBe(false);
    expect(v.checks.some((c) => c.problems.some((p) => p.code === "author_gap" && p.v.name === "Marie"))).toBe(true);
  });

  it('reordered entries are detected', async () => {
    const { events, ctx } = await makeLog();
    const swapped = events.map((e) => ({ ...e }));
    [swapped[0].pos, swapped[2].pos] = [swapped[2].pos, swapped[0].pos];
    const v = await verifyEvents(ctx, swapped);
    expect(v.summary.ok).toBe(false);
    expect(v.checks.some((c) => c.problems.some((p) => ["out_of_order", "author_gap", "chain_broken"].includes(p.code)))).toBe(true);
  });

  it('an entry from a removed member after their removal is refused', async () => {
    const { events, ctx, dir, a } = await makeLog(2);
    dir.set(a.id, { ...dir.get(a.id)!, removedAt: 1 });
    const v = await verifyEvents(ctx, events);
    expect(v.checks[0].verified).toBe(false);
    expect(v.checks[0].problems.join()).toMatch(/was not a member/);
  });

  it('without the key: signatures and chains verify, content waits with a clear message', async () => {
    const { events, ctx, b } = await makeLog(4);
    const v = new LogVerifier({ ...ctx, chain: (s, e) => (s === b.id ? undefined : ctx.chain(s, e)) });
    await v.add(events);
    const cb = v.checks[1];
    expect(cb.verified).toBe(true);
    expect(cb.key).toBe('missing');
    expect(v.summary().unreadable).toBe(2);
  });

  it('is incremental: live events after a page verify against the same chains', async () => {
    const { events, ctx } = await makeLog(6);
    const v = new LogVerifier(ctx);
    await v.add(events.slice(0, 4));
    await v.add(events.slice(4));
    await v.add(events.slice(2)); // already held: skipped
    expect(v.summary()).toMatchObject({ total: 6, ok: true });
  });

  it('a newcomer (history not shared) accepts chains that start after seq 1', async () => {
    const { events, ctx } = await makeLog(6);
    const v = await verifyEvents({ ...ctx, complete: false }, events.slice(2));
    expect(v.summary.ok).toBe(true);
    const strict = await verifyEvents(ctx, events.slice(2));
    expect(strict.summary.ok).toBe(false);
  });
});

describe('roster checks', () => {
  it('accepts the coordinator\'s roster and refuses one signed by anyone else', async () => {
    const [c, m] = await Promise.all([newMember(ROOM, 'Maire'), newMember(ROOM, 'DGS')]);
    const s = await signedRoster(c, ROOM, { members: [rosterMember(c), rosterMember(m)] });
    const r = await verifyRoster(s, ROOM, c.sign);
    expect(r.members).toHaveLength(2);
    const byM = await signObject(m.keys.sign.privateKey, 'rempart-crisis-roster-v1', ROOM, JSON.parse(s.body));
    await expect(verifyRoster(byM, ROOM, c.sign)).rejects.toThrow(RosterError);
    await expect(verifyRoster(byM, ROOM, c.sign)).rejects.toThrow(/ALARM/);
  });
  it('refuses swapped keys, rollback, and a removed member coming back', async () => {
    const [c, m, x] = await Promise.all([newMember(ROOM, 'Maire'), newMember(ROOM, 'DGS'), newMember(ROOM, 'X')]);
    // keys of m with the proof of x: the join proof does not match
    const swapped = await signedRoster(c, ROOM, { members: [rosterMember(c), { ...rosterMember(m), dh: x.dh }] });
    await expect(verifyRoster(swapped, ROOM, c.sign)).rejects.toThrow(/do not match/);
    const v2 = await verifyRoster(await signedRoster(c, ROOM, { version: 2, epoch: 2, members: [rosterMember(c)], removed: [m.id] }), ROOM, c.sign);
    const v1 = await signedRoster(c, ROOM, { version: 1, members: [rosterMember(c), rosterMember(m)] });
    await expect(verifyRoster(v1, ROOM, c.sign, v2)).rejects.toThrow(/older/);
    const back = await signedRoster(c, ROOM, { version: 3, epoch: 2, members: [rosterMember(c)], removed: [] });
    await expect(verifyRoster(back, ROOM, c.sign, v2)).rejects.toThrow(/came back/);
    const both = await signedRoster(c, ROOM, { version: 3, epoch: 3, members: [rosterMember(c), rosterMember(m)], removed: [m.id] });
    await expect(verifyRoster(both, ROOM, c.sign, v2)).rejects.toThrow(/both/);
  });
});

// Media keys through the room (docs/crisis-e2ee.md, "Media"): published in
// envelopes, rotated on removal (the removed member never gets the new
// epoch's key) and on admission (the newcomer gets a key, not the earlier
// ones), hidden from the logbook, chat and export but verified like any
// entry. Against the in-memory relay, like test/room.test.ts.
import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setApiBase } from '../src/protocol/api';
import { RoomClient } from '../src/protocol/room';
import { createRoom, joinRoom } from '../src/protocol/setup';
import { Store } from '../src/store/db';
import { createMediaE2EE, RoomMediaE2EE } from '../src/media/e2ee';
import type { Keyring } from '../src/media/keyring';
import { kidEpoch, kidGen, parseHeader } from '../src/media/sframe';
import { views } from '../src/ui/derive';
import { buildReport } from '../src/ui/report';
import { FakeRelay } from './fakerelay';

let relay: FakeRelay;
let n = 0;
const open: RoomMediaE2EE[] = [];

beforeEach(() => {
  relay = new FakeRelay();
  vi.stubGlobal('fetch', relay.fetch);
  vi.stubGlobal('location', { protocol: 'https:', host: 'crisis.local:8443' });
  setApiBase('http://relay');
});
afterEach(() => {
  for (const m of open.splice(0)) m.close();
  vi.unstubAllGlobals();
});

const device = () => Store.open(`media-device-${++n}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseLink(link: string) {
  const m = link.match(/#\/join\/([^/]+)\/([^/]+)\/([^/]+)$/)!;
  return { room: m[1], invite: m[2], coordinatorSign: m[3] };
}

async function newcomer(coord: RoomClient, room: string, name: string): Promise<RoomClient> {
  const { link } = await coord.createInvite();
  const s = await device();
  await joinRoom(s, parseLink(link), name);
  const m = await RoomClient.open(s, room);
  await m.sync();
  await coord.sync();
  await coord.admit(coord.pending.find((x) => x.id === m.memberId)!);
  await m.sync();
  expect(m.admitted).toBe(true);
  return m;
}

async function setup(names: string[]) {
  const cs = await device();
  const room = await createRoom(cs, 'session', { title: 'Inondation', name: 'Coordination' });
  const coord = await RoomClient.open(cs, room);
  await coord.sync();
  const members: RoomClient[] = [];
  for (const name of names) members.push(await newcomer(coord, room, name));
  const all = [coord, ...members];
  for (const c of all) await c.sync();
  return { room, coord, members, all };
}

async function media(c: RoomClient, opts: { testDropKeys?: boolean } = {}): Promise<RoomMediaE2EE> {
  const m = (await createMediaE2EE(c, { ...opts, local: true, switchDelayMs: 0 })) as RoomMediaE2EE;
  open.push(m);
  return m;
}

/** Lets rotations run: sync every client a few times. */
async function settle(clients: RoomClient[], rounds = 4): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    for (const c of clients) if (!c.removed) await c.sync();
    await sleep(20);
  }
}

const ring = (m: RoomMediaE2EE): Keyring => m.ring!;

/** One frame from `from`, opened by `to` (true when it decrypts). */
async function frameGoes(from: RoomMediaE2EE, fromId: string, to: RoomMediaE2EE): Promise<boolean> {
  const f = await ring(from).encrypt('audio', new TextEncoder().encode('allô'));
  expect(f).not.toBeNull();
  return (await ring(to).decrypt(fromId, 'audio', f!)) !== null;
}

describe('media keys through the room', () => {
  it('every participant publishes a key, reads the others, and frames cross; entries are hidden but verified', async () => {
    const { coord, members, all } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    const m = await Promise.all(all.map((c) => media(c)));
    await settle(all);
    await Promise.all(m.map((x) => x.ready()));
    for (const x of m) expect(kidEpoch(x.currentKid()!)).toBe(1);
    expect(await frameGoes(m[1], maire.memberId, m[2])).toBe(true);
    expect(await frameGoes(m[2], dgs.memberId, m[0])).toBe(true);
    expect(await frameGoes(m[0], coord.memberId, m[1])).toBe(true);
    expect(m[2].stats().decrypted[maire.memberId].audio).toBe(1);

    // The entries: verified, counted, but in no list and not in the export.
    const keys = coord.list.filter((i) => i.content?.t === 'media_key');
    expect(keys.length).toBe(3);
    expect(keys.every((i) => i.check.verified)).toBe(true);
    expect(coord.summary().failed).toBe(0);
    const v = views(coord, coord.version, coord.list);
    expect([...v.log, ...v.chat].some((i) => i.content?.t === 'media_key')).toBe(false);
    const full = await coord.verifyAll();
    const report = buildReport(full, {
      title: 't',
      room: coord.room,
      by: 'x',
      name: (id) => id,
      labels: {
        kind: (k) => k,
        state: (s) => s,
        summaryOk: (k) => `${k} ok`,
        newer: 'newer',
        summaryBad: () => 'bad',
      },
    });
    expect(report.total).toBe(full.checks.length);
    expect(report.entries.length).toBe(full.checks.length - 3);
    const md = JSON.stringify(report);
    for (const i of keys) expect(md).not.toContain((i.content as { key: string }).key);
  });

  it('after a removal every remaining participant rotates; the removed member never gets the new keys', async () => {
    const { coord, members, all } = await setup(['Maire', 'DGS', 'Com']);
    const [maire, dgs, com] = members;
    const m = await Promise.all(all.map((c) => media(c)));
    await settle(all);
    await Promise.all(m.map((x) => x.ready()));
    const [mc, mMaire, mDgs, mCom] = m;
    expect(await frameGoes(mMaire, maire.memberId, mCom)).toBe(true); // before: Com hears Maire
    const oldKid = mMaire.currentKid()!;

    await coord.remove(com.memberId);
    await com.sync();
    expect(com.removed).toBe(true);
    await settle([coord, maire, dgs], 6);
    await Promise.all([mc, mMaire, mDgs].map((x) => x.ready()));
    for (const x of [mc, mMaire, mDgs]) expect(kidEpoch(x.currentKid()!)).toBe(2);
    expect(mMaire.currentKid()).not.toBe(oldKid);

    // The others hear each other under epoch 2 keys…
    expect(await frameGoes(mMaire, maire.memberId, mDgs)).toBe(true);
    expect(await frameGoes(mc, coord.memberId, mMaire)).toBe(true);
    // …and the removed member cannot: no epoch-2 key ever reached it.
    for (const [x, id] of [
      [mMaire, maire.memberId],
      [mDgs, dgs.memberId],
      [mc, coord.memberId],
    ] as const) {
      const f = (await ring(x).encrypt('video', new Uint8Array([1, 2, 3])))!;
      expect(kidEpoch(parseHeader(f).kid)).toBe(2);
      expect(await ring(mCom).decrypt(id, 'video', f)).toBeNull();
      expect(ring(mCom).hasKey(id, parseHeader(f).kid)).toBe(false);
    }
    expect(mCom.stats().lastFailure[maire.memberId]).toBe('no_key');
    // Even with the room's raw events, the new keys' envelopes do not open for it.
    const after = coord.rawEvents.filter((e) => JSON.parse(e.body).epoch === 2);
    expect(after.length).toBeGreaterThanOrEqual(3);
    expect(await com.tryDecrypt(after)).toEqual({ ok: 0, failed: after.length });
  });

  it('a member admitted mid-epoch gets a fresh key from everyone in the call, not the earlier ones', async () => {
    const { room, coord, members, all } = await setup(['Maire']);
    const [maire] = members;
    const m = await Promise.all(all.map((c) => media(c)));
    await settle(all);
    await Promise.all(m.map((x) => x.ready()));
    const [mc, mMaire] = m;
    const before = mMaire.currentKid()!;

    const prefet = await newcomer(coord, room, 'Préfet');
    const mp = await media(prefet);
    await settle([coord, maire, prefet], 6);
    await Promise.all([mc, mMaire, mp].map((x) => x.ready()));
    expect(kidEpoch(mMaire.currentKid()!)).toBe(1);
    expect(kidGen(mMaire.currentKid()!)).toBeGreaterThan(kidGen(before));

    expect(await frameGoes(mMaire, maire.memberId, mp)).toBe(true);
    expect(await frameGoes(mc, coord.memberId, mp)).toBe(true);
    expect(await frameGoes(mp, prefet.memberId, mMaire)).toBe(true);
    // The key used before the admission never reached the newcomer.
    expect(ring(mp).hasKey(maire.memberId, before)).toBe(false);
  });

  it('a client built to join without the key decodes nothing, and others are unaffected', async () => {
    const { members, all } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    const mc = await media(all[0]);
    const mMaire = await media(maire);
    const mDgs = await media(dgs, { testDropKeys: true });
    await settle(all);
    await Promise.all([mc, mMaire, mDgs].map((x) => x.ready()));
    expect(await frameGoes(mMaire, maire.memberId, mDgs)).toBe(false);
    expect(await frameGoes(mc, all[0].memberId, mDgs)).toBe(false);
    expect(await frameGoes(mDgs, dgs.memberId, mMaire)).toBe(true); // it still publishes its own key
    const s = mDgs.stats();
    expect(Object.values(s.decrypted).reduce((a, k) => a + k.audio + k.video, 0)).toBe(0);
    expect(s.failed[maire.memberId].audio).toBe(1);
  });

  it('epochHint fetches the roster when the call socket is ahead of the room', async () => {
    const { coord, members, all } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    const mMaire = await media(maire);
    await settle(all);
    await mMaire.ready();
    await coord.remove(dgs.memberId);
    expect(maire.epoch).toBe(1);
    mMaire.epochHint(2);
    await sleep(50);
    await settle([coord, maire], 3);
    expect(maire.epoch).toBe(2);
    await mMaire.ready();
    expect(kidEpoch(mMaire.currentKid()!)).toBe(2);
  });
});

import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import { RoomClient } from '../src/protocol/room';
import { joinRoom } from '../src/protocol/setup';
import { Store } from '../src/store/db';
import { coordinatorRoom, parseLink, useFakeRelay } from './inroom';
import { utf8 } from '../src/crypto/bytes';

const relay = useFakeRelay();
let n = 0;

async function device(): Promise<Store> {
  return Store.open(`device-${++n}`);
}

/** Coordinator with a room and the given members admitted. */
async function setup(names: string[]) {
  const { room, coord } = await coordinatorRoom(await device());
  const members: RoomClient[] = [];
  for (const name of names) {
    const { link } = await coord.createInvite();
    expect(link.startsWith('https://crisis.local:8443/crisis/#/join/')).toBe(true);
    const ms = await device();
    await joinRoom(ms, parseLink(link), name);
    const m = await RoomClient.open(ms, room);
    await m.sync();
    expect(m.admitted).toBe(false);
    await coord.sync();
    const p = coord.pending.find((x) => x.id === m.memberId)!;
    expect(p.name).toBe(name);
    await coord.admit(p);
    await m.sync();
    expect(m.admitted).toBe(true);
    members.push(m);
  }
  const all = [coord, ...members];
  for (const c of all) await c.sync();
  return { room, coord, members, all };
}

const texts = (c: RoomClient) => c.list.map((i) => (i.content && 'text' in i.content ? i.content.text : i.content?.t));

describe('RoomClient against a relay', () => {
  it('three members join, chat and read each other; the title stays encrypted', async () => {
    const { room, coord, members, all } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    expect(maire.rec.title).toBe('Cyberattaque mairie');
    await maire.send({ t: 'chat', text: 'Bonjour à tous', reply_to: null, files: [] });
    await dgs.send({ t: 'log', kind: 'decision', text: 'Couper le réseau', at: new Date().toISOString() });
    await coord.send({ t: 'chat', text: 'Reçu', reply_to: null, files: [] });
    for (const c of all) await c.sync();
    for (const c of all) {
      expect(texts(c)).toEqual(expect.arrayContaining(['Bonjour à tous', 'Couper le réseau', 'Reçu']));
      expect(c.summary().failed).toBe(0);
      expect(c.list.filter((i) => i.content?.t === 'chat').every((i) => i.check.verified)).toBe(true);
    }
    // Nothing written is stored in clear by the relay.
    const disk = JSON.stringify(relay().stored(room)) + JSON.stringify([...relay().rooms.get(room)!.wraps]);
    for (const s of ['Bonjour', 'Couper', 'Reçu', 'Cyberattaque']) expect(disk).not.toContain(s);
    expect(coord.summary().ok).toBe(true);
  });

  it('a removed member cannot read what follows; the others can', async () => {
    const { coord, members, all } = await setup(['Maire', 'DGS', 'Com']);
    const [maire, dgs, com] = members;
    await maire.send({ t: 'chat', text: 'avant', reply_to: null, files: [] });
    for (const c of all) await c.sync();
    expect(texts(com)).toContain('avant');
    const before = com.rawEvents.length;
    await coord.remove(com.memberId);
    await com.sync();
    expect(com.removed).toBe(true);
    await maire.sync();
    await dgs.sync();
    expect(maire.epoch).toBe(2);
    await maire.send({ t: 'chat', text: 'après', reply_to: null, files: [] });
    await dgs.send({ t: 'log', kind: 'fact', text: 'secret après', at: new Date().toISOString() });
    for (const c of [coord, maire, dgs]) await c.sync();
    expect(texts(coord)).toEqual(expect.arrayContaining(['après', 'secret après']));
    expect(texts(dgs)).toContain('après');
    const after = coord.rawEvents.filter((e) => JSON.parse(e.body).epoch === 2);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(await com.tryDecrypt(after)).toEqual({ ok: 0, failed: after.length });
    expect((await com.tryDecrypt(com.rawEvents.slice(0, before))).ok).toBeGreaterThan(0);
  });

  it('entries written offline are kept and sent on reconnection; a new epoch re-encrypts them', async () => {
    const { coord, members, all } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    await maire.send({ t: 'chat', text: 'en ligne', reply_to: null, files: [] });
    relay().offline.add(maire.rec.token);
    await maire.send({ t: 'log', kind: 'action', text: 'hors ligne 1', at: new Date().toISOString() });
    await maire.send({ t: 'log', kind: 'action', text: 'hors ligne 2', at: new Date().toISOString() });
    await maire.flush();
    expect(maire.outboxCount).toBe(2);
    // Meanwhile the coordinator removes DGS: a new epoch.
    await coord.remove(dgs.memberId);
    relay().offline.delete(maire.rec.token);
    await maire.sync();
    expect(maire.outboxCount).toBe(0);
    await coord.sync();
    expect(texts(coord)).toEqual(expect.arrayContaining(['en ligne', 'hors ligne 1', 'hors ligne 2']));
    const epochs = coord.rawEvents.map((e) => JSON.parse(e.body)).filter((e) => e.sender === maire.memberId).map((e) => e.epoch);
    expect(epochs).toEqual([1, 2, 2]);
    expect(coord.summary().failed).toBe(0);
    void all;
  });

  it('a member admitted later reads from their admission on, not before', async () => {
    const { coord, members } = await setup(['Maire']);
    const [maire] = members;
    await maire.send({ t: 'chat', text: 'ancien', reply_to: null, files: [] });
    await coord.sync();
    const { link } = await coord.createInvite();
    const ls = await device();
    await joinRoom(ls, parseLink(link), 'Tardif');
    const late = await RoomClient.open(ls, coord.room);
    await coord.sync();
    await coord.admit(coord.pending[0]);
    await maire.sync(); // sends Tardif a wrap at its current index
    await maire.send({ t: 'chat', text: 'nouveau', reply_to: null, files: [] });
    await late.sync();
    expect(texts(late)).toContain('nouveau');
    expect(texts(late)).not.toContain('ancien');
    expect(late.rec.title).toBe('Cyberattaque mairie');
    expect(late.summary().failed).toBe(0);
  });

  it('a replayed invitation is refused', async () => {
    const { coord } = await setup([]);
    const { link } = await coord.createInvite();
    await joinRoom(await device(), parseLink(link), 'A');
    await expect(joinRoom(await device(), parseLink(link), 'B')).rejects.toThrow(/invitation was used/);
  });

  it('attachments are encrypted, uploaded and decrypted', async () => {
    const { members } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    const bytes = utf8('rapport confidentiel '.repeat(5000));
    const f = await maire.uploadFile({ name: 'rapport.txt', type: 'text/plain', bytes });
    await maire.send({ t: 'chat', text: 'voir pièce jointe', reply_to: null, files: [f] });
    await dgs.sync();
    const msg = dgs.list.find((i) => i.content?.t === 'chat' && i.content.files.length)!;
    const got = await dgs.downloadFile((msg.content as { files: typeof f[] }).files[0]);
    expect(got).toEqual(bytes);
    const stored = [...relay().rooms.values()][0].blobs.get(f.blob)!;
    expect(new TextDecoder().decode(stored)).not.toContain('confidentiel');
  });

  it('reopening from IndexedDB keeps keys, chains and events', async () => {
    const { room, members } = await setup(['Maire']);
    const [maire] = members;
    await maire.send({ t: 'chat', text: 'persisté', reply_to: null, files: [] });
    // same store, new client (a page reload)
    const again = await RoomClient.open((maire as unknown as { store: Store }).store, room);
    expect(texts(again)).toContain('persisté');
    expect(again.summary().failed).toBe(0);
    await again.send({ t: 'chat', text: 'après rechargement', reply_to: null, files: [] });
    await again.sync();
    expect(texts(again)).toContain('après rechargement');
  });
});

describe('refusal', () => {
  it('a refused pending member sees it and the epoch stays', async () => {
    const { coord } = await setup(['Maire']);
    const { link } = await coord.createInvite();
    const ms = await device();
    await joinRoom(ms, parseLink(link), 'Inconnu');
    const m = await RoomClient.open(ms, coord.room);
    await coord.sync();
    await coord.refuse(coord.pending[0]);
    expect(coord.epoch).toBe(1);
    await m.sync();
    expect(m.removed).toBe(true);
    expect(m.rec.status).toBe('refused');
  });
});

describe('an entry altered on the server', () => {
  it('shows as failing after a reload, even though this device kept its own copy', async () => {
    const { room, members } = await setup(['Maire']);
    const [maire] = members;
    await maire.send({ t: 'log', kind: 'fact', text: 'premier', at: new Date().toISOString() });
    await maire.send({ t: 'log', kind: 'fact', text: 'second', at: new Date().toISOString() });
    await maire.sync();
    expect(maire.summary().ok).toBe(true);
    const stored = relay().stored(room);
    const target = stored[stored.length - 2];
    target.body = target.body.replace('"seq":1', '"seq":1 ');
    const again = await RoomClient.open((maire as unknown as { store: Store }).store, room);
    await again.sync();
    expect(again.summary().ok).toBe(false);
    const bad = again.list.find((i) => i.pos === target.pos)!;
    expect(bad.check.verified).toBe(false);
    expect(bad.check.problems.join()).toMatch(/signature invalid/);
    expect(bad.check.problems.join()).toMatch(/server's copy differs/);
    const v = await again.verifyAll();
    expect(v.summary.ok).toBe(false);
    expect(v.checks.find((c) => c.pos === target.pos)!.verified).toBe(false);
  });
});

describe('reopening a room', () => {
  it('uses this device\'s stored verification: no signature check or decryption again', async () => {
    const { room, members } = await setup(['Maire']);
    const [maire] = members;
    for (let i = 0; i < 5; i++) await maire.send({ t: 'log', kind: 'fact', text: `n${i}`, at: new Date().toISOString() });
    await maire.sync();
    const verify = vi.spyOn(crypto.subtle, 'verify');
    const decrypt = vi.spyOn(crypto.subtle, 'decrypt');
    const again = await RoomClient.open((maire as unknown as { store: Store }).store, room);
    expect(verify).not.toHaveBeenCalled();
    expect(decrypt).not.toHaveBeenCalled();
    expect(texts(again)).toEqual(expect.arrayContaining(['n0', 'n4']));
    expect(again.summary()).toMatchObject({ ok: true, failed: 0 });
    verify.mockRestore();
    decrypt.mockRestore();
  });
});

describe('bad input', () => {
  it('a wrap for the wrong recipient or a malformed bundle is reported; the room goes on', async () => {
    const { members, coord } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    await maire.send({ t: 'chat', text: 'avant', reply_to: null, files: [] });
    // the wrap maire made for DGS, handed to the coordinator
    const forDgs = relay().rooms.get(coord.room)!.wraps.find((w) => JSON.parse(w.body).sender === maire.memberId && w.to.includes(dgs.memberId) && !w.to.includes(coord.memberId));
    const bundles = [
      ...(forDgs ? [{ id: 1000, body: forDgs.body, sig: forDgs.sig }] : []),
      { id: 1001, body: '{"v":1,"room":"x"', sig: 'AAAA' },
      { id: 1002, body: JSON.stringify({ v: 9, sender: maire.memberId }), sig: 'AAAA' },
    ];
    await coord.applyWraps(bundles);
    expect(coord.wrapFailures.length).toBeGreaterThanOrEqual(2);
    await maire.send({ t: 'chat', text: 'après', reply_to: null, files: [] });
    await coord.sync();
    expect(texts(coord)).toEqual(expect.arrayContaining(['avant', 'après']));
  });

  it('a forged entry from the server (signed by the wrong key) is flagged, nothing else disturbed', async () => {
    const { room, members, coord } = await setup(['Maire']);
    const [maire] = members;
    await maire.send({ t: 'chat', text: 'vrai', reply_to: null, files: [] });
    // the relay (or someone with its disk) appends an entry in maire's name
    const evs = relay().stored(room);
    const last = evs[evs.length - 1];
    const body = JSON.parse(last.body);
    body.seq += 1;
    body.prev = last.hash;
    evs.push({ ...last, pos: last.pos + 1, body: JSON.stringify(body), sig: last.sig, seq: body.seq, hash: 'x' });
    await coord.sync();
    const forged = coord.list.find((i) => i.pos === last.pos + 1)!;
    expect(forged.check.verified).toBe(false);
    expect(forged.check.problems.map((p) => p.code)).toContain('bad_sig');
    expect(coord.list.filter((i) => i.check.verified).length).toBe(coord.list.length - 1);
  });
});

describe('first load of a large room', () => {
  it('shows the newest entries first, then the whole verified room', async () => {
    const { preview } = await import('../src/protocol/room');
    const { coord, members } = await setup(['Maire']);
    const [maire] = members;
    const { link } = await coord.createInvite();
    const ls = await device();
    await joinRoom(ls, parseLink(link), 'Tardif');
    const late = await RoomClient.open(ls, coord.room);
    await coord.sync();
    await coord.admit(coord.pending[0]);
    await maire.sync();
    for (let i = 0; i < 8; i++) await maire.send({ t: 'log', kind: 'fact', text: `e${i}`, at: new Date().toISOString() });
    const old = { ...preview };
    Object.assign(preview, { after: 4, size: 3 });
    try {
      const seen: { verifying: boolean; n: number }[] = [];
      late.subscribe(() => seen.push({ verifying: late.verifying, n: late.list.length }));
      await late.sync();
      const first = seen.find((x) => x.verifying);
      expect(first?.n).toBe(3);
      expect(late.verifying).toBe(false);
      expect(late.summary().ok).toBe(true);
      expect(texts(late)).toEqual(expect.arrayContaining(['e0', 'e7']));
    } finally {
      Object.assign(preview, old);
    }
  });
});

describe('resending', () => {
  it('an entry the relay took before the answer was lost is not written twice', async () => {
    const { coord, members } = await setup(['Maire', 'DGS']);
    const [maire, dgs] = members;
    // The relay stores the entry but the answer never arrives.
    const realFetch = relay().fetch;
    let dropped = false;
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await realFetch(input, init);
      if (!dropped && String(input).endsWith('/events') && init?.method === 'POST') {
        dropped = true;
        throw new TypeError('Failed to fetch');
      }
      return res;
    });
    await maire.send({ t: 'chat', text: 'une seule fois', reply_to: null, files: [] });
    expect(maire.outboxCount).toBe(1);
    await coord.remove(dgs.memberId); // and the epoch changes meanwhile
    await maire.sync();
    expect(maire.outboxCount).toBe(0);
    await coord.sync();
    expect(texts(coord).filter((x) => x === 'une seule fois')).toHaveLength(1);
    expect(coord.summary().failed).toBe(0);
  });
});

// History share v1 (docs/crisis-e2ee.md, "History share v1"): the Go
// reference's vectors, and the coordinator sharing a room's earlier entries
// with a member through RoomClient and the fake relay.
import 'fake-indexeddb/auto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { b64u, fromB64u, utf8 } from '../src/crypto/bytes';
import { openContent, parseEnvelope, verifyEnvelopeSig } from '../src/crypto/envelope';
import { historyInfo, historyPlaintext, LABEL_HISTORY, openHistoryBundle, makeHistoryBundle } from '../src/crypto/history';
import { sha256 } from '../src/crypto/keys';
import { Chain } from '../src/crypto/ratchet';
import { signingInput } from '../src/crypto/sign';
import { RoomClient } from '../src/protocol/room';
import { Store } from '../src/store/db';
import { coordinatorRoom, pendingDevice, useFakeRelay } from './inroom';

const path = fileURLToPath(new URL('../../internal/crisis/e2ee/testdata/history_vectors.json', import.meta.url));
const present = existsSync(path);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const V: any = present ? JSON.parse(readFileSync(path, 'utf8')) : {};
const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const subtle = crypto.subtle;

/** The fixed identities of the vectors: seeds SHA-256("rempart vector <name> sign|dh"). */
async function identity(name: string) {
  const seed = async (s: string) => Buffer.from(await sha256(utf8(`rempart vector ${name} ${s}`)));
  const ed = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), await seed('sign')]);
  const x = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), await seed('dh')]);
  const signPriv = await subtle.importKey('pkcs8', ed, { name: 'Ed25519' }, true, ['sign']);
  const dhPriv = await subtle.importKey('pkcs8', x, { name: 'X25519' }, true, ['deriveBits']);
  const sign = ((await subtle.exportKey('jwk', signPriv)) as JsonWebKey).x!;
  const dh = ((await subtle.exportKey('jwk', dhPriv)) as JsonWebKey).x!;
  return { id: V.identities[name] as string, sign, dh, signPriv, dhPriv, dhPub: fromB64u(dh) };
}

describe.skipIf(!present)('history share vectors (internal/crisis/e2ee/testdata/history_vectors.json)', () => {
  it('opens the Go bundle as the recipient, and the former member\u2019s entry with the shared key', async () => {
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map(identity));
    expect(toHex(historyInfo(V.room, alice.id, bob.id, V.from))).toBe(V.info_hex);
    expect(toHex(signingInput(LABEL_HISTORY, V.room, V.bundle.body))).toBe(V.signing_input_hex);
    const { bundle, keys } = await openHistoryBundle(V.bundle, { id: bob.id, dhPriv: bob.dhPriv, dhPub: bob.dhPub }, V.room, alice.sign);
    expect(bundle.from).toBe(V.from);
    expect(bundle.former.map((f) => [f.id, f.removed])).toEqual([[carol.id, 2]]);
    expect(keys.map((k) => [k.sender, k.epoch, k.index, toHex(k.ck)])).toEqual(
      V.keys.map((k: { sender_id: string; epoch: number; chain_index: number; chain_key_hex: string }) => [k.sender_id, k.epoch, k.chain_index, k.chain_key_hex]),
    );
    expect(toHex(historyPlaintext(keys))).toBe(V.plaintext_hex);
    const e = parseEnvelope(V.envelope.body);
    expect(await verifyEnvelopeSig(carol.sign, V.room, V.envelope)).toBe(true);
    const k = keys.find((x) => x.sender === carol.id && x.epoch === e.epoch)!;
    const chain = new Chain(k.index, k.ck);
    expect(JSON.stringify(await openContent(await chain.messageKey(e.i), e))).toBe(V.envelope_content);
  });

  it('refuses a bundle for someone else, signed by another key, or altered', async () => {
    const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map(identity));
    const asBob = { id: bob.id, dhPriv: bob.dhPriv, dhPub: bob.dhPub };
    await expect(openHistoryBundle(V.bundle, { id: carol.id, dhPriv: carol.dhPriv, dhPub: carol.dhPub }, V.room, alice.sign)).rejects.toThrow(/another member/);
    await expect(openHistoryBundle(V.bundle, asBob, V.room, carol.sign)).rejects.toThrow(/not signed by the coordinator/);
    const altered = { body: V.bundle.body.replace(`"from":${V.from}`, '"from":1'), sig: V.bundle.sig };
    await expect(openHistoryBundle(altered, asBob, V.room, alice.sign)).rejects.toThrow(/not signed/);
    // Made here, opened here: the two implementations agree both ways.
    const keys = [{ sender: alice.id, epoch: 1, index: 4, ck: hex(V.keys[0].chain_key_hex) }];
    const s = await makeHistoryBundle(alice.signPriv, V.room, alice.id, bob, 2, [], keys);
    const opened = await openHistoryBundle(s, asBob, V.room, alice.sign);
    expect(opened.keys.map((k) => [k.sender, k.epoch, k.index, b64u(k.ck)])).toEqual([[alice.id, 1, 4, b64u(keys[0].ck)]]);
  });
});

// ---------------------------------------------------------------- in a room

const relay = useFakeRelay();
let n = 0;

const device = () => Store.open(`history-${++n}`);


async function admit(coord: RoomClient, c: RoomClient, shareHistory = false): Promise<void> {
  await coord.sync();
  await coord.admit(coord.pending.find((p) => p.id === c.memberId)!, { shareHistory });
  await c.sync();
}

const chat = (text: string) => ({ t: 'chat' as const, text, reply_to: null, files: [] });
const texts = (c: RoomClient) => c.list.map((i) => (i.content && 'text' in i.content ? i.content.text : undefined)).filter(Boolean);

/** A room with history: Maire and DGS write, DGS is removed (epoch 2), Maire writes again. */
async function roomWithHistory() {
  const { room, coord } = await coordinatorRoom(await device());
  const maire = await pendingDevice(coord, await device(), 'Maire');
  await admit(coord, maire);
  const dgs = await pendingDevice(coord, await device(), 'DGS');
  await admit(coord, dgs);
  await maire.send(chat('premier constat'));
  await dgs.sync();
  await dgs.send(chat('message de DGS'));
  await coord.sync();
  await coord.send(chat('décision de la cellule'));
  await coord.remove(dgs.memberId); // epoch 2: DGS is a former member
  await maire.sync();
  await maire.send(chat('époque 2'));
  await coord.sync();
  return { room, coord, maire, dgs };
}

const before = ['premier constat', 'message de DGS', 'décision de la cellule', 'époque 2'];

describe('history share v1 in a room', () => {
  it('a member admitted with "share the history" reads and verifies everything written before', async () => {
    const { room, coord, maire } = await roomWithHistory();
    const late = await pendingDevice(coord, await device(), 'Tardif');
    await admit(coord, late, true);
    await maire.sync();
    await maire.send(chat('après'));
    await late.sync();
    expect(texts(late)).toEqual(expect.arrayContaining([...before, 'après']));
    expect(late.list[0].pos).toBe(1);
    const s = late.summary();
    expect(s.failed).toBe(0);
    expect(s.unreadable).toBe(0);
    expect(s.ok).toBe(true); // chains complete from seq 1, signatures valid (DGS's too)
    expect((await late.tryDecrypt(relay().stored(room))).failed).toBe(0);
    // The whole room verifies again from scratch (the export's check).
    const v = await late.verifyAll();
    expect(v.summary.ok).toBe(true);
    expect(v.checks.find((c) => c.env?.sender && late.memberName(c.env.sender) === 'DGS')?.verified).toBe(true);
    // The copy kept on the device holds the earlier entries: reopened, they are still there.
    const again = await RoomClient.open((late as unknown as { store: Store }).store, room);
    expect(texts(again)).toEqual(expect.arrayContaining(before));
    expect(again.summary().failed).toBe(0);
  });

  it('without a share, a newcomer reads nothing earlier; a member admitted later without one neither', async () => {
    const { room, coord, maire } = await roomWithHistory();
    const shared = await pendingDevice(coord, await device(), 'Partagé');
    await admit(coord, shared, true);
    const plain = await pendingDevice(coord, await device(), 'Sans partage');
    await admit(coord, plain, false);
    await maire.sync();
    await maire.send(chat('après'));
    await plain.sync();
    await shared.sync();
    expect(texts(plain)).toContain('après');
    for (const t of before) expect(texts(plain)).not.toContain(t);
    // Not even the ciphertext: the relay serves it from its admission on,
    // and the keys it holds open nothing earlier.
    const first = plain.list[0].pos;
    expect(first).toBeGreaterThan(relay().stored(room).findIndex((e) => e.sender === maire.memberId && e.seq === 2) + 1);
    const earlier = relay().stored(room).filter((e) => e.pos < first);
    expect((await plain.tryDecrypt(earlier)).ok).toBe(0);
    expect(texts(shared)).toEqual(expect.arrayContaining(before));
  });

  it('the coordinator shares later from the members tab; only the coordinator can', async () => {
    const { coord, maire } = await roomWithHistory();
    const late = await pendingDevice(coord, await device(), 'Tardif');
    await admit(coord, late);
    expect(texts(late)).not.toContain('premier constat');
    await expect(maire.shareHistory(late.memberId)).rejects.toThrow(/only the coordinator/);
    expect(await coord.shareHistory(late.memberId)).toBeGreaterThanOrEqual(before.length); // and the title entries
    await late.sync();
    expect(texts(late)).toEqual(expect.arrayContaining(before));
    expect(late.summary().ok).toBe(true);
  });

  it('a share from a given time hands only the entries from then on', async () => {
    const { coord } = await roomWithHistory();
    const late = await pendingDevice(coord, await device(), 'Tardif');
    await admit(coord, late);
    const entries = coord.list.filter((i) => i.content && 'text' in i.content);
    const since = new Date(Date.parse(entries.find((i) => i.content && 'text' in i.content && i.content.text === 'décision de la cellule')!.receivedAt!));
    await coord.shareHistory(late.memberId, since);
    await late.sync();
    expect(texts(late)).toEqual(expect.arrayContaining(['décision de la cellule', 'époque 2']));
    expect(texts(late)).not.toContain('premier constat');
    expect(late.summary().failed).toBe(0);
  });

  it('a share not signed by the coordinator is refused, and opens nothing', async () => {
    const { coord, maire } = await roomWithHistory();
    const late = await pendingDevice(coord, await device(), 'Tardif');
    await admit(coord, late);
    const dh = late.members().find((m) => m.id === late.memberId)!.dh;
    const forged = await makeHistoryBundle(maire.rec.signKeys.privateKey, late.room, maire.memberId, { id: late.memberId, dh }, 1, [], []);
    expect(await late.applyHistory([{ id: 999, ...forged }])).toBe(false);
    expect(late.wrapFailures.some((f) => f.sender === 'history')).toBe(true);
  });
});

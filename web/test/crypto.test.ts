import { createCipheriv, createHmac, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes as nodeRandom } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { b64u, concat, enc, fromB64u, randomBytes, u32be, utf8 } from '../src/crypto/bytes';
import { decryptBlob, encryptBlob, CHUNK, TAG } from '../src/crypto/blob';
import { contentAAD, openContent, parseEnvelope, sealEnvelope, verifyEnvelopeSig } from '../src/crypto/envelope';
import { Chain, importAesKey, messageKeyBytes, nextChainKey } from '../src/crypto/ratchet';
import { parseBody, signObject, verifySigned } from '../src/crypto/sign';
import { makeWrapBundle, openWrapBundle, wrapInfo } from '../src/crypto/wraps';
import { newMember } from './helpers';

const ROOM = 'cm9vbS1pZC0xNi1ieXRlcw';

describe('hash ratchet', () => {
  it('mk_i = HMAC(ck_i, 0x01), ck_(i+1) = HMAC(ck_i, 0x02)', async () => {
    const ck0 = randomBytes(32);
    const h = (k: Uint8Array, b: number) => new Uint8Array(createHmac('sha256', k).update(Buffer.from([b])).digest());
    expect(await messageKeyBytes(ck0)).toEqual(h(ck0, 1));
    expect(await nextChainKey(ck0)).toEqual(h(ck0, 2));
    const ch = new Chain(0, ck0);
    let ck = ck0;
    for (let i = 0; i < 5; i++) ck = h(ck, 2);
    expect(await ch.chainKey(5)).toEqual(ck);
  });
  it('runs forwards only: a copy from index 3 cannot give index 2', async () => {
    const ck0 = randomBytes(32);
    const full = new Chain(0, ck0);
    const late = new Chain(3, await full.chainKey(3));
    expect(await late.chainKey(7)).toEqual(await full.chainKey(7));
    await expect(late.chainKey(2)).rejects.toThrow(/before/);
  });
  it('concurrent requests share one walk and agree', async () => {
    const ch = new Chain(0, randomBytes(32));
    const ks = await Promise.all([9, 3, 9, 0, 5].map((i) => ch.chainKey(i)));
    expect(ks[0]).toEqual(ks[2]);
    expect(ks[0]).toEqual(await ch.chainKey(9));
  });
});

describe('signed objects', () => {
  it('verifies over enc(label, room, body) and refuses any change', async () => {
    const m = await newMember(ROOM, 'Maire');
    const s = await signObject(m.keys.sign.privateKey, 'rempart-crisis-roster-v1', ROOM, { v: 1, x: 'é' });
    expect(await verifySigned(m.sign, 'rempart-crisis-roster-v1', ROOM, s)).toBe(true);
    expect(await verifySigned(m.sign, 'rempart-crisis-wraps-v1', ROOM, s)).toBe(false);
    expect(await verifySigned(m.sign, 'rempart-crisis-roster-v1', 'other', s)).toBe(false);
    expect(await verifySigned(m.sign, 'rempart-crisis-roster-v1', ROOM, { ...s, body: s.body.replace('é', 'e') })).toBe(false);
    expect(await verifySigned(m.sign, 'rempart-crisis-roster-v1', ROOM, { body: s.body, sig: 'AAAA' })).toBe(false);
  });
  it('refuses an unknown version with a clear message', () => {
    expect(() => parseBody('{"v":2}')).toThrow(/version 2.*reads version 1/);
    expect(() => parseBody('not json')).toThrow(/malformed/);
  });
});

describe('wrap bundles', () => {
  it('round trip: the recipient gets (i, ck_i)', async () => {
    const [a, b, c] = await Promise.all([newMember(ROOM, 'A'), newMember(ROOM, 'B'), newMember(ROOM, 'C')]);
    const ck = randomBytes(32);
    const s = await makeWrapBundle(a.keys.sign.privateKey, ROOM, 2, a.id, [b, c], 7, ck);
    const dir = (id: string) => ({ [a.id]: a.sign, [b.id]: b.sign, [c.id]: c.sign })[id];
    for (const r of [b, c]) {
      const o = await openWrapBundle(s, { id: r.id, dhPriv: r.keys.dh.privateKey, dhPub: r.keys.dhPub }, ROOM, dir);
      expect(o).toEqual({ sender: a.id, epoch: 2, index: 7, ck });
    }
  });

  it('refuses a wrap for the wrong recipient, room or epoch, and any tampering', async () => {
    const [a, b, c] = await Promise.all([newMember(ROOM, 'A'), newMember(ROOM, 'B'), newMember(ROOM, 'C')]);
    const dir = (id: string) => ({ [a.id]: a.sign, [b.id]: b.sign, [c.id]: c.sign })[id];
    const meB = { id: b.id, dhPriv: b.keys.dh.privateKey, dhPub: b.keys.dhPub };
    const ck = randomBytes(32);
    const s = await makeWrapBundle(a.keys.sign.privateKey, ROOM, 2, a.id, [b], 0, ck);
    const body = JSON.parse(s.body);
    const resign = (o: unknown) => signObject(a.keys.sign.privateKey, 'rempart-crisis-wraps-v1', ROOM, o);

    // C is not a recipient.
    await expect(openWrapBundle(s, { id: c.id, dhPriv: c.keys.dh.privateKey, dhPub: c.keys.dhPub }, ROOM, dir)).rejects.toThrow(/no key for this device/);
    // B's wrap relabelled for C (re-signed by the sender): C cannot open it.
    const toC = await resign({ ...body, wraps: [{ ...body.wraps[0], to: c.id }] });
    await expect(openWrapBundle(toC, { id: c.id, dhPriv: c.keys.dh.privateKey, dhPub: c.keys.dhPub }, ROOM, dir)).rejects.toThrow(/does not open/);
    // Moved to another epoch (re-signed): the KDF and AEAD are bound to it.
    await expect(openWrapBundle(await resign({ ...body, epoch: 3 }), meB, ROOM, dir)).rejects.toThrow(/does not open/);
    // Moved to another room: signature over the room fails, and the body names the old room.
    await expect(openWrapBundle(s, meB, 'other-room', dir)).rejects.toThrow(/signature/);
    const other = await signObject(a.keys.sign.privateKey, 'rempart-crisis-wraps-v1', 'other-room', { ...body, room: 'other-room' });
    await expect(openWrapBundle(other, meB, 'other-room', dir)).rejects.toThrow(/does not open/);
    // Claims another sender (re-signed by that sender): the binding fails.
    const asC = await signObject(c.keys.sign.privateKey, 'rempart-crisis-wraps-v1', ROOM, { ...body, sender: c.id });
    await expect(openWrapBundle(asC, meB, ROOM, dir)).rejects.toThrow(/does not open/);
    // Altered without re-signing.
    const ct = fromB64u(body.wraps[0].ct);
    ct[3] ^= 1;
    await expect(openWrapBundle({ body: JSON.stringify({ ...body, wraps: [{ ...body.wraps[0], ct: b64u(ct) }] }), sig: s.sig }, meB, ROOM, dir)).rejects.toThrow(/signature/);
    // Signed by someone else than the named sender.
    const forged = await signObject(c.keys.sign.privateKey, 'rempart-crisis-wraps-v1', ROOM, body);
    await expect(openWrapBundle(forged, meB, ROOM, dir)).rejects.toThrow(/signature/);
    // Unknown sender.
    await expect(openWrapBundle(s, meB, ROOM, () => undefined)).rejects.toThrow(/unknown member/);
  });

  it('opens a wrap built independently with node:crypto from the spec', async () => {
    const [a, b] = await Promise.all([newMember(ROOM, 'A'), newMember(ROOM, 'B')]);
    const eph = generateKeyPairSync('x25519');
    const ephPub = new Uint8Array(eph.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
    const { createPublicKey } = await import('node:crypto');
    const bPub = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), Buffer.from(b.keys.dhPub)]),
      format: 'der',
      type: 'spki',
    });
    const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: bPub });
    const info = enc('rempart-crisis-wrap-v1', ROOM, 4, a.id, b.id);
    const kek = Buffer.from(hkdfSync('sha256', shared, concat(ephPub, b.keys.dhPub), info, 32));
    const nonce = nodeRandom(12);
    const ck = randomBytes(32);
    const c = createCipheriv('aes-256-gcm', kek, nonce);
    c.setAAD(info);
    const ct = Buffer.concat([c.update(concat(u32be(42), ck)), c.final(), c.getAuthTag()]);
    expect(wrapInfo(ROOM, 4, a.id, b.id)).toEqual(info);
    const s = await signObject(a.keys.sign.privateKey, 'rempart-crisis-wraps-v1', ROOM, {
      v: 1,
      room: ROOM,
      epoch: 4,
      sender: a.id,
      wraps: [{ to: b.id, eph: b64u(ephPub), nonce: b64u(nonce), ct: b64u(ct) }],
    });
    const o = await openWrapBundle(s, { id: b.id, dhPriv: b.keys.dh.privateKey, dhPub: b.keys.dhPub }, ROOM, (id) => (id === a.id ? a.sign : undefined));
    expect(o.index).toBe(42);
    expect(o.ck).toEqual(ck);
  });
});

describe('envelopes', () => {
  it('seal then open; the AAD binds room, epoch, sender, seq and i', async () => {
    const a = await newMember(ROOM, 'A');
    const ch = new Chain(0, randomBytes(32));
    const s = await sealEnvelope(a.keys.sign.privateKey, await ch.messageKey(3), { room: ROOM, epoch: 1, sender: a.id, seq: 1, prev: '', refs: [], i: 3 }, { t: 'log', kind: 'fact', text: 'Mairie : réseau coupé', at: '2026-12-05T09:00:00.000Z' });
    expect(await verifyEnvelopeSig(a.sign, ROOM, s)).toBe(true);
    const e = parseEnvelope(s.body);
    expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(await openContent(await ch.messageKey(3), e)).toMatchObject({ text: 'Mairie : réseau coupé' });
    // Another index's key does not open it; a changed header does not either.
    await expect(openContent(await ch.messageKey(4), e)).rejects.toThrow();
    await expect(openContent(await ch.messageKey(3), { ...e, seq: 2 })).rejects.toThrow();
    await expect(openContent(await ch.messageKey(3), { ...e, epoch: 2 })).rejects.toThrow();
    // Independent decryption with node:crypto.
    const { createDecipheriv } = await import('node:crypto');
    const mk = await messageKeyBytes(await ch.chainKey(3));
    const ct = fromB64u(e.ct);
    const d = createDecipheriv('aes-256-gcm', mk, fromB64u(e.nonce));
    d.setAAD(contentAAD(ROOM, 1, a.id, 1, 3));
    d.setAuthTag(ct.subarray(-16));
    const pt = Buffer.concat([d.update(ct.subarray(0, -16)), d.final()]).toString('utf8');
    expect(JSON.parse(pt).kind).toBe('fact');
    await importAesKey(mk); // importable as a raw AES-256 key
    expect(parseEnvelope(s.body).refs).toEqual([]);
    expect(s.hash).toBe(Buffer.from(await crypto.subtle.digest('SHA-256', utf8(s.body) as Uint8Array<ArrayBuffer>)).toString('base64url'));
  });
});

describe('attachments', () => {
  it('round trip for empty, one-chunk, exact-boundary and multi-chunk files', async () => {
    for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17]) {
      const data = randomBytes(n);
      const b = await encryptBlob(data);
      expect(b.ciphertext.length).toBe(n + TAG * Math.max(1, Math.ceil(n / CHUNK)));
      expect(b.id).toBe(Buffer.from(await crypto.subtle.digest('SHA-256', b.ciphertext as Uint8Array<ArrayBuffer>)).toString('base64url'));
      expect(await decryptBlob(b.ciphertext, b.key)).toEqual(data);
    }
  });
  it('detects truncation at a chunk boundary, reordering and alteration', async () => {
    const data = randomBytes(3 * CHUNK);
    const b = await encryptBlob(data);
    const full = CHUNK + TAG;
    await expect(decryptBlob(b.ciphertext.subarray(0, 2 * full), b.key)).rejects.toThrow(/damaged or incomplete/);
    const swapped = concat(b.ciphertext.subarray(full, 2 * full), b.ciphertext.subarray(0, full), b.ciphertext.subarray(2 * full));
    await expect(decryptBlob(swapped, b.key)).rejects.toThrow();
    const altered = b.ciphertext.slice();
    altered[100] ^= 1;
    await expect(decryptBlob(altered, b.key)).rejects.toThrow();
    await expect(decryptBlob(b.ciphertext, randomBytes(32))).rejects.toThrow();
  });
  it('uses nonce u32be(0)||u64be(n) and aad enc(label, n, last)', async () => {
    const { createDecipheriv } = await import('node:crypto');
    const data = randomBytes(CHUNK + 5);
    const b = await encryptBlob(data);
    const second = b.ciphertext.subarray(CHUNK + TAG);
    const d = createDecipheriv('aes-256-gcm', b.key, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    d.setAAD(enc('rempart-crisis-blob-v1', 1, '1'));
    d.setAuthTag(second.subarray(-16));
    expect(new Uint8Array(Buffer.concat([d.update(second.subarray(0, -16)), d.final()]))).toEqual(data.subarray(CHUNK));
  });
});

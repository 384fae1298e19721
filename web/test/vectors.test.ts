// Checks this implementation against the Go implementation's test vectors
// (internal/crisis/e2ee/testdata/vectors.json): both must produce and
// accept exactly the same bytes.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { b64u, enc, fromB64u, utf8, type Field } from '../src/crypto/bytes';
import { decryptBlob, encryptBlob } from '../src/crypto/blob';
import { gcmSeal } from '../src/crypto/aead';
import { contentAAD, openContent, parseEnvelope, verifyEnvelopeSig } from '../src/crypto/envelope';
import { ed25519Sign, hashBody, memberId, sha256 } from '../src/crypto/keys';
import { LABEL_ROSTER } from '../src/crypto/labels';
import { Chain, importAesKey, messageKeyBytes, nextChainKey } from '../src/crypto/ratchet';
import { roomSafetyNumber, safetyNumber, safetyQR } from '../src/crypto/safety';
import { joinProof, signingInput, verifySigned } from '../src/crypto/sign';
import { openWrapBundle, sealWrap, wrapInfo } from '../src/crypto/wraps';
import { verifyRoster } from '../src/crypto/roster';

const path = fileURLToPath(new URL('../../internal/crisis/e2ee/testdata/vectors.json', import.meta.url));
const present = existsSync(path);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const V: any = present ? JSON.parse(readFileSync(path, 'utf8')) : {};

const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const subtle = crypto.subtle;

interface Identity {
  id: string;
  sign: string;
  dh: string;
  signPriv: CryptoKey;
  dhPriv: CryptoKey;
  safety: string;
  qr: string;
}

async function importIdentity(v: { sign_seed_hex: string; dh_priv_hex: string }) {
  // PKCS#8 wrappers of a raw Ed25519 seed / X25519 private key (RFC 8410).
  const ed = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), hex(v.sign_seed_hex)]);
  const x = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), hex(v.dh_priv_hex)]);
  const signPriv = await subtle.importKey('pkcs8', ed, { name: 'Ed25519' }, true, ['sign']);
  const dhPriv = await subtle.importKey('pkcs8', x, { name: 'X25519' }, true, ['deriveBits']);
  const signPub = fromB64u(((await subtle.exportKey('jwk', signPriv)) as JsonWebKey).x!);
  const dhPub = fromB64u(((await subtle.exportKey('jwk', dhPriv)) as JsonWebKey).x!);
  return { signPriv, dhPriv, signPub, dhPub };
}

async function identities(): Promise<Record<string, Identity & { signPub: Uint8Array; dhPub: Uint8Array }>> {
  const out: Record<string, Identity & { signPub: Uint8Array; dhPub: Uint8Array }> = {};
  for (const [name, v] of Object.entries(V.identities as Record<string, { sign_seed_hex: string; dh_priv_hex: string; id: string; safety_number: string; qr: string }>)) {
    const k = await importIdentity(v);
    out[name] = { ...k, id: v.id, sign: b64u(k.signPub), dh: b64u(k.dhPub), safety: v.safety_number, qr: v.qr };
  }
  return out;
}

describe.skipIf(!present)('Go test vectors (internal/crisis/e2ee/testdata/vectors.json)', () => {
  it('enc()', () => {
    for (const c of V.enc as { fields: Record<string, string | number>[]; hex: string }[]) {
      const fields: Field[] = c.fields.map((f) => ('str' in f ? String(f.str) : 'int' in f ? Number(f.int) : hex(String(f.hex))));
      expect(toHex(enc(...fields))).toBe(c.hex);
    }
  });

  it('identities: public keys, member ids, safety numbers, QR content', async () => {
    const ids = await identities();
    for (const [name, v] of Object.entries(V.identities as Record<string, { sign: string; dh: string; id: string }>)) {
      const me = ids[name];
      expect(me.sign).toBe(v.sign);
      expect(me.dh).toBe(v.dh);
      expect(await memberId(me.signPub)).toBe(v.id);
      const sn = await safetyNumber(me.signPub, me.dhPub);
      expect(sn).toBe(me.safety);
      expect(safetyQR(me.id, sn)).toBe(me.qr);
    }
  });

  it('join proof: same bytes signed, same deterministic signature', async () => {
    const ids = await identities();
    const j = V.join_proof;
    const me = ids[j.who];
    expect(toHex(enc('rempart-crisis-join-v1', j.room, j.name, me.signPub, me.dhPub))).toBe(j.input_hex);
    expect(await joinProof(me.signPriv, j.room, j.name, me.signPub, me.dhPub)).toBe(j.proof);
  });

  it('roster: signing input, signature, verification, room safety number', async () => {
    const ids = await identities();
    const r = V.roster;
    const signer = ids[r.signer];
    expect(toHex(signingInput(LABEL_ROSTER, r.room, r.body))).toBe(r.signing_input_hex);
    expect(b64u(await ed25519Sign(signer.signPriv, signingInput(LABEL_ROSTER, r.room, r.body)))).toBe(r.sig);
    expect(await verifySigned(signer.sign, LABEL_ROSTER, r.room, { body: r.body, sig: r.sig })).toBe(true);
    const parsed = await verifyRoster({ body: r.body, sig: r.sig }, r.room, signer.sign);
    expect(await roomSafetyNumber(r.room, parsed.epoch, parsed.members)).toBe(r.room_safety_number);
  });

  it('ratchet', async () => {
    const rt = V.ratchet;
    let ck: Uint8Array = hex(rt.ck0_hex);
    for (let i = 0; i < rt.mk_hex.length; i++) {
      expect(toHex(await messageKeyBytes(ck))).toBe(rt.mk_hex[i]);
      ck = await nextChainKey(ck);
      expect(toHex(ck)).toBe(rt.ck_hex[i]);
    }
  });

  it('wrap: same KDF input, same ciphertext, and the bundle opens for its recipient only', async () => {
    const ids = await identities();
    const w = V.wrap;
    const sender = ids[w.sender];
    const rcpt = ids[w.recipient];
    expect(rcpt.id).toBe(w.recipient_id);
    expect(toHex(wrapInfo(w.room, w.epoch, sender.id, rcpt.id))).toBe(w.info_hex);
    const ephPkcs8 = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), hex(w.eph_priv_hex)]);
    const ephPriv = await subtle.importKey('pkcs8', ephPkcs8, { name: 'X25519' }, true, ['deriveBits']);
    const ephPub = await subtle.importKey('raw', fromB64u(w.eph_pub) as Uint8Array<ArrayBuffer>, { name: 'X25519' }, true, []);
    const sealed = await sealWrap(w.room, w.epoch, sender.id, rcpt, w.chain_index, hex(w.chain_key_hex), {
      eph: { privateKey: ephPriv, publicKey: ephPub },
      nonce: hex(w.nonce_hex),
    });
    expect(sealed.eph).toBe(w.eph_pub);
    expect(toHex(fromB64u(sealed.ct))).toBe(w.ct_hex);
    const dir = (id: string) => Object.values(ids).find((x) => x.id === id)?.sign;
    const o = await openWrapBundle(w.bundle, { id: rcpt.id, dhPriv: rcpt.dhPriv, dhPub: rcpt.dhPub }, w.room, dir);
    expect(o.index).toBe(w.chain_index);
    expect(toHex(o.ck)).toBe(w.chain_key_hex);
    expect(o.sender).toBe(sender.id);
    await expect(openWrapBundle(w.bundle, { id: sender.id, dhPriv: sender.dhPriv, dhPub: sender.dhPub }, w.room, dir)).rejects.toThrow();
  });

  it('content: same ciphertext from the same key, nonce and aad', async () => {
    const c = V.content;
    const ct = await gcmSeal(await importAesKey(hex(c.mk_hex)), hex(c.nonce_hex), utf8(c.plaintext), hex(c.aad_hex));
    expect(toHex(ct)).toBe(c.ct_hex);
  });

  it('envelope: signature, hash, AAD and content', async () => {
    const ids = await identities();
    const e = V.envelope;
    const sender = ids[e.sender];
    const s = { body: e.body, sig: e.sig };
    expect(await verifyEnvelopeSig(sender.sign, e.room, s)).toBe(true);
    expect(await verifyEnvelopeSig(sender.sign, e.room, { body: e.body.replace('"seq":7', '"seq":8'), sig: e.sig })).toBe(false);
    expect(await hashBody(utf8(e.body))).toBe(e.hash);
    const env = parseEnvelope(e.body);
    expect([env.epoch, env.seq, env.prev, env.refs, env.i, env.time]).toEqual([e.epoch, e.seq, e.prev, e.refs, e.chain_index, e.time]);
    expect(toHex(contentAAD(e.room, e.epoch, sender.id, e.seq, e.chain_index))).toBe(V.content.aad_hex);
    const ch = new Chain(e.chain_index, hex(e.chain_key_hex));
    expect(await openContent(await ch.messageKey(e.chain_index), env)).toEqual(JSON.parse(e.content));
    // Signing the same body bytes gives the same (deterministic) signature.
    expect(b64u(await ed25519Sign(sender.signPriv, signingInput('rempart-crisis-envelope-v1', e.room, e.body)))).toBe(e.sig);
  });

  it('blob: same ciphertext, id, and it decrypts', async () => {
    const b = V.blob;
    const data = new Uint8Array(b.size).map((_, k) => k % 251);
    const out = await encryptBlob(data, hex(b.key_hex));
    expect(out.ciphertext.length).toBe(b.ct_size);
    expect(toHex(await sha256(out.ciphertext))).toBe(b.ct_sha256_hex);
    expect(toHex(out.ciphertext.subarray(0, 64))).toBe(b.ct_first64_hex);
    expect(out.id).toBe(b.id);
    expect(toHex(enc('rempart-crisis-blob-v1', 1, '1'))).toBe(b.chunk1_aad_hex);
    expect(await decryptBlob(out.ciphertext, hex(b.key_hex))).toEqual(data);
  });
});

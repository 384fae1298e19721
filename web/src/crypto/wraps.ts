// Wrap bundles (docs/crisis-e2ee.md, "Wrap bundle"): a sender's chain key,
// at some index, sealed for each recipient. For each recipient r:
//   eph    = fresh X25519 pair
//   shared = X25519(eph_priv, r.dh_pub)
//   info   = enc("rempart-crisis-wrap-v1", room, epoch, sender, r.id)
//   kek    = HKDF-SHA256(ikm=shared, salt=eph_pub||r.dh_pub, info, 32)
//   ct     = AES-256-GCM(kek, nonce, u32be(i)||ck_i, aad=info)
// The bundle is signed by its sender (LABEL_WRAPS).
import { b64u, buf, concat, enc, fromB64u, randomBytes, readU32be, u32be } from './bytes';
import { gcmOpen, gcmSeal } from './aead';
import { importDhPub } from './keys';
import { LABEL_WRAPS, LABEL_WRAP_KDF, VERSION } from './labels';
import { parseBody, signObject, verifySigned, type Signed } from './sign';

const subtle = () => globalThis.crypto.subtle;

export interface WireWrap {
  to: string;
  eph: string;
  nonce: string;
  ct: string;
}

export interface WrapBundle {
  v: number;
  room: string;
  epoch: number;
  sender: string;
  wraps: WireWrap[];
}

export interface Recipient {
  id: string;
  dh: string; // b64u X25519 public key
}

/**
 * The key-encryption key that seals a secret for one member: HKDF-SHA-256
 * of the X25519 shared secret, salted with the ephemeral and the
 * recipient's public keys, info naming what is sealed. Wraps and history
 * bundles (history.ts) both seal this way (docs/crisis-e2ee.md).
 */
export async function kek(shared: Uint8Array, ephPub: Uint8Array, rDhPub: Uint8Array, info: Uint8Array): Promise<CryptoKey> {
  const ikm = await subtle().importKey('raw', buf(shared), 'HKDF', false, ['deriveBits']);
  const bits = await subtle().deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: buf(concat(ephPub, rDhPub)), info: buf(info) },
    ikm,
    256,
  );
  return subtle().importKey('raw', bits, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

export function wrapInfo(room: string, epoch: number, sender: string, to: string): Uint8Array {
  return enc(LABEL_WRAP_KDF, room, epoch, sender, to);
}

/**
 * Seals (i, ck_i) for one recipient. `fixed` (an ephemeral pair and nonce)
 * exists only for the test vectors; the app always draws fresh ones.
 */
export async function sealWrap(
  room: string,
  epoch: number,
  sender: string,
  r: Recipient,
  index: number,
  ck: Uint8Array,
  fixed?: { eph: CryptoKeyPair; nonce: Uint8Array },
): Promise<WireWrap> {
  const rDh = fromB64u(r.dh);
  const eph = fixed?.eph ?? ((await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits'])) as CryptoKeyPair);
  const ephPub = new Uint8Array(await subtle().exportKey('raw', eph.publicKey));
  const shared = new Uint8Array(
    await subtle().deriveBits({ name: 'X25519', public: await importDhPub(rDh) }, eph.privateKey, 256),
  );
  const info = wrapInfo(room, epoch, sender, r.id);
  const key = await kek(shared, ephPub, rDh, info);
  const nonce = fixed?.nonce ?? randomBytes(12);
  const ct = await gcmSeal(key, nonce, concat(u32be(index), ck), info);
  return { to: r.id, eph: b64u(ephPub), nonce: b64u(nonce), ct: b64u(ct) };
}

export async function makeWrapBundle(
  signPriv: CryptoKey,
  room: string,
  epoch: number,
  sender: string,
  recipients: Recipient[],
  index: number,
  ck: Uint8Array,
): Promise<Signed> {
  const wraps = await Promise.all(recipients.map((r) => sealWrap(room, epoch, sender, r, index, ck)));
  const bundle: WrapBundle = { v: VERSION, room, epoch, sender, wraps };
  return signObject(signPriv, LABEL_WRAPS, room, bundle);
}

export interface OpenedWrap {
  sender: string;
  epoch: number;
  index: number;
  ck: Uint8Array;
}

export class WrapError extends Error {}

/**
 * Opens this device's wrap in a bundle. senderSign is the sender's signing
 * key from the verified roster (looked up by the caller from bundle.sender,
 * which is read before verification only to pick the key). Every check
 * failing throws a WrapError saying what is wrong.
 */
export async function openWrapBundle(
  s: Signed,
  me: { id: string; dhPriv: CryptoKey; dhPub: Uint8Array },
  room: string,
  senderSignFor: (sender: string) => string | undefined,
): Promise<OpenedWrap> {
  let peek: WrapBundle;
  try {
    peek = JSON.parse(s.body) as WrapBundle;
  } catch {
    throw new WrapError('malformed key bundle');
  }
  const senderSign = senderSignFor(String(peek?.sender));
  if (!senderSign) throw new WrapError(`key bundle from an unknown member (${String(peek?.sender)})`);
  if (!(await verifySigned(senderSign, LABEL_WRAPS, room, s))) {
    throw new WrapError('key bundle with a bad signature: it was not made by the member it names');
  }
  const b = parseBody<WrapBundle>(s.body);
  if (b.room !== room) throw new WrapError('key bundle for another room');
  if (!Number.isSafeInteger(b.epoch) || b.epoch < 1) throw new WrapError('key bundle with a bad epoch');
  if (!Array.isArray(b.wraps)) throw new WrapError('malformed key bundle');
  const w = b.wraps.find((x) => x && x.to === me.id);
  if (!w) throw new WrapError('key bundle holds no key for this device');
  try {
    const ephPub = fromB64u(w.eph);
    const shared = new Uint8Array(
      await subtle().deriveBits({ name: 'X25519', public: await importDhPub(ephPub) }, me.dhPriv, 256),
    );
    const info = wrapInfo(room, b.epoch, b.sender, me.id);
    const key = await kek(shared, ephPub, me.dhPub, info);
    const pt = await gcmOpen(key, fromB64u(w.nonce), fromB64u(w.ct), info);
    if (pt.length !== 36) throw new Error('bad length');
    return { sender: b.sender, epoch: b.epoch, index: readU32be(pt, 0), ck: pt.slice(4) };
  } catch {
    throw new WrapError('the key in this bundle does not open for this device (wrong recipient, room or epoch, or altered)');
  }
}

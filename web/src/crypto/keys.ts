// Device keys and ids (docs/crisis-e2ee.md, "Keys" and "Encodings").
// A device holds, per room, an Ed25519 pair (sign) and an X25519 pair (dh).
// Private keys are generated non-extractable: they can be stored in
// IndexedDB (structured clone of CryptoKey) but never read out as bytes.
import { b64u, buf, fromB64u } from './bytes';

const subtle = () => globalThis.crypto.subtle;

export interface DeviceKeys {
  sign: CryptoKeyPair;
  dh: CryptoKeyPair;
  signPub: Uint8Array; // 32 raw bytes
  dhPub: Uint8Array; // 32 raw bytes
}

export async function generateDeviceKeys(): Promise<DeviceKeys> {
  const [sign, dh] = await Promise.all([
    subtle().generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']) as Promise<CryptoKeyPair>,
    subtle().generateKey({ name: 'X25519' }, false, ['deriveBits']) as Promise<CryptoKeyPair>,
  ]);
  // Public keys of a generated pair are always extractable.
  const [signPub, dhPub] = await Promise.all([
    subtle().exportKey('raw', sign.publicKey),
    subtle().exportKey('raw', dh.publicKey),
  ]);
  return { sign, dh, signPub: new Uint8Array(signPub), dhPub: new Uint8Array(dhPub) };
}

/** Member id: b64u of the first 16 bytes of SHA-256(sign_pub). */
export async function memberId(signPub: Uint8Array): Promise<string> {
  const h = new Uint8Array(await subtle().digest('SHA-256', buf(signPub)));
  return b64u(h.subarray(0, 16));
}

export async function sha256(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', buf(b)));
}

export async function sha512(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-512', buf(b)));
}

/** Hash of an envelope (or any body): b64u(SHA-256(body bytes)). */
export async function hashBody(body: Uint8Array): Promise<string> {
  return b64u(await sha256(body));
}

// Imported public keys are cached: a room of 200 members with 10,000
// entries verifies against the same few keys many times.
const verifyKeyCache = new Map<string, Promise<CryptoKey>>();

export function importSignPub(pubB64u: string): Promise<CryptoKey> {
  let k = verifyKeyCache.get(pubB64u);
  if (!k) {
    const raw = fromB64u(pubB64u);
    if (raw.length !== 32) return Promise.reject(new Error('an Ed25519 public key is 32 bytes'));
    k = subtle().importKey('raw', buf(raw), { name: 'Ed25519' }, true, ['verify']);
    verifyKeyCache.set(pubB64u, k);
    k.catch(() => verifyKeyCache.delete(pubB64u));
  }
  return k;
}

export async function importDhPub(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) throw new Error('an X25519 public key is 32 bytes');
  return subtle().importKey('raw', buf(raw), { name: 'X25519' }, true, []);
}

export async function ed25519Sign(priv: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().sign({ name: 'Ed25519' }, priv, buf(data)));
}

export async function ed25519Verify(pub: CryptoKey, sig: Uint8Array, data: Uint8Array): Promise<boolean> {
  if (sig.length !== 64) return false;
  try {
    return await subtle().verify({ name: 'Ed25519' }, pub, buf(sig), buf(data));
  } catch {
    return false;
  }
}

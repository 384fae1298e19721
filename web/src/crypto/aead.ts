// AES-256-GCM with additional data (16-byte tag appended, as in Go's
// crypto/cipher).
import { buf } from './bytes';

const subtle = () => globalThis.crypto.subtle;

export async function gcmSeal(key: CryptoKey, nonce: Uint8Array, pt: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await subtle().encrypt({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: 128 }, key, buf(pt)),
  );
}

/** Throws DecryptError when the tag does not verify. */
export async function gcmOpen(key: CryptoKey, nonce: Uint8Array, ct: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  try {
    return new Uint8Array(
      await subtle().decrypt({ name: 'AES-GCM', iv: buf(nonce), additionalData: buf(aad), tagLength: 128 }, key, buf(ct)),
    );
  } catch {
    throw new DecryptError('the encrypted data does not match its key or was altered');
  }
}

export class DecryptError extends Error {}

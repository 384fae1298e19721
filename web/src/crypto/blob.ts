// Attachments (docs/crisis-e2ee.md, "Attachments"): AES-256-GCM over 64 KiB
// chunks under a fresh 32-byte key; chunk n has nonce u32be(0)||u64be(n)
// and aad enc(LABEL_BLOB, n, last ? "1" : "0"). The "last" flag makes a
// truncated file fail instead of opening short.
import { b64u, concat, enc, randomBytes, u32be, u64be } from './bytes';
import { gcmOpen, gcmSeal } from './aead';
import { sha256 } from './keys';
import { LABEL_BLOB } from './labels';
import { AppError } from '../errors';
import { importAesKey } from './ratchet';

export const CHUNK = 64 * 1024;
export const TAG = 16;
export const MAX_FILE = 25 * 1024 * 1024;

function nonceFor(n: number): Uint8Array {
  return concat(u32be(0), u64be(n));
}

function aadFor(n: number, last: boolean): Uint8Array {
  return enc(LABEL_BLOB, n, last ? '1' : '0');
}

export interface EncryptedBlob {
  key: Uint8Array;
  ciphertext: Uint8Array;
  id: string; // b64u(SHA-256(ciphertext)), checked by the server
}

export async function encryptBlob(data: Uint8Array, key: Uint8Array = randomBytes(32)): Promise<EncryptedBlob> {
  if (data.length > MAX_FILE) throw new AppError('file_too_large', 'this file is larger than 25 MB: share a smaller one or a summary');
  const k = await importAesKey(key);
  const count = Math.max(1, Math.ceil(data.length / CHUNK)); // an empty file is one empty last chunk
  const chunks = await Promise.all(
    Array.from({ length: count }, (_, n) =>
      gcmSeal(k, nonceFor(n), data.subarray(n * CHUNK, (n + 1) * CHUNK), aadFor(n, n === count - 1)),
    ),
  );
  const ciphertext = concat(...chunks);
  return { key, ciphertext, id: b64u(await sha256(ciphertext)) };
}

export async function decryptBlob(ciphertext: Uint8Array, key: Uint8Array): Promise<Uint8Array> {
  const k = await importAesKey(key);
  const full = CHUNK + TAG;
  const count = Math.max(1, Math.ceil(ciphertext.length / full));
  if (ciphertext.length < TAG) throw new AppError('file_damaged', 'the file is damaged or incomplete (download it again)');
  const parts = await Promise.all(
    Array.from({ length: count }, (_, n) =>
      gcmOpen(k, nonceFor(n), ciphertext.subarray(n * full, (n + 1) * full), aadFor(n, n === count - 1)),
    ),
  ).catch(() => {
    throw new AppError('file_damaged', 'the file is damaged or incomplete (download it again)');
  });
  return concat(...parts);
}

export async function blobId(ciphertext: Uint8Array): Promise<string> {
  return b64u(await sha256(ciphertext));
}

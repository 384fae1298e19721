// SFrame (RFC 9605) with WebCrypto (docs/crisis-e2ee.md, "Media (SFrame,
// RFC 9605)"). Checked against the Go reference and the RFC's appendix C
// through internal/crisis/e2ee/testdata/sframe_vectors.json.
//
// Header (§4.3): a config byte X|K(3)|Y|C(3); a KID (or CTR) below 8 sits
// in K (or C), otherwise X (or Y) is set, K (or C) holds its minimal
// big-endian length minus one and the bytes follow: KID first, then CTR.
// Keys (§4.4.2), for a cipher suite with hash H and sizes Nk, Nn:
//   sframe_secret = HKDF-Extract(H, salt = "", base_key)
//   sframe_key    = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  || u64be(KID) || u16be(suite), Nk)
//   sframe_salt   = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " || u64be(KID) || u16be(suite), Nn)
// Frame (§4.4.3): nonce = sframe_salt XOR CTR (left-padded);
//   ciphertext = header || AES-GCM(sframe_key, nonce, frame, aad = header || metadata).
//
// KID and CTR are JavaScript numbers here: media v1 refuses values above
// 2^53 - 1 (an "oversized" header), which no media key ever reaches.

export const SUITE_AES128_GCM_SHA256 = 0x0004;
export const SUITE_AES256_GCM_SHA512 = 0x0005;
/** The cipher suite of the room's media (media v1). */
export const MEDIA_SUITE = SUITE_AES256_GCM_SHA512;
export const TAG_SIZE = 16;
const TWO32 = 0x100000000;

export type SFrameFailure = 'header' | 'oversized' | 'truncated' | 'no_key' | 'decrypt';

export class SFrameError extends Error {
  constructor(
    readonly reason: SFrameFailure,
    message: string,
  ) {
    super(`sframe: ${message}`);
  }
}

interface SuiteParams {
  hash: 'SHA-256' | 'SHA-512';
  hashLen: number;
  nk: number;
  nn: number;
}

function suiteParams(suite: number): SuiteParams {
  if (suite === SUITE_AES128_GCM_SHA256) return { hash: 'SHA-256', hashLen: 32, nk: 16, nn: 12 };
  if (suite === SUITE_AES256_GCM_SHA512) return { hash: 'SHA-512', hashLen: 64, nk: 32, nn: 12 };
  throw new SFrameError('header', `unsupported cipher suite 0x${suite.toString(16)}`);
}

const subtle = () => globalThis.crypto.subtle;

function checkValue(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`sframe: ${what} ${v} is not an integer in 0..2^53-1`);
}

/** Number of bytes of v's minimal big-endian form (1 for 0). */
function minLen(v: number): number {
  let n = 1;
  while (v >= 256) {
    v = Math.floor(v / 256);
    n++;
  }
  return n;
}

function writeBE(out: Uint8Array, off: number, v: number, n: number): void {
  for (let i = n - 1; i >= 0; i--) {
    out[off + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

export function headerLength(kid: number, ctr: number): number {
  return 1 + (kid < 8 ? 0 : minLen(kid)) + (ctr < 8 ? 0 : minLen(ctr));
}

/** Writes the header of (kid, ctr) at out[off]; returns its length. */
export function writeHeader(out: Uint8Array, off: number, kid: number, ctr: number): number {
  checkValue(kid, 'KID');
  checkValue(ctr, 'CTR');
  let cfg = 0;
  let p = off + 1;
  if (kid < 8) cfg |= kid << 4;
  else {
    const n = minLen(kid);
    cfg |= 0x80 | ((n - 1) << 4);
    writeBE(out, p, kid, n);
    p += n;
  }
  if (ctr < 8) cfg |= ctr;
  else {
    const n = minLen(ctr);
    cfg |= 0x08 | (n - 1);
    writeBE(out, p, ctr, n);
    p += n;
  }
  out[off] = cfg;
  return p - off;
}

export function encodeHeader(kid: number, ctr: number): Uint8Array {
  const out = new Uint8Array(headerLength(kid, ctr));
  writeHeader(out, 0, kid, ctr);
  return out;
}

function readField(b: Uint8Array, off: number, n: number, what: string): number {
  if (b.length < off + n) throw new SFrameError('truncated', `${what} announced on ${n} bytes, frame too short`);
  if (n > 1 && b[off] === 0) throw new SFrameError('header', `${what} with a leading zero byte (not minimal)`);
  // 2^53 - 1 needs 7 bytes whose first is at most 0x1f.
  if (n > 7 || (n === 7 && b[off] > 0x1f)) throw new SFrameError('oversized', `${what} above 2^53-1`);
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + b[off + i];
  if (v < 8) throw new SFrameError('header', `${what} below 8 in an extended field (not minimal)`);
  return v;
}

export interface Header {
  kid: number;
  ctr: number;
  /** its length in bytes */
  len: number;
}

/** Parses the header at the start of b (strict: one encoding per value). */
export function parseHeader(b: Uint8Array): Header {
  if (b.length < 1) throw new SFrameError('truncated', 'empty frame');
  const cfg = b[0];
  let off = 1;
  let kid = (cfg >> 4) & 7;
  if (cfg & 0x80) {
    kid = readField(b, off, kid + 1, 'KID');
    off += ((cfg >> 4) & 7) + 1;
  }
  let ctr = cfg & 7;
  if (cfg & 0x08) {
    ctr = readField(b, off, ctr + 1, 'CTR');
    off += (cfg & 7) + 1;
  }
  return { kid, ctr, len: off };
}

function label(what: 'key' | 'salt', kid: number, suite: number): Uint8Array<ArrayBuffer> {
  const prefix = new TextEncoder().encode(`SFrame 1.0 Secret ${what} `);
  const out = new Uint8Array(prefix.length + 10);
  out.set(prefix);
  const dv = new DataView(out.buffer);
  dv.setUint32(prefix.length, Math.floor(kid / TWO32), false);
  dv.setUint32(prefix.length + 4, kid >>> 0, false);
  dv.setUint16(prefix.length + 8, suite, false);
  return out;
}

function ab(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer && b.byteOffset === 0 && b.byteLength === b.buffer.byteLength
    ? (b as Uint8Array<ArrayBuffer>)
    : new Uint8Array(b);
}

/** sframe_key and sframe_salt as bytes (tests and vectors; frames use importKey). */
export async function deriveKeyMaterial(suite: number, kid: number, baseKey: Uint8Array): Promise<{ key: Uint8Array; salt: Uint8Array }> {
  checkValue(kid, 'KID');
  const p = suiteParams(suite);
  const ikm = await subtle().importKey('raw', ab(baseKey), 'HKDF', false, ['deriveBits']);
  // HKDF with an empty salt = Extract with HashLen zero bytes (RFC 5869 §2.2).
  const salt = new Uint8Array(0);
  const [key, s] = await Promise.all([
    subtle().deriveBits({ name: 'HKDF', hash: p.hash, salt, info: label('key', kid, suite) }, ikm, p.nk * 8),
    subtle().deriveBits({ name: 'HKDF', hash: p.hash, salt, info: label('salt', kid, suite) }, ikm, p.nn * 8),
  ]);
  return { key: new Uint8Array(key), salt: new Uint8Array(s) };
}

/** One (KID, base key), ready for frames. The AES key is not extractable. */
export interface SFrameKey {
  readonly suite: number;
  readonly kid: number;
  readonly key: CryptoKey;
  readonly salt: Uint8Array;
}

export async function importSFrameKey(baseKey: Uint8Array, kid: number, suite = MEDIA_SUITE): Promise<SFrameKey> {
  const m = await deriveKeyMaterial(suite, kid, baseKey);
  const key = await subtle().importKey('raw', ab(m.key), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  m.key.fill(0);
  return { suite, kid, key, salt: m.salt };
}

/** sframe_salt XOR CTR, the CTR as 8 big-endian bytes at the end. */
export function nonceFor(salt: Uint8Array, ctr: number): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(salt);
  const off = n.length - 8;
  const hi = Math.floor(ctr / TWO32);
  const lo = ctr >>> 0;
  n[off] ^= hi >>> 24;
  n[off + 1] ^= (hi >>> 16) & 0xff;
  n[off + 2] ^= (hi >>> 8) & 0xff;
  n[off + 3] ^= hi & 0xff;
  n[off + 4] ^= lo >>> 24;
  n[off + 5] ^= (lo >>> 16) & 0xff;
  n[off + 6] ^= (lo >>> 8) & 0xff;
  n[off + 7] ^= lo & 0xff;
  return n;
}

const EMPTY = new Uint8Array(0);

function aadOf(hdr: Uint8Array, metadata: Uint8Array): Uint8Array<ArrayBuffer> {
  if (!metadata.length) return ab(hdr);
  const a = new Uint8Array(hdr.length + metadata.length);
  a.set(hdr);
  a.set(metadata, hdr.length);
  return a;
}

/**
 * Encrypts one whole frame with counter ctr: header || ciphertext || tag.
 * The caller never gives the same ctr twice under one key (see Keyring).
 */
export async function protect(k: SFrameKey, ctr: number, frame: Uint8Array, metadata: Uint8Array = EMPTY): Promise<Uint8Array> {
  const hdr = encodeHeader(k.kid, ctr);
  const ct = new Uint8Array(
    await subtle().encrypt({ name: 'AES-GCM', iv: nonceFor(k.salt, ctr), additionalData: aadOf(hdr, metadata), tagLength: 128 }, k.key, ab(frame)),
  );
  const out = new Uint8Array(hdr.length + ct.length);
  out.set(hdr);
  out.set(ct, hdr.length);
  return out;
}

/**
 * Parses and decrypts one frame; `lookup` gives the key for its KID
 * (undefined: none). Throws SFrameError with the reason.
 */
export async function unprotect(
  frame: Uint8Array,
  lookup: (kid: number) => SFrameKey | Promise<SFrameKey | undefined> | undefined,
  metadata: Uint8Array = EMPTY,
): Promise<{ kid: number; ctr: number; data: Uint8Array }> {
  const h = parseHeader(frame);
  if (frame.length - h.len < TAG_SIZE) throw new SFrameError('truncated', 'shorter than its tag');
  const k = await lookup(h.kid);
  if (!k) throw new SFrameError('no_key', `no key for KID ${h.kid}`);
  const hdr = frame.subarray(0, h.len);
  let pt: ArrayBuffer;
  try {
    pt = await subtle().decrypt(
      { name: 'AES-GCM', iv: nonceFor(k.salt, h.ctr), additionalData: aadOf(hdr, metadata), tagLength: 128 },
      k.key,
      ab(frame.subarray(h.len)),
    );
  } catch {
    throw new SFrameError('decrypt', `frame does not open with KID ${h.kid}`);
  }
  return { kid: h.kid, ctr: h.ctr, data: new Uint8Array(pt) };
}

/** media v1 KID: epoch << 16 | generation (generation < 65536). */
export function mediaKid(epoch: number, gen: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch >= 2 ** 37) throw new RangeError(`epoch ${epoch} out of range`);
  if (!Number.isInteger(gen) || gen < 0 || gen > 0xffff) throw new RangeError(`generation ${gen} out of range`);
  return epoch * 65536 + gen;
}

export function kidEpoch(kid: number): number {
  return Math.floor(kid / 65536);
}

export function kidGen(kid: number): number {
  return kid % 65536;
}

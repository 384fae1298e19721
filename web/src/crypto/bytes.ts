// Byte helpers for the wire format (docs/crisis-e2ee.md, "Encodings").

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });

export function utf8(s: string): Uint8Array {
  return te.encode(s);
}

/** Decodes UTF-8; throws on invalid bytes (a body must be valid text). */
export function fromUtf8(b: Uint8Array): string {
  return td.decode(b);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function u32be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`u32be: ${n} out of range`);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

export function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`u64be: ${n} out of range`);
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, Math.floor(n / 0x100000000), false);
  dv.setUint32(4, n >>> 0, false);
  return b;
}

export function readU32be(b: Uint8Array, off = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, false);
}

/** base64url without padding (RFC 4648 §5). */
export function b64u(b: Uint8Array): string {
  let s = '';
  const CH = 0x8000; // String.fromCharCode's argument list has a size limit
  for (let i = 0; i < b.length; i += CH) s += String.fromCharCode(...b.subarray(i, i + CH));
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url without padding; throws on anything else. */
export function fromB64u(s: string): Uint8Array {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) {
    throw new Error('not base64url without padding');
  }
  const std = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob(std);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export type Field = string | number | bigint | Uint8Array;

function fieldBytes(f: Field): Uint8Array {
  if (f instanceof Uint8Array) return f;
  if (typeof f === 'string') return utf8(f);
  if (typeof f === 'bigint') {
    if (f < 0n) throw new RangeError('enc: negative integer');
    return utf8(f.toString(10));
  }
  if (!Number.isSafeInteger(f) || f < 0) throw new RangeError(`enc: ${f} is not a non-negative integer`);
  return utf8(f.toString(10));
}

/**
 * enc(f1, f2, …): each field as its length (u32 big-endian) then its bytes.
 * Strings are UTF-8, integers decimal strings, binary fields raw bytes.
 */
export function enc(...fields: Field[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    const b = fieldBytes(f);
    parts.push(u32be(b.length), b);
  }
  return concat(...parts);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(b.subarray(o, Math.min(n, o + 65536)));
  return b;
}

/**
 * WebCrypto's TypeScript types want an ArrayBuffer-backed view; Uint8Array
 * in TS 5.7+ is generic over its buffer. This narrows without copying.
 */
export function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>;
}

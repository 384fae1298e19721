import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { b64u, enc, fromB64u, u32be, u64be, utf8 } from '../src/crypto/bytes';
import { memberId, hashBody } from '../src/crypto/keys';
import { digitsFromDigest, roomSafetyNumber, safetyNumber, safetyQR } from '../src/crypto/safety';

describe('enc()', () => {
  it('prefixes each field with its u32 big-endian length', () => {
    expect([...enc('ab', new Uint8Array([1, 2, 3]), 17, '')]).toEqual([
      0, 0, 0, 2, 0x61, 0x62, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 2, 0x31, 0x37, 0, 0, 0, 0,
    ]);
  });
  it('writes integers as decimal strings without sign or leading zeros', () => {
    expect(enc(0)).toEqual(enc('0'));
    expect(enc(1234567890123)).toEqual(enc('1234567890123'));
    expect(() => enc(-1)).toThrow();
    expect(() => enc(1.5)).toThrow();
  });
  it('encodes strings as UTF-8', () => {
    expect(enc('é')).toEqual(new Uint8Array([0, 0, 0, 2, 0xc3, 0xa9]));
  });
});

describe('b64u', () => {
  it('round-trips every length without padding', () => {
    for (let n = 0; n < 40; n++) {
      const b = new Uint8Array(n).map((_, i) => (i * 37 + n) & 255);
      const s = b64u(b);
      expect(s).not.toMatch(/[=+/]/);
      expect(s).toBe(Buffer.from(b).toString('base64url'));
      expect(fromB64u(s)).toEqual(b);
    }
  });
  it('refuses padding and the standard alphabet', () => {
    expect(() => fromB64u('AA==')).toThrow();
    expect(() => fromB64u('a+b/')).toThrow();
    expect(() => fromB64u('A')).toThrow();
  });
  it('big-endian integers', () => {
    expect([...u32be(0x01020304)]).toEqual([1, 2, 3, 4]);
    expect([...u64be(2 ** 40 + 5)]).toEqual([0, 0, 1, 0, 0, 0, 0, 5]);
  });
});

describe('ids and hashes', () => {
  it('member id is b64u of the first 16 bytes of SHA-256(sign_pub)', async () => {
    const pub = new Uint8Array(32).map((_, i) => i);
    const want = createHash('sha256').update(pub).digest().subarray(0, 16).toString('base64url');
    expect(await memberId(pub)).toBe(want);
    expect(want.length).toBe(22);
  });
  it('envelope hash is b64u(SHA-256(body))', async () => {
    const body = '{"v":1}';
    expect(await hashBody(utf8(body))).toBe(createHash('sha256').update(body).digest('base64url'));
  });
});

describe('safety numbers', () => {
  it('12 groups of 5 digits from 40-bit chunks mod 100000', () => {
    const d = new Uint8Array(64);
    d.fill(0xff, 0, 5); // 2^40 - 1 = 1099511627775 -> 27775
    d[9] = 7; // chunk 1 = 7 -> 00007
    const s = digitsFromDigest(d);
    expect(s.split(' ')).toHaveLength(12);
    expect(s.startsWith('27775 00007 00000')).toBe(true);
  });
  it('matches an independent computation with node:crypto', async () => {
    const sign = new Uint8Array(32).fill(1);
    const dh = new Uint8Array(32).fill(2);
    const d = createHash('sha512').update(enc('rempart-crisis-fpr-v1', sign, dh)).digest();
    const groups = [];
    for (let c = 0; c < 12; c++) groups.push((d.readUIntBE(c * 5, 5) % 100000).toString().padStart(5, '0'));
    const s = await safetyNumber(sign, dh);
    expect(s).toBe(groups.join(' '));
    expect(s).toMatch(/^(\d{5} ){11}\d{5}$/);
    expect(safetyQR('abc', s)).toBe(`rempart-fpr:1:abc:${groups.join('')}`);
  });
  it('room safety number sorts members by id', async () => {
    const a = { id: 'B', sign: b64u(new Uint8Array(32).fill(3)), dh: b64u(new Uint8Array(32).fill(4)) };
    const b = { id: 'A', sign: b64u(new Uint8Array(32).fill(5)), dh: b64u(new Uint8Array(32).fill(6)) };
    const x = await roomSafetyNumber('room', 2, [a, b]);
    expect(await roomSafetyNumber('room', 2, [b, a])).toBe(x);
    expect(await roomSafetyNumber('room', 3, [b, a])).not.toBe(x);
    const d = createHash('sha512')
      .update(enc('rempart-crisis-room-v1', 'room', 2, 'A', fromB64u(b.sign), fromB64u(b.dh), 'B', fromB64u(a.sign), fromB64u(a.dh)))
      .digest();
    expect(x.slice(0, 5)).toBe((d.readUIntBE(0, 5) % 100000).toString().padStart(5, '0'));
  });
});

// SFrame (RFC 9605) for the call's media: the RFC's own vectors, the Go
// reference's vectors (internal/crisis/e2ee/testdata/sframe_vectors.json),
// header edge cases, the keyring (counters, failures) and the transforms.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fromB64u } from '../src/crypto/bytes';
import { normalizeContent } from '../src/protocol/content';
import { FAILURE_THROTTLE_MS, frameTransform, handleMessage, Keyring, NO_KEY_GRACE_MS, type FailureReport } from '../src/media/keyring';
import {
  deriveKeyMaterial,
  encodeHeader,
  importSFrameKey,
  MEDIA_SUITE,
  mediaKid,
  nonceFor,
  parseHeader,
  protect,
  SFrameError,
  unprotect,
} from '../src/media/sframe';

const path = fileURLToPath(new URL('../../internal/crisis/e2ee/testdata/sframe_vectors.json', import.meta.url));
const present = existsSync(path);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const V: any = present ? JSON.parse(readFileSync(path, 'utf8')) : {};

const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const big = (h: string) => BigInt('0x' + h);
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof SFrameError ? e.reason : String(e);
  }
}

describe.skipIf(!present)('SFrame vectors (RFC 9605 appendix C, and the Go reference)', () => {
  it('media v1 uses suite 0x0005', () => {
    expect(V.media_suite).toBe(MEDIA_SUITE);
  });

  it('RFC 9605 C.1 headers: encoded and parsed exactly; values above 2^53-1 refused as oversized', () => {
    let checked = 0;
    for (const h of V.rfc9605_c1_headers as { kid_hex: string; ctr_hex: string; header: string }[]) {
      const kid = big(h.kid_hex);
      const ctr = big(h.ctr_hex);
      if (kid <= SAFE && ctr <= SAFE) {
        expect(toHex(encodeHeader(Number(kid), Number(ctr)))).toBe(h.header);
        const p = parseHeader(hex(h.header + 'aabb'));
        expect([p.kid, p.ctr, p.len]).toEqual([Number(kid), Number(ctr), h.header.length / 2]);
        checked++;
      } else {
        expect(() => parseHeader(hex(h.header))).toThrow(expect.objectContaining({ reason: 'oversized' }));
      }
    }
    expect(checked).toBeGreaterThan(15);
  });

  it('RFC 9605 C.3: key derivation, nonce and ciphertext for suites 0x0004 and 0x0005', async () => {
    for (const r of V.rfc9605_c3) {
      const kid = Number(big(r.kid_hex));
      const ctr = Number(big(r.ctr_hex));
      const m = await deriveKeyMaterial(r.cipher_suite, kid, hex(r.base_key));
      expect(toHex(m.key)).toBe(r.sframe_key);
      expect(toHex(m.salt)).toBe(r.sframe_salt);
      expect(toHex(nonceFor(m.salt, ctr))).toBe(r.nonce);
      const k = await importSFrameKey(hex(r.base_key), kid, r.cipher_suite);
      expect(k.key.extractable).toBe(false);
      const ct = await protect(k, ctr, hex(r.pt), hex(r.metadata));
      expect(toHex(ct)).toBe(r.ct);
      const back = await unprotect(hex(r.ct), () => k, hex(r.metadata));
      expect(toHex(back.data)).toBe(r.pt);
      // The metadata is authenticated.
      expect(await reason(unprotect(hex(r.ct), () => k))).toBe('decrypt');
    }
  });

  it('Go media vectors: same keys, same bytes, and they open', async () => {
    for (const m of V.media) {
      expect(m.kid).toBe(mediaKid(m.epoch, m.gen));
      const base = fromB64u(m.media_key_b64u);
      expect(toHex(base)).toBe(m.base_key_hex);
      const d = await deriveKeyMaterial(MEDIA_SUITE, m.kid, base);
      expect([toHex(d.key), toHex(d.salt)]).toEqual([m.sframe_key, m.sframe_salt]);
      expect(toHex(encodeHeader(m.kid, m.ctr))).toBe(m.header);
      const k = await importSFrameKey(base, m.kid);
      expect(toHex(await protect(k, m.ctr, hex(m.pt)))).toBe(m.ct);
      const back = await unprotect(hex(m.ct), (kid) => (kid === m.kid ? k : undefined));
      expect([toHex(back.data), back.ctr]).toEqual([m.pt, m.ctr]);
    }
  });

  it('Go header vectors (our KIDs) encode identically', () => {
    for (const h of V.headers) {
      const kid = Number(big(h.kid_hex));
      const ctr = Number(big(h.ctr_hex));
      expect(toHex(encodeHeader(kid, ctr))).toBe(h.header);
      expect(parseHeader(hex(h.header))).toEqual({ kid, ctr, len: h.header.length / 2 });
    }
  });

  it('malformed headers are refused (truncated, non-minimal)', () => {
    for (const b of V.bad_headers as { hex: string; why: string }[]) {
      expect(() => parseHeader(hex(b.hex)), b.why).toThrow(SFrameError);
    }
  });

  it('altered or truncated frames do not open', async () => {
    const m = V.media[1];
    const k = await importSFrameKey(fromB64u(m.media_key_b64u), m.kid);
    for (const b of V.bad_frames as { hex: string; why: string }[]) {
      expect(await reason(unprotect(hex(b.hex), () => k)), b.why).not.toBe('ok');
    }
  });

  it('the media_key content of the vectors normalises', () => {
    const c = normalizeContent(JSON.parse(V.media_key_content));
    expect(c).toEqual({ t: 'media_key', suite: 5, kid: V.media[1].kid, key: V.media[1].media_key_b64u });
    expect(normalizeContent({ t: 'media_key', kid: 'x' })).toEqual({ t: 'media_key', suite: 0, kid: -1, key: '' });
  });
});

describe('SFrame headers: edge cases', () => {
  it('values 7 and 8 switch between the config byte and an extended field', () => {
    expect(toHex(encodeHeader(7, 7))).toBe('77');
    expect(toHex(encodeHeader(8, 7))).toBe('8708');
    expect(parseHeader(encodeHeader(8, 7))).toEqual({ kid: 8, ctr: 7, len: 2 });
    expect(toHex(encodeHeader(0, 8))).toBe('0808');
    expect(toHex(encodeHeader(8, 0))).toBe('8008');
    expect(toHex(encodeHeader(255, 256))).toBe('89ff0100');
  });

  it('the largest safe values round-trip; larger ones are refused on both sides', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const h = encodeHeader(max, max);
    expect(toHex(h)).toBe('ee1fffffffffffff1fffffffffffff');
    expect(parseHeader(h)).toEqual({ kid: max, ctr: max, len: 15 });
    expect(() => encodeHeader(max + 1, 0)).toThrow(RangeError);
    expect(() => encodeHeader(-1, 0)).toThrow(RangeError);
    expect(() => parseHeader(hex('e02000000000000000'))).toThrow(expect.objectContaining({ reason: 'oversized' }));
    expect(() => parseHeader(hex('0f0100000000000000'))).toThrow(expect.objectContaining({ reason: 'oversized' }));
  });

  it('truncation and non-minimal forms give their reason', () => {
    expect(() => parseHeader(new Uint8Array())).toThrow(expect.objectContaining({ reason: 'truncated' }));
    expect(() => parseHeader(hex('09ff'))).toThrow(expect.objectContaining({ reason: 'truncated' }));
    expect(() => parseHeader(hex('0805'))).toThrow(expect.objectContaining({ reason: 'header' }));
    expect(() => parseHeader(hex('9000ff'))).toThrow(expect.objectContaining({ reason: 'header' }));
  });

  it('a frame shorter than header + tag is truncated', async () => {
    const k = await importSFrameKey(new Uint8Array(32), 8);
    const ct = await protect(k, 9, new Uint8Array(0));
    expect(ct.length).toBe(3 + 16);
    expect(await reason(unprotect(ct.subarray(0, ct.length - 1), () => k))).toBe('truncated');
    expect(await reason(unprotect(ct, () => undefined))).toBe('no_key');
    expect((await unprotect(ct, () => k)).data.length).toBe(0);
  });
});

describe('Keyring', () => {
  const kidA = mediaKid(3, 0);
  const keyA = new Uint8Array(32).fill(1);

  it('round trip between two devices; the whole frame is encrypted', async () => {
    const alice = new Keyring();
    const bob = new Keyring();
    await alice.setOwnKey(kidA, keyA);
    await bob.addKey('alice', kidA, keyA);
    const frame = new TextEncoder().encode('VP8 keyframe bytes, none of them may stay in clear');
    const ct = (await alice.encrypt('video', frame))!;
    expect(Buffer.from(ct).includes(Buffer.from('keyframe'))).toBe(false);
    expect(ct.length).toBe(frame.length + encodeHeader(kidA, 0).length + 16);
    expect(await bob.decrypt('alice', 'video', ct)).toEqual(frame);
    const s = bob.stats();
    expect(s.decrypted.alice).toEqual({ audio: 0, video: 1 });
    expect(alice.stats().encrypted).toEqual({ audio: 0, video: 1 });
  });

  it('no key yet: the frame is dropped, never sent in clear', async () => {
    const r = new Keyring();
    expect(await r.encrypt('audio', new Uint8Array([1, 2, 3]))).toBeNull();
    expect(r.stats().unsent).toBe(1);
  });

  it('a wrong key is counted and reported, throttled to once a second per participant and kind', async () => {
    let t = 1000;
    const reports: FailureReport[] = [];
    const alice = new Keyring();
    const eve = new Keyring((f) => reports.push(f), () => t);
    await alice.setOwnKey(kidA, keyA);
    await eve.addKey('alice', kidA, new Uint8Array(32).fill(2));
    for (let i = 0; i < 5; i++) expect(await eve.decrypt('alice', 'audio', (await alice.encrypt('audio', new Uint8Array([i])))!)).toBeNull();
    expect(eve.stats().failed.alice).toEqual({ audio: 5, video: 0 });
    expect(eve.stats().lastFailure.alice).toBe('decrypt');
    expect(reports).toEqual([{ participant: 'alice', kind: 'audio', reason: 'decrypt' }]);
    await eve.decrypt('alice', 'video', (await alice.encrypt('video', new Uint8Array([9])))!);
    expect(reports.length).toBe(2); // another kind: its own throttle
    t += FAILURE_THROTTLE_MS;
    await eve.decrypt('alice', 'audio', (await alice.encrypt('audio', new Uint8Array([9])))!);
    expect(reports.length).toBe(3);
  });

  it('an unknown KID is reported only once it stays unknown (a new key may be on its way)', async () => {
    let t = 0;
    const reports: FailureReport[] = [];
    const alice = new Keyring();
    const bob = new Keyring((f) => reports.push(f), () => t);
    await alice.setOwnKey(kidA, keyA);
    const f1 = (await alice.encrypt('audio', new Uint8Array([1])))!;
    expect(await bob.decrypt('alice', 'audio', f1)).toBeNull();
    t = NO_KEY_GRACE_MS - 1;
    await bob.decrypt('alice', 'audio', f1);
    expect(reports).toEqual([]);
    t = NO_KEY_GRACE_MS + 1;
    await bob.decrypt('alice', 'audio', f1);
    expect(reports).toEqual([{ participant: 'alice', kind: 'audio', reason: 'no_key' }]);
    expect(bob.stats().failed.alice.audio).toBe(3);
    expect(bob.stats().lastFailure.alice).toBe('no_key');
  });

  it('the counter is never reused: concurrent frames of both kinds, then a new key restarts at 0 with a new KID', async () => {
    const r = new Keyring();
    await r.setOwnKey(kidA, keyA);
    const frames = await Promise.all(
      Array.from({ length: 600 }, (_, i) => r.encrypt(i % 3 ? 'video' : 'audio', new Uint8Array([i & 0xff]))),
    );
    const ctrs = frames.map((f) => parseHeader(f!).ctr);
    expect(new Set(ctrs).size).toBe(600);
    expect(Math.max(...ctrs)).toBe(599);
    const kidB = mediaKid(3, 1);
    await r.setOwnKey(kidB, new Uint8Array(32).fill(7));
    const h = parseHeader((await r.encrypt('audio', new Uint8Array([1])))!);
    expect(h).toEqual({ kid: kidB, ctr: 0, len: h.len });
  });

  it('keys of earlier epochs are dropped on request', async () => {
    const r = new Keyring();
    await r.addKey('alice', mediaKid(2, 0), keyA);
    await r.addKey('alice', mediaKid(3, 0), keyA);
    r.dropBefore(3);
    expect(r.hasKey('alice', mediaKid(2, 0))).toBe(false);
    expect(r.hasKey('alice', mediaKid(3, 0))).toBe(true);
  });

  it('the transform streams encrypt and decrypt encoded frames, dropping what does not open', async () => {
    const alice = new Keyring();
    const bob = new Keyring();
    await alice.setOwnKey(kidA, keyA);
    await bob.addKey('alice', kidA, keyA);
    const frames = [new Uint8Array([1, 2, 3]), new Uint8Array(500).fill(0x42)].map((b) => ({ data: b.slice().buffer as ArrayBuffer }));
    const out: Uint8Array[] = [];
    const src = new ReadableStream({
      start(c) {
        for (const f of frames) c.enqueue(f);
        c.close();
      },
    });
    // Between the two, something injects a frame of its own: dropped at the receiver.
    const inject = new TransformStream<{ data: ArrayBuffer }, { data: ArrayBuffer }>({
      transform(f, c) {
        c.enqueue(f);
      },
      flush(c) {
        c.enqueue({ data: new Uint8Array([0x99, 1, 2, 3, 4, ...new Array(20).fill(0)]).buffer });
      },
    });
    await src
      .pipeThrough(frameTransform(alice, 'send', 'video', 'alice'))
      .pipeThrough(inject)
      .pipeThrough(frameTransform(bob, 'recv', 'video', 'alice'))
      .pipeTo(new WritableStream({ write: (f) => void out.push(new Uint8Array(f.data)) }));
    expect(out).toEqual([new Uint8Array([1, 2, 3]), new Uint8Array(500).fill(0x42)]);
    expect(alice.stats().encrypted.video).toBe(2);
    expect(bob.stats().decrypted.alice.video).toBe(2);
    expect(bob.stats().failed.alice.video).toBe(1);
  });

  it('a receiver reused for another publisher opens the new publisher frames (slot update)', async () => {
    const alice = new Keyring();
    const carol = new Keyring();
    const bob = new Keyring();
    const kidC = mediaKid(1, 0);
    const keyC = new Uint8Array(32).fill(9);
    await alice.setOwnKey(kidA, keyA);
    await carol.setOwnKey(kidC, keyC);
    await bob.addKey('alice', kidA, keyA);
    await bob.addKey('carol', kidC, keyC);
    const sealed = async (ring: Keyring, n: number) => (await ring.encrypt('video', new Uint8Array(n).fill(n)))!;
    const frames = [await sealed(alice, 10), await sealed(carol, 20)];
    const out: number[] = [];
    let push!: (f: { data: ArrayBuffer }) => void;
    let done!: () => void;
    const src = new ReadableStream<{ data: ArrayBuffer }>({
      start(c) {
        push = (f) => c.enqueue(f);
        done = () => c.close();
      },
    });
    const piped = src
      .pipeThrough(frameTransform(bob, 'recv', 'video', 'alice', 7))
      .pipeTo(new WritableStream({ write: (f) => void out.push(new Uint8Array(f.data).length) }));
    push({ data: frames[0].slice().buffer as ArrayBuffer });
    for (let i = 0; i < 500 && out.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    handleMessage(bob, { op: 'slot', slot: 7, participant: 'carol' }, () => undefined);
    push({ data: frames[1].slice().buffer as ArrayBuffer });
    done();
    await piped;
    expect(out).toEqual([10, 20]);
    expect(bob.stats().decrypted.alice.video).toBe(1);
    expect(bob.stats().decrypted.carol.video).toBe(1);
  });
});

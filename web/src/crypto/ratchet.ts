// Sender-key hash ratchet (docs/crisis-e2ee.md, "Sender keys"):
//   mk_i     = HMAC-SHA256(ck_i, 0x01)   message key (AES-256-GCM)
//   ck_(i+1) = HMAC-SHA256(ck_i, 0x02)
// A chain only runs forwards: holding ck_i gives messages i, i+1, … and
// nothing before (a newcomer gets a chain key at the sender's current index).
import { buf } from './bytes';

const subtle = () => globalThis.crypto.subtle;
const ONE = new Uint8Array([1]);
const TWO = new Uint8Array([2]);

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', k, buf(data)));
}

export async function messageKeyBytes(ck: Uint8Array): Promise<Uint8Array> {
  return hmac(ck, ONE);
}

export async function nextChainKey(ck: Uint8Array): Promise<Uint8Array> {
  return hmac(ck, TWO);
}

/** Both steps from one imported HMAC key (one WebCrypto import, not two). */
async function step(ck: Uint8Array): Promise<{ mk: Promise<Uint8Array>; next: Uint8Array }> {
  const k = await subtle().importKey('raw', buf(ck), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mk = subtle()
    .sign('HMAC', k, buf(ONE))
    .then((b) => new Uint8Array(b));
  const next = new Uint8Array(await subtle().sign('HMAC', k, buf(TWO)));
  return { mk, next };
}

export async function importAesKey(raw: Uint8Array, usages: KeyUsage[] = ['encrypt', 'decrypt']): Promise<CryptoKey> {
  return subtle().importKey('raw', buf(raw), { name: 'AES-GCM' }, false, usages);
}

/**
 * One (sender, epoch) chain as this device knows it: chain keys from index
 * `start` on. Chain keys are computed forward once and kept, and message
 * keys are cached as imported CryptoKeys, so opening 10,000 entries costs
 * one HMAC step per index, not one walk from the start per entry.
 */
export class Chain {
  readonly start: number;
  private cks: Uint8Array[]; // cks[k] = ck_(start+k)
  private mks = new Map<number, Promise<CryptoKey>>();
  private mkBytes = new Map<number, Promise<Uint8Array>>(); // computed during the walk
  private stepping: Promise<void> = Promise.resolve();

  constructor(start: number, ck: Uint8Array) {
    if (ck.length !== 32) throw new Error('a chain key is 32 bytes');
    this.start = start;
    this.cks = [ck];
  }

  /** Chain key at index i (i >= start). */
  async chainKey(i: number): Promise<Uint8Array> {
    if (!Number.isInteger(i) || i < this.start) {
      throw new RangeError(`index ${i} is before this device's copy of the key (from ${this.start})`);
    }
    if (i - this.start > 1_000_000) throw new RangeError(`index ${i} is implausibly far ahead`);
    // Serialise the forward walk: concurrent callers share one computation.
    const run = this.stepping.then(async () => {
      while (this.start + this.cks.length - 1 < i) {
        const at = this.start + this.cks.length - 1;
        const st = await step(this.cks[this.cks.length - 1]);
        if (!this.mkBytes.has(at)) this.mkBytes.set(at, st.mk);
        this.cks.push(st.next);
      }
    });
    this.stepping = run.catch(() => undefined);
    await run;
    return this.cks[i - this.start];
  }

  /** AES-GCM key for message i, cached. */
  messageKey(i: number): Promise<CryptoKey> {
    let k = this.mks.get(i);
    if (!k) {
      k = this.chainKey(i)
        .then((ck) => this.mkBytes.get(i) ?? messageKeyBytes(ck))
        .then((raw) => {
          this.mkBytes.delete(i);
          return importAesKey(raw);
        });
      this.mks.set(i, k);
      k.catch(() => this.mks.delete(i));
    }
    return k;
  }
}

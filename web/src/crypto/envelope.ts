// Envelopes (docs/crisis-e2ee.md, "Envelopes"): everything written in the
// room. ct = AES-256-GCM(mk_i, nonce, content, aad = enc(LABEL_CONTENT,
// room, epoch, sender, seq, i)); the body is signed by its author.
import { b64u, enc, fromB64u, fromUtf8, randomBytes, utf8 } from './bytes';
import { gcmOpen, gcmSeal } from './aead';
import { hashBody } from './keys';
import { LABEL_CONTENT, LABEL_ENVELOPE, VERSION } from './labels';
import { parseBody, signObject, verifySigned, type Signed } from './sign';

export interface Envelope {
  v: number;
  room: string;
  epoch: number;
  sender: string;
  seq: number;
  prev: string;
  refs: string[];
  i: number;
  nonce: string;
  ct: string;
  time: string;
}

export function contentAAD(room: string, epoch: number, sender: string, seq: number, i: number): Uint8Array {
  return enc(LABEL_CONTENT, room, epoch, sender, seq, i);
}

export interface SealInput {
  room: string;
  epoch: number;
  sender: string;
  seq: number;
  prev: string;
  refs: string[];
  i: number;
  time?: string;
}

export interface Sealed extends Signed {
  hash: string;
  env: Envelope;
}

export async function sealEnvelope(
  signPriv: CryptoKey,
  mk: CryptoKey,
  h: SealInput,
  content: unknown,
): Promise<Sealed> {
  const nonce = randomBytes(12);
  const ct = await gcmSeal(mk, nonce, utf8(JSON.stringify(content)), contentAAD(h.room, h.epoch, h.sender, h.seq, h.i));
  const env: Envelope = {
    v: VERSION,
    room: h.room,
    epoch: h.epoch,
    sender: h.sender,
    seq: h.seq,
    prev: h.prev,
    refs: h.refs,
    i: h.i,
    nonce: b64u(nonce),
    ct: b64u(ct),
    time: h.time ?? new Date().toISOString(),
  };
  const s = await signObject(signPriv, LABEL_ENVELOPE, h.room, env);
  return { ...s, hash: await hashBody(utf8(s.body)), env };
}

export function verifyEnvelopeSig(signPubB64u: string, room: string, s: Signed): Promise<boolean> {
  return verifySigned(signPubB64u, LABEL_ENVELOPE, room, s);
}

/** Parses an envelope body and checks the fields' types. */
export function parseEnvelope(body: string): Envelope {
  const e = parseBody<Envelope>(body);
  const ok =
    typeof e.room === 'string' &&
    Number.isSafeInteger(e.epoch) &&
    typeof e.sender === 'string' &&
    Number.isSafeInteger(e.seq) &&
    e.seq >= 1 &&
    typeof e.prev === 'string' &&
    Array.isArray(e.refs) &&
    e.refs.every((r) => typeof r === 'string') &&
    Number.isSafeInteger(e.i) &&
    e.i >= 0 &&
    typeof e.nonce === 'string' &&
    typeof e.ct === 'string' &&
    typeof e.time === 'string';
  if (!ok) throw new Error('malformed entry');
  return e;
}

/** Decrypts an envelope's content with its message key; returns parsed JSON. */
export async function openContent(mk: CryptoKey, e: Envelope): Promise<unknown> {
  const pt = await gcmOpen(mk, fromB64u(e.nonce), fromB64u(e.ct), contentAAD(e.room, e.epoch, e.sender, e.seq, e.i));
  return JSON.parse(fromUtf8(pt));
}

// History share v1 (docs/crisis-e2ee.md, "History share v1"): the
// coordinator's device hands one member the chain keys it holds for
// entries written before that member's admission.
//   eph       = fresh X25519 pair
//   shared    = X25519(eph_priv, to.dh_pub)
//   info      = enc("rempart-crisis-history-key-v1", room, sender, to, from)
//   kek       = HKDF-SHA256(ikm=shared, salt=eph_pub||to.dh_pub, info, 32)
//   plaintext = enc(sender1, epoch1, i1, ck1, sender2, …)
//   ct        = AES-256-GCM(kek, nonce, plaintext, aad=info)
// The bundle is signed by the coordinator's device (LABEL_HISTORY); the
// recipient checks it with the coordinator key pinned from its invitation.
import { b64u, enc, fromB64u, fromUtf8, randomBytes, readU32be } from './bytes';
import { gcmOpen, gcmSeal } from './aead';
import { importDhPub, memberId } from './keys';
import { VERSION } from './labels';
import { parseBody, signObject, verifySigned, type Signed } from './sign';
import { kek } from './wraps';

export const LABEL_HISTORY = 'rempart-crisis-history-v1';
export const LABEL_HISTORY_KDF = 'rempart-crisis-history-key-v1';

const subtle = () => globalThis.crypto.subtle;

/**
 * A member who left the room and wrote in the shared history: the reader's
 * roster lists its id only (in "removed"); its signing key comes here, and
 * must hash to the id.
 */
export interface FormerMember {
  id: string;
  name: string;
  sign: string;
  since: number;
  /** epoch from which it was removed */
  removed: number;
}

export interface HistoryBundle {
  v: number;
  room: string;
  sender: string;
  to: string;
  from: number;
  former: FormerMember[];
  eph: string;
  nonce: string;
  ct: string;
}

export interface HistoryKey {
  sender: string;
  epoch: number;
  index: number;
  ck: Uint8Array;
}

export class HistoryError extends Error {}

export function historyInfo(room: string, sender: string, to: string, from: number): Uint8Array {
  return enc(LABEL_HISTORY_KDF, room, sender, to, from);
}

export function historyPlaintext(keys: HistoryKey[]): Uint8Array {
  return enc(...keys.flatMap((k) => [k.sender, k.epoch, k.index, k.ck]));
}

function decimal(b: Uint8Array): number {
  const s = fromUtf8(b);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(s)) throw new HistoryError('malformed shared history');
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new HistoryError('malformed shared history');
  return n;
}

export function parseHistoryPlaintext(pt: Uint8Array): HistoryKey[] {
  const fields: Uint8Array[] = [];
  let o = 0;
  while (o < pt.length) {
    if (pt.length - o < 4) throw new HistoryError('malformed shared history');
    const n = readU32be(pt, o);
    o += 4;
    if (n > pt.length - o) throw new HistoryError('malformed shared history');
    fields.push(pt.subarray(o, o + n));
    o += n;
  }
  if (fields.length % 4 !== 0) throw new HistoryError('malformed shared history');
  const out: HistoryKey[] = [];
  for (let k = 0; k < fields.length; k += 4) {
    const sender = fromUtf8(fields[k]);
    const epoch = decimal(fields[k + 1]);
    const index = decimal(fields[k + 2]);
    if (!sender || epoch < 1 || index > 0xffffffff || fields[k + 3].length !== 32) throw new HistoryError('malformed shared history');
    out.push({ sender, epoch, index, ck: fields[k + 3].slice() });
  }
  return out;
}

/** Seals and signs a history bundle for one member (`to.dh`: b64u). */
export async function makeHistoryBundle(
  signPriv: CryptoKey,
  room: string,
  sender: string,
  to: { id: string; dh: string },
  from: number,
  former: FormerMember[],
  keys: HistoryKey[],
): Promise<Signed> {
  if (!Number.isSafeInteger(from) || from < 1) throw new RangeError(`history from position ${from}`);
  const rDh = fromB64u(to.dh);
  const eph = (await subtle().generateKey({ name: 'X25519' }, false, ['deriveBits'])) as CryptoKeyPair;
  const ephPub = new Uint8Array(await subtle().exportKey('raw', eph.publicKey));
  const shared = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: await importDhPub(rDh) }, eph.privateKey, 256));
  const info = historyInfo(room, sender, to.id, from);
  const nonce = randomBytes(12);
  const ct = await gcmSeal(await kek(shared, ephPub, rDh, info), nonce, historyPlaintext(keys), info);
  const b: HistoryBundle = { v: VERSION, room, sender, to: to.id, from, former, eph: b64u(ephPub), nonce: b64u(nonce), ct: b64u(ct) };
  return signObject(signPriv, LABEL_HISTORY, room, b);
}

/**
 * Opens a history bundle addressed to this device. coordinatorSign is the
 * coordinator's key pinned from the invitation link: a bundle signed by
 * any other key (another member, the server) is refused.
 */
export async function openHistoryBundle(
  s: Signed,
  me: { id: string; dhPriv: CryptoKey; dhPub: Uint8Array },
  room: string,
  coordinatorSign: string,
): Promise<{ bundle: HistoryBundle; keys: HistoryKey[] }> {
  if (!(await verifySigned(coordinatorSign, LABEL_HISTORY, room, s))) {
    throw new HistoryError('shared history not signed by the coordinator of this room: ignored');
  }
  let b: HistoryBundle;
  try {
    b = parseBody<HistoryBundle>(s.body);
  } catch (e) {
    throw new HistoryError(e instanceof Error ? e.message : 'malformed shared history');
  }
  if (b.room !== room) throw new HistoryError('shared history of another room');
  if (b.sender !== (await memberId(fromB64u(coordinatorSign)))) throw new HistoryError('shared history naming another coordinator');
  if (b.to !== me.id) throw new HistoryError('shared history addressed to another member');
  if (!Number.isSafeInteger(b.from) || b.from < 1) throw new HistoryError('malformed shared history');
  let pt: Uint8Array;
  try {
    const ephPub = fromB64u(b.eph);
    const shared = new Uint8Array(await subtle().deriveBits({ name: 'X25519', public: await importDhPub(ephPub) }, me.dhPriv, 256));
    const info = historyInfo(room, b.sender, me.id, b.from);
    pt = await gcmOpen(await kek(shared, ephPub, me.dhPub, info), fromB64u(b.nonce), fromB64u(b.ct), info);
  } catch {
    throw new HistoryError('the shared history does not open for this device (altered, or for someone else)');
  }
  const keys = parseHistoryPlaintext(pt);
  const former = Array.isArray(b.former) ? b.former : [];
  for (const f of former) {
    let ok = false;
    try {
      ok =
        typeof f?.id === 'string' && typeof f.name === 'string' && Number.isSafeInteger(f.since) && f.since >= 1 &&
        Number.isSafeInteger(f.removed) && f.removed > f.since && (await memberId(fromB64u(f.sign))) === f.id;
    } catch {
      ok = false;
    }
    if (!ok) throw new HistoryError('shared history with a former member whose key does not match');
  }
  return { bundle: { ...b, former }, keys };
}

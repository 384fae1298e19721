// Safety numbers (docs/crisis-e2ee.md, "Keys"): what the coordinator and a
// member compare out of band before admission.
import { enc, fromB64u, type Field } from './bytes';
import { sha512 } from './keys';
import { LABEL_FPR, LABEL_ROOM_FPR } from './labels';

/** 12 groups of 5 digits from the first 60 bytes of a SHA-512 digest. */
export function digitsFromDigest(d: Uint8Array): string {
  const groups: string[] = [];
  for (let c = 0; c < 12; c++) {
    let n = 0;
    // 40-bit big-endian integer: exact in a JS number (< 2^53).
    for (let j = 0; j < 5; j++) n = n * 256 + d[c * 5 + j];
    groups.push(String(n % 100000).padStart(5, '0'));
  }
  return groups.join(' ');
}

export async function safetyNumber(signPub: Uint8Array, dhPub: Uint8Array): Promise<string> {
  return digitsFromDigest(await sha512(enc(LABEL_FPR, signPub, dhPub)));
}

export function safetyQR(memberId: string, safety: string): string {
  return `rempart-fpr:1:${memberId}:${safety.replace(/ /g, '')}`;
}

export interface RosterKeyRef {
  id: string;
  sign: string; // b64u
  dh: string; // b64u
}

/** Room safety number over the roster's members sorted by id. */
export async function roomSafetyNumber(room: string, epoch: number, members: RosterKeyRef[]): Promise<string> {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const fields: Field[] = [LABEL_ROOM_FPR, room, epoch];
  for (const m of sorted) fields.push(m.id, fromB64u(m.sign), fromB64u(m.dh));
  return digitsFromDigest(await sha512(enc(...fields)));
}

// Roster checks (docs/crisis-e2ee.md, "Roster"): every roster must be signed
// by the coordinator key pinned from the invitation link, never by a key the
// server hands out. A roster that fails is refused and shown as an alarm.
import { LABEL_ROSTER } from './labels';
import { fromB64u } from './bytes';
import { memberId } from './keys';
import { parseBody, verifyJoinProof, verifySigned, type Signed } from './sign';
import type { Roster, RosterMember } from '../protocol/types';

export class RosterError extends Error {}

/** What a roster says, independent of JSON layout. */
function shape(r: Roster): string {
  return JSON.stringify([
    r.epoch,
    r.members.map((m) => [m.id, m.name, m.sign, m.dh, m.since]).sort(),
    [...r.removed].sort(),
  ]);
}

const proofCache = new Map<string, Promise<boolean>>();

function proofOk(room: string, m: RosterMember): Promise<boolean> {
  const k = `${room}|${m.id}|${m.name}|${m.sign}|${m.dh}|${m.proof}`;
  let p = proofCache.get(k);
  if (!p) {
    p = (async () => {
      const idOk = (await memberId(fromB64u(m.sign))) === m.id;
      return idOk && (await verifyJoinProof(room, m.name, m.sign, m.dh, m.proof));
    })().catch(() => false);
    proofCache.set(k, p);
  }
  return p;
}

/**
 * Verifies a signed roster against the pinned coordinator key and, when
 * given, the roster this device held before. Versions may be skipped (a
 * device that was offline sees only the latest), but never go back.
 */
export async function verifyRoster(
  s: Signed,
  room: string,
  coordinatorSign: string,
  prev?: Roster,
): Promise<Roster> {
  if (!(await verifySigned(coordinatorSign, LABEL_ROSTER, room, s))) {
    throw new RosterError(
      'ALARM: the member list was not signed by the coordinator of this room. Do not trust this room; call the coordinator by phone.',
    );
  }
  const r = parseBody<Roster>(s.body);
  if (r.room !== room) throw new RosterError('member list of another room');
  if (!Number.isSafeInteger(r.version) || !Number.isSafeInteger(r.epoch) || r.epoch < 1) {
    throw new RosterError('malformed member list');
  }
  if (!Array.isArray(r.members) || !Array.isArray(r.removed)) throw new RosterError('malformed member list');
  if (r.members.length > 500) throw new RosterError('member list with more than 500 members');
  const coordId = await memberId(fromB64u(coordinatorSign));
  if (r.coordinator !== coordId) throw new RosterError('member list names another coordinator');
  const ids = new Set<string>();
  for (const m of r.members) {
    if (!m || typeof m.id !== 'string' || ids.has(m.id)) throw new RosterError('member list with a duplicate or malformed member');
    ids.add(m.id);
  }
  if (!ids.has(coordId)) throw new RosterError('member list without its coordinator');
  for (const id of r.removed) if (ids.has(id)) throw new RosterError('member list where someone is both member and removed');
  const proofs = await Promise.all(r.members.map((m) => proofOk(room, m)));
  const bad = r.members.filter((_, i) => !proofs[i]);
  if (bad.length) {
    throw new RosterError(`member list with keys that do not match what ${bad.map((m) => m.name).join(', ')} sent when joining`);
  }
  if (prev) {
    if (r.version < prev.version) throw new RosterError('an older member list was replayed');
    if (r.epoch < prev.epoch) throw new RosterError('member list going back to an older key period');
    const removed = new Set(r.removed);
    for (const id of prev.removed) if (!removed.has(id)) throw new RosterError('a removed member came back in the member list');
    if (r.version === prev.version && shape(r) !== shape(prev)) {
      // The coordinator's key signed two different lists with one version.
      throw new RosterError('two different member lists with the same version');
    }
  }
  return r;
}

// Entering a room on this device: creating one (coordinator) or joining one
// from an invitation link. Both draw this device's keys for the room and
// store them, with the member token, in IndexedDB.
import { b64u, randomBytes } from '../crypto/bytes';
import { generateDeviceKeys, memberId as computeMemberId } from '../crypto/keys';
import { LABEL_ROSTER, VERSION } from '../crypto/labels';
import { joinProof, signObject } from '../crypto/sign';
import { AppError } from '../errors';
import type { RoomRecord, Store } from '../store/db';
import { api } from './api';
import type { Roster } from './types';

function nowIso(): string {
  return new Date().toISOString();
}

/** Creates a room as a signed-in coordinator: keys, roster v1, title. */
export async function createRoom(
  store: Store,
  session: string,
  opts: { title: string; name: string; tenant?: string },
): Promise<string> {
  const keys = await generateDeviceKeys();
  const room = b64u(randomBytes(16));
  const id = await computeMemberId(keys.signPub);
  const sign = b64u(keys.signPub);
  const dh = b64u(keys.dhPub);
  const proof = await joinProof(keys.sign.privateKey, room, opts.name, keys.signPub, keys.dhPub);
  const roster: Roster = {
    v: VERSION,
    room,
    version: 1,
    epoch: 1,
    coordinator: id,
    time: nowIso(),
    members: [{ id, name: opts.name, sign, dh, proof, since: 1 }],
    removed: [],
  };
  const signed = await signObject(keys.sign.privateKey, LABEL_ROSTER, room, roster);
  const res = await api.createRoom(session, { tenant: opts.tenant, name: opts.name, sign, dh, proof, roster: signed });
  if (res.room !== room || res.member !== id) throw new AppError('server_mismatch', 'the server answered for another room or member: try again');
  const rec: RoomRecord = {
    room,
    memberId: id,
    token: res.member_token,
    coordinatorSign: sign,
    isCoordinator: true,
    name: opts.name,
    signKeys: keys.sign,
    dhKeys: keys.dh,
    signPub: sign,
    dhPub: dh,
    createdAt: nowIso(),
    status: 'member',
    title: opts.title,
    lastPos: 0,
    seq: 0,
    lastHash: '',
  };
  await store.putRoom(rec);
  await store.addOutbox({ room, content: { t: 'meta', title: opts.title }, created: nowIso() });
  return room;
}

/** Joins a room from an invitation link: keys, join proof, member token. */
export async function joinRoom(
  store: Store,
  link: { room: string; invite: string; coordinatorSign: string },
  name: string,
): Promise<string> {
  const keys = await generateDeviceKeys();
  const id = await computeMemberId(keys.signPub);
  const sign = b64u(keys.signPub);
  const dh = b64u(keys.dhPub);
  const proof = await joinProof(keys.sign.privateKey, link.room, name, keys.signPub, keys.dhPub);
  const res = await api.join(link.room, { invite: link.invite, name, sign, dh, proof });
  if (res.member !== id) throw new AppError('server_mismatch', 'the server answered for another member: try the link again');
  if (res.coordinator && res.coordinator.sign !== link.coordinatorSign) {
    throw new AppError(
      'coordinator_mismatch',
      'ALARM: the server names a different coordinator than your invitation link. Do not use this room; call the coordinator by phone.',
    );
  }
  const rec: RoomRecord = {
    room: link.room,
    memberId: id,
    token: res.member_token,
    coordinatorSign: link.coordinatorSign,
    isCoordinator: false,
    name,
    signKeys: keys.sign,
    dhKeys: keys.dh,
    signPub: sign,
    dhPub: dh,
    createdAt: nowIso(),
    status: 'pending',
    lastPos: 0,
    seq: 0,
    lastHash: '',
  };
  await store.putRoom(rec);
  return link.room;
}

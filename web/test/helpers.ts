// Test helpers: a member with fresh keys, and a roster signed by a coordinator.
import { b64u } from '../src/crypto/bytes';
import { generateDeviceKeys, memberId, type DeviceKeys } from '../src/crypto/keys';
import { LABEL_ROSTER, VERSION } from '../src/crypto/labels';
import { joinProof, signObject } from '../src/crypto/sign';
import type { Roster, RosterMember } from '../src/protocol/types';
import type { DirMember } from '../src/crypto/verify';

export interface TestMember {
  id: string;
  name: string;
  keys: DeviceKeys;
  sign: string;
  dh: string;
  proof: string;
}

export async function newMember(room: string, name: string): Promise<TestMember> {
  const keys = await generateDeviceKeys();
  return {
    id: await memberId(keys.signPub),
    name,
    keys,
    sign: b64u(keys.signPub),
    dh: b64u(keys.dhPub),
    proof: await joinProof(keys.sign.privateKey, room, name, keys.signPub, keys.dhPub),
  };
}

export function rosterMember(m: TestMember, since = 1): RosterMember {
  return { id: m.id, name: m.name, sign: m.sign, dh: m.dh, proof: m.proof, since };
}

export function dirMember(m: TestMember, since = 1): DirMember {
  return { id: m.id, name: m.name, sign: m.sign, dh: m.dh, since };
}

export async function signedRoster(coord: TestMember, room: string, r: Partial<Roster> & { members: RosterMember[] }) {
  const body: Roster = {
    v: VERSION,
    room,
    version: 1,
    epoch: 1,
    coordinator: coord.id,
    time: '2026-12-05T09:14:03.120Z',
    removed: [],
    ...r,
  };
  return signObject(coord.keys.sign.privateKey, LABEL_ROSTER, room, body);
}

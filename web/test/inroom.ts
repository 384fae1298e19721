// What the tests of a room against the in-memory relay share (room,
// admission, history, media-room): the relay stubbed in for each test, the
// invitation link read back, a newcomer waiting for admission.
import { afterEach, beforeEach, vi } from 'vitest';
import { setApiBase } from '../src/protocol/api';
import { RoomClient } from '../src/protocol/room';
import { createRoom, joinRoom } from '../src/protocol/setup';
import type { Store } from '../src/store/db';
import { FakeRelay } from './fakerelay';

/**
 * Gives each test of the calling file a fresh relay, as fetch, with the
 * page served from https://crisis.local:8443 (where invitation links
 * point); returns the current test's relay. Call it at the top level.
 */
export function useFakeRelay(): () => FakeRelay {
  let relay: FakeRelay;
  beforeEach(() => {
    relay = new FakeRelay();
    vi.stubGlobal('fetch', relay.fetch);
    vi.stubGlobal('location', { protocol: 'https:', host: 'crisis.local:8443' });
    setApiBase('http://relay');
  });
  afterEach(() => vi.unstubAllGlobals());
  return () => relay;
}

/** The parts of an invitation link (…#/join/ROOM/INVITE/COORDINATOR_SIGN). */
export function parseLink(link: string) {
  const m = link.match(/#\/join\/([^/]+)\/([^/]+)\/([^/]+)$/)!;
  return { room: m[1], invite: m[2], coordinatorSign: m[3] };
}

/** Device s joins through a fresh invitation of coord, as name, and waits (pending; coord has seen it). */
export async function pendingDevice(coord: RoomClient, s: Store, name: string): Promise<RoomClient> {
  const { link } = await coord.createInvite();
  await joinRoom(s, parseLink(link), name);
  const c = await RoomClient.open(s, coord.room);
  await c.sync();
  await coord.sync();
  return c;
}

/** The coordinator's device s creates the test room ("Cyberattaque mairie") and opens it, synced. */
export async function coordinatorRoom(s: Store): Promise<{ room: string; coord: RoomClient }> {
  const room = await createRoom(s, 'session', { title: 'Cyberattaque mairie', name: 'Coordination' });
  const coord = await RoomClient.open(s, room);
  await coord.sync();
  return { room, coord };
}

// Wire types of the relay API (docs/crisis-e2ee.md, "Relay API").
import type { Signed } from '../crypto/sign';
export type { Signed };

export interface RosterMember {
  id: string;
  name: string;
  sign: string;
  dh: string;
  proof: string;
  since: number;
}

export interface Roster {
  v: number;
  room: string;
  version: number;
  epoch: number;
  coordinator: string;
  time: string;
  members: RosterMember[];
  removed: string[];
}

export interface PendingMember {
  id: string;
  name: string;
  sign: string;
  dh: string;
  proof: string;
  joined_at: string;
}

export interface RoomState {
  room: string;
  you: { id: string; status: string };
  roster: Signed;
  pending?: PendingMember[];
  epoch?: number;
  last_pos?: number;
  online?: string[];
  /** each admitted member's admission position: the first event it may read */
  visible_from?: Record<string, number>;
}

export interface RawEvent {
  pos: number;
  body: string;
  sig: string;
  received_at?: string;
}

export interface WrapRecord {
  id: string | number;
  body: string;
  sig: string;
}

export interface RoomSummary {
  id: string;
  tenant?: string;
  created_at?: string;
  created_by?: string;
  members?: number;
  pending?: number;
  closed?: boolean;
}

export type WsMessage =
  | ({ type: 'event' } & RawEvent)
  | ({ type: 'roster'; visible_from?: Record<string, number> } & Signed)
  | ({ type: 'wraps' } & WrapRecord)
  | ({ type: 'history' } & WrapRecord)
  | { type: 'pending'; pending?: PendingMember[] }
  | { type: 'presence'; online: string[] }
  | { type: 'removed' }
  | { type: 'error'; error?: string };

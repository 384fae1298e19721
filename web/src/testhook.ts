// Hook for the browser end-to-end tests: always present, harmless (it only
// exposes what this page already holds, and decrypting needs this page's
// own keys).
import type { RawEvent } from './protocol/types';
import type { RoomClient } from './protocol/room';
import { currentMediaStats } from './media/current';
import { existingCall, setCallTestOptions, type CallOptions, type CallTestStats } from './call/call';

let current: RoomClient | undefined;

export function setCurrentRoom(c: RoomClient): void {
  current = c;
}

export interface CrisisTestHook {
  memberId(): string | null;
  epoch(): number | null;
  rawEvents(): Promise<{ pos: number; body: string; sig: string }[]>;
  tryDecrypt(events: RawEvent[]): Promise<{ ok: number; failed: number }>;
  /** the call of this room: state, getStats per publisher, E2EE counters (null: no call yet) */
  callStats(): Promise<CallTestStats | null>;
  /**
   * Options for the calls this page makes from now on. testDropKeys makes
   * this page's own call unable to decrypt (it harms no one else); video sets
   * the camera's constraints.
   */
  callTestOptions(o: CallOptions): void;
  /** media E2EE counters of the open call (web/src/media): frames encrypted, decrypted and failed per participant and kind; null without a call */
  media(): Promise<unknown>;
}

export function installTestHook(): void {
  const hook: CrisisTestHook = {
    memberId: () => current?.memberId ?? null,
    epoch: () => (current ? current.epoch : null),
    rawEvents: async () => (current?.rawEvents ?? []).map(({ pos, body, sig }) => ({ pos, body, sig })),
    tryDecrypt: async (events) => (current ? current.tryDecrypt(events) : { ok: 0, failed: events.length }),
    callStats: async () => {
      const c = current && existingCall(current);
      return c ? c.testStats() : null;
    },
    callTestOptions: (o) => setCallTestOptions(o),
    media: () => currentMediaStats(),
  };
  (globalThis as unknown as { __rempartCrisis: CrisisTestHook }).__rempartCrisis = hook;
}

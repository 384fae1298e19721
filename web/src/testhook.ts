// Hook for the browser end-to-end tests: always present, harmless (it only
// exposes what this page already holds, and decrypting needs this page's
// own keys).
import type { RawEvent } from './protocol/types';
import type { RoomClient } from './protocol/room';

let current: RoomClient | undefined;

export function setCurrentRoom(c: RoomClient): void {
  current = c;
}

export interface CrisisTestHook {
  memberId(): string | null;
  epoch(): number | null;
  rawEvents(): Promise<{ pos: number; body: string; sig: string }[]>;
  tryDecrypt(events: RawEvent[]): Promise<{ ok: number; failed: number }>;
}

export function installTestHook(): void {
  const hook: CrisisTestHook = {
    memberId: () => current?.memberId ?? null,
    epoch: () => (current ? current.epoch : null),
    rawEvents: async () => (current?.rawEvents ?? []).map(({ pos, body, sig }) => ({ pos, body, sig })),
    tryDecrypt: async (events) => (current ? current.tryDecrypt(events) : { ok: 0, failed: events.length }),
  };
  (globalThis as unknown as { __rempartCrisis: CrisisTestHook }).__rempartCrisis = hook;
}

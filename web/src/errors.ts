// Errors a person may see. The message is English (logs, tests); the UI
// shows the dictionary's text for `key` (i18n key `err_<key>`) instead.
export class AppError extends Error {
  constructor(
    readonly key: AppErrorKey,
    message: string,
    readonly vars: Record<string, string | number> = {},
  ) {
    super(message);
  }
}

/**
 * Relay error codes (docs/crisis-e2ee.md, "Error codes") that the app words
 * itself, in the reader's language (i18n key `srv_<code>`); for any other
 * code, or none, it shows the relay's own message.
 */
export const RELAY_CODES = [
  'invite_used',
  'invite_expired',
  'invite_invalid',
  'already_joined',
  'bad_proof',
  'join_rate_limited',
  'too_many_pending',
  'room_not_found',
  'token_invalid',
  'member_removed',
  'not_admitted',
  'not_coordinator',
  'not_signed_in',
  'session_expired',
  'role_forbidden',
  'too_large',
  'internal',
] as const;
export type RelayCode = (typeof RELAY_CODES)[number];

/** The code of a relay's error answer, if the app knows it. */
export function relayCode(body: Record<string, unknown> | undefined): RelayCode | undefined {
  const c = body?.code;
  return typeof c === 'string' && (RELAY_CODES as readonly string[]).includes(c) ? (c as RelayCode) : undefined;
}

/** Placeholders of a relay error's text: {minutes} from retry_after. */
export function relayVars(body: Record<string, unknown> | undefined): Record<string, number> {
  const s = Number(body?.retry_after);
  return { minutes: Number.isFinite(s) && s > 0 ? Math.max(1, Math.ceil(s / 60)) : 1 };
}

export type AppErrorKey =
  | 'no_keys'
  | 'no_storage'
  | 'file_too_large'
  | 'file_damaged'
  | 'server_mismatch'
  | 'coordinator_mismatch'
  | 'epoch_disagree';

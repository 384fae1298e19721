// Content types: the plaintext inside envelopes (docs/crisis-e2ee.md,
// "Content"). Readers ignore unknown fields; an unknown `t` is shown as "an
// entry from a newer version".

export type LogKind = 'fact' | 'action' | 'decision' | 'msg_in' | 'msg_out';
export const LOG_KINDS: LogKind[] = ['fact', 'action', 'decision', 'msg_in', 'msg_out'];
export type ServiceState = 'down' | 'degraded' | 'restored';
export const SERVICE_STATES: ServiceState[] = ['down', 'degraded', 'restored'];
export type TaskState = 'open' | 'done' | 'dropped';

export interface LogContent {
  t: 'log';
  kind: LogKind;
  text: string;
  at: string;
}
export interface StatusContent {
  t: 'status';
  service: string;
  state: ServiceState;
  eta: string | null;
  text: string;
}
export interface FileRef {
  blob: string;
  key: string; // b64u 32 bytes
  name: string;
  size: number;
  type: string;
}
export interface ChatContent {
  t: 'chat';
  text: string;
  reply_to: string | null;
  files: FileRef[];
}
export interface TaskContent {
  t: 'task';
  task: string | null;
  title: string;
  owner: string;
  due: string;
  state: TaskState;
}
export interface ContactContent {
  t: 'contact';
  contact: string | null;
  name: string;
  org: string;
  role: string;
  phone: string;
  email: string;
  notes: string;
  deleted: boolean;
}
export interface MetaContent {
  t: 'meta';
  title: string;
}
/**
 * A member's media key for the call (docs/crisis-e2ee.md, "Media"): never
 * shown (logbook, chat, export skip it) but an entry like any other for
 * the chains and verification. `kid` is -1 and `key` empty when the entry
 * is malformed (it stays hidden and is not used).
 */
export interface MediaKeyContent {
  t: 'media_key';
  suite: number;
  kid: number;
  key: string; // b64u, 32 bytes
}
export interface UnknownContent {
  t: string;
  [k: string]: unknown;
}

export type Content = LogContent | StatusContent | ChatContent | TaskContent | ContactContent | MetaContent | MediaKeyContent;

/** Content types that are protocol, not something a member wrote: never listed. */
export function isHiddenContent(c: Content | null | undefined): boolean {
  return c?.t === 'media_key';
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const strOrNull = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * Normalises decrypted JSON into a typed content, tolerating missing fields
 * (shown empty) so that one odd entry never breaks the room. Returns null
 * for a `t` this version does not know.
 */
export function normalizeContent(raw: unknown): Content | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const o = raw as Record<string, unknown>;
  switch (o.t) {
    case 'log':
      return {
        t: 'log',
        kind: (LOG_KINDS as string[]).includes(str(o.kind)) ? (o.kind as LogKind) : 'fact',
        text: str(o.text),
        at: str(o.at),
      };
    case 'status':
      return {
        t: 'status',
        service: str(o.service),
        state: (SERVICE_STATES as string[]).includes(str(o.state)) ? (o.state as ServiceState) : 'down',
        eta: strOrNull(o.eta),
        text: str(o.text),
      };
    case 'chat':
      return {
        t: 'chat',
        text: str(o.text),
        reply_to: strOrNull(o.reply_to),
        files: Array.isArray(o.files)
          ? o.files
              .filter((f): f is Record<string, unknown> => typeof f === 'object' && f !== null)
              .map((f) => ({
                blob: str(f.blob),
                key: str(f.key),
                name: str(f.name) || 'file',
                size: typeof f.size === 'number' ? f.size : 0,
                type: str(f.type),
              }))
          : [],
      };
    case 'task':
      return {
        t: 'task',
        task: strOrNull(o.task),
        title: str(o.title),
        owner: str(o.owner),
        due: str(o.due),
        state: o.state === 'done' || o.state === 'dropped' ? o.state : 'open',
      };
    case 'contact':
      return {
        t: 'contact',
        contact: strOrNull(o.contact),
        name: str(o.name),
        org: str(o.org),
        role: str(o.role),
        phone: str(o.phone),
        email: str(o.email),
        notes: str(o.notes),
        deleted: o.deleted === true,
      };
    case 'meta':
      return { t: 'meta', title: str(o.title) };
    case 'media_key': {
      const ok = typeof o.suite === 'number' && Number.isSafeInteger(o.kid) && (o.kid as number) >= 0 && typeof o.key === 'string';
      return ok
        ? { t: 'media_key', suite: o.suite as number, kid: o.kid as number, key: o.key as string }
        : { t: 'media_key', suite: 0, kid: -1, key: '' };
    }
    default:
      return null;
  }
}

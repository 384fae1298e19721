// REST client of the relay (docs/crisis-e2ee.md, "Relay API"). Same origin:
// the app is served by the same `rempart server` that relays.
import type { PendingMember, RawEvent, RoomState, RoomSummary, Signed, WrapRecord } from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** true when the failure is the network (offline), not an answer. */
export function isNetworkError(e: unknown): boolean {
  return !(e instanceof ApiError);
}

let base = '';
/** For tests and the dev server: prefix of every API path. */
export function setApiBase(b: string): void {
  base = b.replace(/\/$/, '');
}
export function apiBase(): string {
  return base;
}

async function call<T>(
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
  raw?: Uint8Array,
): Promise<{ status: number; data: T }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload: BodyInit | undefined;
  if (raw) {
    headers['Content-Type'] = 'application/octet-stream';
    payload = raw as Uint8Array<ArrayBuffer>;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(base + path, { method, headers, body: payload, cache: 'no-store' });
  const text = await res.text();
  let data: unknown = undefined;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const obj = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
    const msg = typeof obj.error === 'string' ? obj.error : `the server answered ${res.status} ${res.statusText}`;
    throw new ApiError(res.status, msg, obj);
  }
  return { status: res.status, data: data as T };
}

const r = (room: string) => `/v1/crisis/rooms/${encodeURIComponent(room)}`;

export interface LoginResult {
  token: string;
  expires?: string;
  role?: string;
  tenant?: string;
}

export const api = {
  async login(username: string, password: string, totp: string): Promise<LoginResult> {
    return (await call<LoginResult>('POST', '/v1/login', undefined, { username, password, totp })).data;
  },
  async listRooms(session: string): Promise<RoomSummary[]> {
    const d = (await call<{ rooms?: RoomSummary[] } | RoomSummary[]>('GET', '/v1/crisis/rooms', session)).data;
    return Array.isArray(d) ? d : (d?.rooms ?? []);
  },
  async createRoom(
    session: string,
    req: { tenant?: string; name: string; sign: string; dh: string; proof: string; roster: Signed },
  ): Promise<{ room: string; member: string; member_token: string }> {
    return (await call<{ room: string; member: string; member_token: string }>('POST', '/v1/crisis/rooms', session, req))
      .data;
  },
  async invite(token: string, room: string, ttlSeconds = 86400): Promise<{ token: string; expires_at: string }> {
    return (await call<{ token: string; expires_at: string }>('POST', `${r(room)}/invites`, token, { ttl_seconds: ttlSeconds }))
      .data;
  },
  async join(
    room: string,
    req: { invite: string; name: string; sign: string; dh: string; proof: string },
  ): Promise<{ member: string; member_token: string; coordinator: { id: string; sign: string; dh: string } }> {
    return (
      await call<{ member: string; member_token: string; coordinator: { id: string; sign: string; dh: string } }>(
        'POST',
        `${r(room)}/join`,
        undefined,
        req,
      )
    ).data;
  },
  async state(token: string, room: string): Promise<RoomState> {
    return (await call<RoomState>('GET', `${r(room)}/state`, token)).data;
  },
  /** visible_from: the position from which the roster takes effect (the members it admits read from there). */
  async putRoster(token: string, room: string, s: Signed): Promise<{ version?: number; epoch?: number; visible_from?: number }> {
    return (await call<{ version?: number; epoch?: number; visible_from?: number }>('PUT', `${r(room)}/roster`, token, s)).data ?? {};
  },
  async postWraps(token: string, room: string, s: Signed): Promise<{ id: string | number }> {
    return (await call<{ id: string | number }>('POST', `${r(room)}/wraps`, token, s)).data;
  },
  async getWraps(token: string, room: string, after?: string | number): Promise<WrapRecord[]> {
    const q = after !== undefined && after !== '' ? `?after=${encodeURIComponent(String(after))}` : '';
    return (await call<{ wraps?: WrapRecord[] }>('GET', `${r(room)}/wraps${q}`, token)).data?.wraps ?? [];
  },
  /** History share v1 (coordinator): `from` is the position the recipient now reads from. */
  async postHistory(token: string, room: string, s: Signed): Promise<{ id: number; from: number }> {
    return (await call<{ id: number; from: number }>('POST', `${r(room)}/history`, token, s)).data;
  },
  async getHistory(token: string, room: string, after?: string | number): Promise<WrapRecord[]> {
    const q = after !== undefined && after !== '' ? `?after=${encodeURIComponent(String(after))}` : '';
    return (await call<{ history?: WrapRecord[] }>('GET', `${r(room)}/history${q}`, token)).data?.history ?? [];
  },
  async postEvent(token: string, room: string, s: Signed): Promise<{ pos: number; hash: string; received_at: string }> {
    return (await call<{ pos: number; hash: string; received_at: string }>('POST', `${r(room)}/events`, token, s)).data;
  },
  async getEvents(token: string, room: string, after: number, limit = 5000): Promise<{ events: RawEvent[]; more: boolean }> {
    const d = (await call<{ events?: RawEvent[]; more?: boolean }>('GET', `${r(room)}/events?after=${after}&limit=${limit}`, token))
      .data;
    return { events: d?.events ?? [], more: !!d?.more };
  },
  async postBlob(token: string, room: string, ct: Uint8Array): Promise<{ id: string }> {
    return (await call<{ id: string }>('POST', `${r(room)}/blobs`, token, undefined, ct)).data;
  },
  async getBlob(token: string, room: string, id: string): Promise<Uint8Array> {
    const res = await fetch(`${base}${r(room)}/blobs/${encodeURIComponent(id)}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (!res.ok) throw new ApiError(res.status, `cannot download the file (server answered ${res.status})`);
    return new Uint8Array(await res.arrayBuffer());
  },
  wsUrl(room: string): string {
    const loc = globalThis.location;
    const b = base || `${loc.protocol}//${loc.host}`;
    return b.replace(/^http/, 'ws') + `${r(room)}/ws`;
  },
};

export type { PendingMember };

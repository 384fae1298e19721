// The call's signalling socket (docs/crisis-e2ee.md "Calls",
// internal/crisis/sfu/doc.go): GET /v1/crisis/rooms/{room}/call as a
// WebSocket, the member token as the first message, then JSON messages both
// ways. One CallSocket is one SFU session: when it closes the server has
// forgotten this participant, so reconnecting means a new session (and a new
// RTCPeerConnection), which Call (call.ts) handles.
import { api, apiBase } from '../protocol/api';

export type Layer = 'q' | 'h' | 'f';

/** One track this client receives (server "tracks" message). */
export interface TrackInfo {
  participant: string;
  track: string;
  stream: string;
  kind: 'audio' | 'video';
  mid?: string;
  layers?: string[];
  muted?: boolean;
}

export interface CandidateInit {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export type ServerMessage =
  | { type: 'config'; enabled: boolean; member?: string; epoch: number; ice_servers?: RTCIceServer[] }
  | { type: 'epoch'; epoch: number }
  | { type: 'removed' }
  | { type: 'offer'; sdp: string }
  | { type: 'answer'; sdp: string }
  | { type: 'candidate'; candidate?: CandidateInit }
  | { type: 'tracks'; tracks?: TrackInfo[] }
  | { type: 'layer'; participant: string; track: string; layer?: string }
  | { type: 'mute'; participant: string; track: string; muted?: boolean }
  | { type: 'speaker'; participant?: string; speakers?: { participant: string; level: number }[] }
  | { type: 'participants'; participants?: string[] }
  | { type: 'leave'; participant?: string }
  | { type: 'error'; error?: string };

export type ClientMessage =
  | { type: 'auth'; token: string }
  | { type: 'offer'; sdp: string }
  | { type: 'answer'; sdp: string }
  | { type: 'candidate'; candidate: CandidateInit }
  | { type: 'layer'; participant: string; track: string; layer: Layer | '' }
  | { type: 'mute'; track: string; muted: boolean }
  | { type: 'leave' };

/** The part of a WebSocket this module uses (a fake in unit tests). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => SocketLike;

/** wss://host/v1/crisis/rooms/{room}/call, same origin as the app. */
export function callUrl(room: string): string {
  return api.wsUrl(room).replace(/\/ws$/, '/call');
}

/** https://host/v1/crisis/rooms/{room}/call/config */
export function callConfigUrl(room: string): string {
  const loc = globalThis.location;
  const b = apiBase() || `${loc.protocol}//${loc.host}`;
  return `${b}/v1/crisis/rooms/${encodeURIComponent(room)}/call/config`;
}

/** Why a session's socket ended, as the server put it (close code and reason). */
export interface SocketEnd {
  code: number;
  reason: string;
  /** false: the socket never opened (network, server down, calls off) */
  opened: boolean;
  /** the server sent {"type":"removed"} before closing */
  removed: boolean;
}

/**
 * What a close means for the call: 'removed' (end, the member was removed),
 * 'refused' (end: not admitted, or unknown token), 'replaced' (end: another
 * tab of this device took over), 'left' (end: we left), 'disabled' (end:
 * calls are off on this server), or 'retry' (connect again with backoff).
 */
export type EndKind = 'removed' | 'refused' | 'replaced' | 'left' | 'retry';

export function classifyEnd(e: SocketEnd, leaving: boolean): EndKind {
  if (e.removed || /removed from the room/i.test(e.reason)) return 'removed';
  if (e.code === 1008) return 'refused';
  if (/replaced by a newer call session/i.test(e.reason)) return 'replaced';
  if (leaving) return 'left';
  if (e.code === 1000 && /left the call/i.test(e.reason)) return 'left';
  return 'retry';
}

export interface CallSocketHandlers {
  onMessage(m: ServerMessage): void;
  onEnd(e: SocketEnd): void;
}

/** One signalling connection (one SFU session). Never reconnects by itself. */
export class CallSocket {
  private ws: SocketLike | undefined;
  private opened = false;
  private removed = false;
  private ended = false;

  constructor(
    url: string,
    private token: string,
    private h: CallSocketHandlers,
    makeSocket: SocketFactory = (u) => new WebSocket(u) as unknown as SocketLike,
  ) {
    let ws: SocketLike;
    try {
      ws = makeSocket(url);
    } catch (e) {
      queueMicrotask(() => this.end({ code: 1006, reason: e instanceof Error ? e.message : String(e), opened: false, removed: false }));
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.opened = true;
      ws.send(JSON.stringify({ type: 'auth', token: this.token } satisfies ClientMessage));
    };
    ws.onmessage = (ev) => {
      let m: ServerMessage;
      try {
        m = JSON.parse(typeof ev.data === 'string' ? ev.data : '') as ServerMessage;
      } catch {
        return; // a malformed message disturbs nothing
      }
      if (!m || typeof m.type !== 'string') return;
      if (m.type === 'removed') this.removed = true;
      this.h.onMessage(m);
    };
    ws.onclose = (ev) => this.end({ code: ev.code, reason: ev.reason ?? '', opened: this.opened, removed: this.removed });
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  get open(): boolean {
    return !!this.ws && this.ws.readyState === 1 && !this.ended;
  }

  send(m: ClientMessage): boolean {
    if (!this.open) return false;
    try {
      this.ws!.send(JSON.stringify(m));
      return true;
    } catch {
      return false;
    }
  }

  /** Closes without a goodbye (the caller sends "leave" first if it means it). */
  close(code = 1000, reason = ''): void {
    const ws = this.ws;
    if (!ws) return;
    try {
      ws.close(code, reason);
    } catch {
      /* already closing */
    }
    // Some browsers report the close late (or never, offline): end now.
    this.end({ code, reason, opened: this.opened, removed: this.removed });
  }

  private end(e: SocketEnd): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ws) {
      this.ws.onopen = this.ws.onmessage = this.ws.onclose = this.ws.onerror = null;
    }
    this.h.onEnd(e);
  }
}

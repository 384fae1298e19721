// Live connection (docs/crisis-e2ee.md, WebSocket): authenticates with the
// member token as its first message, reconnects by itself with capped
// exponential backoff plus jitter (a whole crisis cell reconnecting after a
// Wi-Fi drop must not hit the laptop-server at the same instant).
import type { WsMessage } from './types';

export type ConnState = 'online' | 'offline' | 'reconnecting';

export interface LiveOptions {
  url: string;
  token: string;
  onMessage(m: WsMessage): void;
  /** called on every (re)connection, before live messages: catch up here */
  onOpen(): void;
  onState(s: ConnState): void;
  /** any message received: the connection is alive */
  onActivity?(): void;
}

export class Live {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  state: ConnState = 'reconnecting';

  constructor(private o: LiveOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
    globalThis.addEventListener?.('online', this.kick);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    globalThis.removeEventListener?.('online', this.kick);
    this.ws?.close();
    this.ws = undefined;
  }

  /** Reconnects now (the browser says the network is back). */
  kick = (): void => {
    if (this.stopped || this.state === 'online') return;
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return; // already trying
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  };

  /**
   * Drops the connection and connects again: used when a request fails
   * while the socket still looks open (a Wi-Fi drop is not always seen by
   * the browser until much later).
   */
  restart(): void {
    if (this.stopped) return;
    const ws = this.ws;
    this.ws = undefined;
    ws?.close();
    clearTimeout(this.timer);
    this.set('reconnecting');
    this.timer = setTimeout(() => this.connect(), 300 + Math.random() * 700);
  }

  private set(s: ConnState): void {
    if (this.state !== s) {
      this.state = s;
      this.o.onState(s);
    }
  }

  private connect(): void {
    if (this.stopped) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.o.url);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'auth', token: this.o.token }));
      this.attempt = 0;
      this.set('online');
      this.o.onOpen();
    };
    ws.onmessage = (ev) => {
      this.o.onActivity?.();
      let m: WsMessage;
      try {
        m = JSON.parse(typeof ev.data === 'string' ? ev.data : '') as WsMessage;
      } catch {
        return; // a malformed message disturbs nothing
      }
      if (m && typeof m.type === 'string') this.o.onMessage(m);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.retry();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private retry(): void {
    if (this.stopped) return;
    this.attempt++;
    this.set(this.attempt > 3 ? 'offline' : 'reconnecting');
    const delay = Math.min(30000, 500 * 2 ** Math.min(this.attempt, 6)) * (0.5 + Math.random() * 0.5);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

// Media end-to-end encryption for the crisis call (docs/crisis-e2ee.md,
// "Media (SFrame, RFC 9605)", media v1).
//
// Every encoded audio and video frame is encrypted whole with SFrame
// (AES_256_GCM_SHA512_128) before it leaves the browser, and decrypted
// before the decoder; the SFU forwards bytes it cannot read.
//
// Keys: for each epoch of the room, this device draws a random 32-byte
// media key and publishes it inside an ordinary room envelope
// ({"t":"media_key","suite":5,"kid":N,"key":"<b64u>"}), so only the members
// of that epoch (who hold this device's sender key) can read it. It draws
// and publishes a new one when a member is admitted (the newcomer reads
// that one, not the earlier ones) and when a member is removed (the new
// epoch: the removed device never gets it). KID = epoch << 16 | generation.
// Receivers keep (participant, KID) -> key; the participant is the
// publisher's member id (the msid stream id of the track).
import { b64u, fromB64u, randomBytes } from '../crypto/bytes';
import type { RoomClient } from '../protocol/room';
import { setCurrentMedia } from './current';
import { handleMessage, Keyring, type FromWorker, type MediaStatsSnapshot, type ToWorker, type TransformOptions } from './keyring';
import { kidEpoch, kidGen, MEDIA_SUITE, mediaKid } from './sframe';

export type MediaKind = 'audio' | 'video';
export interface MediaE2EEStats {
  encrypted: Record<MediaKind, number>;
  decrypted: Record<string /* participant */, Record<MediaKind, number>>;
  failed: Record<string, Record<MediaKind, number>>;
}
export interface MediaE2EE {
  readonly rtcConfig: Partial<RTCConfiguration> & { encodedInsertableStreams?: boolean };
  protectSender(sender: RTCRtpSender, kind: MediaKind): void;
  protectReceiver(receiver: RTCRtpReceiver, participant: string, kind: MediaKind): void;
  stats(): MediaE2EEStats;
  onFailure(cb: (participant: string, kind: MediaKind) => void): () => void; // throttled ~1/s per participant+kind
  epochHint(epoch: number): void;
  ready(): Promise<void>; // resolves when this device has published its media key for the current epoch
  close(): void;
}

/** Stats with the details tests and the call UI may want. */
export interface MediaE2EEDetails extends MediaE2EEStats {
  lastFailure: Record<string, string>;
  unsent: number;
  ownKid: number | null;
  epoch: number;
}

export interface MediaE2EEOptions {
  /** test only: a client "built to join without the key" (never learns others' media keys) */
  testDropKeys?: boolean;
  /** keep the frame crypto on the main thread (tests; no Worker) */
  local?: boolean;
  /** delay between a new key's publication and its use, in ms (default SWITCH_DELAY_MS) */
  switchDelayMs?: number;
}

/** Receivers get a new key through the room's live connection: give them this long before using it. */
export const SWITCH_DELAY_MS = 1000;
/** After an epoch change, the previous epoch's keys are kept this long for frames in flight. */
export const PREVIOUS_EPOCH_GRACE_MS = 5000;

type Mode = 'script' | 'streams' | 'none';

interface RtcGlobals {
  RTCRtpScriptTransform?: new (worker: Worker, options?: unknown) => unknown;
  RTCRtpSender?: { prototype: object };
  Worker?: unknown;
}

function mode(): Mode {
  const g = globalThis as unknown as RtcGlobals;
  if (typeof g.RTCRtpScriptTransform === 'function' && typeof g.Worker === 'function') return 'script';
  if (g.RTCRtpSender && 'createEncodedStreams' in g.RTCRtpSender.prototype) return 'streams';
  return 'none';
}

/** true when this browser can encrypt media frames (encoded transforms). */
export function supported(): boolean {
  return mode() !== 'none';
}

// ----------------------------------------------------------------- engines

interface Engine {
  send(m: ToWorker, transfer?: Transferable[]): void;
  snapshot(): MediaStatsSnapshot;
  refresh(): Promise<MediaStatsSnapshot>;
  readonly worker?: Worker;
  readonly ring?: Keyring;
  close(): void;
}

function localEngine(onFailure: (m: FromWorker & { op: 'failure' }) => void): Engine {
  const ring = new Keyring((f) => onFailure({ op: 'failure', ...f }));
  return {
    ring,
    send: (m) => handleMessage(ring, m, () => undefined),
    snapshot: () => ring.stats(),
    refresh: async () => ring.stats(),
    close: () => undefined,
  };
}

function workerEngine(onFailure: (m: FromWorker & { op: 'failure' }) => void): Engine {
  const worker = new Worker(new URL('./sframe-worker.ts', import.meta.url), { type: 'module', name: 'rempart-media' });
  let last: MediaStatsSnapshot = { encrypted: { audio: 0, video: 0 }, decrypted: {}, failed: {}, lastFailure: {}, unsent: 0, ownKid: null };
  let nextId = 1;
  const waiting = new Map<number, (s: MediaStatsSnapshot) => void>();
  worker.onmessage = (ev: MessageEvent<FromWorker>) => {
    const m = ev.data;
    if (m.op === 'failure') onFailure(m);
    else if (m.op === 'stats') {
      last = m.stats;
      waiting.get(m.id)?.(m.stats);
      waiting.delete(m.id);
    }
  };
  const refresh = () =>
    new Promise<MediaStatsSnapshot>((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      worker.postMessage({ op: 'stats', id } satisfies ToWorker);
    });
  const timer = setInterval(() => void refresh(), 500);
  return {
    worker,
    send: (m, transfer) => worker.postMessage(m, transfer ?? []),
    snapshot: () => last,
    refresh,
    close: () => {
      clearInterval(timer);
      worker.terminate();
      for (const w of waiting.values()) w(last);
      waiting.clear();
    },
  };
}

// -------------------------------------------------------------- the thing

interface EncodedStreams {
  readable: ReadableStream;
  writable: WritableStream;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RoomMediaE2EE implements MediaE2EE {
  readonly rtcConfig: Partial<RTCConfiguration> & { encodedInsertableStreams?: boolean };
  private readonly mode: Mode;
  private readonly engine: Engine;
  private readonly failureCbs = new Set<(participant: string, kind: MediaKind) => void>();
  private readonly unsubscribe: () => void;
  private readonly protectedObjs = new WeakMap<object, { slot: number; participant: string }>();
  private nextSlot = 1;
  private closed = false;
  private epoch: number;
  private members: Set<string>;
  /** generations used by this device, per epoch (published or not) */
  private gens = new Map<number, number>();
  /** KIDs of this device seen back in the room (published) */
  private published = new Set<number>();
  private ownKid: number | undefined;
  private ownEpoch: number | undefined;
  private rotating: Promise<void> | undefined;
  private again = false;
  private seen = new Set<string>();
  private resolvedUpTo = 0;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  private timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly room: RoomClient,
    private readonly opts: MediaE2EEOptions = {},
  ) {
    this.mode = opts.local ? 'streams' : mode();
    this.rtcConfig = this.mode === 'streams' && !opts.local ? { encodedInsertableStreams: true } : {};
    const onFail = (m: { participant: string; kind: MediaKind }) => {
      for (const cb of this.failureCbs) {
        try {
          cb(m.participant, m.kind);
        } catch {
          /* a listener's error is its own */
        }
      }
    };
    this.engine = !opts.local && typeof Worker === 'function' && this.mode !== 'none' ? workerEngine(onFail) : localEngine(onFail);
    this.epoch = room.epoch;
    this.members = new Set(room.members().map((m) => m.id));
    this.unsubscribe = room.subscribe(() => this.onRoomChange());
    this.scanKeys();
    if (room.admitted && !room.removed) void this.rotate();
  }

  /** The main-thread keyring (local mode only; tests). */
  get ring(): Keyring | undefined {
    return this.engine.ring;
  }

  // ------------------------------------------------------------ senders

  protectSender(sender: RTCRtpSender, kind: MediaKind): void {
    this.attach(sender, { role: 'send', kind, participant: this.room.memberId });
  }

  protectReceiver(receiver: RTCRtpReceiver, participant: string, kind: MediaKind): void {
    this.attach(receiver, { role: 'recv', kind, participant });
  }

  private attach(target: RTCRtpSender | RTCRtpReceiver, opts: TransformOptions): void {
    if (this.closed) throw new Error('media encryption is closed');
    const known = this.protectedObjs.get(target);
    if (known) {
      // Already protected: the SFU may have reused this receiver for
      // another publisher's track; its frames now open with their keys.
      if (known.participant !== opts.participant) {
        known.participant = opts.participant;
        this.engine.send({ op: 'slot', slot: known.slot, participant: opts.participant });
      }
      return;
    }
    const o: TransformOptions = { ...opts, slot: this.nextSlot++ };
    if (this.mode === 'none') throw new Error('this browser cannot encrypt call media (no encoded transforms)');
    const g = globalThis as unknown as RtcGlobals;
    if (this.mode === 'script' && this.engine.worker && g.RTCRtpScriptTransform) {
      (target as unknown as { transform: unknown }).transform = new g.RTCRtpScriptTransform(this.engine.worker, o);
    } else {
      const create = (target as unknown as { createEncodedStreams?: () => EncodedStreams }).createEncodedStreams;
      if (typeof create !== 'function') throw new Error('this browser cannot encrypt call media (no encoded transforms)');
      const { readable, writable } = create.call(target);
      this.engine.send({ op: 'streams', ...o, readable, writable }, this.engine.worker ? [readable as unknown as Transferable, writable as unknown as Transferable] : []);
    }
    this.protectedObjs.set(target, { slot: o.slot!, participant: o.participant });
  }

  // -------------------------------------------------------------- stats

  stats(): MediaE2EEDetails {
    const s = this.engine.snapshot();
    return { ...s, epoch: this.epoch };
  }

  /** Fresh stats from wherever the frames are (the worker answers). */
  async refreshStats(): Promise<MediaE2EEDetails> {
    const s = await this.engine.refresh();
    return { ...s, epoch: this.epoch };
  }

  onFailure(cb: (participant: string, kind: MediaKind) => void): () => void {
    this.failureCbs.add(cb);
    return () => this.failureCbs.delete(cb);
  }

  // -------------------------------------------------------------- epochs

  epochHint(epoch: number): void {
    if (this.closed || !Number.isSafeInteger(epoch)) return;
    // The call socket says the epoch moved on before the room heard of the
    // roster: fetch it; the new key follows from the room's change (its
    // envelope must be sealed under the new epoch, never the old one).
    if (epoch > this.room.epoch) void this.room.sync();
  }

  ready(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => this.ownEpoch !== undefined && this.ownEpoch >= this.room.epoch && this.published.has(this.ownKid!);
      if (check()) resolve();
      else this.waiters.push({ check, resolve });
    });
  }

  /** The KID this device encrypts with (undefined before its first key). */
  currentKid(): number | undefined {
    return this.ownKid;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.engine.close();
    this.failureCbs.clear();
    setCurrentMedia(undefined, this);
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) f();
    }, ms);
    this.timers.add(t);
  }

  private wake(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }

  private onRoomChange(): void {
    if (this.closed) return;
    this.scanKeys();
    if (this.room.removed || !this.room.admitted) return;
    const e = this.room.epoch;
    const ids = new Set(this.room.members().map((m) => m.id));
    const admitted = [...ids].some((id) => !this.members.has(id));
    this.members = ids;
    if (e > this.epoch) {
      this.epoch = e;
      // In-flight frames under the previous epoch's keys still decrypt for
      // a moment; after that only this epoch's keys open anything.
      this.later(PREVIOUS_EPOCH_GRACE_MS, () => this.engine.send({ op: 'drop-before', epoch: this.epoch }));
      void this.rotate();
    } else if (admitted || this.ownKid === undefined) {
      void this.rotate();
    }
    this.wake();
  }

  /** Reads media keys from the room's entries (the newest first, down to the previous epoch). */
  private scanKeys(): void {
    const list = this.room.list;
    let unresolved = Infinity;
    const me = this.room.memberId;
    for (let i = list.length - 1; i >= 0; i--) {
      const it = list[i];
      if (it.pos <= this.resolvedUpTo) break;
      const env = it.check.env;
      if (env && env.epoch < this.room.epoch - 1) break;
      if (it.content === undefined) {
        if (it.check.sigOk) unresolved = it.pos; // may open when its sender's key arrives
        continue;
      }
      const c = it.content;
      if (c?.t !== 'media_key' || !it.check.verified || !env) continue;
      if (c.suite !== MEDIA_SUITE || c.kid < 0 || kidEpoch(c.kid) !== env.epoch) continue;
      if (env.sender === me) {
        this.published.add(c.kid);
        this.gens.set(env.epoch, Math.max(this.gens.get(env.epoch) ?? -1, kidGen(c.kid)));
        continue;
      }
      if (this.opts.testDropKeys) continue;
      const id = `${env.sender}|${c.kid}|${it.hash}`;
      if (this.seen.has(id)) continue;
      let key: Uint8Array;
      try {
        key = fromB64u(c.key);
      } catch {
        continue;
      }
      if (key.length !== 32) continue;
      this.seen.add(id);
      this.engine.send({ op: 'key', participant: env.sender, kid: c.kid, key });
    }
    const last = list.length ? list[list.length - 1].pos : 0;
    this.resolvedUpTo = unresolved === Infinity ? Math.max(this.resolvedUpTo, last) : Math.max(this.resolvedUpTo, unresolved - 1);
    this.wake();
  }

  private rotate(): Promise<void> {
    if (this.rotating) {
      this.again = true;
      return this.rotating;
    }
    this.rotating = (async () => {
      do {
        this.again = false;
        if (this.closed || this.room.removed || !this.room.admitted) return;
        await this.publishNewKey();
      } while (this.again && !this.closed);
    })()
      .catch(() => undefined)
      .finally(() => {
        this.rotating = undefined;
      });
    return this.rotating;
  }

  private async publishNewKey(): Promise<void> {
    const epoch = this.room.epoch;
    const gen = (this.gens.get(epoch) ?? -1) + 1;
    this.gens.set(epoch, gen);
    const kid = mediaKid(epoch, gen);
    const key = randomBytes(32);
    const first = this.ownKid === undefined;
    // The very first key is used at once (nobody could read this device's
    // frames before anyway); later ones only once receivers had time to
    // get them, so the call does not stutter at each rotation.
    if (first) this.setOwn(kid, epoch, key);
    await this.room.send({ t: 'media_key', suite: MEDIA_SUITE, kid, key: b64u(key) });
    await new Promise<void>((resolve) => {
      const w = { check: () => this.closed || this.published.has(kid), resolve };
      if (w.check()) resolve();
      else this.waiters.push(w);
    });
    if (this.closed) return;
    if (!first) {
      await sleep(this.opts.switchDelayMs ?? SWITCH_DELAY_MS);
      if (this.closed) return;
      this.setOwn(kid, epoch, key);
    }
    this.wake();
  }

  private setOwn(kid: number, epoch: number, key: Uint8Array): void {
    this.engine.send({ op: 'own', kid, key });
    this.ownKid = kid;
    this.ownEpoch = epoch;
  }
}

export async function createMediaE2EE(room: RoomClient, opts?: { testDropKeys?: boolean } & MediaE2EEOptions): Promise<MediaE2EE> {
  const m = new RoomMediaE2EE(room, opts ?? {});
  setCurrentMedia(m);
  return m;
}

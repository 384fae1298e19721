// The frame side of media encryption: this device's current media key with
// its frame counter, the other participants' keys by (participant, KID),
// the counters, and throttled failure reports. It runs where the frames
// are: in the media worker, or on the main thread when there is no worker.
// It never sees the room: keys come in by setOwnKey / addKey (from
// e2ee.ts, which reads them from the room's envelopes).
import { importSFrameKey, kidEpoch, parseHeader, protect, SFrameError, unprotect, type SFrameFailure, type SFrameKey } from './sframe';

export type MediaKind = 'audio' | 'video';

export interface MediaStatsSnapshot {
  encrypted: Record<MediaKind, number>;
  decrypted: Record<string, Record<MediaKind, number>>;
  failed: Record<string, Record<MediaKind, number>>;
  /** last failure reason per participant */
  lastFailure: Record<string, SFrameFailure>;
  /** frames dropped on the sending side because no key was set yet */
  unsent: number;
  /** KID this device encrypts with (null before the first key) */
  ownKid: number | null;
}

export interface FailureReport {
  participant: string;
  kind: MediaKind;
  reason: SFrameFailure;
}

/** A KID unknown for less than this is "key on its way", not reported yet. */
export const NO_KEY_GRACE_MS = 3000;
/** At most one failure report per participant and kind in this period. */
export const FAILURE_THROTTLE_MS = 1000;

const zero = (): Record<MediaKind, number> => ({ audio: 0, video: 0 });

export class Keyring {
  private own: { key: SFrameKey; ctr: number } | undefined;
  private pendingOwn: Promise<void> = Promise.resolve();
  private keys = new Map<string, Map<number, Promise<SFrameKey>>>();
  /** whose frames each protected receiver carries now (slot → participant) */
  readonly slots = new Map<number, string>();
  private unknownSince = new Map<string, number>();
  private lastReport = new Map<string, number>();
  private st: MediaStatsSnapshot = { encrypted: zero(), decrypted: {}, failed: {}, lastFailure: {}, unsent: 0, ownKid: null };

  constructor(
    private onFailure: (f: FailureReport) => void = () => undefined,
    private now: () => number = () => Date.now(),
  ) {}

  /**
   * Switches this device to a new key. The counter starts again at 0: a
   * new key is always freshly drawn, so (key, CTR) never repeats. Frames
   * already being encrypted finish with the previous key.
   */
  setOwnKey(kid: number, baseKey: Uint8Array): Promise<void> {
    const run = this.pendingOwn.then(async () => {
      const key = await importSFrameKey(baseKey, kid);
      this.own = { key, ctr: 0 };
      this.st.ownKid = kid;
    });
    this.pendingOwn = run.catch(() => undefined);
    return run;
  }

  addKey(participant: string, kid: number, baseKey: Uint8Array): Promise<void> {
    let m = this.keys.get(participant);
    if (!m) this.keys.set(participant, (m = new Map()));
    const k = importSFrameKey(baseKey, kid);
    m.set(kid, k);
    k.catch(() => m!.delete(kid));
    this.unknownSince.delete(`${participant}|${kid}`);
    return k.then(() => undefined);
  }

  hasKey(participant: string, kid: number): boolean {
    return !!this.keys.get(participant)?.has(kid);
  }

  /** Forgets every key of an epoch before `epoch` (a removal's rotation is over). */
  dropBefore(epoch: number): void {
    for (const m of this.keys.values()) for (const kid of [...m.keys()]) if (kidEpoch(kid) < epoch) m.delete(kid);
  }

  /** Forgets a participant's keys (they left the room). */
  dropParticipant(participant: string): void {
    this.keys.delete(participant);
  }

  /** Encrypts a whole frame; null when no key is set yet (the frame is dropped, never sent in clear). */
  async encrypt(kind: MediaKind, frame: Uint8Array): Promise<Uint8Array | null> {
    const own = this.own;
    if (!own) {
      this.st.unsent++;
      return null;
    }
    // Taken synchronously: concurrent frames never share a counter.
    const ctr = own.ctr++;
    if (ctr > Number.MAX_SAFE_INTEGER - 1) {
      this.st.unsent++;
      return null;
    }
    const out = await protect(own.key, ctr, frame);
    this.st.encrypted[kind]++;
    return out;
  }

  /** Decrypts a frame from `participant`; null when it does not open (counted, reported). */
  async decrypt(participant: string, kind: MediaKind, frame: Uint8Array): Promise<Uint8Array | null> {
    try {
      const r = await unprotect(frame, (kid) => this.keys.get(participant)?.get(kid));
      (this.st.decrypted[participant] ??= zero())[kind]++;
      return r.data;
    } catch (e) {
      const reason: SFrameFailure = e instanceof SFrameError ? e.reason : 'decrypt';
      (this.st.failed[participant] ??= zero())[kind]++;
      this.st.lastFailure[participant] = reason;
      this.report(participant, kind, reason, frame);
      return null;
    }
  }

  private report(participant: string, kind: MediaKind, reason: SFrameFailure, frame: Uint8Array): void {
    const t = this.now();
    if (reason === 'no_key') {
      // A key that was just published may still be on its way.
      let kid = -1;
      try {
        kid = parseHeader(frame).kid;
      } catch {
        /* it parsed before failing on the key: cannot happen */
      }
      const id = `${participant}|${kid}`;
      const since = this.unknownSince.get(id);
      if (since === undefined) {
        this.unknownSince.set(id, t);
        return;
      }
      if (t - since < NO_KEY_GRACE_MS) return;
    }
    const id = `${participant}|${kind}`;
    const last = this.lastReport.get(id);
    if (last !== undefined && t - last < FAILURE_THROTTLE_MS) return;
    this.lastReport.set(id, t);
    this.onFailure({ participant, kind, reason });
  }

  stats(): MediaStatsSnapshot {
    const copy = (r: Record<string, Record<MediaKind, number>>) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { ...v }]));
    return {
      encrypted: { ...this.st.encrypted },
      decrypted: copy(this.st.decrypted),
      failed: copy(this.st.failed),
      lastFailure: { ...this.st.lastFailure },
      unsent: this.st.unsent,
      ownKid: this.st.ownKid,
    };
  }
}

// ------------------------------------------------------------- transforms

/** What an encoded transform hands over: RTCEncodedVideoFrame or RTCEncodedAudioFrame. */
export interface EncodedFrameLike {
  data: ArrayBuffer;
}

/**
 * The TransformStream for one sender (encrypt) or receiver (decrypt). A
 * frame that cannot be encrypted or decrypted is dropped: nothing leaves
 * in clear and nothing undecryptable reaches the decoder.
 */
export function frameTransform(
  ring: Keyring,
  role: 'send' | 'recv',
  kind: MediaKind,
  participant: string,
  slot?: number,
): TransformStream<EncodedFrameLike, EncodedFrameLike> {
  if (slot !== undefined && !ring.slots.has(slot)) ring.slots.set(slot, participant);
  return new TransformStream<EncodedFrameLike, EncodedFrameLike>({
    async transform(frame, controller) {
      const data = new Uint8Array(frame.data);
      // A receiver's publisher can change (the SFU reuses a transceiver for
      // someone else's track): its slot says whose keys open it now.
      const from = slot === undefined ? participant : (ring.slots.get(slot) ?? participant);
      const out = role === 'send' ? await ring.encrypt(kind, data) : await ring.decrypt(from, kind, data);
      if (!out) return;
      frame.data = out.buffer instanceof ArrayBuffer && out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out.buffer : out.slice().buffer;
      controller.enqueue(frame);
    },
  });
}

// ------------------------------------------------- worker message protocol

export type ToWorker =
  | { op: 'own'; kid: number; key: Uint8Array }
  | { op: 'key'; participant: string; kid: number; key: Uint8Array }
  | { op: 'drop-before'; epoch: number }
  | { op: 'drop-participant'; participant: string }
  | { op: 'slot'; slot: number; participant: string }
  | {
      op: 'streams';
      role: 'send' | 'recv';
      kind: MediaKind;
      participant: string;
      slot?: number;
      readable: ReadableStream<EncodedFrameLike>;
      writable: WritableStream<EncodedFrameLike>;
    }
  | { op: 'stats'; id: number };

export type FromWorker =
  | { op: 'failure'; participant: string; kind: MediaKind; reason: SFrameFailure }
  | { op: 'stats'; id: number; stats: MediaStatsSnapshot }
  | { op: 'ready' };

/** Options given to RTCRtpScriptTransform (read back in the worker's rtctransform event). */
export interface TransformOptions {
  role: 'send' | 'recv';
  kind: MediaKind;
  participant: string;
  /** identifies the sender or receiver, so that its participant can change */
  slot?: number;
}

/** Handles one message to the worker (shared by the worker and its tests). */
export function handleMessage(ring: Keyring, m: ToWorker, reply: (r: FromWorker) => void): void {
  switch (m.op) {
    case 'own':
      void ring.setOwnKey(m.kid, m.key);
      break;
    case 'key':
      void ring.addKey(m.participant, m.kid, m.key);
      break;
    case 'drop-before':
      ring.dropBefore(m.epoch);
      break;
    case 'drop-participant':
      ring.dropParticipant(m.participant);
      break;
    case 'slot':
      ring.slots.set(m.slot, m.participant);
      break;
    case 'streams':
      m.readable
        .pipeThrough(frameTransform(ring, m.role, m.kind, m.participant, m.slot))
        .pipeTo(m.writable)
        .catch(() => undefined);
      break;
    case 'stats':
      reply({ op: 'stats', id: m.id, stats: ring.stats() });
      break;
  }
}

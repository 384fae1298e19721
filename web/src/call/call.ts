// A call in the crisis room: local microphone, camera (simulcast q/h/f) and
// screen share, one RTCPeerConnection to the server's SFU per signalling
// session, media end-to-end encrypted by the MediaE2EE module (SFrame; the
// SFU forwards what it cannot read). Reconnects with backoff when the
// socket drops; ends for good when the member is removed, refused, or
// replaced by another tab.
//
// The Call outlives the Call tab (switching to the chat keeps the call and
// its sound: audio plays from elements kept here, not in the page).
import { createMediaE2EE, supported as e2eeSupported, type MediaE2EE, type MediaE2EEStats, type MediaKind } from '../media/e2ee';
import type { RoomClient } from '../protocol/room';
import { Negotiator } from './negotiation';
import { isScreen, RemoteState, trackKey, wantedLayers } from './remote';
import {
  CallSocket,
  callConfigUrl,
  callUrl,
  classifyEnd,
  type Layer,
  type ServerMessage,
  type SocketEnd,
  type SocketFactory,
  type TrackInfo,
} from './signalling';

export type CallState = 'idle' | 'starting' | 'connecting' | 'connected' | 'reconnecting' | 'ended';
/** Why a call ended (the UI words it). */
export type EndReason = 'left' | 'removed' | 'refused' | 'replaced' | 'disabled' | 'unsupported' | 'failed';
/** What happened to the local devices (the UI words it). */
export type MediaNotice = 'video_denied' | 'audio_denied' | 'all_denied' | 'screen_denied' | 'no_camera' | 'no_microphone';

/** Simulcast of the camera: rids q/h/f, each with a scalabilityMode so that
 * Chrome sends the dependency descriptor the SFU switches layers on. */
export const CAMERA_ENCODINGS: RTCRtpEncodingParameters[] = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T1' } as RTCRtpEncodingParameters,
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T1' } as RTCRtpEncodingParameters,
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T1' } as RTCRtpEncodingParameters,
];
export const SCREEN_ENCODINGS: RTCRtpEncodingParameters[] = [
  { maxBitrate: 2_000_000, scalabilityMode: 'L1T1' } as RTCRtpEncodingParameters,
];

export interface CallOptions {
  /** test only: this device never gets media keys (see testhook.ts) */
  testDropKeys?: boolean;
  /** camera constraints (tests ask for a small picture to spare the CPU) */
  video?: MediaTrackConstraints;
  /** screen capture constraints (the same, for the shared screen) */
  screen?: MediaTrackConstraints;
}

/** What a Call needs from the outside; replaced by fakes in unit tests. */
export interface CallDeps {
  makeSocket?: SocketFactory;
  makePC?: (cfg: RTCConfiguration) => RTCPeerConnection;
  getUserMedia?: (c: MediaStreamConstraints) => Promise<MediaStream>;
  getDisplayMedia?: (c: DisplayMediaStreamOptions) => Promise<MediaStream>;
  createE2EE?: (room: RoomClient, opts: { testDropKeys?: boolean }) => Promise<MediaE2EE>;
  e2eeSupported?: () => boolean;
  fetchConfig?: (url: string, token: string) => Promise<{ status: number; enabled?: boolean }>;
  audioSink?: (track: MediaStreamTrack) => { stop(): void };
}

export interface InboundStat {
  participant: string;
  kind: string;
  mid?: string;
  /** a shared screen (a video track published without simulcast) */
  screen: boolean;
  bytesReceived: number;
  packetsReceived: number;
  framesDecoded: number;
  framesReceived: number;
}
export interface CallTestStats {
  state: CallState;
  ended?: EndReason;
  member: string;
  epoch: number;
  inbound: InboundStat[];
  outbound: { kind: string; rid?: string; bytesSent: number; framesEncoded: number }[];
  media: MediaE2EEStats | null;
  sessions: number;
  rollbacks: number;
}

interface Session {
  sock: CallSocket;
  pc?: RTCPeerConnection;
  neg?: Negotiator;
  /** layer asked for, per participant|track (this session) */
  asked: Map<string, Layer>;
  /** receiver track id -> publisher (for stats) */
  recvOwner: Map<string, string>;
  audio: Map<string, { stop(): void }>;
  configured: boolean;
}

interface LocalSlot {
  track?: MediaStreamTrack;
  /** msid track id the SFU knows this slot by (first track sent on it) */
  wireId?: string;
  tr?: RTCRtpTransceiver;
}

const defaultAudioSink = (track: MediaStreamTrack) => {
  const a = new Audio();
  a.autoplay = true;
  a.srcObject = new MediaStream([track]);
  void a.play().catch(() => undefined);
  return {
    stop: () => {
      a.pause();
      a.srcObject = null;
    },
  };
};

async function defaultFetchConfig(url: string, token: string): Promise<{ status: number; enabled?: boolean }> {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store' });
  let enabled: boolean | undefined;
  try {
    enabled = ((await res.json()) as { enabled?: boolean }).enabled;
  } catch {
    /* no body */
  }
  return { status: res.status, enabled };
}

export class Call {
  state: CallState = 'idle';
  ended: EndReason | undefined;
  /** the server's words when it ended or refused (English; shown as detail) */
  endDetail = '';
  /** the server's reason of the last drop while reconnecting */
  dropDetail = '';
  notices = new Set<MediaNotice>();
  /** the last "error" message of the SFU (a request it refused) */
  serverError = '';
  remote: RemoteState;
  pinned: string | undefined;
  epoch = 0;
  /** per participant|kind: when decryption last failed (ms) */
  failures = new Map<string, { participant: string; kind: MediaKind; at: number }>();
  version = 0;

  readonly mic: LocalSlot = {};
  readonly cam: LocalSlot = {};
  readonly screen: LocalSlot = {};
  micOn = false;
  camOn = false;

  private e2ee: MediaE2EE | undefined;
  private offFailure: (() => void) | undefined;
  private sess: Session | undefined;
  private sessions = 0;
  private rollbacks = 0;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private leaving = false;
  private listeners = new Set<() => void>();
  private finalStats: CallTestStats | undefined;
  private d: Required<CallDeps>;

  constructor(
    readonly room: RoomClient,
    private opts: CallOptions = {},
    deps: CallDeps = {},
  ) {
    this.d = {
      makeSocket: deps.makeSocket ?? ((u) => new WebSocket(u) as unknown as ReturnType<SocketFactory>),
      makePC: deps.makePC ?? ((c) => new RTCPeerConnection(c)),
      getUserMedia: deps.getUserMedia ?? ((c) => navigator.mediaDevices.getUserMedia(c)),
      getDisplayMedia: deps.getDisplayMedia ?? ((c) => navigator.mediaDevices.getDisplayMedia(c)),
      createE2EE: deps.createE2EE ?? createMediaE2EE,
      e2eeSupported: deps.e2eeSupported ?? e2eeSupported,
      fetchConfig: deps.fetchConfig ?? defaultFetchConfig,
      audioSink: deps.audioSink ?? defaultAudioSink,
    };
    this.remote = new RemoteState(room.memberId);
  }

  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  private changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  get active(): boolean {
    return this.state !== 'idle' && this.state !== 'ended';
  }
  get screenOn(): boolean {
    return !!this.screen.track && this.screen.track.readyState === 'live';
  }
  get pc(): RTCPeerConnection | undefined {
    return this.sess?.pc;
  }

  // ------------------------------------------------------------- joining

  /** Joins: asks for the devices (falling back to sound only, then to listening), then connects. */
  async join(want: { audio: boolean; video: boolean } = { audio: true, video: true }): Promise<void> {
    if (this.active) return;
    this.opts = { ...this.opts, ...testOptions };
    this.ended = undefined;
    this.endDetail = this.dropDetail = this.serverError = '';
    this.notices.clear();
    this.failures.clear();
    this.leaving = false;
    this.finalStats = undefined;
    if (!this.d.e2eeSupported()) {
      this.finish('unsupported');
      return;
    }
    this.state = 'starting';
    this.changed();
    await this.acquire(want);
    if (this.leaving) return;
    try {
      this.e2ee = await this.d.createE2EE(this.room, { testDropKeys: this.opts.testDropKeys });
    } catch (e) {
      this.endDetail = e instanceof Error ? e.message : String(e);
      this.finish('failed');
      return;
    }
    if (this.leaving) return;
    this.offFailure = this.e2ee.onFailure((participant, kind) => {
      this.failures.set(`${participant}|${kind}`, { participant, kind, at: Date.now() });
      this.changed();
    });
    this.connect();
  }

  /** Gets microphone and camera; what is refused is noted, never fatal. */
  private async acquire(want: { audio: boolean; video: boolean }): Promise<void> {
    const video = this.opts.video ?? { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24, max: 30 } };
    const audio: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    let stream: MediaStream | undefined;
    let audioErr: unknown;
    let videoErr: unknown;
    if (want.audio && want.video) {
      try {
        stream = await this.d.getUserMedia({ audio, video });
      } catch {
        /* try each alone, to know which one is refused */
      }
    }
    if (!stream) {
      const tracks: MediaStreamTrack[] = [];
      if (want.audio) {
        try {
          tracks.push(...(await this.d.getUserMedia({ audio })).getTracks());
        } catch (e) {
          audioErr = e;
        }
      }
      if (want.video) {
        try {
          tracks.push(...(await this.d.getUserMedia({ video })).getTracks());
        } catch (e) {
          videoErr = e;
        }
      }
      stream = new MediaStream(tracks);
    }
    this.mic.track = stream.getAudioTracks()[0];
    this.cam.track = stream.getVideoTracks()[0];
    this.micOn = !!this.mic.track;
    this.camOn = !!this.cam.track;
    const missing = (e: unknown) => e instanceof Error && (e.name === 'NotFoundError' || e.name === 'OverconstrainedError');
    if (audioErr && videoErr) this.notices.add('all_denied');
    else if (videoErr) this.notices.add(missing(videoErr) ? 'no_camera' : 'video_denied');
    else if (audioErr) this.notices.add(missing(audioErr) ? 'no_microphone' : 'audio_denied');
  }

  private connect(): void {
    this.sessions++;
    const sess: Session = {
      sock: undefined as unknown as CallSocket,
      asked: new Map(),
      recvOwner: new Map(),
      audio: new Map(),
      configured: false,
    };
    this.sess = sess;
    this.state = this.attempt > 0 ? 'reconnecting' : 'connecting';
    this.changed();
    sess.sock = new CallSocket(
      callUrl(this.room.room),
      this.room.rec.token,
      {
        onMessage: (m) => {
          if (this.sess === sess) this.onMessage(sess, m);
        },
        onEnd: (e) => {
          if (this.sess === sess) void this.onSocketEnd(sess, e);
        },
      },
      this.d.makeSocket,
    );
  }

  private onMessage(sess: Session, m: ServerMessage): void {
    switch (m.type) {
      case 'config':
        if (!m.enabled) {
          this.finish('disabled');
          return;
        }
        this.epoch = m.epoch;
        this.e2ee?.epochHint(m.epoch);
        this.setupPC(sess, Array.isArray(m.ice_servers) ? m.ice_servers : []);
        break;
      case 'epoch':
        this.epoch = m.epoch;
        this.e2ee?.epochHint(m.epoch);
        this.changed();
        break;
      case 'removed':
        break; // the close follows (CallSocket remembers it)
      case 'offer':
        void sess.neg?.onOffer(m.sdp);
        break;
      case 'answer':
        void sess.neg?.onAnswer(m.sdp);
        break;
      case 'candidate':
        void sess.neg?.onCandidate(m.candidate);
        break;
      case 'error':
        this.serverError = m.error ?? '';
        this.changed();
        break;
      case 'participants':
      case 'tracks':
      case 'mute':
      case 'speaker':
      case 'leave':
      case 'layer':
        if (this.remote.apply(m)) {
          if (m.type === 'leave' && m.participant) this.dropFailures(m.participant);
          this.updateLayers();
          this.changed();
        }
        break;
    }
  }

  private setupPC(sess: Session, iceServers: RTCIceServer[]): void {
    if (sess.pc) return;
    const extra = this.e2ee?.rtcConfig ?? {};
    const cfg = {
      bundlePolicy: 'max-bundle',
      ...extra,
      iceServers: [...(extra.iceServers ?? []), ...iceServers],
    } as RTCConfiguration;
    const pc = this.d.makePC(cfg);
    sess.pc = pc;
    const neg = new Negotiator(pc as unknown as ConstructorParameters<typeof Negotiator>[0], {
      send: (m) => sess.sock.send(m),
      fail: (e) => {
        console.warn('call: negotiation failed', e);
        // A session that cannot negotiate is dropped and made again.
        if (this.sess === sess) sess.sock.close(4000, 'negotiation failed');
      },
      log: (s) => console.debug(`call: ${s}`),
    });
    sess.neg = neg;
    pc.onnegotiationneeded = () => neg.needOffer();
    pc.onicecandidate = (ev) => {
      if (ev.candidate && ev.candidate.candidate) sess.sock.send({ type: 'candidate', candidate: ev.candidate.toJSON() });
    };
    pc.ontrack = (ev) => this.onTrack(sess, ev);
    pc.onconnectionstatechange = () => {
      if (this.sess !== sess) return;
      const s = pc.connectionState;
      if (s === 'connected') {
        this.attempt = 0;
        this.state = 'connected';
        this.dropDetail = '';
        this.changed();
        // The SFU knows the tracks once media flows: tell it what is muted.
        setTimeout(() => this.sendMuteStates(sess), 1500);
      } else if (s === 'failed') {
        sess.sock.close(4001, 'media connection failed');
      }
    };
    // Local tracks go in before the first offer (the SFU waits a second
    // for it), each protected before its first frame.
    if (this.mic.track) this.addLocal(pc, this.mic, 'audio');
    if (this.cam.track && this.camOn) this.addLocal(pc, this.cam, 'video', CAMERA_ENCODINGS);
    if (this.screenOn) this.addLocal(pc, this.screen, 'video', SCREEN_ENCODINGS);
    sess.configured = true;
    // Nothing to publish: the server offers after its one-second wait.
    this.changed();
  }

  private addLocal(pc: RTCPeerConnection, slot: LocalSlot, kind: MediaKind, sendEncodings?: RTCRtpEncodingParameters[]): void {
    const track = slot.track!;
    const init: RTCRtpTransceiverInit = { direction: 'sendonly', streams: [new MediaStream([track])] };
    if (sendEncodings) init.sendEncodings = sendEncodings.map((e) => ({ ...e }));
    const tr = pc.addTransceiver(track, init);
    this.e2ee?.protectSender(tr.sender, kind);
    slot.tr = tr;
    slot.wireId = track.id;
  }

  private onTrack(sess: Session, ev: RTCTrackEvent): void {
    const info = this.remote.byMid(ev.transceiver?.mid);
    const participant = ev.streams[0]?.id || info?.participant || '';
    const kind = ev.track.kind === 'audio' ? 'audio' : 'video';
    this.e2ee?.protectReceiver(ev.receiver, participant, kind);
    sess.recvOwner.set(ev.track.id, participant);
    if (kind === 'audio') {
      const key = ev.transceiver?.mid ?? ev.track.id;
      sess.audio.get(key)?.stop();
      sess.audio.set(key, this.d.audioSink(ev.track));
    }
    this.changed();
  }

  /** The received track for a TrackInfo (through its mid). */
  mediaFor(t: TrackInfo | undefined): MediaStreamTrack | undefined {
    const pc = this.sess?.pc;
    if (!t || !pc || t.mid === undefined) return undefined;
    for (const tr of pc.getTransceivers()) if (tr.mid === t.mid) return tr.receiver.track;
    return undefined;
  }

  private sendMuteStates(sess: Session): void {
    if (this.sess !== sess) return;
    if (this.mic.wireId && !this.micOn) sess.sock.send({ type: 'mute', track: this.mic.wireId, muted: true });
    if (this.cam.wireId && !this.camOn) sess.sock.send({ type: 'mute', track: this.cam.wireId, muted: true });
  }

  // ------------------------------------------------------------- ending

  private async onSocketEnd(sess: Session, e: SocketEnd): Promise<void> {
    const kind = classifyEnd(e, this.leaving);
    this.teardown(sess);
    if (kind !== 'retry') {
      if (kind !== 'left') this.endDetail = e.reason;
      this.finish(kind);
      return;
    }
    this.dropDetail = e.reason || (e.opened ? 'connection lost' : 'cannot reach the server');
    this.attempt++;
    // A socket that never opens: calls may be off, or this member no longer admitted.
    if (!e.opened && this.attempt >= 2) {
      try {
        const c = await this.d.fetchConfig(callConfigUrl(this.room.room), this.room.rec.token);
        if (c.status === 200 && c.enabled === false) return this.finish('disabled');
        if (c.status === 401 || c.status === 403) return this.finish('refused');
      } catch {
        /* offline: keep trying */
      }
    }
    if (this.leaving || this.state === 'ended') return;
    this.state = 'reconnecting';
    this.changed();
    const delay = Math.min(10_000, 500 * 2 ** Math.min(this.attempt - 1, 5)) * (0.5 + Math.random() * 0.5);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.leaving && this.state === 'reconnecting') this.connect();
    }, delay);
  }

  /** Closes one session's connection (local devices stay). */
  private teardown(sess: Session): void {
    if (this.sess === sess) {
      // Keep the last counters for the test hook (the connection goes now).
      if (this.finalStats && this.e2ee) this.finalStats.media = copy(this.e2ee.stats());
      this.sess = undefined;
    }
    this.rollbacks += sess.neg?.rollbacks ?? 0;
    sess.neg?.close();
    for (const a of sess.audio.values()) a.stop();
    sess.audio.clear();
    for (const slot of [this.mic, this.cam, this.screen]) slot.tr = undefined;
    try {
      sess.pc?.close();
    } catch {
      /* closed */
    }
    this.remote = new RemoteState(this.room.memberId);
  }

  /** Leaves the call: says goodbye, releases the camera and microphone. */
  leave(): void {
    if (!this.active) return;
    this.leaving = true;
    const sess = this.sess;
    if (sess) {
      sess.sock.send({ type: 'leave' });
      sess.sock.close(1000, 'left the call');
    }
    this.finish('left');
  }

  private finish(why: EndReason): void {
    if (this.state === 'ended') return;
    clearTimeout(this.retryTimer);
    this.leaving = true;
    if (this.sess) {
      const s = this.sess;
      this.teardown(s);
      s.sock.close();
    }
    if (this.finalStats) {
      this.finalStats.state = 'ended';
      this.finalStats.ended = why;
      if (this.e2ee) this.finalStats.media = copy(this.e2ee.stats());
    }
    this.offFailure?.();
    this.offFailure = undefined;
    this.e2ee?.close();
    this.e2ee = undefined;
    for (const slot of [this.mic, this.cam, this.screen]) {
      slot.track?.stop();
      slot.track = undefined;
      slot.wireId = undefined;
      slot.tr = undefined;
    }
    this.micOn = this.camOn = false;
    this.state = 'ended';
    this.ended = why;
    this.changed();
  }

  private dropFailures(participant: string): void {
    for (const k of [...this.failures.keys()]) if (k.startsWith(`${participant}|`)) this.failures.delete(k);
  }

  // ------------------------------------------------------------ controls

  toggleMic(): void {
    const t = this.mic.track;
    if (!t) {
      void this.addDevice('audio');
      return;
    }
    this.micOn = !this.micOn;
    t.enabled = this.micOn;
    if (this.mic.wireId) this.sess?.sock.send({ type: 'mute', track: this.mic.wireId, muted: !this.micOn });
    this.changed();
  }

  async toggleCamera(): Promise<void> {
    if (this.camOn) {
      // Off: nothing is sent any more, and the light goes out.
      this.camOn = false;
      await this.cam.tr?.sender.replaceTrack(null).catch(() => undefined);
      this.cam.track?.stop();
      if (this.cam.wireId) this.sess?.sock.send({ type: 'mute', track: this.cam.wireId, muted: true });
      this.changed();
      return;
    }
    await this.addDevice('video');
  }

  /** Turns the camera (again) or a microphone first refused on. */
  private async addDevice(kind: 'audio' | 'video'): Promise<void> {
    const slot = kind === 'audio' ? this.mic : this.cam;
    let track: MediaStreamTrack | undefined;
    try {
      const s = await this.d.getUserMedia(kind === 'audio' ? { audio: true } : { video: this.opts.video ?? { width: { ideal: 1280 }, height: { ideal: 720 } } });
      track = kind === 'audio' ? s.getAudioTracks()[0] : s.getVideoTracks()[0];
    } catch {
      /* refused */
    }
    if (!track) {
      this.notices.add(kind === 'audio' ? 'audio_denied' : 'video_denied');
      this.changed();
      return;
    }
    this.notices.delete(kind === 'audio' ? 'audio_denied' : 'video_denied');
    this.notices.delete(kind === 'audio' ? 'no_microphone' : 'no_camera');
    this.notices.delete('all_denied');
    slot.track = track;
    if (kind === 'audio') this.micOn = true;
    else this.camOn = true;
    const pc = this.sess?.pc;
    if (pc && slot.tr) {
      await slot.tr.sender.replaceTrack(track);
      if (slot.wireId) this.sess?.sock.send({ type: 'mute', track: slot.wireId, muted: false });
    } else if (pc) {
      this.addLocal(pc, slot, kind, kind === 'video' ? CAMERA_ENCODINGS : undefined);
    }
    this.changed();
  }

  async toggleScreen(): Promise<void> {
    if (this.screenOn) {
      this.stopScreen();
      return;
    }
    let track: MediaStreamTrack | undefined;
    try {
      track = (await this.d.getDisplayMedia({ video: this.opts.screen ?? true, audio: false })).getVideoTracks()[0];
    } catch {
      /* refused or cancelled */
    }
    if (!track) {
      this.notices.add('screen_denied');
      this.changed();
      return;
    }
    this.notices.delete('screen_denied');
    track.contentHint = 'detail';
    track.onended = () => this.stopScreen(); // the browser's own "stop sharing"
    this.screen.track = track;
    const pc = this.sess?.pc;
    if (pc && this.screen.tr) {
      await this.screen.tr.sender.replaceTrack(track);
      if (this.screen.wireId) this.sess?.sock.send({ type: 'mute', track: this.screen.wireId, muted: false });
    } else if (pc) {
      this.addLocal(pc, this.screen, 'video', SCREEN_ENCODINGS);
    }
    this.changed();
  }

  private stopScreen(): void {
    const t = this.screen.track;
    if (!t) return;
    this.screen.track = undefined;
    t.onended = null;
    t.stop();
    void this.screen.tr?.sender.replaceTrack(null).catch(() => undefined);
    // The others hide a muted screen share.
    if (this.screen.wireId) this.sess?.sock.send({ type: 'mute', track: this.screen.wireId, muted: true });
    this.changed();
  }

  /** Pins a person on the stage (undefined: follow the speaker again). */
  pin(id: string | undefined): void {
    this.pinned = this.pinned === id ? undefined : id;
    this.updateLayers();
    this.changed();
  }

  stage(): string | undefined {
    return this.remote.stage(this.pinned);
  }

  /** Asks the SFU for the layer each tile needs (only when it changes). */
  private updateLayers(): void {
    const sess = this.sess;
    if (!sess) return;
    const stage = this.stage();
    const person = this.remote.people().find((p) => p.id === stage);
    const screenOnStage = !!person?.screen && !person.screen.muted;
    const want = wantedLayers(this.remote, stage, screenOnStage);
    for (const [k, layer] of want) {
      if (sess.asked.get(k) === layer) continue;
      const t = this.remote.tracks.find((x) => trackKey(x.participant, x.track) === k);
      if (!t) continue;
      if (sess.sock.send({ type: 'layer', participant: t.participant, track: t.track, layer })) sess.asked.set(k, layer);
    }
  }

  /** Recent decryption failures (the last 4 s), for the UI. */
  recentFailures(now = Date.now()): { participant: string; kind: MediaKind }[] {
    return [...this.failures.values()].filter((f) => now - f.at < 4000);
  }

  // ------------------------------------------------------------- tests

  /** getStats summarized per publisher, and the E2EE counters (test hook). */
  async testStats(): Promise<CallTestStats> {
    const sess = this.sess;
    if (!sess?.pc) {
      if (this.finalStats) return this.finalStats;
      return this.emptyStats();
    }
    const out = this.emptyStats();
    // Fresh counters where the module can give them (its worker answers).
    const fresh = (this.e2ee as { refreshStats?: () => Promise<MediaE2EEStats> } | undefined)?.refreshStats;
    if (fresh) out.media = copy(await fresh.call(this.e2ee).catch(() => out.media));
    const rep = await sess.pc.getStats();
    rep.forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp') {
        const mid = typeof s.mid === 'string' ? s.mid : undefined;
        const info = this.remote.byMid(mid);
        const owner = (typeof s.trackIdentifier === 'string' && sess.recvOwner.get(s.trackIdentifier)) || info?.participant || '';
        out.inbound.push({
          participant: owner,
          kind: String(s.kind ?? s.mediaType ?? ''),
          mid,
          screen: !!info && isScreen(info),
          bytesReceived: Number(s.bytesReceived ?? 0),
          packetsReceived: Number(s.packetsReceived ?? 0),
          framesDecoded: Number(s.framesDecoded ?? 0),
          framesReceived: Number(s.framesReceived ?? 0),
        });
      } else if (s.type === 'outbound-rtp') {
        out.outbound.push({
          kind: String(s.kind ?? s.mediaType ?? ''),
          rid: typeof s.rid === 'string' ? s.rid : undefined,
          bytesSent: Number(s.bytesSent ?? 0),
          framesEncoded: Number(s.framesEncoded ?? 0),
        });
      }
    });
    if (this.sess === sess) this.finalStats = out;
    return out;
  }

  private emptyStats(): CallTestStats {
    return {
      state: this.state,
      ended: this.ended,
      member: this.room.memberId,
      epoch: this.epoch,
      inbound: [],
      outbound: [],
      media: this.e2ee ? copy(this.e2ee.stats()) : null,
      sessions: this.sessions,
      rollbacks: this.rollbacks + (this.sess?.neg?.rollbacks ?? 0),
    };
  }
}

function copy<T>(v: T): T {
  try {
    return JSON.parse(JSON.stringify(v)) as T;
  } catch {
    return v;
  }
}

// ----------------------------------------------------------- one per room

const calls = new WeakMap<RoomClient, Call>();
let testOptions: CallOptions = {};

/** The call of a room on this page (made on first use). */
export function callFor(room: RoomClient): Call {
  let c = calls.get(room);
  if (!c) {
    c = new Call(room, { ...testOptions });
    calls.set(room, c);
  }
  return c;
}

/** The call of this room, if one was made (no side effect). */
export function existingCall(room: RoomClient): Call | undefined {
  return calls.get(room);
}

/** Ends the room's call (the room page closes). */
export function endCallFor(room: RoomClient): void {
  calls.get(room)?.leave();
  calls.delete(room);
}

/** Test hook only: options for calls made from now on (see testhook.ts). */
export function setCallTestOptions(o: CallOptions): void {
  testOptions = { ...o };
}


// The call's signalling state machine without a browser: perfect
// negotiation as the polite peer (glare, rollback, stale answers, early
// candidates), the socket (auth first, how a close is read), what the
// "tracks"/"mute"/"speaker"/"leave" messages make of the others, and a Call
// against a fake socket and a fake RTCPeerConnection (tracks added and
// protected before the first offer, simulcast, receivers protected,
// removal, reconnection).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Negotiator, type NegotiationPC } from '../src/call/negotiation';
import { CallSocket, classifyEnd, type ClientMessage, type SocketLike } from '../src/call/signalling';
import { RemoteState, wantedLayers } from '../src/call/remote';
import { Call, CAMERA_ENCODINGS } from '../src/call/call';
import type { MediaE2EE } from '../src/media/e2ee';
import type { RoomClient } from '../src/protocol/room';

// ------------------------------------------------------------------ fakes

class FakeNegPC implements NegotiationPC {
  signalingState: RTCSignalingState = 'stable';
  localDescription: { type: RTCSdpType; sdp: string } | null = null;
  remoteDescription: { type: RTCSdpType; sdp: string } | null = null;
  offers = 0;
  candidates: string[] = [];
  log: string[] = [];

  async setLocalDescription(d?: { type: RTCSdpType; sdp?: string }): Promise<void> {
    await Promise.resolve();
    if (d?.type === 'rollback') {
      if (this.signalingState !== 'have-local-offer') throw new Error('rollback in ' + this.signalingState);
      this.log.push('rollback');
      this.signalingState = 'stable';
      this.localDescription = null;
      return;
    }
    if (!d || d.type === 'offer') {
      if (this.signalingState !== 'stable') throw new Error('offer in ' + this.signalingState);
      this.localDescription = { type: 'offer', sdp: `client-offer-${++this.offers}` };
      this.signalingState = 'have-local-offer';
      this.log.push('local offer');
      return;
    }
    if (d.type === 'answer') {
      if (this.signalingState !== 'have-remote-offer') throw new Error('answer in ' + this.signalingState);
      this.localDescription = { type: 'answer', sdp: `answer-to-${this.remoteDescription?.sdp}` };
      this.signalingState = 'stable';
      this.log.push('local answer');
    }
  }

  async setRemoteDescription(d: { type: RTCSdpType; sdp: string }): Promise<void> {
    await Promise.resolve();
    if (d.type === 'offer') {
      // Strict: the negotiator must roll back itself (as the spec'd polite peer).
      if (this.signalingState !== 'stable') throw new Error('remote offer in ' + this.signalingState);
      this.signalingState = 'have-remote-offer';
    } else if (d.type === 'answer') {
      if (this.signalingState !== 'have-local-offer') throw new Error('remote answer in ' + this.signalingState);
      this.signalingState = 'stable';
    }
    this.remoteDescription = d;
    this.log.push(`remote ${d.type} ${d.sdp}`);
  }

  async addIceCandidate(c: { candidate?: string }): Promise<void> {
    if (!this.remoteDescription) throw new Error('no remote description');
    this.candidates.push(c.candidate ?? '');
  }
}

function negotiator(pc: NegotiationPC) {
  const sent: ClientMessage[] = [];
  const failed: unknown[] = [];
  const n = new Negotiator(pc, { send: (m) => sent.push(m), fail: (e) => failed.push(e) });
  return { n, sent, failed };
}

// ------------------------------------------------------------ negotiation

describe('perfect negotiation (polite client)', () => {
  it('offers when asked, applies the answer, and offers again only when asked', async () => {
    const pc = new FakeNegPC();
    const { n, sent, failed } = negotiator(pc);
    n.needOffer();
    await n.idle();
    expect(sent).toEqual([{ type: 'offer', sdp: 'client-offer-1' }]);
    await n.onAnswer('server-answer-1');
    expect(pc.signalingState).toBe('stable');
    expect(sent).toHaveLength(1);
    expect(failed).toEqual([]);
  });

  it('on glare rolls back, answers the server, then offers again', async () => {
    const pc = new FakeNegPC();
    const { n, sent, failed } = negotiator(pc);
    n.needOffer();
    await n.idle();
    expect(pc.signalingState).toBe('have-local-offer');
    // The server (impolite) ignores our offer and sends its own.
    await n.onOffer('server-offer-1');
    expect(failed).toEqual([]);
    expect(n.rollbacks).toBe(1);
    expect(pc.log).toEqual(['local offer', 'rollback', 'remote offer server-offer-1', 'local answer', 'local offer']);
    expect(sent).toEqual([
      { type: 'offer', sdp: 'client-offer-1' },
      { type: 'answer', sdp: 'answer-to-server-offer-1' },
      { type: 'offer', sdp: 'client-offer-2' },
    ]);
    await n.onAnswer('server-answer-2');
    expect(pc.signalingState).toBe('stable');
  });

  it('ignores a stale answer (to an offer rolled back)', async () => {
    const pc = new FakeNegPC();
    const { n, sent, failed } = negotiator(pc);
    await n.onOffer('server-offer-1');
    expect(sent).toEqual([{ type: 'answer', sdp: 'answer-to-server-offer-1' }]);
    await n.onAnswer('late-answer');
    expect(failed).toEqual([]);
    expect(pc.signalingState).toBe('stable');
    expect(pc.log).not.toContain('remote answer late-answer');
  });

  it('keeps messages in order and applies early candidates after the description', async () => {
    const pc = new FakeNegPC();
    const { n, failed } = negotiator(pc);
    void n.onCandidate({ candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' });
    void n.onCandidate(undefined);
    void n.onOffer('server-offer-1');
    void n.onCandidate({ candidate: 'candidate:2 1 udp 1 127.0.0.1 10 typ host', sdpMid: '0' });
    await n.idle();
    expect(failed).toEqual([]);
    expect(pc.candidates).toEqual(['candidate:1 1 udp 1 127.0.0.1 9 typ host', 'candidate:2 1 udp 1 127.0.0.1 10 typ host']);
  });

  it('a change asked for during an exchange is offered once it is over', async () => {
    const pc = new FakeNegPC();
    const { n, sent } = negotiator(pc);
    n.needOffer();
    n.needOffer(); // a second track added before the first offer went out
    await n.idle();
    expect(sent.filter((m) => m.type === 'offer')).toHaveLength(1);
    n.needOffer(); // while our offer waits for its answer
    await n.idle();
    expect(sent.filter((m) => m.type === 'offer')).toHaveLength(1);
    await n.onAnswer('server-answer-1');
    expect(sent.filter((m) => m.type === 'offer')).toHaveLength(2);
  });
});

// ----------------------------------------------------------------- socket

class FakeSocket implements SocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closedWith: [number?, string?] | undefined;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(s: string) {
    this.sent.push(s);
  }
  close(code?: number, reason?: string) {
    this.closedWith = [code, reason];
    this.readyState = 3;
  }
  // server side
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  push(m: unknown) {
    this.onmessage?.({ data: typeof m === 'string' ? m : JSON.stringify(m) } as MessageEvent);
  }
  drop(code: number, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason } as CloseEvent);
  }
  msgs(): ClientMessage[] {
    return this.sent.map((s) => JSON.parse(s) as ClientMessage);
  }
}

describe('call socket', () => {
  it('sends the token first, passes messages on, skips malformed ones, reports the close', () => {
    const got: unknown[] = [];
    const ends: unknown[] = [];
    const s = new CallSocket('wss://x/call', 'rcm_tok', { onMessage: (m) => got.push(m), onEnd: (e) => ends.push(e) }, (u) => new FakeSocket(u));
    const ws = FakeSocket.all[FakeSocket.all.length - 1];
    expect(ws.url).toBe('wss://x/call');
    ws.open();
    expect(ws.msgs()[0]).toEqual({ type: 'auth', token: 'rcm_tok' });
    ws.push('not json');
    ws.push({ nope: 1 });
    ws.push({ type: 'config', enabled: true, epoch: 3, ice_servers: [] });
    ws.push({ type: 'removed' });
    expect(got.map((m) => (m as { type: string }).type)).toEqual(['config', 'removed']);
    expect(s.send({ type: 'leave' })).toBe(true);
    ws.drop(1000, 'removed from the room');
    expect(ends).toEqual([{ code: 1000, reason: 'removed from the room', opened: true, removed: true }]);
    expect(s.send({ type: 'leave' })).toBe(false);
  });

  it('reads the server\u2019s close codes and reasons', () => {
    const e = (code: number, reason: string, removed = false, opened = true) => ({ code, reason, removed, opened });
    expect(classifyEnd(e(1000, 'removed from the room'), false)).toBe('removed');
    expect(classifyEnd(e(1006, '', true), false)).toBe('removed');
    expect(classifyEnd(e(1008, 'you are not admitted yet: …'), false)).toBe('refused');
    expect(classifyEnd(e(1000, 'replaced by a newer call session of this device'), false)).toBe('replaced');
    expect(classifyEnd(e(1000, 'left the call'), false)).toBe('left');
    expect(classifyEnd(e(1001, 'the server is stopping: reconnect later'), false)).toBe('retry');
    expect(classifyEnd(e(1001, 'the media connection was lost: join the call again'), false)).toBe('retry');
    expect(classifyEnd(e(1006, '', false, false), false)).toBe('retry');
    expect(classifyEnd(e(1006, ''), true)).toBe('left');
  });
});

// ------------------------------------------------------------- the others

const tracks = [
  { participant: 'bob', track: 'b-mic', stream: 'bob', kind: 'audio', mid: '3' },
  { participant: 'bob', track: 'b-cam', stream: 'bob', kind: 'video', mid: '4', layers: ['q', 'h', 'f'] },
  { participant: 'eve', track: 'e-mic', stream: 'eve', kind: 'audio', mid: '5', muted: true },
  { participant: 'eve', track: 'e-cam', stream: 'eve', kind: 'video', mid: '6', layers: ['q', 'h'] },
  { participant: 'eve', track: 'e-scr', stream: 'eve', kind: 'video', mid: '7', layers: [] },
] as const;

describe('remote state', () => {
  it('groups tracks per person, tells cameras from screens, follows mute, speaker and leave', () => {
    const r = new RemoteState();
    expect(r.apply({ type: 'tracks', tracks: tracks.map((t) => ({ ...t, layers: 'layers' in t ? [...t.layers] : undefined })) })).toBe(true);
    const people = r.people();
    expect(people.map((p) => p.id)).toEqual(['bob', 'eve']);
    expect(people[1].screen?.track).toBe('e-scr');
    expect(people[1].camera?.track).toBe('e-cam');
    expect(people[1].audio?.muted).toBe(true);
    expect(r.byMid('4')?.track).toBe('b-cam');
    // eve shares her screen: she takes the stage, whoever speaks
    r.apply({ type: 'speaker', participant: 'bob', speakers: [{ participant: 'bob', level: 90 }] });
    expect(r.stage()).toBe('eve');
    // her screen share stops (muted): the speaker takes the stage
    expect(r.apply({ type: 'mute', participant: 'eve', track: 'e-scr', muted: true })).toBe(true);
    expect(r.stage()).toBe('bob');
    expect(r.stage('eve')).toBe('eve'); // pinned
    expect(r.apply({ type: 'mute', participant: 'nobody', track: 'x', muted: true })).toBe(false);
    r.apply({ type: 'leave', participant: 'bob' });
    expect(r.people().map((p) => p.id)).toEqual(['eve']);
    expect(r.speaker).toBeUndefined();
    expect(r.stage()).toBe('eve');
  });

  it('counts those who publish nothing (listening only), never oneself, and forgets who leaves', () => {
    const r = new RemoteState('me');
    r.apply({ type: 'tracks', tracks: [{ ...tracks[0] }, { ...tracks[1], layers: ['q', 'h', 'f'] }] });
    expect(r.apply({ type: 'participants', participants: ['bob', 'lou', 'me', 7 as unknown as string] })).toBe(true);
    expect(r.people()).toEqual([expect.objectContaining({ id: 'bob' }), { id: 'lou' }]);
    expect(r.stage()).toBe('bob');
    r.apply({ type: 'leave', participant: 'bob' });
    expect(r.people()).toEqual([{ id: 'lou' }]);
    expect(r.stage()).toBe('lou');
    r.apply({ type: 'participants', participants: ['me'] });
    expect(r.people()).toEqual([]);
  });

  it('asks "f" for the stage camera and a lower layer for small tiles', () => {
    const r = new RemoteState();
    r.apply({ type: 'tracks', tracks: tracks.map((t) => ({ ...t, layers: 'layers' in t ? [...t.layers] : undefined })) });
    expect(Object.fromEntries(wantedLayers(r, 'bob', false))).toEqual({ 'bob|b-cam': 'f', 'eve|e-cam': 'h' });
    // a screen share on the stage: its sharer's camera is small
    expect(Object.fromEntries(wantedLayers(r, 'eve', true))).toEqual({ 'bob|b-cam': 'h', 'eve|e-cam': 'h' });
    const many = ['a', 'b', 'c', 'd', 'e'].map((p) => ({ participant: p, track: `${p}-cam`, stream: p, kind: 'video' as const, layers: ['q', 'h', 'f'] }));
    r.apply({ type: 'tracks', tracks: many });
    const w = wantedLayers(r, 'c', false);
    expect(w.get('c|c-cam')).toBe('f');
    expect(w.get('a|a-cam')).toBe('q');
  });
});

// --------------------------------------------------------- a whole Call

class FakeTrack {
  static n = 0;
  id = `local-${++FakeTrack.n}`;
  enabled = true;
  readyState = 'live';
  constructor(readonly kind: 'audio' | 'video') {}
  stop() {
    this.readyState = 'ended';
  }
}
class FakeStream {
  constructor(private tracks: FakeTrack[] = []) {}
  getTracks() {
    return this.tracks;
  }
  getAudioTracks() {
    return this.tracks.filter((t) => t.kind === 'audio');
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === 'video');
  }
}

class FakePC extends FakeNegPC {
  static all: FakePC[] = [];
  transceivers: { init: RTCRtpTransceiverInit; track: FakeTrack; sender: { replaceTrack(t: unknown): Promise<void> }; mid: string | null }[] = [];
  onnegotiationneeded: (() => void) | null = null;
  onicecandidate: ((ev: unknown) => void) | null = null;
  ontrack: ((ev: unknown) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  connectionState = 'new';
  closed = false;
  constructor(readonly cfg: RTCConfiguration) {
    super();
    FakePC.all.push(this);
  }
  addTransceiver(track: FakeTrack, init: RTCRtpTransceiverInit) {
    const tr = { init, track, sender: { replaceTrack: async () => undefined }, mid: null };
    this.transceivers.push(tr);
    this.log.push(`add ${track.kind}`);
    queueMicrotask(() => this.onnegotiationneeded?.());
    return tr;
  }
  getTransceivers() {
    return [];
  }
  close() {
    this.closed = true;
  }
}

function fakeE2EE() {
  const calls: string[] = [];
  const e: MediaE2EE = {
    rtcConfig: { encodedInsertableStreams: true },
    protectSender: (_s, kind) => void calls.push(`send ${kind}`),
    protectReceiver: (_r, p, kind) => void calls.push(`recv ${p} ${kind}`),
    stats: () => ({ encrypted: { audio: 0, video: 0 }, decrypted: {}, failed: {} }),
    onFailure: () => () => undefined,
    epochHint: (n) => void calls.push(`epoch ${n}`),
    ready: async () => undefined,
    close: () => void calls.push('close'),
  };
  return { e, calls };
}

const room = { room: 'R', memberId: 'me', rec: { token: 'rcm_me' }, memberName: (id: string) => id } as unknown as RoomClient;

describe('Call', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    FakePC.all = [];
    vi.stubGlobal('MediaStream', FakeStream);
    vi.stubGlobal('location', { protocol: 'https:', host: 'crisis.test' });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  function makeCall(gum: (c: MediaStreamConstraints) => Promise<unknown> = async (c) => new FakeStream([...(c.audio ? [new FakeTrack('audio')] : []), ...(c.video ? [new FakeTrack('video')] : [])])) {
    const { e, calls } = fakeE2EE();
    const call = new Call(room, {}, {
      makeSocket: (u) => new FakeSocket(u),
      makePC: (cfg) => new FakePC(cfg) as unknown as RTCPeerConnection,
      getUserMedia: gum as (c: MediaStreamConstraints) => Promise<MediaStream>,
      createE2EE: async () => e,
      e2eeSupported: () => true,
      fetchConfig: async () => ({ status: 200, enabled: true }),
      audioSink: () => ({ stop: () => undefined }),
    });
    return { call, calls };
  }

  it('adds and protects its tracks before the first offer, with simulcast, and protects what it receives', async () => {
    const { call, calls } = makeCall();
    await call.join();
    const ws = FakeSocket.all[0];
    expect(ws.url).toBe('wss://crisis.test/v1/crisis/rooms/R/call');
    ws.open();
    ws.push({ type: 'config', enabled: true, member: 'me', epoch: 2, ice_servers: [{ urls: 'turn:127.0.0.1:3478' }] });
    const pc = FakePC.all[0];
    expect(pc.cfg.iceServers).toEqual([{ urls: 'turn:127.0.0.1:3478' }]);
    expect((pc.cfg as { encodedInsertableStreams?: boolean }).encodedInsertableStreams).toBe(true);
    expect(calls.slice(0, 3)).toEqual(['epoch 2', 'send audio', 'send video']);
    const video = pc.transceivers.find((t) => t.track.kind === 'video')!;
    expect(video.init.direction).toBe('sendonly');
    expect(video.init.sendEncodings).toEqual(CAMERA_ENCODINGS);
    expect(video.init.sendEncodings!.map((e) => (e as { scalabilityMode?: string }).scalabilityMode)).toEqual(['L1T1', 'L1T1', 'L1T1']);
    await new Promise((r) => setTimeout(r, 0));
    const msgs = ws.msgs();
    expect(msgs[0].type).toBe('auth');
    expect(msgs[1]).toEqual({ type: 'offer', sdp: 'client-offer-1' });
    expect(pc.log.indexOf('add video')).toBeLessThan(pc.log.indexOf('local offer'));
    // The server's tracks, then its offer; ontrack protects each receiver.
    ws.push({ type: 'answer', sdp: 'server-answer-1' });
    ws.push({ type: 'tracks', tracks: [{ participant: 'bob', track: 'b-cam', stream: 'bob', kind: 'video', mid: '2', layers: ['q', 'h', 'f'] }] });
    ws.push({ type: 'offer', sdp: 'server-offer-1' });
    await new Promise((r) => setTimeout(r, 0));
    pc.ontrack?.({ transceiver: { mid: '2' }, streams: [{ id: 'bob' }], track: { kind: 'video', id: 'rt1' }, receiver: {} });
    expect(calls).toContain('recv bob video');
    // Bob is alone: on the stage, full layer.
    expect(ws.msgs()).toContainEqual({ type: 'layer', participant: 'bob', track: 'b-cam', layer: 'f' });
    expect(ws.msgs()).toContainEqual({ type: 'answer', sdp: 'answer-to-server-offer-1' });
    ws.push({ type: 'epoch', epoch: 3 });
    expect(calls).toContain('epoch 3');
    expect(call.epoch).toBe(3);
  });

  it('ends for good on removal, without reconnecting', async () => {
    const { call, calls } = makeCall();
    await call.join();
    const ws = FakeSocket.all[0];
    ws.open();
    ws.push({ type: 'config', enabled: true, epoch: 1, ice_servers: [] });
    ws.push({ type: 'removed' });
    ws.drop(1000, 'removed from the room');
    expect(call.state).toBe('ended');
    expect(call.ended).toBe('removed');
    expect(FakePC.all[0].closed).toBe(true);
    expect(calls).toContain('close');
    expect(call.cam.track).toBeUndefined();
    await new Promise((r) => setTimeout(r, 20));
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('reconnects with a new session after the socket drops', async () => {
    vi.useFakeTimers();
    const { call } = makeCall();
    await call.join();
    FakeSocket.all[0].open();
    FakeSocket.all[0].push({ type: 'config', enabled: true, epoch: 1, ice_servers: [] });
    FakeSocket.all[0].drop(1001, 'the server is stopping: reconnect later');
    expect(call.state).toBe('reconnecting');
    expect(call.dropDetail).toMatch(/stopping/);
    expect(FakePC.all[0].closed).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1].open();
    FakeSocket.all[1].push({ type: 'config', enabled: true, epoch: 1, ice_servers: [] });
    expect(FakePC.all).toHaveLength(2);
    expect(FakePC.all[1].transceivers.map((t) => t.track.kind)).toEqual(['audio', 'video']);
    call.leave();
    expect(call.ended).toBe('left');
    expect(FakeSocket.all[1].msgs().pop()).toEqual({ type: 'leave' });
  });

  it('joins with sound only when the camera is refused, and listens when both are', async () => {
    const denied = Object.assign(new Error('denied'), { name: 'NotAllowedError' });
    const { call } = makeCall(async (c) => {
      if (c.video) throw denied;
      return new FakeStream([new FakeTrack('audio')]);
    });
    await call.join();
    expect([...call.notices]).toEqual(['video_denied']);
    expect(call.micOn).toBe(true);
    expect(call.camOn).toBe(false);
    call.leave();
    const none = makeCall(async () => {
      throw denied;
    }).call;
    await none.join();
    expect([...none.notices]).toEqual(['all_denied']);
    FakeSocket.all[FakeSocket.all.length - 1].open();
    FakeSocket.all[FakeSocket.all.length - 1].push({ type: 'config', enabled: true, epoch: 1, ice_servers: [] });
    expect(FakePC.all[FakePC.all.length - 1].transceivers).toHaveLength(0);
  });

  it('ends when calls are off on the server', async () => {
    const { call } = makeCall();
    await call.join();
    FakeSocket.all[0].open();
    FakeSocket.all[0].push({ type: 'config', enabled: false, epoch: 1, ice_servers: [] });
    expect(call.ended).toBe('disabled');
  });
});

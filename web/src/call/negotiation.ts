// "Perfect negotiation" with this browser as the POLITE peer
// (internal/crisis/sfu/doc.go): the SFU ignores a client offer that crosses
// one of its own; the client rolls its offer back, answers the server's,
// then offers again. Every incoming message is applied in order on one
// queue: an answer, a candidate or an offer never overtakes the one before.
import type { CandidateInit, ClientMessage } from './signalling';

/** The part of RTCPeerConnection negotiation needs (a fake in unit tests). */
export interface NegotiationPC {
  readonly signalingState: RTCSignalingState;
  readonly localDescription: { type: RTCSdpType; sdp: string } | null;
  readonly remoteDescription: { type: RTCSdpType; sdp: string } | null;
  setLocalDescription(d?: { type: RTCSdpType; sdp?: string }): Promise<void>;
  setRemoteDescription(d: { type: RTCSdpType; sdp: string }): Promise<void>;
  addIceCandidate(c: CandidateInit): Promise<void>;
}

export interface NegotiatorEvents {
  /** a message to the server */
  send(m: ClientMessage): void;
  /** something failed that the session cannot recover from by itself */
  fail(why: unknown): void;
  /** for logs and tests */
  log?(what: string): void;
}

export class Negotiator {
  /** an offer of ours is being made (createOffer/setLocalDescription) */
  private makingOffer = false;
  /** an offer must be made once the signalling state is stable again */
  private wantOffer = false;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  /** candidates that arrived before any remote description */
  private early: CandidateInit[] = [];
  /** how many times our offer was rolled back (tests, logs) */
  rollbacks = 0;
  offersSent = 0;

  constructor(
    private pc: NegotiationPC,
    private ev: NegotiatorEvents,
  ) {}

  close(): void {
    this.closed = true;
  }

  /** The local side changed (onnegotiationneeded, or a track added): offer when possible. */
  needOffer(): void {
    this.wantOffer = true;
    this.run(() => this.maybeOffer());
  }

  onOffer(sdp: string): Promise<void> {
    return this.run(async () => {
      const glare = this.makingOffer || this.pc.signalingState !== 'stable';
      if (glare) {
        // Polite: give our offer up, answer theirs, offer again afterwards.
        this.ev.log?.('glare: rolling our offer back');
        this.rollbacks++;
        if (this.pc.signalingState === 'have-local-offer') await this.pc.setLocalDescription({ type: 'rollback' });
        this.wantOffer = true;
      }
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      await this.flushEarly();
      await this.pc.setLocalDescription({ type: 'answer' });
      const ans = this.pc.localDescription;
      if (ans) this.ev.send({ type: 'answer', sdp: ans.sdp });
      await this.maybeOffer();
    });
  }

  onAnswer(sdp: string): Promise<void> {
    return this.run(async () => {
      if (this.pc.signalingState !== 'have-local-offer') {
        this.ev.log?.(`answer ignored in state ${this.pc.signalingState}`);
        return; // stale: our offer was rolled back
      }
      await this.pc.setRemoteDescription({ type: 'answer', sdp });
      await this.flushEarly();
      await this.maybeOffer();
    });
  }

  onCandidate(c: CandidateInit | undefined): Promise<void> {
    return this.run(async () => {
      if (!c || !c.candidate) return;
      if (!this.pc.remoteDescription) {
        this.early.push(c);
        return;
      }
      try {
        await this.pc.addIceCandidate(c);
      } catch (e) {
        // A candidate for an m-line rolled back or not there yet: harmless.
        this.ev.log?.(`candidate refused: ${e instanceof Error ? e.message : e}`);
      }
    });
  }

  /** Resolves when every queued step has run (tests). */
  idle(): Promise<void> {
    return this.queue;
  }

  private async flushEarly(): Promise<void> {
    const list = this.early;
    this.early = [];
    for (const c of list) {
      try {
        await this.pc.addIceCandidate(c);
      } catch {
        /* see onCandidate */
      }
    }
  }

  private async maybeOffer(): Promise<void> {
    if (this.closed || !this.wantOffer || this.pc.signalingState !== 'stable') return;
    this.wantOffer = false;
    this.makingOffer = true;
    try {
      await this.pc.setLocalDescription();
      const d = this.pc.localDescription;
      if (d && d.type === 'offer') {
        this.offersSent++;
        this.ev.send({ type: 'offer', sdp: d.sdp });
      }
    } finally {
      this.makingOffer = false;
    }
  }

  private run(step: () => Promise<void>): Promise<void> {
    const p = this.queue.then(async () => {
      if (this.closed) return;
      try {
        await step();
      } catch (e) {
        if (!this.closed) this.ev.fail(e);
      }
    });
    this.queue = p;
    return p;
  }
}

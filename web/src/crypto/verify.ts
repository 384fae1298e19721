// Verification of a logbook (docs/crisis-e2ee.md, "Verification of a
// logbook"): every envelope's signature against the roster that listed its
// sender; per sender, seq 1, 2, 3… with no gap and prev matching; every ref
// present; the content decrypts. Work is batched (Promise.all) because
// WebCrypto calls are asynchronous: 10,000 entries must open in well under
// two seconds.
import { utf8 } from './bytes';
import { hashBody } from './keys';
import { openContent, parseEnvelope, verifyEnvelopeSig, type Envelope } from './envelope';
import type { Chain } from './ratchet';
import type { RawEvent } from '../protocol/types';
import { en } from '../i18n/dict';

export type ProblemCode =
  | 'not_text'
  | 'malformed'
  | 'other_room'
  | 'not_in_roster'
  | 'not_member_then'
  | 'bad_sig'
  | 'gap_start'
  | 'gap_before'
  | 'first_missing'
  | 'out_of_order'
  | 'author_gap'
  | 'chain_broken'
  | 'prev_altered'
  | 'ref_missing'
  | 'damaged'
  | 'server_copy'
  | 'lost_on_server';

/**
 * A verification finding: a code and its values, shown in the reader's
 * language by the UI (i18n key `pb_<code>`); toString gives English.
 */
export class Problem {
  constructor(
    readonly code: ProblemCode,
    readonly v: Record<string, string | number> = {},
  ) {}
  toString(): string {
    return en[`pb_${this.code}`].replace(/\{(\w+)\}/g, (_, k: string) => String(this.v[k] ?? ''));
  }
}

const P = (code: ProblemCode, v?: Record<string, string | number>) => new Problem(code, v);

export interface DirMember {
  id: string;
  name: string;
  sign: string;
  dh: string;
  since: number;
  /** epoch from which this member was removed (no entry of theirs is valid from it on) */
  removedAt?: number;
}

export interface VerifyContext {
  room: string;
  member(id: string): DirMember | undefined;
  chain(sender: string, epoch: number): Chain | undefined;
  /** true when the events start at pos 1 (this device holds the whole room). */
  complete: boolean;
  /**
   * Results this device already computed for exactly these bytes (same
   * body and sig): reopening a room of 10,000 entries then costs no crypto
   * for what was verified before. Chains and membership are checked again.
   */
  cached?(ev: RawEvent): CachedCheck | undefined;
}

export interface CachedCheck {
  hash: string;
  sigOk: boolean;
  plain?: unknown;
}

export type KeyState = 'ok' | 'missing' | 'before' | 'failed';

export interface EventCheck {
  pos: number;
  hash: string;
  receivedAt?: string;
  env?: Envelope;
  /** decrypted JSON, when it decrypted */
  plain?: unknown;
  sigOk: boolean;
  key: KeyState;
  /** this entry's own problems (it is not what its author wrote, or something is missing just before it) */
  problems: Problem[];
  /** problems that depend on other entries (a cited entry not found) */
  warnings: Problem[];
  verified: boolean;
}

export interface VerifySummary {
  total: number;
  verified: number;
  failed: number;
  unreadable: number;
  gaps: Problem[];
  ok: boolean;
}

export interface Verified {
  checks: EventCheck[];
  summary: VerifySummary;
}

function who(ctx: VerifyContext, id: string): string {
  return ctx.member(id)?.name ?? `an unknown member (${id.slice(0, 6)}…)`;
}

/** Step 1, in parallel: hash, parse and check the signature of each event. */
async function checkSignatures(ctx: VerifyContext, events: RawEvent[]): Promise<EventCheck[]> {
  return Promise.all(
    events.map(async (ev): Promise<EventCheck> => {
      const c: EventCheck = {
        pos: ev.pos,
        hash: '',
        receivedAt: ev.received_at,
        sigOk: false,
        key: 'missing',
        problems: [],
        warnings: [],
        verified: false,
      };
      const cached = ctx.cached?.(ev);
      if (cached) {
        c.hash = cached.hash;
        if (cached.plain !== undefined) {
          c.plain = cached.plain;
          c.key = 'ok';
        }
      } else {
        try {
          c.hash = await hashBody(utf8(ev.body));
        } catch {
          c.problems.push(P('not_text'));
          return c;
        }
      }
      let env: Envelope;
      try {
        env = parseEnvelope(ev.body);
      } catch (e) {
        c.problems.push(P('malformed', { msg: e instanceof Error ? e.message : '' }));
        return c;
      }
      c.env = env;
      if (env.room !== ctx.room) {
        c.problems.push(P('other_room'));
        return c;
      }
      const m = ctx.member(env.sender);
      if (!m) {
        c.problems.push(P('not_in_roster'));
        return c;
      }
      if (env.epoch < m.since || (m.removedAt !== undefined && env.epoch >= m.removedAt)) {
        c.problems.push(P('not_member_then', { name: m.name }));
      }
      c.sigOk = cached ? cached.sigOk : await verifyEnvelopeSig(m.sign, ctx.room, ev);
      if (!c.sigOk) c.problems.push(P('bad_sig', { name: m.name }));
      return c;
    }),
  );
}

/**
 * Verifies a room's events incrementally: a page of 5,000 at a time when
 * the room opens, then one by one as they arrive live. Step 2 (chains) keeps
 * its state between batches, so nothing is verified twice.
 */
export class LogVerifier {
  readonly checks: EventCheck[] = [];
  readonly gaps: Problem[] = [];
  private last = new Map<string, { seq: number; hash: string; ok: boolean }>();
  private seen = new Set<string>();
  private prevPos: number | undefined;

  constructor(private ctx: VerifyContext) {}

  /** Adds events (any order; those already held are skipped). */
  async add(events: RawEvent[]): Promise<EventCheck[]> {
    const from = this.prevPos ?? 0;
    const fresh = events.filter((e) => e.pos > from).sort((a, b) => a.pos - b.pos);
    const batch = await checkSignatures(this.ctx, fresh);
    for (const c of batch) this.chainStep(c);
    await decryptAll(this.ctx, batch);
    for (const c of batch) c.verified = c.sigOk && c.problems.length === 0;
    this.checks.push(...batch);
    return batch;
  }

  /** Tries again the entries whose key had not arrived (after new wraps). */
  async retryKeys(): Promise<EventCheck[]> {
    const waiting = this.checks.filter((c) => c.sigOk && c.key === 'missing');
    await decryptAll(this.ctx, waiting);
    for (const c of waiting) c.verified = c.sigOk && c.problems.length === 0;
    return waiting.filter((c) => c.key !== 'missing');
  }

  private chainStep(c: EventCheck): void {
    const ctx = this.ctx;
    if (this.prevPos === undefined) {
      if (ctx.complete && c.pos !== 1) this.gaps.push(P('gap_start', { to: c.pos - 1 }));
    } else if (c.pos !== this.prevPos + 1) {
      const msg = P('gap_before', { from: this.prevPos + 1, to: c.pos - 1 });
      c.problems.push(msg);
      this.gaps.push(msg);
    }
    this.prevPos = c.pos;
    const e = c.env;
    if (!e) return;
    const l = this.last.get(e.sender);
    const name = who(ctx, e.sender);
    if (!l) {
      if (ctx.complete && e.seq !== 1) c.problems.push(P('first_missing', { n: e.seq - 1, name }));
    } else if (e.seq <= l.seq) {
      c.problems.push(P('out_of_order', { name, seq: e.seq, last: l.seq }));
    } else if (e.seq !== l.seq + 1) {
      c.problems.push(P('author_gap', { from: l.seq + 1, to: e.seq - 1, name }));
    } else if (e.prev !== l.hash) {
      // If the previous entry's own signature failed, that one is the
      // altered entry: blame it, not this authentic one.
      if (l.ok) c.problems.push(P('chain_broken', { name }));
      else c.warnings.push(P('prev_altered', { name }));
    }
    if (c.sigOk || !l) this.last.set(e.sender, { seq: e.seq, hash: c.hash, ok: c.sigOk });
    else this.last.set(e.sender, { seq: Math.max(l.seq, e.seq), hash: c.hash, ok: false });
    for (const r of e.refs) {
      if (!this.seen.has(r) && ctx.complete) c.warnings.push(P('ref_missing'));
    }
    if (c.hash) this.seen.add(c.hash);
  }

  summary(): VerifySummary {
    let verified = 0,
      failed = 0,
      unreadable = 0,
      warned = 0;
    for (const c of this.checks) {
      if (c.verified) verified++;
      else failed++;
      if (c.sigOk && (c.key === 'missing' || c.key === 'before')) unreadable++;
      if (c.warnings.length) warned++;
    }
    return {
      total: this.checks.length,
      verified,
      failed,
      unreadable,
      gaps: [...this.gaps],
      ok: failed === 0 && warned === 0 && this.gaps.length === 0,
    };
  }
}

/** Decrypt with the cached per-(sender, epoch) chains, in parallel. */
async function decryptAll(ctx: VerifyContext, checks: EventCheck[]): Promise<void> {
  await Promise.all(
    checks.map(async (c) => {
      const e = c.env;
      if (!e || !c.sigOk) return; // never decrypt what its author did not sign
      if (c.key === 'ok' && c.plain !== undefined) return; // from this device's cache
      const ch = ctx.chain(e.sender, e.epoch);
      if (!ch) {
        c.key = 'missing';
        return;
      }
      if (e.i < ch.start) {
        c.key = 'before';
        return;
      }
      try {
        c.plain = await openContent(await ch.messageKey(e.i), e);
        c.key = 'ok';
      } catch {
        c.key = 'failed';
        c.problems.push(P('damaged'));
      }
    }),
  );
}

/** Verifies a whole list of events at once (the export, the tests). */
export async function verifyEvents(ctx: VerifyContext, events: RawEvent[]): Promise<Verified> {
  const v = new LogVerifier(ctx);
  await v.add(events);
  return { checks: v.checks, summary: v.summary() };
}

/** The message shown for an entry this device cannot read yet. */
export function keyMessage(c: EventCheck, name: string): string {
  switch (c.key) {
    case 'missing':
      return `cannot read ${name}'s entries: their key has not reached this device yet (it comes when ${name}'s device is online)`;
    case 'before':
      return `written by ${name} before this device was admitted: not shared with you`;
    case 'failed':
      return `${name}'s entry does not decrypt: it is damaged`;
    default:
      return '';
  }
}

// RoomClient: one room as this device sees it. It keeps the verified roster
// and member directory, the chain keys, the raw events and their
// verification, the outbox, and does the sender-key duties of the spec:
//  - on the first write in an epoch, draw a chain key and send a wrap bundle
//    to every member of the roster;
//  - when a member is admitted later in the epoch, send them a wrap;
//  - after a removal (new epoch) the next write draws a new chain key.
// Entries written offline stay in the outbox as plaintext drafts on this
// device and are encrypted and sent when the connection is back.
import { b64u, fromB64u, randomBytes } from '../crypto/bytes';
import { sealEnvelope } from '../crypto/envelope';
import { LABEL_ROSTER, VERSION } from '../crypto/labels';
import { Chain } from '../crypto/ratchet';
import { RosterError, verifyRoster } from '../crypto/roster';
import { signObject, type Signed } from '../crypto/sign';
import { decryptBlob, encryptBlob } from '../crypto/blob';
import {
  LogVerifier,
  Problem,
  verifyEvents,
  type DirMember,
  type EventCheck,
  type Verified,
  type CachedCheck,
  type VerifyContext,
  type VerifySummary,
} from '../crypto/verify';
import { makeWrapBundle, openWrapBundle, WrapError } from '../crypto/wraps';
import { HistoryError, makeHistoryBundle, openHistoryBundle, type FormerMember, type HistoryKey } from '../crypto/history';
import { openContent, parseEnvelope } from '../crypto/envelope';
import type { ChainRecord, OutboxItem, RoomRecord, Store } from '../store/db';
import { AppError } from '../errors';
import { api, ApiError, isNetworkError } from './api';
import { normalizeContent, type Content, type FileRef } from './content';
import type { PendingMember, RawEvent, Roster, RosterMember, WrapRecord, WsMessage } from './types';
import { Live, type ConnState } from './ws';

export interface Item {
  pos: number;
  hash: string;
  sender: string;
  authorName: string;
  time: string;
  receivedAt?: string;
  content: Content | null | undefined; // undefined: not readable; null: newer version
  check: EventCheck;
}

type Listener = () => void;

/** A first load larger than this shows the newest `size` entries first. */
export const preview = { after: 1500, size: 500 };

const chainKey = (sender: string, epoch: number) => `${sender}|${epoch}`;

/** Lets the browser draw and handle input between long pieces of work. */
function yieldToUi(ms = 0): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Verifies events in slices of 2,000, yielding between them: a room of
 * 10,000 entries must not freeze the page (nor the first entries shown).
 */
async function addInSlices(v: LogVerifier, events: RawEvent[]): Promise<EventCheck[]> {
  const out: EventCheck[] = [];
  for (let i = 0; i < events.length; i += 2000) {
    if (i > 0) await yieldToUi();
    out.push(...(await v.add(events.slice(i, i + 2000))));
  }
  return out;
}

/**
 * Timings for benchmarks: set localStorage "rempart-debug" to "1" and the
 * console shows how long each phase of opening a room took.
 */
function mark(what: string): void {
  try {
    if (globalThis.localStorage?.getItem('rempart-debug') === '1') {
      console.debug(`[rempart] ${performance.now().toFixed(0)} ms: ${what}`);
    }
  } catch {
    /* no storage: no timings */
  }
}


export class RoomClient {
  rec: RoomRecord;
  roster: Roster | undefined;
  pending: PendingMember[] = [];
  online = new Set<string>();
  conn: ConnState = 'reconnecting';
  outboxCount = 0;
  alarm: string | undefined;
  /** key bundles that could not be opened (reported; the room goes on) */
  wrapFailures: { sender: string; why: string }[] = [];
  /** the last error to show (the UI words it in the reader's language) */
  lastError: unknown;
  /** bumps on every change: the UI re-renders on it */
  version = 0;

  private dir = new Map<string, DirMember>();
  private chains = new Map<string, Chain>();
  private ownChains = new Map<number, ChainRecord>();
  private verifier: LogVerifier;
  private raw: RawEvent[] = [];
  private items: Item[] = [];
  private live: Live | undefined;
  private listeners = new Set<Listener>();
  private flushing: Promise<void> | undefined;
  private syncing: Promise<void> | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private heads = new Map<string, { pos: number; hash: string }>();
  private checkedServerCopy = false;
  private lastContact = Date.now();
  private previewChecks: EventCheck[] | undefined;

  private constructor(
    private store: Store,
    rec: RoomRecord,
  ) {
    this.rec = rec;
    this.verifier = new LogVerifier(this.verifyContext());
  }

  private verifyContext(): VerifyContext {
    const rec = this.rec;
    return {
      room: rec.room,
      member: (id) => this.dir.get(id),
      chain: (s, e) => this.chains.get(chainKey(s, e)),
      get complete() {
        return rec.isCoordinator || rec.firstPos === 1;
      },
      cached: (ev) => {
        const c = this.checkCache.get(ev.pos);
        return c && c.body === ev.body && c.sig === ev.sig ? c.check : undefined;
      },
    };
  }

  /** Verification results stored with this device's copy of each event. */
  private checkCache = new Map<number, { body: string; sig: string; check: CachedCheck }>();

  /** Stores events with what this device found about them. */
  private async persist(events: RawEvent[]): Promise<void> {
    const byPos = new Map(this.verifier.checks.map((c) => [c.pos, c]));
    await this.store.putEvents(
      this.room,
      events.map((e) => {
        const c = byPos.get(e.pos);
        const check = c && c.hash ? { hash: c.hash, sigOk: c.sigOk, plain: c.key === 'ok' ? c.plain : undefined } : undefined;
        if (check) this.checkCache.set(e.pos, { body: e.body, sig: e.sig, check });
        return { ...e, check };
      }),
    );
  }

  // ---------------------------------------------------------------- opening

  /** Opens a room this device has keys for, from what IndexedDB holds. */
  static async open(store: Store, room: string): Promise<RoomClient> {
    mark('opening the room');
    const rec = await store.getRoom(room);
    if (!rec) throw new AppError('no_keys', 'this device has no keys for this room: open your invitation link again, or ask the coordinator for a new one');
    const c = new RoomClient(store, rec);
    for (const m of await store.listDirectory(room)) c.dir.set(m.id, m);
    if (rec.rosterParsed) c.roster = rec.rosterParsed;
    for (const ch of await store.listChains(room)) c.loadChain(ch);
    c.outboxCount = (await store.outbox(room)).length;
    const events = await store.getEvents(room);
    for (const e of events) if (e.check) c.checkCache.set(e.pos, { body: e.body, sig: e.sig, check: e.check });
    await c.ingest(
      events.map(({ pos, body, sig, received_at }) => ({ pos, body, sig, received_at })),
      false,
    );
    mark(`opened from this device's ${events.length} stored events`);
    return c;
  }

  private loadChain(ch: ChainRecord): void {
    this.chains.set(chainKey(ch.sender, ch.epoch), new Chain(ch.start, ch.ck));
    if (ch.own) this.ownChains.set(ch.epoch, ch);
  }

  get room(): string {
    return this.rec.room;
  }
  get memberId(): string {
    return this.rec.memberId;
  }
  get epoch(): number {
    return this.roster?.epoch ?? 1;
  }
  get isCoordinator(): boolean {
    return this.rec.isCoordinator;
  }
  get removed(): boolean {
    return this.rec.status === 'removed' || this.rec.status === 'refused';
  }
  get admitted(): boolean {
    return !!this.roster?.members.some((m) => m.id === this.rec.memberId);
  }
  get list(): Item[] {
    return this.items;
  }
  get rawEvents(): RawEvent[] {
    return this.raw;
  }
  summary(): VerifySummary {
    return this.verifier.summary();
  }
  /**
   * Verifies every raw event again from scratch, every signature and
   * decryption included (the export: evidence is not taken from a cache).
   */
  async verifyAll(): Promise<Verified> {
    const v = await verifyEvents({ ...this.verifyContext(), cached: undefined }, this.raw);
    // Keep what the comparison with this device's own copies found.
    const flagged = new Set(this.verifier.checks.filter((c) => c.problems.some((p) => p.code === 'server_copy')).map((c) => c.pos));
    for (const c of v.checks) {
      if (flagged.has(c.pos)) {
        c.problems.push(new Problem('server_copy'));
        c.verified = false;
      }
    }
    v.summary.gaps.push(...this.verifier.gaps.filter((g) => g.code === 'lost_on_server'));
    v.summary.failed = v.checks.filter((c) => !c.verified).length;
    v.summary.verified = v.checks.length - v.summary.failed;
    v.summary.ok = v.summary.ok && v.summary.failed === 0 && v.summary.gaps.length === 0;
    return v;
  }
  memberName(id: string): string {
    return this.dir.get(id)?.name ?? id.slice(0, 8);
  }
  members(): RosterMember[] {
    return this.roster?.members ?? [];
  }

  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  private changed(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  // ------------------------------------------------------------ connection

  start(): void {
    if (this.removed) return;
    this.live = new Live({
      url: api.wsUrl(this.room),
      token: this.rec.token,
      onOpen: () => void this.sync(),
      onState: (s) => {
        this.conn = s;
        this.changed();
      },
      onMessage: (m) => void this.onLive(m),
      onActivity: () => {
        this.lastContact = Date.now();
      },
    });
    this.live.start();
    // A pending member also polls: admission must show even if the live
    // connection is refused to pending members.
    // Also a watchdog: drafts waiting are retried, and a connection silent
    // for 30 s is checked with a request (which restarts it if it fails).
    this.pollTimer = setInterval(() => {
      if (!this.admitted || this.conn !== 'online' || Date.now() - this.lastContact > 30000) void this.sync();
      else if (this.outboxCount > 0) void this.flush().catch((e) => this.report(e));
    }, 5000);
    void this.sync();
  }

  stop(): void {
    this.live?.stop();
    this.live = undefined;
    clearInterval(this.pollTimer);
  }

  private async onLive(m: WsMessage): Promise<void> {
    try {
      switch (m.type) {
        case 'event':
          await this.ingestLive({ pos: m.pos, body: m.body, sig: m.sig, received_at: m.received_at });
          break;
        case 'roster':
          this.noteVisibleFrom(m.visible_from);
          await this.applyRoster({ body: m.body, sig: m.sig });
          await this.duties();
          break;
        case 'wraps':
          await this.applyWraps([{ id: m.id, body: m.body, sig: m.sig }]);
          break;
        case 'history':
          if (await this.applyHistory([{ id: m.id, body: m.body, sig: m.sig }])) await this.recheckServerCopy();
          break;
        case 'pending':
          // The relay pushes the whole pending list to the coordinator.
          if (Array.isArray(m.pending)) {
            this.pending = m.pending;
            this.changed();
          } else await this.sync();
          break;
        case 'presence':
          this.online = new Set(Array.isArray(m.online) ? m.online : []);
          this.changed();
          break;
        case 'removed':
          // The relay says "removed" both to a member taken out and to a
          // device whose request the coordinator refused.
          await this.markRemoved(this.rec.status === 'pending' ? 'refused' : 'removed');
          break;
      }
    } catch (e) {
      this.report(e);
    }
  }

  private report(e: unknown): void {
    if (e instanceof RosterError) this.alarm = e.message;
    else this.lastError = e;
    this.changed();
  }

  /** Catches up: state, roster, wraps, events, then sends the outbox. */
  sync(): Promise<void> {
    if (!this.syncing) {
      this.syncing = this.doSync().finally(() => {
        this.syncing = undefined;
      });
    }
    return this.syncing;
  }

  private async doSync(): Promise<void> {
    if (this.removed) return;
    try {
      const st = await api.state(this.rec.token, this.room);
      this.lastContact = Date.now();
      // The server answers: if the live connection is waiting out its
      // backoff, connect now rather than in up to 30 s.
      if (this.conn !== 'online') this.live?.kick();
      this.noteVisibleFrom(st.visible_from);
      if (st.roster) await this.applyRoster(st.roster);
      this.pending = Array.isArray(st.pending) ? st.pending : [];
      if (Array.isArray(st.online)) this.online = new Set(st.online);
      if (this.removed || !this.admitted) {
        this.changed();
        return;
      }
      await this.fetchWraps();
      const widened = await this.fetchHistory();
      if (widened || (!this.checkedServerCopy && this.raw.length)) await this.recheckServerCopy();
      else await this.fetchEvents();
      this.checkedServerCopy = true;
      this.lastError = undefined;
      this.changed();
      await this.duties();
      await this.flush();
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403) && this.rec.status !== 'pending') {
        await this.markRemoved();
        return;
      }
      if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 410)) {
        // A pending member whose request was refused.
        await this.markRemoved('refused');
        return;
      }
      if (!isNetworkError(e)) this.report(e);
      else if (this.conn === 'online') this.live?.restart();
    }
  }

  private async markRemoved(status: 'removed' | 'refused' = 'removed'): Promise<void> {
    if (this.removed) return;
    this.rec.status = status;
    await this.store.putRoom(this.rec);
    this.stop();
    this.changed();
  }

  // ----------------------------------------------------------------- roster

  async applyRoster(s: Signed): Promise<void> {
    if (this.rec.roster && this.rec.roster.body === s.body && this.roster) return;
    const r = await verifyRoster(s, this.room, this.rec.coordinatorSign, this.roster);
    const updates: DirMember[] = [];
    for (const m of r.members) {
      const old = this.dir.get(m.id);
      const d: DirMember = { id: m.id, name: m.name, sign: m.sign, dh: m.dh, since: m.since, removedAt: undefined };
      if (!old || old.name !== d.name || old.since !== d.since || old.removedAt !== undefined) updates.push(d);
      this.dir.set(m.id, d);
    }
    for (const id of r.removed) {
      const old = this.dir.get(id);
      if (old && old.removedAt === undefined) {
        const d = { ...old, removedAt: r.epoch };
        this.dir.set(id, d);
        updates.push(d);
      }
    }
    await this.store.putDirectory(this.room, updates);
    const wasAdmitted = this.admitted;
    this.roster = r;
    this.rec.roster = s;
    this.rec.rosterParsed = r;
    if (r.removed.includes(this.rec.memberId)) {
      this.rec.status = this.rec.status === 'pending' ? 'refused' : 'removed';
      this.stop();
    } else if (r.members.some((m) => m.id === this.rec.memberId)) {
      this.rec.status = 'member';
    }
    await this.store.putRoom(this.rec);
    this.changed();
    if (!wasAdmitted && this.admitted && !this.removed) void this.sync();
  }

  // ------------------------------------------------------------------ wraps

  private async fetchWraps(): Promise<void> {
    for (;;) {
      const ws = await api.getWraps(this.rec.token, this.room, this.rec.lastWrapId);
      if (!ws.length) return;
      await this.applyWraps(ws, true);
      if (ws.length < 100) return; // no paging in the spec: one more call confirms the end
    }
  }

  /**
   * Opens key bundles. Only pages fetched from the relay move the cursor
   * (`advance`): a pushed bundle is applied but fetched again later, so a
   * bad push can never make this device skip keys.
   */
  async applyWraps(records: WrapRecord[], advance = false): Promise<void> {
    const me = { id: this.rec.memberId, dhPriv: this.rec.dhKeys.privateKey, dhPub: fromB64u(this.rec.dhPub) };
    const opened = await Promise.all(
      records.map((w) =>
        openWrapBundle(w, me, this.room, (id) => this.dir.get(id)?.sign).then(
          (o) => ({ w, o, err: undefined }),
          (err: unknown) => ({ w, o: undefined, err }),
        ),
      ),
    );
    for (const { w, o, err } of opened) {
      if (o) {
        const existing = this.chains.get(chainKey(o.sender, o.epoch));
        // Keep the earliest index: it opens the most entries. Checked and
        // set with no await between (a history share may land meanwhile).
        if (!existing || o.index < existing.start) {
          const rec: ChainRecord = { room: this.room, sender: o.sender, epoch: o.epoch, start: o.index, ck: o.ck, own: false };
          this.loadChain(rec);
          await this.store.putChain(rec);
        }
      } else {
        let sender = '?';
        try {
          sender = String((JSON.parse(w.body) as { sender?: string }).sender);
        } catch {
          /* malformed */
        }
        const why = err instanceof WrapError ? err.message : 'unreadable';
        if (!this.wrapFailures.some((f) => f.sender === sender && f.why === why)) this.wrapFailures.push({ sender, why });
      }
      if (advance && w.id !== undefined && (this.rec.lastWrapId === undefined || Number(w.id) > Number(this.rec.lastWrapId) || isNaN(Number(w.id)))) {
        this.rec.lastWrapId = w.id;
      }
    }
    await this.store.putRoom(this.rec);
    const now = await this.verifier.retryKeys();
    if (now.length) {
      const byPos = new Map(this.raw.map((e) => [e.pos, e]));
      const own = now.map((c) => byPos.get(c.pos)).filter((e): e is RawEvent => !!e && this.checkCache.get(e.pos)?.body === e.body);
      await this.persist(own);
      this.rebuildItems();
    }
    this.changed();
  }

  // --------------------------------------------------------- shared history

  /** History shares addressed to me (history share v1); true when one widened what I read. */
  private async fetchHistory(): Promise<boolean> {
    const list = await api.getHistory(this.rec.token, this.room, this.rec.lastHistoryId);
    return list.length ? this.applyHistory(list) : false;
  }

  /**
   * Opens history shares: each must be signed by the coordinator key pinned
   * from the invitation, name this room and this device, and list as
   * former members only ids the signed roster says were removed. Their
   * keys join the chains this device holds (the earliest index is kept);
   * the caller then downloads the earlier entries, verified as any other.
   */
  async applyHistory(records: WrapRecord[]): Promise<boolean> {
    const me = { id: this.rec.memberId, dhPriv: this.rec.dhKeys.privateKey, dhPub: fromB64u(this.rec.dhPub) };
    let widened = false;
    for (const w of records) {
      const id = Number(w.id);
      if (this.rec.lastHistoryId !== undefined && id <= this.rec.lastHistoryId) continue;
      try {
        const { bundle, keys } = await openHistoryBundle(w, me, this.room, this.rec.coordinatorSign);
        const removed = new Set(this.roster?.removed ?? []);
        const former: DirMember[] = [];
        for (const f of bundle.former) {
          if (!removed.has(f.id)) throw new HistoryError('shared history naming a former member who was not removed');
          if (!this.dir.has(f.id)) former.push({ id: f.id, name: f.name, sign: f.sign, dh: '', since: f.since, removedAt: f.removed });
        }
        for (const d of former) this.dir.set(d.id, d);
        await this.store.putDirectory(this.room, former);
        for (const k of keys) {
          const existing = this.chains.get(chainKey(k.sender, k.epoch));
          if (existing && (k.index >= existing.start || this.ownChains.get(k.epoch)?.sender === k.sender)) continue;
          const rec: ChainRecord = { room: this.room, sender: k.sender, epoch: k.epoch, start: k.index, ck: k.ck, own: false };
          this.loadChain(rec); // before any await: a wrap may land meanwhile
          await this.store.putChain(rec);
        }
        widened = true;
        this.rec.historyShared = [...(this.rec.historyShared ?? []), { by: bundle.sender, from: bundle.from, at: new Date().toISOString() }].slice(-20);
      } catch (err) {
        const why = err instanceof HistoryError || err instanceof Error ? err.message : 'unreadable';
        if (!this.wrapFailures.some((f) => f.sender === 'history' && f.why === why)) this.wrapFailures.push({ sender: 'history', why });
      }
      if (Number.isSafeInteger(id)) this.rec.lastHistoryId = Math.max(this.rec.lastHistoryId ?? 0, id);
    }
    await this.store.putRoom(this.rec);
    this.changed();
    return widened;
  }

  // ----------------------------------------------------------------- events

  private async fetchEvents(): Promise<void> {
    // A device that holds nothing yet downloads every page first, so that
    // the newest entries can be shown before the whole room is verified.
    const firstLoad = this.raw.length === 0;
    mark('fetching events');
    const all: RawEvent[] = [];
    let after = this.rec.lastPos;
    for (;;) {
      const { events, more } = await api.getEvents(this.rec.token, this.room, after, 5000);
      if (firstLoad) all.push(...events);
      else if (events.length) await this.ingest(events, true);
      if (!more || !events.length) break;
      after = Math.max(after, ...events.map((e) => e.pos));
    }
    if (all.length) {
      mark(`downloaded ${all.length} events`);
      await this.ingest(all, true);
      mark(`verified ${all.length} events`);
    }
  }

  /**
   * On the first sync after opening from this device's cache: downloads the
   * whole room again and verifies the server's copy, comparing it with the
   * copies this device received earlier. An entry altered or deleted on the
   * server since shows as failing, even if this device's own copy is intact
   * (the export must show it). The local copies are kept as they were.
   */
  private recheckServerCopy(): Promise<void> {
    const run = this.ingestQueue.then(async () => {
      mark('downloading the room again to compare it with this device\'s copy');
      const server: RawEvent[] = [];
      let after = 0;
      for (;;) {
        const { events, more } = await api.getEvents(this.rec.token, this.room, after, 5000);
        server.push(...events.filter((e) => e && Number.isSafeInteger(e.pos)));
        if (!more || !events.length) break;
        after = events[events.length - 1].pos;
      }
      server.sort((a, b) => a.pos - b.pos);
      const local = new Map(this.raw.map((e) => [e.pos, e]));
      const byPos = new Map(server.map((e) => [e.pos, e]));
      const unseen = server.filter((e) => !local.has(e.pos));
      mark(`downloaded ${server.length} events (${unseen.length} new)`);
      if (unseen.length > preview.after) await this.showPreview(unseen);
      // Shared history (history share v1) starts this device's copy earlier.
      if (server.length && (this.rec.firstPos === undefined || server[0].pos < this.rec.firstPos)) this.rec.firstPos = server[0].pos;
      const v = new LogVerifier(this.verifyContext());
      try {
        await addInSlices(v, server);
      } finally {
        this.previewChecks = undefined; // never "verifying" forever
      }
      mark(`verified ${server.length} events`);
      const seen = new Set<number>();
      for (const c of v.checks) {
        seen.add(c.pos);
        const l = local.get(c.pos);
        const srv = byPos.get(c.pos);
        if (l && srv && (l.body !== srv.body || l.sig !== srv.sig)) {
          c.problems.push(new Problem('server_copy'));
          c.verified = false;
        }
      }
      const lost = [...local.keys()].filter((p) => !seen.has(p));
      if (lost.length) v.gaps.push(new Problem('lost_on_server', { n: lost.length, first: lost[0] }));
      const fresh = server.filter((e) => e.pos > this.rec.lastPos);
      this.verifier = v;
      this.raw = server;
      this.heads.clear();
      for (const c of v.checks) {
        if (c.env && c.sigOk && c.env.sender !== this.rec.memberId) this.heads.set(c.env.sender, { pos: c.pos, hash: c.hash });
      }
      // Shown first, stored after: storing 10,000 entries takes a while.
      this.rebuildItems();
      this.changed();
      if (unseen.length) {
        await yieldToUi(50); // IndexedDB copies synchronously: draw first
        if (fresh.length) this.rec.lastPos = Math.max(this.rec.lastPos, fresh[fresh.length - 1].pos);
        await this.persist(unseen); // earlier copies are kept as received
        await this.store.putRoom(this.rec);
      }
    });
    this.ingestQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * A single event from the live connection or a POST answer: taken only if
   * it is the next position; otherwise catch up from the server, so that a
   * live event racing a page never leaves a hole.
   */
  private async ingestLive(ev: RawEvent): Promise<void> {
    if (!Number.isSafeInteger(ev.pos) || ev.pos <= this.rec.lastPos) return;
    if (ev.pos === this.rec.lastPos + 1) {
      await this.ingest([ev], true);
    } else if (this.admitted) {
      await this.fetchEvents();
    }
  }

  private ingestQueue: Promise<void> = Promise.resolve();

  /** Serialised: the verifier's chain state must see events in order. */
  private ingest(events: RawEvent[], persist: boolean): Promise<void> {
    const run = this.ingestQueue.then(() => this.doIngest(events, persist));
    this.ingestQueue = run.catch(() => undefined);
    return run;
  }

  private async doIngest(events: RawEvent[], persist: boolean): Promise<void> {
    const fresh = events.filter((e) => e && Number.isSafeInteger(e.pos) && e.pos > (persist ? this.rec.lastPos : 0));
    if (!fresh.length) return;
    fresh.sort((a, b) => a.pos - b.pos);
    if (this.rec.firstPos === undefined) this.rec.firstPos = fresh[0].pos;
    const ctx = this.verifyContext();
    const uncached = fresh.filter((e) => !ctx.cached?.(e));
    if (uncached.length > preview.after) await this.showPreview(uncached);
    let checks: EventCheck[];
    try {
      checks = await addInSlices(this.verifier, fresh);
    } finally {
      this.previewChecks = undefined; // never "verifying" forever
    }
    this.raw.push(...fresh.filter((e) => !this.raw.length || e.pos > this.raw[this.raw.length - 1].pos));
    for (const c of checks) {
      if (c.env && c.sigOk && c.env.sender !== this.rec.memberId) {
        const h = this.heads.get(c.env.sender);
        if (!h || h.pos < c.pos) this.heads.set(c.env.sender, { pos: c.pos, hash: c.hash });
      }
    }
    this.rec.lastPos = Math.max(this.rec.lastPos, fresh[fresh.length - 1].pos);
    // Shown first, stored after: storing 10,000 entries takes a while.
    this.rebuildItems();
    this.changed();
    if (persist) {
      if (fresh.length > 100) await yieldToUi(50); // IndexedDB copies synchronously: draw first
      await this.persist(fresh);
      await this.store.putRoom(this.rec);
    }
  }

  /**
   * Many new entries at once (a large room opening on this device for the
   * first time, or a device back after a long absence): checks the
   * signatures of the newest ones and decrypts them first, to show them
   * while all of them are verified (chains, every signature). Until then the
   * integrity indicator says "verifying", never "intact".
   */
  private async showPreview(events: RawEvent[]): Promise<void> {
    const v = new LogVerifier({ ...this.verifyContext(), complete: false, cached: undefined });
    await v.add(events.slice(-preview.size));
    mark(`preview: newest ${v.checks.length} verified`);
    this.previewChecks = v.checks;
    this.rebuildItems();
    this.changed();
    await yieldToUi(50); // let the page draw them before the long part
  }

  /** true while a first, partial view is shown (see preview). */
  get verifying(): boolean {
    return this.previewChecks !== undefined;
  }

  private rebuildItems(): void {
    const items: Item[] = [];
    let title: string | undefined;
    let list = this.verifier.checks;
    if (this.previewChecks?.length) {
      const from = this.previewChecks[0].pos;
      list = [...list.filter((c) => c.pos < from), ...this.previewChecks];
    }
    for (const c of list) {
      const e = c.env;
      const content = c.plain === undefined ? undefined : normalizeContent(c.plain);
      if (content?.t === 'meta' && c.verified && e?.sender === this.roster?.coordinator) title = content.title;
      items.push({
        pos: c.pos,
        hash: c.hash,
        sender: e?.sender ?? '',
        authorName: e ? this.memberName(e.sender) : '?',
        time: e?.time ?? '',
        receivedAt: c.receivedAt,
        content,
        check: c,
      });
    }
    this.items = items;
    if (title !== undefined && title !== this.rec.title) {
      this.rec.title = title;
      this.store.putRoom(this.rec).catch((e) => this.report(e));
    }
  }

  // ---------------------------------------------------------- sender duties

  private async ownChain(epoch: number): Promise<ChainRecord> {
    let ch = this.ownChains.get(epoch);
    if (!ch) {
      ch = { room: this.room, sender: this.rec.memberId, epoch, start: 0, ck: randomBytes(32), own: true, next: 0 };
      await this.store.putChain(ch);
      this.loadChain(ch);
    }
    return ch;
  }

  /**
   * Sender-key duties towards members admitted after I drew a chain: they
   * run in the outbox's flush (wraps go out between two entries, never
   * while one of mine is on its way), so this only starts a flush.
   */
  private async duties(): Promise<void> {
    if (!this.roster || !this.admitted || this.removed) return;
    await this.flush();
  }

  /**
   * At the start of each round of the flush: the wraps owed to members
   * admitted late, for each epoch I wrote in (an admission followed at once
   * by a removal leaves a debt in the epoch that ended). `head` is the
   * entry about to be sent: sealed already, it may or may not be stored by
   * the relay, so its epoch waits for the next round.
   */
  private async lateWraps(head: OutboxItem | undefined): Promise<void> {
    if (!this.roster || !this.admitted || this.removed) return;
    try {
      for (const ch of [...this.ownChains.values()].sort((a, b) => a.epoch - b.epoch)) {
        await this.sendWraps(ch, head?.sealed?.epoch === ch.epoch);
      }
    } catch (e) {
      // Offline: owed wraps wait for the next flush; the entries go on.
      if (!isNetworkError(e)) this.report(e);
    }
  }

  /** wrapsSent per epoch: members given my chain, or who need none. */
  private wrapsDone = new Map<number, Set<string>>();

  /**
   * My envelopes of an epoch known here, {i, pos} in position order; or
   * undefined while the relay has confirmed an envelope of mine that has
   * not been received yet (its position is unknown).
   */
  private ownEntries(epoch: number): { i: number; pos: number }[] | undefined {
    let seq = 0;
    const out: { i: number; pos: number }[] = [];
    for (const c of this.verifier.checks) {
      const e = c.env;
      if (!e || e.sender !== this.rec.memberId) continue;
      seq = Math.max(seq, e.seq);
      if (e.epoch === epoch) out.push({ i: e.i, pos: c.pos });
    }
    if (seq < this.rec.seq) return undefined;
    return out.sort((a, b) => a.pos - b.pos);
  }

  /**
   * Wraps my chain `ch` for every member of the roster who was in its
   * epoch and has not had it. The relay orders envelopes (`pos`) and says
   * at which position each member was admitted (`visible_from`): a member
   * gets my chain at the index of my first envelope of the epoch at or
   * after that position, or at my next index if I wrote none since. So an
   * entry I write as they are admitted is readable by them, and nothing
   * before their admission is. A member whose index cannot be known yet
   * (position not received, `inFlight`: an entry of mine of this epoch may
   * or may not be stored, or a confirmed entry not received yet) is left
   * for a later round. In an epoch that is over, a member admitted after
   * my last entry of it needs nothing.
   * Runs only inside the flush (lateWraps, seal).
   */
  private async sendWraps(ch: ChainRecord, inFlight = false): Promise<void> {
    if (!this.roster) return;
    const epoch = ch.epoch;
    const current = epoch === this.roster.epoch;
    let done = this.wrapsDone.get(epoch);
    if (!done) {
      done = await this.store.wrapsSent(this.room, epoch);
      this.wrapsDone.set(epoch, done);
    }
    const todo = this.roster.members.filter((m) => m.id !== this.rec.memberId && m.since <= epoch && !done.has(m.id));
    if (!todo.length) return;
    const next = ch.next ?? 0;
    const groups = new Map<number, RosterMember[]>();
    const needNone: string[] = [];
    let mine: { i: number; pos: number }[] | undefined;
    for (const m of todo) {
      let index: number | undefined;
      if (next === 0) {
        // Nothing written with this chain: whoever is listed reads all of it.
        if (!current) {
          needNone.push(m.id);
          continue;
        }
        index = 0;
      } else {
        const from = this.visibleFrom.get(m.id);
        if (from === undefined) continue;
        mine ??= this.ownEntries(epoch);
        if (!mine) return;
        const first = mine.find((e) => e.pos >= from);
        if (first) index = first.i;
        else if (inFlight) continue;
        else if (current) index = next;
        else {
          needNone.push(m.id);
          continue;
        }
      }
      groups.set(index, [...(groups.get(index) ?? []), m]);
    }
    const chain = this.chains.get(chainKey(ch.sender, epoch))!;
    for (const [index, to] of groups) {
      const ck = await chain.chainKey(index);
      const bundle = await makeWrapBundle(this.rec.signKeys.privateKey, this.room, epoch, this.rec.memberId, to, index, ck);
      await api.postWraps(this.rec.token, this.room, bundle);
      for (const m of to) done.add(m.id);
      await this.store.putWrapsSent(this.room, epoch, done);
    }
    if (needNone.length) {
      for (const id of needNone) done.add(id);
      await this.store.putWrapsSent(this.room, epoch, done);
    }
  }

  /** Admission positions from the relay (state, roster push, roster answer). */
  private noteVisibleFrom(v: Record<string, number> | undefined): void {
    if (!v || typeof v !== 'object') return;
    for (const [id, pos] of Object.entries(v)) {
      if (Number.isSafeInteger(pos) && pos >= 1) this.visibleFrom.set(id, pos);
    }
  }

  /** member id → first position it may read (its admission) */
  private visibleFrom = new Map<string, number>();

  // ----------------------------------------------------------------- outbox

  /** Writes content: kept as a draft first, then sealed and sent. */
  async send(content: Content): Promise<void> {
    await this.store.addOutbox({ room: this.room, content, created: new Date().toISOString() });
    this.outboxCount = (await this.store.outbox(this.room)).length;
    this.changed();
    // Resolves once this attempt is over (sent, or kept for later); the UI
    // does not wait for it.
    await this.flush().catch((e) => this.report(e));
  }

  flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = this.doFlush().finally(() => {
        this.flushing = undefined;
      });
    }
    return this.flushing;
  }

  private refs(): string[] {
    return [...this.heads.values()]
      .sort((a, b) => b.pos - a.pos)
      .slice(0, 4)
      .map((h) => h.hash);
  }

  private async seal(item: OutboxItem): Promise<NonNullable<OutboxItem['sealed']>> {
    const epoch = this.epoch;
    const own = await this.ownChain(epoch);
    await this.sendWraps(own);
    const i = own.next ?? 0;
    own.next = i + 1;
    await this.store.putChain(own); // an index is never used twice, even after a crash
    const chain = this.chains.get(chainKey(own.sender, epoch))!;
    const seq = this.rec.seq + 1;
    const s = await sealEnvelope(
      this.rec.signKeys.privateKey,
      await chain.messageKey(i),
      { room: this.room, epoch, sender: this.rec.memberId, seq, prev: this.rec.lastHash, refs: this.refs(), i },
      item.content,
    );
    return { body: s.body, sig: s.sig, hash: s.hash, epoch, seq };
  }

  private async doFlush(): Promise<void> {
    if (!this.admitted || this.removed) return;
    for (;;) {
      const items = await this.store.outbox(this.room);
      this.outboxCount = items.length;
      this.changed();
      await this.lateWraps(items[0]);
      const item = items[0];
      if (!item) return;
      try {
        // Sealed bytes are always posted again as they are, even after an
        // epoch change: if the relay took them before the connection broke,
        // it answers with their position (no duplicate); otherwise 409, and
        // the draft is sealed again below.
        if (!item.sealed) {
          item.sealed = await this.seal(item);
          await this.store.putOutbox(item);
        }
        const res = await api.postEvent(this.rec.token, this.room, item.sealed);
        this.rec.seq = item.sealed.seq;
        this.rec.lastHash = item.sealed.hash;
        await this.store.putRoom(this.rec);
        await this.store.deleteOutbox(item.id!);
        await this.ingestLive({ pos: res.pos, body: item.sealed.body, sig: item.sealed.sig, received_at: res.received_at });
      } catch (e) {
        if (e instanceof ApiError && e.status === 409) {
          // Another epoch (someone was removed) or my chain moved on:
          // re-encrypt under what the server says is current.
          const b = e.body as { epoch?: number; next_seq?: number; prev?: string };
          if (typeof b.next_seq === 'number') this.rec.seq = b.next_seq - 1;
          if (typeof b.prev === 'string') this.rec.lastHash = b.prev;
          await this.store.putRoom(this.rec);
          item.sealed = undefined;
          await this.store.putOutbox(item);
          if (typeof b.epoch === 'number' && b.epoch !== this.epoch) {
            const st = await api.state(this.rec.token, this.room);
            this.noteVisibleFrom(st.visible_from);
            await this.applyRoster(st.roster);
            if (this.epoch !== b.epoch) throw new AppError('epoch_disagree', 'the server and the member list disagree on the key period: reload the page');
          }
          continue;
        }
        if (isNetworkError(e)) {
          // Stays in the outbox; sent on reconnection. The socket may not
          // have noticed the network is gone: make it find out.
          if (this.conn === 'online') this.live?.restart();
          return;
        }
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          await this.markRemoved();
          return;
        }
        // Refused for good (malformed, too large): keep the draft out of the
        // way and say so rather than retrying forever.
        await this.store.deleteOutbox(item.id!);
        this.report(new Error(`an entry was refused by the server: ${e instanceof Error ? e.message : e}`));
      }
    }
  }

  // ------------------------------------------------------------ attachments

  async uploadFile(file: { name: string; type: string; bytes: Uint8Array }): Promise<FileRef> {
    const b = await encryptBlob(file.bytes);
    const res = await api.postBlob(this.rec.token, this.room, b.ciphertext);
    if (res.id !== b.id) throw new Error('the server stored the file under another id: try again');
    return { blob: b.id, key: b64u(b.key), name: file.name, size: file.bytes.length, type: file.type };
  }

  async downloadFile(f: FileRef): Promise<Uint8Array> {
    const ct = await api.getBlob(this.rec.token, this.room, f.blob);
    return decryptBlob(ct, fromB64u(f.key));
  }

  // ------------------------------------------------------ coordinator acts

  private async putRoster(next: Omit<Roster, 'v' | 'room' | 'coordinator' | 'time'>): Promise<void> {
    const r: Roster = {
      v: VERSION,
      room: this.room,
      version: next.version,
      epoch: next.epoch,
      coordinator: this.rec.memberId,
      time: new Date().toISOString(),
      members: next.members,
      removed: next.removed,
    };
    const s = await signObject(this.rec.signKeys.privateKey, LABEL_ROSTER, this.room, r);
    const res = await api.putRoster(this.rec.token, this.room, s);
    if (typeof res.visible_from === 'number') {
      const had = new Set(this.roster?.members.map((m) => m.id));
      this.noteVisibleFrom(Object.fromEntries(r.members.filter((m) => !had.has(m.id)).map((m) => [m.id, res.visible_from!])));
    }
    await this.applyRoster(s);
  }

  /**
   * Builds the next roster from the current one and sends it; when another
   * change got there first (409: stale version), fetches the state and
   * builds again, once.
   */
  private async changeRoster(next: (cur: Roster) => Omit<Roster, 'v' | 'room' | 'coordinator' | 'time'>): Promise<void> {
    try {
      await this.putRoster(next(this.requireRoster()));
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) throw e;
      const st = await api.state(this.rec.token, this.room);
      this.noteVisibleFrom(st.visible_from);
      await this.applyRoster(st.roster);
      await this.putRoster(next(this.requireRoster()));
    }
  }

  /**
   * History share v1 (coordinator): hands member `id` the chain keys this
   * device holds for the entries written before its admission, from the
   * start of the room or from the first entry received at or after
   * `since`. Only what this device can read is shared. Returns the number
   * of entries the member can now read.
   */
  async shareHistory(id: string, since?: Date): Promise<number> {
    const r = this.requireRoster();
    const m = r.members.find((x) => x.id === id);
    if (!m || id === this.rec.memberId) throw new Error('share the history only with an admitted member');
    if (!this.visibleFrom.has(id)) this.noteVisibleFrom((await api.state(this.rec.token, this.room)).visible_from);
    const vis = this.visibleFrom.get(id);
    if (vis === undefined) throw new Error('the server has not said when this member was admitted: try again');
    await this.fetchEvents(); // every entry before the admission is here
    const before = this.verifier.checks.filter((c) => c.pos < vis && c.env && c.sigOk);
    const start = since ? before.findIndex((c) => c.receivedAt !== undefined && Date.parse(c.receivedAt) >= since.getTime()) : 0;
    if (start < 0 || !before.length) return 0;
    const shared = before.slice(start);
    const from = since ? shared[0].pos : 1; // from the start: the member checks every chain from seq 1
    // Per (sender, epoch): the chain at the first index to share, or at
    // this device's own first index when it holds only later ones.
    const first = new Map<string, { sender: string; epoch: number; i: number }>();
    for (const c of shared) {
      const e = c.env!;
      const k = chainKey(e.sender, e.epoch);
      const f = first.get(k);
      if (!f || e.i < f.i) first.set(k, { sender: e.sender, epoch: e.epoch, i: e.i });
    }
    const keys: HistoryKey[] = [];
    let readable = 0;
    for (const [k, f] of first) {
      const chain = this.chains.get(k);
      if (!chain) continue;
      const index = Math.max(f.i, chain.start);
      keys.push({ sender: f.sender, epoch: f.epoch, index, ck: await chain.chainKey(index) });
      readable += shared.filter((c) => c.env!.sender === f.sender && c.env!.epoch === f.epoch && c.env!.i >= index).length;
    }
    const listed = new Set(r.members.map((x) => x.id));
    const former: FormerMember[] = [];
    for (const s of new Set(shared.map((c) => c.env!.sender))) {
      const d = this.dir.get(s);
      if (!listed.has(s) && d && d.removedAt !== undefined) {
        former.push({ id: d.id, name: d.name, sign: d.sign, since: d.since, removed: d.removedAt });
      }
    }
    const bundle = await makeHistoryBundle(this.rec.signKeys.privateKey, this.room, this.rec.memberId, m, from, former, keys);
    await api.postHistory(this.rec.token, this.room, bundle);
    return readable;
  }

  async admit(p: PendingMember, opts: { shareHistory?: boolean } = {}): Promise<void> {
    await this.changeRoster((cur) => {
      if (cur.members.some((m) => m.id === p.id)) throw new Error(`${p.name} is already admitted`);
      return {
        version: cur.version + 1,
        epoch: cur.epoch,
        members: [...cur.members, { id: p.id, name: p.name, sign: p.sign, dh: p.dh, proof: p.proof, since: cur.epoch }],
        removed: cur.removed,
      };
    });
    this.pending = this.pending.filter((x) => x.id !== p.id);
    this.changed();
    await this.duties();
    if (opts.shareHistory) await this.shareHistory(p.id);
    // The title travels encrypted: write it again so the newcomer can read it.
    if (this.rec.title) await this.send({ t: 'meta', title: this.rec.title });
  }

  /**
   * Refusing a pending member: the spec has no separate call. The refusal is
   * a roster listing them in "removed" (a removed id never comes back); the
   * epoch stays, since they never held a key (the relay starts a new epoch
   * only when a listed member is dropped). Their request and token end.
   */
  async refuse(p: PendingMember): Promise<void> {
    await this.changeRoster((cur) => ({
      version: cur.version + 1,
      epoch: cur.epoch,
      members: cur.members,
      removed: [...cur.removed, p.id],
    }));
    this.pending = this.pending.filter((x) => x.id !== p.id);
    this.changed();
  }

  /** Removes a member: a new roster with a new epoch, so every key rotates. */
  async remove(id: string): Promise<void> {
    await this.changeRoster((cur) => {
      if (id === cur.coordinator) throw new Error('the coordinator cannot remove themselves');
      if (!cur.members.some((m) => m.id === id)) throw new Error('this member was already removed');
      return {
        version: cur.version + 1,
        epoch: cur.epoch + 1,
        members: cur.members.filter((m) => m.id !== id),
        removed: [...cur.removed, id],
      };
    });
  }

  async createInvite(): Promise<{ link: string; expires: string }> {
    const inv = await api.invite(this.rec.token, this.room);
    const origin = globalThis.location ? `${location.protocol}//${location.host}` : '';
    return {
      link: `${origin}/crisis/#/join/${this.room}/${inv.token}/${this.rec.coordinatorSign}`,
      expires: inv.expires_at,
    };
  }

  private requireRoster(): Roster {
    if (!this.roster) throw new Error('the member list has not loaded yet: wait for the connection');
    if (!this.isCoordinator) throw new Error('only the coordinator can change the member list');
    return this.roster;
  }

  // ------------------------------------------------------------- test hook

  /** Tries to open raw events with the chain keys this device holds. */
  async tryDecrypt(events: RawEvent[]): Promise<{ ok: number; failed: number }> {
    const res = await Promise.all(
      events.map(async (ev) => {
        try {
          const e = parseEnvelope(ev.body);
          const ch = this.chains.get(chainKey(e.sender, e.epoch));
          if (!ch || e.i < ch.start) return false;
          await openContent(await ch.messageKey(e.i), e);
          return true;
        } catch {
          return false;
        }
      }),
    );
    const ok = res.filter(Boolean).length;
    return { ok, failed: res.length - ok };
  }
}

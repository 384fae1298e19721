// An in-memory relay that follows docs/crisis-e2ee.md's API closely enough
// to drive RoomClient in Node: it checks signatures, epochs and chains like
// the Go relay, and stores only what it is sent (ciphertext).
import { b64u, fromB64u, randomBytes } from '../src/crypto/bytes';
import { hashBody, sha256 } from '../src/crypto/keys';
import { utf8 } from '../src/crypto/bytes';
import { verifySigned, verifyJoinProof, type Signed } from '../src/crypto/sign';
import type { Roster } from '../src/protocol/types';

interface Member {
  id: string;
  name: string;
  sign: string;
  dh: string;
  proof: string;
  token: string;
  status: 'pending' | 'member' | 'removed';
  joined_at: string;
  seq: number;
  last: string;
}

interface Room {
  id: string;
  coordinator: string;
  roster: Signed;
  parsed: Roster;
  members: Map<string, Member>;
  invites: Map<string, boolean>;
  events: { pos: number; body: string; sig: string; received_at: string; sender: string; seq: number; hash: string; epoch: number }[];
  hashes: Set<string>;
  wraps: { id: number; body: string; sig: string; to: string[] }[];
  blobs: Map<string, Uint8Array>;
  admittedAt: Map<string, number>;
  /** history share v1: signed bundles, each for one member, readable from `from` */
  history: { id: number; body: string; sig: string; to: string; from: number }[];
}

export class FakeRelay {
  rooms = new Map<string, Room>();
  offline = new Set<string>(); // member tokens whose device is "offline"
  requests: string[] = [];
  /** the relay's clock minus the devices' (received_at): clocks disagree */
  skewMs = 0;
  private wrapSeq = 0;

  fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input), 'http://relay');
    const method = init.method ?? 'GET';
    const auth = (init.headers as Record<string, string> | undefined)?.Authorization?.replace('Bearer ', '') ?? '';
    if (this.offline.has(auth)) throw new TypeError('Failed to fetch');
    this.requests.push(`${method} ${url.pathname}`);
    try {
      const [status, body] = await this.route(method, url, auth, init.body);
      if (body instanceof Uint8Array) return new Response(body as Uint8Array<ArrayBuffer>, { status });
      return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
    } catch (e) {
      return new Response(JSON.stringify({ error: String(e) }), { status: 500 });
    }
  };

  private async route(method: string, url: URL, auth: string, rawBody: unknown): Promise<[number, unknown]> {
    const p = url.pathname;
    const json = () => JSON.parse(String(rawBody ?? '{}'));
    if (method === 'POST' && p === '/v1/login') return [200, { token: 'session', role: 'coordinator', tenant: 't' }];
    if (p === '/v1/crisis/rooms') {
      if (auth !== 'session') return [401, { error: 'sign in' }];
      if (method === 'GET') return [200, { rooms: [...this.rooms.keys()].map((id) => ({ id })) }];
      const b = json();
      const r = JSON.parse(b.roster.body) as Roster;
      if (!(await verifySigned(b.sign, 'rempart-crisis-roster-v1', r.room, b.roster))) return [400, { error: 'bad roster signature' }];
      const id = b64u((await sha256(fromB64u(b.sign))).subarray(0, 16));
      const token = 'rcm_' + b64u(randomBytes(32));
      const m: Member = { id, name: b.name, sign: b.sign, dh: b.dh, proof: b.proof, token, status: 'member', joined_at: '', seq: 0, last: '' };
      this.rooms.set(r.room, {
        id: r.room, coordinator: b.sign, roster: b.roster, parsed: r, members: new Map([[id, m]]), invites: new Map(),
        events: [], hashes: new Set(), wraps: [], blobs: new Map(), admittedAt: new Map([[id, 0]]), history: [],
      });
      return [201, { room: r.room, member: id, member_token: token }];
    }
    const mm = p.match(/^\/v1\/crisis\/rooms\/([^/]+)\/(\w+)(?:\/(.+))?$/);
    if (!mm) return [404, { error: 'no such endpoint' }];
    const room = this.rooms.get(decodeURIComponent(mm[1]));
    if (!room) return [404, { error: 'no such room' }];
    const what = mm[2];
    if (what === 'join' && method === 'POST') {
      const b = json();
      if (!room.invites.get(b.invite)) return [410, { error: 'this invitation was used or has expired: ask the coordinator for a new link' }];
      if (!(await verifyJoinProof(room.id, b.name, b.sign, b.dh, b.proof))) return [400, { error: 'bad proof' }];
      room.invites.set(b.invite, false);
      const id = b64u((await sha256(fromB64u(b.sign))).subarray(0, 16));
      const token = 'rcm_' + b64u(randomBytes(32));
      room.members.set(id, { id, name: b.name, sign: b.sign, dh: b.dh, proof: b.proof, token, status: 'pending', joined_at: new Date().toISOString(), seq: 0, last: '' });
      const coord = room.members.get(room.parsed.coordinator)!;
      return [201, { member: id, member_token: token, coordinator: { id: coord.id, sign: coord.sign, dh: coord.dh } }];
    }
    const me = [...room.members.values()].find((m) => m.token === auth);
    if (!me || me.status === 'removed') return [401, { error: 'this device was removed from the room' }];
    const isCoord = me.id === room.parsed.coordinator;
    if (what === 'state') {
      if (me.status === 'pending') return [200, { room: room.id, you: { id: me.id, status: 'pending' }, roster: room.roster }];
      return [200, {
        room: room.id, you: { id: me.id, status: me.status }, roster: room.roster,
        pending: isCoord ? [...room.members.values()].filter((m) => m.status === 'pending').map(({ id, name, sign, dh, proof, joined_at }) => ({ id, name, sign, dh, proof, joined_at })) : [],
        epoch: room.parsed.epoch, last_pos: room.events.length, online: [],
        visible_from: this.visibleFrom(room),
      }];
    }
    if (me.status !== 'member') return [403, { error: 'wait for the coordinator to admit you' }];
    if (what === 'invites' && method === 'POST') {
      if (!isCoord) return [403, { error: 'coordinator only' }];
      const token = b64u(randomBytes(16));
      room.invites.set(token, true);
      return [201, { token, expires_at: new Date(Date.now() + 86400e3).toISOString() }];
    }
    if (what === 'roster' && method === 'PUT') {
      if (!isCoord) return [403, { error: 'coordinator only' }];
      const s = json() as Signed;
      if (!(await verifySigned(room.coordinator, 'rempart-crisis-roster-v1', room.id, s))) return [400, { error: 'bad signature' }];
      const r = JSON.parse(s.body) as Roster;
      if (r.version !== room.parsed.version + 1) return [409, { error: 'version' }];
      // A new epoch only when a listed member is dropped (a refused
      // pending member never held a key), as the Go relay does.
      const removing = room.parsed.members.some((m) => !r.members.some((x) => x.id === m.id));
      if (r.epoch !== room.parsed.epoch + (removing ? 1 : 0)) return [400, { error: 'a removal comes with epoch + 1' }];
      for (const m of r.members) {
        const d = room.members.get(m.id);
        if (!d || d.sign !== m.sign || d.dh !== m.dh || d.proof !== m.proof) return [400, { error: 'keys differ' }];
      }
      for (const m of r.members) {
        const d = room.members.get(m.id)!;
        if (d.status === 'pending') {
          d.status = 'member';
          room.admittedAt.set(m.id, room.events.length); // reads from events.length + 1 on
        }
      }
      for (const id of r.removed) {
        const d = room.members.get(id);
        if (d) d.status = 'removed';
      }
      room.roster = s;
      room.parsed = r;
      return [200, { version: r.version, epoch: r.epoch, visible_from: room.events.length + 1 }];
    }
    if (what === 'wraps') {
      if (method === 'POST') {
        const s = json() as Signed;
        const b = JSON.parse(s.body);
        if (b.sender !== me.id || !(await verifySigned(me.sign, 'rempart-crisis-wraps-v1', room.id, s))) return [400, { error: 'bad bundle' }];
        // As the Go relay: the current epoch, or an earlier one for members
        // who can read one of the sender's entries of it.
        if (b.epoch > room.parsed.epoch) return [409, { error: 'not the current epoch', code: 'epoch_conflict', epoch: room.parsed.epoch }];
        const vis = this.visibleFrom(room);
        const last = Math.max(0, ...room.events.filter((e) => e.sender === me.id && e.epoch === b.epoch).map((e) => e.pos));
        for (const w of b.wraps as { to: string }[]) {
          if (vis[w.to] === undefined) return [400, { error: 'not an admitted member' }];
          if (b.epoch < room.parsed.epoch && vis[w.to] > last) return [409, { error: 'cannot read any entry of that epoch', code: 'epoch_conflict', epoch: room.parsed.epoch }];
        }
        const id = ++this.wrapSeq;
        room.wraps.push({ id, body: s.body, sig: s.sig, to: b.wraps.map((w: { to: string }) => w.to) });
        return [201, { id }];
      }
      const after = Number(url.searchParams.get('after') ?? 0);
      return [200, { wraps: room.wraps.filter((w) => w.id > after && w.to.includes(me.id)).map(({ id, body, sig }) => ({ id, body, sig })) }];
    }
    if (what === 'history') {
      // As the Go relay (internal/crisis/history.go): the coordinator's
      // device only, signed by its key, for an admitted member, from a
      // position before that member's admission.
      if (method === 'POST') {
        if (!isCoord) return [403, { error: 'coordinator only', code: 'not_coordinator' }];
        const s = json() as Signed;
        if (!(await verifySigned(room.coordinator, 'rempart-crisis-history-v1', room.id, s))) return [400, { error: 'bad signature' }];
        const b = JSON.parse(s.body);
        const vis = this.visibleFrom(room)[b.to];
        if (b.room !== room.id || b.sender !== me.id || vis === undefined || b.to === me.id) return [400, { error: 'not an admitted member' }];
        if (!Number.isSafeInteger(b.from) || b.from < 1 || b.from >= vis) return [400, { error: 'bad position' }];
        const id = ++this.wrapSeq;
        room.history.push({ id, body: s.body, sig: s.sig, to: b.to, from: b.from });
        return [201, { id, from: b.from }];
      }
      const after = Number(url.searchParams.get('after') ?? 0);
      return [200, { history: room.history.filter((h) => h.id > after && h.to === me.id).map(({ id, body, sig }) => ({ id, body, sig })) }];
    }
    if (what === 'events') {
      if (method === 'POST') {
        const s = json() as Signed;
        const e = JSON.parse(s.body);
        const hash = await hashBody(utf8(s.body));
        const dup = room.events.find((x) => x.sender === me.id && x.seq === e.seq && x.hash === hash);
        if (dup) return [200, { pos: dup.pos, hash, received_at: dup.received_at }];
        if (e.sender !== me.id || !(await verifySigned(me.sign, 'rempart-crisis-envelope-v1', room.id, s))) return [400, { error: 'bad envelope' }];
        if (e.epoch !== room.parsed.epoch || e.seq !== me.seq + 1 || e.prev !== me.last) {
          return [409, { error: 'not current', epoch: room.parsed.epoch, next_seq: me.seq + 1, prev: me.last }];
        }
        for (const r of e.refs) if (!room.hashes.has(r)) return [400, { error: 'unknown ref' }];
        me.seq = e.seq;
        me.last = hash;
        const ev = { pos: room.events.length + 1, body: s.body, sig: s.sig, received_at: new Date(Date.now() + this.skewMs).toISOString(), sender: me.id, seq: e.seq, hash, epoch: e.epoch as number };
        room.events.push(ev);
        room.hashes.add(hash);
        return [201, { pos: ev.pos, hash, received_at: ev.received_at }];
      }
      const readFrom = Math.min((room.admittedAt.get(me.id) ?? 0) + 1, ...room.history.filter((h) => h.to === me.id).map((h) => h.from));
      const after = Math.max(Number(url.searchParams.get('after') ?? 0), readFrom - 1);
      const limit = Number(url.searchParams.get('limit') ?? 5000);
      const evs = room.events.filter((x) => x.pos > after);
      return [200, { events: evs.slice(0, limit).map(({ pos, body, sig, received_at }) => ({ pos, body, sig, received_at })), more: evs.length > limit }];
    }
    if (what === 'blobs') {
      if (method === 'POST') {
        const b = new Uint8Array(rawBody as ArrayBuffer);
        const id = b64u(await sha256(b));
        room.blobs.set(id, b);
        return [201, { id }];
      }
      const b = room.blobs.get(decodeURIComponent(mm[3] ?? ''));
      return b ? [200, b] : [404, { error: 'no such file' }];
    }
    return [404, { error: 'no such endpoint' }];
  }

  /** Each admitted member's admission position (state, roster answer). */
  private visibleFrom(room: Room): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of room.members.values()) if (m.status === 'member') out[m.id] = (room.admittedAt.get(m.id) ?? 0) + 1;
    return out;
  }

  /** Raw stored events, as a test reading the server's database would. */
  stored(room: string) {
    return this.rooms.get(room)!.events;
  }
}

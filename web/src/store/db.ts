// IndexedDB: this device's keys and state per room. Private keys are stored
// as non-extractable CryptoKey objects (structured clone): script on this
// page can use them but never read their bytes. Chain keys are raw bytes
// (they must be re-wrapped for newcomers). Raw events are cached so that a
// room reopens from its last position instead of downloading everything.
import type { RawEvent, Roster, Signed } from '../protocol/types';
import type { DirMember } from '../crypto/verify';
import { AppError } from '../errors';

const DB_NAME = 'rempart-crisis';
const DB_VERSION = 1;

export interface RoomRecord {
  room: string;
  memberId: string;
  token: string; // member token rcm_…
  coordinatorSign: string; // pinned from the invitation link (or our own key)
  isCoordinator: boolean;
  name: string;
  signKeys: CryptoKeyPair;
  dhKeys: CryptoKeyPair;
  signPub: string;
  dhPub: string;
  createdAt: string;
  status: 'pending' | 'member' | 'removed' | 'refused';
  title?: string;
  roster?: Signed;
  rosterParsed?: Roster;
  lastPos: number;
  firstPos?: number; // position of the first event this device received
  lastWrapId?: string | number;
  lastHistoryId?: number; // history share v1: the last share applied
  historyShared?: { by: string; from: number; at: string }[]; // the shares applied: by whom (member id), from which position, when this device opened it
  seq: number; // my last seq in this room
  lastHash: string; // hash of my last envelope
}

export interface ChainRecord {
  room: string;
  sender: string;
  epoch: number;
  start: number;
  ck: Uint8Array;
  own: boolean;
  next?: number; // own chains: next index to use
}

export interface OutboxItem {
  id?: number;
  room: string;
  content: unknown; // plaintext draft, kept on this device only
  created: string;
  sealed?: { body: string; sig: string; hash: string; epoch: number; seq: number };
}

export interface WrapsSentRecord {
  room: string;
  epoch: number;
  to: string[];
}

export interface StoredEvent extends RawEvent {
  room: string;
  /** this device's verification of these exact bytes (see VerifyContext.cached) */
  check?: { hash: string; sigOk: boolean; plain?: unknown };
}

export interface DirRecord extends DirMember {
  room: string;
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

export class Store {
  private constructor(private db: IDBDatabase) {}

  static async open(name = DB_NAME): Promise<Store> {
    if (typeof indexedDB === 'undefined') {
      throw new AppError('no_storage', 'this browser cannot keep keys (no IndexedDB): leave private browsing, or use another browser');
    }
    const r = indexedDB.open(name, DB_VERSION);
    r.onupgradeneeded = () => {
      const db = r.result;
      db.createObjectStore('rooms', { keyPath: 'room' });
      db.createObjectStore('events', { keyPath: ['room', 'pos'] });
      db.createObjectStore('chains', { keyPath: ['room', 'sender', 'epoch'] });
      db.createObjectStore('outbox', { keyPath: 'id', autoIncrement: true }).createIndex('room', 'room');
      db.createObjectStore('wrapsSent', { keyPath: ['room', 'epoch'] });
      db.createObjectStore('directory', { keyPath: ['room', 'id'] });
    };
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error ?? new Error('cannot open this browser\'s storage'));
      r.onblocked = () => reject(new Error('close the other tabs of the crisis room, then reload'));
    });
    return new Store(db);
  }

  private async get<T>(store: string, key: IDBValidKey): Promise<T | undefined> {
    const tx = this.db.transaction(store, 'readonly');
    return (await req(tx.objectStore(store).get(key))) as T | undefined;
  }

  private async put(store: string, value: unknown): Promise<void> {
    const tx = this.db.transaction(store, 'readwrite');
    tx.objectStore(store).put(value);
    await done(tx);
  }

  private async range<T>(store: string, lower: IDBValidKey, upper: IDBValidKey): Promise<T[]> {
    const tx = this.db.transaction(store, 'readonly');
    return (await req(tx.objectStore(store).getAll(IDBKeyRange.bound(lower, upper)))) as T[];
  }

  getRoom(room: string): Promise<RoomRecord | undefined> {
    return this.get<RoomRecord>('rooms', room);
  }
  putRoom(r: RoomRecord): Promise<void> {
    return this.put('rooms', r);
  }
  async listRooms(): Promise<RoomRecord[]> {
    const tx = this.db.transaction('rooms', 'readonly');
    return (await req(tx.objectStore('rooms').getAll())) as RoomRecord[];
  }

  async putEvents(room: string, events: (RawEvent & { check?: StoredEvent['check'] })[]): Promise<void> {
    if (!events.length) return;
    const tx = this.db.transaction('events', 'readwrite');
    const os = tx.objectStore('events');
    for (const e of events) os.put({ room, pos: e.pos, body: e.body, sig: e.sig, received_at: e.received_at, check: e.check });
    await done(tx);
  }
  async getEvents(room: string): Promise<StoredEvent[]> {
    return this.range<StoredEvent>('events', [room, 0], [room, Number.MAX_SAFE_INTEGER]);
  }

  getChain(room: string, sender: string, epoch: number): Promise<ChainRecord | undefined> {
    return this.get<ChainRecord>('chains', [room, sender, epoch]);
  }
  putChain(c: ChainRecord): Promise<void> {
    return this.put('chains', c);
  }
  listChains(room: string): Promise<ChainRecord[]> {
    return this.range<ChainRecord>('chains', [room, '', 0], [room, '\uffff', Number.MAX_SAFE_INTEGER]);
  }

  async outbox(room: string): Promise<OutboxItem[]> {
    const tx = this.db.transaction('outbox', 'readonly');
    const rows = (await req(tx.objectStore('outbox').index('room').getAll(room))) as OutboxItem[];
    return rows.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  }
  async addOutbox(item: OutboxItem): Promise<number> {
    const tx = this.db.transaction('outbox', 'readwrite');
    const id = (await req(tx.objectStore('outbox').add(item))) as number;
    await done(tx);
    return id;
  }
  putOutbox(item: OutboxItem): Promise<void> {
    return this.put('outbox', item);
  }
  async deleteOutbox(id: number): Promise<void> {
    const tx = this.db.transaction('outbox', 'readwrite');
    tx.objectStore('outbox').delete(id);
    await done(tx);
  }

  async wrapsSent(room: string, epoch: number): Promise<Set<string>> {
    const r = await this.get<WrapsSentRecord>('wrapsSent', [room, epoch]);
    return new Set(r?.to ?? []);
  }
  putWrapsSent(room: string, epoch: number, to: Set<string>): Promise<void> {
    return this.put('wrapsSent', { room, epoch, to: [...to] });
  }

  listDirectory(room: string): Promise<DirRecord[]> {
    return this.range<DirRecord>('directory', [room, ''], [room, '\uffff']);
  }
  async putDirectory(room: string, members: DirMember[]): Promise<void> {
    if (!members.length) return;
    const tx = this.db.transaction('directory', 'readwrite');
    const os = tx.objectStore('directory');
    for (const m of members) os.put({ ...m, room });
    await done(tx);
  }
}

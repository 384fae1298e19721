import { useEffect, useState } from 'preact/hooks';
import { roomSafetyNumber } from '../crypto/safety';
import { Store } from '../store/db';
import type { RoomClient } from '../protocol/room';
import { AppError, relayCode, relayVars } from '../errors';
import { ApiError } from '../protocol/api';
import { RosterError } from '../crypto/roster';
import { t } from '../i18n';
import type { Key } from '../i18n/dict';

let storePromise: Promise<Store> | undefined;
/** The one IndexedDB store of this page. */
export function getStore(): Promise<Store> {
  storePromise ??= Store.open();
  return storePromise;
}

/** Something that counts its changes and tells its listeners (a room client, a call). */
export interface Versioned {
  readonly version: number;
  subscribe(l: () => void): () => void;
}

/** Re-renders on every change of src, coalesced into one render per frame. */
export function useVersion(src: Versioned | undefined): number {
  const [v, setV] = useState(0);
  useEffect(() => {
    if (!src) return;
    let queued = false;
    // Coalesce bursts (a page of 5,000 events) into one render per frame.
    return src.subscribe(() => {
      if (queued) return;
      queued = true;
      const run = () => {
        queued = false;
        setV(src.version);
      };
      if (typeof requestAnimationFrame === 'function') requestAnimationFrame(run);
      else setTimeout(run, 16);
    });
  }, [src]);
  return v;
}

/** Re-renders on every change of the room client. */
export function useRoomVersion(c: RoomClient | undefined): number {
  return useVersion(c);
}

/** The room's safety number (60 digits, in groups), '' until computed; follows the roster. */
export function useRoomSafetyNumber(c: RoomClient): string {
  const r = c.roster;
  const [sn, setSn] = useState('');
  useEffect(() => {
    if (r) void roomSafetyNumber(r.room, r.epoch, r.members).then(setSn, () => setSn(''));
  }, [r?.version]);
  return sn;
}

export interface Session {
  token: string;
  user: string;
  tenant?: string;
  role?: string;
}

export function getSession(): Session | undefined {
  try {
    const s = sessionStorage.getItem('rempart-session');
    return s ? (JSON.parse(s) as Session) : undefined;
  } catch {
    return undefined;
  }
}

export function setSession(s: Session | undefined): void {
  try {
    if (s) sessionStorage.setItem('rempart-session', JSON.stringify(s));
    else sessionStorage.removeItem('rempart-session');
  } catch {
    /* private mode: the session lasts this page only */
  }
}

/** What to tell a person about an error, in their language when known. */
export function errorText(e: unknown): string {
  if (e instanceof AppError) return t(`err_${e.key}` as Key, e.vars);
  if (e instanceof RosterError) return t('roster_alarm');
  if (e instanceof ApiError) {
    const code = relayCode(e.body);
    if (code) return t(`srv_${code}` as Key, relayVars(e.body));
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Current hash route, split on '/'. */
export function useRoute(): string[] {
  const parse = () =>
    (globalThis.location?.hash ?? '')
      .replace(/^#\/?/, '')
      .split('/')
      .filter((x) => x !== '')
      .map(decodeURIComponent);
  const [r, setR] = useState(parse);
  useEffect(() => {
    const f = () => setR(parse());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return r;
}

export function go(path: string): void {
  location.hash = '#/' + path;
}

/** Saves bytes as a file download (no server round trip). */
export function download(name: string, data: Uint8Array | string, type: string): void {
  const blob = new Blob([data as BlobPart], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

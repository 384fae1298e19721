import { useEffect, useState } from 'preact/hooks';
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

/** Re-renders on every change of the room client. */
export function useRoomVersion(c: RoomClient | undefined): number {
  const [v, setV] = useState(0);
  useEffect(() => {
    if (!c) return;
    let queued = false;
    // Coalesce bursts (a page of 5,000 events) into one render per frame.
    return c.subscribe(() => {
      if (queued) return;
      queued = true;
      const run = () => {
        queued = false;
        setV(c.version);
      };
      if (typeof requestAnimationFrame === 'function') requestAnimationFrame(run);
      else setTimeout(run, 16);
    });
  }, [c]);
  return v;
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

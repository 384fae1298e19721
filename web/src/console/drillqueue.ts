// Drills requested from the console (docs/drills.md, "Drills requested from
// the console, and the schedule"): how often to ask the server, whether a
// machine picks requests up, what changed between two answers, the
// schedule's form. Pure: tested in test/console-drillqueue.test.ts.
import type { DrillRequest, DrillRunner } from './api';

/** While a request is queued or running: every 3 s. */
export const POLL_BUSY_MS = 3_000;
/** Otherwise: every 30 s (and when the window gets the focus back). */
export const POLL_IDLE_MS = 30_000;
/** A runner not heard from for this long no longer counts (the server's 15 minutes). */
export const RUNNER_STALE_MS = 15 * 60_000;

export const isOpen = (r: Pick<DrillRequest, 'state'>) => r.state === 'queued' || r.state === 'running';

/** How long to wait before asking for the requests again. */
export function pollDelay(requests: Pick<DrillRequest, 'state'>[] | undefined): number {
  return (requests ?? []).some(isOpen) ? POLL_BUSY_MS : POLL_IDLE_MS;
}

export interface RunnerView {
  /** The machines heard from within 15 minutes, the most recent first. */
  fresh: DrillRunner[];
  /** The most recent of all, even when stale. */
  latest?: DrillRunner;
  /** No runner at all, or none heard from for 15 minutes: the console warns. */
  warn: boolean;
}

export function runnerView(runners: DrillRunner[] | undefined, now: number): RunnerView {
  const seen = (r: DrillRunner) => {
    const t = Date.parse(r.last_seen);
    return Number.isNaN(t) ? -Infinity : t;
  };
  const sorted = [...(runners ?? [])].sort((a, b) => seen(b) - seen(a));
  // The server says which are stale by its own clock; else the browser's.
  const fresh = sorted.filter((r) => (typeof r.stale === 'boolean' ? !r.stale : now - seen(r) <= RUNNER_STALE_MS));
  return { fresh, latest: sorted[0], warn: fresh.length === 0 };
}

/** Seconds since an ISO time (0 when in the future or unreadable). */
export function secondsSince(iso: string | null | undefined, now: number): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? 0 : Math.max(0, Math.floor((now - t) / 1000));
}

/**
 * What changed since the previous answer: each request whose state is not
 * the one it had (from), and each request new since then that is already
 * finished (from undefined: queued and done between two answers). The
 * first answer (prev undefined) changes nothing.
 */
export function stateChanges(
  prev: Map<number, DrillRequest['state']> | undefined,
  now: DrillRequest[],
): { req: DrillRequest; from?: DrillRequest['state'] }[] {
  if (!prev) return [];
  const out: { req: DrillRequest; from?: DrillRequest['state'] }[] = [];
  for (const r of now) {
    const from = prev.get(r.id);
    if (from === undefined ? !isOpen(r) : from !== r.state) out.push({ req: r, from });
  }
  return out;
}

/** The states of an answer, for newlyFinished next time. */
export function statesOf(requests: DrillRequest[]): Map<number, DrillRequest['state']> {
  return new Map(requests.map((r) => [r.id, r.state]));
}

/** The open request of each service (queued or running), if any. */
export function openByService(requests: DrillRequest[] | undefined): Map<string, DrillRequest> {
  const out = new Map<string, DrillRequest>();
  for (const r of requests ?? []) if (isOpen(r) && !out.has(r.service)) out.set(r.service, r);
  return out;
}

/** The progress of a running drill in percent (0-100), or undefined when the machine has not said how much. */
export function progressPercent(p: DrillRequest['progress']): number | undefined {
  if (!p || !(p.total > 0)) return undefined;
  return Math.max(0, Math.min(100, Math.floor((p.done / p.total) * 100)));
}

/** A size in bytes as a number and a binary unit (B, KiB, MiB, GiB, TiB). */
export function sizeParts(bytes: number): { n: number; unit: 'B' | 'KiB' | 'MiB' | 'GiB' | 'TiB' } {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
  let n = Math.max(0, bytes);
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return { n: i === 0 ? Math.round(n) : Math.round(n * 10) / 10, unit: units[i] };
}

/** Why the schedule's form cannot be sent, or '' when it can (every 1 to 365 days, at HH:MM). */
export function scheduleProblem(every: string, at: string): '' | 'every' | 'at' {
  const n = Number(every.trim());
  if (!/^\d+$/.test(every.trim()) || !Number.isInteger(n) || n < 1 || n > 365) return 'every';
  const m = /^(\d{2}):(\d{2})$/.exec(at.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return 'at';
  return '';
}

/** The command that makes a machine of the town pick requests up. */
export function runnerCommand(origin: string, tenant: string): string {
  return `rempart drill run --requested --watch --repo ${origin.replace(/\/+$/, '')}/${tenant}`;
}

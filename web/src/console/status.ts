// A town's protection status, from GET /v1/overview (pure: tested in
// test/console-status.test.ts).
//
// - not protected: no plan (or a plan without any service), a source of
//   the plan never backed up, or an open alert whose verdict is infected;
// - at risk: a source older than its service's RPO, an open suspect (or
//   other) alert, retention frozen, errors in the plan (a cycle, an unknown
//   dependency), a service with no backup source, a service whose latest
//   restore drill failed or was slower than its RTO;
// - protected: none of these.
import type { ConsoleKey } from '../i18n/console';
import type { TenantOverview } from './api';

export type Level = 'protected' | 'at_risk' | 'not_protected';

export type ReasonCode =
  | 'no_plan'
  | 'empty_plan'
  | 'missing'
  | 'infected'
  | 'stale'
  | 'suspect'
  | 'other_alerts'
  | 'frozen'
  | 'plan_errors'
  | 'unsourced'
  | 'drill_failed';

export interface Reason {
  code: ReasonCode;
  level: Exclude<Level, 'protected'>;
  n: number;
}

export interface TownStatus {
  level: Level;
  reasons: Reason[];
}

/** Worst first: the order of levels when sorting towns. */
export const LEVEL_ORDER: Record<Level, number> = { not_protected: 0, at_risk: 1, protected: 2 };

export function townStatus(t: TenantOverview): TownStatus {
  const reasons: Reason[] = [];
  const add = (code: ReasonCode, level: Reason['level'], n = 1) => {
    if (n > 0) reasons.push({ code, level, n });
  };
  if (!t.plan) add('no_plan', 'not_protected');
  else if (t.plan.services === 0) add('empty_plan', 'not_protected');
  add('missing', 'not_protected', t.sources.filter((s) => s.status === 'missing').length);
  const sentinel = t.alerts.filter((a) => (a.kind ?? 'sentinel') === 'sentinel');
  add('infected', 'not_protected', sentinel.filter((a) => a.verdict === 'infected').length);
  add('stale', 'at_risk', t.sources.filter((s) => s.status === 'stale').length);
  add('suspect', 'at_risk', sentinel.filter((a) => a.verdict !== 'infected').length);
  add('other_alerts', 'at_risk', t.alerts.length - sentinel.length);
  if (t.retention.frozen) add('frozen', 'at_risk');
  if (t.plan) {
    add('plan_errors', 'at_risk', t.plan.errors);
    add('unsourced', 'at_risk', t.plan.problems.filter((p) => p.kind === 'no_backup_source').length);
  }
  // The latest drill of a service failed or was slower than its RTO: a real recovery may too.
  add('drill_failed', 'at_risk', (t.drills?.latest ?? []).filter((d) => d.result !== 'passed').length);
  const level: Level = reasons.some((r) => r.level === 'not_protected')
    ? 'not_protected'
    : reasons.length > 0
      ? 'at_risk'
      : 'protected';
  return { level, reasons };
}

/** The i18n key of a level. */
export function levelKey(l: Level): ConsoleKey {
  return `st_${l}` as ConsoleKey;
}

/** The i18n key of a reason ({n} is its count). */
export function reasonKey(r: Reason): ConsoleKey {
  return `r_${r.code}` as ConsoleKey;
}

/** The newest backup of any machine of the town (ISO time), or undefined. */
export function lastBackup(t: TenantOverview): string | undefined {
  let best: string | undefined;
  for (const m of t.machines) {
    if (m.latest && (!best || Date.parse(m.latest) > Date.parse(best))) best = m.latest;
  }
  return best;
}

/**
 * A duration in seconds as the largest two units, rounded down: ["d_d_h",
 * {d, h}], ["d_h_min", {h, m}], ["d_min", {n}]...; the caller translates.
 */
export function ageParts(seconds: number): [ConsoleKey, Record<string, number>] {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return ['d_s', { n: s }];
  const min = Math.floor(s / 60);
  if (min < 60) return ['d_min', { n: min }];
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? ['d_h_min', { h, m: min % 60 }] : ['d_h', { n: h }];
  const d = Math.floor(h / 24);
  return h % 24 ? ['d_d_h', { d, h: h % 24 }] : ['d_d', { n: d }];
}

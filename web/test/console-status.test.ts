// The console's town status (src/console/status.ts) and its words.
import { describe, expect, it } from 'vitest';
import { setLang, getLang } from '../src/i18n';
import { consoleEn, consoleFr, ct } from '../src/i18n/console';
import type { TenantOverview } from '../src/console/api';
import { ageParts, lastBackup, townStatus } from '../src/console/status';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

/** A protected town: a plan, two sources within their RPO, no alert. */
function town(over: Partial<TenantOverview> = {}): TenantOverview {
  return {
    tenant: 'mairie-a',
    plan: { version: 1, saved: '2026-12-05T10:00:00Z', services: 2, waves: 2, errors: 0, warnings: 0, problems: [] },
    sources: [
      { service: 'annuaire', host: 'dc01', path: '/var/lib/samba', latest: '2026-12-05T11:00:00Z', age_seconds: 3600, rpo_seconds: 86400, status: 'ok' },
      { service: 'paie', host: 'app01', path: '/srv/paie', latest: '2026-12-05T11:30:00Z', age_seconds: 1800, rpo_seconds: 86400, status: 'ok' },
    ],
    machines: [
      { agent_id: 1, host: 'dc01', snapshots: 3, latest: '2026-12-05T11:00:00Z', verdict: 'clean' },
      { agent_id: 2, host: 'app01', snapshots: 1, latest: '2026-12-05T11:30:00Z', verdict: 'clean' },
    ],
    alerts: [],
    retention: { frozen: false, lock_days: 30, storage_immutable: false },
    ...over,
  };
}

const alert = (id: number, verdict: string, kind?: string) => ({
  id, tenant: 'mairie-a', state: 'open', verdict, kind, snapshot: 'x'.repeat(64), source: 'agent:1', opened: '2026-12-05T11:00:00Z',
});

const codes = (t: TenantOverview) => townStatus(t).reasons.map((r) => `${r.code}:${r.n}`);

describe('town status', () => {
  it('is at risk when the latest drill of a service failed or was slow, not for an earlier failure since passed', () => {
    const drills = (...results: string[]) => ({
      latest: results.map((result, i) => ({ service: `s${i}`, id: i + 1, result, finished: '2026-12-05T10:00:00Z' })),
      never: [],
      open_requests: 0,
      every_days: 0,
    });
    expect(townStatus(town({ drills: drills('passed', 'passed') }))).toEqual({ level: 'protected', reasons: [] });
    expect(townStatus(town({ drills: drills('passed', 'failed', 'slow') }))).toEqual({
      level: 'at_risk',
      reasons: [{ code: 'drill_failed', level: 'at_risk', n: 2 }],
    });
  });
  it('is protected when every source is within its RPO and nothing is open', () => {
    expect(townStatus(town())).toEqual({ level: 'protected', reasons: [] });
  });
  it('is at risk with a source older than its RPO', () => {
    const t = town();
    t.sources[1] = { ...t.sources[1], age_seconds: 90000, status: 'stale' };
    expect(townStatus(t).level).toBe('at_risk');
    expect(codes(t)).toEqual(['stale:1']);
  });
  it('is at risk with an open suspect alert (retention frozen), or a drill alert', () => {
    const t = town({ alerts: [alert(3, 'suspect')], retention: { frozen: true, lock_days: 30, storage_immutable: true } });
    expect(townStatus(t).level).toBe('at_risk');
    expect(codes(t)).toEqual(['suspect:1', 'frozen:1']);
    const d = town({ alerts: [alert(4, 'none', 'drill')] });
    expect(codes(d)).toEqual(['other_alerts:1']);
    expect(townStatus(d).level).toBe('at_risk');
  });
  it('is at risk with errors in the plan or a service without sources', () => {
    const t = town();
    t.plan = { ...t.plan!, errors: 1, warnings: 1, problems: [
      { kind: 'dependency_cycle', severity: 'error', service: 'a', message: 'cycle' },
      { kind: 'no_backup_source', severity: 'warning', service: 'web', message: 'none' },
    ] };
    expect(townStatus(t).level).toBe('at_risk');
    expect(codes(t)).toEqual(['plan_errors:1', 'unsourced:1']);
  });
  it('is not protected without a plan, with an empty plan, a source never backed up or an infected alert', () => {
    expect(townStatus(town({ plan: null, sources: [] }))).toEqual({ level: 'not_protected', reasons: [{ code: 'no_plan', level: 'not_protected', n: 1 }] });
    const empty = town({ sources: [] });
    empty.plan = { ...empty.plan!, services: 0 };
    expect(codes(empty)).toEqual(['empty_plan:1']);
    const missing = town();
    missing.sources.push({ service: 'eau', host: 'scada01', path: '/opt', age_seconds: 0, rpo_seconds: 3600, status: 'missing' });
    missing.sources[0] = { ...missing.sources[0], status: 'stale' };
    expect(townStatus(missing).level).toBe('not_protected');
    expect(codes(missing)).toEqual(['missing:1', 'stale:1']);
    const infected = town({ alerts: [alert(1, 'infected'), alert(2, 'suspect')], retention: { frozen: true, lock_days: 0, storage_immutable: false } });
    expect(townStatus(infected).level).toBe('not_protected');
    expect(codes(infected)).toEqual(['infected:1', 'suspect:1', 'frozen:1']);
  });
  it('finds the newest backup of the town', () => {
    expect(lastBackup(town())).toBe('2026-12-05T11:30:00Z');
    expect(lastBackup(town({ machines: [] }))).toBeUndefined();
  });
});

describe('ages', () => {
  it('keeps the two largest units', () => {
    expect(ageParts(42)).toEqual(['d_s', { n: 42 }]);
    expect(ageParts(600)).toEqual(['d_min', { n: 10 }]);
    expect(ageParts(7200)).toEqual(['d_h', { n: 2 }]);
    expect(ageParts(3 * 3600 + 20 * 60 + 5)).toEqual(['d_h_min', { h: 3, m: 20 }]);
    expect(ageParts(2 * 86400)).toEqual(['d_d', { n: 2 }]);
    expect(ageParts(86400 + 5 * 3600)).toEqual(['d_d_h', { d: 1, h: 5 }]);
    expect(ageParts(-5)).toEqual(['d_s', { n: 0 }]);
  });
});

describe('console dictionary', () => {
  it('French and English have the same keys and placeholders, and every status and reason has words', () => {
    expect(Object.keys(consoleEn).sort()).toEqual(Object.keys(consoleFr).sort());
    for (const k of Object.keys(consoleFr) as (keyof typeof consoleFr)[]) {
      expect(placeholders(consoleEn[k]), k).toEqual(placeholders(consoleFr[k]));
      expect(consoleEn[k].trim(), k).not.toBe('');
    }
    for (const k of ['no_plan', 'empty_plan', 'missing', 'infected', 'stale', 'suspect', 'other_alerts', 'frozen', 'plan_errors', 'unsourced', 'drill_failed']) {
      expect(Object.keys(consoleEn)).toContain(`r_${k}`);
    }
  });
  it('follows the language switch', () => {
    const before = getLang();
    setLang('fr');
    expect(ct('st_at_risk')).toBe('À risque');
    expect(ct('r_stale', { n: 2 })).toBe('2 source(s) plus ancienne(s) que le RPO');
    setLang('en');
    expect(ct('st_at_risk')).toBe('At risk');
    setLang(before);
  });
});

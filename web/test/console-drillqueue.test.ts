// Drills requested from the console (src/console/drillqueue.ts): how often
// the console asks, whether a machine picks requests up, what changed, the
// schedule's form; and their words in both languages.
import { describe, expect, it } from 'vitest';
import { consoleEn, consoleFr } from '../src/i18n/console';
import type { DrillRequest } from '../src/console/api';
import {
  openByService,
  pollDelay,
  POLL_BUSY_MS,
  POLL_IDLE_MS,
  progressPercent,
  runnerCommand,
  runnerView,
  scheduleProblem,
  secondsSince,
  sizeParts,
  stateChanges,
  statesOf,
} from '../src/console/drillqueue';
import { whenIn } from '../src/console/text';

const req = (id: number, service: string, state: DrillRequest['state'], over: Partial<DrillRequest> = {}): DrillRequest => ({
  id,
  tenant: 'mairie-a',
  service,
  state,
  requested: '2026-12-05T15:02:11Z',
  requested_by: 'account:dsi',
  ...over,
});

const NOW = Date.parse('2026-12-05T15:30:00Z');

describe('polling', () => {
  it('asks every 3 s while a request is queued or running, else every 30 s', () => {
    expect(pollDelay(undefined)).toBe(POLL_IDLE_MS);
    expect(pollDelay([])).toBe(POLL_IDLE_MS);
    expect(pollDelay([req(1, 'paie', 'done'), req(2, 'eau', 'cancelled'), req(3, 'rh', 'failed')])).toBe(POLL_IDLE_MS);
    expect(pollDelay([req(1, 'paie', 'done'), req(2, 'eau', 'queued')])).toBe(POLL_BUSY_MS);
    expect(pollDelay([req(1, 'paie', 'running')])).toBe(3000);
    expect(POLL_IDLE_MS).toBe(30000);
  });
});

describe('runners', () => {
  it('warns with no runner, or none heard from for 15 minutes', () => {
    expect(runnerView(undefined, NOW)).toEqual({ fresh: [], latest: undefined, warn: true });
    expect(runnerView([], NOW).warn).toBe(true);
    const old = { actor: 'agent:3', host: 'fs01', last_seen: '2026-12-05T15:14:59Z' };
    const v = runnerView([old], NOW);
    expect(v.warn).toBe(true);
    expect(v.latest?.host).toBe('fs01');
    expect(runnerView([{ ...old, last_seen: '2026-12-05T15:15:00Z' }], NOW).warn).toBe(false);
  });
  it('believes the server when it says which are stale', () => {
    const r = { actor: 'agent:3', host: 'fs01', last_seen: '2026-12-05T15:29:00Z' };
    expect(runnerView([{ ...r, stale: true }], NOW).warn).toBe(true);
    expect(runnerView([{ ...r, last_seen: '2026-12-05T10:00:00Z', stale: false }], NOW).warn).toBe(false);
  });
  it('lists the fresh ones, the most recent first', () => {
    const v = runnerView(
      [
        { actor: 'agent:3', host: 'fs01', last_seen: '2026-12-05T15:20:00Z' },
        { actor: 'agent:4', host: 'adm01', last_seen: '2026-12-05T15:29:00Z' },
        { actor: 'agent:5', host: 'old', last_seen: '2026-12-01T15:29:00Z' },
        { actor: 'agent:6', host: 'bad', last_seen: 'not a date' },
      ],
      NOW,
    );
    expect(v.warn).toBe(false);
    expect(v.fresh.map((r) => r.host)).toEqual(['adm01', 'fs01']);
    expect(v.latest?.host).toBe('adm01');
    expect(secondsSince('2026-12-05T15:29:00Z', NOW)).toBe(60);
    expect(secondsSince('2026-12-05T16:00:00Z', NOW)).toBe(0);
    expect(secondsSince(undefined, NOW)).toBe(0);
  });
  it('says the command a machine of the town runs', () => {
    expect(runnerCommand('https://backup.example:8443/', 'mairie-a')).toBe('rempart drill run --requested --watch --repo https://backup.example:8443/mairie-a');
  });
});

describe('changes between two answers', () => {
  it('nothing on the first answer; then each state that moved, and requests already finished when first seen', () => {
    const first = [req(1, 'paie', 'queued'), req(2, 'eau', 'running'), req(3, 'rh', 'done')];
    expect(stateChanges(undefined, first)).toEqual([]);
    const prev = statesOf(first);
    const second = [req(4, 'dns', 'done'), req(5, 'web', 'queued'), req(1, 'paie', 'running'), req(2, 'eau', 'done', { drill_id: 9, result: 'passed' }), req(3, 'rh', 'done')];
    const c = stateChanges(prev, second);
    expect(c.map((x) => [x.req.id, x.from, x.req.state])).toEqual([
      [4, undefined, 'done'],
      [1, 'queued', 'running'],
      [2, 'running', 'done'],
    ]);
  });
  it('the open request of each service', () => {
    const m = openByService([req(3, 'paie', 'queued'), req(2, 'paie', 'done'), req(1, 'eau', 'cancelled'), req(4, 'rh', 'running')]);
    expect([...m.keys()].sort()).toEqual(['paie', 'rh']);
    expect(m.get('paie')?.id).toBe(3);
  });
});

describe('progress', () => {
  it('in percent when the machine says how much', () => {
    expect(progressPercent(undefined)).toBeUndefined();
    expect(progressPercent(null)).toBeUndefined();
    expect(progressPercent({ phase: 'restoring', done: 0, total: 0 })).toBeUndefined();
    expect(progressPercent({ phase: 'restoring', done: 52428800, total: 104857600 })).toBe(50);
    expect(progressPercent({ phase: 'verifying', done: 200, total: 100 })).toBe(100);
  });
  it('sizes in binary units', () => {
    expect(sizeParts(0)).toEqual({ n: 0, unit: 'B' });
    expect(sizeParts(1023)).toEqual({ n: 1023, unit: 'B' });
    expect(sizeParts(1536)).toEqual({ n: 1.5, unit: 'KiB' });
    expect(sizeParts(104857600)).toEqual({ n: 100, unit: 'MiB' });
    expect(sizeParts(3 * 1024 ** 3)).toEqual({ n: 3, unit: 'GiB' });
  });
});

describe('the schedule', () => {
  it('every 1 to 365 days at HH:MM', () => {
    expect(scheduleProblem('30', '02:30')).toBe('');
    expect(scheduleProblem('365', '23:59')).toBe('');
    expect(scheduleProblem(' 7 ', '03:00')).toBe('');
    for (const bad of ['', '0', '366', '1.5', '-3', 'x']) expect(scheduleProblem(bad, '02:30'), bad).toBe('every');
    for (const bad of ['', '2:30', '24:00', '12:60', '02:30:00']) expect(scheduleProblem('30', bad), bad).toBe('at');
  });
  it('shows the next run in the schedule’s time zone', () => {
    expect(whenIn('2026-12-12T02:00:00Z', 'Europe/Paris', 'en')).toBe('12/12/2026, 03:00');
    expect(whenIn('2026-12-12T02:00:00Z', 'UTC', 'fr')).toMatch(/^12\/12\/2026.*02:00$/);
    expect(whenIn('2026-12-12T02:00:00Z', 'Not/AZone', 'en')).toMatch(/^12\/12\/2026/);
    expect(whenIn('garbage', 'UTC', 'en')).toBe('garbage');
  });
});

describe('words', () => {
  const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  it('every c_dq_ key in both languages, with the same placeholders', () => {
    const keys = Object.keys(consoleFr).filter((k) => k.startsWith('c_dq_')) as (keyof typeof consoleFr)[];
    expect(keys.length).toBeGreaterThan(50);
    for (const k of keys) {
      expect(consoleEn[k], k).toBeTruthy();
      expect(placeholders(consoleEn[k]), k).toEqual(placeholders(consoleFr[k]));
    }
    for (const s of ['queued', 'running', 'done', 'failed', 'cancelled']) expect(Object.keys(consoleEn)).toContain(`c_dq_state_${s}`);
  });
});

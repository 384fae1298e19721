// The towns at a glance: one card per town the account may see, the
// worst first, each with its status and why.
import { useLang } from '../i18n';
import { ct } from '../i18n/console';
import type { Overview, OverviewDrills, Session, TenantOverview } from './api';
import { lastBackup, LEVEL_ORDER, levelKey, reasonKey, townStatus, type TownStatus } from './status';
import { when } from './text';

export function StatusBadge(props: { status: TownStatus; testid?: string }) {
  return (
    <span class={`status-badge status-${props.status.level}`} data-testid={props.testid ?? 'town-status'} data-status={props.status.level}>
      <span aria-hidden="true" class="status-icon">
        {props.status.level === 'protected' ? '✔' : props.status.level === 'at_risk' ? '!' : '✘'}
      </span>{' '}
      {ct(levelKey(props.status.level))}
    </span>
  );
}

export function Reasons(props: { status: TownStatus }) {
  if (props.status.reasons.length === 0) {
    return (
      <ul class="reasons" data-testid="town-reasons">
        <li class="good">{ct('r_all_good')}</li>
      </ul>
    );
  }
  return (
    <ul class="reasons" data-testid="town-reasons">
      {props.status.reasons.map((r) => (
        <li key={r.code} class={r.level === 'not_protected' ? 'bad' : 'warn'} data-reason={r.code}>
          {ct(reasonKey(r), { n: r.n })}
        </li>
      ))}
    </ul>
  );
}

/** The town's drills in one line: drilled services, failing ones, the schedule, what waits and whether a machine picks it up. */
function DrillsFact(props: { d: OverviewDrills }) {
  const d = props.d;
  const failing = d.latest.filter((x) => x.result !== 'passed').length;
  const parts = [ct('c_card_drills', { d: d.latest.length, n: d.latest.length + d.never.length, f: failing })];
  parts.push(d.every_days > 0 && d.next ? ct('c_card_drills_next', { when: when(d.next) }) : ct('c_card_drills_unscheduled'));
  if (d.open_requests > 0) parts.push(ct('c_card_drills_waiting', { n: d.open_requests }));
  const noRunner = (d.open_requests > 0 || d.every_days > 0) && (!d.runner || d.runner_stale);
  return (
    <div>
      <dt>{ct('c_card_drills_label')}</dt>
      <dd data-testid="card-drills" data-failing={failing} data-never={d.never.length}>
        <span class={failing > 0 ? 'bad' : ''}>{parts.join(' · ')}</span>
        {noRunner && (
          <>
            {' · '}
            <span class="warn" data-testid="card-drills-no-runner">
              {ct('c_card_drills_no_runner')}
            </span>
          </>
        )}
      </dd>
    </div>
  );
}

function TownCard(props: { town: TenantOverview; status: TownStatus }) {
  const t = props.town;
  const ok = t.sources.filter((s) => s.status === 'ok').length;
  const last = lastBackup(t);
  return (
    <li class={`town-card level-${props.status.level}`} data-testid="town-card" data-tenant={t.tenant} data-status={props.status.level}>
      <h3>
        <a href={`#/town/${encodeURIComponent(t.tenant)}`} data-testid="town-link" aria-label={ct('c_card_open', { town: t.tenant })}>
          {t.tenant}
        </a>
      </h3>
      <StatusBadge status={props.status} />
      <Reasons status={props.status} />
      <dl class="facts">
        <div>
          <dt>{ct('c_col_latest')}</dt>
          <dd>{last ? when(last) : ct('c_card_no_backup')}</dd>
        </div>
        {t.plan ? (
          <>
            <div>
              <dt>{ct('c_town_sources')}</dt>
              <dd>{ct('c_card_sources', { ok, n: t.sources.length })}</dd>
            </div>
            <div>
              <dt>{ct('c_card_plan_label')}</dt>
              <dd>{ct('c_card_plan', { v: t.plan.version, s: t.plan.services, p: t.plan.problems.length })}</dd>
            </div>
          </>
        ) : (
          <div>
            <dt>{ct('c_card_plan_label')}</dt>
            <dd>{ct('c_card_no_plan')}</dd>
          </div>
        )}
        {t.plan && t.drills && <DrillsFact d={t.drills} />}
        <div>
          <dt>{ct('c_town_alerts')}</dt>
          <dd data-testid="card-alerts">{ct('c_card_alerts', { n: t.alerts.length })}</dd>
        </div>
        <div>
          <dt>{ct('c_card_lock_label')}</dt>
          <dd>
            {ct('c_card_lock', { d: t.retention.lock_days })}
            {t.retention.storage_immutable ? ` · ${ct('c_card_immutable')}` : ''}
          </dd>
        </div>
      </dl>
    </li>
  );
}

export function OverviewPage(props: { overview: Overview; session: Session }) {
  useLang();
  const rows = props.overview.tenants
    .map((t) => ({ t, s: townStatus(t) }))
    .sort((a, b) => LEVEL_ORDER[a.s.level] - LEVEL_ORDER[b.s.level] || a.t.tenant.localeCompare(b.t.tenant));
  const count = (l: TownStatus['level']) => rows.filter((r) => r.s.level === l).length;
  return (
    <section aria-labelledby="towns-title">
      <h2 id="towns-title">{ct('c_overview_title')}</h2>
      <p data-testid="towns-summary" role="status">
        {ct('c_overview_summary', { n: rows.length, p: count('protected'), r: count('at_risk'), x: count('not_protected') })}
      </p>
      {rows.length === 0 && <p class="muted">{ct('c_overview_none')}</p>}
      <ul class="town-cards" data-testid="town-list">
        {rows.map((r) => (
          <TownCard key={r.t.tenant} town={r.t} status={r.s} />
        ))}
      </ul>
    </section>
  );
}

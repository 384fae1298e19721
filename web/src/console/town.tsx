// A town's page: its status and why, the crisis room, open alerts (read
// one), the plan's sources against their RPO, the machines and Sentinel's
// verdicts, the recovery order in waves and the dependency graph, the
// plan's problems, and the latest entries of the audit trail.
import { useEffect, useRef, useState } from 'preact/hooks';
import { getLang, useLang } from '../i18n';
import { Board } from './board';
import { escapeCancels } from './forms';
import { ct, type ConsoleKey } from '../i18n/console';
import {
  consoleApi,
  HttpError,
  type Alert,
  type AuditRecord,
  type Drill,
  type PlanOrder,
  type PlanVersion,
  type Session,
  type TenantOverview,
} from './api';
import { orderGraph, type GraphInput } from './graph';
import { DependencyGraph } from './graphview';
import { DrillResult, Drills, latestDrills } from './drills';
import { defaultPeriod, evidenceFileName, periodProblem, saveBlob } from './evidence';
import { diffLines } from './planedit';
import { PlanEditor } from './planeditor';
import { Reasons, StatusBadge } from './overview';
import { townStatus } from './status';
import { age, failureText, when } from './text';

type Guard = <T>(f: () => Promise<T>) => Promise<T | undefined>;

const townHash = (t: string) => `#/town/${encodeURIComponent(t)}`;

/** The graph's input from the recovery order and the plan's services. */
export function graphInput(order: PlanOrder, plan?: PlanVersion): GraphInput {
  return orderGraph(order, plan?.plan?.services);
}

function verdictText(v?: string): string {
  return v ? ct(`v_${v}` as ConsoleKey) : ct('v_none');
}

/** Who the server lets close an alert: an operator, or the town's admin (alerts_api.go closeAlert). */
export function mayCloseAlerts(s: Session, town: string): boolean {
  return s.role === 'operator' || (s.role === 'tenant_admin' && s.tenant === town);
}

/** Who may read the evidence report: operators, auditors, the town's admin (evidence_api.go). */
export function mayReadEvidence(s: Session, town: string): boolean {
  return s.role === 'operator' || s.role === 'auditor' || (s.role === 'tenant_admin' && s.tenant === town);
}

/** "Close the alert": a confirmation saying what closing does, and the note the API asks for. */
function CloseAlert(props: { session: Session; alert: Alert; guard: Guard; onClosed: (a: Alert) => void }) {
  const a = props.alert;
  const [asking, setAsking] = useState(false);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const noteRef = useRef<HTMLTextAreaElement>(null);
  const startRef = useRef<HTMLButtonElement>(null);
  const asked = useRef(false);
  useEffect(() => {
    if (asking) {
      asked.current = true;
      noteRef.current?.focus();
    } else if (asked.current) {
      startRef.current?.focus(); // back where the person was
    }
  }, [asking]);
  const stop = () => {
    setAsking(false);
    setErr('');
  };
  if (!asking) {
    return (
      <button type="button" ref={startRef} data-testid="alert-close-start" onClick={() => setAsking(true)}>
        {ct('c_alert_close')}
      </button>
    );
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!note.trim()) {
      setErr(ct('c_alert_close_note_needed'));
      noteRef.current?.focus();
      return;
    }
    setBusy(true);
    setErr('');
    try {
      const closed = await props.guard(() => consoleApi.closeAlert(props.session, a.id, note.trim()));
      if (closed) props.onClosed(closed);
    } catch (e) {
      setErr(failureText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="close-alert"
      data-testid="alert-close-form"
      onSubmit={(e) => void submit(e)}
      onKeyDown={escapeCancels(busy, stop)}
    >
      <p data-testid="alert-close-what">{a.kind === 'drill' ? ct('c_alert_close_what_drill') : ct('c_alert_close_what')}</p>
      <label for="alert-close-note">{ct('c_alert_close_note')}</label>
      <textarea
        id="alert-close-note"
        ref={noteRef}
        rows={3}
        maxLength={4000}
        aria-required="true"
        data-testid="alert-close-note"
        value={note}
        onInput={(e) => setNote((e.target as HTMLTextAreaElement).value)}
      />
      {err && (
        <p class="error" role="alert" data-testid="alert-close-error">
          {err}
        </p>
      )}
      <p>
        <button type="submit" class="primary" data-testid="alert-close-confirm" disabled={busy} aria-busy={busy}>
          {busy ? ct('c_loading') : ct('c_alert_close_confirm')}
        </button>{' '}
        <button
          type="button"
          data-testid="alert-close-cancel"
          disabled={busy}
          onClick={stop}
        >
          {ct('c_cancel')}
        </button>
      </p>
    </form>
  );
}

function AlertDetail(props: { session: Session; town: string; id: number; guard: Guard; onClosed?: () => void }) {
  const [a, setA] = useState<Alert | undefined>();
  const [err, setErr] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    setA(undefined);
    setErr('');
    props
      .guard(() => consoleApi.alert(props.session, props.id))
      .then((x) => x && setA(x))
      .catch((e) => setErr(failureText(e)));
  }, [props.id]);
  useEffect(() => {
    if (a) heading.current?.focus();
  }, [a]);
  return (
    <section class="card alert-detail" data-testid="alert-detail" data-alert={props.id} aria-labelledby="alert-title">
      <h3 id="alert-title" tabIndex={-1} ref={heading}>
        {ct('c_alert_title', { id: props.id })}
      </h3>
      {err && (
        <p class="error" role="alert">
          {err}
        </p>
      )}
      {!a && !err && <p>{ct('c_loading')}</p>}
      {a && (
        <>
          <dl class="detail">
            <dt>{ct('c_alert_verdict')}</dt>
            <dd data-testid="alert-verdict" class={a.verdict === 'infected' ? 'bad' : 'warn'}>
              {a.kind === 'drill' ? ct('c_alert_drill') : verdictText(a.verdict)}
            </dd>
            <dt>{ct('c_alert_opened')}</dt>
            <dd>{when(a.opened)}</dd>
            <dt>{ct('c_alert_source')}</dt>
            <dd data-testid="alert-host">{a.source_host || a.source}</dd>
            {a.detail && (
              <>
                <dt>{ct('c_alert_why')}</dt>
                <dd data-testid="alert-why">{a.detail}</dd>
              </>
            )}
            <dt>{ct('c_alert_snapshot')}</dt>
            <dd class="mono" data-testid="alert-snapshot">
              {a.snapshot}
            </dd>
            <dt>{ct('c_alert_clean')}</dt>
            <dd class="mono" data-testid="alert-clean">
              {a.clean_snapshot ? `${a.clean_snapshot} (${when(a.clean_received)})` : ct('c_alert_clean_none')}
            </dd>
          </dl>
          {a.state === 'closed' && (
            <p class="good" role="status" data-testid="alert-closed">
              {ct('c_alert_closed', { who: a.closed_by ?? '', when: when(a.closed), note: a.close_note ?? '' })}
            </p>
          )}
          {a.state !== 'closed' && a.kind !== 'drill' && <p class="help">{ct('c_alert_frozen')}</p>}
          {a.state !== 'closed' && a.kind !== 'drill' && (
            <p class="help" data-testid="alert-next">
              {ct('c_alert_next', { snap: a.clean_snapshot ? a.clean_snapshot.slice(0, 12) : 'latest', id: a.id })}
            </p>
          )}
          {a.state !== 'closed' && mayCloseAlerts(props.session, props.town) && (
            <CloseAlert
              session={props.session}
              alert={a}
              guard={props.guard}
              onClosed={(c) => {
                setA(c);
                props.onClosed?.();
              }}
            />
          )}
        </>
      )}
      <a class="button" href={townHash(props.town)} data-testid="alert-close-detail">
        {ct('c_close')}
      </a>
    </section>
  );
}

function Alerts(props: { town: TenantOverview; openId?: number; session: Session; guard: Guard; onClosed?: () => void }) {
  const t = props.town;
  return (
    <section aria-labelledby="alerts-title">
      <h3 id="alerts-title">{ct('c_town_alerts')}</h3>
      {t.alerts.length === 0 ? (
        <p class="muted">{ct('c_town_no_alerts')}</p>
      ) : (
        <ul class="alert-list" data-testid="alert-list">
          {t.alerts.map((a) => (
            <li key={a.id} data-testid="alert-row" data-alert={a.id} data-verdict={a.verdict}>
              <span class={`pill ${a.verdict === 'infected' ? 'bad' : 'warn'}`}>{a.kind === 'drill' ? ct('c_alert_drill') : verdictText(a.verdict)}</span>{' '}
              <strong>{a.source_host || a.source}</strong> · {when(a.opened)}{' '}
              <a class="button" href={`${townHash(t.tenant)}/alert/${a.id}`} data-testid="alert-open">
                {ct('c_alert_read')}
                <span class="sr-only"> {ct('c_alert_title', { id: a.id })}</span>
              </a>
            </li>
          ))}
        </ul>
      )}
      {props.openId !== undefined && Number.isFinite(props.openId) && (
        <AlertDetail session={props.session} town={t.tenant} id={props.openId} guard={props.guard} onClosed={props.onClosed} />
      )}
    </section>
  );
}

function Sources(props: { town: TenantOverview }) {
  const t = props.town;
  return (
    <section aria-labelledby="sources-title">
      <h3 id="sources-title">{ct('c_town_sources')}</h3>
      {t.sources.length === 0 ? (
        <p class="muted">{ct('c_town_no_sources')}</p>
      ) : (
        <Board testid="sources-table" cols={['c_col_service', 'c_col_source', 'c_col_latest', 'c_col_age', 'c_col_rpo', 'c_col_status']}>
          {t.sources.map((s) => (
            <tr key={`${s.service}|${s.host}|${s.path}`} data-testid="source-row" data-status={s.status} data-service={s.service} data-host={s.host}>
              <td>{s.service}</td>
              <td class="mono">
                {s.host}:{s.path}
              </td>
              <td>{s.latest ? when(s.latest) : ct('c_never')}</td>
              <td>{s.latest ? age(s.age_seconds) : '—'}</td>
              <td>{age(s.rpo_seconds)}</td>
              <td>
                <span class={`pill ${s.status === 'ok' ? 'good' : s.status === 'stale' ? 'warn' : 'bad'}`}>{ct(`src_${s.status}` as ConsoleKey)}</span>
              </td>
            </tr>
          ))}
        </Board>
      )}
    </section>
  );
}

function Machines(props: { town: TenantOverview }) {
  const t = props.town;
  return (
    <section aria-labelledby="machines-title">
      <h3 id="machines-title">{ct('c_town_machines')}</h3>
      {t.machines.length === 0 ? (
        <p class="muted">{ct('c_town_no_machines')}</p>
      ) : (
        <Board testid="machines-table" cols={['c_col_host', 'c_col_snapshots', 'c_col_latest', 'c_col_verdict', 'c_col_clean', 'c_col_locked']}>
          {t.machines.map((m) => (
            <tr key={m.agent_id} data-testid="machine-row" data-host={m.host} data-verdict={m.verdict ?? ''}>
              <td>
                {m.host}
                {m.revoked ? ` (${ct('c_revoked')})` : ''}
              </td>
              <td>{m.snapshots}</td>
              <td>{when(m.latest)}</td>
              <td class={m.verdict === 'infected' ? 'bad' : m.verdict === 'suspect' ? 'warn' : ''}>{m.latest ? verdictText(m.verdict) : '—'}</td>
              <td>{when(m.latest_clean)}</td>
              <td>{m.locked_until ? when(m.locked_until) : '—'}</td>
            </tr>
          ))}
        </Board>
      )}
    </section>
  );
}

function Plan(props: { town: TenantOverview; order?: PlanOrder; plan?: PlanVersion; err: string; drills?: Map<string, Drill>; edit?: () => void }) {
  const t = props.town;
  if (!t.plan) {
    return (
      <section aria-labelledby="plan-title">
        <h3 id="plan-title">{ct('c_town_plan')}</h3>
        <p class="muted" data-testid="no-plan">
          {ct('c_town_no_plan', { town: t.tenant })}
        </p>
        {props.edit && (
          <button type="button" class="primary" data-testid="plan-edit" onClick={props.edit}>
            {ct('c_edit_start')}
          </button>
        )}
      </section>
    );
  }
  const o = props.order;
  const names = new Map<string, string>();
  for (const w of o?.waves ?? []) for (const s of w.services) names.set(s.id, s.name || s.id);
  return (
    <section aria-labelledby="plan-title">
      <h3 id="plan-title">{ct('c_town_plan')}</h3>
      <p class="help">
        {ct('c_town_plan_version', { v: t.plan.version, when: when(t.plan.saved) })}
        {t.plan.reviewed_at ? ` · ${ct('c_town_reviewed', { date: t.plan.reviewed_at })}` : ''}
      </p>
      {props.edit && (
        <button type="button" data-testid="plan-edit" onClick={props.edit}>
          {ct('c_edit_open')}
        </button>
      )}
      {props.err && (
        <p class="error" role="alert">
          {props.err}
        </p>
      )}
      {!o && !props.err && <p>{ct('c_loading')}</p>}
      {o && (
        <>
          <ol class="waves" data-testid="waves">
            {o.waves.map((w) => (
              <li key={w.number} data-testid="wave" data-wave={w.number}>
                <strong>{ct('c_wave', { n: w.number })}</strong> <span class="muted">({ct('c_wave_parallel')})</span>:{' '}
                {w.services.map((s, i) => {
                  const d = props.drills?.get(s.id);
                  return (
                    <span key={s.id} data-service={s.id}>
                      {i > 0 ? ', ' : ''}
                      {s.name || s.id}
                      {d && (
                        <span class="wave-drill" data-testid="wave-drill" data-result={d.result}>
                          {' '}
                          ({ct('c_wave_drill')} <DrillResult d={d} /> {when(d.finished)})
                        </span>
                      )}
                    </span>
                  );
                })}
              </li>
            ))}
            {(o.unordered ?? []).length > 0 && (
              <li data-testid="wave" data-wave="0" class="bad">
                <strong>{ct('c_unordered')}</strong>: {(o.unordered ?? []).join(', ')}
              </li>
            )}
          </ol>
          <h3>{ct('c_town_graph')}</h3>
          <p class="help">{ct('c_town_graph_help')}</p>
          <DependencyGraph town={t.tenant} input={graphInput(o, props.plan)} />
          <h3>{ct('c_town_problems')}</h3>
          {o.problems.length === 0 ? (
            <p class="good">{ct('c_town_no_problems')}</p>
          ) : (
            <ul class="problems" data-testid="problems">
              {o.problems.map((p, i) => (
                <li key={i} data-testid="problem-row" data-kind={p.kind} data-severity={p.severity} class={p.severity === 'error' ? 'problem error-row' : 'problem'}>
                  <span class={`pill ${p.severity === 'error' ? 'bad' : 'warn'}`}>{p.severity}</span>{' '}
                  {p.service && <strong>{names.get(p.service) ?? p.service}: </strong>}
                  <span lang="en">{p.message}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

function Versions(props: { versions?: PlanVersion[] }) {
  if (!props.versions || props.versions.length === 0) return null;
  return (
    <section aria-labelledby="versions-title">
      <h3 id="versions-title">{ct('c_town_versions')}</h3>
      <Board testid="versions-table" cols={['c_col_version', 'c_col_time', 'c_col_actor', 'c_col_note', 'c_col_changes']}>
        {props.versions.map((v) => {
          const d = diffLines(v.changes);
          return (
            <tr key={v.version} data-testid="version-row" data-version={v.version}>
              <td>{v.version}</td>
              <td>{when(v.created)}</td>
              <td class="mono">{v.created_by}</td>
              <td>{v.note}</td>
              <td>
                {[
                  d.added.length ? ct('c_diff_added', { list: d.added.join(', ') }) : '',
                  d.changed.length ? ct('c_diff_changed', { list: d.changed.join('; ') }) : '',
                  d.removed.length ? ct('c_diff_removed', { list: d.removed.join(', ') }) : '',
                  d.plan.length ? ct('c_diff_plan', { list: d.plan.join(', ') }) : '',
                ]
                  .filter((x) => x)
                  .join(' · ') || ct('c_diff_none')}
              </td>
            </tr>
          );
        })}
      </Board>
    </section>
  );
}

/** "Print the runbook": the PDF is fetched with the token, then saved from a blob URL. */
function Runbook(props: { session: Session; town: string; guard: Guard }) {
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const download = async () => {
    setBusy(true);
    setErr('');
    try {
      const lang = getLang();
      const blob = await props.guard(() => consoleApi.runbook(props.session, props.town, lang));
      if (blob) saveBlob(blob, `runbook-${props.town}-${lang}.pdf`);
    } catch (e) {
      setErr(failureText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" data-testid="runbook-pdf" onClick={() => void download()} disabled={busy} aria-busy={busy}>
        {busy ? ct('c_loading') : ct('c_runbook_pdf')}
      </button>
      {err && (
        <p class="error" role="alert" data-testid="runbook-error">
          {err}
        </p>
      )}
    </>
  );
}

/** The NIS2 evidence report of a period (docs/evidence.md), as a PDF in the console's language or a CSV file. */
function Evidence(props: { session: Session; town: string; guard: Guard }) {
  const [period, setPeriod] = useState(() => defaultPeriod(new Date()));
  const [busy, setBusy] = useState<'' | 'pdf' | 'csv'>('');
  const [err, setErr] = useState('');
  const problem = periodProblem(period.from, period.to);
  const download = async (format: 'pdf' | 'csv') => {
    setBusy(format);
    setErr('');
    try {
      const { from, to } = period;
      const blob = await props.guard(() => consoleApi.evidence(props.session, props.town, format, from, to, getLang()));
      if (blob) saveBlob(blob, evidenceFileName(props.town, from, to, format));
    } catch (e) {
      setErr(failureText(e));
    } finally {
      setBusy('');
    }
  };
  return (
    <section aria-labelledby="evidence-title" data-testid="evidence">
      <h3 id="evidence-title">{ct('c_evidence_title')}</h3>
      <p class="help">{ct('c_evidence_help')}</p>
      <p class="evidence-period">
        <label>
          {ct('c_evidence_from')}{' '}
          <input
            type="date"
            data-testid="evidence-from"
            value={period.from}
            max={period.to || undefined}
            onInput={(e) => setPeriod({ ...period, from: (e.target as HTMLInputElement).value })}
          />
        </label>{' '}
        <label>
          {ct('c_evidence_to')}{' '}
          <input
            type="date"
            data-testid="evidence-to"
            value={period.to}
            min={period.from || undefined}
            onInput={(e) => setPeriod({ ...period, to: (e.target as HTMLInputElement).value })}
          />
        </label>
      </p>
      {problem && (
        <p class="error" role="alert" data-testid="evidence-period-error">
          {ct(problem === 'missing' ? 'c_evidence_period_missing' : 'c_evidence_period_reversed')}
        </p>
      )}
      <p>
        <button type="button" data-testid="evidence-pdf" disabled={!!busy || !!problem} aria-busy={busy === 'pdf'} onClick={() => void download('pdf')}>
          {busy === 'pdf' ? ct('c_loading') : ct('c_evidence_pdf')}
        </button>{' '}
        <button type="button" data-testid="evidence-csv" disabled={!!busy || !!problem} aria-busy={busy === 'csv'} onClick={() => void download('csv')}>
          {busy === 'csv' ? ct('c_loading') : ct('c_evidence_csv')}
        </button>
      </p>
      {err && (
        <p class="error" role="alert" data-testid="evidence-error">
          {err}
        </p>
      )}
    </section>
  );
}

function Audit(props: { records?: AuditRecord[]; err: string; hidden: boolean }) {
  if (props.hidden) return null;
  return (
    <section aria-labelledby="audit-title">
      <h3 id="audit-title">{ct('c_town_audit')}</h3>
      {props.err && (
        <p class="error" role="alert">
          {props.err}
        </p>
      )}
      {!props.records && !props.err && <p>{ct('c_loading')}</p>}
      {props.records && props.records.length === 0 && <p class="muted">{ct('c_town_no_audit')}</p>}
      {props.records && props.records.length > 0 && (
        <Board testid="audit-table" cols={['c_col_time', 'c_col_actor', 'c_col_action']}>
          {props.records.map((r) => (
            <tr key={r.id} data-testid="audit-row" data-action={r.action}>
              <td>{when(r.time)}</td>
              <td class="mono">{r.actor}</td>
              <td class="mono">{r.action}</td>
            </tr>
          ))}
        </Board>
      )}
    </section>
  );
}

export function TownPage(props: { session: Session; town: TenantOverview; at: string; alertId?: number; guard: Guard; reload?: () => void }) {
  useLang();
  const t = props.town;
  const status = townStatus(t);
  const [order, setOrder] = useState<PlanOrder | undefined>();
  const [plan, setPlan] = useState<PlanVersion | undefined>();
  const [planErr, setPlanErr] = useState('');
  const [audit, setAudit] = useState<AuditRecord[] | undefined>();
  const [auditErr, setAuditErr] = useState('');
  const [auditHidden, setAuditHidden] = useState(false);
  const [drills, setDrills] = useState<Drill[] | undefined>();
  const [drillsErr, setDrillsErr] = useState('');
  const [drillsRev, setDrillsRev] = useState(0);
  const [versions, setVersions] = useState<PlanVersion[] | undefined>();
  const [editing, setEditing] = useState(false);
  const [rev, setRev] = useState(0);
  const role = props.session.role;
  const canWrite = role === 'operator' || (role === 'tenant_admin' && props.session.tenant === t.tenant);
  useEffect(() => {
    props
      .guard(() => consoleApi.drills(props.session, t.tenant))
      .then((d) => d && setDrills(d))
      .catch((e) => setDrillsErr(failureText(e)));
    if (t.plan) {
      props
        .guard(() => consoleApi.planVersions(props.session, t.tenant))
        .then((v) => v && setVersions(v))
        .catch(() => undefined);
    }
  }, [t.tenant, props.at, rev, drillsRev]);
  useEffect(() => {
    if (t.plan) {
      Promise.all([props.guard(() => consoleApi.order(props.session, t.tenant)), props.guard(() => consoleApi.plan(props.session, t.tenant))])
        .then(([o, p]) => {
          if (o) setOrder(o);
          if (p) setPlan(p);
        })
        .catch((e) => setPlanErr(failureText(e)));
    }
    props
      .guard(() => consoleApi.latestAudit(props.session, t.tenant))
      .then((r) => r && setAudit(r))
      .catch((e) => {
        if (e instanceof HttpError && e.status === 403) setAuditHidden(true);
        else setAuditErr(failureText(e));
      });
  }, [t.tenant, props.at, rev]);
  return (
    <article class="town" data-testid="town-page" data-tenant={t.tenant}>
      <header class="town-head">
        <h2 data-testid="town-title">{t.tenant}</h2>
        <StatusBadge status={status} />
        <a class="button primary" href="/crisis/" data-testid="open-crisis">
          {ct('c_town_open_crisis')}
        </a>
      </header>
      <Reasons status={status} />
      <Alerts town={t} openId={props.alertId} session={props.session} guard={props.guard} onClosed={props.reload} />
      <Sources town={t} />
      <Machines town={t} />
      <p class="runbook-row">
        <Runbook session={props.session} town={t.tenant} guard={props.guard} />
      </p>
      <Plan town={t} order={order} plan={plan} err={planErr} drills={drills ? latestDrills(drills) : undefined} edit={canWrite && !editing ? () => setEditing(true) : undefined} />
      {editing && canWrite && (
        <PlanEditor
          session={props.session}
          town={t.tenant}
          guard={props.guard}
          onSaved={() => {
            setRev((n) => n + 1);
            props.reload?.();
          }}
          onClose={() => setEditing(false)}
        />
      )}
      <Versions versions={versions} />
      <Drills
        town={t.tenant}
        drills={drills}
        err={drillsErr}
        services={(plan?.plan?.services ?? []).map((s) => ({ id: s.id, name: s.name || s.id }))}
        session={props.session}
        guard={props.guard}
        canRequest={canWrite}
        at={props.at}
        onChanged={() => {
          setDrillsRev((n) => n + 1);
          props.reload?.();
        }}
      />
      {mayReadEvidence(props.session, t.tenant) && <Evidence session={props.session} town={t.tenant} guard={props.guard} />}
      <Audit records={audit} err={auditErr} hidden={auditHidden} />
    </article>
  );
}

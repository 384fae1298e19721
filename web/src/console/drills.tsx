// A town's restore drills (GET drills): the latest drill of each service
// (result, recovery time against the RTO, when, who), its evidence on
// click, and for the services never drilled the command that runs one
// where the passphrase is (on the town's machine: the console cannot).
// Those who may (an operator, the town's admin) ask for a drill ("Run a
// drill", POST drill-requests) that a machine of the town picks up; the
// requests are followed (GET drill-requests, every 3 s while one is open),
// with the machines that pick them up and the schedule (PUT
// drill-schedule). docs/drills.md.
import { useEffect, useRef, useState } from 'preact/hooks';
import { getLang } from '../i18n';
import { Board } from './board';
import { escapeCancels } from './forms';
import { ct, type ConsoleKey } from '../i18n/console';
import { consoleApi, type Drill, type DrillRequest, type DrillRequests, type Session } from './api';
import {
  isOpen,
  openByService,
  pollDelay,
  progressPercent,
  runnerCommand,
  runnerView,
  scheduleProblem,
  secondsSince,
  sizeParts,
  stateChanges,
  statesOf,
} from './drillqueue';
import { age, failureText, when, whenIn } from './text';

type Guard = <T>(f: () => Promise<T>) => Promise<T | undefined>;

/** The latest drill of each service (the list is newest first). */
export function latestDrills(list: Drill[]): Map<string, Drill> {
  const out = new Map<string, Drill>();
  for (const d of list) {
    const cur = out.get(d.service);
    if (!cur || Date.parse(d.finished) > Date.parse(cur.finished) || (d.finished === cur.finished && d.id > cur.id)) out.set(d.service, d);
  }
  return out;
}

export const drillPill = (r: string) => (r === 'passed' ? 'good' : r === 'slow' ? 'warn' : 'bad');

function secs(s: number): string {
  return s < 10 ? `${s.toFixed(1)} s` : age(Math.round(s));
}

export function DrillResult(props: { d: Drill }) {
  return <span class={`pill ${drillPill(props.d.result)}`}>{ct(`dr_${props.d.result}` as ConsoleKey)}</span>;
}

function Evidence(props: { d: Drill }) {
  const d = props.d;
  return (
    <div class="card drill-evidence" data-testid="drill-evidence" data-drill={d.id}>
      <h4>{ct('c_drill_evidence_title', { id: d.id, service: d.service_name || d.service })}</h4>
      <dl class="detail">
        <dt>{ct('c_drill_result')}</dt>
        <dd>
          <DrillResult d={d} />
          {(d.reasons ?? []).length > 0 && (
            <ul data-testid="drill-reasons">
              {(d.reasons ?? []).map((r, i) => (
                <li key={i} lang="en">
                  {r}
                </li>
              ))}
            </ul>
          )}
        </dd>
        <dt>{ct('c_drill_times')}</dt>
        <dd>{ct('c_drill_times_v', { restore: secs(d.restore_seconds), verify: secs(d.verify_seconds), health: secs(d.health_seconds), rto: d.rto })}</dd>
        <dt>{ct('c_drill_verified')}</dt>
        <dd data-testid="drill-verified">{ct('c_drill_verified_v', { files: d.files, bytes: d.bytes, damaged: d.damaged })}</dd>
        {d.digest && (
          <>
            <dt>{ct('c_drill_digest')}</dt>
            <dd class="mono">{d.digest}</dd>
          </>
        )}
        <dt>{ct('c_drill_sources')}</dt>
        <dd>
          <ul>
            {d.sources.map((s, i) => (
              <li key={i} class="mono" data-testid="drill-source">
                {s.host}:{s.path} — {s.snapshot ? `${s.snapshot.slice(0, 12)} (${when(s.snapshot_time)})` : ct('c_drill_no_snapshot')}
                {s.error ? ` — ${s.error}` : ''}
                {(s.damaged ?? []).map((x) => (
                  <div key={x.path} class="bad">
                    {x.path}: {x.reason}
                  </div>
                ))}
              </li>
            ))}
          </ul>
        </dd>
        {d.health_check && (
          <>
            <dt>{ct('c_drill_health')}</dt>
            <dd>
              <code>{d.health_check.command}</code> —{' '}
              {d.health_check.ran ? ct('c_drill_health_exit', { code: d.health_check.exit_code }) : d.health_check.error || ct('c_drill_health_not_run')}
              {d.health_check.output && <pre class="mono">{d.health_check.output}</pre>}
            </dd>
          </>
        )}
        <dt>{ct('c_drill_ran')}</dt>
        <dd>
          {when(d.started)} → {when(d.finished)} · {d.ran_by} @ {d.host} ({ct('c_drill_recorded_by', { who: d.recorded_by, when: when(d.recorded) })})
        </dd>
        <dt>{ct('c_drill_sha')}</dt>
        <dd class="mono">{d.sha256}</dd>
      </dl>
    </div>
  );
}

/** A requested drill's state as a pill: the drill's result once done. */
function RequestState(props: { r: DrillRequest }) {
  const r = props.r;
  if (r.state === 'done' && r.result) {
    return (
      <span class={`pill ${drillPill(r.result)}`} data-testid="dq-state" data-state="done">
        {ct('c_dq_state_done')} · {ct(`dr_${r.result}` as ConsoleKey)}
      </span>
    );
  }
  const cls = r.state === 'failed' ? 'bad' : r.state === 'done' ? 'good' : `dq-${r.state}`;
  return (
    <span class={`pill ${cls}`} data-testid="dq-state" data-state={r.state}>
      {ct(`c_dq_state_${r.state}` as ConsoleKey)}
    </span>
  );
}

/** The machine's phase ("starting", "restoring fs01:/srv/x", "verifying fs01:/srv/x", "health check", "done") in words. */
function phaseText(phase: string): string {
  const m = /^(restoring|verifying) (.+)$/.exec(phase);
  if (m) return ct(m[1] === 'restoring' ? 'c_dq_phase_restoring' : 'c_dq_phase_verifying', { what: m[2] });
  if (phase === 'starting') return ct('c_dq_phase_starting');
  if (phase === 'health check') return ct('c_dq_phase_health_check');
  if (phase === 'done') return ct('c_dq_phase_done');
  return phase;
}

function sizeText(bytes: number): string {
  const { n, unit } = sizeParts(bytes);
  return ct(`c_dq_unit_${unit}` as ConsoleKey, { n: n.toLocaleString(getLang() === 'fr' ? 'fr-FR' : 'en-GB') });
}

/** A running drill: its phase, and a bar when the machine says how much is done. */
function Progress(props: { r: DrillRequest; name: string; now: number }) {
  const p = props.r.progress;
  const pct = progressPercent(p);
  const label = ct('c_dq_progress_label', { service: props.name });
  return (
    <div class="dq-progress" data-testid="dq-progress" data-phase={p?.phase ?? ''}>
      {pct === undefined ? <progress aria-label={label} /> : <progress aria-label={label} max={100} value={pct} />}
      <span>
        {p?.phase ? phaseText(p.phase) : ct('c_dq_phase_starting')}
        {pct !== undefined && p ? ` — ${pct} % (${sizeText(p.done)} / ${sizeText(p.total)})` : ''}
        {p?.updated ? ` · ${ct('c_dq_progress_news', { age: age(secondsSince(p.updated, props.now)) })}` : ''}
      </span>
    </div>
  );
}

/** Who picks requests up, or what to set up when nobody does. */
function Runners(props: { q: DrillRequests; town: string; now: number }) {
  const v = runnerView(props.q.runners, props.now);
  if (!v.warn) {
    return (
      <p class="help" data-testid="dq-runners" data-hosts={v.fresh.map((r) => r.host).join(' ')}>
        {ct('c_dq_runners', {
          list: v.fresh.map((r) => ct('c_dq_runner', { host: r.host, age: age(secondsSince(r.last_seen, props.now)) })).join(', '),
        })}
      </p>
    );
  }
  return (
    <div class="dq-warning" role="status" data-testid="dq-runner-warning" data-stale={v.latest ? 'true' : 'false'}>
      <p>
        <strong>
          {v.latest
            ? ct('c_dq_runner_stale', { host: v.latest.host, age: age(secondsSince(v.latest.last_seen, props.now)) })
            : ct('c_dq_runner_none')}
        </strong>
      </p>
      <p>{ct('c_dq_runner_setup', { town: props.town })}</p>
      <p>
        <code class="copyable" data-testid="dq-runner-command" tabIndex={0}>
          {runnerCommand(location.origin, props.town)}
        </code>
      </p>
      <p class="help">{ct('c_dq_runner_more')}</p>
    </div>
  );
}

/** The schedule, and for those who may change it a small form. */
function Schedule(props: { q?: DrillRequests; canEdit: boolean; onSave: (every: number, at: string) => Promise<string> }) {
  const sch = props.q?.schedule;
  const on = !!sch && sch.every_days > 0;
  const [every, setEvery] = useState('');
  const [at, setAt] = useState('');
  const [dirty, setDirty] = useState(false);
  const [busy, setBusy] = useState<'' | 'save' | 'off'>('');
  const [err, setErr] = useState('');
  useEffect(() => {
    if (dirty) return;
    setEvery(String(on ? sch!.every_days : 30));
    setAt(on && sch!.at ? sch!.at : '02:30');
  }, [on, sch?.every_days, sch?.at, dirty]);
  const send = async (n: number, hhmm: string, which: 'save' | 'off') => {
    setBusy(which);
    setErr('');
    const e = await props.onSave(n, hhmm);
    setBusy('');
    if (e) setErr(e);
    else setDirty(false);
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const problem = scheduleProblem(every, at);
    if (problem) {
      setErr(ct(problem === 'every' ? 'c_dq_sched_bad_every' : 'c_dq_sched_bad_at'));
      document.getElementById(problem === 'every' ? 'dq-every' : 'dq-at')?.focus();
      return;
    }
    void send(Number(every.trim()), at.trim(), 'save');
  };
  return (
    <div class="dq-schedule">
      <h4 id="dq-schedule-title">{ct('c_dq_sched_title')}</h4>
      {props.q && (
        <p data-testid="dq-schedule" data-every={on ? sch!.every_days : 0} data-at={on ? sch!.at ?? '' : ''}>
          {on
            ? ct('c_dq_sched_on', { n: sch!.every_days, at: sch!.at ?? '', tz: sch!.time_zone || ct('c_dq_sched_tz_server') })
            : ct('c_dq_sched_off')}
          {on && sch!.next && (
            <span data-testid="dq-schedule-next" data-next={sch!.next}>
              {ct('c_dq_sched_next', { when: whenIn(sch!.next, sch!.time_zone, getLang()) })}
            </span>
          )}
          {on && sch!.updated_by ? ` ${ct('c_dq_sched_by', { who: sch!.updated_by, when: when(sch!.updated ?? undefined) })}` : ''}
        </p>
      )}
      {props.canEdit && props.q && (
        <form class="dq-schedule-form" data-testid="dq-schedule-form" aria-labelledby="dq-schedule-title" onSubmit={submit} noValidate>
          <span class="dq-field">
            <label for="dq-every">{ct('c_dq_sched_every')}</label>
            <input
              id="dq-every"
              type="number"
              min={1}
              max={365}
              step={1}
              inputMode="numeric"
              required
              data-testid="dq-schedule-every"
              value={every}
              onInput={(e) => {
                setDirty(true);
                setEvery((e.target as HTMLInputElement).value);
              }}
            />
          </span>
          <span class="dq-field">
            <label for="dq-at">{ct('c_dq_sched_at')}</label>
            <input
              id="dq-at"
              type="time"
              required
              data-testid="dq-schedule-at"
              value={at}
              onInput={(e) => {
                setDirty(true);
                setAt((e.target as HTMLInputElement).value);
              }}
            />
          </span>
          <button type="submit" class="primary" data-testid="dq-schedule-save" disabled={!!busy} aria-busy={busy === 'save'}>
            {busy === 'save' ? ct('c_loading') : ct('c_dq_sched_save')}
          </button>
          {on && (
            <button type="button" data-testid="dq-schedule-off" disabled={!!busy} aria-busy={busy === 'off'} onClick={() => void send(0, '', 'off')}>
              {busy === 'off' ? ct('c_loading') : ct('c_dq_sched_turn_off')}
            </button>
          )}
          {err && (
            <p class="error" role="alert" data-testid="dq-schedule-error">
              {err}
            </p>
          )}
        </form>
      )}
    </div>
  );
}

type Confirm = { kind: 'run'; services: string[] | 'all'; label: string } | { kind: 'cancel'; req: DrillRequest };

/** Asks before queuing or cancelling, saying what will happen; it takes the focus, Escape gives it back. */
function ConfirmBox(props: { c: Confirm; name: string; runnerWarn: boolean; count: number; busy: boolean; err: string; onYes: () => void; onNo: () => void }) {
  const c = props.c;
  const yes = useRef<HTMLButtonElement>(null);
  const no = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    (c.kind === 'run' ? yes : no).current?.focus();
  }, [c]);
  const what =
    c.kind === 'run'
      ? c.services === 'all'
        ? ct('c_dq_confirm_all', { n: props.count })
        : ct('c_dq_confirm_one', { service: c.label })
      : c.req.state === 'running'
        ? ct('c_dq_cancel_running', { service: props.name, host: c.req.host || '?' })
        : ct('c_dq_cancel_queued', { service: props.name });
  return (
    <div
      class={`dq-confirm ${c.kind === 'cancel' ? 'dq-confirm-cancel' : ''}`}
      role="group"
      aria-labelledby="dq-confirm-what"
      data-testid="dq-confirm"
      data-kind={c.kind}
      onKeyDown={escapeCancels(props.busy, props.onNo)}
    >
      <p id="dq-confirm-what" data-testid="dq-confirm-what">
        {what}
      </p>
      {c.kind === 'run' && props.runnerWarn && (
        <p class="warn" data-testid="dq-confirm-wait">
          {ct('c_dq_confirm_wait')}
        </p>
      )}
      {props.err && (
        <p class="error" role="alert" data-testid="dq-confirm-error">
          {props.err}
        </p>
      )}
      <p>
        <button
          type="button"
          ref={yes}
          class={c.kind === 'run' ? 'primary' : 'danger'}
          data-testid="dq-confirm-yes"
          aria-describedby="dq-confirm-what"
          disabled={props.busy}
          aria-busy={props.busy}
          onClick={props.onYes}
        >
          {props.busy ? ct('c_loading') : c.kind === 'run' ? ct(c.services === 'all' ? 'c_dq_confirm_yes_all' : 'c_dq_confirm_yes') : ct('c_dq_cancel_yes')}
        </button>{' '}
        <button type="button" ref={no} data-testid="dq-confirm-no" aria-describedby="dq-confirm-what" disabled={props.busy} onClick={props.onNo}>
          {c.kind === 'run' ? ct('c_dq_confirm_no') : ct('c_dq_cancel_no')}
        </button>
      </p>
    </div>
  );
}

/** Announced to screen readers (aria-live) when a request changes. */
function changeText(r: DrillRequest, service: string): string {
  switch (r.state) {
    case 'running':
      return ct('c_dq_said_running', { service, host: r.host || '?' });
    case 'done':
      return ct('c_dq_said_done', { service, result: r.result ? ct(`dr_${r.result}` as ConsoleKey) : '' });
    case 'failed':
      return ct('c_dq_said_failed', { service, error: r.error || '' });
    case 'cancelled':
      return ct('c_dq_said_cancelled', { service });
    default:
      return ct('c_dq_said_queued', { service });
  }
}

export function Drills(props: {
  town: string;
  drills?: Drill[];
  err: string;
  services: { id: string; name: string }[];
  session?: Session;
  guard?: Guard;
  /** An operator or the town's admin: may ask for drills, cancel them and set the schedule. */
  canRequest?: boolean;
  /** A requested drill finished: the drills (and the town's status) are to be loaded again. */
  onChanged?: () => void;
  /** When the page was loaded (the overview's time): a new one asks for the requests again too. */
  at?: string;
}) {
  const [open, setOpen] = useState<{ id: number; from: 'table' | 'requests' } | undefined>();
  const [fetched, setFetched] = useState<Map<number, Drill>>(new Map());
  const [evErr, setEvErr] = useState('');
  const [q, setQ] = useState<DrillRequests | undefined>();
  const [qErr, setQErr] = useState('');
  const [now, setNow] = useState(() => Date.now());
  const [confirm, setConfirm] = useState<Confirm | undefined>();
  const [busy, setBusy] = useState(false);
  const [actErr, setActErr] = useState('');
  const [said, setSaid] = useState('');
  const back = useRef<HTMLElement | null>(null);
  const reqHeading = useRef<HTMLHeadingElement>(null);
  const prev = useRef<Map<number, DrillRequest['state']> | undefined>();
  const seq = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>();
  const alive = useRef(true);
  const loadRef = useRef<() => Promise<void>>(async () => undefined);

  const { session, guard } = props;
  const canRequest = !!props.canRequest && !!session && !!guard;
  /** A service's name in the plan (its ID when unknown). */
  const nameOf = (id: string) => props.services.find((s) => s.id === id)?.name ?? (props.drills ?? []).find((d) => d.service === id)?.service_name ?? id;

  /** Asks for the requests, then again in 3 s while one is open, else in 30 s. */
  loadRef.current = async () => {
    if (!session || !guard) return;
    clearTimeout(timer.current);
    const mine = ++seq.current;
    let next = pollDelay(q?.requests);
    try {
      const a = await guard(() => consoleApi.drillRequests(session, props.town));
      if (!alive.current || mine !== seq.current) return;
      if (!a) return; // signed out
      const reqs = a.requests ?? [];
      const changes = stateChanges(prev.current, reqs);
      prev.current = statesOf(reqs);
      setQ(a);
      setQErr('');
      setNow(Date.now());
      if (changes.length > 0) setSaid(changes.map((c) => changeText(c.req, nameOf(c.req.service))).join(' '));
      if (changes.some((c) => c.req.state === 'done' || c.req.state === 'failed')) props.onChanged?.();
      next = pollDelay(reqs);
    } catch (e) {
      if (!alive.current || mine !== seq.current) return;
      setQErr(failureText(e));
    }
    timer.current = setTimeout(() => void loadRef.current(), next);
  };

  useEffect(() => {
    alive.current = true;
    void loadRef.current();
    const again = () => {
      if (document.visibilityState !== 'hidden') void loadRef.current();
    };
    addEventListener('focus', again);
    document.addEventListener('visibilitychange', again);
    return () => {
      alive.current = false;
      seq.current++;
      clearTimeout(timer.current);
      removeEventListener('focus', again);
      document.removeEventListener('visibilitychange', again);
    };
  }, [props.town, session?.token, props.at]);

  const latest = latestDrills(props.drills ?? []);
  const never = props.services.filter((s) => !latest.has(s.id));
  const rows = [...latest.values()].sort((a, b) => a.service.localeCompare(b.service));
  const shown = open ? ((props.drills ?? []).find((d) => d.id === open.id) ?? fetched.get(open.id)) : undefined;
  const openReq = openByService(q?.requests);
  const inPlan = new Set(props.services.map((s) => s.id));
  const runnerWarn = q ? runnerView(q.runners, now).warn : false;

  const ask = (c: Confirm) => {
    back.current = document.activeElement as HTMLElement | null;
    setActErr('');
    setConfirm(c);
  };
  const closeConfirm = () => {
    setConfirm(undefined);
    setActErr('');
    const b = back.current;
    setTimeout(() => (b && b.isConnected ? b.focus() : reqHeading.current?.focus()), 0);
  };
  const yes = async () => {
    if (!confirm || !session || !guard) return;
    setBusy(true);
    setActErr('');
    try {
      if (confirm.kind === 'run') {
        const ok = await guard(async () => (await consoleApi.requestDrills(session, props.town, confirm.services), true));
        if (!ok) return;
        setSaid(
          confirm.services === 'all'
            ? ct('c_dq_said_queued_all', { n: props.services.length })
            : ct('c_dq_said_queued', { service: confirm.label }),
        );
      } else {
        const ok = await guard(async () => (await consoleApi.cancelDrillRequest(session, props.town, confirm.req.id), true));
        if (!ok) return;
        setSaid(ct('c_dq_said_cancelled', { service: nameOf(confirm.req.service) }));
      }
      setConfirm(undefined);
      back.current = null;
      setTimeout(() => reqHeading.current?.focus(), 0);
      await loadRef.current();
    } catch (e) {
      setActErr(failureText(e));
    } finally {
      setBusy(false);
    }
  };
  const showEvidence = async (id: number, from: 'table' | 'requests') => {
    if (open?.id === id && open.from === from) {
      setOpen(undefined);
      return;
    }
    setEvErr('');
    setOpen({ id, from });
    if (!(props.drills ?? []).some((d) => d.id === id) && !fetched.has(id) && session && guard) {
      try {
        const d = await guard(() => consoleApi.drill(session, props.town, id));
        if (d) setFetched((m) => new Map(m).set(id, d));
      } catch (e) {
        setEvErr(failureText(e));
      }
    }
  };
  const saveSchedule = async (every: number, at: string): Promise<string> => {
    if (!session || !guard) return '';
    try {
      const ok = await guard(async () => (await consoleApi.setDrillSchedule(session, props.town, every, at), true));
      if (!ok) return '';
      setSaid(every > 0 ? ct('c_dq_said_sched', { n: every, at }) : ct('c_dq_said_sched_off'));
      await loadRef.current();
      return '';
    } catch (e) {
      return failureText(e);
    }
  };

  const runButton = (id: string, name: string) => {
    const o = openReq.get(id);
    if (o) {
      return (
        <span class="muted" data-testid="dq-run-pending" data-service={id}>
          {ct(o.state === 'running' ? 'c_dq_run_running' : 'c_dq_run_queued')}
        </span>
      );
    }
    return (
      <button type="button" data-testid="dq-run" data-service={id} disabled={busy} onClick={() => ask({ kind: 'run', services: [id], label: name })}>
        {ct('c_dq_run')}
        <span class="sr-only"> {name}</span>
      </button>
    );
  };
  const confirmBox = (kind: Confirm['kind']) =>
    confirm?.kind === kind && (
      <ConfirmBox c={confirm} name={confirm.kind === 'cancel' ? nameOf(confirm.req.service) : confirm.label} runnerWarn={runnerWarn} count={props.services.length} busy={busy} err={actErr} onYes={() => void yes()} onNo={closeConfirm} />
    );
  const evidence = (from: 'table' | 'requests') =>
    open?.from === from && (
      <>
        {evErr && (
          <p class="error" role="alert">
            {evErr}
          </p>
        )}
        {shown ? <Evidence d={shown} /> : !evErr && <p>{ct('c_loading')}</p>}
      </>
    );

  return (
    <section aria-labelledby="drills-title" data-testid="drills">
      <h3 id="drills-title">{ct('c_town_drills')}</h3>
      {props.err && (
        <p class="error" role="alert">
          {props.err}
        </p>
      )}
      {!props.drills && !props.err && <p>{ct('c_loading')}</p>}
      {props.drills && rows.length === 0 && <p class="muted">{ct('c_town_no_drills')}</p>}
      {rows.length > 0 && (
        <Board testid="drills-table" cols={['c_col_service', 'c_drill_result', 'c_col_recovery', 'c_col_time', 'c_col_actor', 'c_drill_evidence', canRequest && 'c_dq_col_run']}>
          {rows.map((d) => (
            <tr key={d.id} data-testid="drill-row" data-service={d.service} data-result={d.result} data-drill={d.id}>
              <td>{d.service_name || d.service}</td>
              <td>
                <DrillResult d={d} />
              </td>
              <td class={d.result === 'slow' ? 'warn' : ''}>
                {secs(d.recovery_seconds)} / {d.rto}
              </td>
              <td>{when(d.finished)}</td>
              <td class="mono">{d.ran_by}</td>
              <td>
                <button
                  type="button"
                  data-testid="drill-open"
                  aria-expanded={open?.id === d.id && open.from === 'table'}
                  onClick={() => void showEvidence(d.id, 'table')}
                >
                  {ct('c_drill_evidence')}
                  <span class="sr-only"> {d.service}</span>
                </button>
              </td>
              {canRequest && <td>{inPlan.has(d.service) ? runButton(d.service, d.service_name || d.service) : '—'}</td>}
            </tr>
          ))}
        </Board>
      )}
      {evidence('table')}
      {never.length > 0 && (
        <p class="warn" data-testid="drill-never">
          {ct('c_drill_never', { list: never.map((s) => s.id).join(', ') })}
        </p>
      )}
      {canRequest && never.length > 0 && (
        <ul class="dq-never" data-testid="dq-never-list">
          {never.map((s) => (
            <li key={s.id} data-service={s.id}>
              <span>
                {s.name}
                {s.name !== s.id && <span class="muted mono"> ({s.id})</span>}
              </span>{' '}
              {runButton(s.id, s.name)}
            </li>
          ))}
        </ul>
      )}
      {canRequest && props.services.length > 0 && (
        <p>
          <button type="button" data-testid="dq-run-all" disabled={busy} onClick={() => ask({ kind: 'run', services: 'all', label: '' })}>
            {ct('c_dq_run_all')}
          </button>
        </p>
      )}
      {confirmBox('run')}

      {session && guard && (
        <div class="dq" data-testid="dq">
          <h4 id="dq-title" tabIndex={-1} ref={reqHeading}>
            {ct('c_dq_title')}
          </h4>
          {qErr && (
            <p class="error" role="alert" data-testid="dq-error">
              {ct('c_dq_load_failed', { error: qErr })}
            </p>
          )}
          {!q && !qErr && <p>{ct('c_loading')}</p>}
          {q && (props.services.length > 0 || (q.requests ?? []).length > 0 || (q.runners ?? []).length > 0) && <Runners q={q} town={props.town} now={now} />}
          {q && (q.requests ?? []).length === 0 && (
            <p class="muted" data-testid="dq-none">
              {ct('c_dq_none')}
            </p>
          )}
          {q && (q.requests ?? []).length > 0 && (
            <Board testid="dq-table" class="dq-table" labelledby="dq-title" cols={['c_col_service', 'c_dq_col_state', 'c_dq_col_requested', 'c_dq_col_machine', canRequest && 'c_dq_col_action']}>
              {q.requests.map((r) => (
                <tr key={r.id} data-testid="dq-row" data-request={r.id} data-service={r.service} data-state={r.state} data-result={r.result ?? ''}>
                  <td>
                    {nameOf(r.service)}
                    {nameOf(r.service) !== r.service && <span class="muted mono"> ({r.service})</span>}
                  </td>
                  <td>
                    <RequestState r={r} />
                    {r.state === 'running' && <Progress r={r} name={nameOf(r.service)} now={now} />}
                    {r.state === 'done' && !!r.drill_id && (
                      <>
                        {' '}
                        <button
                          type="button"
                          data-testid="dq-evidence"
                          data-drill={r.drill_id}
                          aria-expanded={open?.id === r.drill_id && open.from === 'requests'}
                          onClick={() => void showEvidence(r.drill_id!, 'requests')}
                        >
                          {ct('c_drill_evidence')}
                          <span class="sr-only"> {nameOf(r.service)}</span>
                        </button>
                      </>
                    )}
                    {r.state === 'failed' && r.error && (
                      <div class="bad" data-testid="dq-failure" lang="en">
                        {r.error}
                      </div>
                    )}
                    {r.state === 'failed' && !!r.alert_id && (
                      <a class="button" href={`#/town/${encodeURIComponent(props.town)}/alert/${r.alert_id}`} data-testid="dq-alert">
                        {ct('c_dq_read_alert', { id: r.alert_id })}
                      </a>
                    )}
                    {r.state === 'cancelled' && r.cancelled_by && (
                      <div class="muted">{ct('c_dq_cancelled_by', { who: r.cancelled_by, when: when(r.finished ?? undefined) })}</div>
                    )}
                  </td>
                  <td>
                    {when(r.requested)}
                    <div class="mono muted">{r.requested_by}</div>
                  </td>
                  <td>{r.host || '—'}</td>
                  {canRequest && (
                    <td>
                      {isOpen(r) && (
                        <button
                          type="button"
                          class="danger"
                          data-testid="dq-cancel"
                          data-request={r.id}
                          disabled={busy}
                          onClick={() => ask({ kind: 'cancel', req: r })}
                        >
                          {ct('c_dq_cancel')}
                          <span class="sr-only"> {nameOf(r.service)}</span>
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </Board>
          )}
          {confirmBox('cancel')}
          {evidence('requests')}
          <p class="sr-only" role="status" aria-live="polite" data-testid="dq-said">
            {said}
          </p>
          <Schedule q={q} canEdit={canRequest} onSave={saveSchedule} />
        </div>
      )}

      <p class="help" data-testid="drill-hint">
        {ct('c_drill_hint')}
      </p>
      <p>
        <code class="copyable" data-testid="drill-command" tabIndex={0}>
          rempart drill run {never[0]?.id ?? props.services[0]?.id ?? 'SERVICE'}
        </code>{' '}
        <code class="copyable" tabIndex={0}>
          rempart drill run --all
        </code>
      </p>
    </section>
  );
}

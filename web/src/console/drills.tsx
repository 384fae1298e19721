// A town's restore drills (GET drills): the latest drill of each service
// (result, recovery time against the RTO, when, who), its evidence on
// click, and for the services never drilled the command that runs one
// where the passphrase is (on the town's machine: the console cannot).
import { useState } from 'preact/hooks';
import { ct, type ConsoleKey } from '../i18n/console';
import type { Drill } from './api';
import { age, when } from './text';

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

export function Drills(props: { town: string; drills?: Drill[]; err: string; services: { id: string; name: string }[] }) {
  const [open, setOpen] = useState<number | undefined>();
  const latest = latestDrills(props.drills ?? []);
  const never = props.services.filter((s) => !latest.has(s.id));
  const rows = [...latest.values()].sort((a, b) => a.service.localeCompare(b.service));
  const shown = rows.find((d) => d.id === open) ?? (props.drills ?? []).find((d) => d.id === open);
  return (
    <section aria-labelledby="drills-title">
      <h3 id="drills-title">{ct('c_town_drills')}</h3>
      {props.err && (
        <p class="error" role="alert">
          {props.err}
        </p>
      )}
      {!props.drills && !props.err && <p>{ct('c_loading')}</p>}
      {props.drills && rows.length === 0 && <p class="muted">{ct('c_town_no_drills')}</p>}
      {rows.length > 0 && (
        <div class="table-scroll">
          <table class="board" data-testid="drills-table">
            <thead>
              <tr>
                <th scope="col">{ct('c_col_service')}</th>
                <th scope="col">{ct('c_drill_result')}</th>
                <th scope="col">{ct('c_col_recovery')}</th>
                <th scope="col">{ct('c_col_time')}</th>
                <th scope="col">{ct('c_col_actor')}</th>
                <th scope="col">{ct('c_drill_evidence')}</th>
              </tr>
            </thead>
            <tbody>
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
                    <button type="button" data-testid="drill-open" aria-expanded={open === d.id} onClick={() => setOpen(open === d.id ? undefined : d.id)}>
                      {ct('c_drill_evidence')}
                      <span class="sr-only"> {d.service}</span>
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {shown && <Evidence d={shown} />}
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
      {never.length > 0 && (
        <p class="warn" data-testid="drill-never">
          {ct('c_drill_never', { list: never.map((s) => s.id).join(', ') })}
        </p>
      )}
    </section>
  );
}

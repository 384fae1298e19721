// The plan editor (state: planedit.ts): the plan file in a textarea with
// line numbers, checked by the server as it is typed (errors with their
// line, the recovery order redrawn as a graph), saved with a note from the
// version it started from; a conflict says who saved what and offers to
// reload. Shown to those who may change the plan (an operator, the town's
// admin).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ct } from '../i18n/console';
import { consoleApi, HttpError, type Session } from './api';
import { DependencyGraph } from './graphview';
import { diffLines, PlanEditorModel } from './planedit';
import { failureText, when } from './text';

type Guard = <T>(f: () => Promise<T>) => Promise<T | undefined>;

function Diff(props: { d?: { added: string[]; removed: string[]; changed: { id: string; fields: string[] }[]; plan?: string[] }; testid: string }) {
  const l = diffLines(props.d);
  return (
    <ul class="diff" data-testid={props.testid}>
      {l.added.length > 0 && <li data-kind="added">{ct('c_diff_added', { list: l.added.join(', ') })}</li>}
      {l.changed.length > 0 && <li data-kind="changed">{ct('c_diff_changed', { list: l.changed.join('; ') })}</li>}
      {l.removed.length > 0 && <li data-kind="removed">{ct('c_diff_removed', { list: l.removed.join(', ') })}</li>}
      {l.plan.length > 0 && <li data-kind="plan">{ct('c_diff_plan', { list: l.plan.join(', ') })}</li>}
      {l.added.length + l.changed.length + l.removed.length + l.plan.length === 0 && <li data-kind="none">{ct('c_diff_none')}</li>}
    </ul>
  );
}

export function PlanEditor(props: { session: Session; town: string; guard: Guard; onSaved: () => void; onClose: () => void }) {
  const { session, town, guard } = props;
  const [model, setModel] = useState<PlanEditorModel | undefined>();
  const [loadErr, setLoadErr] = useState('');
  const [, setTick] = useState(0);
  const [note, setNote] = useState('');
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLPreElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const savedBox = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let m: PlanEditorModel | undefined;
    let off: (() => void) | undefined;
    const need = <T,>(x: T | undefined): T => {
      if (x === undefined) throw new Error(ct('c_session_expired'));
      return x;
    };
    const deps = {
      check: async (yaml: string) => need(await guard(() => consoleApi.checkPlan(session, town, yaml))),
      save: async (base: number, yaml: string, n: string) => need(await guard(() => consoleApi.savePlan(session, town, base, yaml, n))),
      latest: async () => {
        try {
          return await guard(() => consoleApi.plan(session, town));
        } catch (e) {
          if (e instanceof HttpError && e.status === 404) return undefined;
          throw e;
        }
      },
      versions: async () => (await guard(() => consoleApi.planVersions(session, town))) ?? [],
    };
    deps
      .latest()
      .then((v) => {
        m = new PlanEditorModel(deps, { version: v?.version ?? 0, yaml: v?.yaml ?? '' });
        off = m.subscribe(() => setTick((n) => n + 1));
        setModel(m);
        if (m.text) void m.runCheck().catch(() => undefined);
        heading.current?.focus();
      })
      .catch((e) => setLoadErr(failureText(e)));
    return () => {
      off?.();
      m?.dispose();
    };
  }, [town]);

  // Saved: the save button turns off, which would drop the keyboard's focus
  // on the page; it goes to the result instead (read out: role=status).
  useEffect(() => {
    const a = document.activeElement as HTMLButtonElement | null;
    if (model?.saved && (!a || a === document.body || a.disabled)) savedBox.current?.focus();
  }, [model?.saved]);
  // Closed: the focus goes back to the button that opens the editor (drawn
  // again by the town's page) rather than to the page itself.
  useEffect(
    () => () => {
      requestAnimationFrame(() => {
        const a = document.activeElement;
        if (!a || a === document.body) document.querySelector<HTMLElement>('[data-testid="plan-edit"]')?.focus();
      });
    },
    [],
  );

  const lines = useMemo(() => (model ? model.text.split('\n').length : 1), [model?.text]);
  const errLines = model?.errorLines ?? new Set<number>();
  const graph = model?.graph;

  const goToLine = (line: number) => {
    const a = area.current;
    if (!a || !model) return;
    const parts = model.text.split('\n');
    let start = 0;
    for (let i = 0; i < line - 1 && i < parts.length; i++) start += parts[i].length + 1;
    a.focus();
    a.setSelectionRange(start, start + (parts[line - 1]?.length ?? 0));
    const lh = parseFloat(getComputedStyle(a).lineHeight) || 20;
    a.scrollTop = Math.max(0, (line - 4) * lh);
  };

  const c = model?.check;
  return (
    <section class="card plan-editor" data-testid="plan-editor" aria-labelledby="editor-title">
      <h3 id="editor-title" tabIndex={-1} ref={heading}>
        {ct('c_edit_title')}
      </h3>
      {loadErr && (
        <p class="error" role="alert">
          {loadErr}
        </p>
      )}
      {!model && !loadErr && <p>{ct('c_loading')}</p>}
      {model && (
        <>
          <p class="help" data-testid="editor-base" data-version={model.base.version}>
            {model.base.version ? ct('c_edit_base', { v: model.base.version }) : ct('c_edit_new')}{' '}
            {model.dirty ? <strong data-testid="editor-dirty">{ct('c_edit_dirty')}</strong> : null}
          </p>
          {!model.text && (
            <button
              type="button"
              data-testid="editor-example"
              onClick={() =>
                void guard(() => consoleApi.planExample(session))
                  .then((x) => x && model.replace(x.yaml))
                  .catch((e) => setLoadErr(failureText(e)))
              }
            >
              {ct('c_edit_example')}
            </button>
          )}
          <div class="code-edit">
            <pre class="gutter" aria-hidden="true" ref={gutter}>
              {Array.from({ length: lines }, (_, i) => (
                <span key={i} class={errLines.has(i + 1) ? 'err' : undefined} data-line={i + 1}>
                  {i + 1}
                  {'\n'}
                </span>
              ))}
            </pre>
            <textarea
              ref={area}
              data-testid="plan-yaml"
              aria-label={ct('c_edit_yaml')}
              aria-describedby="editor-keys editor-check"
              aria-invalid={c && !c.valid ? 'true' : undefined}
              spellcheck={false}
              autocapitalize="off"
              autocomplete="off"
              wrap="off"
              value={model.text}
              onInput={(e) => model.edit((e.target as HTMLTextAreaElement).value)}
              onScroll={(e) => {
                if (gutter.current) gutter.current.scrollTop = (e.target as HTMLTextAreaElement).scrollTop;
              }}
              onKeyDown={(e) => {
                // Tab indents (two spaces); Escape, then Tab, leaves the editor.
                if (e.key === 'Tab' && !e.shiftKey && !(e.target as HTMLTextAreaElement).dataset.escaped) {
                  const a = e.target as HTMLTextAreaElement;
                  e.preventDefault();
                  // In the field itself, cursor included, before the next key (typing on does not race a redraw).
                  a.setRangeText('  ', a.selectionStart, a.selectionEnd, 'end');
                  model.edit(a.value);
                } else if (e.key === 'Escape') {
                  (e.target as HTMLTextAreaElement).dataset.escaped = '1';
                }
              }}
              onBlur={(e) => delete (e.target as HTMLTextAreaElement).dataset.escaped}
            />
          </div>
          <p class="help" id="editor-keys">
            {ct('c_edit_keys')}
          </p>
          <div id="editor-check" data-testid="editor-check" data-state={model.phase === 'checking' ? 'checking' : c ? (c.valid ? 'valid' : 'invalid') : 'none'} aria-live="polite">
            {model.phase === 'checking' && <p class="muted">{ct('c_edit_checking')}</p>}
            {c && c.valid && (
              <p class="good" data-testid="editor-valid">
                {ct('c_edit_valid', { s: c.plan?.services.length ?? 0, w: c.waves?.length ?? 0, p: c.problems?.length ?? 0 })}
              </p>
            )}
            {c && !c.valid && (
              <>
                <p class="error">{ct('c_edit_invalid', { n: c.errors.length })}</p>
                <ul class="check-errors">
                  {c.errors.map((e, i) => (
                    <li key={i} data-testid="check-error" data-line={e.line ?? 0}>
                      {e.line ? (
                        <button type="button" class="linkish" onClick={() => goToLine(e.line!)}>
                          {ct('c_edit_line', { n: e.line })}
                        </button>
                      ) : null}{' '}
                      <span lang="en">{e.message}</span>
                    </li>
                  ))}
                </ul>
              </>
            )}
            {model.error && (
              <p class="error" role="alert" data-testid="editor-error">
                {model.error}
              </p>
            )}
          </div>
          {c?.valid && c.problems && c.problems.length > 0 && (
            <ul class="problems" data-testid="editor-problems">
              {c.problems.map((p, i) => (
                <li key={i} class={p.severity === 'error' ? 'problem error-row' : 'problem'} data-kind={p.kind}>
                  <span class={`pill ${p.severity === 'error' ? 'bad' : 'warn'}`}>{p.severity}</span> <span lang="en">{p.message}</span>
                </li>
              ))}
            </ul>
          )}
          {c?.valid && model.dirty && c.changes && (
            <>
              <p class="help">{ct('c_edit_would_change')}</p>
              <Diff d={c.changes} testid="editor-pending-diff" />
            </>
          )}
          <h4>{ct('c_edit_preview')}</h4>
          {model.graphStale && <p class="warn">{ct('c_edit_graph_stale')}</p>}
          {graph ? (
            <div data-testid="editor-graph">
              <DependencyGraph town={town} input={graph} />
            </div>
          ) : (
            <p class="muted">{ct('c_edit_no_graph')}</p>
          )}
          {model.conflict && (
            <div class="conflict" role="alert" data-testid="editor-conflict">
              <p>
                <strong>{ct('c_edit_conflict')}</strong> <span lang="en">{model.conflict.message}</span>
              </p>
              {model.conflict.latest && (
                <>
                  <p>
                    {ct('c_edit_conflict_latest', {
                      v: model.conflict.latest.version,
                      who: model.conflict.latest.created_by ?? '?',
                      when: when(model.conflict.latest.created),
                    })}
                    {model.conflict.latest.note ? ` « ${model.conflict.latest.note} »` : ''}
                  </p>
                  <Diff d={model.conflict.latest.changes} testid="conflict-diff" />
                </>
              )}
              <button type="button" data-testid="editor-reload" onClick={() => void model.reload().catch((e) => setLoadErr(failureText(e)))}>
                {ct('c_edit_reload')}
              </button>
            </div>
          )}
          {model.discarded !== undefined && (
            <details data-testid="editor-discarded">
              <summary>{ct('c_edit_discarded')}</summary>
              <pre class="mono discarded">{model.discarded}</pre>
            </details>
          )}
          <form
            class="save-row"
            onSubmit={(e) => {
              e.preventDefault();
              void model.save(note).then(() => {
                if (model.saved) {
                  setNote('');
                  props.onSaved();
                }
              });
            }}
          >
            <label>
              {ct('c_edit_note')}
              <input type="text" data-testid="editor-note" value={note} maxLength={1000} onInput={(e) => setNote((e.target as HTMLInputElement).value)} />
            </label>
            <button type="submit" class="primary" data-testid="editor-save" disabled={!model.canSave}>
              {model.phase === 'saving' ? ct('c_edit_saving') : ct('c_edit_save')}
            </button>
            <button type="button" data-testid="editor-close" onClick={props.onClose}>
              {ct('c_close')}
            </button>
          </form>
          {model.saved && (
            <div class="saved" role="status" tabIndex={-1} ref={savedBox} data-testid="editor-saved" data-version={model.saved.version}>
              <p class="good">{model.saved.unchanged ? ct('c_edit_unchanged') : ct('c_edit_saved', { v: model.saved.version })}</p>
              {!model.saved.unchanged && <Diff d={model.saved.changes} testid="saved-diff" />}
            </div>
          )}
        </>
      )}
    </section>
  );
}

// Logbook (main courante): facts, actions, decisions, messages received and
// sent, and service status updates; newest first; filter by kind.
import { useState } from 'preact/hooks';
import { formatTime, t } from '../../i18n';
import { LOG_KINDS, type LogKind } from '../../protocol/content';
import type { Item, RoomClient } from '../../protocol/room';
import { views } from '../derive';
import { Badge, EntryTrouble, localToIso, ShowMore, useLimit } from '../entry';
import { errorText } from '../hooks';

type Filter = 'all' | LogKind | 'status';

export function kindOf(it: Item): string {
  const c = it.content;
  if (!it.check.verified || !c) return 'unknown';
  if (c.t === 'log') return c.kind;
  if (c.t === 'status') return 'status';
  return c.t;
}

export function kindLabel(k: string): string {
  if ((LOG_KINDS as string[]).includes(k)) return t(`kind_${k as LogKind}`);
  if (k === 'status') return t('kind_status');
  return '?';
}

export function LogEntry(props: { it: Item }) {
  const it = props.it;
  const c = it.content;
  const kind = kindOf(it);
  return (
    <li
      class={`entry kind-${kind} ${it.check.verified ? '' : 'failed'}`}
      data-testid="log-entry"
      data-kind={kind}
      data-hash={it.hash}
      data-pos={it.pos}
      data-verified={String(it.check.verified)}
    >
      <div class="meta">
        <span class="kind">{kindLabel(kind)}</span>
        <strong class="author">{it.authorName}</strong>
        <time dateTime={it.time}>{formatTime(c?.t === 'log' && c.at ? c.at : it.time)}</time>
        <Badge it={it} />
      </div>
      {c?.t === 'log' && <p class="text">{c.text}</p>}
      {c?.t === 'status' && (
        <p class="text">
          <strong>{c.service}</strong> : <span class={`state state-${c.state}`}>{t(`state_${c.state}`)}</span>
          {c.eta ? ` — ${t('status_eta')} ${formatTime(c.eta)}` : ''}
          {c.text ? ` — ${c.text}` : ''}
        </p>
      )}
      <EntryTrouble it={it} />
    </li>
  );
}

function LogForm(props: { c: RoomClient }) {
  const [kind, setKind] = useState<LogKind>('fact');
  const [text, setText] = useState('');
  const [at, setAt] = useState('');
  const [err, setErr] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    setText('');
    setAt('');
    setErr('');
    props.c
      .send({ t: 'log', kind, text: body, at: localToIso(at) || new Date().toISOString() })
      .catch((x) => setErr(errorText(x)));
  };
  return (
    <form class="card compose" onSubmit={submit}>
      <div class="row">
        <label>
          {t('log_kind')}
          <select data-testid="log-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as LogKind)}>
            {LOG_KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`kind_${k}`)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('log_at')}
          <input type="datetime-local" value={at} onInput={(e) => setAt(e.currentTarget.value)} />
        </label>
      </div>
      <label>
        {t('log_text')}
        <textarea data-testid="log-text" rows={3} value={text} onInput={(e) => setText(e.currentTarget.value)} required />
      </label>
      {err && <p class="error">{err}</p>}
      <button class="primary" data-testid="log-submit">
        {t('log_submit')}
      </button>
    </form>
  );
}

export function LogbookTab(props: { c: RoomClient }) {
  const c = props.c;
  const v = views(c, c.version, c.list);
  const [filter, setFilter] = useState<Filter>('all');
  const list = filter === 'all' ? v.log : v.log.filter((it) => kindOf(it) === filter);
  const [shown, more, hidden] = useLimit(list);
  return (
    <>
      {!c.removed && <LogForm c={c} />}
      <label class="filter">
        {t('log_filter')}
        <select data-testid="log-filter" value={filter} onChange={(e) => setFilter(e.currentTarget.value as Filter)}>
          <option value="all">{t('kind_all')}</option>
          {LOG_KINDS.map((k) => (
            <option key={k} value={k}>
              {t(`kind_${k}`)}
            </option>
          ))}
          <option value="status">{t('kind_status')}</option>
        </select>
      </label>
      <ol class="entries" reversed>
        {shown.length === 0 && <li class="muted">{t('log_empty')}</li>}
        {shown
          .slice()
          .reverse()
          .map((it) => (
            <LogEntry key={it.pos} it={it} />
          ))}
      </ol>
      <ShowMore hidden={hidden} more={more} />
    </>
  );
}

export function DecisionsTab(props: { c: RoomClient }) {
  const c = props.c;
  const v = views(c, c.version, c.list);
  return (
    <>
      <h2>{t('decisions_title')}</h2>
      <ol class="entries decisions">
        {v.decisions.length === 0 && <li class="muted">{t('decisions_empty')}</li>}
        {v.decisions.map((it) => (
          <LogEntry key={it.pos} it={it} />
        ))}
      </ol>
    </>
  );
}

// Tasks: who does what by when. An update is a new envelope citing the
// creating envelope's hash; the latest one wins.
import { useState } from 'preact/hooks';
import { formatTime, t } from '../../i18n';
import type { RoomClient } from '../../protocol/room';
import { views, type TaskView } from '../derive';
import { Badge, localToIso } from '../entry';
import { errorText } from '../hooks';

export function TasksTab(props: { c: RoomClient }) {
  const c = props.c;
  const v = views(c, c.version, c.list);
  const [title, setTitle] = useState('');
  const [owner, setOwner] = useState('');
  const [due, setDue] = useState('');
  const [err, setErr] = useState('');
  const report = (x: unknown) => setErr(errorText(x));
  const submit = (e: Event) => {
    e.preventDefault();
    if (!title.trim()) return;
    setTitle('');
    setOwner('');
    setDue('');
    c.send({ t: 'task', task: null, title: title.trim(), owner: owner.trim(), due: localToIso(due), state: 'open' }).catch(report);
  };
  const toggle = (tv: TaskView) => {
    const cur = tv.current;
    c.send({ ...cur, task: tv.id, state: cur.state === 'done' ? 'open' : 'done' }).catch(report);
  };
  const sorted = [...v.tasks].sort((a, b) => Number(a.current.state === 'done') - Number(b.current.state === 'done'));
  return (
    <>
      {!c.removed && (
        <form class="card compose" onSubmit={submit}>
          <label>
            {t('task_title')}
            <input data-testid="task-title" value={title} onInput={(e) => setTitle(e.currentTarget.value)} required />
          </label>
          <div class="row">
            <label>
              {t('task_owner')}
              <input data-testid="task-owner" list="member-names" value={owner} onInput={(e) => setOwner(e.currentTarget.value)} />
              <datalist id="member-names">
                {c.members().map((m) => (
                  <option key={m.id} value={m.name} />
                ))}
              </datalist>
            </label>
            <label>
              {t('task_due')}
              <input data-testid="task-due" type="datetime-local" value={due} onInput={(e) => setDue(e.currentTarget.value)} />
            </label>
          </div>
          {err && <p class="error">{err}</p>}
          <button class="primary" data-testid="task-submit">
            {t('task_submit')}
          </button>
        </form>
      )}
      <ul class="tasks">
        {sorted.length === 0 && <li class="muted">{t('task_empty')}</li>}
        {sorted.map((tv) => (
          <li key={tv.id} class={`task state-${tv.current.state}`} data-testid="task-row" data-task={tv.id} data-state={tv.current.state}>
            <div>
              <strong class="title">{tv.current.title}</strong>
              <span class="muted">
                {' '}
                — {tv.current.owner || '?'}
                {tv.current.due ? `, ${formatTime(tv.current.due)}` : ''} ({t(`task_state_${tv.current.state}`)})
              </span>{' '}
              <Badge it={tv.item} />
            </div>
            {!c.removed && (
              <button type="button" data-testid="task-done" aria-pressed={tv.current.state === 'done'} onClick={() => toggle(tv)}>
                {tv.current.state === 'done' ? t('task_reopen') : `✔ ${t('task_done')}`}
              </button>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

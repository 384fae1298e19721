// Service status board: the latest state of each public service; every
// update is also a logbook entry.
import { useState } from 'preact/hooks';
import { formatTime, t } from '../../i18n';
import { SERVICE_STATES, type ServiceState } from '../../protocol/content';
import type { RoomClient } from '../../protocol/room';
import { views } from '../derive';
import { Badge, localToIso } from '../entry';
import { errorText } from '../hooks';

export function StatusTab(props: { c: RoomClient }) {
  const c = props.c;
  const v = views(c, c.version, c.list);
  const [service, setService] = useState('');
  const [state, setState] = useState<ServiceState>('down');
  const [eta, setEta] = useState('');
  const [text, setText] = useState('');
  const [err, setErr] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    const s = service.trim();
    if (!s) return;
    setService('');
    setEta('');
    setText('');
    setErr('');
    c.send({ t: 'status', service: s, state, eta: localToIso(eta) || null, text: text.trim() }).catch((x) => setErr(errorText(x)));
  };
  return (
    <>
      <table class="board">
        <thead>
          <tr>
            <th>{t('status_service')}</th>
            <th>{t('status_state')}</th>
            <th>{t('status_eta')}</th>
            <th>{t('status_text')}</th>
          </tr>
        </thead>
        <tbody>
          {v.services.length === 0 && (
            <tr>
              <td colSpan={4} class="muted">
                {t('status_empty')}
              </td>
            </tr>
          )}
          {v.services.map((s) => (
            <tr key={s.service} data-testid="status-row" data-service={s.service} data-state={s.current.state}>
              <th scope="row">{s.service}</th>
              <td>
                <span class={`state state-${s.current.state}`}>{t(`state_${s.current.state}`)}</span>
              </td>
              <td>{s.current.eta ? formatTime(s.current.eta) : t('status_eta_none')}</td>
              <td>
                {s.current.text} <small class="muted">({s.item.authorName}, {formatTime(s.item.time)})</small> <Badge it={s.item} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!c.removed && (
        <form class="card compose" onSubmit={submit}>
          <div class="row">
            <label>
              {t('status_service')}
              <input
                data-testid="status-service"
                list="known-services"
                value={service}
                placeholder={t('status_service_placeholder')}
                onInput={(e) => setService(e.currentTarget.value)}
                required
              />
              <datalist id="known-services">
                {v.services.map((s) => (
                  <option key={s.service} value={s.service} />
                ))}
              </datalist>
            </label>
            <label>
              {t('status_state')}
              <select data-testid="status-state" value={state} onChange={(e) => setState(e.currentTarget.value as ServiceState)}>
                {SERVICE_STATES.map((s) => (
                  <option key={s} value={s}>
                    {t(`state_${s}`)}
                  </option>
                ))}
              </select>
            </label>
            <label>
              {t('status_eta')}
              <input data-testid="status-eta" type="datetime-local" value={eta} onInput={(e) => setEta(e.currentTarget.value)} />
            </label>
          </div>
          <label>
            {t('status_text')}
            <input value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          {err && <p class="error">{err}</p>}
          <button class="primary" data-testid="status-submit">
            {t('status_submit')}
          </button>
        </form>
      )}
    </>
  );
}

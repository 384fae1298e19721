// Crisis directory: contacts kept in the room, encrypted.
import { useState } from 'preact/hooks';
import { t } from '../../i18n';
import type { RoomClient } from '../../protocol/room';
import { views } from '../derive';
import { Badge } from '../entry';
import { errorText } from '../hooks';

export function DirectoryTab(props: { c: RoomClient }) {
  const c = props.c;
  const v = views(c, c.version, c.list);
  const empty = { name: '', org: '', role: '', phone: '', email: '' };
  const [f, setF] = useState(empty);
  const [err, setErr] = useState('');
  const set = (k: keyof typeof empty) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const submit = (e: Event) => {
    e.preventDefault();
    if (!f.name.trim()) return;
    setF(empty);
    c.send({ t: 'contact', contact: null, ...f, notes: '', deleted: false }).catch((x) => setErr(errorText(x)));
  };
  return (
    <>
      <ul class="contacts">
        {v.contacts.length === 0 && <li class="muted">{t('contact_empty')}</li>}
        {v.contacts.map((cv) => (
          <li key={cv.id} data-testid="contact-row" data-contact={cv.id}>
            <strong>{cv.current.name}</strong>
            {cv.current.org && <span> — {cv.current.org}</span>}
            {cv.current.role && <span class="muted"> ({cv.current.role})</span>}
            <div>
              {cv.current.phone && (
                <a href={`tel:${cv.current.phone.replace(/[^+\d]/g, '')}`} class="phone">
                  {cv.current.phone}
                </a>
              )}{' '}
              {cv.current.email && <a href={`mailto:${cv.current.email}`}>{cv.current.email}</a>} <Badge it={cv.item} />
              {!c.removed && (
                <button
                  type="button"
                  class="link"
                  onClick={() => c.send({ ...cv.current, contact: cv.id, deleted: true }).catch((x) => setErr(errorText(x)))}
                >
                  {t('contact_delete')}
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
      {!c.removed && (
        <form class="card compose" onSubmit={submit}>
          <div class="row">
            <label>
              {t('contact_name')}
              <input data-testid="contact-name" value={f.name} onInput={set('name')} required />
            </label>
            <label>
              {t('contact_org')}
              <input data-testid="contact-org" value={f.org} onInput={set('org')} />
            </label>
          </div>
          <div class="row">
            <label>
              {t('contact_role')}
              <input value={f.role} onInput={set('role')} />
            </label>
            <label>
              {t('contact_phone')}
              <input data-testid="contact-phone" type="tel" value={f.phone} onInput={set('phone')} />
            </label>
            <label>
              {t('contact_email')}
              <input type="email" value={f.email} onInput={set('email')} />
            </label>
          </div>
          {err && <p class="error">{err}</p>}
          <button class="primary" data-testid="contact-submit">
            {t('contact_submit')}
          </button>
        </form>
      )}
    </>
  );
}

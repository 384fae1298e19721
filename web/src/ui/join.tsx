// Join page, opened from the invitation link
// #/join/<room>/<token>/<coordinator sign_pub>. The coordinator's key in the
// fragment is this device's root of trust: it never comes from the server.
import { useEffect, useState } from 'preact/hooks';
import { t, useLang } from '../i18n';
import { ApiError } from '../protocol/api';
import { relayCode } from '../errors';
import { joinRoom } from '../protocol/setup';
import { LangSwitch } from './app';
import { Lock } from './icons';
import { errorText, getStore } from './hooks';

const B64U = /^[A-Za-z0-9_-]+$/;

export function Join(props: { room?: string; invite?: string; coordinatorSign?: string }) {
  useLang();
  const [name, setName] = useState('');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const ok =
    !!props.room && !!props.invite && !!props.coordinatorSign && [props.room, props.invite, props.coordinatorSign].every((x) => B64U.test(x!));

  // A device that already joined this room goes straight to it.
  useEffect(() => {
    if (!ok) return;
    void getStore()
      .then((s) => s.getRoom(props.room!))
      .then((r) => {
        if (r) location.replace(`#/room/${r.room}`);
      })
      .catch(() => undefined);
  }, [props.room]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr('');
    try {
      const store = await getStore();
      const room = await joinRoom(store, { room: props.room!, invite: props.invite!, coordinatorSign: props.coordinatorSign! }, name.trim());
      // Replace the link (and its one-time token) in the history.
      location.replace(`#/room/${room}`);
    } catch (e) {
      // A relay that gives a code is worded precisely (used, expired, not valid…).
      setErr(e instanceof ApiError && e.status === 410 && !relayCode(e.body) ? t('join_used') : errorText(e));
      setBusy(false);
    }
  };
  return (
    <main class="page narrow">
      <header class="top">
        <h1>{t('join_title')}</h1>
        <LangSwitch />
      </header>
      <p class="e2ee" data-testid="e2ee-indicator" title={t('e2ee_help')}>
        <Lock /> {t('e2ee')}
      </p>
      {!ok ? (
        <p class="error" role="alert">
          {t('join_bad_link')}
        </p>
      ) : (
        <form class="card" onSubmit={submit}>
          <p class="help">{t('join_help')}</p>
          <label>
            {t('join_name')}
            <input data-testid="join-name" value={name} maxLength={60} onInput={(e) => setName(e.currentTarget.value)} required autoFocus />
          </label>
          {err && (
            <p class="error" role="alert">
              {err}
            </p>
          )}
          <button class="primary" data-testid="join-submit" disabled={busy || !name.trim()}>
            {t('join_submit')}
          </button>
        </form>
      )}
    </main>
  );
}

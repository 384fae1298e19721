// Sign-in with password and one-time code: POST /v1/login, as
// `rempart login URL --user NAME --totp CODE` does.
import { useState } from 'preact/hooks';
import { useLang } from '../i18n';
import { ct } from '../i18n/console';
import { HttpError, login, type Session } from './api';
import { failureText } from './text';

/** The server's refusal of a sign-in, in the reader's language. */
export function loginFailureText(e: unknown): string {
  if (e instanceof HttpError) {
    if (e.status === 429) return ct('c_login_throttled');
    if (e.status === 401) {
      if (/already used/i.test(e.message)) return ct('c_login_totp_used');
      if (/one-time code/i.test(e.message)) return ct('c_login_totp_needed');
      return ct('c_login_failed');
    }
  }
  return failureText(e);
}

export function Login(props: { notice: '' | 'expired' | 'signed_out'; onDone(s: Session): void }) {
  useLang();
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr('');
    try {
      const r = await login(user.trim(), password, totp.replace(/\s+/g, ''));
      props.onDone({ token: r.token, user: user.trim().toLowerCase(), tenant: r.tenant, role: r.role, expires: r.expires });
    } catch (e) {
      setErr(loginFailureText(e));
      setTotp('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} data-testid="login-form">
      <h2>{ct('c_login_title')}</h2>
      {props.notice === 'expired' && (
        <p class="warn-box" role="alert" data-testid="session-expired">
          {ct('c_session_expired')}
        </p>
      )}
      {props.notice === 'signed_out' && (
        <p class="help" role="status" data-testid="signed-out">
          {ct('c_signed_out')}
        </p>
      )}
      <p class="help">{ct('c_login_help')}</p>
      <label>
        {ct('c_login_user')}
        <input data-testid="login-user" autoComplete="username" value={user} onInput={(e) => setUser(e.currentTarget.value)} required />
      </label>
      <label>
        {ct('c_login_password')}
        <input
          data-testid="login-password"
          type="password"
          autoComplete="current-password"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          required
        />
      </label>
      <label>
        {ct('c_login_totp')}
        <input
          data-testid="login-totp"
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern="[0-9 ]*"
          value={totp}
          onInput={(e) => setTotp(e.currentTarget.value)}
        />
      </label>
      {err && (
        <p class="error" role="alert" data-testid="login-error">
          {err}
        </p>
      )}
      <button class="primary" data-testid="login-submit" disabled={busy}>
        {ct('c_login_submit')}
      </button>
    </form>
  );
}

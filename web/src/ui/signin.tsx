// The sign-in form (name, password, one-time code) that the crisis room
// (ui/home.tsx) and the server console (console/login.tsx) both show: the
// same fields with the same autocomplete hints, so that password managers
// and the browser e2e treat them alike. Each app brings its texts, its
// call to POST /v1/login and its wording of failures.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

/** The words of a sign-in form, in the reader's language. */
export interface SignInTexts {
  title: string;
  help: string;
  user: string;
  password: string;
  totp: string;
  submit: string;
}

export function SignInForm(props: {
  texts: SignInTexts;
  /** Signs in with what was typed (as typed: the app trims); rejects on failure. */
  signIn(user: string, password: string, totp: string): Promise<void>;
  /** The failure as the reader should read it. */
  failureText(e: unknown): string;
  /** Shown between the title and the help (e.g. "your session expired"). */
  children?: ComponentChildren;
  testid?: string;
  /** The one-time code field's pattern, if the app checks it. */
  totpPattern?: string;
  /** Empty the one-time code after a failure (a used code is never valid again). */
  clearTotpOnFailure?: boolean;
}) {
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
      await props.signIn(user, password, totp);
    } catch (e) {
      setErr(props.failureText(e));
      if (props.clearTotpOnFailure) setTotp('');
    } finally {
      setBusy(false);
    }
  };
  const tx = props.texts;
  return (
    <form class="card" onSubmit={submit} data-testid={props.testid}>
      <h2>{tx.title}</h2>
      {props.children}
      <p class="help">{tx.help}</p>
      <label>
        {tx.user}
        <input data-testid="login-user" autoComplete="username" value={user} onInput={(e) => setUser(e.currentTarget.value)} required />
      </label>
      <label>
        {tx.password}
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
        {tx.totp}
        <input
          data-testid="login-totp"
          inputMode="numeric"
          autoComplete="one-time-code"
          pattern={props.totpPattern}
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
        {tx.submit}
      </button>
    </form>
  );
}

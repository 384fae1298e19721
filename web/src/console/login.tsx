// Sign-in with password and one-time code: POST /v1/login, as
// `rempart login URL --user NAME --totp CODE` does.
import { useLang } from '../i18n';
import { ct } from '../i18n/console';
import { HttpError, login, type Session } from './api';
import { failureText } from './text';
import { SignInForm } from '../ui/signin';

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
  const signIn = async (user: string, password: string, totp: string) => {
    const r = await login(user.trim(), password, totp.replace(/\s+/g, ''));
    props.onDone({ token: r.token, user: user.trim().toLowerCase(), tenant: r.tenant, role: r.role, expires: r.expires });
  };
  return (
    <SignInForm
      texts={{
        title: ct('c_login_title'),
        help: ct('c_login_help'),
        user: ct('c_login_user'),
        password: ct('c_login_password'),
        totp: ct('c_login_totp'),
        submit: ct('c_login_submit'),
      }}
      signIn={signIn}
      failureText={loginFailureText}
      testid="login-form"
      totpPattern="[0-9 ]*"
      clearTotpOnFailure
    >
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
    </SignInForm>
  );
}

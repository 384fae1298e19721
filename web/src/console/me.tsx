// "My account" (#/me): change one's password and turn the second factor
// on or off, as `rempart account password` and `rempart account totp
// enable|confirm|disable` (internal/server/accounts_api.go). Turning it on
// shows the QR code of the otpauth URI and the secret as text; the factor is
// on only once a code from the app is confirmed.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useLang } from '../i18n';
import { escapeCancels } from './forms';
import { ct } from '../i18n/console';
import { QR } from '../ui/qr';
import { accountsApi, type Account, type Session, type TotpBegin } from './api';
import { failureText, roleText } from './text';

type Guard = <T>(f: () => Promise<T>) => Promise<T | undefined>;

const MIN_PASSWORD = 12; // store.MinPasswordLen

/** Focuses a confirmation's paragraph when it appears. */
function useFocusOn(cond: unknown) {
  const ref = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (cond) ref.current?.focus();
  }, [cond]);
  return ref;
}

function ChangePassword(props: { session: Session; guard: Guard }) {
  const [oldPw, setOld] = useState('');
  const [pw, setPw] = useState('');
  const [pw2, setPw2] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [done, setDone] = useState('');
  const doneRef = useFocusOn(done);
  const errRef = useRef<HTMLParagraphElement>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr('');
    setDone('');
    if (pw.length < MIN_PASSWORD) return setErr(ct('c_acct_pw_short'));
    if (pw !== pw2) return setErr(ct('c_acct_pw_mismatch'));
    setBusy(true);
    try {
      const r = await props.guard(() => accountsApi.changePassword(props.session, oldPw, pw));
      if (r) {
        setOld('');
        setPw('');
        setPw2('');
        setDone(ct('c_acct_pw_done', { n: r.tokens_revoked }));
      }
    } catch (e) {
      setErr(failureText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="me-pw-title" data-testid="me-password">
      <h3 id="me-pw-title">{ct('c_acct_pw_title')}</h3>
      <p class="help" id="me-pw-help">
        {ct('c_acct_pw_help')}
      </p>
      <form class="acct-form" onSubmit={(e) => void submit(e)} data-testid="me-pw-form">
        {/* The user name lets password managers file the new password under the right account. */}
        <input type="text" class="sr-only" tabIndex={-1} aria-hidden="true" autoComplete="username" value={props.session.user} readOnly />
        <label for="me-pw-old">{ct('c_acct_pw_old')}</label>
        <input id="me-pw-old" type="password" autoComplete="current-password" value={oldPw} data-testid="me-pw-old" onInput={(e) => setOld((e.target as HTMLInputElement).value)} />
        <label for="me-pw-new">{ct('c_acct_pw_new')}</label>
        <input
          id="me-pw-new"
          type="password"
          autoComplete="new-password"
          minLength={MIN_PASSWORD}
          aria-describedby="me-pw-help"
          value={pw}
          data-testid="me-pw-new"
          onInput={(e) => setPw((e.target as HTMLInputElement).value)}
        />
        <label for="me-pw-new2">{ct('c_acct_pw_new2')}</label>
        <input id="me-pw-new2" type="password" autoComplete="new-password" value={pw2} data-testid="me-pw-new2" onInput={(e) => setPw2((e.target as HTMLInputElement).value)} />
        {err && (
          <p class="error" role="alert" ref={errRef} data-testid="me-pw-error">
            {err}
          </p>
        )}
        {done && (
          <p class="ok-text" role="status" tabIndex={-1} ref={doneRef} data-testid="me-pw-done">
            {done}
          </p>
        )}
        <p>
          <button type="submit" class="primary" disabled={busy} aria-busy={busy} data-testid="me-pw-submit">
            {busy ? ct('c_loading') : ct('c_acct_pw_submit')}
          </button>
        </p>
      </form>
    </section>
  );
}

/** Turning the factor off (or cancelling a set-up): the password, and a code when it is on; Escape cancels. */
function TotpOff(props: { session: Session; guard: Guard; on: boolean; onDone: () => void; onCancel: () => void }) {
  const [pw, setPw] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr('');
    if (!pw) return setErr(ct('c_acct_password_needed'));
    const c = code.replace(/\s+/g, '');
    if (props.on && !/^\d{6}$/.test(c)) return setErr(ct('c_acct_totp_code_needed'));
    setBusy(true);
    try {
      const r = await props.guard(() => accountsApi.disableTotp(props.session, pw, c));
      if (r) props.onDone();
    } catch (e) {
      setErr(failureText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="acct-confirm acct-form"
      data-testid="me-totp-off-form"
      onSubmit={(e) => void submit(e)}
      onKeyDown={escapeCancels(busy, props.onCancel)}
    >
      <p id="me-totp-off-what">{props.on ? ct('c_acct_totp_off_what') : ct('c_acct_totp_cancel_what')}</p>
      <input type="text" class="sr-only" tabIndex={-1} aria-hidden="true" autoComplete="username" value={props.session.user} readOnly />
      <label for="me-totp-off-password">{ct('c_acct_totp_password')}</label>
      <input
        id="me-totp-off-password"
        ref={first}
        type="password"
        autoComplete="current-password"
        value={pw}
        data-testid="me-totp-off-password"
        onInput={(e) => setPw((e.target as HTMLInputElement).value)}
      />
      {props.on && (
        <>
          <label for="me-totp-off-code">{ct('c_acct_totp_code')}</label>
          <input
            id="me-totp-off-code"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9 ]*"
            maxLength={8}
            value={code}
            data-testid="me-totp-off-code"
            onInput={(e) => setCode((e.target as HTMLInputElement).value)}
          />
        </>
      )}
      {err && (
        <p class="error" role="alert" data-testid="me-totp-off-error">
          {err}
        </p>
      )}
      <p class="acct-buttons">
        <button type="submit" class="danger" disabled={busy} aria-busy={busy} aria-describedby="me-totp-off-what" data-testid="me-totp-off-confirm">
          {busy ? ct('c_loading') : props.on ? ct('c_acct_totp_off_confirm') : ct('c_acct_totp_cancel_confirm')}
        </button>
        <button type="button" disabled={busy} data-testid="me-totp-off-cancel" onClick={props.onCancel}>
          {ct('c_acct_no')}
        </button>
      </p>
    </form>
  );
}

/** Turning it on: the QR code and the secret, then a code from the app. */
function TotpSetup(props: { session: Session; guard: Guard; begin: TotpBegin; onDone: () => void; onCancel: () => void }) {
  const b = props.begin;
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const secretRef = useRef<HTMLInputElement>(null);
  const codeRef = useRef<HTMLInputElement>(null);
  useEffect(() => secretRef.current?.focus(), [b.secret]);
  const grouped = b.secret.replace(/(.{4})(?=.)/g, '$1 ');
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr('');
    const c = code.replace(/\s+/g, '');
    if (!/^\d{6}$/.test(c)) {
      setErr(ct('c_acct_totp_code_needed'));
      codeRef.current?.focus();
      return;
    }
    setBusy(true);
    try {
      const r = await props.guard(() => accountsApi.confirmTotp(props.session, c));
      if (r) props.onDone();
    } catch (e) {
      setErr(failureText(e));
      setCode('');
      codeRef.current?.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="acct-form totp-setup"
      data-testid="me-totp-setup"
      onSubmit={(e) => void submit(e)}
      onKeyDown={escapeCancels(busy, props.onCancel)}
    >
      <p id="me-totp-scan">{ct('c_acct_totp_scan')}</p>
      <div class="totp-qr">
        <QR text={b.otpauth_uri} size={200} testid="me-totp-qr" label={ct('c_acct_totp_qr', { user: b.account })} />
      </div>
      <label for="me-totp-secret">{ct('c_acct_totp_secret')}</label>
      <input
        id="me-totp-secret"
        ref={secretRef}
        class="mono"
        readOnly
        value={grouped}
        data-secret={b.secret}
        spellcheck={false}
        aria-describedby="me-totp-scan"
        data-testid="me-totp-secret"
        onFocus={(e) => e.currentTarget.select()}
      />
      <label for="me-totp-code">{ct('c_acct_totp_code')}</label>
      <input
        id="me-totp-code"
        ref={codeRef}
        inputMode="numeric"
        autoComplete="one-time-code"
        pattern="[0-9 ]*"
        maxLength={8}
        value={code}
        data-testid="me-totp-code"
        onInput={(e) => setCode((e.target as HTMLInputElement).value)}
      />
      {err && (
        <p class="error" role="alert" data-testid="me-totp-error">
          {err}
        </p>
      )}
      <p class="acct-buttons">
        <button type="submit" class="primary" disabled={busy} aria-busy={busy} data-testid="me-totp-confirm">
          {busy ? ct('c_loading') : ct('c_acct_totp_confirm')}
        </button>
        <button type="button" disabled={busy} data-testid="me-totp-setup-cancel" onClick={props.onCancel}>
          {ct('c_cancel')}
        </button>
      </p>
    </form>
  );
}

function SecondFactor(props: { session: Session; guard: Guard; me: Account; reload: () => Promise<void> }) {
  const me = props.me;
  const [mode, setMode] = useState<'' | 'setup' | 'off'>('');
  const [begin, setBegin] = useState<TotpBegin | undefined>();
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [done, setDone] = useState('');
  const doneRef = useFocusOn(done);
  const startRef = useRef<HTMLButtonElement>(null);
  const offRef = useRef<HTMLButtonElement>(null);
  const start = async () => {
    setErr('');
    setDone('');
    setBusy(true);
    try {
      const b = await props.guard(() => accountsApi.beginTotp(props.session));
      if (b) {
        setBegin(b);
        setMode('setup');
      }
    } catch (e) {
      setErr(failureText(e));
    } finally {
      setBusy(false);
    }
  };
  const back = (to: 'start' | 'off') => {
    setMode('');
    setBegin(undefined);
    setTimeout(() => (to === 'off' ? offRef : startRef).current?.focus(), 0);
  };
  const finished = async (text: string) => {
    setMode('');
    setBegin(undefined);
    await props.reload();
    setDone(text);
  };
  const state = me.totp_enabled ? 'on' : me.totp_pending ? 'pending' : 'off';
  return (
    <section class="card" aria-labelledby="me-totp-title" data-testid="me-totp" data-state={state}>
      <h3 id="me-totp-title">{ct('c_acct_totp_title')}</h3>
      <p data-testid="me-totp-state" class={me.totp_enabled ? '' : 'warn'}>
        {me.totp_enabled ? ct('c_acct_totp_is_on') : me.totp_pending ? ct('c_acct_totp_is_pending') : ct('c_acct_totp_is_off')}
      </p>
      {done && (
        <p class="ok-text" role="status" tabIndex={-1} ref={doneRef} data-testid="me-totp-done">
          {done}
        </p>
      )}
      {err && (
        <p class="error" role="alert" data-testid="me-totp-start-error">
          {err}
        </p>
      )}
      {mode === 'setup' && begin && (
        <TotpSetup session={props.session} guard={props.guard} begin={begin} onDone={() => void finished(ct('c_acct_totp_on_done'))} onCancel={() => back('start')} />
      )}
      {mode === 'off' && (
        <TotpOff session={props.session} guard={props.guard} on={me.totp_enabled} onDone={() => void finished(ct('c_acct_totp_off_done'))} onCancel={() => back('off')} />
      )}
      {mode === '' && (
        <p class="acct-buttons">
          {!me.totp_enabled && (
            <button type="button" class="primary" ref={startRef} disabled={busy} aria-busy={busy} data-testid="me-totp-start" onClick={() => void start()}>
              {busy ? ct('c_loading') : ct('c_acct_totp_start')}
            </button>
          )}
          {(me.totp_enabled || me.totp_pending) && (
            <button
              type="button"
              class="danger"
              ref={offRef}
              data-testid="me-totp-off-start"
              onClick={() => {
                setDone('');
                setMode('off');
              }}
            >
              {me.totp_enabled ? ct('c_acct_totp_off_start') : ct('c_acct_totp_cancel_setup')}
            </button>
          )}
        </p>
      )}
    </section>
  );
}

export function MePage(props: { session: Session; guard: Guard }) {
  useLang();
  const s = props.session;
  const [me, setMe] = useState<Account | undefined>();
  const [err, setErr] = useState('');
  const load = useCallback(async () => {
    setErr('');
    try {
      const a = await props.guard(() => accountsApi.me(s));
      if (a) setMe(a);
    } catch (e) {
      setErr(failureText(e));
    }
  }, [s, props.guard]);
  useEffect(() => void load(), [load]);
  const role = me ? (me.tenant ? ct('c_acct_me_town', { role: roleText(me.role), town: me.tenant }) : roleText(me.role)) : '';
  return (
    <section class="me-page" data-testid="me-page" aria-labelledby="me-title">
      <h2 id="me-title">{ct('c_acct_me_title')}</h2>
      {err && (
        <p class="error" role="alert" data-testid="me-error">
          {err}
        </p>
      )}
      {!me && !err && <p aria-busy="true">{ct('c_loading')}</p>}
      {me && (
        <>
          <p data-testid="me-summary">{ct('c_acct_me_summary', { user: me.username, role })}</p>
          <ChangePassword session={s} guard={props.guard} />
          <SecondFactor session={s} guard={props.guard} me={me} reload={load} />
        </>
      )}
    </section>
  );
}

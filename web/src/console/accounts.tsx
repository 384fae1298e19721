// The accounts page (#/accounts): who may sign in, as `rempart account
// list|create|disable|password|totp reset` (internal/server/accounts_api.go).
// Operators see and manage every account; a town admin the admins and
// auditors of their town (the server decides; the page offers only what it
// would accept). Passwords drawn by the server are shown once, with a copy
// button; the destructive actions ask first (Escape answers no).
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { useLang } from '../i18n';
import { escapeCancels } from './forms';
import { ct, type ConsoleKey } from '../i18n/console';
import { accountsApi, type Account, type Role, type Session } from './api';
import { Board } from './board';
import { failureText, roleText, when } from './text';

type Guard = <T>(f: () => Promise<T>) => Promise<T | undefined>;

/** Who gets the Accounts page: operators and town admins (listAccounts). */
export function mayManageAccounts(s: Session): boolean {
  return s.role === 'operator' || s.role === 'tenant_admin';
}

/** The roles the caller may create: a town admin only admins and auditors of their town. */
export function creatableRoles(s: Session): Role[] {
  if (s.role === 'operator') return ['tenant_admin', 'auditor', 'coordinator', 'operator'];
  if (s.role === 'tenant_admin') return ['tenant_admin', 'auditor'];
  return [];
}

/** A town for the role: an operator has none, a town admin needs one, the others may have none (every town). */
function townRule(r: Role): 'none' | 'required' | 'optional' {
  return r === 'operator' ? 'none' : r === 'tenant_admin' ? 'required' : 'optional';
}

function townText(a: Account): string {
  if (a.tenant) return a.tenant;
  return a.role === 'operator' ? ct('c_acct_no_town') : ct('c_acct_all_towns');
}

/**
 * A secret shown once: a read-only field (selectable, read aloud with its
 * label) that takes the focus, a copy button and what to do with it.
 */
export function OnceSecret(props: { id: string; label: string; value: string; help: string; testid: string; onHide: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'' | 'ok' | 'failed'>('');
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, [props.value]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.value);
      setCopied('ok');
    } catch {
      // Clipboard refused (older browser, no permission): select it for Ctrl+C.
      input.current?.focus();
      input.current?.select();
      setCopied('failed');
    }
  };
  return (
    <div class="acct-secret" data-testid={`${props.testid}-box`}>
      <label for={props.id}>{props.label}</label>
      <div class="acct-secret-row">
        <input
          id={props.id}
          ref={input}
          class="mono"
          readOnly
          value={props.value}
          autoComplete="off"
          spellcheck={false}
          data-testid={props.testid}
          aria-describedby={`${props.id}-help`}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" data-testid={`${props.testid}-copy`} onClick={() => void copy()}>
          {ct('c_acct_copy')}
        </button>
      </div>
      <p class="help" id={`${props.id}-help`}>
        {props.help}
      </p>
      <p role="status" data-testid={`${props.testid}-copied`}>
        {copied === 'ok' ? ct('c_acct_copied') : copied === 'failed' ? ct('c_acct_copy_failed') : ''}
      </p>
      <button type="button" data-testid={`${props.testid}-hide`} onClick={props.onHide}>
        {ct('c_acct_hide')}
      </button>
    </div>
  );
}

function CreateAccount(props: { session: Session; guard: Guard; onCreated: () => void }) {
  const s = props.session;
  const roles = creatableRoles(s);
  const operator = s.role === 'operator';
  const [user, setUser] = useState('');
  const [role, setRole] = useState<Role>(roles[0] ?? 'auditor');
  const [towns, setTowns] = useState<string[]>([]);
  const [town, setTown] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [made, setMade] = useState<{ user: string; role: string; password?: string } | undefined>();
  const userRef = useRef<HTMLInputElement>(null);
  const doneRef = useRef<HTMLParagraphElement>(null);

  useEffect(() => {
    if (!operator) return;
    void (async () => {
      try {
        const list = await props.guard(() => accountsApi.tenants(s));
        if (list) {
          const names = list.map((t) => t.name).sort();
          setTowns(names);
          setTown((t) => t || names[0] || '');
        }
      } catch (e) {
        setErr(failureText(e));
      }
    })();
  }, [s]);

  useEffect(() => {
    if (made && !made.password) doneRef.current?.focus();
  }, [made]);

  const rule = operator ? townRule(role) : 'none';
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr('');
    const name = user.trim();
    if (!name) {
      setErr(ct('c_acct_username_needed'));
      userRef.current?.focus();
      return;
    }
    if (rule === 'required' && !town) {
      setErr(ct('c_acct_town_needed'));
      return;
    }
    const tenant = operator ? (rule === 'none' ? '' : town) : s.tenant ?? '';
    setBusy(true);
    try {
      const a = await props.guard(() => accountsApi.create(s, name, role, tenant));
      if (a) {
        setMade({ user: a.username, role: a.tenant ? ct('c_acct_me_town', { role: roleText(a.role), town: a.tenant }) : roleText(a.role), password: a.password });
        setUser('');
        props.onCreated();
      }
    } catch (e) {
      setErr(failureText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="acct-create-title" data-testid="acct-create">
      <h3 id="acct-create-title">{ct('c_acct_create_title')}</h3>
      <form class="acct-form" data-testid="acct-create-form" onSubmit={(e) => void submit(e)}>
        <label for="acct-user">{ct('c_acct_username')}</label>
        <input
          id="acct-user"
          ref={userRef}
          value={user}
          autoComplete="off"
          autoCapitalize="none"
          spellcheck={false}
          maxLength={64}
          aria-describedby="acct-user-help"
          aria-required="true"
          data-testid="acct-user"
          onInput={(e) => setUser((e.target as HTMLInputElement).value)}
        />
        <p class="help" id="acct-user-help">
          {ct('c_acct_username_help')}
        </p>
        <label for="acct-role">{ct('c_acct_role')}</label>
        <select id="acct-role" value={role} data-testid="acct-role" aria-describedby="acct-role-help" onChange={(e) => setRole((e.target as HTMLSelectElement).value as Role)}>
          {roles.map((r) => (
            <option key={r} value={r}>
              {roleText(r)}
            </option>
          ))}
        </select>
        <p class="help" id="acct-role-help" data-testid="acct-role-help">
          {ct(`c_acct_help_${role}` as ConsoleKey)}
        </p>
        {operator && rule !== 'none' && (
          <>
            <label for="acct-town">{ct('c_acct_town')}</label>
            <select id="acct-town" value={rule === 'required' && !town ? '' : town} data-testid="acct-town" onChange={(e) => setTown((e.target as HTMLSelectElement).value)}>
              {rule === 'optional' && <option value="">{ct('c_acct_town_none')}</option>}
              {towns.map((t) => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </>
        )}
        {!operator && (
          <p data-testid="acct-town-fixed">
            {ct('c_acct_town_fixed', { town: s.tenant ?? '?' })}
          </p>
        )}
        {err && (
          <p class="error" role="alert" data-testid="acct-create-error">
            {err}
          </p>
        )}
        <p>
          <button type="submit" class="primary" disabled={busy} aria-busy={busy} data-testid="acct-create-submit">
            {busy ? ct('c_loading') : ct('c_acct_create_submit')}
          </button>
        </p>
      </form>
      {made && (
        <div class="acct-result" data-testid="acct-created">
          <p ref={doneRef} tabIndex={-1} data-testid="acct-created-what">
            {ct('c_acct_created', { user: made.user, role: made.role })}
          </p>
          {made.password && (
            <OnceSecret
              id="acct-created-password"
              label={ct('c_acct_password_label', { user: made.user })}
              value={made.password}
              help={ct('c_acct_handover')}
              testid="acct-password"
              onHide={() => {
                setMade(undefined);
                userRef.current?.focus();
              }}
            />
          )}
        </div>
      )}
    </section>
  );
}

type Action = 'reset_pw' | 'reset_totp' | 'disable' | 'enable';

const confirmKey: Record<Action, ConsoleKey> = {
  reset_pw: 'c_acct_confirm_reset_pw',
  reset_totp: 'c_acct_confirm_reset_totp',
  disable: 'c_acct_confirm_disable',
  enable: 'c_acct_confirm_enable',
};
const yesKey: Record<Action, ConsoleKey> = {
  reset_pw: 'c_acct_yes_reset_pw',
  reset_totp: 'c_acct_yes_reset_totp',
  disable: 'c_acct_yes_disable',
  enable: 'c_acct_yes_enable',
};

/** "Are you sure?": the focus goes to "No"; Escape answers no, as the other confirmations of the console. */
function Confirm(props: { act: Action; user: string; busy: boolean; err: string; onYes: () => void; onNo: () => void }) {
  const no = useRef<HTMLButtonElement>(null);
  useEffect(() => no.current?.focus(), [props.act, props.user]);
  return (
    <div
      class="acct-confirm"
      role="group"
      aria-labelledby="acct-confirm-what"
      data-testid="acct-confirm"
      data-kind={props.act}
      data-user={props.user}
      onKeyDown={escapeCancels(props.busy, props.onNo)}
    >
      <p id="acct-confirm-what" data-testid="acct-confirm-what">
        {ct(confirmKey[props.act], { user: props.user })}
      </p>
      {props.err && (
        <p class="error" role="alert" data-testid="acct-confirm-error">
          {props.err}
        </p>
      )}
      <p class="acct-buttons">
        <button type="button" class={props.act === 'enable' ? 'primary' : 'danger'} data-testid="acct-confirm-yes" aria-describedby="acct-confirm-what" disabled={props.busy} aria-busy={props.busy} onClick={props.onYes}>
          {props.busy ? ct('c_loading') : ct(yesKey[props.act])}
        </button>
        <button type="button" ref={no} data-testid="acct-confirm-no" disabled={props.busy} onClick={props.onNo}>
          {ct('c_acct_no')}
        </button>
      </p>
    </div>
  );
}

export function AccountsPage(props: { session: Session; guard: Guard }) {
  useLang();
  const s = props.session;
  const [list, setList] = useState<Account[] | undefined>();
  const [loadErr, setLoadErr] = useState('');
  const [asking, setAsking] = useState<{ act: Action; user: string } | undefined>();
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [result, setResult] = useState<{ user: string; password?: string; text?: string } | undefined>();
  const back = useRef<HTMLElement | null>(null);
  const resultRef = useRef<HTMLParagraphElement>(null);

  const load = useCallback(async () => {
    setLoadErr('');
    try {
      const l = await props.guard(() => accountsApi.list(s));
      if (l) setList(l);
    } catch (e) {
      setLoadErr(failureText(e));
    }
  }, [s, props.guard]);
  useEffect(() => void load(), [load]);

  useEffect(() => {
    if (result && !result.password) resultRef.current?.focus();
  }, [result]);

  const ask = (act: Action, user: string) => {
    back.current = document.activeElement as HTMLElement | null;
    setErr('');
    setResult(undefined);
    setAsking({ act, user });
  };
  const cancel = () => {
    setAsking(undefined);
    setErr('');
    const el = back.current;
    back.current = null;
    // Back where the person was (the row's button), after the box is gone.
    setTimeout(() => el?.isConnected && el.focus(), 0);
  };
  const yes = async () => {
    if (!asking) return;
    const { act, user } = asking;
    setBusy(true);
    setErr('');
    try {
      if (act === 'reset_pw') {
        const r = await props.guard(() => accountsApi.resetPassword(s, user));
        if (r) setResult({ user, password: r.password });
      } else if (act === 'reset_totp') {
        const r = await props.guard(() => accountsApi.resetTotp(s, user));
        if (r) setResult({ user, text: ct('c_acct_totp_reset_done', { user }) });
      } else if (act === 'enable') {
        const r = await props.guard(() => accountsApi.enable(s, user));
        if (r) setResult({ user, password: r.password });
      } else {
        const r = await props.guard(() => accountsApi.disable(s, user));
        if (r) setResult({ user, text: ct('c_acct_disabled_done', { user }) });
      }
      setAsking(undefined);
      void load();
    } catch (e) {
      setErr(failureText(e));
    } finally {
      setBusy(false);
    }
  };

  const operator = s.role === 'operator';
  return (
    <section class="accounts-page" data-testid="accounts-page" aria-labelledby="accounts-title">
      <h2 id="accounts-title">{ct('c_acct_title')}</h2>
      <p class="help">{operator ? ct('c_acct_intro') : ct('c_acct_intro_admin', { town: s.tenant ?? '?' })}</p>
      <CreateAccount session={s} guard={props.guard} onCreated={() => void load()} />
      <section aria-labelledby="acct-list-title">
        <h3 id="acct-list-title">{ct('c_acct_list_title')}</h3>
        {loadErr && (
          <p class="error" role="alert" data-testid="acct-list-error">
            {loadErr}
          </p>
        )}
        {!list && !loadErr && <p aria-busy="true">{ct('c_loading')}</p>}
        {list && list.length === 0 && <p class="muted">{ct('c_acct_none')}</p>}
        {list && list.length > 0 && (
          <Board
            testid="acct-table"
            class="acct-table"
            labelledby="acct-list-title"
            cols={['c_acct_col_name', 'c_acct_col_role', 'c_acct_col_town', 'c_acct_col_totp', 'c_acct_col_state', 'c_acct_col_created', 'c_acct_col_last_login', 'c_acct_col_actions']}
          >
            {list.map((a) => {
              const self = a.username === s.user;
              return (
                <tr key={a.username} data-testid="acct-row" data-user={a.username} data-role={a.role} data-totp={a.totp_enabled ? 'on' : 'off'} data-disabled={a.disabled ? 'yes' : 'no'}>
                  <td class="mono">
                    {a.username} {self && <span class="muted">{ct('c_acct_you')}</span>}
                  </td>
                  <td>{roleText(a.role)}</td>
                  <td>{townText(a)}</td>
                  <td>
                    <span class={`pill ${a.totp_enabled ? 'good' : 'warn'}`}>
                      {a.totp_enabled ? ct('c_acct_totp_on') : a.totp_pending ? ct('c_acct_totp_pending') : ct('c_acct_totp_off')}
                    </span>
                  </td>
                  <td>{a.disabled ? ct('c_acct_disabled', { when: when(a.disabled_at) }) : ct('c_acct_active')}</td>
                  <td>{when(a.created)}</td>
                  <td data-testid="acct-last-login">{a.last_login ? when(a.last_login) : ct('c_never')}</td>
                  <td>
                    {!self && a.disabled && (
                      <div class="acct-actions">
                        <button type="button" data-testid="acct-enable" onClick={() => ask('enable', a.username)}>
                          {ct('c_acct_enable')}
                          <span class="sr-only"> {a.username}</span>
                        </button>
                      </div>
                    )}
                    {!self && !a.disabled && (
                      <div class="acct-actions">
                        <button type="button" data-testid="acct-reset-pw" onClick={() => ask('reset_pw', a.username)}>
                          {ct('c_acct_reset_pw')}
                          <span class="sr-only"> {ct('c_acct_of', { user: a.username })}</span>
                        </button>
                        {operator && a.totp_enabled && (
                          <button type="button" data-testid="acct-reset-totp" onClick={() => ask('reset_totp', a.username)}>
                            {ct('c_acct_reset_totp')}
                            <span class="sr-only"> {ct('c_acct_of', { user: a.username })}</span>
                          </button>
                        )}
                        <button type="button" class="danger" data-testid="acct-disable" onClick={() => ask('disable', a.username)}>
                          {ct('c_acct_disable')}
                          <span class="sr-only"> {a.username}</span>
                        </button>
                      </div>
                    )}
                  </td>
                </tr>
              );
            })}
          </Board>
        )}
        {asking && <Confirm act={asking.act} user={asking.user} busy={busy} err={err} onYes={() => void yes()} onNo={cancel} />}
        {result && (
          <div class="acct-result" data-testid="acct-result" data-user={result.user}>
            {result.text && (
              <p ref={resultRef} tabIndex={-1} role="status" data-testid="acct-result-text">
                {result.text}
              </p>
            )}
            {result.password && (
              <OnceSecret
                id="acct-new-password"
                label={ct('c_acct_new_password_label', { user: result.user })}
                value={result.password}
                help={ct('c_acct_new_password_help')}
                testid="acct-new-password"
                onHide={() => setResult(undefined)}
              />
            )}
          </div>
        )}
      </section>
    </section>
  );
}

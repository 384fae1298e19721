// The console: sign-in, then the overview of the towns and a town's page.
// Screens are # routes (one page served at /console/): #/ the overview,
// #/town/NAME a town, #/town/NAME/alert/ID an alert read on it, #/accounts
// the accounts (operators and town admins), #/me one's own account.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { getLang, setLang, useLang } from '../i18n';
import { ct } from '../i18n/console';
import { consoleApi, HttpError, loadSession, saveSession, SessionExpired, type Overview, type Session } from './api';
import { AccountsPage, mayManageAccounts } from './accounts';
import { Login } from './login';
import { MePage } from './me';
import { OverviewPage } from './overview';
import { failureText, roleText } from './text';
import { TownPage } from './town';

function LangSwitch() {
  useLang();
  return (
    <button type="button" class="lang" data-testid="lang-switch" onClick={() => setLang(getLang() === 'fr' ? 'en' : 'fr')}>
      {ct('c_lang_switch')}
    </button>
  );
}

function useHashRoute(): string[] {
  const parse = () =>
    (location.hash || '')
      .replace(/^#\/?/, '')
      .split('/')
      .filter((x) => x !== '')
      .map((x) => {
        try {
          return decodeURIComponent(x);
        } catch {
          return x;
        }
      });
  const [r, setR] = useState(parse);
  useEffect(() => {
    const f = () => setR(parse());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return r;
}

export function App() {
  useLang();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [notice, setNotice] = useState<'' | 'expired' | 'signed_out'>('');
  const [overview, setOverview] = useState<Overview | undefined>();
  const [error, setError] = useState('');
  const [forbidden, setForbidden] = useState(false);
  const route = useHashRoute();

  const signOut = useCallback((why: 'expired' | 'signed_out') => {
    saveSession(undefined);
    setSession(undefined);
    setOverview(undefined);
    setNotice(why);
  }, []);

  /** Runs an API call; an expired session goes back to the sign-in. */
  const guard = useCallback(
    async <T,>(f: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await f();
      } catch (e) {
        if (e instanceof SessionExpired) {
          signOut('expired');
          return undefined;
        }
        throw e;
      }
    },
    [signOut],
  );

  const load = useCallback(async () => {
    if (!session) return;
    setError('');
    try {
      const o = await guard(() => consoleApi.overview(session));
      if (o) setOverview(o);
    } catch (e) {
      if (e instanceof HttpError && e.status === 403) setForbidden(true);
      else setError(failureText(e));
    }
  }, [session, guard]);

  useEffect(() => {
    setForbidden(false);
    void load();
  }, [load]);

  // A session that ends while the page is open (12 hours) goes back to
  // the sign-in by itself.
  useEffect(() => {
    if (!session?.expires) return;
    const left = Date.parse(session.expires) - Date.now();
    if (!(left > 0)) return;
    const timer = setTimeout(() => signOut('expired'), Math.min(left, 2 ** 31 - 1));
    return () => clearTimeout(timer);
  }, [session, signOut]);

  useEffect(() => {
    document.title = ct('c_title');
  });

  // Keyboard and screen reader users: a new screen (signed in or out,
  // another page) puts the focus on its heading, and leaving an alert's
  // detail puts it back on that alert's link, instead of leaving it on a
  // vanished element (the page itself).
  const screen = session ? `${route[0] ?? ''}/${route[1] ?? ''}` : 'login';
  const openAlert = route[2] === 'alert' ? route[3] : undefined;
  const last = useRef({ screen, openAlert });
  const focusTo = useRef('');
  useEffect(() => {
    if (last.current.screen !== screen) focusTo.current = 'heading';
    else if (last.current.openAlert && !openAlert) focusTo.current = `alert:${last.current.openAlert}`;
    last.current = { screen, openAlert };
  }, [screen, openAlert]);
  useEffect(() => {
    if (!focusTo.current) return;
    const main = document.getElementById('main');
    const want = focusTo.current;
    const el =
      (want.startsWith('alert:') ? main?.querySelector<HTMLElement>(`a[href$="/alert/${CSS.escape(want.slice(6))}"]`) : null) ??
      main?.querySelector<HTMLElement>('h2');
    if (!el) {
      if (!session || overview || error || forbidden) focusTo.current = ''; // no heading on this screen
      return; // else not drawn yet (loading): the next render tries again
    }
    focusTo.current = '';
    if (!el.matches('a[href], button, input, textarea, select, [tabindex]')) el.tabIndex = -1;
    el.focus();
  });

  if (!session) {
    return (
      <div class="console">
        <header class="console-top">
          <h1>{ct('c_title')}</h1>
          <LangSwitch />
        </header>
        <main id="main" class="page narrow">
          <Login
            notice={notice}
            onDone={(s) => {
              saveSession(s);
              setNotice('');
              setSession(s);
              if (location.hash && location.hash !== '#/') location.hash = '#/';
            }}
          />
        </main>
      </div>
    );
  }

  let page;
  // The account pages need no overview: a coordinator (no console) still
  // reaches "My account".
  if (route[0] === 'me') {
    page = <MePage session={session} guard={guard} />;
  } else if (route[0] === 'accounts' && mayManageAccounts(session)) {
    page = <AccountsPage session={session} guard={guard} />;
  } else if (forbidden) {
    page = (
      <section class="card" data-testid="no-access">
        <p>{ct('c_no_access', { role: roleText(session.role) || '?' })}</p>
        <a class="button primary" href="/crisis/" data-testid="open-crisis">
          {ct('c_town_open_crisis')}
        </a>
      </section>
    );
  } else if (error) {
    page = (
      <section class="card">
        <p class="error" role="alert" data-testid="console-error">
          {error}
        </p>
        <button type="button" onClick={() => void load()}>
          {ct('c_retry')}
        </button>
      </section>
    );
  } else if (!overview) {
    page = <p aria-busy="true">{ct('c_loading')}</p>;
  } else if (route[0] === 'town' && route[1]) {
    const t = overview.tenants.find((x) => x.tenant === route[1]);
    page = t ? (
      <TownPage key={t.tenant} session={session} town={t} at={overview.at} alertId={route[2] === 'alert' ? Number(route[3]) : undefined} guard={guard} reload={() => void load()} />
    ) : (
      <p class="error" role="alert">
        {ct('c_town_unknown', { town: route[1] })}
      </p>
    );
  } else {
    page = <OverviewPage overview={overview} session={session} />;
  }

  return (
    <div class="console">
      <header class="console-top">
        <h1>
          <a href="#/" class="home-link">
            {ct('c_title')}
          </a>
        </h1>
        <nav aria-label={ct('c_nav_overview')} class="console-nav">
          <a href="#/" data-testid="nav-overview" aria-current={route[0] !== 'town' && route[0] !== 'accounts' && route[0] !== 'me' ? 'page' : undefined}>
            {ct('c_nav_overview')}
          </a>
          {mayManageAccounts(session) && (
            <a href="#/accounts" data-testid="nav-accounts" aria-current={route[0] === 'accounts' ? 'page' : undefined}>
              {ct('c_acct_nav')}
            </a>
          )}
          <button type="button" data-testid="refresh" onClick={() => void load()}>
            {ct('c_refresh')}
          </button>
        </nav>
        <a href="#/me" class="whoami" data-testid="whoami" data-role={session.role ?? ''} aria-current={route[0] === 'me' ? 'page' : undefined}>
          {ct('c_signed_in_as', { user: session.user, role: roleText(session.role) })}
          <span class="sr-only"> — {ct('c_acct_me_link')}</span>
        </a>
        <LangSwitch />
        <button type="button" data-testid="signout" onClick={() => signOut('signed_out')}>
          {ct('c_signout')}
        </button>
      </header>
      <main id="main" class="page wide">
        {page}
      </main>
    </div>
  );
}

// Coordinator sign-in, room creation and the list of rooms.
import { useEffect, useState } from 'preact/hooks';
import { t, useLang } from '../i18n';
import { api } from '../protocol/api';
import { createRoom } from '../protocol/setup';
import type { RoomRecord } from '../store/db';
import type { RoomSummary } from '../protocol/types';
import { LangSwitch } from './app';
import { SignInForm } from './signin';
import { errorText, getSession, getStore, go, setSession, type Session } from './hooks';

function Login(props: { onDone(s: Session): void }) {
  const signIn = async (user: string, password: string, totp: string) => {
    const r = await api.login(user.trim(), password, totp.trim());
    const s = { token: r.token, user: user.trim(), tenant: r.tenant, role: r.role };
    setSession(s);
    props.onDone(s);
  };
  return (
    <SignInForm
      texts={{
        title: t('login_title'),
        help: t('login_help'),
        user: t('login_user'),
        password: t('login_password'),
        totp: t('login_totp'),
        submit: t('login_submit'),
      }}
      signIn={signIn}
      failureText={errorText}
    />
  );
}

function CreateRoom(props: { session: Session }) {
  const [title, setTitle] = useState('');
  const [name, setName] = useState(props.session.user);
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr('');
    try {
      const store = await getStore();
      const room = await createRoom(store, props.session.token, { title: title.trim(), name: name.trim() || props.session.user });
      go(`room/${room}`);
    } catch (e) {
      setErr(errorText(e));
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit}>
      <label>
        {t('room_title_label')}
        <input
          data-testid="room-title"
          value={title}
          placeholder={t('room_title_placeholder')}
          onInput={(e) => setTitle(e.currentTarget.value)}
          required
        />
      </label>
      <label>
        {t('room_name_label')}
        <input value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        <small>{t('room_name_hint')}</small>
      </label>
      {err && (
        <p class="error" role="alert">
          {err}
        </p>
      )}
      <button class="primary" data-testid="room-create" disabled={busy}>
        {t('room_create')}
      </button>
    </form>
  );
}

function RoomList(props: { session?: Session }) {
  const [local, setLocal] = useState<RoomRecord[]>([]);
  const [remote, setRemote] = useState<RoomSummary[]>([]);
  const [err, setErr] = useState('');
  useEffect(() => {
    void getStore()
      .then((s) => s.listRooms())
      .then(setLocal)
      .catch((e) => setErr(errorText(e)));
    if (props.session) {
      api
        .listRooms(props.session.token)
        .then(setRemote)
        .catch((e) => setErr(errorText(e)));
    }
  }, [props.session]);
  const known = new Set(local.map((r) => r.room));
  const others = remote.filter((r) => !known.has(r.id) && !r.closed);
  return (
    <section class="card">
      <h2>{t('rooms_local')}</h2>
      {err && <p class="error">{err}</p>}
      <ul class="rooms" data-testid="room-list">
        {local.length === 0 && others.length === 0 && <li class="muted">{t('rooms_none')}</li>}
        {local
          .sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))
          .map((r) => (
            <li key={r.room} data-room={r.room}>
              <a href={`#/room/${r.room}`} class="roomlink">
                <strong>{r.title || t('room_untitled')}</strong>
                <span class="muted">
                  {' '}
                  · {r.name}
                  {r.isCoordinator ? ` (${t('coordinator')})` : ''}
                </span>
              </a>
            </li>
          ))}
        {others.map((r) => (
          <li key={r.id} data-room={r.id} class="muted">
            {r.id.slice(0, 8)}… — {t('rooms_other_device')}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Home() {
  useLang();
  const [session, setS] = useState<Session | undefined>(getSession);
  return (
    <main class="page narrow">
      <header class="top">
        <h1>{t('app_title')}</h1>
        <LangSwitch />
      </header>
      {session ? (
        <>
          <section>
            <h2>{t('rooms_title')}</h2>
            <CreateRoom session={session} />
          </section>
          <RoomList session={session} />
          <button
            type="button"
            class="link"
            onClick={() => {
              setSession(undefined);
              setS(undefined);
            }}
          >
            {t('logout')}
          </button>
        </>
      ) : (
        <>
          <Login onDone={setS} />
          <RoomList />
        </>
      )}
    </main>
  );
}

// The room: status bar (connection, outbox, encryption, integrity), the
// waiting screen of a pending member, the removed notice, and the tabs.
import { useEffect, useState } from 'preact/hooks';
import { fromB64u } from '../crypto/bytes';
import { safetyNumber, safetyQR } from '../crypto/safety';
import { formatTime, problemText, t, useLang } from '../i18n';
import { RoomClient } from '../protocol/room';
import { setCurrentRoom } from '../testhook';
import { LangSwitch } from './app';
import { errorText, getStore, useRoomVersion } from './hooks';
import { QR } from './qr';
import { Lock } from './icons';
import { endCallFor, existingCall } from '../call/call';
import { CallTab } from './tabs/call';
import { ChatTab } from './tabs/chat';
import { DecisionsTab, LogbookTab } from './tabs/logbook';
import { DirectoryTab } from './tabs/directory';
import { ExportTab } from './tabs/export';
import { MembersTab } from './tabs/members';
import { StatusTab } from './tabs/status';
import { TasksTab } from './tabs/tasks';

const TABS = ['logbook', 'chat', 'call', 'status', 'tasks', 'decisions', 'directory', 'members', 'export'] as const;
type Tab = (typeof TABS)[number];

export function StatusBar(props: { c: RoomClient }) {
  const c = props.c;
  const s = c.summary();
  const ok = s.ok && !c.verifying;
  const conn = c.removed ? 'offline' : c.conn;
  const connLabel = conn === 'online' ? t('conn_online') : conn === 'offline' ? t('conn_offline') : t('conn_reconnecting');
  return (
    <div class="statusbar" role="status" aria-live="polite">
      <span class={`pill conn-${conn}`} data-testid="conn-status" data-state={conn}>
        ● {connLabel}
      </span>
      <span class={`pill ${c.outboxCount ? 'warn' : ''}`} data-testid="outbox-count" data-count={c.outboxCount}>
        {c.outboxCount ? t('outbox', { n: c.outboxCount }) : t('outbox_none')}
      </span>
      <span class="pill e2ee" data-testid="e2ee-indicator" title={t('e2ee_help')}>
        <Lock /> {t('e2ee')}
      </span>
      <span class={`pill ${ok ? 'good' : 'bad'}`} data-testid="integrity-status" data-ok={String(ok)} data-verifying={String(c.verifying)} hidden={!c.admitted && !c.removed}>
        {c.verifying
          ? t('integrity_verifying')
          : s.failed
          ? t('integrity_bad', { n: s.failed })
          : !ok
            ? t('integrity_warn', { msg: s.gaps[0] ? problemText(s.gaps[0]) : '…' })
            : t('integrity_ok', { n: s.total })}
      </span>
    </div>
  );
}

/** Says that the earlier history was shared with this device, by whom and when (the latest share). */
function HistoryNotice(props: { c: RoomClient }) {
  const list = props.c.rec.historyShared ?? [];
  if (list.length === 0) return null;
  const last = list[list.length - 1];
  return (
    <p class="notice" role="status" data-testid="history-notice" data-by={last.by}>
      {t('history_shared', { name: props.c.memberName(last.by), when: formatTime(last.at) })}
    </p>
  );
}

function Waiting(props: { c: RoomClient }) {
  const c = props.c;
  const [sn, setSn] = useState('');
  useEffect(() => {
    void safetyNumber(fromB64u(c.rec.signPub), fromB64u(c.rec.dhPub)).then(setSn);
  }, [c]);
  return (
    <section class="card waiting" data-testid="waiting">
      <h2>{t('waiting_title')}</h2>
      <p class="help big">{t('waiting_help')}</p>
      <p class="label">{t('my_safety_number')}</p>
      <p class="safety" data-testid="my-safety-number" data-value={sn.replace(/ /g, '')}>
        {sn}
      </p>
      {sn && <QR text={safetyQR(c.memberId, sn)} label={t('my_safety_number')} />}
      <p class="muted">{t('waiting_auto')}</p>
    </section>
  );
}

export function RoomPage(props: { room: string; tab: string }) {
  useLang();
  const [c, setC] = useState<RoomClient>();
  const [err, setErr] = useState('');
  useEffect(() => {
    let client: RoomClient | undefined;
    let gone = false;
    void (async () => {
      try {
        client = await RoomClient.open(await getStore(), props.room);
        if (gone) return;
        setCurrentRoom(client);
        client.start();
        setC(client);
      } catch (e) {
        setErr(errorText(e));
      }
    })();
    return () => {
      gone = true;
      if (client) endCallFor(client);
      client?.stop();
    };
  }, [props.room]);
  useRoomVersion(c);

  if (err) {
    return (
      <main class="page narrow">
        <p class="error" role="alert">
          {err}
        </p>
        <a href="#/">{t('back_rooms')}</a>
      </main>
    );
  }
  if (!c) return <main class="page">{t('loading')}</main>;
  const tab: Tab = (TABS as readonly string[]).includes(props.tab) ? (props.tab as Tab) : 'logbook';
  // A pending member cannot read the (encrypted) title yet.
  const title = c.rec.title || (c.admitted ? t('room_untitled') : t('app_title'));
  return (
    <main class="page">
      <header class="top">
        <a href="#/" class="back">
          {t('back_rooms')}
        </a>
        <h1 class="roomname">{title}</h1>
        <span class="whoami">
          {c.rec.name}
          {c.isCoordinator ? ` (${t('coordinator')})` : ''}
        </span>
        <LangSwitch />
      </header>
      <StatusBar c={c} />
      {c.alarm && (
        <div class="alarm" role="alert">
          <p>{t('roster_alarm')}</p>
          <small>{c.alarm}</small>
        </div>
      )}
      {c.removed && (
        <p class="alarm" role="alert" data-testid="removed-notice">
          {c.rec.status === 'refused' ? t('refused_notice') : t('removed_notice')}
        </p>
      )}
      {c.lastError !== undefined && (
        <p class="error" role="alert">
          {t('error_generic', { msg: errorText(c.lastError) })}
        </p>
      )}
      {c.wrapFailures.map((f) => (
        <p key={f.sender + f.why} class="error" data-testid={f.sender === 'history' ? 'history-error' : 'wrap-error'} title={f.why}>
          {f.sender === 'history' ? t('history_refused') : t('wrap_failed', { name: c.memberName(f.sender) })}
        </p>
      ))}
      <HistoryNotice c={c} />
      {c.rec.status === 'refused' ? null : !c.admitted && !c.removed ? (
        <Waiting c={c} />
      ) : (
        <>
          <nav class="tabs" aria-label="sections">
            {TABS.map((k) => (
              <a
                key={k}
                href={`#/room/${c.room}/${k}`}
                data-testid={`tab-${k}`}
                class={k === tab ? 'active' : ''}
                aria-current={k === tab ? 'page' : undefined}
              >
                {t(`tab_${k}`)}
                {k === 'members' && c.isCoordinator && c.pending.length > 0 ? ` (${c.pending.length})` : ''}
                {k === 'call' && existingCall(c)?.active ? <span class="in-call" title={t('call_in_progress')}> ●</span> : null}
              </a>
            ))}
          </nav>
          <section class="tabpanel">
            {tab === 'logbook' && <LogbookTab c={c} />}
            {tab === 'decisions' && <DecisionsTab c={c} />}
            {tab === 'chat' && <ChatTab c={c} />}
            {tab === 'call' && <CallTab c={c} />}
            {tab === 'status' && <StatusTab c={c} />}
            {tab === 'tasks' && <TasksTab c={c} />}
            {tab === 'directory' && <DirectoryTab c={c} />}
            {tab === 'members' && <MembersTab c={c} />}
            {tab === 'export' && <ExportTab c={c} />}
          </section>
        </>
      )}
    </main>
  );
}

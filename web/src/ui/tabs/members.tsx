// Members: invitations (link + QR), pending requests with their safety
// numbers to compare out of band, admitted members, removal (which rotates
// every key).
import { useEffect, useRef, useState } from 'preact/hooks';
import { fromB64u } from '../../crypto/bytes';
import { safetyNumber } from '../../crypto/safety';
import { memberId } from '../../crypto/keys';
import { verifyJoinProof } from '../../crypto/sign';
import { t } from '../../i18n';
import type { RoomClient } from '../../protocol/room';
import type { PendingMember, RosterMember } from '../../protocol/types';
import { errorText, useRoomSafetyNumber } from '../hooks';
import { QR } from '../qr';

function useSafety(sign: string, dh: string): string {
  const [sn, setSn] = useState('');
  useEffect(() => {
    void safetyNumber(fromB64u(sign), fromB64u(dh)).then(setSn, () => setSn('?'));
  }, [sign, dh]);
  return sn;
}

function Invite(props: { c: RoomClient }) {
  const [link, setLink] = useState('');
  const [err, setErr] = useState('');
  const [copied, setCopied] = useState(false);
  const create = async () => {
    setErr('');
    setCopied(false);
    try {
      setLink((await props.c.createInvite()).link);
    } catch (e) {
      setErr(errorText(e));
    }
  };
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
    } catch {
      // Clipboard refused (older browser): select the text for Ctrl+C.
      (document.querySelector('[data-testid="invite-link"]') as HTMLInputElement | null)?.select();
    }
    setCopied(true);
  };
  return (
    <section class="card">
      <button type="button" class="primary" data-testid="invite-create" onClick={create}>
        {t('invite_create')}
      </button>
      <p class="help">{t('invite_help')}</p>
      {err && <p class="error">{err}</p>}
      {link && (
        <div class="invite">
          <input data-testid="invite-link" readOnly value={link} onFocus={(e) => e.currentTarget.select()} aria-label="invitation" />
          <button type="button" onClick={copy}>
            {copied ? t('invite_copied') : t('invite_copy')}
          </button>
          <QR text={link} testid="invite-qr" label="QR" />
        </div>
      )}
    </section>
  );
}

function Pending(props: { c: RoomClient; p: PendingMember }) {
  const { c, p } = props;
  const sn = useSafety(p.sign, p.dh);
  const [bad, setBad] = useState(false);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [share, setShare] = useState(false); // history share v1: off unless asked
  useEffect(() => {
    // The server hands these keys over: check they are self-consistent
    // (id from key, join proof) before they can be admitted.
    void (async () => {
      const ok = (await memberId(fromB64u(p.sign))) === p.id && (await verifyJoinProof(c.room, p.name, p.sign, p.dh, p.proof));
      setBad(!ok);
    })().catch(() => setBad(true));
  }, [p.id]);
  const act = async (f: () => Promise<void>) => {
    setBusy(true);
    setErr('');
    try {
      await f();
    } catch (e) {
      setErr(errorText(e));
      setBusy(false);
    }
  };
  return (
    <li class="pending card" data-testid="pending-item" data-member={p.id}>
      <strong class="name">{p.name}</strong>
      <p class="label">{t('safety_number')}</p>
      <p class="safety" data-testid="pending-safety-number" data-value={sn.replace(/ /g, '')}>
        {sn}
      </p>
      {bad && <p class="error">ALARM: this request is not consistent (keys or proof). Refuse it.</p>}
      {err && <p class="error">{err}</p>}
      <div class="actions">
        <button type="button" class="primary" data-testid="admit" disabled={busy || bad} onClick={() => act(() => c.admit(p, { shareHistory: share }))}>
          {t('admit')}
        </button>
        <button type="button" class="danger" data-testid="refuse" disabled={busy} onClick={() => act(() => c.refuse(p))}>
          {t('refuse')}
        </button>
      </div>
      <label class="check">
        <input type="checkbox" data-testid="admit-share-history" checked={share} onChange={(e) => setShare(e.currentTarget.checked)} />{' '}
        {t('share_history_admit')}
      </label>
      <p class="help">{t('share_history_admit_help')}</p>
    </li>
  );
}

function ConfirmRemove(props: { name: string; onConfirm(): void; onCancel(): void }) {
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    ref.current?.focus();
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && props.onCancel();
    addEventListener('keydown', esc);
    return () => removeEventListener('keydown', esc);
  }, []);
  return (
    <div class="overlay">
      <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="rm-title" aria-describedby="rm-text">
        <h2 id="rm-title">{t('remove_confirm_title', { name: props.name })}</h2>
        <p id="rm-text">{t('remove_confirm_text')}</p>
        <div class="actions">
          <button type="button" class="danger" data-testid="confirm-remove" ref={ref} onClick={props.onConfirm}>
            {t('remove_confirm')}
          </button>
          <button type="button" onClick={props.onCancel}>
            {t('cancel')}
          </button>
        </div>
      </div>
    </div>
  );
}

/** History share v1: the coordinator hands an admitted member earlier entries. */
function ShareHistory(props: { c: RoomClient; m: RosterMember; onClose(msg?: string): void }) {
  const [span, setSpan] = useState<'all' | '24' | '6'>('all');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    ref.current?.focus();
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && props.onClose();
    addEventListener('keydown', esc);
    return () => removeEventListener('keydown', esc);
  }, []);
  const go = async () => {
    setBusy(true);
    setErr('');
    try {
      const since = span === 'all' ? undefined : new Date(Date.now() - Number(span) * 3600e3);
      const n = await props.c.shareHistory(props.m.id, since);
      props.onClose(n ? t('share_history_done', { n }) : t('share_history_none'));
    } catch (e) {
      setErr(errorText(e));
      setBusy(false);
    }
  };
  const opt = (v: typeof span, label: string) => (
    <label class="check">
      <input type="radio" name="share-span" data-testid={`share-span-${v}`} checked={span === v} onChange={() => setSpan(v)} /> {label}
    </label>
  );
  return (
    <div class="overlay">
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="sh-title" aria-describedby="sh-text">
        <h2 id="sh-title">{t('share_history_title', { name: props.m.name })}</h2>
        <p id="sh-text">{t('share_history_text', { name: props.m.name })}</p>
        {opt('all', t('share_history_all'))}
        {opt('24', t('share_history_24h'))}
        {opt('6', t('share_history_6h'))}
        {err && <p class="error">{err}</p>}
        <div class="actions">
          <button type="button" class="primary" data-testid="confirm-share-history" ref={ref} disabled={busy} onClick={go}>
            {t('share_history_confirm')}
          </button>
          <button type="button" onClick={() => props.onClose()}>
            {t('cancel')}
          </button>
        </div>
      </div>
    </div>
  );
}

function Member(props: { c: RoomClient; m: RosterMember; onRemove(m: RosterMember): void }) {
  const { c, m } = props;
  const sn = useSafety(m.sign, m.dh);
  const isCoord = m.id === c.roster?.coordinator;
  const [sharing, setSharing] = useState(false);
  const [shared, setShared] = useState('');
  return (
    <li class="member" data-testid="member-item" data-member={m.id}>
      <div>
        <strong>{m.name}</strong>
        {isCoord && <span class="muted"> ({t('coordinator')})</span>}
        {m.id === c.memberId && <span class="muted"> ({t('you')})</span>}
        {c.online.has(m.id) && <span class="online"> ● {t('online')}</span>}
        <div class="safety small" title={t('safety_number')}>
          {sn}
        </div>
      </div>
      {c.isCoordinator && !isCoord && !c.removed && (
        <div class="actions">
          <button type="button" data-testid="share-history" onClick={() => setSharing(true)}>
            {t('share_history')}
          </button>
          <button type="button" class="danger" data-testid="remove-member" onClick={() => props.onRemove(m)}>
            {t('remove')}
          </button>
        </div>
      )}
      {shared && (
        <p class="muted" data-testid="share-history-done" role="status">
          {shared}
        </p>
      )}
      {sharing && (
        <ShareHistory
          c={c}
          m={m}
          onClose={(msg) => {
            setSharing(false);
            if (msg) setShared(msg);
          }}
        />
      )}
    </li>
  );
}

function RoomSafety(props: { c: RoomClient }) {
  const sn = useRoomSafetyNumber(props.c);
  if (!sn) return null;
  return (
    <section class="card">
      <p class="label">{t('room_safety_number')}</p>
      <p class="safety small" data-testid="room-safety-number">
        {sn}
      </p>
      <p class="help">{t('room_safety_help')}</p>
    </section>
  );
}

export function MembersTab(props: { c: RoomClient }) {
  const c = props.c;
  const [removing, setRemoving] = useState<RosterMember>();
  const [err, setErr] = useState('');
  const confirm = async () => {
    const m = removing!;
    setRemoving(undefined);
    try {
      await c.remove(m.id);
    } catch (e) {
      setErr(errorText(e));
    }
  };
  return (
    <>
      {c.isCoordinator && !c.removed && (
        <>
          <Invite c={c} />
          <section>
            <h2>{t('pending_title')}</h2>
            <p class="help big">{t('pending_help')}</p>
            <ul class="pendings" data-testid="pending-list">
              {c.pending.length === 0 && <li class="muted">{t('pending_none')}</li>}
              {c.pending.map((p) => (
                <Pending key={p.id} c={c} p={p} />
              ))}
            </ul>
          </section>
        </>
      )}
      <section>
        <h2>{t('members_title')}</h2>
        {err && <p class="error">{err}</p>}
        <ul class="members">
          {c.members().map((m) => (
            <Member key={m.id} c={c} m={m} onRemove={setRemoving} />
          ))}
        </ul>
      </section>
      <RoomSafety c={c} />
      {removing && <ConfirmRemove name={removing.name} onConfirm={confirm} onCancel={() => setRemoving(undefined)} />}
    </>
  );
}

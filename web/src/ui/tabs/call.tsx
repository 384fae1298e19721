// Call: end-to-end encrypted sound, video and screen sharing through the
// server's SFU (src/call). The large tile follows whoever speaks (or shares
// a screen, or is pinned); the others are small tiles beside it, below it
// on a phone. Everyone in the call has a tile, those listening only too.
// Decryption failures are named per person.
import { useEffect, useRef, useState } from 'preact/hooks';
import { callFor, type Call, type MediaNotice } from '../../call/call';
import type { Person } from '../../call/remote';
import type { TrackInfo } from '../../call/signalling';
import { t } from '../../i18n';
import type { Key } from '../../i18n/dict';
import type { RoomClient } from '../../protocol/room';
import { useRoomSafetyNumber, useVersion } from '../hooks';
import { Lock } from '../icons';

/** A <video> showing one track (muted: sound plays from the call itself). */
function Video(props: { track: MediaStreamTrack | undefined; mirror?: boolean; label: string; fit?: 'cover' | 'contain' }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const v = ref.current;
    if (!v) return;
    if (props.track) {
      const cur = v.srcObject as MediaStream | null;
      if (!cur || cur.getTracks()[0] !== props.track) v.srcObject = new MediaStream([props.track]);
      void v.play().catch(() => undefined);
    } else v.srcObject = null;
  }, [props.track]);
  return (
    <video
      ref={ref}
      autoplay
      playsInline
      muted
      aria-label={props.label}
      class={`${props.mirror ? 'mirror' : ''} ${props.fit === 'contain' ? 'contain' : ''}`}
    />
  );
}

function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]!.toUpperCase())
    .join('');
}

interface TileModel {
  key: string;
  person: string; // member id
  name: string;
  video?: TrackInfo; // remote
  localTrack?: MediaStreamTrack; // own preview
  screen: boolean;
  videoOff: boolean;
  muted: boolean;
  speaking: boolean;
  /** in the call with neither microphone nor camera */
  listening: boolean;
  self: boolean;
}

function Tile(props: { call: Call; m: TileModel; big: boolean }) {
  const { call, m, big } = props;
  const track = m.localTrack ?? call.mediaFor(m.video);
  const label = m.screen ? t('call_screen_of', { name: m.name }) : m.name;
  const undecryptable = !m.self && call.recentFailures().some((f) => f.participant === m.person && f.kind === 'video');
  const showVideo = !!track && !m.videoOff && !undecryptable;
  return (
    <figure
      class={`tile ${big ? 'big' : 'small'} ${m.speaking ? 'speaking' : ''} ${m.screen ? 'screen' : ''}`}
      data-testid="call-tile"
      data-member={m.person}
      data-kind={m.screen ? 'screen' : 'camera'}
      data-self={String(m.self)}
      data-large={String(big)}
      data-speaking={String(m.speaking)}
      data-listening={String(m.listening)}
    >
      {showVideo ? (
        <Video track={track} mirror={m.self && !m.screen} label={label} fit={m.screen ? 'contain' : 'cover'} />
      ) : (
        <div class="avatar" aria-hidden="true">
          {initials(m.name) || '?'}
        </div>
      )}
      <figcaption>
        <span class="name">{label}</span>
        {m.listening && !m.screen && (
          <span class="tag" data-testid="call-listening">
            {t('call_listening')}
          </span>
        )}
        {m.muted && !m.screen && !m.listening && (
          <span class="tag muted-tag" data-testid="call-muted">
            {t('call_muted')}
          </span>
        )}
        {m.videoOff && !m.screen && !m.listening && <span class="tag">{t('call_camera_off')}</span>}
        {undecryptable && <span class="tag muted-tag">{t('call_decrypt_video', { name: m.name })}</span>}
        {m.speaking && !m.screen && <span class="tag speak">{t('call_speaking')}</span>}
        {!m.self && !big && (
          <button type="button" class="link pin" onClick={() => call.pin(m.person)}>
            {t('call_pin', { name: m.name })}
          </button>
        )}
      </figcaption>
    </figure>
  );
}

function tilesOf(call: Call, c: RoomClient): { stage: TileModel[]; strip: TileModel[] } {
  const stageId = call.stage();
  const stage: TileModel[] = [];
  const strip: TileModel[] = [];
  const people: Person[] = call.remote.people();
  for (const p of people) {
    const name = c.memberName(p.id);
    const muted = !p.audio || !!p.audio.muted;
    const speaking = call.remote.speaker === p.id;
    const cam: TileModel = {
      key: `${p.id}|cam`,
      person: p.id,
      name,
      video: p.camera,
      screen: false,
      videoOff: !p.camera || !!p.camera.muted,
      muted,
      speaking,
      listening: !p.audio && !p.camera && !p.screen,
      self: false,
    };
    const sharing = p.screen && !p.screen.muted;
    if (p.id === stageId) {
      if (sharing) {
        stage.push({ ...cam, key: `${p.id}|screen`, video: p.screen, screen: true, videoOff: false });
        strip.push(cam);
      } else stage.push(cam);
    } else {
      strip.push(cam);
      if (sharing) strip.push({ ...cam, key: `${p.id}|screen`, video: p.screen, screen: true, videoOff: false });
    }
  }
  const me: TileModel = {
    key: 'self',
    person: c.memberId,
    name: `${c.rec.name} (${t('call_you')})`,
    localTrack: call.camOn ? call.cam.track : undefined,
    screen: false,
    videoOff: !call.camOn,
    muted: !call.micOn,
    speaking: false,
    listening: !call.mic.track && !call.cam.track,
    self: true,
  };
  const mine: TileModel[] = [me];
  if (call.screenOn) mine.push({ ...me, key: 'self|screen', localTrack: call.screen.track, screen: true, videoOff: false, muted: false });
  if (!stage.length) stage.push(...mine);
  else strip.unshift(...mine);
  return { stage, strip };
}

const NOTICE: Record<MediaNotice, Key> = {
  video_denied: 'call_perm_video',
  no_camera: 'call_no_camera',
  audio_denied: 'call_perm_audio',
  no_microphone: 'call_no_microphone',
  all_denied: 'call_perm_none',
  screen_denied: 'call_perm_screen',
};

/** The server's reasons (English) in the reader's language. */
function dropText(reason: string): string {
  if (/server is stopping/i.test(reason)) return t('call_drop_stopping');
  if (/media connection was lost|media connection failed/i.test(reason)) return t('call_drop_media');
  if (/never connected/i.test(reason)) return t('call_drop_udp', { msg: reason.replace(/^.*never connected:\s*/i, '') });
  if (/cannot reach|^connection lost$/i.test(reason) || !reason) return t('call_drop_network');
  return t('call_reason', { msg: reason });
}

function Safety(props: { c: RoomClient }) {
  const sn = useRoomSafetyNumber(props.c);
  return (
    <div class="call-e2ee" data-testid="call-e2ee" title={t('call_e2ee_help')}>
      <span class="pill e2ee">
        <Lock /> {t('call_e2ee')}
      </span>
      {sn && !props.c.removed && (
        <span class="call-safety">
          <span class="label-inline">{t('call_safety')}</span>{' '}
          <span class="safety small" data-testid="call-safety-number" data-value={sn.replace(/ /g, '')}>
            {sn}
          </span>
        </span>
      )}
      <p class="help">{t('call_e2ee_help')}</p>
    </div>
  );
}

function Failures(props: { call: Call; c: RoomClient }) {
  const { call, c } = props;
  const list = call.recentFailures();
  // Messages fade after a few seconds without a new failure.
  const [, tick] = useState(0);
  useEffect(() => {
    if (!list.length) return;
    const id = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(id);
  }, [list.length > 0]);
  if (!list.length) return null;
  return (
    <div role="alert" class="call-failures">
      {list.map((f) => (
        <p key={`${f.participant}|${f.kind}`} class="error" data-testid="call-decrypt-error" data-member={f.participant} data-kind={f.kind}>
          {t(f.kind === 'video' ? 'call_decrypt_video' : 'call_decrypt_audio', { name: c.memberName(f.participant) })}
        </p>
      ))}
      <p class="help">{t('call_decrypt_help')}</p>
    </div>
  );
}

export function CallTab(props: { c: RoomClient }) {
  const c = props.c;
  const call = callFor(c);
  useVersion(call);
  const [err, setErr] = useState('');
  const run = (f: () => Promise<void> | void) => async () => {
    setErr('');
    try {
      await f();
    } catch (e) {
      setErr(e instanceof Error ? e.message : String(e));
    }
  };
  const joinBar = (
    <div class="actions">
      <button type="button" class="primary" data-testid="call-join" disabled={c.removed} onClick={run(() => call.join({ audio: true, video: true }))}>
        {call.ended ? t('call_rejoin') : t('call_join')}
      </button>
      <button type="button" data-testid="call-join-audio" disabled={c.removed} onClick={run(() => call.join({ audio: true, video: false }))}>
        {t('call_join_audio')}
      </button>
      <button type="button" data-testid="call-join-listen" disabled={c.removed} onClick={run(() => call.join({ audio: false, video: false }))}>
        {t('call_join_listen')}
      </button>
    </div>
  );
  const stateKey: Key =
    call.state === 'starting'
      ? 'call_state_starting'
      : call.state === 'connected'
        ? 'call_state_connected'
        : call.state === 'reconnecting'
          ? 'call_state_reconnecting'
          : 'call_state_connecting';
  const { stage, strip } = call.active ? tilesOf(call, c) : { stage: [], strip: [] };
  return (
    <section class="call" data-testid="call" data-state={call.state} data-ended={call.ended ?? ''}>
      <Safety c={c} />
      {!call.active && (
        <>
          {call.ended && (
            <p class={call.ended === 'left' ? 'muted' : 'alarm'} role={call.ended === 'left' ? 'status' : 'alert'} data-testid="call-ended" data-reason={call.ended}>
              {call.ended === 'failed' ? t('call_ended_failed', { msg: call.endDetail }) : t(`call_ended_${call.ended}` as Key)}
            </p>
          )}
          {call.ended !== 'removed' && call.ended !== 'unsupported' && call.ended !== 'disabled' && (
            <>
              <p class="help big">{t('call_intro')}</p>
              {joinBar}
            </>
          )}
        </>
      )}
      {call.active && (
        <>
          <p class={`call-state state-${call.state}`} role="status" aria-live="polite" data-testid="call-state" data-state={call.state}>
            {t(stateKey)}
            {call.state === 'reconnecting' && call.dropDetail ? ` — ${dropText(call.dropDetail)}` : ''}
          </p>
          {[...call.notices].map((n) => (
            <p key={n} class="warn-box" role="alert" data-testid="call-notice" data-notice={n}>
              {t(NOTICE[n])}
            </p>
          ))}
          {call.serverError && <p class="muted">{t('call_server_error', { msg: call.serverError })}</p>}
          <Failures call={call} c={c} />
          <div class="call-controls" role="toolbar" aria-label={t('call_controls')}>
            <button type="button" data-testid="call-mic" class={call.micOn ? '' : 'off'} data-on={String(call.micOn)} onClick={run(() => call.toggleMic())}>
              {call.micOn ? t('call_mic_off') : t('call_mic_on')}
            </button>
            <button type="button" data-testid="call-camera" class={call.camOn ? '' : 'off'} data-on={String(call.camOn)} onClick={run(() => call.toggleCamera())}>
              {call.camOn ? t('call_cam_off') : t('call_cam_on')}
            </button>
            {typeof navigator !== 'undefined' && !!navigator.mediaDevices?.getDisplayMedia && (
              <button type="button" data-testid="call-screen" data-on={String(call.screenOn)} onClick={run(() => call.toggleScreen())}>
                {call.screenOn ? t('call_screen_off') : t('call_screen_on')}
              </button>
            )}
            {call.pinned && (
              <button type="button" onClick={() => call.pin(undefined)}>
                {t('call_unpin')}
              </button>
            )}
            <button type="button" class="danger" data-testid="call-leave" onClick={() => call.leave()}>
              {t('call_leave')}
            </button>
          </div>
          <div class="call-grid">
            <div class="call-stage">
              {stage.map((m) => (
                <Tile key={m.key} call={call} m={m} big />
              ))}
              {call.remote.people().length === 0 && <p class="muted call-empty">{t('call_empty')}</p>}
            </div>
            {strip.length > 0 && (
              <div class="call-strip">
                {strip.map((m) => (
                  <Tile key={m.key} call={call} m={m} big={false} />
                ))}
              </div>
            )}
          </div>
        </>
      )}
      {err && (
        <p class="error" role="alert">
          {err}
        </p>
      )}
    </section>
  );
}


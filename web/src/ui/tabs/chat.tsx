// Chat: messages with replies and encrypted attachments.
import { useState } from 'preact/hooks';
import { formatTime, t } from '../../i18n';
import type { FileRef } from '../../protocol/content';
import type { RoomClient } from '../../protocol/room';
import { views } from '../derive';
import { Badge, ShowMore, useLimit } from '../entry';
import { download, errorText } from '../hooks';

function size(n: number): string {
  return n < 1024 ? `${n} o` : n < 1048576 ? `${(n / 1024).toFixed(0)} Ko` : `${(n / 1048576).toFixed(1)} Mo`;
}

function FileButton(props: { c: RoomClient; f: FileRef }) {
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const get = async () => {
    setBusy(true);
    setErr('');
    try {
      download(props.f.name, await props.c.downloadFile(props.f), props.f.type || 'application/octet-stream');
    } catch (e) {
      setErr(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="file">
      <button type="button" data-testid="chat-download" onClick={get} disabled={busy}>
        {props.f.name} ({size(props.f.size)}) — {t('chat_download')}
      </button>
      {err && <span class="error">{err}</span>}
    </span>
  );
}

export function ChatTab(props: { c: RoomClient }) {
  const c = props.c;
  const v = views(c, c.version, c.list);
  const [text, setText] = useState('');
  const [files, setFiles] = useState<File[]>([]);
  const [replyTo, setReplyTo] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [shown, more, hidden] = useLimit(v.chat);

  const send = async (e: Event) => {
    e.preventDefault();
    if (!text.trim() && !files.length) return;
    setBusy(true);
    setErr('');
    try {
      const refs: FileRef[] = [];
      for (const f of files) {
        refs.push(await c.uploadFile({ name: f.name, type: f.type, bytes: new Uint8Array(await f.arrayBuffer()) }));
      }
      const body = text.trim();
      setText('');
      setFiles([]);
      setReplyTo(null);
      const form = e.target as HTMLFormElement;
      form.reset();
      void c.send({ t: 'chat', text: body, reply_to: replyTo, files: refs });
    } catch (x) {
      setErr(errorText(x));
    } finally {
      setBusy(false);
    }
  };
  const replied = replyTo ? v.byHash.get(replyTo) : undefined;
  return (
    <>
      <ol class="chat">
        <ShowMore hidden={hidden} more={more} />
        {shown.length === 0 && <li class="muted">{t('chat_empty')}</li>}
        {shown.map((it) => {
          const m = it.content;
          const parent = m.reply_to ? v.byHash.get(m.reply_to) : undefined;
          const pc = parent?.content;
          return (
            <li
              key={it.pos}
              class={`msg ${it.sender === c.memberId ? 'mine' : ''}`}
              data-testid="chat-message"
              data-author={it.authorName}
              data-author-id={it.sender}
              data-hash={it.hash}
              data-verified={String(it.check.verified)}
            >
              <div class="meta">
                <strong>{it.authorName}</strong> <time dateTime={it.time}>{formatTime(it.time)}</time> <Badge it={it} />
              </div>
              {m.reply_to && (
                <blockquote class="quote">
                  {parent ? `${parent.authorName} : ${pc?.t === 'chat' ? pc.text.slice(0, 120) : ''}` : '…'}
                </blockquote>
              )}
              {m.text && <p class="text">{m.text}</p>}
              {m.files.map((f) => (
                <FileButton key={f.blob} c={c} f={f} />
              ))}
              {!c.removed && (
                <button type="button" class="link" onClick={() => setReplyTo(it.hash)}>
                  ↩ {t('chat_reply')}
                </button>
              )}
            </li>
          );
        })}
      </ol>
      {!c.removed && (
        <form class="card compose" onSubmit={send}>
          {replied && (
            <p class="replying">
              {t('chat_replying', {
                name: replied.authorName,
                text: replied.content?.t === 'chat' ? replied.content.text.slice(0, 80) : '',
              })}{' '}
              <button type="button" class="link" onClick={() => setReplyTo(null)}>
                ✕ {t('cancel')}
              </button>
            </p>
          )}
          <label>
            {t('chat_input')}
            <textarea data-testid="chat-input" rows={2} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <label>
            {t('chat_file')}
            <input
              type="file"
              data-testid="chat-file"
              multiple
              onChange={(e) => setFiles([...(e.currentTarget.files ?? [])])}
            />
          </label>
          {busy && files.length > 0 && <p class="muted">{t('chat_uploading')}</p>}
          {err && <p class="error">{err}</p>}
          <button class="primary" data-testid="chat-send" disabled={busy}>
            {t('chat_send')}
          </button>
        </form>
      )}
    </>
  );
}

// Export: the logbook decrypted and verified in this browser, to Markdown
// and PDF. Nothing is sent anywhere: the file is saved by the browser.
import { useState } from 'preact/hooks';
import { formatTime, problemText, t } from '../../i18n';
import { LOG_KINDS, type LogKind } from '../../protocol/content';
import type { RoomClient } from '../../protocol/room';
import { download, errorText } from '../hooks';
import { buildReport, toMarkdown, toPdf, type Report } from '../report';

const OTHER = { status: 'kind_status', chat: 'tab_chat', task: 'kind_task', contact: 'kind_contact', meta: 'kind_meta', media_key: 'kind_media_key' } as const;

function labels() {
  return {
    kind: (k: string) =>
      (LOG_KINDS as string[]).includes(k) ? t(`kind_${k as LogKind}`) : k in OTHER ? t(OTHER[k as keyof typeof OTHER]) : k,
    newer: t('newer_version'),
    problem: problemText,
    key: (state: 'missing' | 'before' | 'failed', name: string) => t(`key_${state}`, { name }),
    state: (s: string) => (s === 'down' || s === 'degraded' || s === 'restored' ? t(`state_${s}`) : s),
    summaryOk: (n: number) => t('export_summary_ok', { n }),
    summaryBad: (n: number, failed: number, unreadable: number) => t('export_summary_bad', { n, failed, unreadable }),
  };
}

function heads(r: Report) {
  return {
    heading: t('export_title'),
    generated: t('export_generated', { time: formatTime(r.generatedAt), name: r.generatedBy }),
    room: t('export_room'),
    happened: t('export_happened'),
    written: t('export_written'),
    received: t('export_received'),
    hash: t('export_hash'),
    author: t('export_author'),
    ok: t('export_ok'),
    fail: t('export_fail'),
  };
}

export function ExportTab(props: { c: RoomClient }) {
  const c = props.c;
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  // What this device already verified, shown at once; the files themselves
  // come from a complete new verification (make()).
  const s = c.summary();
  const ok = s.ok && !c.verifying;
  const failing = c.list.filter((it) => !it.check.verified || it.check.warnings.length > 0);
  const make = async (): Promise<Report> => {
    const v = await c.verifyAll();
    return buildReport(v, {
      title: c.rec.title || t('room_untitled'),
      room: c.room,
      by: c.rec.name,
      name: (id) => c.memberName(id),
      labels: labels(),
    });
  };
  const stamp = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
  const save = async (kind: 'md' | 'pdf') => {
    setErr('');
    setBusy(true);
    try {
      const r = await make();
      if (kind === 'md') download(`main-courante-${stamp}.md`, toMarkdown(r, heads(r)), 'text/markdown;charset=utf-8');
      else download(`main-courante-${stamp}.pdf`, await toPdf(r, heads(r)), 'application/pdf');
    } catch (e) {
      setErr(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card">
      <h2>{t('export_title')}</h2>
      <p class="help">{t('export_help')}</p>
      <p class={ok ? 'good big' : 'bad big'} data-testid="export-summary" data-ok={String(ok)}>
        {c.verifying
          ? t('integrity_verifying')
          : `${ok ? '✔' : '✘'} ${ok ? t('export_summary_ok', { n: s.total }) : t('export_summary_bad', { n: s.total, failed: s.failed, unreadable: s.unreadable })}`}
      </p>
      {s.gaps.length > 0 && <p class="error">{t('export_gaps', { gaps: s.gaps.map(problemText).join(' ; ') })}</p>}
      {failing.slice(0, 50).map((it) => (
        <p key={it.pos} class="error">
          {it.check.verified ? '⚠' : '✘'} #{it.pos} ({it.authorName}) : {[...it.check.problems, ...it.check.warnings].map(problemText).join(' ; ')}
        </p>
      ))}
      {err && <p class="error">{err}</p>}
      <div class="actions">
        <button type="button" class="primary" data-testid="export-md" onClick={() => save('md')} disabled={busy}>
          {t('export_md')}
        </button>
        <button type="button" class="primary" data-testid="export-pdf" onClick={() => save('pdf')} disabled={busy}>
          {t('export_pdf')}
        </button>
      </div>
    </section>
  );
}

// Export: the logbook decrypted and verified in this browser, to Markdown
// and PDF. Nothing is sent anywhere: the file is saved by the browser.
import { useEffect, useState } from 'preact/hooks';
import { formatTime, problemText, t } from '../../i18n';
import { LOG_KINDS, type LogKind } from '../../protocol/content';
import type { RoomClient } from '../../protocol/room';
import { download, errorText } from '../hooks';
import { buildReport, toMarkdown, toPdf, type Report } from '../report';

const OTHER = { status: 'kind_status', chat: 'tab_chat', task: 'kind_task', contact: 'kind_contact', meta: 'kind_meta' } as const;

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
  const [report, setReport] = useState<Report>();
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const make = async (): Promise<Report> => {
    const v = await c.verifyAll();
    const r = buildReport(v, {
      title: c.rec.title || t('room_untitled'),
      room: c.room,
      by: c.rec.name,
      name: (id) => c.memberName(id),
      labels: labels(),
    });
    setReport(r);
    return r;
  };
  useEffect(() => {
    make().catch((e) => setErr(errorText(e)));
  }, [c.version]);
  const stamp = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
  const md = async () => {
    setErr('');
    try {
      const r = await make();
      download(`main-courante-${stamp}.md`, toMarkdown(r, heads(r)), 'text/markdown;charset=utf-8');
    } catch (e) {
      setErr(errorText(e));
    }
  };
  const pdf = async () => {
    setErr('');
    setBusy(true);
    try {
      const r = await make();
      download(`main-courante-${stamp}.pdf`, await toPdf(r, heads(r)), 'application/pdf');
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
      {report && (
        <p class={report.ok ? 'good big' : 'bad big'} data-testid="export-summary" data-ok={String(report.ok)}>
          {report.ok ? '✔' : '✘'} {report.summary}
        </p>
      )}
      {report && report.gaps.length > 0 && <p class="error">{t('export_gaps', { gaps: report.gaps.join(' ; ') })}</p>}
      {report &&
        report.entries
          .filter((e) => !e.ok)
          .slice(0, 50)
          .map((e) => (
            <p key={e.pos} class="error">
              ✘ #{e.pos} ({e.author}) : {e.reason}
            </p>
          ))}
      {err && <p class="error">{err}</p>}
      <div class="actions">
        <button type="button" class="primary" data-testid="export-md" onClick={md}>
          {t('export_md')}
        </button>
        <button type="button" class="primary" data-testid="export-pdf" onClick={pdf} disabled={busy}>
          {t('export_pdf')}
        </button>
      </div>
    </section>
  );
}

// The logbook export: built in the browser from a fresh verification of the
// raw events, as Markdown and PDF. Every entry carries its author, times,
// hash and a ✔ or the reason it fails; a summary comes first.
import { keyMessage, type Problem, type Verified } from '../crypto/verify';
import { isHiddenContent, normalizeContent, type Content } from '../protocol/content';

export interface ReportEntry {
  pos: number;
  kind: string;
  author: string;
  happened: string;
  written: string;
  received: string;
  hash: string;
  ok: boolean;
  /** why it fails (its own problems) */
  reason: string;
  /** what depends on other entries (a cited entry missing, the previous one altered) */
  warning: string;
  text: string;
}

export interface Report {
  title: string;
  room: string;
  generatedAt: string;
  generatedBy: string;
  total: number;
  ok: boolean;
  summary: string;
  gaps: string[];
  entries: ReportEntry[];
}

export interface ReportLabels {
  kind(k: string): string;
  state(s: string): string;
  summaryOk(n: number): string;
  newer: string;
  /** a verification finding in the reader's language (English by default) */
  problem?(p: Problem): string;
  /** why an entry cannot be read on this device */
  key?(state: 'missing' | 'before' | 'failed', name: string): string;
  summaryBad(n: number, failed: number, unreadable: number): string;
}

function describe(c: Content, L: ReportLabels): { kind: string; text: string; happened?: string } | undefined {
  switch (c.t) {
    case 'log':
      return { kind: L.kind(c.kind), text: c.text, happened: c.at };
    case 'status':
      return {
        kind: L.kind('status'),
        text: `${c.service}: ${L.state(c.state)}${c.eta ? ` (ETA ${c.eta})` : ''}${c.text ? ` — ${c.text}` : ''}`,
      };
    case 'chat':
      return {
        kind: L.kind('chat'),
        text: c.text + (c.files.length ? ` [${c.files.map((f) => f.name).join(', ')}]` : '') + (c.reply_to ? ` (↩ ${c.reply_to.slice(0, 10)})` : ''),
      };
    case 'task':
      return { kind: L.kind('task'), text: `${c.title} — ${c.owner}${c.due ? `, ${c.due}` : ''} (${c.state})${c.task ? ` [${c.task.slice(0, 10)}]` : ''}` };
    case 'contact':
      return { kind: L.kind('contact'), text: `${c.deleted ? '(-) ' : ''}${c.name}, ${c.org}, ${c.phone} ${c.email}`.trim() };
    case 'meta':
      return { kind: L.kind('meta'), text: c.title };
    case 'media_key':
      // Only reached for an entry that fails verification; the key itself is never printed.
      return { kind: L.kind('media_key'), text: '' };
  }
}

export function buildReport(
  v: Verified,
  opts: { title: string; room: string; by: string; name(id: string): string; labels: ReportLabels; now?: string },
): Report {
  const L = opts.labels;
  // Call keys (media_key) are counted and verified like every entry, but not
  // listed: they are protocol, not something a member wrote.
  const listed = v.checks.filter((c) => !(c.verified && c.plain !== undefined && isHiddenContent(normalizeContent(c.plain))));
  const entries: ReportEntry[] = listed.map((c) => {
    const e = c.env;
    const author = e ? opts.name(e.sender) : '?';
    let kind = '?',
      text = '',
      happened = '';
    const content = c.plain !== undefined ? normalizeContent(c.plain) : undefined;
    if (content) {
      const d = describe(content, L)!;
      kind = d.kind;
      text = d.text;
      happened = d.happened ?? '';
    } else if (content === null) {
      text = `(${L.newer})`;
    } else if (c.sigOk) {
      text = `(${L.key && c.key !== 'ok' ? L.key(c.key, author) : keyMessage(c, author)})`;
    }
    const say = L.problem ?? ((p: Problem) => p.toString());
    const reasons = c.problems.map(say);
    return {
      pos: c.pos,
      kind,
      author,
      happened,
      written: e?.time ?? '',
      received: c.receivedAt ?? '',
      hash: c.hash,
      ok: c.verified,
      reason: reasons.join('; '),
      warning: c.warnings.map(say).join('; '),
      text,
    };
  });
  const s = v.summary;
  return {
    title: opts.title,
    room: opts.room,
    generatedAt: opts.now ?? new Date().toISOString(),
    generatedBy: opts.by,
    total: s.total,
    ok: s.ok,
    summary: s.ok ? L.summaryOk(s.total) : L.summaryBad(s.total, s.failed, s.unreadable),
    gaps: s.gaps.map((g) => (L.problem ?? ((p: Problem) => p.toString()))(g)),
    entries,
  };
}

export interface ReportHeads {
  heading: string;
  generated: string;
  room: string;
  hash: string;
  author: string;
  happened: string;
  written: string;
  received: string;
  ok: string;
  fail: string;
}

function mdEscape(s: string): string {
  return s.replace(/([\\`*_[\]#<>|])/g, '\\$1');
}

export function toMarkdown(r: Report, h: ReportHeads): string {
  const out: string[] = [];
  out.push(`# ${mdEscape(h.heading)} — ${mdEscape(r.title)}`, '');
  out.push(`${h.generated}`, '', `${h.room}: \`${r.room}\``, '');
  out.push(`## ${r.ok ? '✔' : '✘'} ${r.summary}`, '');
  for (const g of r.gaps) out.push(`- ✘ ${mdEscape(g)}`);
  const failing = r.entries.filter((e) => !e.ok);
  for (const e of failing) out.push(`- ✘ #${e.pos}: ${mdEscape(e.reason)}`);
  const warned = r.entries.filter((e) => e.ok && e.warning);
  for (const e of warned) out.push(`- ⚠ #${e.pos}: ${mdEscape(e.warning)}`);
  if (r.gaps.length || failing.length || warned.length) out.push('');
  for (const e of r.entries) {
    out.push(`### #${e.pos} — ${mdEscape(e.kind)} — ${e.happened || e.written}`, '');
    out.push(`- ${h.author}: ${mdEscape(e.author)}`);
    if (e.happened) out.push(`- ${h.happened}: ${e.happened}`);
    out.push(`- ${h.written}: ${e.written}`, `- ${h.received}: ${e.received}`);
    out.push(`- ${h.hash}: \`${e.hash}\``);
    out.push(`- ${e.ok ? h.ok + (e.warning ? ` — ⚠ ${mdEscape(e.warning)}` : '') : `${h.fail}: ${mdEscape(e.reason)}`}`, '');
    if (e.text) out.push(...e.text.split('\n').map((l) => `> ${mdEscape(l)}`), '');
  }
  return out.join('\n');
}

/**
 * jsPDF's built-in Helvetica covers Latin-1 (French accents: é è à ç ô …);
 * typographic characters outside it are mapped to plain ones, anything else
 * becomes '?', so the PDF never shows garbage.
 */
export function pdfText(s: string): string {
  return s
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\u2026/g, '...')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u00a0|\u202f/g, ' ')
    .replace(/\u2714/g, 'OK')
    .replace(/\u2718/g, 'X')
    .replace(/\u26a0/g, '!')
    .replace(/\u21a9/g, '<-')
    .replace(/\u0153/g, 'oe')
    .replace(/\u0152/g, 'OE')
    .replace(/\u20ac/g, 'EUR')
    .replace(/[^\n\x20-\x7e\xa0-\xff]/g, '?');
}

export async function toPdf(
  r: Report,
  h: ReportHeads,
): Promise<Uint8Array> {
  const { jsPDF } = await import('jspdf');
  const doc = new jsPDF({ unit: 'pt', format: 'a4' });
  const W = doc.internal.pageSize.getWidth();
  const H = doc.internal.pageSize.getHeight();
  const M = 40;
  let y = M;
  const line = (text: string, size = 10, style: 'normal' | 'bold' = 'normal', color: [number, number, number] = [0, 0, 0]) => {
    doc.setFont('helvetica', style);
    doc.setFontSize(size);
    doc.setTextColor(...color);
    const lines = doc.splitTextToSize(pdfText(text), W - 2 * M) as string[];
    for (const l of lines) {
      if (y + size > H - M) {
        doc.addPage();
        y = M;
      }
      doc.text(l, M, y + size);
      y += size * 1.3;
    }
  };
  line(`${h.heading} - ${r.title}`, 18, 'bold');
  line(h.generated, 9);
  line(`${h.room}: ${r.room}`, 9);
  y += 6;
  line(`${r.ok ? 'OK' : 'ATTENTION'} - ${r.summary}`, 13, 'bold', r.ok ? [0, 100, 0] : [170, 0, 0]);
  for (const g of r.gaps) line(`X ${g}`, 10, 'normal', [170, 0, 0]);
  for (const e of r.entries.filter((x) => !x.ok)) line(`X #${e.pos}: ${e.reason}`, 10, 'normal', [170, 0, 0]);
  for (const e of r.entries.filter((x) => x.ok && x.warning)) line(`! #${e.pos}: ${e.warning}`, 10, 'normal', [138, 90, 0]);
  y += 8;
  for (const e of r.entries) {
    if (y > H - M - 60) {
      doc.addPage();
      y = M;
    }
    line(`#${e.pos} - ${e.kind} - ${e.author} - ${e.happened || e.written}`, 11, 'bold');
    if (e.text) line(e.text, 10);
    line(`${e.happened ? `${h.happened} ${e.happened} / ` : ''}${h.written} ${e.written} / ${h.received} ${e.received}`, 8, 'normal', [80, 80, 80]);
    line(`${h.hash}: ${e.hash}`, 8, 'normal', [80, 80, 80]);
    line(e.ok ? h.ok + (e.warning ? ` - ! ${e.warning}` : '') : `${h.fail}: ${e.reason}`, 9, 'bold', e.ok ? [0, 100, 0] : [170, 0, 0]);
    y += 6;
  }
  return new Uint8Array(doc.output('arraybuffer'));
}

import { describe, expect, it } from 'vitest';
import { randomBytes } from '../src/crypto/bytes';
import { sealEnvelope } from '../src/crypto/envelope';
import { Chain } from '../src/crypto/ratchet';
import { verifyEvents } from '../src/crypto/verify';
import { buildReport, pdfText, toMarkdown, toPdf } from '../src/ui/report';
import { dirMember, newMember } from './helpers';

const ROOM = 'cmVwb3J0LXJvb20tMDAwMQ';
const heads = {
  heading: 'Export', generated: 'now', room: 'Room', hash: 'Hash', author: 'Author',
  happened: 'happened', written: 'written', received: 'received', ok: '✔ verified', fail: '✘ failed',
};
const labels = {
  kind: (k: string) => k, state: (s: string) => s, newer: 'newer',
  summaryOk: (n: number) => `${n} entries, all signatures valid, chains complete.`,
  summaryBad: (n: number, f: number, u: number) => `${n} entries: ${f} fail verification, ${u} unreadable.`,
};

async function room(n: number) {
  const a = await newMember(ROOM, 'Maire');
  const ch = new Chain(0, randomBytes(32));
  const events = [];
  let prev = '';
  for (let i = 0; i < n; i++) {
    const s = await sealEnvelope(a.keys.sign.privateKey, await ch.messageKey(i), { room: ROOM, epoch: 1, sender: a.id, seq: i + 1, prev, refs: [], i },
      { t: 'log', kind: i === 1 ? 'decision' : 'fact', text: `Entrée n°${i} : réseau coupé`, at: '2026-12-05T09:00:00.000Z' });
    prev = s.hash;
    events.push({ pos: i + 1, body: s.body, sig: s.sig, received_at: '2026-12-05T09:00:01.000Z' });
  }
  const ctx = { room: ROOM, member: (id: string) => (id === a.id ? dirMember(a) : undefined), chain: () => ch, complete: true };
  return { events, ctx };
}

describe('export', () => {
  it('an intact logbook: summary first, every entry with its hash and ✔', async () => {
    const { events, ctx } = await room(3);
    const r = buildReport(await verifyEvents(ctx, events), { title: 'Crise', room: ROOM, by: 'Maire', name: () => 'Maire', labels });
    const md = toMarkdown(r, heads);
    expect(md.split('\n').find((l) => l.startsWith('## '))).toBe('## ✔ 3 entries, all signatures valid, chains complete.');
    expect(md).toContain('Entrée n°1 : réseau coupé');
    for (const e of r.entries) expect(md).toContain(`\`${e.hash}\``);
    expect(md.match(/✔ verified/g)).toHaveLength(3);
    const pdf = await toPdf(r, heads);
    expect(new TextDecoder('latin1').decode(pdf.subarray(0, 5))).toBe('%PDF-');
  });

  it('an altered stored entry shows as failing, in the summary and at its place', async () => {
    const { events, ctx } = await room(3);
    events[1] = { ...events[1], body: events[1].body.replace('"seq":2', '"seq": 2') };
    const r = buildReport(await verifyEvents(ctx, events), { title: 'Crise', room: ROOM, by: 'Maire', name: () => 'Maire', labels });
    expect(r.ok).toBe(false);
    const md = toMarkdown(r, heads);
    expect(md).toMatch(/## ✘ 3 entries: 1 fail verification/);
    expect(md).toMatch(/- ✘ #2: signature invalid/);
    expect(r.entries[1].ok).toBe(false);
    // the author's next entry is authentic: ✔, with a note that its predecessor was altered
    expect(r.entries[2].ok).toBe(true);
    expect(md).toMatch(/- ⚠ #3: .*previous entry was altered/);
  });

  it('PDF text keeps Latin-1 accents and maps the rest', () => {
    expect(pdfText('Décision — « coupé » à 9 h… ✔ œuvre ’')).toBe("Décision - « coupé » à 9 h... OK oeuvre '");
    expect(pdfText('日本')).toBe('??');
  });
});

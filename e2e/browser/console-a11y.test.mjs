// The console's accessibility, end to end, in Debian's chromium against a
// real `rempart server` (issue requirement: "French and English; keyboard
// accessible; works on a tablet"):
//
//   1. keyboard only (page.keyboard, no click): sign in with password and
//      one-time code, open a town from the overview, open the plan editor,
//      add a service, save, walk the dependency graph's nodes (each says its
//      name), open a drill's evidence, download the runbook, open an alert
//      and its close confirmation (it takes the focus, Escape cancels it and
//      gives the focus back); every stop is on screen with a visible focus
//      indicator (its outline, box-shadow or, for a graph node, its box
//      differs from the unfocused state);
//   2. touch layouts (768×1024 and 1024×768 tablets, a 390×844 phone, with
//      hasTouch and isMobile): no sideways page scroll on the overview, the
//      town page and the plan editor; tables scroll inside .table-scroll;
//      tap targets big enough; tap navigates;
//   3. French and English: the switch changes headings, buttons and
//      <html lang>; no raw i18n key on any page visited;
//   4. accessible names (Chromium's own accessibility tree, over CDP) for
//      every button, link, field and graph node; landmarks; headings in
//      order; no duplicate id (aria references and SVG markers rely on them).
//
// Run alone: cd e2e/browser && REMPART_BIN=../../bin/rempart node --test --test-concurrency=1 console-a11y.test.mjs
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertDevicesClean, Device, launch, tid } from './lib/browser.mjs';
import { ADMIN_PASSWORD } from './lib/server.mjs';
import { endSuite, startBareServer, steps } from './lib/steps.mjs';
import { consoleKit } from './lib/console.mjs';

const RUN = randomBytes(5).toString('hex');
const ART = join(process.env.BROWSER_E2E_ARTIFACTS || mkdtempSync(join(tmpdir(), 'rempart-browser-e2e-')), 'console-a11y');
mkdirSync(ART, { recursive: true });

const REPO_PASSWORD = 'console a11y e2e repository password';
const TOWN = 'mairie-k';
const S = { srv: undefined, browser: undefined, devices: {}, accounts: {}, agents: {}, session: '' };
const { step, run } = steps({ art: ART, devices: () => S.devices, server: () => S.srv, defaultTimeout: 45_000 });
const { totp, nowStep, cli, cliOK, adminHome, account, machine, applyPlan } = consoleKit(S, { art: ART, run: RUN, repoPassword: REPO_PASSWORD });

const planK = (data) => `format: 1
title: Plan de continuité — mairie K
services:
  - id: fichiers
    name: File server
    criticality: essential
    rto: 1d
    rpo: 24h
    sources: [{host: fs-k, path: ${data}}]
`;

// Raw i18n keys of the console (web/src/i18n/console.ts: c_, role_, st_, r_,
// v_, src_, dr_, d_), as ct() shows them when a key has no text.
const RAW_KEY = /\b(?:c|role|st|r|v|src|dr|d)_[a-z][a-z0-9_]*\b/;

/* ------------------------------------------------------------------ */
/* Keyboard: each focus stop is checked in the page.                   */

/**
 * Runs in the page on the focused element: scrolls it into view, says
 * whether it is on screen, and compares the previous stop's focused look
 * with its look now that it lost the focus (a focus indicator must show a
 * difference: outline, box-shadow, or for an SVG node its box's stroke).
 */
function focusStop() {
  const w = window;
  const look = (el) => {
    const cs = getComputedStyle(el);
    const parts = [cs.outlineStyle, cs.outlineWidth, cs.outlineColor, cs.outlineOffset, cs.boxShadow, cs.borderColor, cs.backgroundColor];
    const box = el instanceof SVGElement ? el.querySelector('rect') : null;
    if (box) {
      const rs = getComputedStyle(box);
      parts.push(rs.stroke, rs.strokeWidth, rs.fill);
    }
    return parts.join('|');
  };
  const describe = (el) =>
    `<${el.tagName.toLowerCase()}${el.id ? ` id=${el.id}` : ''}${el.getAttribute('data-testid') ? ` data-testid=${el.getAttribute('data-testid')}` : ''}> "${(el.getAttribute('aria-label') || el.textContent || el.value || '').trim().slice(0, 40)}"`;
  const problems = [];
  const e = document.activeElement;
  const prev = w.__a11yPrev;
  if (prev && prev.el !== e && prev.el.isConnected && !prev.el.matches(':focus')) {
    if (look(prev.el) === prev.look) problems.push(`${prev.desc}: no visible focus indicator (same look focused and unfocused)`);
  }
  if (!e || e === document.body || e === document.documentElement) {
    w.__a11yPrev = undefined;
    return { desc: 'body', testid: '', problems: [...problems, 'the focus is on the page itself (lost)'] };
  }
  e.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  const r = e.getBoundingClientRect();
  const desc = describe(e);
  if (!(r.width > 0 && r.height > 0)) problems.push(`${desc}: focused but has no size (${r.width}×${r.height})`);
  else if (r.right <= 0 || r.bottom <= 0 || r.left >= innerWidth || r.top >= innerHeight) problems.push(`${desc}: focused but outside the viewport (${JSON.stringify(r)})`);
  else {
    const x = Math.min(Math.max(r.left + Math.min(r.width / 2, 20), 0), innerWidth - 1);
    const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
    const hit = document.elementFromPoint(x, y);
    if (hit && !(e.contains(hit) || hit.contains(e) || hit.closest('label')?.contains(e))) problems.push(`${desc}: focused but covered by ${describe(hit)}`);
  }
  const cs = getComputedStyle(e);
  if (cs.visibility === 'hidden' || Number(cs.opacity) === 0) problems.push(`${desc}: focused but invisible`);
  if (!(e instanceof SVGElement)) {
    const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2) || (cs.boxShadow && cs.boxShadow !== 'none');
    if (!ring) problems.push(`${desc}: no focus ring (outline ${cs.outlineStyle} ${cs.outlineWidth}, box-shadow ${cs.boxShadow})`);
  }
  // Graph nodes etc.: the look is compared when the focus leaves (above).
  if (!prev || prev.el !== e) w.__a11yPrev = { el: e, look: look(e), desc };
  return { desc, testid: e.getAttribute('data-testid') || '', id: e.id, problems };
}

function keyboardKit(p, seen, problems) {
  const check = async (why, { wrapping = false } = {}) => {
    const f = await p.evaluate(focusStop);
    seen.push(f.desc);
    // Tab past the last control goes to the browser's own controls (the page, here) before wrapping around.
    for (const x of f.problems) if (!(wrapping && f.desc === 'body')) problems.push(`${why}: ${x}`);
    return f;
  };
  const isFocused = (sel) => p.evaluate((s) => !!document.activeElement?.matches(s), sel);
  /**
   * Tab (or Shift+Tab) until the focus is on sel, checking every stop on
   * the way. In the plan's text area Tab indents: Escape first, as its help
   * says, to move on.
   */
  const tabTo = async (sel, { back = false, max = 80 } = {}) => {
    for (let i = 0; i < max; i++) {
      if (!back && (await isFocused(tid('plan-yaml')))) await p.keyboard.press('Escape');
      await p.keyboard.press(back ? 'Shift+Tab' : 'Tab');
      await check(`${back ? 'Shift+Tab' : 'Tab'} towards ${sel}`, { wrapping: true });
      if (await isFocused(sel)) return;
    }
    throw new Error(`${sel} is not reached with ${max} × ${back ? 'Shift+Tab' : 'Tab'} (stops: ${seen.slice(-max).join(' → ')})`);
  };
  const press = async (key, why) => {
    await p.keyboard.press(key);
    return check(why ?? key);
  };
  const focusedIs = async (sel, what) => {
    await p.waitForFunction((s) => !!document.activeElement?.matches(s), sel, { timeout: 10_000 }).catch(() => undefined);
    const f = await check(what);
    assert.ok(await isFocused(sel), `${what}: the focus is on ${f.desc}, not ${sel}`);
  };
  return { check, tabTo, press, focusedIs, isFocused };
}

/* ------------------------------------------------------------------ */
/* Page audits: names, landmarks, headings, raw keys, touch layout.     */

/** Chromium's accessibility tree (CDP): interactive nodes without a name. */
async function unnamed(p) {
  const cdp = await p.context().newCDPSession(p);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const needName = new Set(['button', 'link', 'textbox', 'searchbox', 'combobox', 'listbox', 'checkbox', 'radio', 'spinbutton', 'slider', 'switch', 'tab', 'menuitem', 'img', 'image', 'date', 'DisclosureTriangle', 'InputTime']);
    const out = [];
    let checked = 0;
    for (const n of nodes) {
      if (n.ignored) continue;
      const role = n.role?.value;
      const focusable = (n.properties ?? []).some((x) => x.name === 'focusable' && x.value?.value === true);
      if (!needName.has(role) && !(focusable && role !== 'RootWebArea' && role !== 'WebArea')) continue;
      checked++;
      const name = String(n.name?.value ?? '').trim();
      if (name) continue;
      // Focusable text (the copyable drill commands) is read as text: no name needed.
      if (!needName.has(role) && ['code', 'generic', 'paragraph', 'heading', 'StaticText'].includes(role)) continue;
      let html = '';
      if (n.backendDOMNodeId) {
        try {
          const { outerHTML } = await cdp.send('DOM.getOuterHTML', { backendNodeId: n.backendDOMNodeId });
          html = outerHTML.slice(0, 120);
        } catch {
          /* gone */
        }
      }
      out.push(`${role} without an accessible name: ${html}`);
    }
    return { out, checked };
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}

/** Landmarks, heading levels, duplicate ids, raw keys; runs in the page. */
function structure(rawKeySource) {
  const raw = new RegExp(rawKeySource);
  const visible = (e) => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden';
  };
  const problems = [];
  if (!document.querySelector('main')) problems.push('no <main> landmark');
  if (!document.querySelector('body > * header, body > header, nav, [role="banner"], [role="navigation"]')) problems.push('no header or nav landmark');
  if (document.querySelectorAll('main').length > 1) problems.push('more than one <main>');
  const hs = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(visible);
  let last = 0;
  const outline = [];
  for (const h of hs) {
    const l = Number(h.tagName[1]);
    outline.push(`h${l} ${h.textContent.trim().slice(0, 30)}`);
    if (last === 0 && l !== 1) problems.push(`the first heading is h${l}, not h1: "${h.textContent.trim()}"`);
    if (last && l > last + 1) problems.push(`heading jump h${last} → h${l}: "${h.textContent.trim()}"`);
    last = l;
  }
  if (document.querySelectorAll('h1').length !== 1) problems.push(`${document.querySelectorAll('h1').length} <h1> on the page`);
  const ids = new Map();
  for (const e of document.querySelectorAll('[id]')) ids.set(e.id, (ids.get(e.id) ?? 0) + 1);
  for (const [id, n] of ids) if (n > 1) problems.push(`id "${id}" is used ${n} times`);
  for (const e of document.querySelectorAll('[aria-labelledby], [aria-describedby], [aria-controls], label[for]')) {
    for (const a of ['aria-labelledby', 'aria-describedby', 'aria-controls', 'for']) {
      for (const id of (e.getAttribute(a) || '').split(/\s+/).filter((x) => x)) {
        if (!document.getElementById(id)) problems.push(`${a}="${id}" names no element`);
      }
    }
  }
  const text = document.body.innerText;
  const m = text.match(raw);
  if (m) problems.push(`raw i18n key in the page's text: "${m[0]}"`);
  for (const e of document.querySelectorAll('[aria-label], [title], [placeholder], [alt]')) {
    for (const a of ['aria-label', 'title', 'placeholder', 'alt']) {
      const v = e.getAttribute(a);
      if (v && raw.test(v)) problems.push(`raw i18n key in ${a}="${v}"`);
    }
  }
  if (document.title && raw.test(document.title)) problems.push(`raw i18n key in the title: ${document.title}`);
  return { problems, outline, lang: document.documentElement.lang };
}

async function audit(p, where) {
  const s = await p.evaluate(structure, RAW_KEY.source);
  const n = await unnamed(p);
  assert.ok(n.checked > 3, `${where}: only ${n.checked} interactive nodes in the accessibility tree`);
  return [...s.problems, ...n.out].map((x) => `${where}: ${x}`);
}

/**
 * Touch layout of the current page: no sideways scroll, tables inside
 * their .table-scroll box, tap targets. Sizes: WCAG 2.2 AA 2.5.8 asks 24×24
 * CSS px of every target (checked for all: buttons, links, fields, summary,
 * graph nodes, in the header and main); the console aims at 44×44 (2.5.5,
 * AAA, the crisis room's own rule) for its primary controls: buttons,
 * button-styled links and form fields (checked on touch layouts).
 */
function touchLayout(width) {
  const problems = [];
  const de = document.documentElement;
  // On a mobile layout, content wider than the screen widens the layout
  // viewport (the page is shown zoomed out): innerWidth must stay the device's.
  if (innerWidth > width + 1) problems.push(`the page is zoomed out: its layout is ${innerWidth} px wide on a ${width}-px screen`);
  if (de.scrollWidth > Math.min(innerWidth, width) + 1) {
    const wide = [...document.querySelectorAll('main *, header *')]
      .filter((e) => e.getBoundingClientRect().right > width + 1 && !e.closest('.table-scroll, .graph-scroll, .code-edit'))
      .slice(-4)
      .map((e) => `<${e.tagName.toLowerCase()} class="${e.getAttribute('class') ?? ''}" data-testid="${e.getAttribute('data-testid') ?? ''}"> ${Math.round(e.getBoundingClientRect().width)} px "${(e.textContent ?? '').trim().slice(0, 30)}"`);
    problems.push(`the page scrolls sideways: scrollWidth ${de.scrollWidth} > ${width} (${wide.join(', ')})`);
  }
  for (const t of document.querySelectorAll('table')) {
    const box = t.closest('.table-scroll');
    if (!box) problems.push(`a table (${t.getAttribute('data-testid')}) is not inside a .table-scroll box`);
    else {
      const r = box.getBoundingClientRect();
      if (r.right > innerWidth + 1) problems.push(`.table-scroll of ${t.getAttribute('data-testid')} overflows the viewport (${r.right} > ${innerWidth})`);
      if (getComputedStyle(box).overflowX !== 'auto' && getComputedStyle(box).overflowX !== 'scroll') problems.push('.table-scroll does not scroll');
    }
  }
  const targets = [...document.querySelectorAll('header button, header a[href], main button, main a[href], main input, main textarea, main select, main summary, main [tabindex="0"]')];
  let n = 0;
  for (const e of targets) {
    const r = e.getBoundingClientRect();
    if (!(r.width > 0 && r.height > 0) || e.closest('.sr-only')) continue;
    if (e.matches('code')) continue; // focusable text to copy, not a control
    n++;
    const what = `<${e.tagName.toLowerCase()} data-testid=${e.getAttribute('data-testid')}> "${(e.textContent || e.getAttribute('aria-label') || '').trim().slice(0, 30)}"`;
    if (r.width < 24 || r.height < 24) problems.push(`${what}: ${Math.round(r.width)}×${Math.round(r.height)} < 24×24 (WCAG 2.5.8)`);
    else if (e.matches('button, a.button, input, select, textarea') && (r.width < 44 || r.height < 44)) {
      problems.push(`${what}: ${Math.round(r.width)}×${Math.round(r.height)} < 44×44 (primary control on a touch layout)`);
    }
  }
  return { problems, targets: n };
}

async function openTouch(name, viewport, locale = 'en-US', { signedIn = true } = {}) {
  const ctx = await S.browser.newContext({ ignoreHTTPSErrors: true, locale, viewport, hasTouch: true, isMobile: true, deviceScaleFactor: 2, acceptDownloads: true });
  const d = new Device(name, ctx, S.srv.url);
  await d.refuseOtherHosts();
  // The keyboard user's session (one sign-in per 30-s code): the console keeps it in sessionStorage.
  if (signedIn) await ctx.addInitScript((s) => sessionStorage.setItem('rempart-session', s), S.session);
  await d.newPage();
  S.devices[name] = d;
  return d;
}

before(
  async () => {
    console.log(`# console a11y e2e: run ${RUN}; artifacts in ${ART}`);
    S.srv = await startBareServer(ART);
    S.browser = await launch();
  },
  { timeout: 120_000 },
);

after(() => endSuite({ art: ART, label: 'console a11y e2e', devices: S.devices, browser: S.browser, srv: S.srv, run }), { timeout: 60_000 });

step(
  'a town is prepared with the CLI: its admin (second factor), a backed-up machine, a plan, a drill and an open alert',
  async () => {
    await cliOK(adminHome(), ['login', S.srv.url, '--user', 'admin', '--ca-fingerprint', S.srv.fp], { REMPART_LOGIN_PASSWORD: ADMIN_PASSWORD });
    await cliOK(adminHome(), ['tenant', 'create', TOWN]);
    await account('dsi-k', 'tenant-admin', TOWN);
    const m = await machine('fs-k', TOWN);
    await cliOK(m.home, ['canary', 'plant', m.data], m.env);
    await cliOK(m.home, ['--json', 'backup', m.data], m.env);
    await applyPlan(TOWN, planK(m.data));
    assert.match((await cliOK(m.home, ['drill', 'run', 'fichiers'], m.env)).stdout, /PASSED/);
    // A deleted decoy: the next backup is suspect and opens an alert.
    const decoy = readdirSync(m.data).find((n) => /\.(xlsx|docx|odt|txt)$/.test(n) && !n.startsWith('budget-'));
    assert.ok(decoy, 'no decoy planted');
    unlinkSync(join(m.data, decoy));
    const r = await cli(m.home, ['--json', 'backup', m.data], m.env);
    assert.ok(r.code === 4 || r.code === 5, `backup after the canary was deleted: exit ${r.code}\n${r.stdout}${r.stderr}`);
  },
  { timeout: 120_000 },
);

step('keyboard only: sign in, open the town, edit and save the plan, walk the graph, open a drill’s evidence, download the runbook', async () => {
  const d = (S.devices['dsi-k'] = await Device.open(S.browser, 'dsi-k', S.srv.url, 'en-US'));
  const p = d.page;
  const seen = [];
  const problems = [];
  const k = keyboardKit(p, seen, problems);
  await p.goto(`${S.srv.url}/console/`);
  await p.locator(tid('login-form')).waitFor();

  // Sign in: Tab to each field, type, Enter submits.
  const a = S.accounts['dsi-k'];
  let code = nowStep();
  if (code <= a.lastStep) code = a.lastStep + 1;
  a.lastStep = code;
  await k.tabTo(tid('login-user'));
  await p.keyboard.type(a.name);
  await k.press('Tab');
  await k.focusedIs(tid('login-password'), 'Tab from the name');
  await p.keyboard.type(a.password);
  await k.press('Tab');
  await k.focusedIs(tid('login-totp'), 'Tab from the password');
  await p.keyboard.type(totp(a.secret, code));
  await p.keyboard.press('Enter');
  await p.locator(tid('whoami')).waitFor();
  S.session = await p.evaluate(() => sessionStorage.getItem('rempart-session'));
  assert.match(S.session ?? '', /"token":"/);
  await p.locator(tid('town-card', { tenant: TOWN })).waitFor();
  // The focus is not left on a vanished form: it is on the page's heading.
  await k.focusedIs('main h2', 'after signing in');

  // The header, backwards from the heading: sign-out, language, refresh, overview.
  for (const id of ['signout', 'lang-switch', 'refresh', 'nav-overview']) await k.tabTo(tid(id), { back: true, max: 6 });
  // The overview: Tab to the town's link, Enter opens it.
  await k.tabTo(`${tid('town-card', { tenant: TOWN })} ${tid('town-link')}`);
  await p.keyboard.press('Enter');
  await p.locator(tid('town-page', { tenant: TOWN })).waitFor();
  await k.focusedIs(tid('town-title'), 'after opening the town');
  await p.locator(`section[aria-labelledby="plan-title"] ${tid('graph-node')}`).first().waitFor();

  // The plan editor: Enter on its button; its heading takes the focus.
  await k.tabTo(tid('plan-edit'));
  await p.keyboard.press('Enter');
  const ed = p.locator(tid('plan-editor'));
  await ed.locator(tid('editor-valid')).waitFor();
  await k.focusedIs('#editor-title', 'the editor opened');
  await k.tabTo(tid('plan-yaml'));
  // Tab indents there: the way out is said to whoever reaches the field (its description).
  const described = await p.evaluate(() =>
    (document.activeElement.getAttribute('aria-describedby') ?? '').split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? '').join(' '),
  );
  assert.match(described, /Escape then Tab leaves the text area/, `the text area's description: ${described}`);
  // Add a service that depends on the first (Tab in the text area indents).
  await p.keyboard.press('Control+End');
  await p.keyboard.type('\n  - id: paie\n    name: Payroll\n    criticality: essential\n    rto: 3d\n    rpo: 24h\n');
  await p.keyboard.press('Tab');
  await p.keyboard.press('Tab');
  await p.keyboard.type('depends_on: [fichiers]\n');
  assert.match(await ed.locator(tid('plan-yaml')).inputValue(), /\n {4}depends_on: \[fichiers\]\n$/, 'Tab did not indent in the text area');
  await ed.locator(tid('editor-pending-diff')).filter({ hasText: 'added: paie' }).waitFor();
  await ed.locator(tid('editor-valid')).filter({ hasText: '2 service(s) in 2 wave(s)' }).waitFor();
  // Escape, then Tab, leaves the text area: to the preview's graph nodes.
  await k.press('Escape');
  await k.press('Tab', 'Escape then Tab out of the text area');
  await k.focusedIs(`${tid('editor-graph')} ${tid('graph-node', { service: 'fichiers' })}`, 'Escape then Tab out of the text area');
  await k.press('Tab');
  await k.focusedIs(`${tid('editor-graph')} ${tid('graph-node', { service: 'paie' })}`, 'Tab to the second node');
  const paieName = await p.locator(':focus').ariaSnapshot();
  // paie has no backup source yet: flagged, which the name says too (the screen shows ⚠).
  assert.match(paieName, /img "Payroll \(paie\), Wave 2, depends on File server, flagged: a problem to fix"/, 'the node does not announce its name, wave, dependencies and flag');
  await k.tabTo(tid('editor-note'));
  await p.keyboard.type('payroll added from the keyboard');
  await k.press('Tab');
  await k.focusedIs(tid('editor-save'), 'Tab to save');
  await p.keyboard.press('Enter');
  await ed.locator(tid('editor-saved', { version: 2 })).waitFor();
  // Saving turns the button off: the focus must not fall back to the page.
  await k.focusedIs(`${tid('editor-saved')}, ${tid('plan-editor')} *`, 'after saving');
  await p.locator(`section[aria-labelledby="plan-title"] [data-testid="plan-graph"][data-nodes="2"]`).waitFor();
  await k.tabTo(tid('editor-close'), { back: true });
  await p.keyboard.press('Space');
  await ed.waitFor({ state: 'detached' });
  await k.focusedIs(tid('plan-edit'), 'the editor closed: back to its button');

  // The page's dependency graph: each node is a stop and says its name.
  const pageGraph = 'section[aria-labelledby="plan-title"]';
  await k.tabTo(`${pageGraph} ${tid('graph-node', { service: 'fichiers' })}`);
  assert.match(await p.locator(':focus').ariaSnapshot(), /img "File server \(fichiers\), Wave 1"/);
  await k.press('Tab');
  await k.focusedIs(`${pageGraph} ${tid('graph-node', { service: 'paie' })}`, 'Tab to the next node');
  assert.match(await p.locator(':focus').ariaSnapshot(), /img "Payroll \(paie\), Wave 2, depends on File server, flagged: a problem to fix"/);
  await k.press('Shift+Tab');
  await k.focusedIs(`${pageGraph} ${tid('graph-node', { service: 'fichiers' })}`, 'Shift+Tab back');

  // A drill's evidence: Space on its button.
  await k.tabTo(tid('drill-open'));
  await p.keyboard.press('Space');
  await p.locator(tid('drill-evidence')).waitFor();
  assert.equal(await p.locator(tid('drill-open')).getAttribute('aria-expanded'), 'true');
  assert.match(await p.locator(tid('drill-verified')).innerText(), /file\(s\)/);

  // The runbook: back up the page with Shift+Tab, Enter downloads it.
  await k.tabTo(tid('runbook-pdf'), { back: true });
  const [dl] = await Promise.all([p.waitForEvent('download'), p.keyboard.press('Enter')]);
  assert.equal(dl.suggestedFilename(), `runbook-${TOWN}-en.pdf`);
  const f = join(ART, 'runbook.pdf');
  await dl.saveAs(f);
  assert.equal(readFileSync(f).subarray(0, 4).toString('latin1'), '%PDF');

  assert.ok(seen.length > 20, `only ${seen.length} focus stops`);
  assert.deepEqual(problems, [], `focus problems:\n  ${problems.join('\n  ')}`);
});

step(
  'keyboard only: an alert opens with Enter; its close confirmation takes the focus, Escape or Cancel gives it back; closing the detail goes back to its link',
  async () => {
    const p = S.devices['dsi-k'].page;
    const seen = [];
    const problems = [];
    const k = keyboardKit(p, seen, problems);
    // The alert: Enter on its link, the detail's heading takes the focus.
    await k.tabTo(tid('alert-open'), { back: true });
    await p.keyboard.press('Enter');
    const detail = p.locator(tid('alert-detail'));
    await detail.locator(tid('alert-snapshot')).waitFor();
    await k.focusedIs('#alert-title', 'the alert opened');
    // The close confirmation takes the focus; Escape cancels it and gives the focus back.
    await k.tabTo(tid('alert-close-start'));
    await p.keyboard.press('Enter');
    await detail.locator(tid('alert-close-form')).waitFor();
    await k.focusedIs(tid('alert-close-note'), 'the confirmation opened');
    await p.keyboard.press('Escape');
    await detail.locator(tid('alert-close-form')).waitFor({ state: 'detached', timeout: 5_000 }).catch(() => undefined);
    assert.equal(await detail.locator(tid('alert-close-form')).count(), 0, 'Escape does not cancel the close confirmation');
    await k.focusedIs(tid('alert-close-start'), 'Escape in the confirmation');
    // Cancel with the keyboard gives the focus back too.
    await p.keyboard.press('Enter');
    await k.focusedIs(tid('alert-close-note'), 'the confirmation opened again');
    await k.tabTo(tid('alert-close-cancel'));
    await p.keyboard.press('Enter');
    await k.focusedIs(tid('alert-close-start'), 'Cancel in the confirmation');
    // Closing the detail goes back to the alert's link.
    await k.tabTo(tid('alert-close-detail'));
    await p.keyboard.press('Enter');
    await detail.waitFor({ state: 'detached' });
    await k.focusedIs(tid('alert-open'), 'the alert closed');
    assert.deepEqual(problems, [], `focus problems:\n  ${problems.join('\n  ')}`);
  },
  { soft: true }, // the later steps need only the session
);

step('French and English: the switch changes headings, buttons and <html lang>; no raw key; names, landmarks and headings on every page', async () => {
  const p = S.devices['dsi-k'].page;
  const problems = [];
  const words = () =>
    p.evaluate(() => ({
      lang: document.documentElement.lang,
      headings: [...document.querySelectorAll('h1, h2, h3, h4')].map((h) => h.textContent.trim()),
      buttons: [...document.querySelectorAll('button')].map((b) => b.textContent.trim()),
    }));
  const pages = [
    ['overview', async () => {
      await p.goto(`${S.srv.url}/console/#/`);
      await p.locator(tid('town-card', { tenant: TOWN })).waitFor();
    }],
    ['town page (drill evidence and alert open)', async () => {
      await p.goto(`${S.srv.url}/console/#/town/${TOWN}/alert/${await alertId(p)}`);
      await p.locator(tid('alert-snapshot')).waitFor();
      await p.locator(tid('drill-open')).press('Enter');
      await p.locator(tid('drill-evidence')).waitFor();
    }],
    ['plan editor', async () => {
      await p.goto(`${S.srv.url}/console/#/town/${TOWN}`);
      await p.locator(tid('plan-edit')).press('Enter');
      await p.locator(tid('editor-valid')).waitFor();
    }],
  ];
  const byLang = {};
  for (const lang of ['en', 'fr']) {
    for (const [where, open] of pages) {
      await open();
      await p.waitForFunction((l) => document.documentElement.lang === l, lang);
      problems.push(...(await audit(p, `${where} (${lang})`)));
      byLang[`${where}`] = [...(byLang[where] ?? []), await words()];
    }
    // The switch, from the keyboard.
    await p.locator(tid('lang-switch')).focus();
    await p.keyboard.press('Enter');
    await p.waitForFunction((l) => document.documentElement.lang === l, lang === 'en' ? 'fr' : 'en');
  }
  for (const [where, [en, fr]] of Object.entries(byLang)) {
    assert.equal(en.lang, 'en');
    assert.equal(fr.lang, 'fr');
    assert.notDeepEqual(en.headings, fr.headings, `${where}: the headings do not change with the language`);
    assert.notDeepEqual(en.buttons, fr.buttons, `${where}: the buttons do not change with the language`);
  }
  assert.ok(byLang.overview[1].headings.includes('Communes'), `French overview headings: ${byLang.overview[1].headings}`);
  assert.ok(byLang.overview[0].headings.includes('Towns'), `English overview headings: ${byLang.overview[0].headings}`);
  // The sign-in page, in both languages, in a fresh context.
  const s = await Device.open(S.browser, 'signin-page', S.srv.url, 'fr-FR');
  S.devices['signin-page'] = s;
  await s.page.goto(`${S.srv.url}/console/`);
  await s.page.locator(tid('login-form')).filter({ hasText: 'Connexion à la console' }).waitFor();
  problems.push(...(await audit(s.page, 'sign-in (fr)')));
  await s.page.locator(tid('lang-switch')).focus();
  await s.page.keyboard.press('Space');
  await s.page.locator(tid('login-form')).filter({ hasText: 'Sign in to the console' }).waitFor();
  assert.equal(await s.page.evaluate(() => document.documentElement.lang), 'en');
  problems.push(...(await audit(s.page, 'sign-in (en)')));
  assert.deepEqual(problems, [], `accessibility problems:\n  ${problems.join('\n  ')}`);
});

async function alertId(p) {
  return p.evaluate(async ({ town }) => {
    const s = JSON.parse(sessionStorage.getItem('rempart-session'));
    const r = await fetch(`/v1/overview`, { headers: { Authorization: `Bearer ${s.token}` } });
    const o = await r.json();
    return o.tenants.find((t) => t.tenant === town).alerts[0].id;
  }, { town: TOWN });
}

for (const [name, viewport] of [
  ['tablet-portrait', { width: 768, height: 1024 }],
  ['tablet-landscape', { width: 1024, height: 768 }],
  ['phone', { width: 390, height: 844 }],
]) {
  step(`touch, ${name} (${viewport.width}×${viewport.height}): no sideways scroll, tables scroll in their box, tap targets, tap navigates`, async () => {
    const d = await openTouch(name, viewport, name === 'phone' ? 'fr-FR' : 'en-US');
    const p = d.page;
    const problems = [];
    const layout = async (where) => {
      const r = await p.evaluate(touchLayout, viewport.width);
      assert.ok(r.targets > 3, `${where}: only ${r.targets} tap targets found`);
      if (process.env.BROWSER_E2E_SHOTS === '1') await p.screenshot({ path: join(ART, `shot-${name}-${where.replace(/\W+/g, '-')}.png`), fullPage: true });
      problems.push(...r.problems.map((x) => `${name}, ${where}: ${x}`));
    };
    await p.goto(`${S.srv.url}/console/#/`);
    await p.locator(tid('town-card', { tenant: TOWN })).waitFor();
    assert.equal(await p.evaluate(() => matchMedia('(pointer: coarse)').matches), true, 'not a touch layout');
    await layout('overview');
    // Tap navigates: the town, then the editor.
    await p.locator(`${tid('town-card', { tenant: TOWN })} ${tid('town-link')}`).tap();
    await p.locator(tid('town-page', { tenant: TOWN })).waitFor();
    await p.locator(`section[aria-labelledby="plan-title"] ${tid('graph-node')}`).first().waitFor();
    await p.locator(tid('drill-open')).tap();
    await p.locator(tid('drill-evidence')).waitFor();
    await p.locator(tid('alert-open')).tap();
    await p.locator(tid('alert-snapshot')).waitFor();
    await p.locator(tid('version-row')).first().waitFor();
    await p.locator(tid('audit-row')).first().waitFor();
    await layout('town page');
    await p.locator(tid('plan-edit')).tap();
    await p.locator(tid('editor-valid')).waitFor();
    await layout('plan editor');
    await p.locator(tid('editor-close')).tap();
    await p.locator(tid('plan-editor')).waitFor({ state: 'detached' });
    await p.locator(tid('nav-overview')).tap();
    await p.locator(tid('town-list')).waitFor();
    assert.equal(await p.locator(tid('town-page')).count(), 0, 'tapping the overview link did not leave the town');
    if (name === 'phone') {
      // The sign-in form too (no session in this context).
      const o = await openTouch('phone-signin', viewport, 'fr-FR', { signedIn: false });
      await o.page.goto(`${S.srv.url}/console/`);
      await o.page.locator(tid('login-form')).waitFor();
      const r = await o.page.evaluate(touchLayout, viewport.width);
      problems.push(...r.problems.map((x) => `${name}, sign-in: ${x}`));
      await o.ctx.close();
    }
    assert.deepEqual(problems, [], `touch layout problems:\n  ${problems.join('\n  ')}`);
  });
}

step('no request to another host, no error in the pages', async () => assertDevicesClean(S.devices), { always: true });

// The console's plan editor, drills and runbook, end to end, in Debian's
// chromium against a real `rempart server` (web/src/console/planeditor.tsx,
// drills.tsx; POST /v1/tenants/{t}/plan/check, drill-requests, drill-schedule):
//
//   a town with a backed-up machine and a one-service plan; its admin edits
//   the plan in the browser (adds a service that depends on the first), a
//   typo shows as an error on its line, the fix is checked valid and drawn,
//   the save shows what was added and the new version is in the history and
//   the graph; the town's auditor sees no editor; a drill run with the CLI on
//   the town's machine shows in the drills table with its evidence and in
//   the recovery order; the admin requests a drill from the console (a
//   warning says no machine picks drills up yet), the town's machine picks
//   it up with `drill run --requested`, the console shows it done with its
//   evidence and the new drill; a queued request is cancelled; drills are
//   scheduled every 7 days at 03:00; the auditor follows all that but may
//   not request, cancel or schedule; the runbook link downloads a PDF; the auditor
//   downloads the evidence report (CSV and PDF); a deleted canary opens an
//   alert that the auditor may read but not close, and that the admin
//   closes with a note.
//
// Run alone: cd e2e/browser && REMPART_BIN=../../bin/rempart node --test --test-concurrency=1 console-plan.test.mjs
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertDevicesClean, Device, launch, tid, until } from './lib/browser.mjs';
import { ADMIN_PASSWORD, checkWebApp, rempartBin, Server } from './lib/server.mjs';
import { steps } from './lib/steps.mjs';
import { consoleKit } from './lib/console.mjs';

const RUN = randomBytes(5).toString('hex');
const ART = join(process.env.BROWSER_E2E_ARTIFACTS || mkdtempSync(join(tmpdir(), 'rempart-browser-e2e-')), 'console-plan');
mkdirSync(ART, { recursive: true });

const REPO_PASSWORD = 'console plan e2e repository password';
const S = { srv: undefined, browser: undefined, devices: {}, accounts: {}, agents: {} };
const { step, run } = steps({ art: ART, devices: () => S.devices, server: () => S.srv, defaultTimeout: 90_000 });
const page = (name) => S.devices[name].page;

const { totp, nowStep, cli, cliOK, adminHome, account, machine, applyPlan } = consoleKit(S, { art: ART, run: RUN, repoPassword: REPO_PASSWORD });


/** Signs in through the console's form with a fresh one-time code (never a step already used). */
async function signIn(name) {
  const a = S.accounts[name];
  let step = nowStep();
  if (step <= a.lastStep) step = a.lastStep + 1;
  if (step > nowStep() + 1) throw new Error(`no fresh one-time code for ${name} before 30 s`);
  a.lastStep = step;
  const p = page(name);
  await p.fill(tid('login-user'), a.name);
  await p.fill(tid('login-password'), a.password);
  await p.fill(tid('login-totp'), totp(a.secret, step));
  await p.click(tid('login-submit'));
  await p.locator(tid('whoami')).waitFor();
}

const planC = (data) => `format: 1
title: Plan de continuité — mairie C
services:
  - id: fichiers
    name: File server
    criticality: essential
    rto: 1d
    rpo: 24h
    sources: [{host: fs-c, path: ${data}}]
`;

const nodesIn = (p, scope) =>
  p.$$eval(`${scope} [data-testid="graph-node"]`, (els) => els.map((e) => `${e.getAttribute('data-service')}@${e.getAttribute('data-column')}`));

before(
  async () => {
    console.log(`# console plan e2e: run ${RUN}; artifacts in ${ART}`);
    S.srv = new Server({ bin: rempartBin(), data: join(ART, 'data'), home: join(ART, 'home'), logFile: join(ART, 'server.log') });
    await S.srv.start();
    await checkWebApp(S.srv);
    S.browser = await launch();
  },
  { timeout: 120_000 },
);

after(
  async () => {
    for (const d of Object.values(S.devices)) writeFileSync(join(ART, `console-${d.name}.txt`), d.logs.join('\n') + '\n');
    await S.browser?.close().catch(() => undefined);
    await S.srv?.kill();
    if (!run.failures && !run.broken && process.env.BROWSER_E2E_KEEP !== '1') rmSync(ART, { recursive: true, force: true });
    else console.log(`# console plan e2e: artifacts kept in ${ART}`);
  },
  { timeout: 60_000 },
);

step(
  'a town is prepared with the CLI: its admin and auditor, a backed-up machine, a one-service plan',
  async () => {
    await cliOK(adminHome(), ['login', S.srv.url, '--user', 'admin', '--ca-fingerprint', S.srv.fp], { REMPART_LOGIN_PASSWORD: ADMIN_PASSWORD });
    await cliOK(adminHome(), ['tenant', 'create', 'mairie-c']);
    await account('dsi-c', 'tenant-admin', 'mairie-c');
    await account('audit-c', 'auditor', 'mairie-c');
    const m = await machine('fs-c', 'mairie-c');
    await cliOK(m.home, ['--json', 'backup', m.data], m.env);
    await applyPlan('mairie-c', planC(m.data));
  },
  { timeout: 240_000 },
);

step("the town's admin edits the plan: a typo shows on its line, the fix is drawn, saved, in the history and the graph", async () => {
  const d = (S.devices['dsi-c'] = await Device.open(S.browser, 'dsi-c', S.srv.url, 'en-US'));
  const p = d.page;
  await p.goto(`${S.srv.url}/console/`);
  await p.locator(tid('login-form')).waitFor();
  await signIn('dsi-c');
  await p.click(`${tid('town-card', { tenant: 'mairie-c' })} ${tid('town-link')}`);
  await p.locator(tid('town-page', { tenant: 'mairie-c' })).waitFor();
  await p.locator(tid('plan-graph')).waitFor();
  await p.click(tid('plan-edit'));
  const ed = p.locator(tid('plan-editor'));
  await ed.locator(tid('editor-valid')).waitFor();
  assert.equal(await ed.locator(tid('editor-base')).getAttribute('data-version'), '1');
  assert.equal(await ed.locator(tid('editor-save')).isDisabled(), true, 'save is on before any change');
  const base = await ed.locator(tid('plan-yaml')).inputValue();
  assert.match(base, /id: fichiers/);
  // A new service that depends on the first, with a misspelt field on line 15.
  const added = `  - id: paie
    name: Payroll
    criticality: essential
    rto: 3d
    rpo: 24h
    depend_on: [fichiers]
`;
  const typo = base.trimEnd() + '\n' + added;
  const typoLine = typo.split('\n').findIndex((l) => l.includes('depend_on')) + 1;
  await ed.locator(tid('plan-yaml')).fill(typo);
  await ed.locator(tid('editor-dirty')).waitFor();
  const err = ed.locator(tid('check-error', { line: typoLine }));
  await err.waitFor();
  assert.match(await err.innerText(), new RegExp(`Line ${typoLine}[\\s\\S]*unknown field "depend_on"`));
  assert.equal(await ed.locator(`.gutter [data-line="${typoLine}"]`).getAttribute('class'), 'err');
  assert.equal(await ed.locator(tid('editor-save')).isDisabled(), true, 'save is on with an error');
  // The error's line button puts the cursor on that line.
  await err.locator('button').click();
  const sel = await ed.locator(tid('plan-yaml')).evaluate((a) => a.value.slice(a.selectionStart, a.selectionEnd));
  assert.match(sel, /depend_on/);
  // Fixed: valid, the preview draws the new service in wave 2.
  await ed.locator(tid('plan-yaml')).fill(typo.replace('depend_on:', 'depends_on:'));
  await ed.locator(tid('editor-valid')).filter({ hasText: '2 service(s) in 2 wave(s)' }).waitFor();
  assert.deepEqual(await nodesIn(p, '[data-testid="editor-graph"]'), ['fichiers@0', 'paie@1']);
  await ed.locator(tid('editor-pending-diff')).filter({ hasText: 'added: paie' }).waitFor();
  await ed.locator(tid('editor-note')).fill('payroll added');
  await ed.locator(tid('editor-save')).click();
  const saved = ed.locator(tid('editor-saved', { version: 2 }));
  await saved.waitFor();
  assert.match(await saved.innerText(), /Version 2 saved[\s\S]*added: paie/);
  // The page's own graph and history follow.
  await p.locator(tid('version-row', { version: 2 })).filter({ hasText: 'payroll added' }).waitFor();
  await p.locator('section[aria-labelledby="plan-title"] [data-testid="plan-graph"][data-nodes="2"]').waitFor();
  assert.deepEqual(await nodesIn(p, 'section[aria-labelledby="plan-title"]'), ['fichiers@0', 'paie@1']);
  // On the server, too.
  const r = await cliOK(adminHome(), ['--json', 'plan', 'history', '--tenant', 'mairie-c']);
  assert.match(r.stdout, /payroll added/);
});

step("a conflict: a version saved meanwhile is shown, the editor reloads it", async () => {
  const p = page('dsi-c');
  const ed = p.locator(tid('plan-editor'));
  const text = await ed.locator(tid('plan-yaml')).inputValue();
  // The operator (admin) saves version 3 with the CLI.
  await applyPlan('mairie-c', text.replace('rto: 3d', 'rto: 2d'));
  await ed.locator(tid('plan-yaml')).fill(text.replace('title: Plan de continuité — mairie C', 'title: Plan — mairie C'));
  await ed.locator(tid('editor-valid')).waitFor();
  await ed.locator(tid('editor-save')).click();
  const c = ed.locator(tid('editor-conflict'));
  await c.waitFor();
  assert.match(await c.innerText(), /version 3 was saved by account:admin[\s\S]*changed: paie \(rto\)/);
  await c.locator(tid('editor-reload')).click();
  await c.waitFor({ state: 'detached' });
  assert.equal(await ed.locator(tid('editor-base')).getAttribute('data-version'), '3');
  assert.match(await ed.locator(tid('plan-yaml')).inputValue(), /rto: 2d/);
  await ed.locator(tid('editor-discarded')).waitFor();
  await p.click(tid('editor-close'));
  await ed.waitFor({ state: 'detached' });
});

step('the town’s auditor reads the plan but sees no editor', async () => {
  const d = (S.devices['audit-c'] = await Device.open(S.browser, 'audit-c', S.srv.url, 'en-US'));
  const p = d.page;
  await p.goto(`${S.srv.url}/console/`);
  await p.locator(tid('login-form')).waitFor();
  await signIn('audit-c');
  await p.click(`${tid('town-card', { tenant: 'mairie-c' })} ${tid('town-link')}`);
  await p.locator(tid('plan-graph')).waitFor();
  await p.locator(tid('version-row')).first().waitFor();
  assert.equal(await p.locator(tid('plan-edit')).count(), 0);
  assert.equal(await p.locator(tid('plan-editor')).count(), 0);
});

step('a drill run with the CLI on the town’s machine shows in the drills table, with its evidence', async () => {
  const m = S.agents['fs-c'];
  const r = await cliOK(m.home, ['drill', 'run', 'fichiers'], m.env);
  assert.match(r.stdout, /PASSED/);
  const p = page('audit-c');
  await p.locator(tid('drill-command')).filter({ hasText: 'rempart drill run fichiers' }).waitFor();
  await until('the drill in the table', async () => {
    await p.click(tid('refresh'));
    return (await p.locator(tid('drill-row', { service: 'fichiers', result: 'passed' })).count()) === 1;
  });
  await p.locator(tid('wave-drill', { result: 'passed' })).first().waitFor();
  const row = p.locator(tid('drill-row', { service: 'fichiers' }));
  assert.match(await row.innerText(), /passed[\s\S]*\/ 1d/);
  await row.locator(tid('drill-open')).click();
  const ev = p.locator(tid('drill-evidence'));
  await ev.waitFor();
  assert.match(await ev.locator(tid('drill-verified')).innerText(), /6 file\(s\)/);
  assert.match(await ev.innerText(), /fs-c:/);
  assert.match(await p.locator(tid('drill-never')).innerText(), /paie/);
});

/** With BROWSER_E2E_SHOTS=1: the drills section of who's page into ART, at 1100, 768 (tablet) and 390 px (phone). */
async function drillShot(who, label) {
  if (process.env.BROWSER_E2E_SHOTS !== '1') return;
  const p = page(who);
  const before = p.viewportSize();
  try {
    for (const width of [1100, 768, 390]) {
      await p.setViewportSize({ width, height: 900 });
      await p.locator(tid('drills')).screenshot({ path: join(ART, `shot-drills-${label}-${who}-${width}.png`) });
    }
  } finally {
    if (before) await p.setViewportSize(before);
  }
}

/** In the page: what makes it scroll sideways (outside the boxes that scroll on their own); [] when it does not. */
function wideElements() {
  const de = document.documentElement;
  if (de.scrollWidth <= de.clientWidth) return [];
  return [...document.querySelectorAll('main *, header *')]
    .filter((e) => e.getBoundingClientRect().right > de.clientWidth + 1 && (!e.closest('.table-scroll, .graph-scroll, .code-edit') || getComputedStyle(e).position === 'absolute'))
    .slice(0, 4)
    .map((e) => `<${e.tagName.toLowerCase()} class="${e.getAttribute('class') ?? ''}" data-testid="${e.getAttribute('data-testid') ?? ''}"> right ${Math.round(e.getBoundingClientRect().right)}`)
    .concat([`scrollWidth ${de.scrollWidth} > ${de.clientWidth}`]);
}

/** The server's view of mairie-c's requested drills (rempart drill requests --json, as the operator). */
async function serverRequests() {
  const r = await cliOK(adminHome(), ['--json', 'drill', 'requests', '--tenant', 'mairie-c']);
  return JSON.parse(r.stdout);
}

step('the town’s admin requests a drill from the console: it is queued, and a warning says what to set up on the town’s machine', async () => {
  const p = page('dsi-c');
  await p.click(tid('refresh'));
  const row = p.locator(tid('drill-row', { service: 'fichiers' }));
  await row.waitFor();
  S.firstDrill = await row.getAttribute('data-drill');
  // No machine picks requests up yet: the warning says what to run, and where.
  const warn = p.locator(tid('dq-runner-warning'));
  await warn.waitFor();
  assert.equal(await warn.getAttribute('role'), 'status');
  assert.equal(await warn.getAttribute('data-stale'), 'false');
  assert.match(await warn.innerText(), /No machine of the town picks up requested drills yet[\s\S]*REMPART_PASSWORD_FILE[\s\S]*docs\/drills\.md/);
  assert.equal((await warn.locator(tid('dq-runner-command')).innerText()).trim(), `rempart drill run --requested --watch --repo ${S.srv.url}/mairie-c`);
  await p.locator(tid('dq-none')).waitFor();
  await p.locator(tid('dq-schedule', { every: 0 })).filter({ hasText: 'No schedule' }).waitFor();
  // "Run a drill" asks first, in plain words; the keyboard confirms.
  await row.locator(tid('dq-run', { service: 'fichiers' })).click();
  const c = p.locator(tid('dq-confirm', { kind: 'run' }));
  await c.waitFor();
  assert.equal(
    await c.locator(tid('dq-confirm-what')).innerText(),
    'The town’s machine will restore the latest backup of File server into a scratch folder, check every byte and time it. Production data is not touched.',
  );
  await c.locator(tid('dq-confirm-wait')).waitFor();
  await until('the focus on the confirmation', async () => (await p.evaluate(() => document.activeElement?.getAttribute('data-testid'))) === 'dq-confirm-yes', 5_000);
  await p.keyboard.press('Enter');
  const req = p.locator(tid('dq-row', { service: 'fichiers', state: 'queued' }));
  await req.waitFor();
  await c.waitFor({ state: 'detached' });
  assert.match(await req.innerText(), /File server \(fichiers\)[\s\S]*queued[\s\S]*account:dsi-c/);
  await row.locator(tid('dq-run-pending', { service: 'fichiers' })).waitFor();
  assert.equal(await row.locator(tid('dq-run')).count(), 0, 'a second request is offered while one is open');
  await p.locator(tid('dq-said')).filter({ hasText: 'Drill of File server requested' }).waitFor({ state: 'attached' });
  await drillShot('dsi-c', 'queued');
  const sr = await serverRequests();
  assert.deepEqual(
    sr.requests.map((r) => [r.service, r.state, r.requested_by]),
    [['fichiers', 'queued', 'account:dsi-c']],
  );
  S.fichiersRequest = String(sr.requests[0].id);
});

step('the town’s machine picks the request up (drill run --requested): the console shows it done, its evidence, and the new drill', async () => {
  const m = S.agents['fs-c'];
  const r = await cliOK(m.home, ['drill', 'run', '--requested'], m.env);
  assert.match(r.stdout, /PASSED/);
  const p = page('dsi-c');
  // The page asks every 3 s while a request is open: no refresh needed.
  const done = p.locator(tid('dq-row', { request: S.fichiersRequest, state: 'done', result: 'passed' }));
  await done.waitFor({ timeout: 20_000 });
  assert.match(await done.locator(tid('dq-state')).innerText(), /done · passed/);
  const drillId = await done.locator(tid('dq-evidence')).getAttribute('data-drill');
  assert.ok(drillId && drillId !== S.firstDrill, `the request points at drill ${drillId}, the first drill was ${S.firstDrill}`);
  // The latest-drill table follows by itself.
  await p.locator(tid('drill-row', { service: 'fichiers', drill: drillId, result: 'passed' })).waitFor({ timeout: 10_000 });
  await p.locator(tid('wave-drill', { result: 'passed' })).first().waitFor();
  // Its evidence opens from the request.
  await done.locator(tid('dq-evidence')).click();
  assert.equal(await done.locator(tid('dq-evidence')).getAttribute('aria-expanded'), 'true');
  const ev = p.locator(tid('drill-evidence', { drill: drillId }));
  await ev.waitFor();
  assert.match(await ev.locator(tid('drill-verified')).innerText(), /6 file\(s\)/);
  assert.match(await ev.innerText(), /fs-c:/);
  await done.locator(tid('dq-evidence')).click();
  await ev.waitFor({ state: 'detached' });
  // The machine is now known: no warning, who runs drills instead.
  const runners = p.locator(tid('dq-runners'));
  await runners.waitFor();
  assert.match(await runners.innerText(), /^Drills are run by fs-c \(last asked \d+ s ago\)\.$/);
  assert.equal(await p.locator(tid('dq-runner-warning')).count(), 0);
  await p.locator(tid('dq-said')).filter({ hasText: 'Drill of File server done: passed.' }).waitFor({ state: 'attached' });
});

step('a drill in progress shows its phase and a progress bar; it turns done by itself', async () => {
  const m = S.agents['fs-c'];
  // A health check that takes a few seconds, so that the drill is seen running.
  await applyPlan(
    'mairie-c',
    planC(m.data).trimEnd() +
      `
    health_check: sleep 8
  - id: paie
    name: Payroll
    criticality: essential
    rto: 2d
    rpo: 24h
    depends_on: [fichiers]
`,
  );
  const p = page('dsi-c');
  await p.click(tid('refresh'));
  const row = p.locator(tid('drill-row', { service: 'fichiers' }));
  await row.locator(tid('dq-run', { service: 'fichiers' })).click();
  await p.locator(tid('dq-confirm', { kind: 'run' })).locator(tid('dq-confirm-yes')).click();
  const queued = p.locator(tid('dq-row', { service: 'fichiers', state: 'queued' }));
  await queued.waitFor();
  const id = await queued.getAttribute('data-request');
  const running = cli(m.home, ['drill', 'run', '--requested'], m.env);
  try {
    const r = p.locator(tid('dq-row', { request: id, state: 'running' }));
    await r.locator(tid('dq-progress', { phase: 'health check' })).waitFor({ timeout: 15_000 });
    assert.match(await r.innerText(), /running[\s\S]*health check[\s\S]*fs-c/);
    assert.equal(await r.locator('progress').getAttribute('aria-label'), 'Progress of the drill of File server');
    assert.equal(await r.locator(tid('dq-cancel')).count(), 1, 'no cancel button on a running drill');
  } finally {
    const done = await running;
    assert.equal(done.code, 0, done.stdout + done.stderr);
  }
  await p.locator(tid('dq-row', { request: id, state: 'done', result: 'passed' })).waitFor({ timeout: 15_000 });
});

step('a queued request is cancelled from the console, after a confirmation', async () => {
  const p = page('dsi-c');
  // paie has never been drilled: it is offered in the list of those.
  const item = p.locator(`${tid('dq-never-list')} li[data-service="paie"]`);
  await item.locator(tid('dq-run', { service: 'paie' })).click();
  const c = p.locator(tid('dq-confirm', { kind: 'run' }));
  await c.waitFor();
  assert.match(await c.locator(tid('dq-confirm-what')).innerText(), /latest backup of Payroll into a scratch folder/);
  await c.locator(tid('dq-confirm-yes')).click();
  const row = p.locator(tid('dq-row', { service: 'paie', state: 'queued' }));
  await row.waitFor();
  const id = await row.getAttribute('data-request');
  // Escape (as "Keep it") keeps it and gives the focus back; then cancel for real.
  await row.locator(tid('dq-cancel')).click();
  const k = p.locator(tid('dq-confirm', { kind: 'cancel' }));
  await k.waitFor();
  assert.match(await k.locator(tid('dq-confirm-what')).innerText(), /Cancel the requested drill of Payroll\? The request is withdrawn before any machine takes it\./);
  await until('the focus on “Keep it”', async () => (await p.evaluate(() => document.activeElement?.getAttribute('data-testid'))) === 'dq-confirm-no', 5_000);
  await drillShot('dsi-c', 'cancel-confirm');
  await p.keyboard.press('Escape');
  await k.waitFor({ state: 'detached' });
  await until('the focus back on the cancel button', async () => (await p.evaluate(() => document.activeElement?.getAttribute('data-testid'))) === 'dq-cancel', 5_000);
  await row.locator(tid('dq-cancel')).click();
  await k.locator(tid('dq-confirm-yes')).click();
  const gone = p.locator(tid('dq-row', { request: id, state: 'cancelled' }));
  await gone.waitFor();
  assert.match(await gone.innerText(), /cancelled[\s\S]*cancelled by account:dsi-c/);
  assert.equal(await gone.locator(tid('dq-cancel')).count(), 0);
  await item.locator(tid('dq-run', { service: 'paie' })).waitFor();
  const sr = await serverRequests();
  const got = sr.requests.find((r) => String(r.id) === id);
  assert.equal(got?.state, 'cancelled', JSON.stringify(sr.requests));
  assert.equal(got.cancelled_by, 'account:dsi-c');
});

step('the town’s admin schedules drills every 7 days at 03:00: shown with the next run', async () => {
  const p = page('dsi-c');
  const f = p.locator(tid('dq-schedule-form'));
  await f.waitFor();
  // A number of days out of range is refused before asking the server.
  await f.getByLabel('Every (days, 1 to 365)').fill('400');
  await f.locator(tid('dq-schedule-save')).click();
  await f.locator(tid('dq-schedule-error')).filter({ hasText: 'from 1 to 365' }).waitFor();
  assert.equal(await p.evaluate(() => document.activeElement?.id), 'dq-every');
  await f.getByLabel('Every (days, 1 to 365)').fill('7');
  await f.getByLabel('At (HH:MM, server time)').fill('03:00');
  await f.locator(tid('dq-schedule-save')).click();
  const sch = p.locator(tid('dq-schedule', { every: 7, at: '03:00' }));
  await sch.waitFor();
  await f.locator(tid('dq-schedule-error')).waitFor({ state: 'detached' });
  assert.match(await sch.innerText(), /^Every service is drilled every 7 day\(s\) at 03:00 \(server time, .+\); next: \d\d\/\d\d\/\d{4}, 03:00 \(set by account:dsi-c on /);
  const next = await sch.locator(tid('dq-schedule-next')).getAttribute('data-next');
  const ahead = Date.parse(next) - Date.now();
  assert.ok(ahead > 0 && ahead <= 86_400_000 + 3_600_000, `the next run ${next} is not within a day`);
  await f.locator(tid('dq-schedule-off')).waitFor();
  await drillShot('dsi-c', 'scheduled');
  // On a phone (390 px): no sideways scroll, and the section's controls are 44×44 at least.
  const before = p.viewportSize();
  await p.setViewportSize({ width: 390, height: 844 });
  try {
    await until('no sideways scroll at 390 px', () => p.evaluate(wideElements).then((w) => { if (w.length) throw new Error(w.join(", ")); return true; }), 5_000);
    const small = await p.$$eval(`${tid('drills')} button, ${tid('drills')} a.button, ${tid('drills')} input`, (els) =>
      els
        .map((e) => [e.getAttribute('data-testid'), e.getBoundingClientRect()])
        .filter(([, r]) => r.width > 0 && (r.width < 44 || r.height < 44))
        .map(([id, r]) => `${id} ${Math.round(r.width)}×${Math.round(r.height)}`),
    );
    assert.deepEqual(small, [], 'controls smaller than 44×44 on a phone');
  } finally {
    if (before) await p.setViewportSize(before);
  }
  const sr = await serverRequests();
  assert.equal(sr.schedule.every_days, 7);
  assert.equal(sr.schedule.at, '03:00');
  assert.equal(sr.schedule.updated_by, 'account:dsi-c');
});

step('the town’s auditor follows the requested drills and the schedule, with no Run, Cancel or schedule form; the section fits a tablet', async () => {
  const p = page('audit-c');
  await p.click(tid('refresh'));
  await p.locator(tid('dq-row', { request: S.fichiersRequest, state: 'done', result: 'passed' })).waitFor();
  await p.locator(tid('dq-row', { service: 'paie', state: 'cancelled' })).waitFor();
  await p.locator(tid('dq-schedule', { every: 7 })).waitFor({ timeout: 35_000 });
  await p.locator(tid('dq-runners')).waitFor();
  for (const id of ['dq-run', 'dq-run-all', 'dq-cancel', 'dq-schedule-form', 'dq-never-list']) {
    assert.equal(await p.locator(tid(id)).count(), 0, `the auditor is offered ${id}`);
  }
  // Reading the evidence is allowed.
  await p.locator(tid('dq-row', { request: S.fichiersRequest })).locator(tid('dq-evidence')).click();
  await p.locator(tid('drill-evidence')).first().waitFor();
  // A tablet (768 px): the page does not scroll sideways, the tables scroll in their box.
  const before = p.viewportSize();
  await p.setViewportSize({ width: 768, height: 1024 });
  try {
    await until('no sideways scroll at 768 px', () => p.evaluate(wideElements).then((w) => { if (w.length) throw new Error(w.join(", ")); return true; }), 5_000);
  } finally {
    if (before) await p.setViewportSize(before);
  }
});

step('the overview sums up the town’s drills: services drilled, none failing, the next scheduled drill', async () => {
  const p = page('audit-c');
  await p.click(tid('nav-overview'));
  const d = p.locator(`${tid('town-card', { tenant: 'mairie-c' })} ${tid('card-drills')}`);
  await d.waitFor();
  assert.equal(await d.getAttribute('data-failing'), '0');
  assert.match(await d.innerText(), /^\d+ of \d+ service\(s\) drilled, 0 failing · next scheduled drill: /);
  assert.equal(await p.locator(`${tid('town-card', { tenant: 'mairie-c' })} ${tid('card-drills-no-runner')}`).count(), 0, 'fs-c picks drills up');
  await p.click(`${tid('town-card', { tenant: 'mairie-c' })} ${tid('town-link')}`);
  await p.locator(tid('drills')).waitFor();
});

step('the runbook link downloads a PDF, in the console’s language', async () => {
  const p = page('audit-c');
  const [dl] = await Promise.all([p.waitForEvent('download'), p.click(tid('runbook-pdf'))]);
  assert.equal(dl.suggestedFilename(), 'runbook-mairie-c-en.pdf');
  const f = join(ART, 'runbook.pdf');
  await dl.saveAs(f);
  const b = readFileSync(f);
  assert.equal(b.subarray(0, 4).toString('latin1'), '%PDF');
  assert.ok(b.length > 1000, `runbook of ${b.length} bytes`);
});

step('the town’s auditor downloads the evidence report of the last 12 months, as CSV and PDF', async () => {
  const p = page('audit-c');
  const ev = p.locator(tid('evidence'));
  await ev.waitFor();
  const from = await ev.locator(tid('evidence-from')).inputValue();
  const to = await ev.locator(tid('evidence-to')).inputValue();
  const today = new Date().toISOString().slice(0, 10);
  assert.equal(to, today);
  assert.equal(from, `${Number(today.slice(0, 4)) - 1}${today.slice(4)}`);
  const [csv] = await Promise.all([p.waitForEvent('download'), ev.locator(tid('evidence-csv')).click()]);
  assert.equal(csv.suggestedFilename(), `evidence-mairie-c-${from}-${to}.csv`);
  const fc = join(ART, 'evidence.csv');
  await csv.saveAs(fc);
  const c = readFileSync(fc, 'utf8');
  assert.ok(c.startsWith('tenant,'), `the CSV starts with ${JSON.stringify(c.slice(0, 40))}`);
  assert.match(c, /\r\nmairie-c,/);
  const [pdf] = await Promise.all([p.waitForEvent('download'), ev.locator(tid('evidence-pdf')).click()]);
  assert.equal(pdf.suggestedFilename(), `evidence-mairie-c-${from}-${to}.pdf`);
  const fp = join(ART, 'evidence.pdf');
  await pdf.saveAs(fp);
  const b = readFileSync(fp);
  assert.equal(b.subarray(0, 4).toString('latin1'), '%PDF');
  // A reversed period is refused before asking the server.
  await ev.locator(tid('evidence-from')).fill(to);
  await ev.locator(tid('evidence-to')).fill(from);
  await ev.locator(tid('evidence-period-error')).waitFor();
  assert.equal(await ev.locator(tid('evidence-csv')).isDisabled(), true);
});

step('a canary deleted on fs-c opens an alert; the town’s auditor reads it but has no close button', async () => {
  const m = S.agents['fs-c'];
  await cliOK(m.home, ['canary', 'plant', m.data], m.env);
  await cliOK(m.home, ['--json', 'backup', m.data], m.env);
  const decoy = readdirSync(m.data).find((n) => /\.(xlsx|docx|odt|txt)$/.test(n));
  assert.ok(decoy, 'no decoy planted');
  unlinkSync(join(m.data, decoy));
  const r = await cli(m.home, ['--json', 'backup', m.data], m.env);
  assert.ok(r.code === 4 || r.code === 5, `backup after the canary was deleted: exit ${r.code}\n${r.stdout}${r.stderr}`);
  const p = page('audit-c');
  await until('the alert on the town page', async () => {
    await p.click(tid('refresh'));
    return (await p.locator(tid('alert-row')).count()) === 1;
  });
  await p.locator(tid('alert-open')).click();
  const detail = p.locator(tid('alert-detail'));
  await detail.locator(tid('alert-snapshot')).waitFor();
  assert.equal(await detail.locator(tid('alert-close-start')).count(), 0, 'the auditor is offered to close the alert');
});

step('the town’s admin closes the alert with a note: it leaves the open alerts', async () => {
  const p = page('dsi-c');
  await until('the alert on the town page', async () => {
    await p.click(tid('refresh'));
    return (await p.locator(tid('alert-row')).count()) === 1;
  });
  const id = await p.locator(tid('alert-row')).getAttribute('data-alert');
  await p.locator(tid('alert-open')).click();
  const detail = p.locator(tid('alert-detail', { alert: id }));
  await detail.locator(tid('alert-snapshot')).waitFor();
  await detail.locator(tid('alert-close-start')).click();
  const form = detail.locator(tid('alert-close-form'));
  assert.match(await form.locator(tid('alert-close-what')).innerText(), /retention unfreezes/);
  // Cancel, then again; a note is needed.
  await form.locator(tid('alert-close-cancel')).click();
  await form.waitFor({ state: 'detached' });
  await detail.locator(tid('alert-close-start')).click();
  await form.locator(tid('alert-close-confirm')).click();
  await form.locator(tid('alert-close-error')).filter({ hasText: 'Say in a note' }).waitFor();
  await form.locator(tid('alert-close-note')).fill('decoy deleted by the e2e test, nothing to restore');
  await form.locator(tid('alert-close-confirm')).click();
  await detail.locator(tid('alert-closed')).filter({ hasText: 'decoy deleted by the e2e test' }).waitFor();
  assert.equal(await detail.locator(tid('alert-close-start')).count(), 0);
  // The list follows without a refresh, and the server agrees.
  await p.locator(tid('alert-row')).waitFor({ state: 'detached' });
  const r = await cliOK(adminHome(), ['--json', 'alert', 'list', '--tenant', 'mairie-c', '--all']);
  const closed = JSON.parse(r.stdout).find((a) => String(a.id) === id);
  assert.equal(closed?.state, 'closed', r.stdout);
  assert.equal(closed.closed_by, 'account:dsi-c');
  assert.equal(closed.close_note, 'decoy deleted by the e2e test, nothing to restore');
});

step('no request to another host, no error in the pages', async () => assertDevicesClean(S.devices), { always: true });

// The web console, end to end, in Debian's chromium against a real
// `rempart server` (web/src/console, GET /v1/overview):
//
//   two towns prepared with the CLI (accounts with a second factor,
//   enrolled machines that back up, a continuity plan each; mairie-b's
//   water supervision has an RPO of one second, so its backup is soon too
//   old); the operator signs in with a one-time code and sees both towns,
//   mairie-a protected and mairie-b at risk, in English and in French; the
//   main actions are reached with Tab and show their focus; mairie-b's page
//   draws the dependency graph (one node per service, the stale one
//   flagged); mairie-a's admin sees only mairie-a; a canary file is
//   deleted on mairie-a's server, its next backup is suspect, the alert
//   shows up and is read; an invalid session goes back to the sign-in with
//   a message; nothing is requested from another host.
//
// Run alone: cd e2e/browser && REMPART_BIN=../../bin/rempart node --test --test-concurrency=1 console.test.mjs
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertDevicesClean, Device, launch, tid, until } from './lib/browser.mjs';
import { ADMIN_PASSWORD, fetchFromServer } from './lib/server.mjs';
import { endSuite, startBareServer, steps } from './lib/steps.mjs';
import { consoleKit } from './lib/console.mjs';

const RUN = randomBytes(5).toString('hex');
const ART = join(process.env.BROWSER_E2E_ARTIFACTS || mkdtempSync(join(tmpdir(), 'rempart-browser-e2e-')), 'console');
mkdirSync(ART, { recursive: true });

const REPO_PASSWORD = 'console e2e repository password';
const S = { srv: undefined, browser: undefined, devices: {}, accounts: {}, agents: {} };
const { step, run } = steps({ art: ART, devices: () => S.devices, server: () => S.srv, defaultTimeout: 90_000 });
const page = (name) => S.devices[name].page;

const { totp, nowStep, cli, cliOK, adminHome, account, machine, applyPlan } = consoleKit(S, { art: ART, run: RUN, repoPassword: REPO_PASSWORD });

const PLAN_A = `format: 1
title: Plan de continuité — mairie A
services:
  - id: annuaire
    name: Directory
    criticality: essential
    rto: 4h
    rpo: 24h
    sources: [{host: fs-a, path: /srv/annuaire}]
  - id: fichiers
    name: File server
    criticality: important
    rto: 1d
    rpo: 24h
    sources: [{host: fs-a, path: /srv/partages}]
    depends_on: [annuaire]
  - id: paie
    name: Payroll
    criticality: essential
    rto: 3d
    rpo: 24h
    sources: [{host: fs-a, path: /srv/paie}]
    depends_on: [annuaire, fichiers]
`;
const PLAN_B = `format: 1
title: Plan de continuité — mairie B
services:
  - id: eau
    name: Water supervision
    criticality: vital
    rto: 4h
    rpo: 1s
    sources: [{host: fs-b, path: /opt/supervision}]
  - id: etat-civil
    name: Civil registry
    criticality: vital
    rto: 1d
    rpo: 24h
    sources: [{host: fs-b, path: /srv/etat-civil}]
    depends_on: [eau]
`;

/** Signs in through the console's form with a fresh one-time code (never a step already used). */
async function signIn(name) {
  const a = S.accounts[name];
  let step = nowStep();
  if (step <= a.lastStep) step = a.lastStep + 1; // the server accepts the next step's code too
  if (step > nowStep() + 1) throw new Error(`no fresh one-time code for ${name} before 30 s`);
  a.lastStep = step;
  const p = page(name);
  await p.fill(tid('login-user'), a.name);
  await p.fill(tid('login-password'), a.password);
  await p.fill(tid('login-totp'), totp(a.secret, step));
  await p.click(tid('login-submit'));
  await p.locator(tid('whoami')).waitFor();
}

/** With BROWSER_E2E_SHOTS=1, a screenshot of a key screen in the artifacts folder. */
async function shot(name, file) {
  if (process.env.BROWSER_E2E_SHOTS === '1') await page(name).screenshot({ path: join(ART, `shot-${file}.png`), fullPage: true });
}

const cards = (p) =>
  p.$$eval('[data-testid="town-card"]', (els) => els.map((e) => `${e.getAttribute('data-tenant')}:${e.getAttribute('data-status')}`));

before(
  async () => {
    console.log(`# console e2e: run ${RUN}; artifacts in ${ART}`);
    S.srv = await startBareServer(ART);
    S.browser = await launch();
  },
  { timeout: 120_000 },
);

after(
  () => endSuite({ art: ART, label: 'console e2e', devices: S.devices, browser: S.browser, srv: S.srv, run }),
  { timeout: 60_000 },
);

step(
  'two towns are prepared with the CLI: accounts with a second factor, backed-up machines, a plan each',
  async () => {
    await cliOK(adminHome(), ['login', S.srv.url, '--user', 'admin', '--ca-fingerprint', S.srv.fp], { REMPART_LOGIN_PASSWORD: ADMIN_PASSWORD });
    for (const t of ['mairie-a', 'mairie-b']) await cliOK(adminHome(), ['tenant', 'create', t]);
    await account('exploitation', 'operator');
    await account('dsi-a', 'tenant-admin', 'mairie-a');
    const a = await machine('fs-a', 'mairie-a');
    const b = await machine('fs-b', 'mairie-b');
    // Decoys on fs-a: deleting one later makes a suspect backup.
    await cliOK(a.home, ['canary', 'plant', a.data], a.env);
    await cliOK(a.home, ['--json', 'backup', a.data], a.env);
    await cliOK(b.home, ['--json', 'backup', b.data], b.env);
    await applyPlan('mairie-a', PLAN_A);
    await applyPlan('mairie-b', PLAN_B);
    // The console's page is served with the strict CSP; / leads to it.
    const r = await fetchFromServer(S.srv, `${S.srv.url}/console/`);
    assert.equal(r.status, 200);
    assert.match(r.body, /<script type="module"[^>]+src="\/crisis\/assets\/console-/);
    assert.match(r.headers['content-security-policy'], /script-src 'self';/);
    assert.doesNotMatch(r.body, /<script>|<script type="module">/, 'no inline script');
    const home = await fetchFromServer(S.srv, `${S.srv.url}/`);
    assert.equal(home.status, 302);
    assert.equal(home.headers.location, '/console/');
    // mairie-b's water supervision (RPO 1 s) is now older than its RPO.
    await new Promise((res) => setTimeout(res, 1500));
  },
  { timeout: 240_000 },
);

step('the operator signs in with a one-time code and sees both towns with their status', async () => {
  const d = (S.devices.exploitation = await Device.open(S.browser, 'exploitation', S.srv.url, 'en-US'));
  const p = d.page;
  await p.goto(`${S.srv.url}/`);
  await p.locator(tid('login-form')).waitFor();
  assert.equal(new URL(p.url()).pathname, '/console/');
  // A wrong code is refused with a clear message.
  const a = S.accounts.exploitation;
  await p.fill(tid('login-user'), a.name);
  await p.fill(tid('login-password'), a.password);
  await p.fill(tid('login-totp'), '000000' === totp(a.secret, nowStep()) ? '111111' : '000000');
  await p.click(tid('login-submit'));
  await p.locator(tid('login-error')).filter({ hasText: 'one-time code' }).waitFor();
  await signIn('exploitation');
  await p.locator(tid('town-card')).nth(1).waitFor();
  assert.deepEqual((await cards(p)).sort(), ['mairie-a:protected', 'mairie-b:at_risk']);
  const b = p.locator(tid('town-card', { tenant: 'mairie-b' }));
  await b.locator('[data-reason="stale"]').filter({ hasText: '1 source(s) older than their RPO' }).waitFor();
  assert.equal(await b.locator(tid('town-status')).innerText().then((s) => s.includes('At risk')), true);
  assert.equal(await p.locator(tid('town-card', { tenant: 'mairie-a' })).locator(tid('town-status')).innerText().then((s) => s.includes('Protected')), true);
  assert.match(await p.locator(tid('towns-summary')).innerText(), /2 town\(s\): 1 protected, 1 at risk, 0 not protected/);
  await shot('exploitation', 'overview-en');
  // The token is in sessionStorage, never in localStorage.
  const stored = await p.evaluate(() => ({ s: sessionStorage.getItem('rempart-session'), l: JSON.stringify(localStorage) }));
  assert.match(stored.s, /"token":"/);
  assert.doesNotMatch(stored.l, /token/);
});

step('French and English both render', async () => {
  const p = page('exploitation');
  await p.click(tid('lang-switch'));
  await p.locator(tid('town-card', { tenant: 'mairie-b' })).locator(tid('town-status')).filter({ hasText: 'À risque' }).waitFor();
  await p.locator(tid('town-card', { tenant: 'mairie-a' })).locator(tid('town-status')).filter({ hasText: 'Protégée' }).waitFor();
  assert.match(await p.locator(tid('towns-summary')).innerText(), /2 commune\(s\) : 1 protégée\(s\), 1 à risque/);
  assert.equal(await p.evaluate(() => document.documentElement.lang), 'fr');
  await shot('exploitation', 'overview-fr');
  await p.click(tid('lang-switch'));
  await p.locator(tid('towns-summary')).filter({ hasText: '2 town(s)' }).waitFor();
  assert.equal(await p.evaluate(() => document.documentElement.lang), 'en');
});

step('keyboard: the main actions are reached with Tab and show a visible focus', async () => {
  const p = page('exploitation');
  await p.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined));
  const seen = new Map();
  for (let i = 0; i < 30; i++) {
    await p.keyboard.press('Tab');
    const f = await p.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return undefined;
      const cs = getComputedStyle(e);
      const card = e.closest('[data-testid="town-card"]');
      return {
        id: e.getAttribute('data-testid') + (card ? `:${card.getAttribute('data-tenant')}` : ''),
        visible: e.matches(':focus-visible') && cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2,
      };
    });
    if (f && !seen.has(f.id)) seen.set(f.id, f.visible);
  }
  for (const want of ['nav-overview', 'refresh', 'lang-switch', 'signout', 'town-link:mairie-a', 'town-link:mairie-b']) {
    assert.ok(seen.has(want), `${want} is not reached with Tab (reached: ${[...seen.keys()].join(', ')})`);
    assert.equal(seen.get(want), true, `${want} has no visible focus`);
  }
  // Enter on a focused town opens its page.
  await p.focus(`${tid('town-card', { tenant: 'mairie-b' })} ${tid('town-link')}`);
  await p.keyboard.press('Enter');
  await p.locator(tid('town-page', { tenant: 'mairie-b' })).waitFor();
});

step("a town's page: sources against their RPO, the recovery order and the dependency graph, one node per service", async () => {
  const p = page('exploitation');
  await p.locator(tid('source-row', { service: 'eau', status: 'stale' })).waitFor();
  await p.locator(tid('source-row', { service: 'etat-civil', status: 'ok' })).waitFor();
  await p.locator(tid('plan-graph')).waitFor();
  const nodes = await p.$$eval('[data-testid="graph-node"]', (els) => els.map((e) => `${e.getAttribute('data-service')}@${e.getAttribute('data-column')}:${e.getAttribute('data-flagged')}`));
  assert.deepEqual(nodes, ['eau@0:true', 'etat-civil@1:false']);
  const edges = await p.$$eval('[data-testid="graph-edge"]', (els) => els.map((e) => `${e.getAttribute('data-from')}>${e.getAttribute('data-to')}`));
  assert.deepEqual(edges, ['eau>etat-civil']);
  assert.equal(await p.locator(tid('wave')).count(), 2);
  await p.locator(tid('problem-row', { kind: 'snapshot_older_than_rpo' })).waitFor();
  // The SVG is drawn: nodes have a size on screen, inside the page.
  const box = await p.locator(tid('graph-node')).first().boundingBox();
  assert.ok(box && box.width > 100 && box.height > 30, `node box ${JSON.stringify(box)}`);
  // The audit trail's latest entries include the plan's saving.
  await p.locator(tid('audit-row', { action: 'plan.update' })).first().waitFor();
  assert.equal(await p.locator(tid('open-crisis')).getAttribute('href'), '/crisis/');
  await shot('exploitation', 'town-b');

  // mairie-a: three services in three waves.
  await p.click(tid('nav-overview'));
  await p.click(`${tid('town-card', { tenant: 'mairie-a' })} ${tid('town-link')}`);
  await p.locator(tid('town-page', { tenant: 'mairie-a' })).waitFor();
  await p.locator(tid('graph-node')).nth(2).waitFor();
  assert.equal(await p.locator(tid('graph-node')).count(), 3);
  assert.equal(await p.locator(tid('graph-edge')).count(), 3);
  assert.equal(await p.locator(tid('plan-graph')).getAttribute('data-nodes'), '3');

  // On a tablet (768 × 1024, portrait): the page does not scroll sideways;
  // the graph fits or scrolls inside its own box.
  await p.setViewportSize({ width: 768, height: 1024 });
  const fit = await p.evaluate(() => {
    const box = document.querySelector('[data-testid="plan-graph-box"]').getBoundingClientRect();
    const el = document.querySelector('[data-testid="plan-graph-box"]');
    return { page: document.documentElement.scrollWidth, view: window.innerWidth, boxRight: box.right, graph: el.scrollWidth, inner: el.clientWidth };
  });
  assert.ok(fit.page <= fit.view, `the page scrolls sideways on a tablet: ${JSON.stringify(fit)}`);
  assert.ok(fit.boxRight <= fit.view, `the graph's box overflows: ${JSON.stringify(fit)}`);
  assert.ok(fit.graph <= fit.inner, `three waves do not fit a tablet's width: ${JSON.stringify(fit)}`);
  await shot('exploitation', 'town-a-tablet');
  await p.setViewportSize({ width: 1100, height: 900 });
});

step("mairie-a's admin signs in and sees only mairie-a, in French", async () => {
  const d = (S.devices['dsi-a'] = await Device.open(S.browser, 'dsi-a', S.srv.url, 'fr-FR'));
  const p = d.page;
  await p.goto(`${S.srv.url}/console/`);
  await p.locator(tid('login-form')).filter({ hasText: 'Connexion à la console' }).waitFor();
  await signIn('dsi-a');
  await p.locator(tid('town-card')).first().waitFor();
  assert.deepEqual(await cards(p), ['mairie-a:protected']);
  assert.equal((await p.locator('body').innerText()).includes('mairie-b'), false, 'mairie-b shows on the page of mairie-a’s admin');
  await p.locator(tid('town-status')).filter({ hasText: 'Protégée' }).waitFor();
  // Even typed in the address bar, another town is not shown.
  await p.goto(`${S.srv.url}/console/#/town/mairie-b`);
  await p.locator('main').filter({ hasText: 'Commune inconnue ou inaccessible : mairie-b' }).waitFor();
});

step('a canary deleted on fs-a: the suspect backup opens an alert, which the admin opens and reads', async () => {
  const a = S.agents['fs-a'];
  const decoy = readdirSync(a.data).find((n) => /\.(xlsx|docx|odt|txt)$/.test(n));
  assert.ok(decoy, 'no decoy planted');
  unlinkSync(join(a.data, decoy));
  const r = await cli(a.home, ['--json', 'backup', a.data], a.env);
  assert.ok(r.code === 4 || r.code === 5, `backup after the canary was deleted: exit ${r.code}\n${r.stdout}${r.stderr}`);
  const p = page('dsi-a');
  await p.goto(`${S.srv.url}/console/#/`);
  await until('the alert in the overview', async () => {
    await p.click(tid('refresh'));
    return (await cards(p))[0] === 'mairie-a:at_risk';
  });
  await p.locator(tid('town-card', { tenant: 'mairie-a' })).locator('[data-reason="suspect"]').waitFor();
  await p.click(`${tid('town-card', { tenant: 'mairie-a' })} ${tid('town-link')}`);
  const row = p.locator(tid('alert-row')).first();
  await row.waitFor();
  // Opened from the keyboard.
  await row.locator(tid('alert-open')).focus();
  await p.keyboard.press('Enter');
  const detail = p.locator(tid('alert-detail'));
  await detail.waitFor();
  await detail.locator(tid('alert-verdict')).filter({ hasText: /suspecte|infectée/ }).waitFor();
  assert.equal(await detail.locator(tid('alert-host')).innerText(), 'fs-a');
  assert.match(await detail.locator(tid('alert-snapshot')).innerText(), /^[0-9a-f]{64}$/);
  assert.match(await detail.locator(tid('alert-clean')).innerText(), /^[0-9a-f]{64} \(/);
  assert.match(await detail.locator(tid('alert-next')).innerText(), /rempart restore [0-9a-f]{12}/);
  await shot('dsi-a', 'alert-fr');
  await p.click(tid('alert-close-detail'));
  await detail.waitFor({ state: 'detached' });
});

step('an invalid or expired session goes back to the sign-in with a clear message', async () => {
  const p = page('dsi-a');
  await p.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('rempart-session'));
    s.token = 'rpt_' + 'x'.repeat(40);
    sessionStorage.setItem('rempart-session', JSON.stringify(s));
  });
  await p.reload();
  await p.locator(tid('session-expired')).filter({ hasText: 'Votre session a expiré' }).waitFor();
  assert.equal(await p.evaluate(() => sessionStorage.getItem('rempart-session')), null);
  // Signing out also ends the page's session.
  const o = page('exploitation');
  await o.click(tid('signout'));
  await o.locator(tid('signed-out')).waitFor();
  assert.equal(await o.evaluate(() => sessionStorage.getItem('rempart-session')), null);
});

step('the crisis room still opens at /crisis/', async () => {
  const p = page('exploitation');
  await p.goto(`${S.srv.url}/crisis/`);
  await p.locator(tid('room-list')).waitFor();
});

step('no request to another host, no error in the pages', async () => assertDevicesClean(S.devices), { always: true });

// The console's account pages, end to end, in Debian's chromium against a
// real `rempart server` (web/src/console/accounts.tsx and me.tsx, the
// /v1/accounts and /v1/account API):
//
//   the operator creates a town auditor from the Accounts page and reads
//   its one-time password; the auditor signs in with it in another browser
//   context, sees no Accounts link, turns on the second factor under "My
//   account" (QR code and secret shown, code computed from the secret),
//   signs out and in again with password + code; a town admin sees only
//   the accounts of their town and cannot pick the operator role; the
//   operator resets the auditor's password (the old one is refused, the new
//   one works; the auditor then changes it under "My account"), resets its
//   second factor and disables it (sign-in refused with the server's message);
//   `rempart account list` confirms each change; the page fits a 390-px phone.
//
// Run alone: cd e2e/browser && REMPART_BIN=../../bin/rempart node --test --test-concurrency=1 console-accounts.test.mjs
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertDevicesClean, Device, launch, tid } from './lib/browser.mjs';
import { ADMIN_PASSWORD } from './lib/server.mjs';
import { endSuite, startBareServer, steps } from './lib/steps.mjs';
import { consoleKit } from './lib/console.mjs';

const RUN = randomBytes(5).toString('hex');
const ART = join(process.env.BROWSER_E2E_ARTIFACTS || mkdtempSync(join(tmpdir(), 'rempart-browser-e2e-')), 'console-accounts');
mkdirSync(ART, { recursive: true });

const S = { srv: undefined, browser: undefined, devices: {}, accounts: {}, agents: {} };
const { step, run } = steps({ art: ART, devices: () => S.devices, server: () => S.srv, defaultTimeout: 60_000 });
const page = (name) => S.devices[name].page;
const { totp, nowStep, cliOK, adminHome, account } = consoleKit(S, { art: ART, run: RUN, repoPassword: 'unused' });

const AUDITOR = 'auditeur-a';

/** A fresh one-time code of an account (never a step already used to sign in). */
function freshCode(a) {
  let s = nowStep();
  if (s <= a.lastStep) s = a.lastStep + 1; // the server accepts the next step's code too
  if (s > nowStep() + 1) throw new Error(`no fresh one-time code for ${a.name} before 30 s`);
  a.lastStep = s;
  return totp(a.secret, s);
}

/**
 * Fills the console's sign-in form of a device as an account (a code when it
 * has a secret); does not wait. refused: the server refuses the password
 * before it reads the code, so the code's step stays free for the next try.
 */
async function fillSignIn(p, a, { refused = false } = {}) {
  await p.fill(tid('login-user'), a.name);
  await p.fill(tid('login-password'), a.password);
  const code = !a.secret ? '' : refused ? totp(a.secret, Math.max(nowStep(), a.lastStep + 1)) : freshCode(a);
  await p.fill(tid('login-totp'), code);
  await p.click(tid('login-submit'));
}

async function signIn(device, name) {
  const p = page(device);
  await fillSignIn(p, S.accounts[name]);
  await p.locator(tid('whoami')).waitFor();
}

/** The server's list of accounts, through the CLI (the operator's). */
async function listed(name) {
  const list = JSON.parse((await cliOK(adminHome(), ['--json', 'account', 'list'])).stdout);
  return list.find((a) => a.username === name);
}

before(
  async () => {
    console.log(`# console accounts e2e: run ${RUN}; artifacts in ${ART}`);
    S.srv = await startBareServer(ART);
    S.browser = await launch();
  },
  { timeout: 120_000 },
);

after(() => endSuite({ art: ART, label: 'console accounts e2e', devices: S.devices, browser: S.browser, srv: S.srv, run }), { timeout: 60_000 });

step(
  'two towns and their accounts are prepared with the CLI',
  async () => {
    await cliOK(adminHome(), ['login', S.srv.url, '--user', 'admin', '--ca-fingerprint', S.srv.fp], { REMPART_LOGIN_PASSWORD: ADMIN_PASSWORD });
    for (const t of ['mairie-a', 'mairie-b']) await cliOK(adminHome(), ['tenant', 'create', t]);
    await account('exploitation', 'operator');
    await account('dsi-a', 'tenant-admin', 'mairie-a');
    await cliOK(adminHome(), ['account', 'create', 'dsi-b', '--role', 'tenant-admin', '--tenant', 'mairie-b'], { REMPART_NEW_PASSWORD: `dsi-b password ${RUN}` });
  },
  { timeout: 120_000 },
);

step('the operator creates a town auditor from the Accounts page and reads its one-time password', async () => {
  const d = (S.devices.exploitation = await Device.open(S.browser, 'exploitation', S.srv.url, 'en-US'));
  const p = d.page;
  await p.goto(`${S.srv.url}/console/`);
  await signIn('exploitation', 'exploitation');
  await p.click(tid('nav-accounts'));
  await p.locator(tid('accounts-page')).waitFor();
  assert.equal(await p.getAttribute(tid('nav-accounts'), 'aria-current'), 'page');
  await p.locator(tid('acct-row', { user: 'dsi-b' })).waitFor();
  // The operator may create every role, the operator included.
  const roles = await p.$$eval(`${tid('acct-role')} option`, (os) => os.map((o) => o.value));
  assert.deepEqual(roles.sort(), ['auditor', 'coordinator', 'operator', 'tenant_admin']);
  // No action on oneself.
  assert.equal(await p.locator(`${tid('acct-row', { user: 'exploitation' })} button`).count(), 0);
  // A town admin needs a town: no "none" then; an auditor may have none.
  await p.selectOption(tid('acct-role'), 'tenant_admin');
  assert.equal(await p.locator(`${tid('acct-town')} option[value=""]`).count(), 0);
  await p.selectOption(tid('acct-role'), 'operator');
  assert.equal(await p.locator(tid('acct-town')).count(), 0, 'an operator belongs to no town');
  await p.selectOption(tid('acct-role'), 'auditor');
  await p.locator(`${tid('acct-town')} option[value=""]`).waitFor({ state: 'attached' });
  // The server's refusal is shown as text: an invalid name.
  await p.fill(tid('acct-user'), 'Not A Name!');
  await p.selectOption(tid('acct-town'), 'mairie-a');
  await p.click(tid('acct-create-submit'));
  await p.locator(tid('acct-create-error')).filter({ hasText: 'invalid user name' }).waitFor();
  await p.fill(tid('acct-user'), AUDITOR);
  await p.click(tid('acct-create-submit'));
  const pw = p.locator(tid('acct-password'));
  await pw.waitFor();
  const password = await pw.inputValue();
  assert.match(password, /^[A-Za-z0-9_-]{24}$/);
  // The focus is on the password shown once, with the advice to hand it over in person.
  assert.equal(await p.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'acct-password');
  await p.locator(tid('acct-password-box')).filter({ hasText: 'in person' }).filter({ hasText: 'second factor' }).waitFor();
  await p.locator(tid('acct-row', { user: AUDITOR, role: 'auditor', totp: 'off', disabled: 'no' })).waitFor();
  S.accounts[AUDITOR] = { name: AUDITOR, password, secret: '', lastStep: 0 };
  const a = await listed(AUDITOR);
  assert.equal(a?.role, 'auditor');
  assert.equal(a?.tenant, 'mairie-a');
  assert.equal(a?.totp_enabled, false);
  // Hidden: the password is gone from the page.
  await p.click(tid('acct-password-hide'));
  await pw.waitFor({ state: 'detached' });

  // A phone (390 px): no sideways scroll, the table scrolls in its box.
  await p.setViewportSize({ width: 390, height: 844 });
  const fit = await p.evaluate(() => ({ page: document.documentElement.scrollWidth, view: innerWidth }));
  assert.ok(fit.page <= fit.view, `the accounts page scrolls sideways at 390 px: ${JSON.stringify(fit)}`);
  const small = await p.evaluate(() =>
    [...document.querySelectorAll('header .console-nav a, header a.whoami, header button, main button, main input, main select')]
      .filter((e) => !e.closest('.sr-only') && e.getBoundingClientRect().width > 0)
      .filter((e) => e.getBoundingClientRect().width < 44 || e.getBoundingClientRect().height < 44)
      .map((e) => `${e.getAttribute('data-testid')} ${Math.round(e.getBoundingClientRect().width)}×${Math.round(e.getBoundingClientRect().height)}`),
  );
  assert.deepEqual(small, [], 'targets smaller than 44×44 at 390 px');
  if (process.env.BROWSER_E2E_SHOTS === '1') await p.screenshot({ path: join(ART, 'shot-accounts-phone.png'), fullPage: true });
  await p.setViewportSize({ width: 1100, height: 900 });
});

step('the auditor signs in with it, has no Accounts link, and turns on the second factor under "My account"', async () => {
  const d = (S.devices[AUDITOR] = await Device.open(S.browser, AUDITOR, S.srv.url, 'fr-FR'));
  const p = d.page;
  await p.goto(`${S.srv.url}/console/`);
  await signIn(AUDITOR, AUDITOR);
  assert.equal(await p.locator(tid('nav-accounts')).count(), 0, 'an auditor sees an Accounts link');
  await p.click(tid('whoami'));
  await p.locator(tid('me-page')).waitFor();
  await p.locator(tid('me-totp', { state: 'off' })).waitFor();
  await p.click(tid('me-totp-start'));
  await p.locator(tid('me-totp-qr')).waitFor();
  const uri = await p.getAttribute(tid('me-totp-qr'), 'data-content');
  const secret = await p.getAttribute(tid('me-totp-secret'), 'data-secret');
  assert.match(uri, /^otpauth:\/\/totp\//);
  assert.ok(uri.includes(`secret=${secret}`), `${uri} does not carry the secret shown`);
  assert.equal((await p.inputValue(tid('me-totp-secret'))).replace(/\s+/g, ''), secret);
  // A wrong code: the server's message, the factor stays off.
  const a = S.accounts[AUDITOR];
  a.secret = secret;
  const good = totp(secret, nowStep());
  await p.fill(tid('me-totp-code'), good === '123456' ? '654321' : '123456');
  await p.click(tid('me-totp-confirm'));
  await p.locator(tid('me-totp-error')).filter({ hasText: 'does not match' }).waitFor();
  await p.fill(tid('me-totp-code'), totp(secret, nowStep()));
  await p.click(tid('me-totp-confirm'));
  await p.locator(tid('me-totp-done')).waitFor();
  await p.locator(tid('me-totp', { state: 'on' })).waitFor();
  assert.equal(await p.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'me-totp-done');
  assert.equal((await listed(AUDITOR))?.totp_enabled, true);

  // Signed out, the password alone is refused; password and code work.
  await p.click(tid('signout'));
  await p.locator(tid('signed-out')).waitFor();
  await p.fill(tid('login-user'), AUDITOR);
  await p.fill(tid('login-password'), a.password);
  await p.click(tid('login-submit'));
  await p.locator(tid('login-error')).filter({ hasText: 'code' }).waitFor();
  await signIn(AUDITOR, AUDITOR);
  await p.locator(tid('whoami')).waitFor();
});

step("a town admin sees only their town's accounts and cannot pick the operator role", async () => {
  const d = (S.devices['dsi-a'] = await Device.open(S.browser, 'dsi-a', S.srv.url, 'en-US'));
  const p = d.page;
  await p.goto(`${S.srv.url}/console/`);
  await signIn('dsi-a', 'dsi-a');
  await p.click(tid('nav-accounts'));
  await p.locator(tid('acct-row', { user: AUDITOR })).waitFor();
  const users = await p.$$eval(tid('acct-row'), (rs) => rs.map((r) => r.getAttribute('data-user')).sort());
  assert.deepEqual(users, [AUDITOR, 'dsi-a']);
  const roles = await p.$$eval(`${tid('acct-role')} option`, (os) => os.map((o) => o.value));
  assert.deepEqual(roles.sort(), ['auditor', 'tenant_admin']);
  assert.equal(await p.locator(tid('acct-town')).count(), 0);
  await p.locator(tid('acct-town-fixed')).filter({ hasText: 'mairie-a' }).waitFor();
  // Only an operator resets a second factor.
  assert.equal(await p.locator(tid('acct-reset-totp')).count(), 0);
});

step("the operator resets the auditor's password: the old one is refused, the new one works", async () => {
  const p = page('exploitation');
  const row = p.locator(tid('acct-row', { user: AUDITOR }));
  await row.locator(tid('acct-reset-pw')).click();
  await p.locator(tid('acct-confirm', { kind: 'reset_pw' })).waitFor();
  assert.equal(await p.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'acct-confirm-no');
  // Escape answers no; the focus goes back to the row's button.
  await p.keyboard.press('Escape');
  await p.locator(tid('acct-confirm')).waitFor({ state: 'detached' });
  await p.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'acct-reset-pw');
  await row.locator(tid('acct-reset-pw')).click();
  await p.click(tid('acct-confirm-yes'));
  const np = p.locator(tid('acct-new-password'));
  await np.waitFor();
  const fresh = await np.inputValue();
  const a = S.accounts[AUDITOR];
  assert.notEqual(fresh, a.password);
  assert.equal(await p.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'acct-new-password');

  // The auditor's session ended with the reset: back to the sign-in.
  const q = page(AUDITOR);
  await q.reload();
  await q.locator(tid('session-expired')).waitFor();
  await fillSignIn(q, a, { refused: true });
  await q.locator(tid('login-error')).waitFor();
  a.password = fresh;
  await signIn(AUDITOR, AUDITOR);

  // Under "My account", the auditor changes the drawn password: the two
  // new ones must match, the server checks the current one.
  await q.click(tid('whoami'));
  await q.locator(tid('me-page')).waitFor();
  const mine = `auditor's own password ${RUN}`;
  await q.fill(tid('me-pw-old'), 'not the password');
  await q.fill(tid('me-pw-new'), mine);
  await q.fill(tid('me-pw-new2'), `${mine}!`);
  await q.click(tid('me-pw-submit'));
  await q.locator(tid('me-pw-error')).filter({ hasText: 'diffèrent' }).waitFor();
  await q.fill(tid('me-pw-new2'), mine);
  await q.click(tid('me-pw-submit'));
  await q.locator(tid('me-pw-error')).filter({ hasText: 'current password is wrong' }).waitFor();
  await q.fill(tid('me-pw-old'), fresh);
  await q.click(tid('me-pw-submit'));
  await q.locator(tid('me-pw-done')).waitFor();
  a.password = mine;
  await q.click(tid('signout'));
  await q.locator(tid('signed-out')).waitFor();
});

step("the operator resets the auditor's second factor (a lost phone)", async () => {
  const p = page('exploitation');
  await p.locator(tid('acct-new-password-hide')).click();
  await p.locator(tid('acct-row', { user: AUDITOR, totp: 'on' })).locator(tid('acct-reset-totp')).click();
  await p.locator(tid('acct-confirm', { kind: 'reset_totp' })).waitFor();
  await p.click(tid('acct-confirm-yes'));
  await p.locator(tid('acct-result-text')).filter({ hasText: 'second factor' }).waitFor();
  await p.locator(tid('acct-row', { user: AUDITOR, totp: 'off' })).waitFor();
  assert.equal((await listed(AUDITOR))?.totp_enabled, false);
  S.accounts[AUDITOR].secret = '';
});

step('the operator disables the auditor: sign-in refused with the server’s message', async () => {
  const p = page('exploitation');
  await p.locator(tid('acct-row', { user: AUDITOR })).locator(tid('acct-disable')).click();
  await p.locator(tid('acct-confirm-what')).filter({ hasText: 'API tokens' }).waitFor();
  await p.click(tid('acct-confirm-yes'));
  await p.locator(tid('acct-result-text')).filter({ hasText: 'disabled' }).waitFor();
  await p.locator(tid('acct-row', { user: AUDITOR, disabled: 'yes' })).waitFor();
  // A disabled account offers only "Enable (new password)".
  assert.deepEqual(
    await p.locator(`${tid('acct-row', { user: AUDITOR })} button`).evaluateAll((bs) => bs.map((b) => b.getAttribute('data-testid'))),
    ['acct-enable'],
  );
  assert.equal((await listed(AUDITOR))?.disabled, true);
  // The auditor signed in earlier: its last sign-in is shown.
  assert.notEqual(await p.locator(tid('acct-row', { user: AUDITOR })).locator(tid('acct-last-login')).innerText(), 'never');

  const q = page(AUDITOR);
  await fillSignIn(q, S.accounts[AUDITOR], { refused: true });
  await q.locator(tid('login-error')).filter({ hasText: 'désactivé' }).waitFor();
  assert.equal(await q.locator(tid('whoami')).count(), 0);
});

step('the operator enables the auditor again: a new password, shown once; the one from before is refused', async () => {
  const p = page('exploitation');
  await p.locator(tid('acct-row', { user: AUDITOR })).locator(tid('acct-enable')).click();
  await p.locator(tid('acct-confirm-what')).filter({ hasText: 'no longer works' }).waitFor();
  await p.click(tid('acct-confirm-yes'));
  const np = p.locator(tid('acct-new-password'));
  await np.waitFor();
  const fresh = await np.inputValue();
  const a = S.accounts[AUDITOR];
  assert.ok(fresh.length >= 12 && fresh !== a.password, 'a new generated password');
  await p.locator(tid('acct-row', { user: AUDITOR, disabled: 'no' })).waitFor();
  assert.equal((await listed(AUDITOR))?.disabled, false);
  const q = page(AUDITOR);
  await q.fill(tid('login-user'), a.name);
  await q.fill(tid('login-password'), a.password);
  await q.click(tid('login-submit'));
  await q.locator(tid('login-error')).waitFor();
  a.password = fresh;
  await signIn(AUDITOR, AUDITOR);
});

step('no request to another host, no error in the pages', async () => assertDevicesClean(S.devices), { always: true });

// Crisis room, end to end, in Debian's chromium against a real
// `rempart server` (issue 4, "Tests that must exist and run in CI"):
//
//   a coordinator signs in and creates a room, invites three members, who
//   join from their own devices (browser contexts); the coordinator compares
//   each safety number and admits them; a replayed invitation is refused;
//   they chat (with an attachment) and keep the logbook, each seeing the
//   others' entries verified; the coordinator removes one member, who sees
//   the notice and cannot decrypt anything written after; the logbook export
//   verifies (Markdown and PDF); an entry altered on the server's disk is
//   named by the exports of the members who catch up; and the server's data
//   folder holds none of the plaintext typed in the browsers.
//
// The steps share one server and one room, so they run in order; a main
// step that fails makes the later ones skip (they need its state); a side
// check marked `soft` does not, and those marked `always` run anyway
// (plaintext on disk, requests to other hosts, uncaught errors).
// Screenshots, console logs and the server log of a failure are left in the
// folder printed at the start ($BROWSER_E2E_ARTIFACTS).
//
// Run: bash scripts/browser-e2e.sh (builds what is needed, installs chromium).
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device, launch, tid, until } from './lib/browser.mjs';
import { scan } from './lib/plaintext.mjs';
import { checkWebApp, createCoordinator, rempartBin, Server, tamper } from './lib/server.mjs';
import { steps } from './lib/steps.mjs';

const RUN = randomBytes(5).toString('hex'); // makes every typed string unique to this run
const ART = join(process.env.BROWSER_E2E_ARTIFACTS || mkdtempSync(join(tmpdir(), 'rempart-browser-e2e-')), 'crisis-room');
mkdirSync(ART, { recursive: true });

// Everything typed into a browser that the server must never see in clear.
// (Display names are visible to the server by design: docs/crisis-e2ee.md.)
const secrets = [];
const secret = (s) => (secrets.push(s), s);

const S = {
  srv: undefined,
  browser: undefined,
  coordAccount: undefined,
  devices: {}, // name -> Device
  room: '',
  links: [],
  members: {}, // name -> {id, safety}
  removalEpoch: 0,
  before: [], // raw events written before the removal (epoch 1)
  lastExportMd: '',
};

const COORD = 'coord';
const NAMES = ['Maire', 'DGS', 'DSI']; // display names; DSI is removed
const LOCALES = { [COORD]: 'en-US', Maire: 'fr-FR', DGS: 'en-US', DSI: 'fr-FR' };
const REMOVED = 'DSI';
const REMAIN = ['Maire', 'DGS'];

// Steps run in order, bounded in time; failures leave screenshots and logs in ART.
const { step, run } = steps({ art: ART, devices: () => S.devices, server: () => S.srv });

/** With BROWSER_E2E_SHOTS=1: a screenshot of who's page into ART (to look at the app). */
async function shot(who, label) {
  if (process.env.BROWSER_E2E_SHOTS !== '1') return;
  await page(who).screenshot({ path: join(ART, `shot-${label}-${who}.png`), fullPage: true });
}

const dev = (name) => S.devices[name];
const page = (name) => dev(name).page;
const hook = (name, expr, arg) => page(name).evaluate(expr, arg);

before(async () => {
  console.log(`# browser e2e: run ${RUN}; artifacts (server log, screenshots and console logs on failure) in ${ART}`);
  const bin = rempartBin();
  S.srv = new Server({ bin, data: join(ART, 'data'), home: join(ART, 'home'), logFile: join(ART, 'server.log') });
  await S.srv.start();
  await checkWebApp(S.srv);
  S.coordAccount = await createCoordinator(S.srv);
  S.browser = await launch();
}, { timeout: 150_000 });

after(async () => {
  for (const d of Object.values(S.devices)) writeFileSync(join(ART, `console-${d.name}.txt`), d.logs.join('\n') + '\n');
  await S.browser?.close().catch(() => undefined);
  await S.srv?.kill();
  if (!run.failures && !run.broken && process.env.BROWSER_E2E_KEEP !== '1') {
    rmSync(ART, { recursive: true, force: true });
  } else {
    console.log(`# browser e2e: artifacts kept in ${ART}`);
  }
}, { timeout: 60_000 });

// ------------------------------------------------------------------ room

step('the coordinator signs in and creates a room', async () => {
  const d = (S.devices[COORD] = await Device.open(S.browser, COORD, S.srv.url, LOCALES[COORD]));
  const p = d.page;
  await p.goto(S.srv.crisisURL);
  await p.fill(tid('login-user'), S.coordAccount.user);
  await p.fill(tid('login-password'), S.coordAccount.password);
  await p.click(tid('login-submit'));
  await p.waitForSelector(tid('room-title'));
  await p.fill(tid('room-title'), secret(`Incident rancongiciel ${RUN} salle`));
  await p.click(tid('room-create'));
  await p.waitForURL(/#\/room\/[A-Za-z0-9_-]{22}/);
  S.room = p.url().match(/#\/room\/([A-Za-z0-9_-]{22})/)[1];
  await p.waitForSelector(tid('conn-status', { state: 'online' }));
  await p.waitForSelector(tid('e2ee-indicator'));
  // The title was sent encrypted; it shows here from this device's records.
  await p.getByText(`Incident rancongiciel ${RUN} salle`).first().waitFor();
  assert.equal(await hook(COORD, () => window.__rempartCrisis.epoch()), 1);
  assert.match(String(await hook(COORD, () => window.__rempartCrisis.memberId())), /^[A-Za-z0-9_-]{22}$/);
});

step(
  'the coordinator\u2019s room list shows the room with its title',
  async () => {
    const p = page(COORD);
    await p.goto(`${S.srv.crisisURL}#/`);
    await p.locator(tid('room-list')).filter({ hasText: `Incident rancongiciel ${RUN} salle` }).waitFor();
    await p.goto(`${S.srv.crisisURL}#/room/${S.room}`);
    await p.waitForSelector(tid('conn-status', { state: 'online' }));
  },
  { soft: true, timeout: 30_000 },
);

step('the coordinator makes three one-time invitations (link and QR code)', async () => {
  const p = page(COORD);
  await p.click(tid('tab-members'));
  let prev = '';
  for (let i = 0; i < 3; i++) {
    await p.click(tid('invite-create'));
    const link = await until('a new invitation link', async () => {
      const v = await p.locator(tid('invite-link')).inputValue({ timeout: 1000 }).catch(() => '');
      return v && v !== prev ? v : '';
    });
    prev = link;
    assert.ok(link.startsWith(`${S.srv.crisisURL}#/join/${S.room}/`), `invitation link ${link} should start with ${S.srv.crisisURL}#/join/${S.room}/`);
    S.links.push(link);
  }
  await p.waitForSelector(tid('invite-qr'));
  assert.equal(new Set(S.links).size, 3, 'three different links');
});

step('three members open their links, choose a name and wait, showing their safety number', async () => {
  for (const [i, name] of NAMES.entries()) {
    const d = (S.devices[name] = await Device.open(S.browser, name, S.srv.url, LOCALES[name]));
    const p = d.page;
    await p.goto(S.links[i]);
    await p.waitForSelector(tid('e2ee-indicator'));
    await p.fill(tid('join-name'), name);
    await p.click(tid('join-submit'));
    await p.waitForSelector(tid('waiting'));
    const sn = await until(`${name}'s safety number`, async () => {
      const v = await p.getAttribute(tid('my-safety-number'), 'data-value');
      return v && /^\d{60}$/.test(v) ? v : '';
    });
    const shown = (await p.textContent(tid('my-safety-number'))).trim();
    assert.match(shown, /^(\d{5} ){11}\d{5}$/, 'safety number shown as 12 groups of 5 digits');
    const id = await hook(name, () => window.__rempartCrisis.memberId());
    assert.match(String(id), /^[A-Za-z0-9_-]{22}$/);
    // The one-time token leaves the address bar once used.
    assert.ok(!p.url().includes('/join/'), `the join link should leave the address bar, url is ${p.url()}`);
    S.members[name] = { id, safety: sn, shown };
    await shot(name, 'waiting');
  }
});

step('the coordinator compares each safety number and admits the three members', async () => {
  const p = page(COORD);
  await p.click(tid('tab-members'));
  for (const name of NAMES) {
    const m = S.members[name];
    const item = p.locator(tid('pending-item', { member: m.id }));
    await item.waitFor({ timeout: 20_000 });
    const sn = await until(`the safety number of ${name}'s request`, async () => {
      const v = await item.locator(tid('pending-safety-number')).getAttribute('data-value');
      return v && v.length === 60 ? v : '';
    });
    assert.equal(sn, m.safety, `${name}: the coordinator sees another safety number than the member's screen`);
    assert.equal((await item.locator(tid('pending-safety-number')).textContent()).trim(), m.shown);
    await shot(COORD, `pending-${name}`);
    await item.locator(tid('admit')).click();
    await p.locator(tid('member-item', { member: m.id })).waitFor();
  }
  for (const name of NAMES) {
    const mp = page(name);
    await mp.waitForSelector(tid('tab-logbook'), { timeout: 20_000 }); // out of the waiting screen
    await mp.waitForSelector(tid('conn-status', { state: 'online' }));
    assert.equal(await mp.locator(tid('waiting')).count(), 0);
    assert.equal(await hook(name, () => window.__rempartCrisis.epoch()), 1);
  }
  // Everyone reads the room's title (sent encrypted by the coordinator).
  for (const name of NAMES) await page(name).getByText(`Incident rancongiciel ${RUN} salle`).first().waitFor({ timeout: 20_000 });
  assert.equal(await p.locator(tid('pending-item')).count(), 0);
});

step(
  'a replayed invitation link, opened on another device, is refused with a clear message',
  async () => {
    const d = (S.devices.replay = await Device.open(S.browser, 'replay', S.srv.url, 'en-US'));
    const p = d.page;
    await p.goto(S.links[0]); // Maire's link, already used
    const alert = p.locator('[role="alert"]').filter({ hasText: /invitation/i });
    // The app may refuse at once, or when the name is sent.
    await p.locator(`${tid('join-name')}, [role="alert"]`).first().waitFor();
    if (await p.locator(tid('join-name')).count()) {
      await p.fill(tid('join-name'), 'Intrus');
      await p.click(tid('join-submit'));
    }
    await alert.first().waitFor({ timeout: 15_000 });
    const msg = (await alert.first().textContent()).trim();
    assert.match(msg, /used|expired|déjà servi|expiré/i, `the error should say the invitation was used: "${msg}"`);
    assert.equal(await p.locator(tid('waiting')).count(), 0, 'no waiting screen after a refused join');
    assert.ok(p.url().includes('/join/'), 'still on the join page');
    await new Promise((r) => setTimeout(r, 1500));
    const cp = page(COORD);
    await cp.click(tid('tab-members'));
    await cp.waitForSelector(tid('pending-list'));
    assert.equal(await cp.locator(tid('pending-item')).count(), 0, 'the replayed link must not create a pending request');
    await d.ctx.close();
    delete S.devices.replay;
  },
  { soft: true, timeout: 45_000 },
);

step(
  'a request the coordinator refuses ends on the requester\u2019s screen; the epoch stays',
  async (t) => {
    const p = page(COORD);
    await p.click(tid('tab-members'));
    const prev = await p.locator(tid('invite-link')).inputValue().catch(() => '');
    await p.click(tid('invite-create'));
    const link = await until('a new invitation link', async () => {
      const v = await p.locator(tid('invite-link')).inputValue({ timeout: 1000 }).catch(() => '');
      return v && v !== prev ? v : '';
    });
    const d = (S.devices.refused = await Device.open(S.browser, 'refused', S.srv.url, 'en-US'));
    const rp = d.page;
    await rp.goto(link);
    await rp.fill(tid('join-name'), 'Inconnu');
    await rp.click(tid('join-submit'));
    await rp.waitForSelector(tid('waiting'));
    const id = await rp.evaluate(() => window.__rempartCrisis.memberId());
    const item = p.locator(tid('pending-item', { member: id }));
    await item.waitFor({ timeout: 20_000 });
    await item.locator(tid('refuse')).click();
    await item.waitFor({ state: 'detached', timeout: 20_000 });
    await rp.waitForSelector(tid('removed-notice'), { timeout: 20_000 });
    // The refused device reads the refusal (not the removal) text, and no
    // room tabs: it never was in the room.
    const notice = (await rp.locator(tid('removed-notice')).textContent()).trim();
    assert.match(notice, /not admit|pas admis/i, `a refused device is told: "${notice}"`);
    assert.equal(await rp.locator(tid('tab-chat')).count(), 0, 'a refused device is shown the room\u2019s tabs');
    assert.equal(await p.locator(tid('member-item', { member: id })).count(), 0, 'the refused device is not a member');
    assert.equal(await hook(COORD, () => window.__rempartCrisis.epoch()), 1, 'refusing a request does not start a new epoch');
    await d.ctx.close();
    delete S.devices.refused;
  },
  { soft: true, timeout: 60_000 },
);

step(
  'the app speaks the browser\u2019s language (French or English) and switches on demand',
  async () => {
    const lang = (who) => hook(who, () => document.documentElement.lang);
    assert.equal(await lang('Maire'), 'fr', 'a fr-FR browser gets French');
    assert.equal(await lang('DGS'), 'en', 'an en-US browser gets English');
    const p = page('DGS');
    const before = await p.locator(tid('tab-logbook')).textContent();
    await p.click(tid('lang-switch'));
    await until('French after the switch', async () => (await lang('DGS')) === 'fr');
    await until('the tabs to be translated', async () => (await p.locator(tid('tab-logbook')).textContent()) !== before);
    await p.click(tid('lang-switch'));
    await until('English again', async () => (await lang('DGS')) === 'en');
  },
  { soft: true, timeout: 30_000 },
);

// ------------------------------------------------------------ chat, logbook

const everyone = () => [COORD, ...NAMES];
const chatText = (who, phase) => secret(`message de ${who} ${RUN} ${phase}`);
const logText = (who, phase) => secret(`main courante ${who} ${RUN} ${phase}`);
const FILE_NAME = secret(`compte-rendu-${RUN}.txt`);
const FILE_CONTENT = secret(`Contenu confidentiel de la piece jointe ${RUN}: mots de passe du parefeu`);

async function sendChat(name, text, file) {
  const p = page(name);
  await p.click(tid('tab-chat'));
  await p.waitForSelector(tid('chat-input'));
  if (file) await p.setInputFiles(tid('chat-file'), file);
  await p.fill(tid('chat-input'), text);
  await p.click(tid('chat-send'));
  // The input empties once the message is handed to the outbox.
  await until(`${name}'s chat input to empty`, async () => (await p.locator(tid('chat-input')).inputValue()) === '');
}

async function seeChat(viewer, author, text, timeout = 30_000) {
  const p = page(viewer);
  await p.click(tid('tab-chat'));
  const msg = p.locator(tid('chat-message', { verified: 'true' })).filter({ hasText: text });
  await msg.first().waitFor({ timeout });
  assert.equal(await msg.first().getAttribute('data-author'), author, `${viewer} sees "${text}" from another author`);
}

async function writeLog(name, kind, text) {
  const p = page(name);
  await p.click(tid('tab-logbook'));
  await p.selectOption(tid('log-kind'), kind);
  await p.fill(tid('log-text'), text);
  await p.click(tid('log-submit'));
  await until(`${name}'s logbook input to empty`, async () => (await p.locator(tid('log-text')).inputValue()) === '');
}

async function seeLog(viewer, kind, text, timeout = 30_000) {
  const p = page(viewer);
  await p.click(tid('tab-logbook'));
  const e = p.locator(tid('log-entry', { verified: 'true', kind })).filter({ hasText: text });
  await e.first().waitFor({ timeout });
  return { hash: await e.first().getAttribute('data-hash'), pos: Number(await e.first().getAttribute('data-pos')) };
}

const displayName = (who) => (who === COORD ? S.coordAccount.user : who);
const KINDS = { [COORD]: 'decision', Maire: 'fact', DGS: 'action', DSI: 'msg_in' };

step(
  'the four members chat (with an encrypted attachment) and each sees the others\u2019 messages, verified',
  async () => {
    for (const who of everyone()) {
      const file = who === 'Maire' ? { name: FILE_NAME, mimeType: 'text/plain', buffer: Buffer.from(FILE_CONTENT) } : undefined;
      await sendChat(who, chatText(who, 'avant'), file);
    }
    for (const viewer of everyone()) {
      for (const who of everyone()) await seeChat(viewer, displayName(who), `message de ${who} ${RUN} avant`);
    }
    // DGS opens Maire's attachment: decrypted in the browser, same bytes.
    const p = page('DGS');
    const msg = p.locator(tid('chat-message', { verified: 'true' })).filter({ hasText: `message de Maire ${RUN} avant` });
    const [dl] = await Promise.all([p.waitForEvent('download'), msg.locator('button', { hasText: FILE_NAME }).click()]);
    assert.equal(dl.suggestedFilename(), FILE_NAME);
    const path = join(ART, `download-${FILE_NAME}`);
    await dl.saveAs(path);
    assert.equal(readFileSync(path, 'utf8'), FILE_CONTENT);
    await shot('DGS', 'chat');
    rmSync(path);
  },
  { timeout: 90_000 },
);

step(
  'each member writes in the logbook and everyone sees every entry, signed and verified',
  async () => {
    for (const who of everyone()) await writeLog(who, KINDS[who], logText(who, 'avant'));
    for (const viewer of everyone()) {
      for (const who of everyone()) await seeLog(viewer, KINDS[who], `main courante ${who} ${RUN} avant`);
      await page(viewer).waitForSelector(tid('integrity-status', { ok: 'true' }));
    }
    // The decision register lists the coordinator's decision.
    const p = page(COORD);
    await p.click(tid('tab-decisions'));
    await p.locator(tid('log-entry', { kind: 'decision', verified: 'true' })).filter({ hasText: `main courante ${COORD} ${RUN} avant` }).waitFor();
  },
  { timeout: 90_000 },
);

step(
  'the service status board, the task list and the crisis directory are shared, encrypted',
  async () => {
    // Maire: the civil registry is down (a status update is also a logbook entry).
    const service = secret(`Etat civil ${RUN}`);
    let p = page('Maire');
    await p.click(tid('tab-status'));
    await p.fill(tid('status-service'), service);
    await p.selectOption(tid('status-state'), 'down');
    await p.fill(tid('status-eta'), '2026-12-06T10:30');
    await p.click(tid('status-submit'));
    for (const viewer of [COORD, 'DGS']) {
      const v = page(viewer);
      await v.click(tid('tab-status'));
      await v.locator(tid('status-row', { service, state: 'down' })).waitFor();
    }
    await seeLog('DGS', 'status', service);

    // DGS: a task for Maire, which Maire marks done.
    const title = secret(`Couper les comptes VPN ${RUN}`);
    p = page('DGS');
    await p.click(tid('tab-tasks'));
    await p.fill(tid('task-title'), title);
    await p.fill(tid('task-owner'), 'Maire');
    await p.click(tid('task-submit'));
    const mp = page('Maire');
    await mp.click(tid('tab-tasks'));
    const row = mp.locator(tid('task-row', { state: 'open' })).filter({ hasText: title });
    await row.waitFor();
    await row.locator(tid('task-done')).click();
    const cp = page(COORD);
    await cp.click(tid('tab-tasks'));
    await cp.locator(tid('task-row', { state: 'done' })).filter({ hasText: title }).waitFor();

    // The coordinator: a contact in the crisis directory.
    const contact = secret(`Astreinte CERT ${RUN}`);
    const org = secret(`Prestataire infogerance ${RUN}`);
    const phone = secret(`01 ${RUN.replace(/[a-f]/g, (c) => String(c.charCodeAt(0) % 10)).slice(0, 8)}`);
    await cp.click(tid('tab-directory'));
    await cp.fill(tid('contact-name'), contact);
    await cp.fill(tid('contact-org'), org);
    await cp.fill(tid('contact-phone'), phone);
    await cp.click(tid('contact-submit'));
    for (const viewer of ['Maire', 'DSI']) {
      const v = page(viewer);
      await v.click(tid('tab-directory'));
      await v.locator(tid('contact-row')).filter({ hasText: contact }).filter({ hasText: phone }).waitFor();
    }
  },
  { soft: true, timeout: 90_000 },
);

// ---------------------------------------------------------------- removal

step(
  'the coordinator removes DSI, who sees the removed notice; the others move to the next epoch',
  async () => {
    // What DSI could read: the events up to now, from a remaining member.
    S.before = await hook('Maire', () => window.__rempartCrisis.rawEvents());
    assert.ok(S.before.length >= 8, `Maire holds ${S.before.length} events, want at least 8`);
    const before = await hook(REMOVED, (evs) => window.__rempartCrisis.tryDecrypt(evs), S.before);
    assert.ok(before.ok > 0, `before the removal DSI must decrypt some events; tryDecrypt gave ${JSON.stringify(before)}`);

    const epoch = await hook(COORD, () => window.__rempartCrisis.epoch());
    const p = page(COORD);
    await p.click(tid('tab-members'));
    await p.locator(tid('member-item', { member: S.members[REMOVED].id })).locator(tid('remove-member')).click();
    await p.click(tid('confirm-remove'));
    await p.locator(tid('member-item', { member: S.members[REMOVED].id })).waitFor({ state: 'detached', timeout: 20_000 });

    await page(REMOVED).waitForSelector(tid('removed-notice'), { timeout: 20_000 });
    await shot(REMOVED, 'removed');
    for (const who of [COORD, ...REMAIN]) {
      await until(`${who} to reach epoch ${epoch + 1}`, () => hook(who, (e) => window.__rempartCrisis.epoch() === e, epoch + 1), 20_000);
    }
    S.removalEpoch = epoch + 1;
  },
  { timeout: 60_000 },
);

step(
  'what is written after the removal reaches the others, and the removed member cannot decrypt it',
  async () => {
    const writers = [COORD, ...REMAIN];
    for (const who of writers) {
      await sendChat(who, chatText(who, 'apres'));
      await writeLog(who, KINDS[who], logText(who, 'apres'));
    }
    for (const viewer of writers) {
      for (const who of writers) {
        await seeChat(viewer, displayName(who), `message de ${who} ${RUN} apres`);
        await seeLog(viewer, KINDS[who], `main courante ${who} ${RUN} apres`);
      }
    }
    // The raw events of epoch 2, as a remaining member received them.
    const all = await hook('DGS', () => window.__rempartCrisis.rawEvents());
    const epochOf = (ev) => JSON.parse(ev.body).epoch;
    const afterEvents = all.filter((ev) => epochOf(ev) >= S.removalEpoch);
    const beforeEvents = all.filter((ev) => epochOf(ev) < S.removalEpoch);
    assert.ok(afterEvents.length >= 2 * writers.length, `DGS holds ${afterEvents.length} events of epoch ${S.removalEpoch}, want at least ${2 * writers.length}`);

    const control = await hook('DGS', (evs) => window.__rempartCrisis.tryDecrypt(evs), afterEvents);
    assert.equal(control.ok, afterEvents.length, `a remaining member must decrypt every new event: ${JSON.stringify(control)}`);

    const removedAfter = await hook(REMOVED, (evs) => window.__rempartCrisis.tryDecrypt(evs), afterEvents);
    assert.equal(removedAfter.ok, 0, `the removed member decrypted ${removedAfter.ok} of ${afterEvents.length} events written after the removal`);
    assert.equal(removedAfter.failed, afterEvents.length);
    const removedBefore = await hook(REMOVED, (evs) => window.__rempartCrisis.tryDecrypt(evs), beforeEvents);
    assert.ok(removedBefore.ok > 0, `the removed member should still decrypt what it was sent before: ${JSON.stringify(removedBefore)}`);

    // Nor does any of it show on the removed member's screen.
    const rp = page(REMOVED);
    await rp.waitForSelector(tid('removed-notice'));
    const html = await rp.content();
    for (const who of writers) {
      assert.ok(!html.includes(`${who} ${RUN} apres`), `the removed member's page shows text written after the removal (${who})`);
    }
    assert.equal(await rp.locator(tid('chat-send')).count(), 0, 'a removed member has no chat form');
  },
  { timeout: 120_000 },
);

// ----------------------------------------------------------------- export

async function exportMarkdown(name) {
  const p = page(name);
  const [dl] = await Promise.all([p.waitForEvent('download'), p.click(tid('export-md'))]);
  assert.match(dl.suggestedFilename(), /\.md$/);
  const path = join(ART, `${name}-${Date.now()}-${dl.suggestedFilename()}`);
  await dl.saveAs(path);
  return readFileSync(path, 'utf8');
}

/** The Markdown export's entries: "### #POS — kind — time" sections. */
function mdSections(md) {
  return md
    .split(/\n(?=### #\d+ )/)
    .slice(1)
    .map((s) => ({ pos: Number(s.match(/^### #(\d+)/)[1]), text: s }));
}

step(
  'the logbook export verifies: every signature valid, every chain complete (Markdown and PDF)',
  async () => {
    const p = page(COORD);
    await p.click(tid('tab-export'));
    await p.waitForSelector(tid('integrity-status', { ok: 'true' }));
    await p.waitForSelector(tid('export-summary', { ok: 'true' }));
    const md = await exportMarkdown(COORD);
    S.lastExportMd = md;
    assert.match(md, /^## ✔ /m, 'summary line with ✔');
    assert.ok(!md.includes('✘'), `the export flags something:\n${md.split('\n').filter((l) => l.includes('✘')).join('\n')}`);
    const secs = mdSections(md);
    const raw = await hook(COORD, () => window.__rempartCrisis.rawEvents());
    assert.equal(secs.length, raw.length, 'one section per event');
    for (const who of everyone()) {
      for (const phase of who === REMOVED ? ['avant'] : ['avant', 'apres']) {
        const text = `main courante ${who} ${RUN} ${phase}`;
        const sec = secs.find((s) => s.text.includes(`> ${text}`));
        assert.ok(sec, `the export lacks the logbook entry "${text}"`);
        assert.match(sec.text, /^- ✔ /m, `entry #${sec.pos} ("${text}") is not marked ✔:\n${sec.text}`);
      }
    }
    const [dl] = await Promise.all([p.waitForEvent('download', { timeout: 45_000 }), p.click(tid('export-pdf'))]);
    const pdf = join(ART, `export-${dl.suggestedFilename()}`);
    await dl.saveAs(pdf);
    const head = readFileSync(pdf).subarray(0, 5).toString('latin1');
    assert.equal(head, '%PDF-', 'the PDF export is a PDF');
  },
  { timeout: 90_000 },
);

// ------------------------------------------------------------ tampering

step(
  'an entry altered on the server\u2019s disk is named by the exports of the members who catch up',
  async () => {
    // The coordinator (whose history is complete) and DGS (who joined
    // later) close the app; Maire writes two entries, the first of which is
    // then altered on the server's disk while the server is stopped.
    const readers = [COORD, 'DGS'];
    for (const who of readers) await page(who).close();
    await writeLog('Maire', 'fact', logText('Maire', 'cible'));
    const { hash, pos } = await seeLog('Maire', 'fact', `main courante Maire ${RUN} cible`);
    assert.ok(hash && pos > 0, `entry hash ${hash}, pos ${pos}`);
    await writeLog('Maire', 'action', logText('Maire', 'apres la cible'));
    const next = await seeLog('Maire', 'action', `main courante Maire ${RUN} apres la cible`);
    assert.equal(next.pos, pos + 1);
    await page('Maire').waitForSelector(tid('outbox-count', { count: '0' }));

    await S.srv.stop();
    const r = await tamper(join(S.srv.data, 'rempart.db'), hash);
    assert.equal(r.pos, pos, `tamper altered #${r.pos}, want #${pos}`);
    assert.notEqual(r.new_ct, r.old_ct);
    const port = S.srv.port;
    await S.srv.restart();
    assert.equal(S.srv.port, port, 'restarted on the same port (same origin for the browsers)');

    for (const who of readers) {
      const p = await dev(who).newPage();
      await p.goto(`${S.srv.crisisURL}#/room/${S.room}/export`);
      await p.waitForSelector(tid('integrity-status', { ok: 'false' }), { timeout: 30_000 });
      await p.waitForSelector(tid('export-summary', { ok: 'false' }));
      await p.getByText(new RegExp(`✘ #${pos}\\b`)).first().waitFor();
      await shot(who, 'export-altered');
      const md = await exportMarkdown(who);
      assert.match(md, /^## ✘ /m, `${who}: summary line with ✘`);
      assert.match(md, new RegExp(`^- ✘ #${pos}: \\S`, 'm'), `${who}: the export does not name #${pos} in its summary:\n${md.slice(0, 2000)}`);
      const secs = mdSections(md);
      const sec = secs.find((x) => x.pos === pos);
      assert.ok(sec, `${who}: the export lacks #${pos}`);
      assert.doesNotMatch(sec.text, /^- ✔ /m, `${who}: #${pos} is still marked ✔`);
      assert.ok(!sec.text.includes(`Maire ${RUN} cible`), `${who}: the altered entry's text is shown as if readable`);
      // Entries written before it still verify; the one after it is there.
      const earlier = secs.filter((x) => x.pos < pos);
      assert.ok(earlier.length > 0, `${who}: no entry before #${pos}`);
      for (const x of earlier) assert.match(x.text, /^- ✔ /m, `${who}: #${x.pos}, written before the altered entry, is not ✔`);
      const nextSec = secs.find((x) => x.pos === next.pos);
      assert.ok(nextSec, `${who}: the export lacks #${next.pos}`);
      // The next entry is authentic, but its chain link is the altered one:
      // it says so (and the summary lists it), rather than a bare ✔.
      assert.match(nextSec.text, /alter/i, `${who}: #${next.pos}, whose chain link is the altered entry, has no note:\n${nextSec.text}`);
      assert.match(md, new RegExp(`^- \\S+ #${next.pos}: .*alter`, 'mi'), `${who}: the summary does not list #${next.pos}`);
      // The altered entry fails verification: the summary counts it as
      // such, and it is not mistaken for an entry this device cannot read.
      // No entry at all is unreadable: every sender hands a newcomer its
      // chain from the newcomer's admission position on (visible_from),
      // including an entry written as the newcomer was admitted.
      assert.match(md, /^## .*: 1 (fail|en échec)/m, `${who}: the summary does not count one failing entry: "${md.match(/^## .*$/m)[0]}"`);
      const unreadable = md.match(/^## .*?(\d+) (unreadable|illisibles?)/m);
      assert.ok(!unreadable || Number(unreadable[1]) === 0, `${who}: the summary counts unreadable entries: "${md.match(/^## .*$/m)[0]}"`);
      assert.doesNotMatch(sec.text, /not shared with you|non partagé|key has not reached|clé n’est pas encore|unreadable|illisible/i, `${who}: #${pos} is reported as unreadable, not as altered:\n${sec.text}`);
    }
  },
  { timeout: 120_000 },
);

step(
  'what a member writes while the server is down is sent by itself when it is back',
  async () => {
    const p = page('Maire');
    await p.waitForSelector(tid('conn-status', { state: 'online' }));
    await S.srv.stop();
    await p.waitForSelector(`${tid('conn-status')}:not([data-state="online"])`, { timeout: 20_000 });
    const text = logText('Maire', 'hors ligne');
    await writeLog('Maire', 'fact', text);
    await p.waitForSelector(tid('outbox-count', { count: '1' }));
    await S.srv.restart();
    await p.waitForSelector(tid('conn-status', { state: 'online' }), { timeout: 45_000 });
    await p.waitForSelector(tid('outbox-count', { count: '0' }), { timeout: 30_000 });
    await seeLog('Maire', 'fact', text);
    await seeLog(COORD, 'fact', text);
  },
  { soft: true, timeout: 90_000 },
);

// ------------------------------------------------------ plaintext on disk

step(
  'the server\u2019s data folder and output hold none of the plaintext typed in the browsers',
  async (t) => {
    assert.ok(S.srv, 'no server');
    assert.ok(secrets.length > 0, 'nothing was typed');
    const runs = [];
    if (S.srv.proc) runs.push(['server running (with its WAL)', scan(S.srv.data, secrets)]);
    await S.srv.stop();
    runs.push(['server stopped', scan(S.srv.data, secrets)]);
    for (const [when, r] of runs) {
      t.diagnostic(`${when}: ${r.files.length} files read: ${r.files.join(', ')}`);
      assert.ok(
        r.files.some((f) => f.endsWith('rempart.db')),
        `the database file was not found in ${S.srv.data}`,
      );
      assert.deepEqual(r.hits, [], `plaintext found in the data folder (${when}):\n${JSON.stringify(r.hits, null, 1)}`);
    }
    const leaked = secrets.filter((s) => S.srv.out.includes(s));
    assert.deepEqual(leaked, [], 'the server printed plaintext');
    t.diagnostic(`${secrets.length} strings checked`);
  },
  { always: true, timeout: 60_000 },
);

step(
  'the app asked no host but the server for anything, and threw no uncaught error',
  async () => {
    const outside = Object.values(S.devices).flatMap((d) => d.outside.map((u) => `${d.name}: ${u}`));
    assert.deepEqual(outside, [], 'requests to other hosts');
    const errors = Object.values(S.devices).flatMap((d) => d.pageErrors.map((e) => `${d.name}: ${e}`));
    assert.deepEqual(errors, [], 'uncaught errors in the pages');
  },
  { always: true, timeout: 10_000 },
);

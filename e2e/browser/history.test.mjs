// History share v1, end to end, in Debian's chromium against a real
// `rempart server` (docs/crisis-e2ee.md, "History share v1"):
//
//   the coordinator and the mayor write before anyone else is admitted; a
//   member admitted with "Share the history so far" sees those entries,
//   verified; a member admitted without it sees none of them (the relay
//   does not even serve them, and its keys open none); the coordinator then
//   shares the earlier history with it from the members tab, and it sees
//   them, verified.
//
// Run alone: cd e2e/browser && REMPART_BIN=../../bin/rempart node --test --test-concurrency=1 history.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device, launch, tid, until } from './lib/browser.mjs';
import { admit, createRoom, invite, requestToJoin } from './lib/room.mjs';
import { endSuite, startServer, steps } from './lib/steps.mjs';

const RUN = randomBytes(5).toString('hex');
const ART = join(process.env.BROWSER_E2E_ARTIFACTS || mkdtempSync(join(tmpdir(), 'rempart-browser-e2e-')), 'history');
mkdirSync(ART, { recursive: true });

const COORD = 'coord';
const S = { srv: undefined, browser: undefined, account: undefined, devices: {}, room: '', ids: {}, earlier: [] };
const { step, run } = steps({ art: ART, devices: () => S.devices, server: () => S.srv });
const page = (name) => S.devices[name].page;
const hook = (name, expr, arg) => page(name).evaluate(expr, arg);
const EARLY = [`constat du maire ${RUN} avant`, `consigne de la cellule ${RUN} avant`];

before(
  async () => {
    console.log(`# history e2e: run ${RUN}; artifacts in ${ART}`);
    ({ srv: S.srv, account: S.account } = await startServer(ART));
    S.browser = await launch();
  },
  { timeout: 120_000 },
);

after(
  () => endSuite({ art: ART, label: 'history e2e', devices: S.devices, browser: S.browser, srv: S.srv, run }),
  { timeout: 60_000 },
);

async function sendChat(name, text) {
  const p = page(name);
  await p.click(tid('tab-chat'));
  await p.fill(tid('chat-input'), text);
  await p.click(tid('chat-send'));
  await until(`${name}'s chat input to empty`, async () => (await p.locator(tid('chat-input')).inputValue()) === '');
}

async function seeChat(viewer, text, timeout = 30_000) {
  const p = page(viewer);
  await p.click(tid('tab-chat'));
  await p.locator(tid('chat-message', { verified: 'true' })).filter({ hasText: text }).first().waitFor({ timeout });
}

async function joinAs(name, locale) {
  const d = (S.devices[name] = await Device.open(S.browser, name, S.srv.url, locale));
  const link = await invite(page(COORD));
  const m = await requestToJoin(d, link, name);
  S.ids[name] = m.id;
  return m;
}

step('the coordinator creates a room and admits the mayor; both write before anyone else joins', async () => {
  const d = (S.devices[COORD] = await Device.open(S.browser, COORD, S.srv.url, 'fr-FR'));
  S.room = await createRoom(d, S.srv, S.account, `Historique ${RUN}`);
  const maire = await joinAs('Maire', 'fr-FR');
  await admit(page(COORD), maire);
  await page('Maire').waitForSelector(tid('conn-status', { state: 'online' }));
  await sendChat('Maire', EARLY[0]);
  await sendChat(COORD, EARLY[1]);
  for (const t of EARLY) {
    await seeChat(COORD, t);
    await seeChat('Maire', t);
  }
  S.earlier = await hook(COORD, () => window.__rempartCrisis.rawEvents());
}, { timeout: 90_000 });

step('a member admitted with "Share the history so far" sees the earlier entries, verified', async () => {
  const m = await joinAs('Avec', 'en-US');
  const cp = page(COORD);
  await cp.click(tid('tab-members'));
  const item = cp.locator(tid('pending-item', { member: m.id }));
  await item.waitFor({ timeout: 20_000 });
  assert.equal(await item.locator(tid('admit-share-history')).isChecked(), false, 'sharing the history is off by default');
  await item.locator(tid('admit-share-history')).check();
  await admit(cp, m);
  for (const t of EARLY) await seeChat('Avec', t);
  // It is told who shared the history with it.
  const coordName = (await cp.locator('.whoami').innerText()).replace(/\s*\(.*\)\s*$/, '').trim();
  const notice = page('Avec').locator(tid('history-notice'));
  await notice.waitFor();
  assert.match(await notice.innerText(), new RegExp(`earlier history was shared with this device by ${coordName} \\(`));
  assert.equal(await page('Avec').locator(tid('history-error')).count(), 0);
  const raw = await hook('Avec', () => window.__rempartCrisis.rawEvents());
  assert.equal(raw[0].pos, 1, 'the shared history starts at the first entry of the room');
  const dec = await hook('Avec', (evs) => window.__rempartCrisis.tryDecrypt(evs), S.earlier);
  assert.deepEqual(dec, { ok: S.earlier.length, failed: 0 }, 'every earlier entry opens with the shared keys');
}, { timeout: 90_000 });

step('a member admitted without it sees none of them; shared later from the members tab, it sees them, verified', async () => {
  const m = await joinAs('Sans', 'fr-FR');
  await admit(page(COORD), m);
  const after = `après l'admission ${RUN}`;
  await sendChat('Maire', after);
  await seeChat('Sans', after);
  const raw = await hook('Sans', () => window.__rempartCrisis.rawEvents());
  assert.ok(raw.every((e) => e.pos > S.earlier[S.earlier.length - 1].pos), 'the relay served entries written before the admission');
  const dec = await hook('Sans', (evs) => window.__rempartCrisis.tryDecrypt(evs), S.earlier);
  assert.equal(dec.ok, 0, 'a member admitted without a share opens an earlier entry');
  for (const t of EARLY) {
    assert.equal(await page('Sans').locator(tid('chat-message')).filter({ hasText: t }).count(), 0, `Sans sees "${t}"`);
  }
  assert.equal(await page('Sans').locator(tid('history-notice')).count(), 0, 'a history notice with no history shared');
  const cp = page(COORD);
  await cp.click(tid('tab-members'));
  await cp.locator(tid('member-item', { member: m.id })).locator(tid('share-history')).click();
  await cp.click(tid('confirm-share-history'));
  await cp.locator(tid('member-item', { member: m.id })).locator(tid('share-history-done')).waitFor({ timeout: 20_000 });
  for (const t of EARLY) await seeChat('Sans', t);
  await page('Sans').locator(tid('history-notice')).filter({ hasText: 'L’historique antérieur de la salle a été partagé' }).waitFor();
  const dec2 = await hook('Sans', (evs) => window.__rempartCrisis.tryDecrypt(evs), S.earlier);
  assert.deepEqual(dec2, { ok: S.earlier.length, failed: 0 });
}, { timeout: 90_000 });

test('no uncaught error in any page', () => {
  for (const d of Object.values(S.devices)) assert.deepEqual(d.pageErrors, [], `${d.name}: uncaught errors`);
  for (const d of Object.values(S.devices)) assert.deepEqual(d.outside, [], `${d.name}: requests to other hosts`);
});

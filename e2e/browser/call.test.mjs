// Crisis room calls, end to end, in Debian's chromium (fake camera, fake
// screen, and a fake microphone that plays a voice-like WAV loop) against a
// real `rempart server` and its SFU (issue 5):
//
//   a coordinator creates a room and admits four members: A, B and C, and K,
//   whose page drops every media key it is given (test option testDropKeys);
//   the four join the call with sound and camera. The coordinator joins to
//   listen only: the four see its tile (initials, "listening only"), which
//   goes when it leaves. Each of A, B and C decodes the others' video
//   (getStats framesDecoded grows) and the SFrame layer decrypts both video
//   and audio of each (counters grow per person). K receives the same
//   packets (bytesReceived > 0) but decrypts nothing and decodes no frame.
//   The large tile follows the speaker: with only A's microphone on, every
//   other page shows A large; then only B's, and they show B. A shares its
//   screen (a real getDisplayMedia: Chromium's fake-UI flags pick a fake
//   screen without a picker): B and C decode it (framesDecoded grows on the
//   screen track, video decrypt counters grow) and show it large; when A
//   stops, the share leaves their pages. The coordinator removes C: C's
//   call ends ("removed") and its counters stop; A and B go on decoding
//   each other under the new epoch's keys.
//
// The steps share one server and one room and run in order; a failed step
// makes the later ones skip. Screenshots, console logs and the server log of
// a failure go to $BROWSER_E2E_ARTIFACTS (or a folder printed at the start).
//
// Run: bash scripts/browser-e2e.sh, or after building web/dist and bin/rempart:
//   cd e2e/browser && REMPART_BIN=../../bin/rempart node --test --test-concurrency=1 call.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Device, launch, tid, until } from './lib/browser.mjs';
import { speechWav } from './lib/media.mjs';
import { admit, createRoom, invite, removeMember, requestToJoin } from './lib/room.mjs';
import { endSuite, startServer, steps } from './lib/steps.mjs';

const RUN = randomBytes(5).toString('hex');
const ART = join(process.env.BROWSER_E2E_ARTIFACTS || mkdtempSync(join(tmpdir(), 'rempart-browser-e2e-')), 'call');
mkdirSync(ART, { recursive: true });

const COORD = 'coord';
const MEMBERS = ['A', 'B', 'C', 'K'];
const DECODERS = ['A', 'B', 'C']; // hold the keys
const KEYLESS = 'K';
const REMOVED = 'C';
const REMAIN = ['A', 'B'];
// A small picture: four pages encode three simulcast layers and decode
// three streams each, on a shared CI machine.
const VIDEO = { width: { ideal: 320 }, height: { ideal: 240 }, frameRate: { ideal: 15, max: 15 } };
// The shared screen, scaled down for the same reason.
const SCREEN = { width: { max: 640 }, height: { max: 360 }, frameRate: { max: 10 } };

const S = { srv: undefined, browser: undefined, devices: {}, room: '', ids: {}, samples: {} };

const { step, run } = steps({ art: ART, devices: () => S.devices, server: () => S.srv, defaultTimeout: 45_000 });

const page = (name) => S.devices[name].page;

/** With BROWSER_E2E_SHOTS=1: a screenshot of who's page into ART (desktop, then a 390-px phone). */
async function shot(who, label, { phone = false } = {}) {
  if (process.env.BROWSER_E2E_SHOTS !== '1') return;
  const p = page(who);
  await p.screenshot({ path: join(ART, `shot-${label}-${who}.png`), fullPage: true });
  if (phone) {
    const size = p.viewportSize();
    await p.setViewportSize({ width: 390, height: 844 });
    await sleep(500);
    await p.screenshot({ path: join(ART, `shot-${label}-${who}-phone.png`), fullPage: true });
    await p.setViewportSize(size);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const callStats = (name) => page(name).evaluate(() => window.__rempartCrisis.callStats());

/**
 * What `who` gets from each publisher: bytes and decoded frames (getStats,
 * inbound-rtp video), SFrame counters (decrypted/failed, video and audio).
 */
function perPublisher(st, ids) {
  const out = {};
  for (const id of ids) {
    const video = st.inbound.filter((s) => s.participant === id && s.kind === 'video');
    const screen = video.filter((s) => s.screen);
    const audio = st.inbound.filter((s) => s.participant === id && s.kind === 'audio');
    const dec = st.media?.decrypted?.[id] ?? {};
    const fail = st.media?.failed?.[id] ?? {};
    out[id] = {
      videoBytes: video.reduce((a, s) => a + s.bytesReceived, 0),
      audioBytes: audio.reduce((a, s) => a + s.bytesReceived, 0),
      framesDecoded: video.reduce((a, s) => a + s.framesDecoded, 0),
      screenFrames: screen.reduce((a, s) => a + s.framesDecoded, 0),
      decVideo: dec.video ?? 0,
      decAudio: dec.audio ?? 0,
      failVideo: fail.video ?? 0,
      failAudio: fail.audio ?? 0,
    };
  }
  return out;
}

const others = (name, among) => among.filter((n) => n !== name).map((n) => S.ids[n]);
const nameOf = (id) => Object.keys(S.ids).find((n) => S.ids[n] === id) ?? id;
const fmt = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).map(([id, v]) => [nameOf(id), v])));

/** Takes two samples `gap` ms apart and checks every counter in `keys` grew for every publisher. */
async function assertGrowing(name, among, keys, gap = 3000) {
  const ids = others(name, among);
  const a = perPublisher(await callStats(name), ids);
  await sleep(gap);
  const st = await callStats(name);
  const b = perPublisher(st, ids);
  for (const id of ids) {
    for (const k of keys) {
      assert.ok(b[id][k] > a[id][k], `${name}: ${k} from ${nameOf(id)} does not grow (${a[id][k]} then ${b[id][k]}); state ${st.state}; ${fmt(b)}`);
    }
  }
  return b;
}

before(
  async () => {
    console.log(`# call e2e: run ${RUN}; artifacts in ${ART}`);
    ({ srv: S.srv, account: S.account } = await startServer(ART));
    assert.match(S.srv.out, /UDP/, 'the server should say where calls run (UDP)');
    const wav = join(ART, 'voice.wav');
    speechWav(wav);
    S.browser = await launch({ media: true, audioFile: wav });
  },
  { timeout: 120_000 },
);

after(
  () => endSuite({ art: ART, label: 'call e2e', devices: S.devices, browser: S.browser, srv: S.srv, run }),
  { timeout: 60_000 },
);

step('the coordinator creates a room and admits A, B, C and K', async () => {
  const d = (S.devices[COORD] = await Device.open(S.browser, COORD, S.srv.url, 'en-US'));
  S.room = await createRoom(d, S.srv, S.account, `Appel ${RUN}`);
  for (const name of MEMBERS) {
    const link = await invite(d.page);
    const md = (S.devices[name] = await Device.open(S.browser, name, S.srv.url, name === 'B' ? 'fr-FR' : 'en-US', {
      permissions: ['camera', 'microphone'],
    }));
    const m = await requestToJoin(md, link, `Member ${name}`);
    S.ids[name] = m.id;
    await admit(d.page, m);
  }
  for (const name of MEMBERS) {
    await page(name).waitForSelector(tid('tab-call'), { timeout: 20_000 });
    await page(name).waitForSelector(tid('conn-status', { state: 'online' }));
  }
}, { timeout: 90_000 });

step('A, B, C and K join the call with sound and camera; each sees the E2EE badge and the room safety number', async () => {
  for (const name of MEMBERS) {
    const p = page(name);
    await p.evaluate((o) => window.__rempartCrisis.callTestOptions(o), { testDropKeys: name === KEYLESS, video: VIDEO, screen: SCREEN });
    await p.click(tid('tab-call'));
    await p.waitForSelector(tid('call-e2ee'));
    await p.click(tid('call-join'));
  }
  const numbers = new Set();
  for (const name of MEMBERS) {
    const p = page(name);
    await p.waitForSelector(`${tid('call-state')}[data-state="connected"]`, { timeout: 30_000 });
    numbers.add(await p.getAttribute(tid('call-safety-number'), 'data-value'));
    assert.equal(await p.locator(tid('call-notice')).count(), 0, `${name}: fake devices should be granted`);
  }
  assert.equal(numbers.size, 1, `everyone sees the same room safety number: ${[...numbers]}`);
  assert.match([...numbers][0], /^\d{60}$/);
  // Each of A, B, C receives the three others' cameras (tiles on screen).
  for (const name of MEMBERS) {
    for (const other of MEMBERS.filter((n) => n !== name)) {
      await page(name).locator(`${tid('call-tile', { member: S.ids[other] })}[data-kind="camera"]`).first().waitFor({ timeout: 20_000 });
    }
  }
}, { timeout: 60_000 });

step('the coordinator joins to listen only: the others see its tile, which goes when it leaves', async () => {
  const p = page(COORD);
  S.ids[COORD] = await p.evaluate(() => window.__rempartCrisis.memberId());
  await p.click(tid('tab-call'));
  await p.click(tid('call-join-listen'));
  await p.waitForSelector(`${tid('call-state')}[data-state="connected"]`, { timeout: 30_000 });
  // Its own tile says it listens; nothing was asked of camera or microphone.
  await p.locator(`${tid('call-tile', { self: 'true', listening: 'true' })}`).waitFor({ timeout: 10_000 });
  assert.equal(await p.locator(tid('call-notice')).count(), 0, 'listening only asks for no device');
  for (const name of MEMBERS) {
    const tile = page(name).locator(tid('call-tile', { member: S.ids[COORD], listening: 'true' }));
    await tile.waitFor({ timeout: 15_000 });
    await tile.locator(tid('call-listening')).waitFor();
    assert.equal(await tile.locator('video').count(), 0, `${name}: a listener's tile shows initials, no video`);
  }
  await shot('A', 'call-listener');
  await p.click(tid('call-leave'));
  await p.waitForSelector(tid('call-ended', { reason: 'left' }));
  for (const name of MEMBERS) {
    await page(name).locator(tid('call-tile', { member: S.ids[COORD] })).waitFor({ state: 'detached', timeout: 15_000 });
  }
}, { timeout: 60_000 });

step('A, B and C decode each other\u2019s video and decrypt video and audio per person', async () => {
  for (const name of DECODERS) {
    const ids = others(name, DECODERS);
    await until(`${name} decoding frames from ${ids.map(nameOf)}`, async () => {
      const s = perPublisher(await callStats(name), ids);
      return ids.every((id) => s[id].framesDecoded > 0 && s[id].decVideo > 0 && s[id].decAudio > 0) ? s : '';
    }, 30_000, 500);
  }
  for (const name of DECODERS) {
    const s = await assertGrowing(name, DECODERS, ['framesDecoded', 'decVideo', 'decAudio', 'videoBytes']);
    S.samples[name] = s;
    console.log(`# ${name} before the removal: ${fmt(s)}`);
  }
  await shot('A', 'call', { phone: true });
}, { timeout: 60_000 });

step('K receives the packets but decrypts nothing and decodes no frame', async () => {
  const ids = others(KEYLESS, MEMBERS);
  const s1 = perPublisher(await callStats(KEYLESS), ids);
  await sleep(2000);
  const st = await callStats(KEYLESS);
  const s2 = perPublisher(st, ids);
  console.log(`# K: ${fmt(s2)}`);
  for (const n of DECODERS) {
    const id = S.ids[n];
    assert.ok(s2[id].videoBytes > 0 && s2[id].videoBytes > s1[id].videoBytes, `K should receive ${n}'s video bytes: ${fmt(s2)}`);
    assert.ok(s2[id].audioBytes > 0, `K should receive ${n}'s audio bytes: ${fmt(s2)}`);
    assert.equal(s2[id].framesDecoded, 0, `K decoded ${s2[id].framesDecoded} frames of ${n}`);
    assert.equal(s2[id].decVideo + s2[id].decAudio, 0, `K decrypted frames of ${n}: ${fmt(s2)}`);
  }
  const anyDecrypted = Object.values(st.media?.decrypted ?? {}).reduce((a, v) => a + (v.video ?? 0) + (v.audio ?? 0), 0);
  assert.equal(anyDecrypted, 0, `K's decrypted counters: ${JSON.stringify(st.media)}`);
  // K is told, per person, that it cannot decrypt (soft: the module throttles).
  const shown = await page(KEYLESS).locator(tid('call-decrypt-error')).count();
  console.log(`# K shows ${shown} "cannot decrypt" message(s)`);
  await shot(KEYLESS, 'call-keyless');
}, { timeout: 30_000 });

step('A mutes the microphone: B sees it on A\u2019s tile, then A unmutes', async () => {
  const a = page('A');
  const bTile = page('B').locator(`${tid('call-tile', { member: S.ids.A })}[data-kind="camera"]`);
  await a.click(tid('call-mic'));
  await a.waitForSelector(`${tid('call-mic')}[data-on="false"]`);
  await bTile.locator(tid('call-muted')).waitFor({ timeout: 10_000 });
  await a.click(tid('call-mic'));
  await bTile.locator(tid('call-muted')).waitFor({ state: 'detached', timeout: 10_000 });
}, { timeout: 30_000 });

/** Turns who's microphone on or off (the toolbar button), once it is in the other state. */
async function setMic(who, on) {
  const p = page(who);
  if ((await p.getAttribute(tid('call-mic'), 'data-on')) !== String(on)) await p.click(tid('call-mic'));
  await p.waitForSelector(`${tid('call-mic')}[data-on="${on}"]`);
}

/** Waits until every page of `on` shows `who` on the large tile. */
async function waitLarge(who, on, extra = {}) {
  for (const name of on) {
    await page(name).locator(tid('call-tile', { member: S.ids[who], large: 'true', ...extra })).first().waitFor({ timeout: 20_000 });
  }
}

step('the large tile follows the speaker: only A\u2019s microphone on, then only B\u2019s', async () => {
  // Every fake microphone plays the same voice; muted ones send silence and
  // the SFU leaves muted tracks out of its speaker detection.
  await setMic('A', true);
  for (const name of ['B', 'C', 'K']) await setMic(name, false);
  await waitLarge('A', ['B', 'C', 'K'], { speaking: 'true' });
  await shot('B', 'call-speaker-A');
  await setMic('B', true);
  await setMic('A', false);
  await waitLarge('B', ['A', 'C', 'K'], { speaking: 'true' });
  // A and B talk again for the steps that follow (audio counters).
  await setMic('A', true);
}, { timeout: 60_000 });

step('A shares its screen: B and C decode it and show it large; when A stops, it goes', async () => {
  const a = page('A');
  await a.click(tid('call-screen'));
  await a.waitForSelector(`${tid('call-screen')}[data-on="true"]`, { timeout: 10_000 });
  assert.equal(await a.locator(tid('call-notice', { notice: 'screen_denied' })).count(), 0, 'getDisplayMedia should succeed');
  await a.locator(tid('call-tile', { self: 'true', kind: 'screen' })).waitFor();
  const viewers = ['B', 'C'];
  await waitLarge('A', viewers, { kind: 'screen' });
  for (const name of viewers) {
    await until(`${name} decoding A's screen`, async () => {
      const s = perPublisher(await callStats(name), [S.ids.A]);
      return s[S.ids.A].screenFrames > 0 ? s : '';
    }, 20_000, 500);
  }
  for (const name of viewers) {
    const s = await assertGrowing(name, ['A', name], ['screenFrames', 'decVideo']);
    console.log(`# ${name} receiving A's screen: ${fmt(s)}`);
    // The large tile plays it: the <video> has a picture.
    const w = await page(name).locator(`${tid('call-tile', { member: S.ids.A, large: 'true', kind: 'screen' })} video`).evaluate((v) => v.videoWidth);
    assert.ok(w > 0, `${name}: the large screen tile shows no picture (videoWidth ${w})`);
  }
  await shot('B', 'call-screen', { phone: true });
  await a.click(tid('call-screen'));
  await a.waitForSelector(`${tid('call-screen')}[data-on="false"]`);
  for (const name of viewers) {
    await page(name).locator(tid('call-tile', { member: S.ids.A, kind: 'screen' })).waitFor({ state: 'detached', timeout: 15_000 });
    assert.equal(await page(name).locator(tid('call-tile', { large: 'true', kind: 'screen' })).count(), 0, `${name}: a screen is still large`);
  }
}, { timeout: 90_000 });

step('the coordinator removes C: C\u2019s call ends and its counters stop', async () => {
  await removeMember(page(COORD), S.ids[REMOVED]);
  const p = page(REMOVED);
  await p.waitForSelector(`${tid('call')}[data-ended="removed"]`, { timeout: 20_000 });
  await p.waitForSelector(tid('call-ended', { reason: 'removed' }));
  await shot(REMOVED, 'call-removed');
  const ids = others(REMOVED, DECODERS);
  const a = perPublisher(await callStats(REMOVED), ids);
  await sleep(3000);
  const st = await callStats(REMOVED);
  const b = perPublisher(st, ids);
  console.log(`# C after its removal: ${fmt(b)}`);
  assert.equal(st.state, 'ended');
  assert.equal(st.ended, 'removed');
  for (const id of ids) {
    for (const k of ['framesDecoded', 'decVideo', 'decAudio']) {
      assert.equal(b[id][k], a[id][k], `C's ${k} from ${nameOf(id)} still grows after the removal`);
    }
  }
}, { timeout: 40_000 });

step('A and B move to the new epoch and go on decoding each other', async () => {
  for (const name of REMAIN) {
    await until(`${name}'s call to be told epoch 2`, async () => (await callStats(name)).epoch === 2, 20_000, 300);
  }
  // C's tracks leave A's and B's calls.
  for (const name of REMAIN) {
    await page(name).locator(tid('call-tile', { member: S.ids[REMOVED] })).first().waitFor({ state: 'detached', timeout: 20_000 });
  }
  // Keys of the new epoch reach everyone in a moment: wait until counters
  // move again, then check they keep moving.
  await sleep(2000);
  for (const name of REMAIN) {
    const s = await assertGrowing(name, REMAIN, ['framesDecoded', 'decVideo', 'decAudio'], 4000);
    console.log(`# ${name} after the removal: ${fmt(s)}`);
  }
}, { timeout: 50_000 });

step('leaving the call ends it cleanly', async () => {
  const p = page('A');
  await p.click(tid('call-leave'));
  await p.waitForSelector(tid('call-ended', { reason: 'left' }));
  await page('B').locator(tid('call-tile', { member: S.ids.A })).first().waitFor({ state: 'detached', timeout: 20_000 });
}, { timeout: 30_000 });

test('no uncaught error in any page', () => {
  for (const d of Object.values(S.devices)) assert.deepEqual(d.pageErrors, [], `${d.name}: uncaught errors`);
  for (const d of Object.values(S.devices)) assert.deepEqual(d.outside, [], `${d.name}: requests to other hosts`);
});

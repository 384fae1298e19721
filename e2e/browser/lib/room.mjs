// Room set-up through the app's screens, shared by the suites that need a
// room with admitted members: the coordinator signs in and creates a room,
// makes invitations; members join and wait; the coordinator admits them
// after comparing safety numbers.
import assert from 'node:assert/strict';
import { tid, until } from './browser.mjs';

/** Signs the coordinator in (on dev's page) and creates a room; returns its id. */
export async function createRoom(dev, srv, account, title) {
  const p = dev.page;
  await p.goto(srv.crisisURL);
  await p.fill(tid('login-user'), account.user);
  await p.fill(tid('login-password'), account.password);
  await p.click(tid('login-submit'));
  await p.waitForSelector(tid('room-title'));
  await p.fill(tid('room-title'), title);
  await p.click(tid('room-create'));
  await p.waitForURL(/#\/room\/[A-Za-z0-9_-]{22}/);
  const room = p.url().match(/#\/room\/([A-Za-z0-9_-]{22})/)[1];
  await p.waitForSelector(tid('conn-status', { state: 'online' }));
  return room;
}

/** A new one-time invitation link, made on the coordinator's page. */
export async function invite(coordPage) {
  await coordPage.click(tid('tab-members'));
  const prev = await coordPage.locator(tid('invite-link')).inputValue({ timeout: 500 }).catch(() => '');
  await coordPage.click(tid('invite-create'));
  return until('a new invitation link', async () => {
    const v = await coordPage.locator(tid('invite-link')).inputValue({ timeout: 1000 }).catch(() => '');
    return v && v !== prev ? v : '';
  });
}

/** dev opens link, picks name and waits; returns {id, safety}. */
export async function requestToJoin(dev, link, name) {
  const p = dev.page;
  await p.goto(link);
  await p.fill(tid('join-name'), name);
  await p.click(tid('join-submit'));
  await p.waitForSelector(tid('waiting'));
  const safety = await until(`${name}'s safety number`, async () => {
    const v = await p.getAttribute(tid('my-safety-number'), 'data-value');
    return v && /^\d{60}$/.test(v) ? v : '';
  });
  const id = await p.evaluate(() => window.__rempartCrisis.memberId());
  return { id, safety };
}

/** The coordinator checks the request's safety number and admits it. */
export async function admit(coordPage, member) {
  await coordPage.click(tid('tab-members'));
  const item = coordPage.locator(tid('pending-item', { member: member.id }));
  await item.waitFor({ timeout: 20_000 });
  const sn = await until('the safety number of the request', async () => {
    const v = await item.locator(tid('pending-safety-number')).getAttribute('data-value');
    return v && v.length === 60 ? v : '';
  });
  assert.equal(sn, member.safety, 'the coordinator sees another safety number than the member');
  await item.locator(tid('admit')).click();
  await coordPage.locator(tid('member-item', { member: member.id })).waitFor();
}

/** The coordinator removes a member (members tab, confirmed). */
export async function removeMember(coordPage, id) {
  await coordPage.click(tid('tab-members'));
  await coordPage.locator(tid('member-item', { member: id })).locator(tid('remove-member')).click();
  await coordPage.click(tid('confirm-remove'));
  await coordPage.locator(tid('member-item', { member: id })).waitFor({ state: 'detached', timeout: 20_000 });
}

// Debian's chromium driven by playwright-core: one browser, one context per
// member (its own IndexedDB, so its own keys), console and page errors kept
// for the failure report, and every request to a host other than the server
// under test refused and recorded (the app must need nothing from outside).
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * media: true adds Chromium's fake camera and microphone (a test pattern and
 * a beep), granted without a prompt, and lets sound play without a click.
 * The same two flags make getDisplayMedia succeed without a picker: it
 * captures a fake screen (a moving test pattern, "screen:…", 1280×720).
 * audioFile: a WAV file the fake microphone plays in a loop instead of the
 * beep (every page of the browser hears the same file).
 */
export function launch({ media = false, audioFile } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(media ? ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'] : []),
      ...(media && audioFile ? [`--use-file-for-fake-audio-capture=${audioFile}`] : []),
    ],
  });
}

/** A member's device: a browser context and its current page. */
export class Device {
  constructor(name, ctx, origin) {
    this.name = name;
    this.ctx = ctx;
    this.origin = origin;
    this.logs = [];
    this.outside = []; // requests to other hosts (refused)
    this.pageErrors = []; // uncaught exceptions and unhandled rejections in its pages
    this.page = undefined;
  }

  static async open(browser, name, origin, locale = 'en-US', { permissions } = {}) {
    // ignoreHTTPSErrors: the server's certificate comes from its own local
    // CA; only 127.0.0.1 is ever reached (the route below refuses the rest).
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale, acceptDownloads: true, viewport: { width: 1100, height: 900 }, permissions });
    const d = new Device(name, ctx, origin);
    await d.refuseOtherHosts();
    await d.newPage();
    return d;
  }

  /** Refuses (and records in outside) every request of the context to a host other than the server under test. */
  async refuseOtherHosts() {
    await this.ctx.route('**/*', (route) => {
      const u = route.request().url();
      if (u.startsWith(this.origin + '/') || u === this.origin || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
      this.outside.push(u);
      this.log(`[blocked] request to another host: ${u}`);
      return route.abort('blockedbyclient');
    });
  }

  log(s) {
    this.logs.push(`${new Date().toISOString().slice(11, 23)} ${s}`);
  }

  async newPage() {
    const p = await this.ctx.newPage();
    p.on('console', (m) => this.log(`[console.${m.type()}] ${m.text()}`));
    p.on('pageerror', (e) => {
      this.pageErrors.push(e.stack || e.message);
      this.log(`[pageerror] ${e.stack || e.message}`);
    });
    p.on('requestfailed', (r) => this.log(`[requestfailed] ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    p.on('response', (r) => {
      if (r.status() >= 400) this.log(`[http ${r.status()}] ${r.request().method()} ${r.url()}`);
    });
    p.on('websocket', (ws) => {
      this.log(`[ws open] ${ws.url()}`);
      ws.on('close', () => this.log(`[ws close] ${ws.url()}`));
    });
    p.setDefaultTimeout(30_000);
    this.page = p;
    return p;
  }

  /** Screenshot and console log into dir (failure report). */
  async dump(dir, prefix) {
    const base = join(dir, `${prefix}-${this.name}`);
    writeFileSync(`${base}.console.txt`, this.logs.join('\n') + '\n');
    for (const [i, p] of this.ctx.pages().entries()) {
      try {
        await p.screenshot({ path: `${base}-${i}.png`, fullPage: true, timeout: 10_000 });
        writeFileSync(`${base}-${i}.url.txt`, p.url() + '\n');
      } catch (e) {
        writeFileSync(`${base}-${i}.screenshot-error.txt`, String(e) + '\n');
      }
    }
  }

  tail(n = 15) {
    return this.logs.slice(-n).map((l) => `    ${this.name}: ${l}`).join('\n');
  }
}

/** CSS selector for a data-testid, with optional attribute conditions. */
/** Fails if a device asked another host for anything or had an uncaught error in a page. */
export function assertDevicesClean(devices) {
  for (const d of Object.values(devices)) {
    assert.deepEqual(d.outside, [], `${d.name} requested other hosts`);
    assert.deepEqual(d.pageErrors, [], `${d.name} had uncaught errors`);
  }
}

export function tid(id, attrs = {}) {
  let s = `[data-testid="${id}"]`;
  for (const [k, v] of Object.entries(attrs)) s += `[data-${k}="${String(v).replace(/"/g, '\\"')}"]`;
  return s;
}

/** Polls fn (in Node) until it returns a truthy value. */
export async function until(what, fn, timeoutMs = 30_000, everyMs = 200) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

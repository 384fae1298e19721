// Ordered steps of a scenario that share one server and one room: each step
// is bounded in time; the first main step that fails makes the later ones
// skip (they need its state), a `soft` one does not, an `always` one runs
// anyway. On failure, every device's screenshot and console log, and the
// server's output, go to the artifacts folder, and the error names them.
import { test } from 'node:test';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkWebApp, createCoordinator, rempartBin, Server } from './server.mjs';

/**
 * steps({art, devices, server}) returns step(name, fn, {timeout, always,
 * soft}) and run, whose `broken` (the first failed main step) and
 * `failures` (how many failed) the suite's after() reads. devices() and
 * server() give the suite's current Device map and Server.
 */
export function steps({ art, devices, server, defaultTimeout = 60_000 }) {
  const run = { broken: '', failures: 0 };
  function step(name, fn, { timeout = defaultTimeout, always = false, soft = false } = {}) {
    test(name, { timeout: timeout + 30_000 }, async (t) => {
      if (run.broken && !always) {
        t.skip(`needs an earlier step, which failed: ${run.broken}`);
        return;
      }
      let timer;
      try {
        await Promise.race([
          fn(t),
          new Promise((_, rej) => {
            timer = setTimeout(() => rej(new Error(`step "${name}" timed out after ${timeout} ms`)), timeout);
          }),
        ]);
      } catch (e) {
        run.failures++;
        if (!soft && !run.broken) run.broken = name;
        await report(e, name, run.failures, art, Object.values(devices()), server());
        throw e;
      } finally {
        clearTimeout(timer);
      }
    });
  }
  return { step, run };
}

/** Leaves screenshots, console logs and the server's output in art; adds where to the error. */
async function report(e, name, n, art, devs, srv) {
  const prefix = `fail${n}-${name.replace(/[^A-Za-z0-9]+/g, '_').slice(0, 50)}`;
  const tails = [];
  for (const d of devs) {
    await d.dump(art, prefix).catch(() => undefined);
    tails.push(d.tail());
  }
  if (srv) writeFileSync(join(art, `${prefix}-server-output.txt`), srv.out);
  const more = `\n  screenshots and console logs: ${art}/${prefix}-*\n  last console lines:\n${tails.join('\n')}`;
  if (e instanceof Error) {
    e.message += more;
    if (typeof e.stack === 'string') e.stack += more;
  }
}

/**
 * For a suite's before() that makes its own accounts (the console's):
 * starts `rempart server` with a fresh data folder in art and checks that
 * it serves the web app. Returns the Server.
 */
export async function startBareServer(art) {
  const srv = new Server({ bin: rempartBin(), data: join(art, 'data'), home: join(art, 'home'), logFile: join(art, 'server.log') });
  await srv.start();
  await checkWebApp(srv);
  return srv;
}

/**
 * For a suite's before(): startBareServer, then the coordinator account.
 * Returns {srv, account}.
 */
export async function startServer(art) {
  const srv = await startBareServer(art);
  return { srv, account: await createCoordinator(srv) };
}

/**
 * For a suite's after(): every device's console log into art, the browser
 * and the server stopped; art is removed when every step passed (unless
 * BROWSER_E2E_KEEP=1), else its path is printed.
 */
export async function endSuite({ art, label, devices, browser, srv, run }) {
  for (const d of Object.values(devices)) writeFileSync(join(art, `console-${d.name}.txt`), d.logs.join('\n') + '\n');
  await browser?.close().catch(() => undefined);
  await srv?.kill();
  if (!run.failures && !run.broken && process.env.BROWSER_E2E_KEEP !== '1') rmSync(art, { recursive: true, force: true });
  else console.log(`# ${label}: artifacts kept in ${art}`);
}

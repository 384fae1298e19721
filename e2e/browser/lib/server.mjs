// The real `rempart server`, started and stopped by the tests, and the
// `rempart` command line used to prepare it (admin sign-in, coordinator
// account). Everything listens on 127.0.0.1 only; the CLI gets a private
// HOME and XDG_CONFIG_HOME.
import { spawn, execFile } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { once } from 'node:events';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(fileURLToPath(new URL('../../../', import.meta.url)));

/** The rempart binary under test: $REMPART_BIN, or bin/rempart (built by scripts/browser-e2e.sh). */
export function rempartBin() {
  // Absolute: the server runs in its own HOME folder (REMPART_BIN=../../bin/rempart works).
  const bin = resolve(process.env.REMPART_BIN || join(REPO, 'bin', 'rempart'));
  if (!existsSync(bin)) {
    throw new Error(`${bin} does not exist: run the suite with scripts/browser-e2e.sh (it builds the web app and the binary), or set REMPART_BIN`);
  }
  return bin;
}

export const ADMIN_PASSWORD = 'browser e2e admin password 1';

const LISTEN_RE = /listening on (https:\/\/\S+)/;
const FP_RE = /CA fingerprint \(SHA-256\): ([0-9A-F:]{95})/;
const CRISIS_RE = /Crisis room \(web app\): (https:\/\/\S+)/;

/**
 * A `rempart server` subprocess. start() waits for the start-up message
 * (URL, CA fingerprint, crisis room URL, "Stop with Ctrl-C").
 */
export class Server {
  constructor({ bin, data, home, logFile }) {
    this.bin = bin;
    this.data = data;
    this.home = home;
    this.logFile = logFile;
    this.out = '';
    this.proc = undefined;
    this.url = '';
    this.fp = '';
    this.crisisURL = '';
    this.port = 0;
    mkdirSync(data, { recursive: true, mode: 0o700 });
    mkdirSync(home, { recursive: true, mode: 0o700 });
  }

  env(extra = {}) {
    return {
      PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: this.home,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      TMPDIR: process.env.TMPDIR ?? '/tmp',
      LANG: 'C.UTF-8',
      ...extra,
    };
  }

  /** Starts the server on 127.0.0.1:port (0: a free port). */
  async start(port = 0, timeoutMs = 60_000) {
    if (this.proc) throw new Error('server already running');
    const args = ['server', '--listen', `127.0.0.1:${port}`, '--data', this.data];
    const proc = spawn(this.bin, args, {
      env: this.env({ REMPART_ADMIN_PASSWORD: ADMIN_PASSWORD }),
      cwd: this.home,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.exited = once(proc, 'exit').then(([code, signal]) => {
      this.proc = undefined;
      this.log(`\n--- rempart server exited: code ${code}, signal ${signal}\n`);
      return { code, signal };
    });
    this.log(`\n--- ${new Date().toISOString()} ${this.bin} ${args.join(' ')}\n`);
    const ready = new Promise((res, rej) => {
      let buf = '';
      const timer = setTimeout(() => rej(new Error(`rempart server did not print its URL within ${timeoutMs} ms:\n${this.out}`)), timeoutMs);
      const onData = (chunk) => {
        const s = chunk.toString();
        this.out += s;
        this.log(s);
        if (this.ready) return;
        buf += s;
        const url = buf.match(LISTEN_RE);
        const fp = buf.match(FP_RE);
        const crisis = buf.match(CRISIS_RE);
        if (url && fp && crisis && buf.includes('Stop with Ctrl-C')) {
          clearTimeout(timer);
          this.ready = true;
          res({ url: url[1], fp: fp[1], crisis: crisis[1] });
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        rej(new Error(`rempart server exited (code ${code}, signal ${signal}) before it was ready:\n${this.out}`));
      });
    });
    this.ready = false;
    const info = await ready;
    this.url = info.url;
    this.fp = info.fp;
    this.crisisURL = info.crisis;
    const u = new URL(this.url);
    if (u.hostname !== '127.0.0.1') throw new Error(`server listens on ${u.hostname}, want 127.0.0.1`);
    // The calls' UDP port (when the server prints one) must be on loopback too.
    const udp = this.out.match(/\bUDP (\S+):(\d+)/);
    if (udp && udp[1] !== '127.0.0.1') throw new Error(`the server's UDP port is on ${udp[1]}:${udp[2]}, want 127.0.0.1 only`);
    this.port = Number(u.port);
    return this;
  }

  /** Starts again on the same port (the browsers' data is per origin). */
  async restart() {
    const port = this.port;
    let last;
    for (let i = 0; i < 10; i++) {
      try {
        return await this.start(port);
      } catch (e) {
        last = e;
        if (!/address already in use/i.test(String(e.message))) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    throw last;
  }

  /** SIGTERM, then a clean exit within timeoutMs (SIGKILL after that). */
  async stop(timeoutMs = 30_000) {
    if (!this.proc) return { code: 0, signal: null };
    const proc = this.proc;
    proc.kill('SIGTERM');
    let timer;
    const killed = new Promise((res) => {
      timer = setTimeout(() => {
        proc.kill('SIGKILL');
        res('killed');
      }, timeoutMs);
    });
    const r = await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    if (r === 'killed') {
      await this.exited;
      throw new Error(`rempart server did not stop within ${timeoutMs} ms of SIGTERM`);
    }
    if (r.code !== 0) throw new Error(`rempart server exited ${r.code} (signal ${r.signal}) after SIGTERM:\n${this.out.slice(-4000)}`);
    return r;
  }

  /** Kills the server if it still runs (cleanup). */
  async kill() {
    if (!this.proc) return;
    this.proc.kill('SIGKILL');
    await this.exited;
  }

  log(s) {
    if (this.logFile) appendFileSync(this.logFile, s);
  }

  /** Runs the rempart CLI with this server's private HOME; rejects on a non-zero exit. */
  cli(args, env = {}, timeoutMs = 60_000) {
    return new Promise((res, rej) => {
      execFile(this.bin, args, { env: this.env(env), cwd: this.home, timeout: timeoutMs }, (err, stdout, stderr) => {
        this.log(`\n--- rempart ${args.join(' ')}\n${stdout}${stderr}`);
        if (err) rej(new Error(`rempart ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
        else res({ stdout, stderr });
      });
    });
  }
}

/**
 * GET url from the server, trusting only its own local CA (data/ca/ca.crt).
 * Resolves {status, headers, body}.
 */
export function fetchFromServer(srv, url) {
  const ca = readFileSync(join(srv.data, 'ca', 'ca.crt'));
  return new Promise((res, rej) => {
    const req = httpsGet(url, { ca, timeout: 15_000 }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('end', () => res({ status: r.statusCode, headers: r.headers, body: Buffer.concat(chunks).toString('utf8') }));
      r.on('error', rej);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 15 s`)));
    req.on('error', rej);
  });
}

/**
 * Fails at once, and clearly, when the binary serves no built web app (a
 * binary built before web/dist: go:embed then holds only .gitkeep).
 */
export async function checkWebApp(srv) {
  const r = await fetchFromServer(srv, srv.crisisURL);
  if (r.status !== 200 || !/<script[^>]+src=/i.test(r.body)) {
    throw new Error(
      `${srv.crisisURL} answers ${r.status} without the app's script: this rempart binary embeds no built web app ` +
        `(build web/dist first: make build, or scripts/browser-e2e.sh). Body:\n${r.body.slice(0, 500)}`,
    );
  }
}

/**
 * Signs the CLI in as admin (pinning the CA fingerprint) and creates an
 * account with the role coordinator; returns its name and password.
 */
export async function createCoordinator(srv, name = 'cellule-crise', password = 'coordinator password of the test 7') {
  await srv.cli(['login', srv.url, '--user', 'admin', '--ca-fingerprint', srv.fp], { REMPART_LOGIN_PASSWORD: ADMIN_PASSWORD });
  await srv.cli(['account', 'create', name, '--role', 'coordinator'], { REMPART_NEW_PASSWORD: password });
  return { user: name, password };
}

/** Runs the tamper helper (e2e/browser/tamper) on a stopped server's database. */
export function tamper(dbPath, hash) {
  const bin = process.env.REMPART_TAMPER_BIN;
  const [cmd, args] = bin ? [bin, []] : ['go', ['run', './e2e/browser/tamper']];
  return new Promise((res, rej) => {
    execFile(cmd, [...args, '--db', dbPath, '--hash', hash], { cwd: REPO, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`tamper: ${err.message}\n${stdout}${stderr}`));
      else res(JSON.parse(stdout));
    });
  });
}

export function writeFile(path, s) {
  writeFileSync(path, s);
}

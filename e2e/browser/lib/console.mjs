// Shared set-up of the console's browser tests (console.test.mjs,
// console-plan.test.mjs): one-time codes, the rempart CLI run in a person's
// or a machine's own HOME, accounts with a second factor, enrolled machines
// with a repository on the server, plans applied by the admin.
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * consoleKit binds the helpers to a suite's state S ({srv, accounts,
 * agents}), its artifacts folder, its run id and its repository password.
 */
export function consoleKit(S, { art: ART, run: RUN, repoPassword: REPO_PASSWORD }) {
  // RFC 6238 with the authenticator apps' parameters (SHA-1, 6 digits, 30 s).
  function base32(s) {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0;
    let value = 0;
    const out = [];
    for (const c of s.replace(/=+$/, '').toUpperCase()) {
      value = (value << 5) | alphabet.indexOf(c);
      bits += 5;
      if (bits >= 8) {
        out.push((value >>> (bits - 8)) & 0xff);
        bits -= 8;
      }
    }
    return Buffer.from(out);
  }
  function totp(secret, step) {
    const msg = Buffer.alloc(8);
    msg.writeBigUInt64BE(BigInt(step));
    const h = createHmac('sha1', base32(secret)).update(msg).digest();
    const off = h[h.length - 1] & 0xf;
    return String((h.readUInt32BE(off) & 0x7fffffff) % 1_000_000).padStart(6, '0');
  }
  const nowStep = () => Math.floor(Date.now() / 30_000);

  /** Runs the rempart CLI in its own HOME (a person's or a machine's); resolves {code, stdout, stderr}. */
  function cli(home, args, env = {}) {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    return new Promise((res) => {
      execFile(
        S.srv.bin,
        args,
        { env: S.srv.env({ HOME: home, XDG_CONFIG_HOME: join(home, '.config'), ...env }), cwd: home, timeout: 120_000 },
        (err, stdout, stderr) => {
          S.srv.log(`\n--- [${home}] rempart ${args.join(' ')}\n${stdout}${stderr}`);
          res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
        },
      );
    });
  }
  async function cliOK(home, args, env = {}) {
    const r = await cli(home, args, env);
    if (r.code !== 0) throw new Error(`rempart ${args.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    return r;
  }
  const adminHome = () => S.srv.home;

  /** An account with a second factor, made by the admin; signs in with the CLI once to turn TOTP on. */
  async function account(name, role, tenant) {
    const password = `console e2e ${name} password ${RUN}`;
    await cliOK(adminHome(), ['--json', 'account', 'create', name, '--role', role, ...(tenant ? ['--tenant', tenant] : [])], {
      REMPART_NEW_PASSWORD: password,
    });
    const home = join(ART, 'people', name);
    await cliOK(home, ['login', S.srv.url, '--user', name, '--ca-fingerprint', S.srv.fp], { REMPART_LOGIN_PASSWORD: password });
    const { secret } = JSON.parse((await cliOK(home, ['--json', 'account', 'totp', 'enable'])).stdout);
    await cliOK(home, ['account', 'totp', 'confirm', '--code', totp(secret, nowStep())]);
    S.accounts[name] = { name, password, secret, lastStep: 0 };
    return S.accounts[name];
  }

  /** A machine of a tenant: enrolled, with its repository on the server. */
  async function machine(host, tenant) {
    const { token } = JSON.parse((await cliOK(adminHome(), ['--json', 'agent', 'enroll', '--tenant', tenant])).stdout);
    const home = join(ART, 'machines', host);
    const env = { REMPART_REPO: `${S.srv.url}/${tenant}`, REMPART_PASSWORD: REPO_PASSWORD };
    await cliOK(home, ['agent', 'join', S.srv.url, token, '--ca-fingerprint', S.srv.fp, '--host', host], env);
    await cliOK(home, ['--json', 'init'], env);
    const data = join(home, 'partages');
    mkdirSync(join(data, 'Finances'), { recursive: true });
    for (let i = 0; i < 6; i++) {
      writeFileSync(join(data, 'Finances', `budget-${i}.txt`), `Budget primitif ${i} de ${tenant}, section de fonctionnement.\n`.repeat(40));
    }
    S.agents[host] = { home, env, data, tenant };
    return S.agents[host];
  }

  async function applyPlan(tenant, yaml) {
    const f = join(ART, `plan-${tenant}.yaml`);
    writeFileSync(f, yaml);
    await cliOK(adminHome(), ['plan', 'apply', '-f', f, '--tenant', tenant, '--note', 'console e2e']);
  }

  return { totp, nowStep, cli, cliOK, adminHome, account, machine, applyPlan };
}

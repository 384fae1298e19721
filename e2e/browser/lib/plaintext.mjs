// Looks for plaintext in the server's data folder: every file (the SQLite
// database, its WAL and shared memory, attachments, certificates...) read as
// bytes, searched for each secret as UTF-8, UTF-16LE, and in base64 and
// base64url at each of the three byte alignments (content sent "encoded"
// but not encrypted would show there).
import { readdirSync, readFileSync, lstatSync } from 'node:fs';
import { join, relative } from 'node:path';

export function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The byte patterns that would give the secret away. */
export function patterns(secret) {
  const raw = Buffer.from(secret, 'utf8');
  const pats = [
    { how: 'utf-8', bytes: raw },
    { how: 'utf-16le', bytes: Buffer.from(secret, 'utf16le') },
  ];
  for (const pad of [0, 1, 2]) {
    const padded = Buffer.concat([Buffer.alloc(pad), raw]);
    const full = Math.floor(padded.length / 3) * 4; // characters fully determined by the secret's bytes
    const skip = [0, 2, 3][pad]; // characters that mix in the unknown bytes before
    for (const enc of ['base64', 'base64url']) {
      const s = padded.toString(enc).slice(skip, full);
      if (s.length >= 8) pats.push({ how: `${enc} (alignment ${pad})`, bytes: Buffer.from(s, 'latin1') });
    }
  }
  return pats;
}

/**
 * Returns [{file, secret, how, offset}] for every secret found in a file
 * under dir. Also returns the list of files read.
 */
export function scan(dir, secrets) {
  const files = listFiles(dir);
  const hits = [];
  const pats = secrets.map((s) => [s, patterns(s)]);
  for (const f of files) {
    let buf;
    try {
      buf = readFileSync(f);
    } catch (e) {
      if (e.code === 'ENOENT') continue; // a WAL that went away
      throw e;
    }
    for (const [secret, ps] of pats) {
      for (const p of ps) {
        const at = buf.indexOf(p.bytes);
        if (at >= 0) hits.push({ file: relative(dir, f), secret, how: p.how, offset: at });
      }
    }
  }
  return { files: files.map((f) => relative(dir, f)), hits };
}

// Signed objects: {"body": "<JSON text>", "sig": "<b64u>"} with
// sig = Ed25519(sign_priv, enc(LABEL, room, body)). The body is kept as the
// exact text that was signed; readers verify, then parse.
import { b64u, enc, fromB64u, utf8 } from './bytes';
import { ed25519Sign, ed25519Verify, importSignPub } from './keys';
import { LABEL_JOIN, VERSION } from './labels';

export interface Signed {
  body: string;
  sig: string;
}

export function signingInput(label: string, room: string, body: string | Uint8Array): Uint8Array {
  return enc(label, room, typeof body === 'string' ? utf8(body) : body);
}

export async function signObject(priv: CryptoKey, label: string, room: string, obj: unknown): Promise<Signed> {
  const body = JSON.stringify(obj);
  const sig = await ed25519Sign(priv, signingInput(label, room, body));
  return { body, sig: b64u(sig) };
}

/** Verifies a signed object with a public key (b64u). Never throws. */
export async function verifySigned(signPubB64u: string, label: string, room: string, s: Signed): Promise<boolean> {
  try {
    if (typeof s?.body !== 'string' || typeof s?.sig !== 'string') return false;
    const key = await importSignPub(signPubB64u);
    return await ed25519Verify(key, fromB64u(s.sig), signingInput(label, room, s.body));
  } catch {
    return false;
  }
}

export class FormatError extends Error {}

/**
 * Parses a verified body and checks its version. A version this program does
 * not know is refused with a message that says what to do.
 */
export function parseBody<T extends { v: number }>(body: string): T {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new FormatError('malformed message (not JSON)');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError('malformed message (not an object)');
  const ver = (v as { v?: unknown }).v;
  if (ver !== VERSION) {
    throw new FormatError(
      `message in format version ${String(ver)}; this app reads version ${VERSION}: reload the page to get the server's current app`,
    );
  }
  return v as T;
}

/** Join proof: Ed25519(sign_priv, enc(LABEL_JOIN, room, name, sign_pub, dh_pub)). */
export async function joinProof(
  signPriv: CryptoKey,
  room: string,
  name: string,
  signPub: Uint8Array,
  dhPub: Uint8Array,
): Promise<string> {
  return b64u(await ed25519Sign(signPriv, enc(LABEL_JOIN, room, name, signPub, dhPub)));
}

export async function verifyJoinProof(
  room: string,
  name: string,
  signPubB64u: string,
  dhPubB64u: string,
  proof: string,
): Promise<boolean> {
  try {
    const key = await importSignPub(signPubB64u);
    return await ed25519Verify(
      key,
      fromB64u(proof),
      enc(LABEL_JOIN, room, name, fromB64u(signPubB64u), fromB64u(dhPubB64u)),
    );
  } catch {
    return false;
  }
}

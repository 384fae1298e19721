# Independent check of sframe_vectors.json with Python's `cryptography` package
# (neither Go nor TypeScript), straight from RFC 9605 and docs/crisis-e2ee.md
# ("Media"): python3 internal/crisis/e2ee/testdata/sframe_crosscheck.py
import json, os, base64, hmac, hashlib
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

v = json.load(open(os.path.join(os.path.dirname(__file__), "sframe_vectors.json")))
H = bytes.fromhex
ub = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
SUITES = {4: (hashlib.sha256, 16), 5: (hashlib.sha512, 32)}

def header(kid, ctr):
    def field(x):
        n = max(1, (x.bit_length() + 7) // 8)
        return n, x.to_bytes(n, "big")
    cfg, out = 0, b""
    if kid < 8: cfg |= kid << 4
    else:
        n, b = field(kid); cfg |= 0x80 | (n - 1) << 4; out += b
    if ctr < 8: cfg |= ctr
    else:
        n, b = field(ctr); cfg |= 0x08 | (n - 1); out += b
    return bytes([cfg]) + out

def expand(h, prk, info, n):
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), h).digest(); out += t; i += 1
    return out[:n]

def derive(suite, kid, base):
    h, nk = SUITES[suite]
    prk = hmac.new(b"\0" * h().digest_size, base, h).digest()
    tail = kid.to_bytes(8, "big") + suite.to_bytes(2, "big")
    return prk, expand(h, prk, b"SFrame 1.0 Secret key " + tail, nk), expand(h, prk, b"SFrame 1.0 Secret salt " + tail, 12)

def seal(suite, kid, ctr, base, meta, pt):
    _, key, salt = derive(suite, kid, base)
    nonce = bytes(a ^ b for a, b in zip(salt, ctr.to_bytes(12, "big")))
    hdr = header(kid, ctr)
    return nonce, hdr + meta, hdr + AESGCM(key).encrypt(nonce, pt, hdr + meta)

for h in v["rfc9605_c1_headers"] + v["headers"]:
    assert header(int(h["kid_hex"], 16), int(h["ctr_hex"], 16)).hex() == h["header"], h
for r in v["rfc9605_c3"]:
    kid, ctr = int(r["kid_hex"], 16), int(r["ctr_hex"], 16)
    prk, key, salt = derive(r["cipher_suite"], kid, H(r["base_key"]))
    assert (prk.hex(), key.hex(), salt.hex()) == (r["sframe_secret"], r["sframe_key"], r["sframe_salt"]), r["cipher_suite"]
    nonce, aad, ct = seal(r["cipher_suite"], kid, ctr, H(r["base_key"]), H(r["metadata"]), H(r["pt"]))
    assert (nonce.hex(), aad.hex(), ct.hex()) == (r["nonce"], r["aad"], r["ct"]), r["cipher_suite"]
for m in v["media"]:
    assert m["kid"] == (m["epoch"] << 16 | m["gen"]) and ub(m["media_key_b64u"]).hex() == m["base_key_hex"]
    _, key, salt = derive(5, m["kid"], H(m["base_key_hex"]))
    assert (key.hex(), salt.hex()) == (m["sframe_key"], m["sframe_salt"]), m["note"]
    assert seal(5, m["kid"], m["ctr"], H(m["base_key_hex"]), b"", H(m["pt"]))[2].hex() == m["ct"], m["note"]
c = json.loads(v["media_key_content"])
assert c["t"] == "media_key" and c["suite"] == v["media_suite"] == 5 and len(ub(c["key"])) == 32
print("sframe_vectors.json: all vectors recomputed independently")

# Independent check of vectors.json with Python's `cryptography` package (not Go):
# python3 internal/crisis/e2ee/testdata/crosscheck.py  (run from the repository root).
# It recomputes every vector from the spec (docs/crisis-e2ee.md) and the
# file's inputs; a third implementation beside Go and TypeScript.
import json, hashlib, hmac, struct, base64
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
v=json.load(open(__import__("os").path.join(__import__("os").path.dirname(__file__), "vectors.json")))
H=bytes.fromhex; b64=lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
ub=lambda s: base64.urlsafe_b64decode(s+'='*(-len(s)%4))
def enc(*fs):
    out=b''
    for f in fs:
        if isinstance(f,str): f=f.encode()
        elif isinstance(f,int): f=str(f).encode()
        out+=struct.pack('>I',len(f))+f
    return out
raw=lambda k: k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
ids={}
for n,iv in v['identities'].items():
    s=Ed25519PrivateKey.from_private_bytes(H(iv['sign_seed_hex'])); d=X25519PrivateKey.from_private_bytes(H(iv['dh_priv_hex']))
    sp,dp=raw(s),raw(d); assert b64(sp)==iv['sign'] and b64(dp)==iv['dh']
    assert b64(hashlib.sha256(sp).digest()[:16])==iv['id']
    h=hashlib.sha512(enc('rempart-crisis-fpr-v1',sp,dp)).digest()
    sn=' '.join('%05d'%(int.from_bytes(h[5*k:5*k+5],'big')%100000) for k in range(12))
    assert sn==iv['safety_number'],(sn,iv['safety_number'])
    ids[n]=(s,d,sp,dp,iv['id'])
j=v['join_proof']; s,d,sp,dp,i=ids[j['who']]
assert b64(s.sign(enc('rempart-crisis-join-v1',j['room'],j['name'],sp,dp)))==j['proof']
r=v['roster']; s=ids[r['signer']][0]
assert b64(s.sign(enc('rempart-crisis-roster-v1',r['room'],r['body'])))==r['sig']
rb=json.loads(r['body']); ms=sorted(rb['members'],key=lambda m:m['id'])
fs=['rempart-crisis-room-v1',rb['room'],rb['epoch']]
for m in ms: fs+= [m['id'],ub(m['sign']),ub(m['dh'])]
h=hashlib.sha512(enc(*fs)).digest()
assert ' '.join('%05d'%(int.from_bytes(h[5*k:5*k+5],'big')%100000) for k in range(12))==r['room_safety_number']
w=v['wrap']; eph=X25519PrivateKey.from_private_bytes(H(w['eph_priv_hex'])); rs,rd,rsp,rdp,rid=ids[w['recipient']]
sh=eph.exchange(X25519PublicKey.from_public_bytes(rdp)); assert sh.hex()==w['shared_hex']
info=enc('rempart-crisis-wrap-v1',w['room'],w['epoch'],ids[w['sender']][4],rid); assert info.hex()==w['info_hex']
kek=HKDF(hashes.SHA256(),32,raw(eph)+rdp,info).derive(sh); assert kek.hex()==w['kek_hex']
pt=struct.pack('>I',w['chain_index'])+H(w['chain_key_hex'])
assert AESGCM(kek).encrypt(H(w['nonce_hex']),pt,info).hex()==w['ct_hex']
# recipient side
sh2=rd.exchange(X25519PublicKey.from_public_bytes(ub(w['eph_pub']))); assert sh2==sh
assert b64(ids[w['sender']][0].sign(enc('rempart-crisis-wraps-v1',w['room'],w['bundle']['body'])))==w['bundle']['sig']
ck=H(v['ratchet']['ck0_hex'])
for k in range(4):
    assert hmac.new(ck,b'\x01',hashlib.sha256).hexdigest()==v['ratchet']['mk_hex'][k]
    ck=hmac.new(ck,b'\x02',hashlib.sha256).digest(); assert ck.hex()==v['ratchet']['ck_hex'][k]
c=v['content']; e=v['envelope']
ck=H(e['chain_key_hex']); assert hmac.new(ck,b'\x01',hashlib.sha256).hexdigest()==c['mk_hex']
aad=enc('rempart-crisis-content-v1',e['room'],e['epoch'],ids[e['sender']][4],e['seq'],e['chain_index']); assert aad.hex()==c['aad_hex']
assert AESGCM(H(c['mk_hex'])).encrypt(H(c['nonce_hex']),c['plaintext'].encode(),aad).hex()==c['ct_hex']
assert b64(ids[e['sender']][0].sign(enc('rempart-crisis-envelope-v1',e['room'],e['body'])))==e['sig']
assert b64(hashlib.sha256(e['body'].encode()).digest())==e['hash']
eb=json.loads(e['body']); assert ub(eb['ct']).hex()==c['ct_hex'] and eb['i']==e['chain_index']
b=v['blob']; pt=bytes(k%251 for k in range(b['size'])); key=AESGCM(H(b['key_hex'])); out=b''
chunks=[pt[k:k+65536] for k in range(0,len(pt),65536)] or [b'']
for n,ch in enumerate(chunks):
    out+=key.encrypt(b'\0'*4+struct.pack('>Q',n),ch,enc('rempart-crisis-blob-v1',n,'1' if n==len(chunks)-1 else '0'))
assert len(out)==b['ct_size'] and hashlib.sha256(out).hexdigest()==b['ct_sha256_hex'] and out[:64].hex()==b['ct_first64_hex'] and b64(hashlib.sha256(out).digest())==b['id']
for ev in v['enc']:
    fs=[f['str'] if 'str' in f else f['int'] if 'int' in f else H(f['hex']) for f in ev['fields']]
    assert enc(*fs).hex()==ev['hex']
print("all vectors independently verified")

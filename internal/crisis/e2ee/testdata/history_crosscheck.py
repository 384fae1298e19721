# Independent check of history_vectors.json (history share v1) with Python's
# `cryptography` package (not Go):
# python3 internal/crisis/e2ee/testdata/history_crosscheck.py  (from the repository root).
import json, hashlib, hmac, struct, base64, os
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
v=json.load(open(os.path.join(os.path.dirname(__file__), "history_vectors.json")))
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
for n,i in v['identities'].items():
    s=Ed25519PrivateKey.from_private_bytes(hashlib.sha256(('rempart vector %s sign'%n).encode()).digest())
    d=X25519PrivateKey.from_private_bytes(hashlib.sha256(('rempart vector %s dh'%n).encode()).digest())
    assert b64(hashlib.sha256(raw(s)).digest()[:16])==i
    ids[n]=(s,d,raw(s),raw(d),i)
room=v['room']; a=ids[v['sender']]; b=ids[v['recipient']]
eph=X25519PrivateKey.from_private_bytes(H(v['eph_priv_hex'])); assert b64(raw(eph))==v['eph_pub']
sh=eph.exchange(X25519PublicKey.from_public_bytes(b[3])); assert sh.hex()==v['shared_hex']
assert b[1].exchange(X25519PublicKey.from_public_bytes(raw(eph)))==sh
info=enc('rempart-crisis-history-key-v1',room,a[4],b[4],v['from']); assert info.hex()==v['info_hex']
assert (raw(eph)+b[3]).hex()==v['salt_hex']
kek=HKDF(hashes.SHA256(),32,raw(eph)+b[3],info).derive(sh); assert kek.hex()==v['kek_hex']
pt=enc(*[x for k in v['keys'] for x in (k['sender_id'],k['epoch'],k['chain_index'],H(k['chain_key_hex']))])
assert pt.hex()==v['plaintext_hex']
assert AESGCM(kek).encrypt(H(v['nonce_hex']),pt,info).hex()==v['ct_hex']
body=v['bundle']['body']; bb=json.loads(body)
assert bb['v']==1 and bb['room']==room and bb['sender']==a[4] and bb['to']==b[4] and bb['from']==v['from']
assert ub(bb['ct']).hex()==v['ct_hex'] and bb['eph']==v['eph_pub'] and ub(bb['nonce']).hex()==v['nonce_hex']
si=enc('rempart-crisis-history-v1',room,body); assert si.hex()==v['signing_input_hex']
assert b64(a[0].sign(si))==v['bundle']['sig']
for f in bb['former']:
    assert b64(hashlib.sha256(ub(f['sign'])).digest()[:16])==f['id'] and 1<=f['since']<f['removed']
# carol's entry opens with the shared (carol, epoch 1) key
e=json.loads(v['envelope']['body']); c=ids['carol']
k=[k for k in v['keys'] if k['sender']=='carol' and k['epoch']==e['epoch']][0]
ck=H(k['chain_key_hex'])
for _ in range(e['i']-k['chain_index']): ck=hmac.new(ck,b'\x02',hashlib.sha256).digest()
mk=hmac.new(ck,b'\x01',hashlib.sha256).digest()
aad=enc('rempart-crisis-content-v1',room,e['epoch'],c[4],e['seq'],e['i'])
assert AESGCM(mk).decrypt(ub(e['nonce']),ub(e['ct']),aad).decode()==v['envelope_content']
Ed25519PublicKey.from_public_bytes(c[2]).verify(ub(v['envelope']['sig']),enc('rempart-crisis-envelope-v1',room,v['envelope']['body']))
print('history_vectors.json: all checks passed')

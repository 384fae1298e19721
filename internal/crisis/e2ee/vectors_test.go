package e2ee

import (
	"bytes"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"testing"
)

// The vectors file is read by the TypeScript tests too (web/ reads it by a
// relative path): keep its path and field names stable.
const vectorsPath = "testdata/vectors.json"

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

type encField struct {
	Str *string `json:"str,omitempty"`
	Int *int64  `json:"int,omitempty"`
	Hex *string `json:"hex,omitempty"`
}

type encVector struct {
	Fields []encField `json:"fields"`
	Hex    string     `json:"hex"`
}

type identityVector struct {
	SignSeedHex  string `json:"sign_seed_hex"`
	DHPrivHex    string `json:"dh_priv_hex"`
	Sign         string `json:"sign"`
	DH           string `json:"dh"`
	ID           string `json:"id"`
	SafetyNumber string `json:"safety_number"`
	QR           string `json:"qr"`
}

type joinVector struct {
	Who      string `json:"who"`
	Room     string `json:"room"`
	Name     string `json:"name"`
	InputHex string `json:"input_hex"`
	Proof    string `json:"proof"`
}

type rosterVector struct {
	Signer           string `json:"signer"`
	Room             string `json:"room"`
	Body             string `json:"body"`
	Sig              string `json:"sig"`
	SigningInputHex  string `json:"signing_input_hex"`
	RoomSafetyNumber string `json:"room_safety_number"`
}

type wrapVector struct {
	Room         string `json:"room"`
	Epoch        int64  `json:"epoch"`
	Sender       string `json:"sender"`
	Recipient    string `json:"recipient"`
	RecipientID  string `json:"recipient_id"`
	ChainIndex   uint32 `json:"chain_index"`
	ChainKeyHex  string `json:"chain_key_hex"`
	EphPrivHex   string `json:"eph_priv_hex"`
	EphPub       string `json:"eph_pub"`
	NonceHex     string `json:"nonce_hex"`
	SharedHex    string `json:"shared_hex"`
	SaltHex      string `json:"salt_hex"`
	InfoHex      string `json:"info_hex"`
	KEKHex       string `json:"kek_hex"`
	PlaintextHex string `json:"plaintext_hex"`
	CTHex        string `json:"ct_hex"`
	Bundle       Signed `json:"bundle"`
}

type ratchetVector struct {
	CK0Hex string   `json:"ck0_hex"`
	MKHex  []string `json:"mk_hex"`
	CKHex  []string `json:"ck_hex"`
}

type contentVector struct {
	MKHex     string `json:"mk_hex"`
	NonceHex  string `json:"nonce_hex"`
	AADHex    string `json:"aad_hex"`
	Plaintext string `json:"plaintext"`
	CTHex     string `json:"ct_hex"`
}

type envelopeVector struct {
	Sender      string   `json:"sender"`
	Room        string   `json:"room"`
	Epoch       int64    `json:"epoch"`
	Seq         int64    `json:"seq"`
	Prev        string   `json:"prev"`
	Refs        []string `json:"refs"`
	ChainIndex  uint32   `json:"chain_index"`
	ChainKeyHex string   `json:"chain_key_hex"`
	NonceHex    string   `json:"nonce_hex"`
	Time        string   `json:"time"`
	Content     string   `json:"content"`
	Body        string   `json:"body"`
	Sig         string   `json:"sig"`
	Hash        string   `json:"hash"`
}

type blobVector struct {
	KeyHex         string `json:"key_hex"`
	Size           int    `json:"size"`
	Pattern        string `json:"pattern"`
	CTSize         int    `json:"ct_size"`
	CTSHA256Hex    string `json:"ct_sha256_hex"`
	CTFirst64Hex   string `json:"ct_first64_hex"`
	ID             string `json:"id"`
	Chunk1AADHex   string `json:"chunk1_aad_hex"`
	Chunk1NonceHex string `json:"chunk1_nonce_hex"`
}

type vectors struct {
	About      map[string]string         `json:"_about"`
	Enc        []encVector               `json:"enc"`
	Identities map[string]identityVector `json:"identities"`
	Join       joinVector                `json:"join_proof"`
	Roster     rosterVector              `json:"roster"`
	Wrap       wrapVector                `json:"wrap"`
	Ratchet    ratchetVector             `json:"ratchet"`
	Content    contentVector             `json:"content"`
	Envelope   envelopeVector            `json:"envelope"`
	Blob       blobVector                `json:"blob"`
}

var about = map[string]string{
	"format":     "Test vectors of the crisis room wire format v1 (docs/crisis-e2ee.md). Written by `go test ./internal/crisis/e2ee -run TestVectors -update`; without -update the Go test recomputes everything and compares. The TypeScript tests (web/) read this file by relative path.",
	"encodings":  "Fields ending in _hex are lowercase hex of raw bytes. Every other binary value is as it appears on the wire: b64u (base64url without padding) for keys (sign, dh, eph_pub), ids, sigs, proofs and hashes. Strings are UTF-8.",
	"enc":        "enc(fields): each field as u32be(length) || bytes; str = UTF-8, int = decimal string, hex = raw bytes.",
	"identities": "Fixed devices. sign_seed_hex is the 32-byte Ed25519 seed (RFC 8032 private key), dh_priv_hex the 32-byte X25519 private key. id = b64u(SHA-256(sign)[:16]). safety_number per spec; qr = QR code content. Ed25519 signatures are deterministic, so every sig below must be reproduced exactly.",
	"join_proof": "proof = Ed25519(sign of `who`, input), input = enc(rempart-crisis-join-v1, room, name, sign_pub, dh_pub).",
	"roster":     "A roster signed by its coordinator (`signer`): sig = Ed25519(enc(rempart-crisis-roster-v1, room, body)) = Ed25519(signing_input). room_safety_number is over this roster's members and epoch.",
	"wrap":       "One wrap, from sender to recipient (names of identities): shared = X25519(eph_priv, recipient dh); salt = eph_pub || recipient dh; info = enc(rempart-crisis-wrap-v1, room, epoch, sender id, recipient id); kek = HKDF-SHA256(shared, salt, info, 32); plaintext = u32be(chain_index) || chain key; ct = AES-256-GCM(kek, nonce, plaintext, aad = info), tag appended. bundle is the signed wrap bundle holding this wrap; unwrapping it as the recipient gives chain_index and chain_key_hex.",
	"ratchet":    "mk_i = HMAC-SHA256(ck_i, 0x01), ck_(i+1) = HMAC-SHA256(ck_i, 0x02). mk_hex = [mk0..mk3], ck_hex = [ck1..ck4].",
	"content":    "ct = AES-256-GCM(mk, nonce, plaintext, aad), tag appended; aad = enc(rempart-crisis-content-v1, room, epoch, sender, seq, i) of the envelope vector.",
	"envelope":   "A sealed envelope by `sender` (identity name). The chain is at chain_index with chain_key_hex; content is the plaintext JSON. body and sig are the signed object (a writer need not produce the same body bytes: JSON is not canonical; a reader must verify sig over body, decrypt and find content); hash = b64u(SHA-256(body)).",
	"blob":       "Attachment: plaintext of `size` bytes, byte k = k mod 251. Chunks of 65536 plaintext bytes, chunk n under nonce u32be(0)||u64be(n) and aad enc(rempart-crisis-blob-v1, n, last ? 1 : 0). ct_sha256_hex and ct_first64_hex check the ciphertext; id = b64u(SHA-256(ct)). chunk1_* are the nonce and aad of chunk 1 (the last one here).",
}

func hx(b []byte) string { return hex.EncodeToString(b) }

func strp(s string) *string { return &s }

// blobPattern is the blob vector's plaintext: byte k = k mod 251.
func blobPattern(n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(k % 251)
	}
	return b
}

func buildVectors(t *testing.T) vectors {
	v := vectors{About: about, Identities: map[string]identityVector{}}

	// enc
	for _, fields := range [][]any{
		{LabelJoin},
		{"", "é", int64(0), int64(1234567890)},
		{LabelBlob, uint64(3), "1"},
		{[]byte{0, 1, 2, 255}},
	} {
		ev := encVector{Hex: hx(Enc(fields...))}
		for _, f := range fields {
			switch x := f.(type) {
			case string:
				ev.Fields = append(ev.Fields, encField{Str: strp(x)})
			case int64:
				ev.Fields = append(ev.Fields, encField{Int: &x})
			case uint64:
				i := int64(x)
				ev.Fields = append(ev.Fields, encField{Int: &i})
			case []byte:
				ev.Fields = append(ev.Fields, encField{Hex: strp(hx(x))})
			}
		}
		v.Enc = append(v.Enc, ev)
	}

	// identities
	tr := newTestRoom(t, "alice", "bob")
	for _, n := range []string{"alice", "bob"} {
		id := tr.ids[n]
		v.Identities[n] = identityVector{
			SignSeedHex: hx(seed32("rempart vector " + n + " sign")), DHPrivHex: hx(seed32("rempart vector " + n + " dh")),
			Sign: B64.EncodeToString(id.SignPub()), DH: B64.EncodeToString(id.DHPub()), ID: id.ID(),
			SafetyNumber: id.SafetyNumber(), QR: QRContent(id.ID(), id.SafetyNumber()),
		}
	}
	alice, bob := tr.ids["alice"], tr.ids["bob"]

	// join proof
	v.Join = joinVector{Who: "bob", Room: tr.room, Name: "DGS",
		InputHex: hx(Enc(LabelJoin, tr.room, "DGS", bob.SignPub(), bob.DHPub())), Proof: bob.JoinProof(tr.room, "DGS")}

	// roster
	rs := tr.rosters[0]
	r, err := ParseRoster([]byte(rs.Body))
	if err != nil {
		t.Fatal(err)
	}
	rsn, err := RoomSafetyNumber(tr.room, r.Epoch, r.Members)
	if err != nil {
		t.Fatal(err)
	}
	v.Roster = rosterVector{Signer: "alice", Room: tr.room, Body: rs.Body, Sig: rs.Sig,
		SigningInputHex: hx(SigningInput(LabelRoster, tr.room, []byte(rs.Body))), RoomSafetyNumber: rsn}

	// wrap: alice's chain at index 3 for bob, epoch 2
	chain, err := Chain{Key: seed32("rempart vector chain")}.AdvanceTo(3)
	if err != nil {
		t.Fatal(err)
	}
	rnd := newDet("rempart vector wrap")
	bundle, err := alice.Wrap(rnd, tr.room, 2, chain, []Recipient{{ID: bob.ID(), DH: bob.DHPub()}})
	if err != nil {
		t.Fatal(err)
	}
	rnd = newDet("rempart vector wrap") // replay the same bytes to expose the steps
	var buf [32 + NonceSize]byte
	_, _ = rnd.Read(buf[:])
	eph, err := ecdh.X25519().NewPrivateKey(buf[:32])
	if err != nil {
		t.Fatal(err)
	}
	bobPub, _ := ecdh.X25519().NewPublicKey(bob.DHPub())
	shared, err := eph.ECDH(bobPub)
	if err != nil {
		t.Fatal(err)
	}
	info := WrapInfo(tr.room, 2, alice.ID(), bob.ID())
	salt := append(eph.PublicKey().Bytes(), bob.DHPub()...)
	kek, err := hkdfKey(shared, salt, info)
	if err != nil {
		t.Fatal(err)
	}
	plain := append([]byte{0, 0, 0, 3}, chain.Key...)
	wb, _ := ParseWrapBundle([]byte(bundle.Body))
	ct, _ := B64.DecodeString(wb.Wraps[0].CT)
	v.Wrap = wrapVector{Room: tr.room, Epoch: 2, Sender: "alice", Recipient: "bob", RecipientID: bob.ID(),
		ChainIndex: chain.Index, ChainKeyHex: hx(chain.Key), EphPrivHex: hx(buf[:32]), EphPub: B64.EncodeToString(eph.PublicKey().Bytes()),
		NonceHex: hx(buf[32:]), SharedHex: hx(shared), SaltHex: hx(salt), InfoHex: hx(info), KEKHex: hx(kek),
		PlaintextHex: hx(plain), CTHex: hx(ct), Bundle: bundle}
	got, err := Unwrap(bundle, alice.SignPub(), bob, tr.room, 2)
	if err != nil || got.Index != 3 || !bytes.Equal(got.Key, chain.Key) {
		t.Fatalf("vector wrap does not unwrap: %v", err)
	}

	// ratchet
	c := Chain{Key: seed32("rempart vector ck0")}
	v.Ratchet.CK0Hex = hx(c.Key)
	for range 4 {
		v.Ratchet.MKHex = append(v.Ratchet.MKHex, hx(c.MessageKey()))
		c = c.Next()
		v.Ratchet.CKHex = append(v.Ratchet.CKHex, hx(c.Key))
	}

	// envelope (and its content encryption, exposed step by step)
	w := &Writer{ID: alice, Room: tr.room, Epoch: 2, Seq: 6, Prev: Hash([]byte("previous")), Chain: chain}
	content := Content{T: TypeLog, Kind: "decision", Text: "Couper l'accès VPN — décision du maire", At: "2026-12-05T09:10:00.000Z"}
	refs := []string{Hash([]byte("bob's last"))}
	env, hash, err := w.Write(newDet("rempart vector envelope"), refs, testTime, content)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := ParseEnvelope([]byte(env.Body))
	nonce, _ := B64.DecodeString(e.Nonce)
	envCT, _ := B64.DecodeString(e.CT)
	v.Envelope = envelopeVector{Sender: "alice", Room: tr.room, Epoch: 2, Seq: 7, Prev: e.Prev, Refs: refs,
		ChainIndex: chain.Index, ChainKeyHex: hx(chain.Key), NonceHex: hx(nonce), Time: e.Time,
		Content: string(mustJSON(t, content)), Body: env.Body, Sig: env.Sig, Hash: hash}
	v.Content = contentVector{MKHex: hx(chain.MessageKey()), NonceHex: hx(nonce),
		AADHex: hx(ContentAAD(tr.room, 2, alice.ID(), 7, 3)), Plaintext: v.Envelope.Content, CTHex: hx(envCT)}
	if _, oc, err := Open(env, alice.SignPub(), tr.room, chain); err != nil || !reflect.DeepEqual(*oc, content) {
		t.Fatalf("vector envelope does not open: %v", err)
	}

	// blob
	key := seed32("rempart vector blob")
	bct, err := EncryptBlob(key, blobPattern(70000))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(bct)
	v.Blob = blobVector{KeyHex: hx(key), Size: 70000, Pattern: "byte k = k mod 251", CTSize: len(bct),
		CTSHA256Hex: hx(sum[:]), CTFirst64Hex: hx(bct[:64]), ID: BlobID(bct),
		Chunk1AADHex: hx(BlobAAD(1, true)), Chunk1NonceHex: hx(blobNonce(1))}
	return v
}

// TestVectors recomputes every vector and compares with the file; with
// -update it rewrites the file.
func TestVectors(t *testing.T) {
	v := buildVectors(t)
	checkVectors(t, vectorsPath, v, ": a format change? (if intended, run with -update and bump the format version)")
}

// TestVectorsIndependent checks a few vectors against a computation that
// does not go through the package's own helpers, so that a bug shared by
// the generator and the code cannot hide.
func TestVectorsIndependent(t *testing.T) {
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Skip("no vectors file yet")
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	// enc: hand-written bytes of the first two examples.
	if v.Enc[0].Hex != "00000016"+hex.EncodeToString([]byte(LabelJoin)) {
		t.Errorf("enc[0] = %s", v.Enc[0].Hex)
	}
	want := "00000000" + "00000002c3a9" + "0000000130" + "0000000a" + hex.EncodeToString([]byte("1234567890"))
	if v.Enc[1].Hex != want {
		t.Errorf("enc[1] = %s, want %s", v.Enc[1].Hex, want)
	}
	// The unwrap and the envelope open from the file's values alone.
	ids := map[string]*Identity{}
	for n, iv := range v.Identities {
		ss, _ := hex.DecodeString(iv.SignSeedHex)
		dp, _ := hex.DecodeString(iv.DHPrivHex)
		id, err := IdentityFromSeeds(ss, dp)
		if err != nil || id.ID() != iv.ID {
			t.Fatalf("identity %s: %v", n, err)
		}
		ids[n] = id
	}
	c, err := Unwrap(v.Wrap.Bundle, ids[v.Wrap.Sender].SignPub(), ids[v.Wrap.Recipient], v.Wrap.Room, v.Wrap.Epoch)
	if err != nil || hx(c.Key) != v.Wrap.ChainKeyHex {
		t.Fatalf("unwrap: %v", err)
	}
	_, content, err := Open(Signed{Body: v.Envelope.Body, Sig: v.Envelope.Sig}, ids["alice"].SignPub(), v.Envelope.Room, c)
	if err != nil || string(mustJSON(t, content)) != v.Envelope.Content {
		t.Fatalf("open: %v", err)
	}
}

package e2ee

import (
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// History share v1 vectors: written by
// `go test ./internal/crisis/e2ee -run TestHistoryVectors -update`, read by
// web/test/history.test.ts and testdata/history_crosscheck.py.
const historyVectorsPath = "testdata/history_vectors.json"

type historyKeyVector struct {
	Sender      string `json:"sender"` // identity name
	SenderID    string `json:"sender_id"`
	Epoch       int64  `json:"epoch"`
	ChainIndex  uint32 `json:"chain_index"`
	ChainKeyHex string `json:"chain_key_hex"`
}

type historyVector struct {
	About           string             `json:"_about"`
	Identities      map[string]string  `json:"identities"` // name → id (seeds as in vectors.json: "rempart vector <name> sign|dh")
	Room            string             `json:"room"`
	Sender          string             `json:"sender"`
	Recipient       string             `json:"recipient"`
	From            int64              `json:"from"`
	Keys            []historyKeyVector `json:"keys"`
	EphPrivHex      string             `json:"eph_priv_hex"`
	EphPub          string             `json:"eph_pub"`
	NonceHex        string             `json:"nonce_hex"`
	SharedHex       string             `json:"shared_hex"`
	SaltHex         string             `json:"salt_hex"`
	InfoHex         string             `json:"info_hex"`
	KEKHex          string             `json:"kek_hex"`
	PlaintextHex    string             `json:"plaintext_hex"`
	CTHex           string             `json:"ct_hex"`
	SigningInputHex string             `json:"signing_input_hex"`
	Bundle          Signed             `json:"bundle"`
	// Envelope is an entry by the former member carol (epoch 1, index 2),
	// written before bob's admission: it opens with the shared key.
	Envelope        Signed `json:"envelope"`
	EnvelopeContent string `json:"envelope_content"`
}

const historyAbout = "History share v1 (docs/crisis-e2ee.md, \"History share v1\"). Identities use the seeds of vectors.json (sign_seed = SHA-256(\"rempart vector <name> sign\"), dh_priv = SHA-256(\"rempart vector <name> dh\")). alice (coordinator) shares with bob, from position `from`, the keys listed; carol was removed from epoch 2 and is a former member in the bundle (its id must be the hash of its key). shared = X25519(eph_priv, bob dh); salt = eph_pub || bob dh; info = enc(rempart-crisis-history-key-v1, room, alice id, bob id, from); kek = HKDF-SHA256(shared, salt, info, 32); plaintext = enc(sender id, epoch, index, ck, …) per key; ct = AES-256-GCM(kek, nonce, plaintext, aad = info); sig = Ed25519(alice, enc(rempart-crisis-history-v1, room, body)) = Ed25519(signing_input). The envelope, by carol at epoch 1 index 2, opens with the shared key of (carol, 1)."

type historyFixture struct {
	room               string
	alice, bob, carol  *Identity
	keys               []HistoryKey
	former             []FormerMember
	carolChainAtIndex2 Chain
}

func newHistoryFixture(t *testing.T) historyFixture {
	f := historyFixture{room: B64.EncodeToString(seed32("room")[:16]),
		alice: mustIdentity(t, "alice"), bob: mustIdentity(t, "bob"), carol: mustIdentity(t, "carol")}
	aliceChain, err := Chain{Key: seed32("rempart vector history alice e1")}.AdvanceTo(0)
	if err != nil {
		t.Fatal(err)
	}
	carolChain, err := Chain{Key: seed32("rempart vector history carol e1")}.AdvanceTo(2)
	if err != nil {
		t.Fatal(err)
	}
	alice2, err := Chain{Key: seed32("rempart vector history alice e2")}.AdvanceTo(5)
	if err != nil {
		t.Fatal(err)
	}
	f.carolChainAtIndex2 = carolChain
	f.keys = []HistoryKey{
		{Sender: f.alice.ID(), Epoch: 1, Chain: aliceChain},
		{Sender: f.carol.ID(), Epoch: 1, Chain: carolChain},
		{Sender: f.alice.ID(), Epoch: 2, Chain: alice2},
	}
	cm := f.carol.Member(f.room, "Carol", 1)
	f.former = []FormerMember{{ID: cm.ID, Name: cm.Name, Sign: cm.Sign, Since: 1, Removed: 2}}
	return f
}

func buildHistoryVector(t *testing.T) historyVector {
	f := newHistoryFixture(t)
	const from = 3
	bobR := Recipient{ID: f.bob.ID(), DH: f.bob.DHPub()}
	bundle, err := f.alice.ShareHistory(newDet("rempart vector history"), f.room, bobR, from, f.former, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	// Replay the same random bytes to expose each step.
	var buf [32 + NonceSize]byte
	_, _ = newDet("rempart vector history").Read(buf[:])
	eph, err := ecdh.X25519().NewPrivateKey(buf[:32])
	if err != nil {
		t.Fatal(err)
	}
	bobPub, _ := ecdh.X25519().NewPublicKey(f.bob.DHPub())
	shared, err := eph.ECDH(bobPub)
	if err != nil {
		t.Fatal(err)
	}
	info := HistoryInfo(f.room, f.alice.ID(), f.bob.ID(), from)
	salt := append(eph.PublicKey().Bytes(), f.bob.DHPub()...)
	kek, err := hkdfKey(shared, salt, info)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := HistoryPlaintext(f.keys)
	if err != nil {
		t.Fatal(err)
	}
	hb, err := ParseHistoryBundle([]byte(bundle.Body))
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := B64.DecodeString(hb.CT)
	names := map[string]string{f.alice.ID(): "alice", f.bob.ID(): "bob", f.carol.ID(): "carol"}
	v := historyVector{About: historyAbout, Room: f.room, Sender: "alice", Recipient: "bob", From: from,
		Identities: map[string]string{"alice": f.alice.ID(), "bob": f.bob.ID(), "carol": f.carol.ID()},
		EphPrivHex: hx(buf[:32]), EphPub: B64.EncodeToString(eph.PublicKey().Bytes()), NonceHex: hx(buf[32:]),
		SharedHex: hx(shared), SaltHex: hx(salt), InfoHex: hx(info), KEKHex: hx(kek), PlaintextHex: hx(plain), CTHex: hx(ct),
		SigningInputHex: hx(SigningInput(LabelHistory, f.room, []byte(bundle.Body))), Bundle: bundle}
	for _, k := range f.keys {
		v.Keys = append(v.Keys, historyKeyVector{Sender: names[k.Sender], SenderID: k.Sender, Epoch: k.Epoch, ChainIndex: k.Chain.Index, ChainKeyHex: hx(k.Chain.Key)})
	}
	w := &Writer{ID: f.carol, Room: f.room, Epoch: 1, Seq: 2, Prev: Hash([]byte("carol's second")), Chain: f.carolChainAtIndex2}
	content := Content{T: TypeLog, Kind: "fact", Text: "Serveur de messagerie chiffré par le rançongiciel", At: "2026-12-05T08:40:00.000Z"}
	env, _, err := w.Write(newDet("rempart vector history envelope"), nil, testTime, content)
	if err != nil {
		t.Fatal(err)
	}
	v.Envelope, v.EnvelopeContent = env, string(mustJSON(t, content))
	return v
}

func TestHistoryVectors(t *testing.T) {
	v := buildHistoryVector(t)
	if checkVectors(t, historyVectorsPath, v, " (if intended, run with -update and bump the history share version)") {
		return
	}
	// The file's bundle opens as bob, and carol's entry with the shared key.
	f := newHistoryFixture(t)
	b, keys, err := OpenHistory(v.Bundle, f.alice.SignPub(), f.bob, v.Room)
	if err != nil {
		t.Fatal(err)
	}
	if b.From != v.From || !reflect.DeepEqual(keys, f.keys) || len(b.Former) != 1 || b.Former[0].Removed != 2 {
		t.Fatalf("opened %+v %+v", b, keys)
	}
	_, c, err := Open(v.Envelope, f.carol.SignPub(), v.Room, keys[1].Chain)
	if err != nil || string(mustJSON(t, c)) != v.EnvelopeContent {
		t.Fatalf("carol's entry: %v", err)
	}
}

func TestHistoryRefusals(t *testing.T) {
	f := newHistoryFixture(t)
	bobR := Recipient{ID: f.bob.ID(), DH: f.bob.DHPub()}
	good, err := f.alice.ShareHistory(newDet("h"), f.room, bobR, 1, f.former, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenHistory(good, f.alice.SignPub(), f.bob, f.room); err != nil {
		t.Fatal(err)
	}
	// Made by a member who is not the coordinator (carol signs): refused,
	// even when it names her as sender.
	forged, _ := f.carol.ShareHistory(newDet("h"), f.room, bobR, 1, nil, f.keys)
	if _, _, err := OpenHistory(forged, f.alice.SignPub(), f.bob, f.room); !errors.Is(err, ErrNotCoordinator) {
		t.Errorf("share by a non-coordinator: %v", err)
	}
	// Redirected: another recipient cannot open it, nor read it as theirs.
	if _, _, err := OpenHistory(good, f.alice.SignPub(), f.carol, f.room); !errors.Is(err, ErrWrongRecipient) {
		t.Errorf("share opened by another member: %v", err)
	}
	// Another room.
	if _, _, err := OpenHistory(good, f.alice.SignPub(), f.bob, B64.EncodeToString(seed32("other")[:16])); !errors.Is(err, ErrWrongRoom) {
		t.Errorf("share in another room: %v", err)
	}
	// The relay alters the position (to read more, or to redirect): the
	// signature fails; re-signed bodies cannot be made without the key.
	var b map[string]any
	_ = json.Unmarshal([]byte(good.Body), &b)
	b["from"] = 1.0
	b["to"] = f.carol.ID()
	altered := Signed{Body: string(mustJSON(t, b)), Sig: good.Sig}
	if _, _, err := OpenHistory(altered, f.alice.SignPub(), f.carol, f.room); !errors.Is(err, ErrBadSignature) {
		t.Errorf("altered share: %v", err)
	}
	// A box moved to another (from) by a coordinator bug does not open:
	// the key derivation binds room, sender, recipient and position.
	hb, _ := ParseHistoryBundle([]byte(good.Body))
	hb.From = 2
	moved := f.alice.Sign(LabelHistory, f.room, mustJSON(t, hb))
	if _, _, err := OpenHistory(moved, f.alice.SignPub(), f.bob, f.room); !errors.Is(err, ErrDecrypt) {
		t.Errorf("box moved to another position: %v", err)
	}
	// A former member whose keys do not match its id.
	hb, _ = ParseHistoryBundle([]byte(good.Body))
	hb.Former[0].Sign = f.bob.Member(f.room, "x", 1).Sign
	swapped := f.alice.Sign(LabelHistory, f.room, mustJSON(t, hb))
	if _, _, err := OpenHistory(swapped, f.alice.SignPub(), f.bob, f.room); !errors.Is(err, ErrMalformed) {
		t.Errorf("former member with swapped keys: %v", err)
	}
}

func TestHistoryPlaintextStrict(t *testing.T) {
	for _, pt := range [][]byte{
		{0, 0, 0},                                // truncated length
		{0, 0, 0, 9, 'a'},                        // field longer than what is left
		Enc("s", "1", "0"),                       // not groups of four
		Enc("s", "01", "0", seed32("k")),         // leading zero
		Enc("s", "0", "0", seed32("k")),          // epoch 0
		Enc("s", "1", "-1", seed32("k")),         // sign
		Enc("s", "1", "0", []byte("short")),      // key size
		Enc("", "1", "0", seed32("k")),           // no sender
		Enc("s", "1", "4294967296", seed32("k")), // index past uint32
	} {
		if _, err := ParseHistoryPlaintext(pt); !errors.Is(err, ErrMalformed) {
			t.Errorf("%x: %v", pt, err)
		}
	}
}

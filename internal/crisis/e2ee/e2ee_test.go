package e2ee

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestIdentityAndSafetyNumbers(t *testing.T) {
	a := mustIdentity(t, "alice")
	if len(a.SignPub()) != 32 || len(a.DHPub()) != 32 || len(a.ID()) != 22 {
		t.Fatalf("key or id sizes: %d %d %q", len(a.SignPub()), len(a.DHPub()), a.ID())
	}
	sn := a.SafetyNumber()
	if !regexp.MustCompile(`^\d{5}( \d{5}){11}$`).MatchString(sn) {
		t.Fatalf("safety number %q is not 12 groups of 5 digits", sn)
	}
	if got := QRContent(a.ID(), sn); got != "rempart-fpr:1:"+a.ID()+":"+strings.ReplaceAll(sn, " ", "") {
		t.Fatalf("QR content %q", got)
	}
	// Swapping either key changes the number.
	b := mustIdentity(t, "bob")
	if SafetyNumber(a.SignPub(), b.DHPub()) == sn || SafetyNumber(b.SignPub(), a.DHPub()) == sn {
		t.Fatal("safety number does not cover both keys")
	}
	// The room number does not depend on the roster's order, and changes
	// with the epoch and with any key.
	room := "room"
	ms := []RosterMember{a.Member(room, "A", 1), b.Member(room, "B", 1)}
	n1, err := RoomSafetyNumber(room, 1, ms)
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := RoomSafetyNumber(room, 1, []RosterMember{ms[1], ms[0]})
	n3, _ := RoomSafetyNumber(room, 2, ms)
	if n1 != n2 || n1 == n3 {
		t.Fatalf("room safety numbers: %q %q %q", n1, n2, n3)
	}
	ms[1].DH = ms[0].DH
	if n4, _ := RoomSafetyNumber(room, 1, ms); n4 == n1 {
		t.Fatal("room safety number does not cover the keys")
	}
	ms[1].DH = "not b64u!"
	if _, err := RoomSafetyNumber(room, 1, ms); err == nil {
		t.Fatal("a bad key is accepted")
	}
	// Deterministic identities from a reader.
	x, _ := NewIdentity(newDet("x"))
	y, _ := NewIdentity(newDet("x"))
	if x.ID() != y.ID() {
		t.Fatal("NewIdentity is not deterministic for a fixed reader")
	}
	if _, err := IdentityFromSeeds(make([]byte, 31), make([]byte, 32)); err == nil {
		t.Fatal("short seed accepted")
	}
}

func TestJoinProof(t *testing.T) {
	a, b := mustIdentity(t, "alice"), mustIdentity(t, "bob")
	p := a.JoinProof("room", "Maire")
	if err := VerifyJoinProof("room", "Maire", a.SignPub(), a.DHPub(), p); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"other room": VerifyJoinProof("room2", "Maire", a.SignPub(), a.DHPub(), p),
		"other name": VerifyJoinProof("room", "DGS", a.SignPub(), a.DHPub(), p),
		"swapped dh": VerifyJoinProof("room", "Maire", a.SignPub(), b.DHPub(), p),
		"other key":  VerifyJoinProof("room", "Maire", b.SignPub(), a.DHPub(), p),
		"garbage":    VerifyJoinProof("room", "Maire", a.SignPub(), a.DHPub(), "!!"),
	} {
		if !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
}

func TestRatchet(t *testing.T) {
	c0 := Chain{Key: seed32("ck")}
	c3, err := c0.AdvanceTo(3)
	if err != nil {
		t.Fatal(err)
	}
	if n := c0.Next().Next().Next(); n.Index != 3 || !bytes.Equal(n.Key, c3.Key) {
		t.Fatal("AdvanceTo(3) differs from three Next")
	}
	if bytes.Equal(c0.MessageKey(), c0.Next().MessageKey()) || bytes.Equal(c0.MessageKey(), c0.Next().Key) {
		t.Fatal("message keys repeat or equal chain keys")
	}
	if _, err := c3.AdvanceTo(2); !errors.Is(err, ErrChainBackwards) {
		t.Fatalf("backwards: %v", err)
	}
	if _, err := c3.AdvanceTo(3 + MaxAdvance + 1); !errors.Is(err, ErrChainTooFar) {
		t.Fatalf("too far: %v", err)
	}
	if _, err := (Chain{Index: ^uint32(0) - 1, Key: c0.Key}).AdvanceTo(1 << 33); !errors.Is(err, ErrChainTooFar) {
		t.Fatalf("past uint32: %v", err)
	}
	if c, _ := c3.AdvanceTo(3); c.Index != 3 || !bytes.Equal(c.Key, c3.Key) {
		t.Fatal("AdvanceTo the same index moved")
	}
}

// resign changes a signed body with edit and signs it again with id: what
// a malicious member (or a server holding a member's key) could produce.
func resign(t *testing.T, id *Identity, label, room string, s Signed, edit func(string) string) Signed {
	t.Helper()
	return id.Sign(label, room, []byte(edit(s.Body)))
}

// flip changes one character in the middle of s, keeping it valid JSON and b64u.
func flip(s string, at int) string {
	b := []byte(s)
	if b[at] == 'A' {
		b[at] = 'B'
	} else {
		b[at] = 'A'
	}
	return string(b)
}

func TestWrap(t *testing.T) {
	tr := newTestRoom(t, "alice", "bob", "carol")
	alice, bob, carol := tr.ids["alice"], tr.ids["bob"], tr.ids["carol"]
	dave := mustIdentity(t, "dave")
	chain, _ := Chain{Key: seed32("alice ck")}.AdvanceTo(5)
	s, err := alice.Wrap(newDet("w"), tr.room, 1, chain, tr.recipients())
	if err != nil {
		t.Fatal(err)
	}
	for _, me := range []*Identity{alice, bob, carol} {
		c, err := Unwrap(s, alice.SignPub(), me, tr.room, 1)
		if err != nil || c.Index != 5 || !bytes.Equal(c.Key, chain.Key) {
			t.Fatalf("unwrap for %s: %v", me.ID(), err)
		}
	}

	b, _ := ParseWrapBundle([]byte(s.Body))
	ctAt := strings.Index(s.Body, b.Wraps[1].CT) + 5
	cases := []struct {
		name string
		s    Signed
		sign []byte
		me   *Identity
		room string
		ep   int64
		want error
	}{
		{"wrong recipient", s, alice.SignPub(), dave, tr.room, 1, ErrWrongRecipient},
		{"wrong room", s, alice.SignPub(), bob, "other", 1, ErrWrongRoom},
		{"wrong epoch", s, alice.SignPub(), bob, tr.room, 2, ErrWrongEpoch},
		{"wrong sender key", s, bob.SignPub(), bob, tr.room, 1, ErrWrongSender},
		{"bit flip in body", Signed{Body: flip(s.Body, ctAt), Sig: s.Sig}, alice.SignPub(), bob, tr.room, 1, ErrBadSignature},
		{"bit flip in sig", Signed{Body: s.Body, Sig: flip(s.Sig, 10)}, alice.SignPub(), bob, tr.room, 1, ErrBadSignature},
		{"bit flip in ct, re-signed", resign(t, alice, LabelWraps, tr.room, s, func(x string) string { return flip(x, ctAt) }),
			alice.SignPub(), bob, tr.room, 1, ErrDecrypt},
		{"moved to another epoch, re-signed", resign(t, alice, LabelWraps, tr.room, s, func(x string) string {
			return strings.Replace(x, `"epoch":1`, `"epoch":2`, 1)
		}), alice.SignPub(), bob, tr.room, 2, ErrDecrypt},
		{"moved to another room, re-signed", resign(t, alice, LabelWraps, "room2", s, func(x string) string {
			return strings.Replace(x, tr.room, "room2", 1)
		}), alice.SignPub(), bob, "room2", 1, ErrDecrypt},
		{"readdressed to carol, re-signed", resign(t, alice, LabelWraps, tr.room, s, func(x string) string {
			x = strings.Replace(x, `"to":"`+carol.ID(), `"to":"X`, 1)
			return strings.Replace(x, `"to":"`+bob.ID(), `"to":"`+carol.ID(), 1)
		}), alice.SignPub(), carol, tr.room, 1, ErrDecrypt},
		{"malformed", alice.Sign(LabelWraps, tr.room, []byte(`{"v":1,"wraps":`)), alice.SignPub(), bob, tr.room, 1, ErrMalformed},
		{"newer version", alice.Sign(LabelWraps, tr.room, []byte(`{"v":2}`)), alice.SignPub(), bob, tr.room, 1, ErrVersion},
		{"two wraps for bob", resign(t, alice, LabelWraps, tr.room, s, func(x string) string {
			return strings.Replace(x, `"to":"`+carol.ID(), `"to":"`+bob.ID(), 1)
		}), alice.SignPub(), bob, tr.room, 1, ErrMalformed},
	}
	for _, c := range cases {
		_, err := Unwrap(c.s, c.sign, c.me, c.room, c.ep)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}

	// A low-order (all-zero) recipient key is refused, not wrapped to.
	if _, err := alice.Wrap(newDet("w"), tr.room, 1, chain, []Recipient{{ID: "x", DH: make([]byte, 32)}}); err == nil {
		t.Fatal("wrap to an all-zero X25519 key accepted")
	}
	if _, err := Recipients([]RosterMember{{ID: "x", DH: "short"}}); err == nil {
		t.Fatal("bad roster key accepted")
	}
}

func TestEnvelope(t *testing.T) {
	tr := newTestRoom(t, "alice", "bob")
	alice, bob := tr.ids["alice"], tr.ids["bob"]
	w := &Writer{ID: alice, Room: tr.room}
	if err := w.NewEpoch(newDet("a"), 1); err != nil {
		t.Fatal(err)
	}
	ck0 := w.Chain
	contents := []Content{
		{T: TypeLog, Kind: "fact", Text: "Rançongiciel sur le serveur de fichiers", At: FormatTime(testTime)},
		{T: TypeChat, Text: "voir pièce jointe", Files: []File{{Blob: "id", Key: B64.EncodeToString(seed32("k")), Name: "note.pdf", Size: 12, Type: "application/pdf"}}},
		{T: TypeStatus, Service: "état civil", State: "down", Text: "hors service"},
	}
	var sent []Signed
	for _, c := range contents {
		s, _, err := w.Write(newDet("n"+c.T), nil, testTime, c)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, s)
	}
	if w.Chain.Index != 3 || w.Seq != 3 {
		t.Fatalf("writer state: index %d seq %d", w.Chain.Index, w.Seq)
	}
	for k, s := range sent {
		e, c, err := Open(s, alice.SignPub(), tr.room, ck0)
		if err != nil {
			t.Fatalf("open %d: %v", k, err)
		}
		if e.Seq != int64(k+1) || e.I != int64(k) || c.T != contents[k].T || c.Text != contents[k].Text {
			t.Fatalf("open %d: %+v %+v", k, e, c)
		}
		if strings.Contains(s.Body, "Rançongiciel") || strings.Contains(s.Body, "civil") {
			t.Fatal("plaintext in the envelope body")
		}
	}
	if !strings.Contains(sent[0].Body, `"refs":[]`) || !strings.Contains(sent[0].Body, `"prev":""`) {
		t.Fatalf("first envelope body: %s", sent[0].Body)
	}
	// A newcomer given the chain at index 2 reads message 2, not message 1.
	c2, _ := ck0.AdvanceTo(2)
	if _, _, err := Open(sent[2], alice.SignPub(), tr.room, c2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(sent[1], alice.SignPub(), tr.room, c2); !errors.Is(err, ErrChainBackwards) {
		t.Fatalf("newcomer reads the past: %v", err)
	}

	s := sent[1]
	e, _ := ParseEnvelope([]byte(s.Body))
	ctAt := strings.Index(s.Body, e.CT) + 7
	cases := []struct {
		name string
		s    Signed
		sign []byte
		room string
		want error
	}{
		{"bit flip in body", Signed{Body: flip(s.Body, ctAt), Sig: s.Sig}, alice.SignPub(), tr.room, ErrBadSignature},
		{"bit flip in sig", Signed{Body: s.Body, Sig: flip(s.Sig, 20)}, alice.SignPub(), tr.room, ErrBadSignature},
		{"forged by bob as alice", bob.Sign(LabelEnvelope, tr.room, []byte(s.Body)), alice.SignPub(), tr.room, ErrBadSignature},
		{"wrong sender key", s, bob.SignPub(), tr.room, ErrWrongSender},
		{"wrong room", s, alice.SignPub(), "other", ErrWrongRoom},
		{"bit flip in ct, re-signed", resign(t, alice, LabelEnvelope, tr.room, s, func(x string) string { return flip(x, ctAt) }), alice.SignPub(), tr.room, ErrDecrypt},
		{"wrong epoch in aad, re-signed", resign(t, alice, LabelEnvelope, tr.room, s, func(x string) string {
			return strings.Replace(x, `"epoch":1`, `"epoch":2`, 1)
		}), alice.SignPub(), tr.room, ErrDecrypt},
		{"other seq, re-signed", resign(t, alice, LabelEnvelope, tr.room, s, func(x string) string {
			return strings.Replace(x, `"seq":2`, `"seq":9`, 1)
		}), alice.SignPub(), tr.room, ErrDecrypt},
		{"index beyond the bound", resign(t, alice, LabelEnvelope, tr.room, s, func(x string) string {
			return strings.Replace(x, `"i":1`, `"i":99999999999`, 1)
		}), alice.SignPub(), tr.room, ErrChainTooFar},
		{"malformed", alice.Sign(LabelEnvelope, tr.room, []byte(`[1,2]`)), alice.SignPub(), tr.room, ErrMalformed},
		{"newer version", alice.Sign(LabelEnvelope, tr.room, []byte(`{"v":7}`)), alice.SignPub(), tr.room, ErrVersion},
	}
	for _, c := range cases {
		if _, _, err := Open(c.s, c.sign, c.room, ck0); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}

	// A content type from a newer version still opens; unknown fields are ignored.
	var ck Chain
	ck.Key = seed32("future")
	h := Header{Room: tr.room, Epoch: 1, Seq: 1, Time: testTime}
	future, err := alice.Seal(newDet("f"), h, &ck, Content{T: "poll", Text: "?"})
	if err != nil {
		t.Fatal(err)
	}
	if _, c, err := Open(future, alice.SignPub(), tr.room, Chain{Key: seed32("future")}); err != nil || c.T != "poll" {
		t.Fatalf("unknown type: %v", err)
	}
	// Headers a relay would refuse are refused before signing.
	for _, bad := range []Header{
		{Room: tr.room, Epoch: 0, Seq: 1},
		{Room: tr.room, Epoch: 1, Seq: 0},
		{Room: tr.room, Epoch: 1, Seq: 2},
		{Room: tr.room, Epoch: 1, Seq: 1, Prev: "x"},
		{Room: tr.room, Epoch: 1, Seq: 1, Refs: []string{"a", "b", "c", "d", "e"}},
	} {
		if _, err := alice.Seal(newDet("h"), bad, &ck, Content{T: TypeLog}); err == nil {
			t.Errorf("header %+v sealed", bad)
		}
	}
	// Too large a body is refused before signing.
	big := Content{T: TypeChat, Text: strings.Repeat("x", MaxEnvelopeBody)}
	if _, err := alice.Seal(newDet("b"), h, &ck, big); err == nil {
		t.Fatal("oversized envelope sealed")
	}
}

func TestBlob(t *testing.T) {
	key := seed32("blob")
	for _, n := range []int{0, 1, BlobChunk - 1, BlobChunk, BlobChunk + 1, 3*BlobChunk + 7} {
		plain := blobPattern(n)
		ct, err := EncryptBlob(key, plain)
		if err != nil {
			t.Fatal(err)
		}
		if len(ct) != BlobCiphertextSize(n) {
			t.Fatalf("size %d: ciphertext %d, want %d", n, len(ct), BlobCiphertextSize(n))
		}
		got, err := DecryptBlob(key, ct)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("size %d: %v", n, err)
		}
	}
	ct, _ := EncryptBlob(key, blobPattern(2*BlobChunk+100))
	sealed := BlobChunk + gcmTag
	for name, bad := range map[string][]byte{
		"last chunk dropped":      ct[:2*sealed],
		"last chunk cut":          ct[:len(ct)-1],
		"two chunks dropped":      ct[:sealed],
		"chunks swapped":          append(append(append([]byte{}, ct[sealed:2*sealed]...), ct[:sealed]...), ct[2*sealed:]...),
		"chunk appended":          append(append([]byte{}, ct...), ct[:sealed]...),
		"bit flip":                append(append(append([]byte{}, ct[:100]...), ct[100]^1), ct[101:]...),
		"shorter than a tag":      ct[:15],
		"empty":                   nil,
		"last chunk as only one":  ct[2*sealed:],
		"first chunk as last one": ct[:sealed],
	} {
		if _, err := DecryptBlob(key, bad); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: %v, want ErrDecrypt", name, err)
		}
	}
	if _, err := DecryptBlob(seed32("other"), ct); !errors.Is(err, ErrDecrypt) {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := EncryptBlob(key, make([]byte, BlobMaxSize+1)); !errors.Is(err, ErrBlobTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if _, err := EncryptBlob(key[:16], nil); err == nil {
		t.Error("AES-128 key accepted")
	}
	if BlobID(ct) != Hash(ct) {
		t.Error("blob id is not b64u(SHA-256)")
	}
}

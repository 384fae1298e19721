package e2ee

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// The SFrame vectors file is read by web/test/media.test.ts by relative
// path: keep its path and field names stable. Written by
// `go test ./internal/crisis/e2ee -run TestSFrameVectors -update`.
const sframeVectorsPath = "testdata/sframe_vectors.json"

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 9605 Appendix C.1 (a subset: every length of CTR with KID 0, and
// the KID 0x100 rows).
var rfcHeaders = []struct {
	kid, ctr uint64
	hex      string
}{
	{0, 0, "00"}, {0, 1, "01"}, {0, 0xff, "08ff"}, {0, 0x100, "090100"}, {0, 0xffff, "09ffff"},
	{0, 0x10000, "0a010000"}, {0, 0xffffff, "0affffff"}, {0, 0x1000000, "0b01000000"},
	{0, 0xffffffff, "0bffffffff"}, {0, 0x100000000, "0c0100000000"}, {0, 0xffffffffff, "0cffffffffff"},
	{0, 0x10000000000, "0d010000000000"}, {0, 0xffffffffffff, "0dffffffffffff"},
	{0, 0x1000000000000, "0e01000000000000"}, {0, 0xffffffffffffff, "0effffffffffffff"},
	{0, 0x100000000000000, "0f0100000000000000"}, {0, 0xffffffffffffffff, "0fffffffffffffffff"},
	{1, 0, "10"}, {1, 1, "11"}, {1, 0xff, "18ff"}, {1, 0x100, "190100"},
	{0x100, 1, "910100"}, {0x100, 0xff, "980100ff"}, {0x100, 0x100, "9901000100"}, {0x100, 0xffff, "990100ffff"},
}

// RFC 9605 Appendix C.3, the two AES-GCM suites.
type rfcSFrameVector struct {
	CipherSuite uint16 `json:"cipher_suite"`
	KIDHex      string `json:"kid_hex"`
	CTRHex      string `json:"ctr_hex"`
	BaseKey     string `json:"base_key"`
	Secret      string `json:"sframe_secret"`
	Key         string `json:"sframe_key"`
	Salt        string `json:"sframe_salt"`
	Metadata    string `json:"metadata"`
	Nonce       string `json:"nonce"`
	AAD         string `json:"aad"`
	PT          string `json:"pt"`
	CT          string `json:"ct"`
}

var rfcSFrame = []rfcSFrameVector{
	{
		CipherSuite: 0x0004, KIDHex: "0000000000000123", CTRHex: "0000000000004567",
		BaseKey:  "000102030405060708090a0b0c0d0e0f",
		Secret:   "d926952ca8b7ec4a95941d1ada3a5203ceff8cceee34f574d23909eb314c40c0",
		Key:      "d34f547f4ca4f9a7447006fe7fcbf768",
		Salt:     "75234edefe07819026751816",
		Metadata: "4945544620534672616d65205747",
		Nonce:    "75234edefe07819026755d71",
		AAD:      "99012345674945544620534672616d65205747",
		PT:       "64726166742d696574662d736672616d652d656e63",
		CT:       "9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb",
	},
	{
		CipherSuite: 0x0005, KIDHex: "0000000000000123", CTRHex: "0000000000004567",
		BaseKey:  "000102030405060708090a0b0c0d0e0f",
		Secret:   "0fc3ea6de6aac97a35f194cf9bed94d4b5230f1cb45a785c9fe5dce9c188938ab6ba005bc4c0a19181599e9d1bcf7b74aca48b60bf5e254e546d809313e083a3",
		Key:      "d3e27b0d4a5ae9e55df01a70e6d4d28d969b246e2936f4b7a5d9b494da6b9633",
		Salt:     "84991c167b8cd23c93708ec7",
		Metadata: "4945544620534672616d65205747",
		Nonce:    "84991c167b8cd23c9370cba0",
		AAD:      "99012345674945544620534672616d65205747",
		PT:       "64726166742d696574662d736672616d652d656e63",
		CT:       "990123456794f509d36e9beacb0e261d99c7d1e972f1fed787d4049f17ca21353c1cc24d56ceabced279",
	},
}

type sframeHeaderVector struct {
	KIDHex string `json:"kid_hex"`
	CTRHex string `json:"ctr_hex"`
	Header string `json:"header"`
}

type sframeBadHeader struct {
	Hex string `json:"hex"`
	Why string `json:"why"`
}

type sframeMediaVector struct {
	Note      string `json:"note"`
	Epoch     uint64 `json:"epoch"`
	Gen       uint16 `json:"gen"`
	KID       uint64 `json:"kid"`
	CTR       uint64 `json:"ctr"`
	BaseKey   string `json:"base_key_hex"`
	MediaKey  string `json:"media_key_b64u"`
	SFrameKey string `json:"sframe_key"`
	Salt      string `json:"sframe_salt"`
	Header    string `json:"header"`
	PT        string `json:"pt"`
	CT        string `json:"ct"`
}

type sframeVectors struct {
	Format      string               `json:"format"`
	MediaSuite  uint16               `json:"media_suite"`
	RFC9605C1   []sframeHeaderVector `json:"rfc9605_c1_headers"`
	RFC9605C3   []rfcSFrameVector    `json:"rfc9605_c3"`
	Headers     []sframeHeaderVector `json:"headers"`
	BadHeaders  []sframeBadHeader    `json:"bad_headers"`
	Media       []sframeMediaVector  `json:"media"`
	BadFrames   []sframeBadFrame     `json:"bad_frames"`
	ContentJSON string               `json:"media_key_content"`
}

// A frame that must not open with media[0]'s key.
type sframeBadFrame struct {
	Hex string `json:"hex"`
	Why string `json:"why"`
}

func h64(v uint64) string { return fmt.Sprintf("%016x", v) }

var sframeBad = []sframeBadHeader{
	{"", "empty"},
	{"08", "CTR length 1 announced, no byte"},
	{"0f01020304050607", "CTR length 8 announced, 7 bytes"},
	{"80", "KID length 1 announced, no byte"},
	{"f0010203040506", "KID length 8 announced, 6 bytes"},
	{"0807", "extended CTR below 8 (non-minimal)"},
	{"090001", "extended CTR with a leading zero byte (non-minimal)"},
	{"8007", "extended KID below 8 (non-minimal)"},
	{"9000ff", "extended KID with a leading zero byte (non-minimal)"},
}

func buildSFrameVectors(t testing.TB) sframeVectors {
	v := sframeVectors{
		Format: "SFrame (RFC 9605) vectors for the crisis call's media, format media v1 (docs/crisis-e2ee.md, \"Media\"). " +
			"rfc9605_* are the RFC's own appendix C values (checked by the Go test); the rest is written by " +
			"`go test ./internal/crisis/e2ee -run TestSFrameVectors -update`. Read by web/test/media.test.ts.",
		MediaSuite: MediaSuite,
		RFC9605C3:  rfcSFrame,
		BadHeaders: sframeBad,
	}
	for _, r := range rfcHeaders {
		v.RFC9605C1 = append(v.RFC9605C1, sframeHeaderVector{h64(r.kid), h64(r.ctr), r.hex})
	}
	for _, r := range []struct{ kid, ctr uint64 }{
		{7, 7}, {8, 8}, {MediaKID(1, 0), 0}, {MediaKID(2, 3), 255}, {MediaKID(70000, 65535), 1 << 40},
		{MediaMaxValue, MediaMaxValue},
	} {
		v.Headers = append(v.Headers, sframeHeaderVector{h64(r.kid), h64(r.ctr), hx(SFrameHeader{r.kid, r.ctr}.Encode())})
	}
	frame := func(n int, seed byte) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31) ^ seed
		}
		return b
	}
	for _, m := range []struct {
		note       string
		epoch      uint64
		gen        uint16
		ctr        uint64
		who        string
		size       int
		firstBytes byte
	}{
		{"audio frame, first frame of a key", 1, 0, 0, "alice", 40, 0xfc},
		{"video frame, CTR on one byte", 2, 1, 200, "bob", 300, 0x10},
		{"video keyframe, CTR on three bytes", 2, 1, 70000, "bob", 1200, 0x90},
		{"empty frame", 3, 0, 5, "carol", 0, 0},
	} {
		sum := sha256.Sum256([]byte("rempart-media-vector-" + m.who + fmt.Sprint(m.epoch, m.gen)))
		base := sum[:]
		kid := MediaKID(m.epoch, m.gen)
		mat, err := DeriveSFrameKeyMaterial(MediaSuite, kid, base)
		if err != nil {
			t.Fatal(err)
		}
		k, err := NewSFrameKey(MediaSuite, kid, base)
		if err != nil {
			t.Fatal(err)
		}
		pt := frame(m.size, m.firstBytes)
		ct := k.Protect(m.ctr, nil, pt)
		v.Media = append(v.Media, sframeMediaVector{
			Note: m.note, Epoch: m.epoch, Gen: m.gen, KID: kid, CTR: m.ctr,
			BaseKey: hx(base), MediaKey: B64.EncodeToString(base), SFrameKey: hx(mat.Key), Salt: hx(mat.Salt),
			Header: hx(SFrameHeader{kid, m.ctr}.Encode()), PT: hx(pt), CT: hx(ct),
		})
	}
	good := unhex(t, v.Media[1].CT)
	flip := append([]byte(nil), good...)
	flip[len(flip)-1] ^= 1
	hdrFlip := append([]byte(nil), good...)
	hdrFlip[len(hdrFlip)/2] ^= 0x80
	otherCTR := append(SFrameHeader{v.Media[1].KID, v.Media[1].CTR + 1}.Encode(), good[len(unhex(t, v.Media[1].Header)):]...)
	v.BadFrames = []sframeBadFrame{
		{hx(flip), "tag altered"},
		{hx(hdrFlip), "ciphertext altered"},
		{hx(otherCTR), "header says another CTR (the header is authenticated)"},
		{hx(good[:len(good)-1]), "truncated by one byte"},
		{hx(good[:len(unhex(t, v.Media[1].Header))+15]), "shorter than a tag"},
	}
	c, _ := json.Marshal(map[string]any{"t": "media_key", "suite": MediaSuite, "kid": v.Media[1].KID, "key": v.Media[1].MediaKey})
	v.ContentJSON = string(c)
	return v
}

func TestSFrameRFCHeaders(t *testing.T) {
	for _, r := range rfcHeaders {
		got := hx(SFrameHeader{r.kid, r.ctr}.Encode())
		if got != r.hex {
			t.Errorf("kid %x ctr %x: %s, want %s", r.kid, r.ctr, got, r.hex)
		}
		h, n, err := ParseSFrameHeader(append(unhex(t, r.hex), 0xaa, 0xbb))
		if err != nil || h.KID != r.kid || h.CTR != r.ctr || n != len(r.hex)/2 {
			t.Errorf("parse %s: %+v %d %v", r.hex, h, n, err)
		}
	}
	// The largest header: both fields on 8 bytes.
	max := SFrameHeader{^uint64(0), ^uint64(0)}.Encode()
	if hx(max) != "ff"+hx(bytes.Repeat([]byte{0xff}, 16)) {
		t.Errorf("max header %x", max)
	}
}

func TestSFrameBadHeaders(t *testing.T) {
	for _, b := range sframeBad {
		if _, _, err := ParseSFrameHeader(unhex(t, b.Hex)); err == nil {
			t.Errorf("%s (%s) accepted", b.Hex, b.Why)
		}
	}
}

func TestSFrameRFCVectors(t *testing.T) {
	for _, r := range rfcSFrame {
		kid := binaryU64(t, r.KIDHex)
		ctr := binaryU64(t, r.CTRHex)
		m, err := DeriveSFrameKeyMaterial(r.CipherSuite, kid, unhex(t, r.BaseKey))
		if err != nil {
			t.Fatal(err)
		}
		if hx(m.Secret) != r.Secret || hx(m.Key) != r.Key || hx(m.Salt) != r.Salt {
			t.Fatalf("suite %x: derivation %x %x %x", r.CipherSuite, m.Secret, m.Key, m.Salt)
		}
		k, err := NewSFrameKey(r.CipherSuite, kid, unhex(t, r.BaseKey))
		if err != nil {
			t.Fatal(err)
		}
		if hx(k.Nonce(ctr)) != r.Nonce {
			t.Fatalf("suite %x: nonce %x", r.CipherSuite, k.Nonce(ctr))
		}
		ct := k.Protect(ctr, unhex(t, r.Metadata), unhex(t, r.PT))
		if hx(ct) != r.CT {
			t.Fatalf("suite %x: ct %x", r.CipherSuite, ct)
		}
		h, pt, err := SFrameUnprotect(ct, unhex(t, r.Metadata), func(uint64) *SFrameKey { return k })
		if err != nil || hx(pt) != r.PT || h.CTR != ctr {
			t.Fatalf("suite %x: unprotect %v", r.CipherSuite, err)
		}
		if _, _, err := SFrameUnprotect(ct, nil, func(uint64) *SFrameKey { return k }); !errors.Is(err, ErrSFrameDecrypt) {
			t.Fatalf("metadata is not authenticated: %v", err)
		}
	}
}

func binaryU64(t testing.TB, h string) uint64 {
	var v uint64
	for _, c := range unhex(t, h) {
		v = v<<8 | uint64(c)
	}
	return v
}

func TestSFrameSenderCounter(t *testing.T) {
	k, err := NewSFrameKey(MediaSuite, MediaKID(4, 2), bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	s := NewSFrameSender(k)
	seen := map[uint64]bool{}
	for i := range 300 {
		ct, err := s.Protect([]byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		h, pt, err := UnprotectMedia(ct, func(kid uint64) *SFrameKey {
			if kid == k.KID {
				return k
			}
			return nil
		})
		if err != nil || !bytes.Equal(pt, []byte{byte(i)}) {
			t.Fatal(err)
		}
		if seen[h.CTR] {
			t.Fatalf("CTR %d used twice", h.CTR)
		}
		seen[h.CTR] = true
	}
	other, _ := NewSFrameKey(MediaSuite, MediaKID(4, 2), bytes.Repeat([]byte{8}, 32))
	ct, _ := s.Protect([]byte("x"))
	if _, _, err := UnprotectMedia(ct, func(uint64) *SFrameKey { return other }); !errors.Is(err, ErrSFrameDecrypt) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, _, err := UnprotectMedia(ct, func(uint64) *SFrameKey { return nil }); !errors.Is(err, ErrSFrameNoKey) {
		t.Fatalf("no key: %v", err)
	}
	big := SFrameHeader{KID: MediaMaxValue + 1, CTR: 0}.Encode()
	if _, _, err := UnprotectMedia(append(big, make([]byte, 16)...), func(uint64) *SFrameKey { return k }); !errors.Is(err, ErrSFrameHeader) {
		t.Fatalf("KID above 2^53-1: %v", err)
	}
}

// TestSFrameVectors recomputes testdata/sframe_vectors.json and compares;
// with -update it rewrites it.
func TestSFrameVectors(t *testing.T) {
	v := buildSFrameVectors(t)
	for _, m := range v.Media {
		k, err := NewSFrameKey(MediaSuite, m.KID, unhex(t, m.BaseKey))
		if err != nil {
			t.Fatal(err)
		}
		_, pt, err := UnprotectMedia(unhex(t, m.CT), func(uint64) *SFrameKey { return k })
		if err != nil || hx(pt) != m.PT {
			t.Fatalf("%s: %v", m.Note, err)
		}
	}
	k1, _ := NewSFrameKey(MediaSuite, v.Media[1].KID, unhex(t, v.Media[1].BaseKey))
	for _, b := range v.BadFrames {
		if _, _, err := UnprotectMedia(unhex(t, b.Hex), func(uint64) *SFrameKey { return k1 }); err == nil {
			t.Fatalf("bad frame accepted: %s", b.Why)
		}
	}
	checkVectors(t, sframeVectorsPath, v, " (if intended, run with -update and bump the media format version)")
}

// FuzzSFrameUnprotect feeds arbitrary frames to the header parser and the
// receiver: malformed input must give an error, never a panic, and a
// parsed header must encode back to the same bytes (one encoding per value).
func FuzzSFrameUnprotect(f *testing.F) {
	k, err := NewSFrameKey(MediaSuite, MediaKID(2, 1), bytes.Repeat([]byte{3}, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.Protect(0, nil, []byte("frame")))
	f.Add(k.Protect(1<<40, nil, bytes.Repeat([]byte{1}, 100)))
	f.Add([]byte{})
	f.Add([]byte{0xff})
	f.Add([]byte{0x99, 0x01, 0x23, 0x45, 0x67})
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, n, err := ParseSFrameHeader(frame)
		if err == nil {
			if n > len(frame) || !bytes.Equal(h.Encode(), frame[:n]) {
				t.Fatalf("header %x parsed as %+v, encodes as %x", frame[:n], h, h.Encode())
			}
		}
		_, _, _ = UnprotectMedia(frame, func(kid uint64) *SFrameKey {
			if kid == k.KID {
				return k
			}
			return nil
		})
	})
}

package crypto_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/vault/crypto"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func fixedRaw(b byte) []byte { return bytes.Repeat([]byte{b}, crypto.RecoveryKeySize) }

func TestRecoveryKeyFormat(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	s := crypto.FormatRecoveryKey(raw)
	groups := strings.Split(s, "-")
	if len(groups) != 11 {
		t.Fatalf("%q: %d groups, want 11", s, len(groups))
	}
	for _, g := range groups {
		if len(g) != 5 || strings.Trim(g, crockford) != "" {
			t.Fatalf("%q: bad group %q", s, g)
		}
	}
	for _, in := range []string{s, strings.ToLower(s), strings.ReplaceAll(s, "-", ""), " " + strings.ReplaceAll(s, "-", "\t") + "\r\n",
		strings.NewReplacer("0", "O", "1", "I").Replace(s), strings.NewReplacer("0", "o", "1", "l").Replace(s)} {
		got, err := crypto.ParseRecoveryKey(in)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("ParseRecoveryKey(%q) = %x, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "hello", s + "0", s[:len(s)-1], strings.Replace(s, "A", "U", 1) + "U", "😀" + s[1:]} {
		if _, err := crypto.ParseRecoveryKey(in); !errors.Is(err, crypto.ErrNotRecoveryKey) && !errors.Is(err, crypto.ErrRecoveryChecksum) {
			t.Errorf("ParseRecoveryKey(%q): %v, want an error", in, err)
		}
	}
}

// TestRecoveryKeyTypos: every single wrong character is caught by the
// checksum, or (in the last character, whose low bits are padding) reads
// as the very same key: a typo never yields another key.
func TestRecoveryKeyTypos(t *testing.T) {
	for _, raw := range [][]byte{fixedRaw(0), fixedRaw(0xa5), []byte("0123456789abcdef0123456789abcdef")} {
		s := crypto.FormatRecoveryKey(raw)
		for i := 0; i < len(s); i++ {
			if s[i] == '-' {
				continue
			}
			for _, c := range crockford {
				if byte(c) == s[i] {
					continue
				}
				typo := s[:i] + string(c) + s[i+1:]
				got, err := crypto.ParseRecoveryKey(typo)
				switch {
				case errors.Is(err, crypto.ErrRecoveryChecksum):
				case err == nil && bytes.Equal(got, raw) && i == len(s)-1:
				default:
					t.Errorf("typo %q (position %d): %x, %v", typo, i, got, err)
				}
			}
		}
	}
}

func FuzzParseRecoveryKey(f *testing.F) {
	f.Add(crypto.FormatRecoveryKey(fixedRaw(1)))
	f.Add(strings.ToLower(crypto.FormatRecoveryKey(fixedRaw(0xfe))))
	f.Add("00000-00000-00000-00000-00000-00000-00000-00000-00000-00000-00000")
	f.Add("ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ")
	f.Add("not a key")
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := crypto.ParseRecoveryKey(s)
		if err != nil {
			if !errors.Is(err, crypto.ErrNotRecoveryKey) && !errors.Is(err, crypto.ErrRecoveryChecksum) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if len(raw) != crypto.RecoveryKeySize {
			t.Fatalf("%d bytes, want %d", len(raw), crypto.RecoveryKeySize)
		}
		again, err := crypto.ParseRecoveryKey(crypto.FormatRecoveryKey(raw))
		if err != nil || !bytes.Equal(again, raw) {
			t.Fatalf("Format(Parse(s)) does not parse back: %v", err)
		}
	})
}

func FuzzRecoveryKeyRoundTrip(f *testing.F) {
	f.Add(fixedRaw(0))
	f.Add(fixedRaw(0xff))
	f.Add([]byte("0123456789abcdef0123456789abcdef"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) != crypto.RecoveryKeySize {
			return
		}
		s := crypto.FormatRecoveryKey(raw)
		got, err := crypto.ParseRecoveryKey(s)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("Parse(Format(%x)) = %x, %v", raw, got, err)
		}
	})
}

func TestSealOpen(t *testing.T) {
	k, err := crypto.KeyFromMaster(fixedRaw(3))
	if err != nil {
		t.Fatal(err)
	}
	sealed := k.Seal(nil, []byte("secret"), []byte("aad"))
	if got, err := k.Open(nil, sealed, []byte("aad")); err != nil || string(got) != "secret" {
		t.Fatalf("Open: %q %v", got, err)
	}
	if bytes.Equal(sealed, k.Seal(nil, []byte("secret"), []byte("aad"))) {
		t.Error("two seals of the same plaintext are equal: nonce reused")
	}
	for i := range sealed {
		bad := append([]byte(nil), sealed...)
		bad[i] ^= 0x80
		if _, err := k.Open(nil, bad, []byte("aad")); !errors.Is(err, crypto.ErrAuth) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
	for _, short := range [][]byte{nil, sealed[:crypto.Overhead-1], sealed[:crypto.Overhead]} {
		if _, err := k.Open(nil, short, []byte("aad")); !errors.Is(err, crypto.ErrAuth) {
			t.Errorf("%d bytes: %v", len(short), err)
		}
	}
	if _, err := k.Open(nil, sealed, []byte("other")); !errors.Is(err, crypto.ErrAuth) {
		t.Error("opened with other associated data")
	}
	k2, _ := crypto.KeyFromMaster(fixedRaw(4))
	if _, err := k2.Open(nil, sealed, []byte("aad")); !errors.Is(err, crypto.ErrAuth) {
		t.Error("opened with another key")
	}
	if k.BlobID([]byte("x")) == k2.BlobID([]byte("x")) || k.BlobID([]byte("x")) == crypto.Hash([]byte("x")) {
		t.Error("blob IDs are not keyed")
	}
	if _, err := crypto.KeyFromMaster(fixedRaw(1)[:31]); err == nil {
		t.Error("short master key accepted")
	}
}

func TestDeriveKEKRefusesAbsurdParameters(t *testing.T) {
	salt := fixedRaw(9)[:16]
	for _, p := range []crypto.KDFParams{
		{Algorithm: "argon2id", Time: 0, MemoryKiB: 64, Threads: 1, Salt: salt},
		{Algorithm: "argon2id", Time: 1000, MemoryKiB: 64, Threads: 1, Salt: salt},
		{Algorithm: "argon2id", Time: 1, MemoryKiB: 1 << 30, Threads: 1, Salt: salt},
		{Algorithm: "argon2id", Time: 1, MemoryKiB: 64, Threads: 0, Salt: salt},
		{Algorithm: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1, Salt: salt[:4]},
		{Algorithm: "scrypt", Salt: salt},
	} {
		if _, err := crypto.DeriveKEK(p, []byte("pw")); err == nil {
			t.Errorf("DeriveKEK accepted %+v", p)
		}
	}
	// Wrapping round trip with cheap parameters; a wrong secret fails.
	p := crypto.KDFParams{Algorithm: "argon2id", Time: 1, MemoryKiB: 64, Threads: 1, Salt: salt}
	kek, err := crypto.DeriveKEK(p, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := crypto.NewRandomKey()
	w, err := crypto.WrapMaster(kek, k, []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := crypto.UnwrapMaster(kek, w, []byte("aad"))
	if err != nil || !bytes.Equal(got.Master(), k.Master()) {
		t.Fatalf("UnwrapMaster: %v", err)
	}
	bad, _ := crypto.DeriveKEK(p, []byte("pW"))
	if _, err := crypto.UnwrapMaster(bad, w, []byte("aad")); !errors.Is(err, crypto.ErrAuth) {
		t.Errorf("wrong secret: %v", err)
	}
	r, _ := crypto.RecoveryKDF()
	k1, _ := crypto.DeriveKEK(r, fixedRaw(1))
	k2, _ := crypto.DeriveKEK(r, fixedRaw(2))
	if bytes.Equal(k1, k2) || len(k1) != 32 {
		t.Error("recovery KEK does not depend on the key")
	}
}

func TestParseID(t *testing.T) {
	id := crypto.Hash([]byte("x"))
	if got, err := crypto.ParseID(id.String()); err != nil || got != id {
		t.Fatal(err)
	}
	for _, s := range []string{"", id.String()[:63], id.String() + "0", strings.Replace(id.String(), id.String()[:1], "g", 1)} {
		if _, err := crypto.ParseID(s); err == nil {
			t.Errorf("ParseID(%q) accepted", s)
		}
	}
}

func TestSealInPlace(t *testing.T) {
	k, err := crypto.KeyFromMaster(fixedRaw(3))
	if err != nil {
		t.Fatal(err)
	}
	plain := bytes.Repeat([]byte("in place "), 1000)
	buf := make([]byte, crypto.NonceSize, crypto.NonceSize+len(plain)+crypto.TagSize)
	buf = append(buf, plain...)
	sealed := k.SealInPlace(buf, []byte("aad"))
	if &sealed[0] != &buf[0] {
		t.Error("sealed into new storage although the buffer had room")
	}
	if len(sealed) != len(plain)+crypto.Overhead {
		t.Fatalf("sealed %d bytes, want %d", len(sealed), len(plain)+crypto.Overhead)
	}
	got, err := k.Open(nil, sealed, []byte("aad"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open after SealInPlace: %v", err)
	}
	// A buffer without room still seals, elsewhere.
	small := append(make([]byte, crypto.NonceSize), plain...)
	if got, err := k.Open(nil, k.SealInPlace(small, nil), nil); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open after SealInPlace without room: %v", err)
	}
}

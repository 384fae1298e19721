package store

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestHashPasswordDefaultFormat(t *testing.T) {
	h, err := HashPassword("correct horse battery staple", DefaultPasswordParams)
	must(t, err)
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(h) {
		t.Fatalf("hash %q is not a PHC argon2id string with the default parameters", h)
	}
	ok, err := VerifyPassword("correct horse battery staple", h)
	if err != nil || !ok {
		t.Fatalf("VerifyPassword(right) = %v, %v", ok, err)
	}
	ok, err = VerifyPassword("correct horse battery stapler", h)
	if err != nil || ok {
		t.Fatalf("VerifyPassword(wrong) = %v, %v", ok, err)
	}
}

func TestHashPasswordSalted(t *testing.T) {
	a, err := HashPassword("same password", fastParams)
	must(t, err)
	b, err := HashPassword("same password", fastParams)
	must(t, err)
	if a == b {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if _, err := HashPassword(strings.Repeat("x", maxPasswordLen+1), fastParams); err == nil {
		t.Fatal("overlong password hashed")
	}
	if _, err := HashPassword("x", PasswordParams{Memory: 8, Iterations: 1, Parallelism: 1}); err == nil {
		t.Fatal("weak parameters accepted")
	}
}

// TestVerifyStoredParameters checks that the parameters are read from the
// stored string, not assumed.
func TestVerifyStoredParameters(t *testing.T) {
	salt := []byte("saltsalt")
	key := argon2.IDKey([]byte("pa55word-for-test"), salt, 2, 2048, 1, 16)
	enc := fmt.Sprintf("$argon2id$v=19$m=2048,t=2,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	ok, err := VerifyPassword("pa55word-for-test", enc)
	if err != nil || !ok {
		t.Fatalf("VerifyPassword = %v, %v", ok, err)
	}
	if !NeedsRehash(enc, fastParams) {
		t.Fatal("NeedsRehash false for other parameters")
	}
	own, err := HashPassword("x", fastParams)
	must(t, err)
	if NeedsRehash(own, fastParams) {
		t.Fatal("NeedsRehash true for the same parameters")
	}
}

func TestVerifyRejectsBadHashes(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	phc := func(alg, ver, params, s, k string) string {
		return "$" + alg + "$" + ver + "$" + params + "$" + s + "$" + k
	}
	good := phc("argon2id", "v=19", "m=1024,t=1,p=1", salt, key)
	if _, err := VerifyPassword("x", good); err != nil {
		t.Fatalf("the control hash is refused: %v", err)
	}
	for name, bad := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2y$10$abcdefghijklmnopqrstuu5BqSm0cZxJ1D3kOqf6V6xWzE3TH0mO2",
		"argon2i":        phc("argon2i", "v=19", "m=1024,t=1,p=1", salt, key),
		"old version":    phc("argon2id", "v=16", "m=1024,t=1,p=1", salt, key),
		"huge memory":    phc("argon2id", "v=19", "m=4194304,t=1,p=1", salt, key),
		"tiny memory":    phc("argon2id", "v=19", "m=8,t=1,p=1", salt, key),
		"no iterations":  phc("argon2id", "v=19", "m=1024,t=0,p=1", salt, key),
		"many passes":    phc("argon2id", "v=19", "m=1024,t=1000,p=1", salt, key),
		"no lanes":       phc("argon2id", "v=19", "m=1024,t=1,p=0", salt, key),
		"many lanes":     phc("argon2id", "v=19", "m=1024,t=1,p=255", salt, key),
		"params order":   phc("argon2id", "v=19", "t=1,m=1024,p=1", salt, key),
		"params missing": phc("argon2id", "v=19", "m=1024,t=1", salt, key),
		"not a number":   phc("argon2id", "v=19", "m=1k,t=1,p=1", salt, key),
		"bad base64":     phc("argon2id", "v=19", "m=1024,t=1,p=1", "!!!!", key),
		"padded base64":  phc("argon2id", "v=19", "m=1024,t=1,p=1", salt+"==", key),
		"short salt":     phc("argon2id", "v=19", "m=1024,t=1,p=1", "c2FsdA", key),
		"short hash":     phc("argon2id", "v=19", "m=1024,t=1,p=1", salt, "AAAA"),
		"extra field":    good + "$x",
	} {
		if ok, err := VerifyPassword("x", bad); err == nil || ok {
			t.Errorf("%s: VerifyPassword(%q) = %v, %v; want an error", name, bad, ok, err)
		}
	}
}

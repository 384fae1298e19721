package store

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are argon2id's cost parameters.
type PasswordParams struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
}

// DefaultPasswordParams: 64 MiB, 3 passes, 2 lanes (about 0.1 s on a small
// server).
var DefaultPasswordParams = PasswordParams{Memory: 64 * 1024, Iterations: 3, Parallelism: 2}

// Bounds accepted for stored hashes: below them a hash is too weak to keep,
// above them verifying it would let a planted hash exhaust the server.
const (
	minMemory, maxMemory         = 1024, 1024 * 1024 // 1 MiB .. 1 GiB
	minIterations, maxIterations = 1, 16
	maxParallelism               = 16
	minSalt, maxSalt             = 8, 64
	minKey, maxKey               = 16, 64
	saltLen, keyLen              = 16, 32
	// maxPasswordLen bounds what is hashed.
	maxPasswordLen = 1024
)

func (p PasswordParams) check() error {
	switch {
	case p.Memory < minMemory || p.Memory > maxMemory:
		return fmt.Errorf("argon2id memory %d KiB is outside %d..%d", p.Memory, minMemory, maxMemory)
	case p.Iterations < minIterations || p.Iterations > maxIterations:
		return fmt.Errorf("argon2id iterations %d is outside %d..%d", p.Iterations, minIterations, maxIterations)
	case p.Parallelism < 1 || p.Parallelism > maxParallelism:
		return fmt.Errorf("argon2id parallelism %d is outside 1..%d", p.Parallelism, maxParallelism)
	case p.Memory < 8*uint32(p.Parallelism):
		return fmt.Errorf("argon2id memory %d KiB is below 8 KiB per lane", p.Memory)
	}
	return nil
}

// HashPassword returns the argon2id hash of password as a PHC string:
// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash> (unpadded standard base64).
func HashPassword(password string, p PasswordParams) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	if len(password) > maxPasswordLen {
		return "", fmt.Errorf("%w: password longer than %d bytes", ErrInvalid, maxPasswordLen)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("draw salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the PHC string encoded,
// comparing in constant time. It fails if encoded is malformed or its
// parameters are outside sane bounds.
func VerifyPassword(password, encoded string) (bool, error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > maxPasswordLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded was made with parameters other than p.
func NeedsRehash(encoded string, p PasswordParams) bool {
	got, salt, key, err := parsePHC(encoded)
	return err != nil || got != p || len(salt) != saltLen || len(key) != keyLen
}

func parsePHC(encoded string) (p PasswordParams, salt, key []byte, err error) {
	bad := func(why string) (PasswordParams, []byte, []byte, error) {
		return PasswordParams{}, nil, nil, fmt.Errorf("password hash: %s", why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return bad(fmt.Sprintf("algorithm %q is not argon2id", parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad(fmt.Sprintf("unsupported version %q", parts[2]))
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("parameters must be m=,t=,p=")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return bad("parameters must be m=,t=,p=")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + name + " is not a number")
		}
		vals[i] = n
	}
	if vals[2] > maxParallelism {
		return bad(fmt.Sprintf("parallelism %d above %d", vals[2], maxParallelism))
	}
	p = PasswordParams{Memory: uint32(vals[0]), Iterations: uint32(vals[1]), Parallelism: uint8(vals[2])}
	if err := p.check(); err != nil {
		return bad(err.Error())
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err := errors.Join(err1, err2); err != nil {
		return bad("salt or hash is not base64")
	}
	if len(salt) < minSalt || len(salt) > maxSalt || len(key) < minKey || len(key) > maxKey {
		return bad("salt or hash length out of bounds")
	}
	return p, salt, key, nil
}

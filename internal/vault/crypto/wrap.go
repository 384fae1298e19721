package crypto

import (
	"crypto/rand"
	"fmt"

	"github.com/zeebo/blake3"
	"golang.org/x/crypto/argon2"
)

// KDFParams are the argon2id parameters stored with each passphrase key.
type KDFParams struct {
	Algorithm string `json:"algorithm"` // "argon2id" or "recovery-v1"
	Time      uint32 `json:"time,omitempty"`
	MemoryKiB uint32 `json:"memory_kib,omitempty"`
	Threads   uint8  `json:"threads,omitempty"`
	Salt      []byte `json:"salt"`
}

// DefaultKDF returns fresh argon2id parameters (OWASP's second recommended
// profile: 64 MiB, 3 passes) with a random salt.
func DefaultKDF() (KDFParams, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return KDFParams{}, err
	}
	return KDFParams{Algorithm: "argon2id", Time: 3, MemoryKiB: 64 * 1024, Threads: 2, Salt: salt}, nil
}

// RecoveryKDF returns parameters for a recovery key: it already carries 256
// bits of entropy, so a fast derivation is enough.
func RecoveryKDF() (KDFParams, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return KDFParams{}, err
	}
	return KDFParams{Algorithm: "recovery-v1", Salt: salt}, nil
}

const ctxRecovery = "rempart 2026-11 v1 recovery key wrap"

// DeriveKEK derives the key-encryption key from a secret (passphrase or the
// raw recovery key bytes) under p. It refuses absurd parameters read from a
// damaged key file instead of exhausting memory.
func DeriveKEK(p KDFParams, secret []byte) ([]byte, error) {
	switch p.Algorithm {
	case "argon2id":
		if p.Time == 0 || p.Time > 64 || p.MemoryKiB < 8 || p.MemoryKiB > 4*1024*1024 || p.Threads == 0 || len(p.Salt) < 8 {
			return nil, fmt.Errorf("key file has unusable argon2id parameters (time=%d memory=%dKiB threads=%d)", p.Time, p.MemoryKiB, p.Threads)
		}
		return argon2.IDKey(secret, p.Salt, p.Time, p.MemoryKiB, p.Threads, 32), nil
	case "recovery-v1":
		h := blake3.NewDeriveKey(ctxRecovery)
		_, _ = h.Write(p.Salt)
		_, _ = h.Write(secret)
		out := make([]byte, 32)
		_, _ = h.Digest().Read(out)
		return out, nil
	default:
		return nil, fmt.Errorf("key file uses unknown key derivation %q (written by a newer Rempart?)", p.Algorithm)
	}
}

// WrapMaster seals the master secret under kek, bound to aad.
func WrapMaster(kek []byte, k *Key, aad []byte) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	return seal(aead, nil, k.master[:], aad), nil
}

// UnwrapMaster opens a wrapped master secret; ErrAuth means a wrong secret.
func UnwrapMaster(kek, wrapped, aad []byte) (*Key, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	m, err := open(aead, nil, wrapped, aad)
	if err != nil {
		return nil, err
	}
	return KeyFromMaster(m)
}

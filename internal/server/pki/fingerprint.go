package pki

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Fingerprint is the SHA-256 of a certificate's DER encoding. The server shows
// the fingerprint of its CA so that users can check it out of band.
type Fingerprint [sha256.Size]byte

// ErrFingerprintMismatch is returned (wrapped) when a server presents a
// certificate authority other than the pinned one.
var ErrFingerprintMismatch = errors.New("certificate authority fingerprint mismatch")

// FingerprintOf returns the fingerprint of a DER-encoded certificate.
func FingerprintOf(der []byte) Fingerprint { return sha256.Sum256(der) }

// String shows the fingerprint as upper-case hex pairs separated by colons,
// e.g. "3F:A2:...:09".
func (f Fingerprint) String() string {
	var b strings.Builder
	b.Grow(len(f) * 3)
	const digits = "0123456789ABCDEF"
	for i, c := range f {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&0x0f])
	}
	return b.String()
}

// Equal compares two fingerprints in constant time.
func (f Fingerprint) Equal(g Fingerprint) bool {
	return subtle.ConstantTimeCompare(f[:], g[:]) == 1
}

// IsZero reports whether f is the zero value (no fingerprint).
func (f Fingerprint) IsZero() bool { return f == Fingerprint{} }

// ParseFingerprint reads a fingerprint typed or pasted by a user: 64 hex
// digits in any case, with or without colons between the pairs; white space
// is ignored and an optional "SHA256:" prefix is accepted.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	in := strings.Join(strings.Fields(s), "")
	for _, prefix := range []string{"sha256:", "sha-256:", "sha256/"} {
		if len(in) >= len(prefix) && strings.EqualFold(in[:len(prefix)], prefix) {
			in = in[len(prefix):]
			break
		}
	}
	if strings.Contains(in, ":") {
		if !wellPlacedColons(in) {
			return f, fmt.Errorf("parse fingerprint %q: want 32 pairs of hex digits separated by colons", s)
		}
		in = strings.ReplaceAll(in, ":", "")
	}
	if len(in) != 2*len(f) {
		return f, fmt.Errorf("parse fingerprint %q: want %d hex digits (SHA-256), got %d", s, 2*len(f), len(in))
	}
	if _, err := hex.Decode(f[:], []byte(in)); err != nil {
		return Fingerprint{}, fmt.Errorf("parse fingerprint %q: %w", s, err)
	}
	return f, nil
}

// wellPlacedColons reports whether s is of the form "hh:hh:...:hh".
func wellPlacedColons(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) != sha256.Size {
		return false
	}
	for _, p := range parts {
		if len(p) != 2 {
			return false
		}
	}
	return true
}

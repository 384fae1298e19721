package crisis

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// Token prefixes: member tokens authenticate a device in one room;
// invitation tokens are single-use join credentials. Both are 32 random
// bytes, b64u, and stored only as the SHA-256 of the whole clear string, so
// that a copy of the database lets nobody act as a member.
const (
	MemberTokenPrefix = "rcm_"
	InviteTokenPrefix = "rci_"
	tokenBytes        = 32
)

// newToken draws a token; it returns the clear text (shown once) and its
// hash (stored).
func newToken(prefix string) (string, []byte, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("crisis: draw token: %w", err)
	}
	clear := prefix + e2ee.B64.EncodeToString(b)
	return clear, hashToken(clear), nil
}

func hashToken(clear string) []byte {
	h := sha256.Sum256([]byte(clear))
	return h[:]
}

// wellFormed tells whether s looks like a token with this prefix, so that
// garbage is refused before any database lookup.
func wellFormed(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return false
	}
	b, err := e2ee.B64.Strict().DecodeString(rest)
	return err == nil && len(b) == tokenBytes
}

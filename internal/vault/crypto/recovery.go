package crypto

import (
	"crypto/rand"
	"errors"
	"strings"

	"github.com/zeebo/blake3"
)

// A recovery key is 32 random bytes meant to be printed on paper. It is shown
// as 11 groups of 5 characters in Crockford's base32 (no I, L, O, U), the last
// two bytes being a checksum so that a typo is caught before any decryption.

// RecoveryKeySize is the number of secret bytes in a recovery key.
const RecoveryKeySize = 32

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewRecoveryKey draws a recovery key.
func NewRecoveryKey() ([]byte, error) {
	b := make([]byte, RecoveryKeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

func recoveryChecksum(raw []byte) []byte {
	s := blake3.Sum256(append([]byte("rempart recovery checksum"), raw...))
	return s[:2]
}

// FormatRecoveryKey renders raw as "XXXXX-XXXXX-...".
func FormatRecoveryKey(raw []byte) string {
	data := append(append([]byte{}, raw...), recoveryChecksum(raw)...)
	var sb strings.Builder
	var acc uint32
	bits := 0
	n := 0
	emit := func(c byte) {
		if n > 0 && n%5 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(c)
		n++
	}
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			emit(crockford[(acc>>(bits-5))&31])
			bits -= 5
		}
	}
	if bits > 0 {
		emit(crockford[(acc<<(5-bits))&31])
	}
	return sb.String()
}

// ErrNotRecoveryKey means the text does not look like a recovery key at all.
var ErrNotRecoveryKey = errors.New("not a recovery key")

// ErrRecoveryChecksum means the text looks like a recovery key with a typo.
var ErrRecoveryChecksum = errors.New("recovery key has a typo: its checksum does not match; check each group of five characters")

// ParseRecoveryKey reads a recovery key typed by a person: case, spaces and
// dashes do not matter, and O/I/L are read as 0/1/1.
func ParseRecoveryKey(s string) ([]byte, error) {
	var clean []byte
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r':
			continue
		case r == 'O':
			clean = append(clean, '0')
		case r == 'I' || r == 'L':
			clean = append(clean, '1')
		case r < 128 && strings.IndexByte(crockford, byte(r)) >= 0:
			clean = append(clean, byte(r))
		default:
			return nil, ErrNotRecoveryKey
		}
	}
	const total = RecoveryKeySize + 2
	if len(clean) != (total*8+4)/5 {
		return nil, ErrNotRecoveryKey
	}
	out := make([]byte, 0, total)
	var acc uint32
	bits := 0
	for _, c := range clean {
		acc = acc<<5 | uint32(strings.IndexByte(crockford, c))
		bits += 5
		if bits >= 8 {
			out = append(out, byte(acc>>(bits-8)))
			bits -= 8
		}
	}
	if len(out) < total {
		return nil, ErrNotRecoveryKey
	}
	raw, sum := out[:RecoveryKeySize], out[RecoveryKeySize:total]
	if !Equal(sum, recoveryChecksum(raw)) {
		return nil, ErrRecoveryChecksum
	}
	return raw, nil
}

package e2ee

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
)

// KeySize is the size of chain keys, message keys and blob keys.
const KeySize = 32

// MaxAdvance bounds how far one AdvanceTo call may move a chain. An index
// comes from a signed but otherwise untrusted envelope; without a bound, an
// index of 2^40 would make a reader hash for hours. A sender writes far
// fewer than a million messages per epoch.
const MaxAdvance = 1 << 20

// ErrChainBackwards is returned when asked for an index before the chain's:
// the ratchet is one-way, which is what keeps a newcomer out of the past.
var ErrChainBackwards = errors.New("e2ee: chain key cannot go backwards")

// ErrChainTooFar is returned when an index is more than MaxAdvance ahead.
var ErrChainTooFar = errors.New("e2ee: chain index too far ahead")

// Chain is a sender's chain key at a given index, for one (sender, epoch):
// the hash ratchet ck_(i+1) = HMAC-SHA256(ck_i, 0x02), with message key
// mk_i = HMAC-SHA256(ck_i, 0x01). Holding ck_i gives every message from i
// on, and none before.
type Chain struct {
	Index uint32
	Key   []byte
}

// NewChain draws a fresh ck_0 from rand.
func NewChain(rand io.Reader) (Chain, error) {
	k := make([]byte, KeySize)
	if _, err := io.ReadFull(rand, k); err != nil {
		return Chain{}, fmt.Errorf("e2ee: drawing chain key: %w", err)
	}
	return Chain{Key: k}, nil
}

func ratchetStep(ck []byte, b byte) []byte {
	m := hmac.New(sha256.New, ck)
	m.Write([]byte{b})
	return m.Sum(nil)
}

// MessageKey is mk at the chain's index.
func (c Chain) MessageKey() []byte { return ratchetStep(c.Key, 0x01) }

// Next is the chain at the following index. It is a new value: c is kept.
func (c Chain) Next() Chain {
	return Chain{Index: c.Index + 1, Key: ratchetStep(c.Key, 0x02)}
}

// AdvanceTo returns the chain at index i, refusing to go backwards or more
// than MaxAdvance steps forward (or past the largest uint32 index, which a
// wrap cannot carry).
func (c Chain) AdvanceTo(i int64) (Chain, error) {
	if i < int64(c.Index) {
		return Chain{}, fmt.Errorf("%w: have index %d, asked for %d", ErrChainBackwards, c.Index, i)
	}
	if i-int64(c.Index) > MaxAdvance || i > int64(^uint32(0)) {
		return Chain{}, fmt.Errorf("%w: have index %d, asked for %d (at most %d steps)", ErrChainTooFar, c.Index, i, MaxAdvance)
	}
	for int64(c.Index) < i {
		c = c.Next()
	}
	return c, nil
}

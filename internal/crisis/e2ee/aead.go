package e2ee

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// NonceSize is the AES-GCM nonce size used everywhere in the format.
const NonceSize = 12

// ErrDecrypt is returned when an AES-GCM ciphertext does not open: wrong
// key, wrong associated data (room, epoch, sender, index…), or altered
// bytes. GCM cannot tell these apart, and neither can this error.
var ErrDecrypt = errors.New("e2ee: cannot decrypt")

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("e2ee: AES key of %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("e2ee: AES: %w", err)
	}
	return cipher.NewGCM(block)
}

// Seal256 is AES-256-GCM encryption with a 12-byte nonce: the ciphertext
// followed by its 16-byte tag (the layout WebCrypto produces).
func Seal256(key, nonce, plaintext, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != NonceSize {
		return nil, fmt.Errorf("e2ee: nonce of %d bytes, want %d", len(nonce), NonceSize)
	}
	return g.Seal(nil, nonce, plaintext, aad), nil
}

// Open256 reverses Seal256; any failure to authenticate is ErrDecrypt.
func Open256(key, nonce, ct, aad []byte) ([]byte, error) {
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(nonce) != NonceSize {
		return nil, fmt.Errorf("%w: nonce of %d bytes, want %d", ErrDecrypt, len(nonce), NonceSize)
	}
	pt, err := g.Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

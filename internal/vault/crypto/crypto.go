// Package crypto owns every cryptographic decision of the vault: the IDs that
// name blobs and files, the master key and the keys derived from it, the
// authenticated encryption of everything stored, and the wrapping of the master
// key by passphrases (argon2id) and by the paper recovery key.
//
// Two kinds of names exist on purpose. Blob IDs are keyed BLAKE3 hashes of the
// plaintext, so that whoever holds the storage cannot confirm that a known file
// is inside. File names (packs, indexes, snapshots, keys) are plain BLAKE3
// hashes of the stored bytes, so that a server can verify an upload without
// holding any key. See docs/format.md.
package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/zeebo/blake3"
)

// IDSize is the length in bytes of every ID.
const IDSize = 32

// ID names a blob (keyed hash of its plaintext) or a stored file (plain hash of
// its bytes).
type ID [IDSize]byte

// String returns the lower-case hex form of the ID.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hex digits, for display.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsNull reports whether the ID is all zeros (unset).
func (id ID) IsNull() bool { return id == ID{} }

// MarshalText encodes the ID as hex (used by JSON).
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes a hex ID.
func (id *ID) UnmarshalText(b []byte) error {
	p, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = p
	return nil
}

// ParseID parses the 64-digit hex form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("invalid ID %q: want %d hex digits", s, 2*IDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("invalid ID %q: %w", s, err)
	}
	return id, nil
}

// Hash returns the plain BLAKE3-256 of data: the name of a stored file.
func Hash(data []byte) ID { return blake3.Sum256(data) }

// NewHasher returns a streaming plain BLAKE3 hasher; Sum(nil) gives 32 bytes.
func NewHasher() *blake3.Hasher { return blake3.New() }

// MasterKeySize is the size of the repository's master secret.
const MasterKeySize = 32

// Key holds the keys derived from the repository's master secret. All derived
// keys come from BLAKE3's key derivation with distinct, versioned contexts.
type Key struct {
	master  [MasterKeySize]byte
	aead    cipher.AEAD
	idKey   [32]byte // keyed BLAKE3 for blob IDs
	cdcKey  [32]byte // keys the chunker's gear table
	idProto *blake3.Hasher
}

const (
	ctxEncryption = "rempart 2026-11 v1 blob encryption"
	ctxBlobID     = "rempart 2026-11 v1 blob id"
	ctxChunker    = "rempart 2026-11 v1 chunker"
)

// NewRandomKey draws a fresh master secret.
func NewRandomKey() (*Key, error) {
	var m [MasterKeySize]byte
	if _, err := rand.Read(m[:]); err != nil {
		return nil, fmt.Errorf("drawing master key: %w", err)
	}
	return KeyFromMaster(m[:])
}

// KeyFromMaster derives all keys from a master secret.
func KeyFromMaster(master []byte) (*Key, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("master key has %d bytes, want %d", len(master), MasterKeySize)
	}
	k := &Key{}
	copy(k.master[:], master)
	var enc [32]byte
	blake3.DeriveKey(ctxEncryption, master, enc[:])
	blake3.DeriveKey(ctxBlobID, master, k.idKey[:])
	blake3.DeriveKey(ctxChunker, master, k.cdcKey[:])
	aead, err := newGCM(enc[:])
	if err != nil {
		return nil, err
	}
	k.aead = aead
	h, err := blake3.NewKeyed(k.idKey[:])
	if err != nil {
		return nil, err
	}
	k.idProto = h
	return k, nil
}

// Master returns a copy of the master secret (only for wrapping it).
func (k *Key) Master() []byte { m := k.master; return m[:] }

// ChunkerKey returns the key that seeds the content-defined chunker, so that
// chunk boundaries do not reveal file contents either.
func (k *Key) ChunkerKey() []byte { c := k.cdcKey; return c[:] }

// BlobID returns the keyed BLAKE3 of plaintext: the ID of a blob.
func (k *Key) BlobID(plaintext []byte) ID {
	h := k.idProto.Clone()
	_, _ = h.Write(plaintext)
	var id ID
	h.Sum(id[:0])
	return id
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// NonceSize and Overhead describe the sealed form: nonce || ciphertext || tag.
const (
	NonceSize = 12
	TagSize   = 16
	Overhead  = NonceSize + TagSize
)

// ErrAuth means that stored bytes failed authentication: they were altered,
// damaged, or belong to another repository.
var ErrAuth = errors.New("authentication failed: data is damaged or was altered")

// Seal encrypts plaintext with AES-256-GCM under a random nonce, binding aad,
// and appends nonce || ciphertext || tag to dst.
func (k *Key) Seal(dst, plaintext, aad []byte) []byte {
	return seal(k.aead, dst, plaintext, aad)
}

// SealInPlace seals buf[NonceSize:] bound to aad where it lies: it draws
// the nonce into buf[:NonceSize] and returns the sealed form, nonce ||
// ciphertext || tag, in buf's own storage when cap(buf) leaves TagSize
// bytes free. A caller that builds the plaintext after NonceSize reserved
// bytes saves a buffer and a copy per blob.
func (k *Key) SealInPlace(buf, aad []byte) []byte {
	if len(buf) < NonceSize {
		panic("crypto: SealInPlace needs NonceSize reserved bytes")
	}
	nonce := buf[:NonceSize]
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	plain := buf[NonceSize:]
	return k.aead.Seal(buf[:NonceSize], nonce, plain, aad)
}

// Open authenticates and decrypts sealed (nonce || ciphertext || tag) bound
// to aad, appending the plaintext to dst.
func (k *Key) Open(dst, sealed, aad []byte) ([]byte, error) {
	return open(k.aead, dst, sealed, aad)
}

func seal(aead cipher.AEAD, dst, plaintext, aad []byte) []byte {
	var nonce [NonceSize]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported systems
	}
	dst = append(dst, nonce[:]...)
	return aead.Seal(dst, nonce[:], plaintext, aad)
}

func open(aead cipher.AEAD, dst, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, ErrAuth
	}
	out, err := aead.Open(dst, sealed[:NonceSize], sealed[NonceSize:], aad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// Equal compares two byte strings in constant time.
func Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

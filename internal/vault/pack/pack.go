// Package pack owns the pack file format: encrypted blobs written one after
// the other, followed by an encrypted header that lists them, the header's
// length and a magic trailer. A pack is named by the plain BLAKE3 hash of its
// bytes, so storage can verify an upload without any key. The header makes a
// pack self-describing: a lost index can be rebuilt from the packs alone.
package pack

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/rempart/rempart/internal/vault/crypto"
)

// BlobType tells data chunks from tree (directory) blobs.
type BlobType uint8

// Blob types.
const (
	DataBlob BlobType = 0
	TreeBlob BlobType = 1
)

func (t BlobType) String() string {
	switch t {
	case DataBlob:
		return "data"
	case TreeBlob:
		return "tree"
	}
	return fmt.Sprintf("blobtype(%d)", uint8(t))
}

// Flags of a blob.
const (
	FlagZstd uint8 = 1 << 0 // the plaintext was zstd-compressed before encryption
)

// Blob locates one blob inside a pack.
type Blob struct {
	Type      BlobType
	Flags     uint8
	ID        crypto.ID
	Offset    uint32 // where the sealed blob starts in the pack
	Length    uint32 // sealed length (nonce + ciphertext + tag)
	RawLength uint32 // plaintext length after decompression
}

// Trailer is the fixed 8-byte tail: header length (uint32 LE) then "RPK1".
const (
	TrailerSize  = 8
	trailerMagic = "RPK1"
	entrySize    = 1 + 1 + crypto.IDSize + 4 + 4 + 4
	// MaxHeaderEntries bounds the header a reader accepts.
	MaxHeaderEntries = 1 << 20
)

// BlobAAD is the associated data that binds a sealed blob to its type and
// ID: a blob cannot be swapped for another by whoever holds the storage.
func BlobAAD(t BlobType, id crypto.ID) []byte {
	aad := make([]byte, 0, 5+crypto.IDSize)
	aad = append(aad, "blob"...)
	aad = append(aad, byte(t))
	return append(aad, id[:]...)
}

var headerAAD = []byte("rempart pack header v1")

// ErrFormat means a pack is not well formed (truncated, damaged or foreign).
var ErrFormat = errors.New("pack is damaged or not a Rempart pack")

// EncodeHeader serialises and seals the header, and appends it with the
// trailer to dst.
func EncodeHeader(k *crypto.Key, dst []byte, blobs []Blob) []byte {
	plain := make([]byte, 0, 4+len(blobs)*entrySize)
	plain = binary.LittleEndian.AppendUint32(plain, uint32(len(blobs)))
	for _, b := range blobs {
		plain = append(plain, byte(b.Type), b.Flags)
		plain = append(plain, b.ID[:]...)
		plain = binary.LittleEndian.AppendUint32(plain, b.Offset)
		plain = binary.LittleEndian.AppendUint32(plain, b.Length)
		plain = binary.LittleEndian.AppendUint32(plain, b.RawLength)
	}
	start := len(dst)
	dst = k.Seal(dst, plain, headerAAD)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(dst)-start))
	return append(dst, trailerMagic...)
}

// ParseTrailer returns the sealed header length from the last TrailerSize
// bytes of a pack of size packSize.
func ParseTrailer(trailer []byte, packSize int64) (int64, error) {
	if len(trailer) != TrailerSize || string(trailer[4:]) != trailerMagic {
		return 0, fmt.Errorf("%w: bad trailer", ErrFormat)
	}
	n := int64(binary.LittleEndian.Uint32(trailer))
	if n < crypto.Overhead+4 || n > packSize-TrailerSize {
		return 0, fmt.Errorf("%w: header length %d out of range", ErrFormat, n)
	}
	return n, nil
}

// DecodeHeader opens a sealed header and checks every entry against the
// pack's size (headerStart is where the sealed header begins).
func DecodeHeader(k *crypto.Key, sealed []byte, headerStart int64) ([]Blob, error) {
	plain, err := k.Open(nil, sealed, headerAAD)
	if err != nil {
		return nil, fmt.Errorf("pack header: %w", err)
	}
	return parseHeader(plain, headerStart)
}

func parseHeader(plain []byte, headerStart int64) ([]Blob, error) {
	if len(plain) < 4 {
		return nil, fmt.Errorf("%w: short header", ErrFormat)
	}
	n := binary.LittleEndian.Uint32(plain)
	if n > MaxHeaderEntries || int64(len(plain)-4) != int64(n)*entrySize {
		return nil, fmt.Errorf("%w: header size does not match its %d entries", ErrFormat, n)
	}
	blobs := make([]Blob, n)
	p := plain[4:]
	for i := range blobs {
		b := &blobs[i]
		b.Type = BlobType(p[0])
		b.Flags = p[1]
		copy(b.ID[:], p[2:2+crypto.IDSize])
		p = p[2+crypto.IDSize:]
		b.Offset = binary.LittleEndian.Uint32(p)
		b.Length = binary.LittleEndian.Uint32(p[4:])
		b.RawLength = binary.LittleEndian.Uint32(p[8:])
		p = p[12:]
		if b.Type > TreeBlob || b.Length < crypto.Overhead || int64(b.Offset)+int64(b.Length) > headerStart {
			return nil, fmt.Errorf("%w: entry %d out of range", ErrFormat, i)
		}
	}
	return blobs, nil
}

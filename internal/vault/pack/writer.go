package pack

import (
	"github.com/rempart/rempart/internal/vault/crypto"
)

// Writer assembles one pack in memory. It is not safe for concurrent use.
type Writer struct {
	key   *crypto.Key
	buf   []byte
	blobs []Blob
}

// NewWriter starts an empty pack with room for sizeHint bytes.
func NewWriter(k *crypto.Key, sizeHint int) *Writer {
	return &Writer{key: k, buf: make([]byte, 0, sizeHint)}
}

// Add appends an already sealed blob.
func (w *Writer) Add(t BlobType, id crypto.ID, flags uint8, rawLen int, sealed []byte) Blob {
	b := Blob{Type: t, Flags: flags, ID: id, Offset: uint32(len(w.buf)), Length: uint32(len(sealed)), RawLength: uint32(rawLen)}
	w.buf = append(w.buf, sealed...)
	w.blobs = append(w.blobs, b)
	return b
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int { return len(w.buf) }

// Count is the number of blobs.
func (w *Writer) Count() int { return len(w.blobs) }

// Finish appends the header and trailer and returns the pack's bytes, its ID
// and its blobs.
func (w *Writer) Finish() (data []byte, id crypto.ID, blobs []Blob) {
	w.buf = EncodeHeader(w.key, w.buf, w.blobs)
	return w.buf, crypto.Hash(w.buf), w.blobs
}

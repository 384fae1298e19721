package e2ee

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Attachment encryption: the plaintext is cut in chunks of BlobChunk bytes
// (the last one shorter, possibly empty for an empty file), each sealed with
// AES-256-GCM under the file's key. Chunking lets the browser encrypt and
// decrypt a large file without one huge buffer per step; the chunk number
// in the nonce and the "last" flag in the aad stop chunks from being
// reordered, dropped or the file from being cut short.
const (
	BlobChunk   = 64 << 10 // plaintext bytes per chunk
	BlobMaxSize = 25 << 20 // plaintext bytes per file
	gcmTag      = 16
)

// ErrBlobTooLarge is returned for a file over BlobMaxSize.
var ErrBlobTooLarge = errors.New("e2ee: attachment larger than 25 MiB")

// blobNonce is u32be(0) || u64be(n).
func blobNonce(n uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 4, NonceSize), n)
}

// BlobAAD is the associated data of chunk n: Enc(LabelBlob, n, "1" for the
// last chunk else "0").
func BlobAAD(n uint64, last bool) []byte {
	flag := "0"
	if last {
		flag = "1"
	}
	return Enc(LabelBlob, n, flag)
}

// BlobCiphertextSize is the size of the ciphertext of a plaintext of size n.
func BlobCiphertextSize(n int) int {
	chunks := max(1, (n+BlobChunk-1)/BlobChunk)
	return n + chunks*gcmTag
}

// EncryptBlob encrypts an attachment under key (32 bytes). An empty file
// is one empty chunk; a file whose size is a multiple of BlobChunk ends
// with a full chunk (no empty chunk after it).
func EncryptBlob(key, plain []byte) ([]byte, error) {
	if len(plain) > BlobMaxSize {
		return nil, fmt.Errorf("%w (%d bytes)", ErrBlobTooLarge, len(plain))
	}
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, BlobCiphertextSize(len(plain)))
	for n := uint64(0); ; n++ {
		chunk := plain[min(len(plain), int(n)*BlobChunk):]
		last := len(chunk) <= BlobChunk
		if !last {
			chunk = chunk[:BlobChunk]
		}
		out = g.Seal(out, blobNonce(n), chunk, BlobAAD(n, last))
		if last {
			return out, nil
		}
	}
}

// DecryptBlob decrypts an attachment. Every chunk must authenticate with
// its number and, for the final one, the "last" flag: a ciphertext cut at a
// chunk boundary fails because its new final chunk was sealed as not last.
func DecryptBlob(key, ct []byte) ([]byte, error) {
	if len(ct) < gcmTag {
		return nil, fmt.Errorf("%w: attachment of %d bytes is shorter than one tag", ErrDecrypt, len(ct))
	}
	if len(ct) > BlobCiphertextSize(BlobMaxSize) {
		return nil, fmt.Errorf("%w (%d bytes of ciphertext)", ErrBlobTooLarge, len(ct))
	}
	g, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	const sealed = BlobChunk + gcmTag
	out := make([]byte, 0, len(ct))
	for n := uint64(0); ; n++ {
		chunk := ct[int(n)*sealed:]
		last := len(chunk) <= sealed
		if !last {
			chunk = chunk[:sealed]
		}
		out, err = g.Open(out, blobNonce(n), chunk, BlobAAD(n, last))
		if err != nil {
			return nil, fmt.Errorf("%w: attachment chunk %d (altered, reordered or cut short)", ErrDecrypt, n)
		}
		if last {
			return out, nil
		}
	}
}

// BlobID is the id of an uploaded attachment: b64u(SHA-256(ciphertext)).
func BlobID(ct []byte) string {
	h := sha256.Sum256(ct)
	return B64.EncodeToString(h[:])
}

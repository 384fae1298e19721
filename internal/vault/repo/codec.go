package repo

import (
	"fmt"
	"math"
	"runtime"

	"github.com/klauspost/compress/zstd"

	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
)

// Compression says how hard backups compress new data. Every level
// writes standard zstd frames, so readers never need to know which was used.
type Compression string

// Compression levels.
const (
	CompressAuto Compression = "auto" // zstd default level; skips data that is already compressed
	CompressFast Compression = "fast" // zstd fastest level: less CPU, a few percent bigger
	CompressMax  Compression = "max"  // zstd better-compression level: more CPU, smaller
	CompressOff  Compression = "off"  // store as is
)

// ParseCompression reads a level name.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case CompressAuto, CompressFast, CompressMax, CompressOff:
		return c, nil
	case "":
		return CompressAuto, nil
	}
	return "", fmt.Errorf("unknown compression %q: use auto, fast, max or off", s)
}

// codec compresses and decompresses blobs. zstd's EncodeAll and DecodeAll
// are safe for concurrent use; the concurrency settings bound their memory.
type codec struct {
	level Compression
	enc   *zstd.Encoder
	dec   *zstd.Decoder
}

func newEncoder(level Compression) *zstd.Encoder {
	l := zstd.SpeedDefault
	switch level {
	case CompressFast:
		l = zstd.SpeedFastest
	case CompressMax:
		l = zstd.SpeedBetterCompression
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderCRC(false), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(err) // only on invalid options
	}
	return enc
}

func newCodec() *codec {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithDecoderMaxMemory(1<<30), zstd.IgnoreChecksum(true))
	if err != nil {
		panic(err)
	}
	return &codec{level: CompressAuto, enc: newEncoder(CompressAuto), dec: dec}
}

// SetCompression chooses how the next blobs are compressed. Call it before
// StartWriting.
func (r *Repository) SetCompression(c Compression) {
	if c == r.dec.level {
		return
	}
	r.dec.level = c
	if c != CompressOff {
		r.dec.enc = newEncoder(c)
	}
}

// looksIncompressible estimates, from three 4 KiB samples, whether data is
// already compressed or encrypted (JPEG, ZIP, video...): the byte entropy of
// such data is close to 8 bits, and compressing it would only burn CPU.
func looksIncompressible(data []byte) bool {
	const sample = 4096
	if len(data) < 3*sample {
		return false
	}
	var hist [256]uint32
	for _, off := range []int{0, len(data)/2 - sample/2, len(data) - sample} {
		for _, c := range data[off : off+sample] {
			hist[c]++
		}
	}
	total := float64(3 * sample)
	h := 0.0
	for _, c := range hist {
		if c > 0 {
			p := float64(c) / total
			h -= p * math.Log2(p)
		}
	}
	// A 12 KiB sample of uniform bytes measures about 7.98 bits.
	return h > 7.9
}

// compress appends the stored form of a blob's plaintext to dst and
// returns it with its flags: compressed when that saves at least 1/32,
// plain otherwise. dst should have room for len(data) more bytes (plus
// crypto.TagSize for sealing in place); the result may be a new slice if
// it had not.
func (c *codec) compress(dst, data []byte) ([]byte, uint8) {
	if c.level != CompressOff && len(data) >= 64 && !looksIncompressible(data) {
		out := c.enc.EncodeAll(data, dst)
		if len(out)-len(dst) < len(data)-len(data)/32 {
			return out, pack.FlagZstd
		}
	}
	return append(dst, data...), 0
}

// decodeBlob authenticates, decrypts and decompresses one sealed blob.
func decodeBlob(k *crypto.Key, c *codec, t pack.BlobType, id crypto.ID, flags uint8, rawLen uint32, sealed []byte, buf, rawBuf []byte) ([]byte, error) {
	plain, err := k.Open(buf, sealed, pack.BlobAAD(t, id))
	if err != nil {
		return nil, fmt.Errorf("%s blob %s: %w", t, id.Short(), err)
	}
	if flags&pack.FlagZstd != 0 {
		if cap(rawBuf) < int(rawLen) {
			rawBuf = make([]byte, 0, rawLen)
		}
		out, err := c.dec.DecodeAll(plain, rawBuf[:0])
		if err != nil {
			return nil, fmt.Errorf("%s blob %s: decompressing: %w", t, id.Short(), err)
		}
		plain = out
	}
	if uint32(len(plain)) != rawLen {
		return nil, fmt.Errorf("%s blob %s: length %d, index says %d", t, id.Short(), len(plain), rawLen)
	}
	return plain, nil
}

// DecodeBlob opens a sealed blob read from its pack at loc.
func (r *Repository) DecodeBlob(id crypto.ID, loc index.Location, sealed []byte) ([]byte, error) {
	return decodeBlob(r.key, r.dec, loc.Type, id, loc.Flags, loc.RawLength, sealed, nil, nil)
}

// Scratch holds buffers reused across DecodeBlobInto calls by one
// goroutine, so that reading many blobs does not allocate for each.
type Scratch struct {
	plain, raw []byte
}

// DecodeBlobInto is DecodeBlob reusing s's buffers: the result is valid
// until the next call with the same s.
func (r *Repository) DecodeBlobInto(id crypto.ID, loc index.Location, sealed []byte, s *Scratch) ([]byte, error) {
	out, err := decodeBlob(r.key, r.dec, loc.Type, id, loc.Flags, loc.RawLength, sealed, s.plain[:0], s.raw[:0])
	if err == nil {
		if loc.Flags&pack.FlagZstd != 0 {
			s.raw = out[:0]
		} else {
			s.plain = out[:0]
		}
	}
	return out, err
}

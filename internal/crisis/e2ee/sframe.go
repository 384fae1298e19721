package e2ee

// SFrame (RFC 9605) for the crisis call's media (docs/crisis-e2ee.md,
// "Media (SFrame, RFC 9605)"). This is the reference the browser's
// implementation (web/src/media/sframe.ts) is checked against through
// testdata/sframe_vectors.json.
//
// Only the AES-GCM cipher suites are implemented (0x0004 for the RFC's
// test vectors, 0x0005 for the room's media): the AES-CTR+HMAC suites
// exist for truncated tags, which the room does not need.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// SFrame cipher suites (RFC 9605 §4.5, IANA "SFrame Cipher Suites").
const (
	SFrameAES128GCMSHA256 uint16 = 0x0004 // AES_128_GCM_SHA256_128
	SFrameAES256GCMSHA512 uint16 = 0x0005 // AES_256_GCM_SHA512_128
)

// MediaSuite is the cipher suite of the room's media, format "media v1".
const MediaSuite = SFrameAES256GCMSHA512

// MediaKeySize is the size of a member's media secret (the SFrame
// base_key) in media v1.
const MediaKeySize = 32

// MediaMaxValue bounds KID and CTR in media v1: browsers hold them as
// JavaScript numbers, exact up to 2^53 - 1. Larger values are refused.
const MediaMaxValue = 1<<53 - 1

// MediaKID is the KID of a member's media key number gen in an epoch:
// epoch << 16 | gen (docs/crisis-e2ee.md).
func MediaKID(epoch uint64, gen uint16) uint64 { return epoch<<16 | uint64(gen) }

// SFrame errors. ErrSFrameDecrypt is what a wrong key, a wrong header or
// altered bytes give (AES-GCM cannot tell them apart).
var (
	ErrSFrameHeader    = errors.New("sframe: malformed header")
	ErrSFrameTruncated = errors.New("sframe: truncated frame")
	ErrSFrameNoKey     = errors.New("sframe: no key for this KID")
	ErrSFrameDecrypt   = errors.New("sframe: cannot decrypt")
	ErrSFrameSuite     = errors.New("sframe: unsupported cipher suite")
)

type sframeSuite struct {
	hash   func() hash.Hash
	nk, nn int
}

const sframeTagSize = 16

func suiteParams(suite uint16) (sframeSuite, error) {
	switch suite {
	case SFrameAES128GCMSHA256:
		return sframeSuite{sha256.New, 16, 12}, nil
	case SFrameAES256GCMSHA512:
		return sframeSuite{sha512.New, 32, 12}, nil
	}
	return sframeSuite{}, fmt.Errorf("%w: 0x%04x", ErrSFrameSuite, suite)
}

// SFrameHeader is the clear header of an SFrame ciphertext.
type SFrameHeader struct {
	KID uint64
	CTR uint64
}

// minLen is the number of bytes of v's minimal big-endian form (1 for 0).
func minLen(v uint64) int {
	n := 1
	for v > 0xff {
		v >>= 8
		n++
	}
	return n
}

func appendBE(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*uint(i))))
	}
	return b
}

// Append appends the header's encoding (RFC 9605 §4.3): a config byte
// X|K(3)|Y|C(3), then the KID when X is set, then the CTR when Y is set.
// A value below 8 sits in the config byte; otherwise it takes its minimal
// big-endian length L (1..8) and the 3-bit field holds L-1.
func (h SFrameHeader) Append(b []byte) []byte {
	var cfg byte
	kl, cl := 0, 0
	if h.KID < 8 {
		cfg |= byte(h.KID) << 4
	} else {
		kl = minLen(h.KID)
		cfg |= 0x80 | byte(kl-1)<<4
	}
	if h.CTR < 8 {
		cfg |= byte(h.CTR)
	} else {
		cl = minLen(h.CTR)
		cfg |= 0x08 | byte(cl-1)
	}
	b = append(b, cfg)
	if kl > 0 {
		b = appendBE(b, h.KID, kl)
	}
	if cl > 0 {
		b = appendBE(b, h.CTR, cl)
	}
	return b
}

// Encode is the header's encoding on its own.
func (h SFrameHeader) Encode() []byte { return h.Append(make([]byte, 0, 17)) }

// readField reads an extended (X or Y) field of n bytes, refusing a
// non-minimal encoding (a value below 8, or a leading zero byte): this
// implementation writes exactly one encoding per value and reads only it.
func readField(b []byte, n int) (uint64, error) {
	if len(b) < n {
		return 0, ErrSFrameTruncated
	}
	if n > 1 && b[0] == 0 {
		return 0, fmt.Errorf("%w: value with a leading zero byte", ErrSFrameHeader)
	}
	var v uint64
	for _, c := range b[:n] {
		v = v<<8 | uint64(c)
	}
	if v < 8 {
		return 0, fmt.Errorf("%w: value below 8 in an extended field", ErrSFrameHeader)
	}
	return v, nil
}

// ParseSFrameHeader decodes the header at the start of b and returns it
// with its length in bytes.
func ParseSFrameHeader(b []byte) (SFrameHeader, int, error) {
	if len(b) < 1 {
		return SFrameHeader{}, 0, ErrSFrameTruncated
	}
	cfg := b[0]
	var h SFrameHeader
	off := 1
	k := int(cfg>>4) & 7
	if cfg&0x80 == 0 {
		h.KID = uint64(k)
	} else {
		v, err := readField(b[off:], k+1)
		if err != nil {
			return SFrameHeader{}, 0, err
		}
		h.KID = v
		off += k + 1
	}
	c := int(cfg) & 7
	if cfg&0x08 == 0 {
		h.CTR = uint64(c)
	} else {
		v, err := readField(b[off:], c+1)
		if err != nil {
			return SFrameHeader{}, 0, err
		}
		h.CTR = v
		off += c + 1
	}
	return h, off, nil
}

// SFrameKeyMaterial is what RFC 9605 §4.4.2 derives from a base key.
type SFrameKeyMaterial struct {
	Secret []byte // sframe_secret = HKDF-Extract("", base_key)
	Key    []byte // sframe_key
	Salt   []byte // sframe_salt
}

func sframeLabel(what string, kid uint64, suite uint16) []byte {
	l := append([]byte("SFrame 1.0 Secret "+what+" "), make([]byte, 10)...)
	binary.BigEndian.PutUint64(l[len(l)-10:], kid)
	binary.BigEndian.PutUint16(l[len(l)-2:], suite)
	return l
}

// DeriveSFrameKeyMaterial derives sframe_key and sframe_salt for a KID:
//
//	sframe_secret = HKDF-Extract("", base_key)
//	sframe_key    = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret key "  || u64be(KID) || u16be(suite), Nk)
//	sframe_salt   = HKDF-Expand(sframe_secret, "SFrame 1.0 Secret salt " || u64be(KID) || u16be(suite), Nn)
func DeriveSFrameKeyMaterial(suite uint16, kid uint64, baseKey []byte) (SFrameKeyMaterial, error) {
	p, err := suiteParams(suite)
	if err != nil {
		return SFrameKeyMaterial{}, err
	}
	secret, err := hkdf.Extract(p.hash, baseKey, nil)
	if err != nil {
		return SFrameKeyMaterial{}, err
	}
	key, err := hkdf.Expand(p.hash, secret, string(sframeLabel("key", kid, suite)), p.nk)
	if err != nil {
		return SFrameKeyMaterial{}, err
	}
	salt, err := hkdf.Expand(p.hash, secret, string(sframeLabel("salt", kid, suite)), p.nn)
	if err != nil {
		return SFrameKeyMaterial{}, err
	}
	return SFrameKeyMaterial{Secret: secret, Key: key, Salt: salt}, nil
}

// SFrameKey is one (KID, base key) ready to protect or unprotect frames.
// It does not count: the caller gives each frame its CTR and must never
// give the same CTR twice under one key (SFrameSender does).
type SFrameKey struct {
	Suite uint16
	KID   uint64
	aead  cipher.AEAD
	salt  []byte
}

// NewSFrameKey derives the key and salt for kid from baseKey.
func NewSFrameKey(suite uint16, kid uint64, baseKey []byte) (*SFrameKey, error) {
	m, err := DeriveSFrameKeyMaterial(suite, kid, baseKey)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(m.Key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SFrameKey{Suite: suite, KID: kid, aead: g, salt: m.Salt}, nil
}

// Nonce is sframe_salt XOR CTR, the CTR left-padded with zeros to Nn bytes.
func (k *SFrameKey) Nonce(ctr uint64) []byte {
	n := append([]byte(nil), k.salt...)
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], ctr)
	for i := range 8 {
		n[len(n)-8+i] ^= c[i]
	}
	return n
}

// Protect returns header || AEAD(sframe_key, nonce, plaintext, aad =
// header || metadata) for frame counter ctr.
func (k *SFrameKey) Protect(ctr uint64, metadata, plaintext []byte) []byte {
	hdr := SFrameHeader{KID: k.KID, CTR: ctr}.Encode()
	aad := append(append([]byte(nil), hdr...), metadata...)
	out := make([]byte, len(hdr), len(hdr)+len(plaintext)+sframeTagSize)
	copy(out, hdr)
	return k.aead.Seal(out, k.Nonce(ctr), plaintext, aad)
}

// Open decrypts a frame whose header was parsed already (hdrLen bytes).
func (k *SFrameKey) open(h SFrameHeader, hdrLen int, frame, metadata []byte) ([]byte, error) {
	if h.KID != k.KID {
		return nil, ErrSFrameNoKey
	}
	if len(frame)-hdrLen < sframeTagSize {
		return nil, ErrSFrameTruncated
	}
	aad := append(append([]byte(nil), frame[:hdrLen]...), metadata...)
	pt, err := k.aead.Open(nil, k.Nonce(h.CTR), frame[hdrLen:], aad)
	if err != nil {
		return nil, ErrSFrameDecrypt
	}
	return pt, nil
}

// Unprotect parses an SFrame ciphertext, finds its key with lookup (nil:
// no key for that KID) and decrypts it.
func SFrameUnprotect(frame, metadata []byte, lookup func(kid uint64) *SFrameKey) (SFrameHeader, []byte, error) {
	h, n, err := ParseSFrameHeader(frame)
	if err != nil {
		return SFrameHeader{}, nil, err
	}
	k := lookup(h.KID)
	if k == nil {
		return h, nil, ErrSFrameNoKey
	}
	pt, err := k.open(h, n, frame, metadata)
	return h, pt, err
}

// SFrameSender protects frames under one key with a counter that starts
// at 0 and only grows: a (key, CTR) pair is never used twice. A new key
// means a new SFrameSender.
type SFrameSender struct {
	key *SFrameKey
	ctr uint64
}

// NewSFrameSender starts a sender at CTR 0.
func NewSFrameSender(k *SFrameKey) *SFrameSender { return &SFrameSender{key: k} }

// Protect encrypts one whole frame (media v1: empty metadata).
func (s *SFrameSender) Protect(frame []byte) ([]byte, error) {
	if s.ctr > MediaMaxValue {
		return nil, errors.New("sframe: counter exhausted, a new key is needed")
	}
	out := s.key.Protect(s.ctr, nil, frame)
	s.ctr++
	return out, nil
}

// UnprotectMedia is the media v1 receiver: suite 0x0005, empty metadata,
// KID and CTR at most 2^53 - 1.
func UnprotectMedia(frame []byte, lookup func(kid uint64) *SFrameKey) (SFrameHeader, []byte, error) {
	h, n, err := ParseSFrameHeader(frame)
	if err != nil {
		return SFrameHeader{}, nil, err
	}
	if h.KID > MediaMaxValue || h.CTR > MediaMaxValue {
		return SFrameHeader{}, nil, fmt.Errorf("%w: KID or CTR above 2^53-1", ErrSFrameHeader)
	}
	k := lookup(h.KID)
	if k == nil {
		return h, nil, ErrSFrameNoKey
	}
	if k.Suite != MediaSuite {
		return h, nil, ErrSFrameSuite
	}
	pt, err := k.open(h, n, frame, nil)
	return h, pt, err
}

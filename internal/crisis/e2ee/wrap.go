package e2ee

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Errors of Unwrap and Open, each naming what failed; test with errors.Is.
var (
	ErrWrongRoom      = errors.New("e2ee: object belongs to another room")
	ErrWrongEpoch     = errors.New("e2ee: object belongs to another epoch")
	ErrWrongSender    = errors.New("e2ee: sender id does not match the signing key")
	ErrWrongRecipient = errors.New("e2ee: no wrap for this member in the bundle")
)

// wrapPlainSize is u32be(index) || ck.
const wrapPlainSize = 4 + KeySize

// Recipient is who a chain key is wrapped for: a member id and its X25519
// public key (32 raw bytes).
type Recipient struct {
	ID string
	DH []byte
}

// Recipients turns roster members into recipients, checking each X25519 key.
func Recipients(members []RosterMember) ([]Recipient, error) {
	out := make([]Recipient, 0, len(members))
	for _, m := range members {
		dh, err := decodeKey(m.DH)
		if err != nil {
			return nil, fmt.Errorf("e2ee: member %s X25519 key: %w", m.ID, err)
		}
		out = append(out, Recipient{ID: m.ID, DH: dh})
	}
	return out, nil
}

// WrapInfo is the HKDF info and the AES-GCM associated data of a wrap:
// Enc(LabelWrapKDF, room, epoch, sender, recipient). Binding all four in
// both places means a wrap copied to another room, epoch, sender or
// recipient neither derives the right key nor authenticates.
func WrapInfo(room string, epoch int64, sender, recipient string) []byte {
	return Enc(LabelWrapKDF, room, epoch, sender, recipient)
}

// wrapKEK derives the key-encryption key:
// HKDF-SHA256(ikm = X25519 shared secret, salt = eph_pub || r.dh_pub, info).
// ecdh refuses an all-zero shared secret (a low-order public key).
func wrapKEK(priv *ecdh.PrivateKey, peer, ephPub, recipientDH, info []byte) ([]byte, error) {
	pub, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return nil, fmt.Errorf("e2ee: X25519 public key: %w", err)
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("e2ee: X25519: %w", err)
	}
	salt := append(append([]byte(nil), ephPub...), recipientDH...)
	return hkdfKey(shared, salt, info)
}

// wrapOne wraps chain for one recipient with the given ephemeral private
// key and nonce (both drawn by the caller: tests pass fixed ones).
func wrapOne(ephPriv, nonce []byte, room string, epoch int64, sender string, r Recipient, chain Chain) (Wrap, error) {
	eph, err := ecdh.X25519().NewPrivateKey(ephPriv)
	if err != nil {
		return Wrap{}, fmt.Errorf("e2ee: ephemeral key: %w", err)
	}
	ephPub := eph.PublicKey().Bytes()
	info := WrapInfo(room, epoch, sender, r.ID)
	kek, err := wrapKEK(eph, r.DH, ephPub, r.DH, info)
	if err != nil {
		return Wrap{}, fmt.Errorf("e2ee: wrap for %s: %w", r.ID, err)
	}
	if len(chain.Key) != KeySize {
		return Wrap{}, fmt.Errorf("e2ee: chain key of %d bytes, want %d", len(chain.Key), KeySize)
	}
	plain := binary.BigEndian.AppendUint32(make([]byte, 0, wrapPlainSize), chain.Index)
	plain = append(plain, chain.Key...)
	ct, err := Seal256(kek, nonce, plain, info)
	if err != nil {
		return Wrap{}, err
	}
	return Wrap{
		To:    r.ID,
		Eph:   B64.EncodeToString(ephPub),
		Nonce: B64.EncodeToString(nonce),
		CT:    B64.EncodeToString(ct),
	}, nil
}

// Wrap builds the signed wrap bundle that gives chain (this identity's
// sender key in room at epoch, at its current index) to each recipient.
// For each recipient, in order, it reads 32 bytes (ephemeral X25519 key)
// then 12 bytes (nonce) from rand.
func (id *Identity) Wrap(rand io.Reader, room string, epoch int64, chain Chain, to []Recipient) (Signed, error) {
	b := WrapBundle{V: Version, Room: room, Epoch: epoch, Sender: id.ID(), Wraps: make([]Wrap, 0, len(to))}
	for _, r := range to {
		var buf [32 + NonceSize]byte
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return Signed{}, fmt.Errorf("e2ee: drawing wrap randomness: %w", err)
		}
		w, err := wrapOne(buf[:32], buf[32:], room, epoch, b.Sender, r, chain)
		if err != nil {
			return Signed{}, err
		}
		b.Wraps = append(b.Wraps, w)
	}
	body, err := json.Marshal(b)
	if err != nil {
		return Signed{}, fmt.Errorf("e2ee: encoding wrap bundle: %w", err)
	}
	return id.Sign(LabelWraps, room, body), nil
}

// Unwrap opens the wrap addressed to me in a signed bundle from the sender
// whose signing key is senderSign, expected for room and epoch. It checks,
// in this order and each with its own error: the body parses; the room; the
// sender id against senderSign; the signature; the epoch; that exactly one
// wrap is addressed to me; that it decrypts to an index and a chain key.
func Unwrap(s Signed, senderSign []byte, me *Identity, room string, epoch int64) (Chain, error) {
	b, err := ParseWrapBundle([]byte(s.Body))
	if err != nil {
		return Chain{}, fmt.Errorf("wrap bundle: %w", err)
	}
	if b.Room != room {
		return Chain{}, fmt.Errorf("wrap bundle for room %q, expected %q: %w", b.Room, room, ErrWrongRoom)
	}
	if b.Sender != MemberID(senderSign) {
		return Chain{}, fmt.Errorf("wrap bundle from %q: %w", b.Sender, ErrWrongSender)
	}
	if err := Verify(senderSign, LabelWraps, room, []byte(s.Body), s.Sig); err != nil {
		return Chain{}, fmt.Errorf("wrap bundle from %s: %w", b.Sender, err)
	}
	if b.Epoch != epoch {
		return Chain{}, fmt.Errorf("wrap bundle for epoch %d, expected %d: %w", b.Epoch, epoch, ErrWrongEpoch)
	}
	myID := me.ID()
	var mine *Wrap
	for k := range b.Wraps {
		if b.Wraps[k].To != myID {
			continue
		}
		if mine != nil {
			return Chain{}, fmt.Errorf("%w: bundle from %s holds several wraps for %s", ErrMalformed, b.Sender, myID)
		}
		mine = &b.Wraps[k]
	}
	if mine == nil {
		return Chain{}, fmt.Errorf("bundle from %s: %w (%s)", b.Sender, ErrWrongRecipient, myID)
	}
	c, err := me.openWrap(mine, WrapInfo(room, epoch, b.Sender, myID))
	if err != nil {
		return Chain{}, fmt.Errorf("cannot read %s's key: %w", b.Sender, err)
	}
	return c, nil
}

func (id *Identity) openWrap(w *Wrap, info []byte) (Chain, error) {
	ephPub, err := decodeKey(w.Eph)
	if err != nil {
		return Chain{}, fmt.Errorf("%w: ephemeral key %w", ErrDecrypt, err)
	}
	nonce, err := B64.DecodeString(w.Nonce)
	if err != nil {
		return Chain{}, fmt.Errorf("%w: nonce not b64u", ErrDecrypt)
	}
	ct, err := B64.DecodeString(w.CT)
	if err != nil {
		return Chain{}, fmt.Errorf("%w: ciphertext not b64u", ErrDecrypt)
	}
	kek, err := wrapKEK(id.dh, ephPub, ephPub, id.DHPub(), info)
	if err != nil {
		return Chain{}, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	plain, err := Open256(kek, nonce, ct, info)
	if err != nil {
		return Chain{}, err
	}
	if len(plain) != wrapPlainSize {
		return Chain{}, fmt.Errorf("%w: wrapped key of %d bytes, want %d", ErrDecrypt, len(plain), wrapPlainSize)
	}
	return Chain{Index: binary.BigEndian.Uint32(plain), Key: plain[4:]}, nil
}

// hkdfKey is HKDF-SHA256 to a 32-byte key.
func hkdfKey(secret, salt, info []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, secret, salt, string(info), KeySize)
	if err != nil {
		return nil, fmt.Errorf("e2ee: HKDF: %w", err)
	}
	return k, nil
}

package e2ee

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Identity is one device's keys in one room: an Ed25519 key that signs
// everything the device writes, and an X25519 key that receives wrapped
// sender keys. The browser keeps the same pair, non-extractable, in
// IndexedDB; in Go it serves tests, vectors and the load benchmark.
type Identity struct {
	sign ed25519.PrivateKey
	dh   *ecdh.PrivateKey
}

// NewIdentity draws a fresh identity from rand. The bytes are read here and
// turned into keys with NewKeyFromSeed / NewPrivateKey (rather than
// GenerateKey, which ignores its reader since Go 1.26), so a deterministic
// reader gives deterministic keys for test vectors.
func NewIdentity(rand io.Reader) (*Identity, error) {
	var seeds [ed25519.SeedSize + 32]byte
	if _, err := io.ReadFull(rand, seeds[:]); err != nil {
		return nil, fmt.Errorf("e2ee: drawing identity keys: %w", err)
	}
	return IdentityFromSeeds(seeds[:ed25519.SeedSize], seeds[ed25519.SeedSize:])
}

// IdentityFromSeeds rebuilds an identity from a 32-byte Ed25519 seed and a
// 32-byte X25519 private key (tests and vectors).
func IdentityFromSeeds(signSeed, dhPriv []byte) (*Identity, error) {
	if len(signSeed) != ed25519.SeedSize {
		return nil, fmt.Errorf("e2ee: signing seed of %d bytes, want %d", len(signSeed), ed25519.SeedSize)
	}
	dh, err := ecdh.X25519().NewPrivateKey(dhPriv)
	if err != nil {
		return nil, fmt.Errorf("e2ee: X25519 private key: %w", err)
	}
	return &Identity{sign: ed25519.NewKeyFromSeed(signSeed), dh: dh}, nil
}

// SignPub is the 32-byte Ed25519 public key.
func (id *Identity) SignPub() []byte {
	return append([]byte(nil), id.sign.Public().(ed25519.PublicKey)...)
}

// DHPub is the 32-byte X25519 public key.
func (id *Identity) DHPub() []byte { return id.dh.PublicKey().Bytes() }

// ID is the member id, derived from the signing key (see MemberID).
func (id *Identity) ID() string { return MemberID(id.SignPub()) }

// Member returns the roster entry for this identity (name, keys, join
// proof), admitted in epoch since.
func (id *Identity) Member(room, name string, since int64) RosterMember {
	return RosterMember{
		ID:    id.ID(),
		Name:  name,
		Sign:  B64.EncodeToString(id.SignPub()),
		DH:    B64.EncodeToString(id.DHPub()),
		Proof: id.JoinProof(room, name),
		Since: since,
	}
}

// JoinProof signs Enc(LabelJoin, room, name, sign_pub, dh_pub): it proves
// that whoever sent these keys holds the signing key, and binds the name
// and the X25519 key to it, so the server cannot swap either.
func (id *Identity) JoinProof(room, name string) string {
	msg := Enc(LabelJoin, room, name, id.SignPub(), id.DHPub())
	return B64.EncodeToString(ed25519.Sign(id.sign, msg))
}

// Sign signs body as an object of kind label in room (see Verify).
func (id *Identity) Sign(label, room string, body []byte) Signed {
	sig := ed25519.Sign(id.sign, SigningInput(label, room, body))
	return Signed{Body: string(body), Sig: B64.EncodeToString(sig)}
}

// SafetyNumber is this identity's safety number (see SafetyNumber).
func (id *Identity) SafetyNumber() string { return SafetyNumber(id.SignPub(), id.DHPub()) }

// SafetyNumber is what two people compare before admission: 60 decimal
// digits in 12 groups of 5, from SHA-512(Enc(LabelFpr, sign_pub, dh_pub)).
// It covers both keys, so neither can be swapped unnoticed.
func SafetyNumber(signPub, dhPub []byte) string {
	return digits(Enc(LabelFpr, signPub, dhPub))
}

// digits turns SHA-512(in) into 12 groups of 5 digits: bytes 5k..5k+4 read
// as a big-endian 40-bit integer, modulo 100000. 2^40 is far larger than
// 10^5, so the bias of the modulo is negligible (< 1e-7 per group).
func digits(in []byte) string {
	h := sha512.Sum512(in)
	groups := make([]string, 12)
	for k := range groups {
		var b [8]byte
		copy(b[3:], h[5*k:5*k+5])
		groups[k] = fmt.Sprintf("%05d", binary.BigEndian.Uint64(b[:])%100000)
	}
	return strings.Join(groups, " ")
}

// QRContent is the text of the QR code a member shows while waiting for
// admission: "rempart-fpr:1:<member id>:<safety number without spaces>".
func QRContent(memberID, safetyNumber string) string {
	return "rempart-fpr:1:" + memberID + ":" + strings.ReplaceAll(safetyNumber, " ", "")
}

// RoomSafetyNumber is the safety number of a whole roster at an epoch:
// the same digits over Enc(LabelRoomFpr, room, epoch, id1, sign1, dh1, …)
// with members sorted by id (byte order; ids are ASCII), ids as their b64u
// text and keys as raw bytes. Everyone in the room computes the same number
// only if they all hold the same member list and keys.
func RoomSafetyNumber(room string, epoch int64, members []RosterMember) (string, error) {
	sorted := append([]RosterMember(nil), members...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a].ID < sorted[b].ID })
	fields := []any{LabelRoomFpr, room, epoch}
	for _, m := range sorted {
		sign, err := decodeKey(m.Sign)
		if err != nil {
			return "", fmt.Errorf("e2ee: member %s signing key: %w", m.ID, err)
		}
		dh, err := decodeKey(m.DH)
		if err != nil {
			return "", fmt.Errorf("e2ee: member %s X25519 key: %w", m.ID, err)
		}
		fields = append(fields, m.ID, sign, dh)
	}
	return digits(Enc(fields...)), nil
}

// decodeKey decodes a b64u public key and checks its length (32 bytes for
// both Ed25519 and X25519).
func decodeKey(s string) ([]byte, error) {
	b, err := B64.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not b64u: %w", err)
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("%d bytes, want 32", len(b))
	}
	return b, nil
}

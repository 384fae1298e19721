// Package e2ee is the Go implementation of the crisis room's end-to-end
// encryption and wire format, version 1 (docs/crisis-e2ee.md): signed
// objects, rosters, sender-key wraps, envelopes, the hash ratchet, safety
// numbers, attachment encryption and the verification of a logbook. The
// browser app implements the same bytes in TypeScript;
// testdata/vectors.json holds both to the same answers.
//
// The relay (package crisis) uses only the public half of this package:
// parsing bodies and verifying signatures. It never holds a key that
// decrypts content; the private half serves Go clients (tests, benchmarks).
package e2ee

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Version is the wire format version this package reads and writes.
const Version = 1

// Labels: the first field of every signed input (domain separation).
const (
	LabelJoin     = "rempart-crisis-join-v1"
	LabelRoster   = "rempart-crisis-roster-v1"
	LabelWraps    = "rempart-crisis-wraps-v1"
	LabelEnvelope = "rempart-crisis-envelope-v1"
	LabelWrapKDF  = "rempart-crisis-wrap-v1"
	LabelContent  = "rempart-crisis-content-v1"
	LabelBlob     = "rempart-crisis-blob-v1"
	LabelFpr      = "rempart-crisis-fpr-v1"
	LabelRoomFpr  = "rempart-crisis-room-v1"
)

// B64 is the encoding of every binary field: base64url without padding.
var B64 = base64.RawURLEncoding

// Enc concatenates fields, each preceded by its length as a 4-byte
// big-endian integer. Fields are string, []byte, int, int64 or uint64
// (integers as decimal strings).
func Enc(fields ...any) []byte {
	n := 0
	parts := make([][]byte, len(fields))
	for i, f := range fields {
		var b []byte
		switch v := f.(type) {
		case string:
			b = []byte(v)
		case []byte:
			b = v
		case int:
			b = strconv.AppendInt(nil, int64(v), 10)
		case int64:
			b = strconv.AppendInt(nil, v, 10)
		case uint64:
			b = strconv.AppendUint(nil, v, 10)
		case uint32:
			b = strconv.AppendUint(nil, uint64(v), 10)
		default:
			panic(fmt.Sprintf("e2ee.Enc: field %d has unsupported type %T", i, f))
		}
		parts[i] = b
		n += 4 + len(b)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
		out = append(out, p...)
	}
	return out
}

// Signed is a signed object on the wire: Body holds the exact signed bytes
// (a JSON text, carried as a JSON string), Sig the Ed25519 signature, b64u.
type Signed struct {
	Body string `json:"body"`
	Sig  string `json:"sig"`
}

// SigningInput is what a signature covers: Enc(label, room, body).
func SigningInput(label, room string, body []byte) []byte {
	return Enc(label, room, body)
}

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("e2ee: signature does not verify")

// Verify checks sig (b64u) over SigningInput(label, room, body) with the
// public key pub (32 bytes).
func Verify(pub []byte, label, room string, body []byte, sig string) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("e2ee: public key of %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	s, err := B64.DecodeString(sig)
	if err != nil || len(s) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	if !ed25519.Verify(ed25519.PublicKey(pub), SigningInput(label, room, body), s) {
		return ErrBadSignature
	}
	return nil
}

// VerifyJoinProof checks a member's join proof: its signature, with its own
// key, over Enc(LabelJoin, room, name, sign_pub, dh_pub).
func VerifyJoinProof(room, name string, signPub, dhPub []byte, proof string) error {
	s, err := B64.DecodeString(proof)
	if err != nil || len(s) != ed25519.SignatureSize || len(signPub) != ed25519.PublicKeySize {
		return ErrBadSignature
	}
	if !ed25519.Verify(ed25519.PublicKey(signPub), Enc(LabelJoin, room, name, signPub, dhPub), s) {
		return ErrBadSignature
	}
	return nil
}

// MemberID is a member's id: b64u of the first 16 bytes of SHA-256(sign_pub).
func MemberID(signPub []byte) string {
	h := sha256.Sum256(signPub)
	return B64.EncodeToString(h[:16])
}

// Hash is an envelope's hash: b64u(SHA-256(body)).
func Hash(body []byte) string {
	h := sha256.Sum256(body)
	return B64.EncodeToString(h[:])
}

// RosterMember is one admitted member in a roster.
type RosterMember struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Sign  string `json:"sign"`
	DH    string `json:"dh"`
	Proof string `json:"proof"`
	Since int64  `json:"since"`
}

// Roster is the body of a roster, signed by the coordinator (LabelRoster).
type Roster struct {
	V           int            `json:"v"`
	Room        string         `json:"room"`
	Version     int64          `json:"version"`
	Epoch       int64          `json:"epoch"`
	Coordinator string         `json:"coordinator"`
	Time        string         `json:"time"`
	Members     []RosterMember `json:"members"`
	Removed     []string       `json:"removed"`
}

// Wrap is one recipient's copy of a sender's chain key.
type Wrap struct {
	To    string `json:"to"`
	Eph   string `json:"eph"`
	Nonce string `json:"nonce"`
	CT    string `json:"ct"`
}

// WrapBundle is the body of a sender's wraps for one epoch (LabelWraps).
type WrapBundle struct {
	V      int    `json:"v"`
	Room   string `json:"room"`
	Epoch  int64  `json:"epoch"`
	Sender string `json:"sender"`
	Wraps  []Wrap `json:"wraps"`
}

// Envelope is the body of one entry of the room (LabelEnvelope).
type Envelope struct {
	V      int      `json:"v"`
	Room   string   `json:"room"`
	Epoch  int64    `json:"epoch"`
	Sender string   `json:"sender"`
	Seq    int64    `json:"seq"`
	Prev   string   `json:"prev"`
	Refs   []string `json:"refs"`
	I      int64    `json:"i"`
	Nonce  string   `json:"nonce"`
	CT     string   `json:"ct"`
	Time   string   `json:"time"`
}

// ErrMalformed is returned for a body that is not the expected JSON.
var ErrMalformed = errors.New("e2ee: malformed body")

// ErrVersion is returned for a body of a format version this package does
// not know.
var ErrVersion = errors.New("e2ee: unknown format version")

// ParseRoster, ParseWrapBundle and ParseEnvelope decode a body and check its
// version; they do not verify signatures.
func ParseRoster(body []byte) (*Roster, error) {
	return parse[Roster](body, func(r *Roster) int { return r.V })
}

// ParseWrapBundle decodes a wrap bundle body (see ParseRoster).
func ParseWrapBundle(body []byte) (*WrapBundle, error) {
	return parse[WrapBundle](body, func(w *WrapBundle) int { return w.V })
}

// ParseEnvelope decodes an envelope body (see ParseRoster).
func ParseEnvelope(body []byte) (*Envelope, error) {
	return parse[Envelope](body, func(e *Envelope) int { return e.V })
}

func parse[T any](body []byte, version func(*T) int) (*T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if got := version(&v); got != Version {
		return nil, fmt.Errorf("%w %d (this program reads version %d)", ErrVersion, got, Version)
	}
	return &v, nil
}

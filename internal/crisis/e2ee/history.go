package e2ee

import (
	"crypto/ecdh"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// History share v1 (docs/crisis-e2ee.md, "History share v1"): the
// coordinator's device hands a member the chain keys it holds for earlier
// entries, so that the member reads the room from a position before its
// admission. One signed bundle per recipient.
const (
	LabelHistory    = "rempart-crisis-history-v1"     // signature of the bundle
	LabelHistoryKDF = "rempart-crisis-history-key-v1" // HKDF info and AES-GCM aad
)

// ErrNotCoordinator is returned when a history bundle is not signed by (or
// does not name) the room's coordinator.
var ErrNotCoordinator = errors.New("e2ee: history share not made by the room's coordinator")

// FormerMember is a member who left the room (removed from epoch Removed
// on) and wrote entries in the shared history: a newcomer's roster lists
// its id only (in "removed"), so the bundle carries its signing key, which
// the reader checks against the id (the id is the key's hash), for its
// entries to verify.
type FormerMember struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Sign    string `json:"sign"`
	Since   int64  `json:"since"`
	Removed int64  `json:"removed"`
}

// HistoryBundle is the body of a history share (LabelHistory), signed by
// the coordinator's device. From is the first position the recipient may
// read (the relay serves it events from there on).
type HistoryBundle struct {
	V      int            `json:"v"`
	Room   string         `json:"room"`
	Sender string         `json:"sender"`
	To     string         `json:"to"`
	From   int64          `json:"from"`
	Former []FormerMember `json:"former"`
	Eph    string         `json:"eph"`
	Nonce  string         `json:"nonce"`
	CT     string         `json:"ct"`
}

// HistoryKey is one shared chain: the chain key of (Sender, Epoch) at
// Chain.Index.
type HistoryKey struct {
	Sender string
	Epoch  int64
	Chain  Chain
}

// ParseHistoryBundle decodes a history bundle body (see ParseRoster).
func ParseHistoryBundle(body []byte) (*HistoryBundle, error) {
	return parse[HistoryBundle](body, func(h *HistoryBundle) int { return h.V })
}

// HistoryInfo is the HKDF info and AES-GCM aad of a history bundle:
// Enc(LabelHistoryKDF, room, sender, to, from).
func HistoryInfo(room, sender, to string, from int64) []byte {
	return Enc(LabelHistoryKDF, room, sender, to, from)
}

// HistoryPlaintext encodes the shared keys: Enc(sender1, epoch1, index1,
// ck1, sender2, …), four fields per key.
func HistoryPlaintext(keys []HistoryKey) ([]byte, error) {
	fields := make([]any, 0, 4*len(keys))
	for _, k := range keys {
		if len(k.Chain.Key) != KeySize {
			return nil, fmt.Errorf("e2ee: chain key of %s/%d has %d bytes, want %d", k.Sender, k.Epoch, len(k.Chain.Key), KeySize)
		}
		if k.Epoch < 1 || k.Sender == "" {
			return nil, fmt.Errorf("e2ee: history key with sender %q, epoch %d", k.Sender, k.Epoch)
		}
		fields = append(fields, k.Sender, k.Epoch, uint64(k.Chain.Index), k.Chain.Key)
	}
	return Enc(fields...), nil
}

// DecodeEnc splits an Enc encoding into its fields.
func DecodeEnc(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: truncated length", ErrMalformed)
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(n) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: field of %d bytes, %d left", ErrMalformed, n, len(b))
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out, nil
}

// decimal reads an Enc integer: a decimal string, no sign, no leading zero.
func decimal(b []byte) (int64, error) {
	s := string(b)
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("%w: %q is not a decimal number", ErrMalformed, s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is not a decimal number", ErrMalformed, s)
	}
	return n, nil
}

// ParseHistoryPlaintext reverses HistoryPlaintext.
func ParseHistoryPlaintext(pt []byte) ([]HistoryKey, error) {
	fields, err := DecodeEnc(pt)
	if err != nil {
		return nil, err
	}
	if len(fields)%4 != 0 {
		return nil, fmt.Errorf("%w: %d fields, want groups of 4", ErrMalformed, len(fields))
	}
	out := make([]HistoryKey, 0, len(fields)/4)
	for k := 0; k < len(fields); k += 4 {
		epoch, err := decimal(fields[k+1])
		if err != nil {
			return nil, err
		}
		idx, err := decimal(fields[k+2])
		if err != nil {
			return nil, err
		}
		if epoch < 1 || idx > int64(^uint32(0)) || len(fields[k+3]) != KeySize || len(fields[k]) == 0 {
			return nil, fmt.Errorf("%w: history key %d", ErrMalformed, k/4)
		}
		out = append(out, HistoryKey{Sender: string(fields[k]), Epoch: epoch,
			Chain: Chain{Index: uint32(idx), Key: append([]byte(nil), fields[k+3]...)}})
	}
	return out, nil
}

// ShareHistory builds the signed history bundle that gives keys to the
// member to, who may read from position from; former lists the departed
// authors of the shared entries. It reads 32 bytes (ephemeral X25519 key)
// then 12 bytes (nonce) from rand.
func (id *Identity) ShareHistory(rand io.Reader, room string, to Recipient, from int64, former []FormerMember, keys []HistoryKey) (Signed, error) {
	if from < 1 {
		return Signed{}, fmt.Errorf("e2ee: history from position %d", from)
	}
	var buf [32 + NonceSize]byte
	if _, err := io.ReadFull(rand, buf[:]); err != nil {
		return Signed{}, fmt.Errorf("e2ee: drawing history randomness: %w", err)
	}
	eph, err := ecdh.X25519().NewPrivateKey(buf[:32])
	if err != nil {
		return Signed{}, fmt.Errorf("e2ee: ephemeral key: %w", err)
	}
	ephPub := eph.PublicKey().Bytes()
	info := HistoryInfo(room, id.ID(), to.ID, from)
	kek, err := wrapKEK(eph, to.DH, ephPub, to.DH, info)
	if err != nil {
		return Signed{}, fmt.Errorf("e2ee: history for %s: %w", to.ID, err)
	}
	plain, err := HistoryPlaintext(keys)
	if err != nil {
		return Signed{}, err
	}
	ct, err := Seal256(kek, buf[32:], plain, info)
	if err != nil {
		return Signed{}, err
	}
	if former == nil {
		former = []FormerMember{}
	}
	b := HistoryBundle{V: Version, Room: room, Sender: id.ID(), To: to.ID, From: from, Former: former,
		Eph: B64.EncodeToString(ephPub), Nonce: B64.EncodeToString(buf[32:]), CT: B64.EncodeToString(ct)}
	body, err := json.Marshal(b)
	if err != nil {
		return Signed{}, fmt.Errorf("e2ee: encoding history bundle: %w", err)
	}
	return id.Sign(LabelHistory, room, body), nil
}

// OpenHistory opens a history bundle addressed to me in room. coordSign is
// the coordinator's signing key as this device trusts it (pinned from the
// invitation link). It checks, each with its own error: the body parses;
// the room; that the bundle names the coordinator as its sender; the
// signature; that it is addressed to me; that it decrypts; the former
// members' keys against their ids. The caller checks that each former
// member is listed as removed in the roster it trusts.
func OpenHistory(s Signed, coordSign []byte, me *Identity, room string) (*HistoryBundle, []HistoryKey, error) {
	b, err := ParseHistoryBundle([]byte(s.Body))
	if err != nil {
		return nil, nil, fmt.Errorf("history bundle: %w", err)
	}
	if b.Room != room {
		return nil, nil, fmt.Errorf("history bundle for room %q, expected %q: %w", b.Room, room, ErrWrongRoom)
	}
	if b.Sender != MemberID(coordSign) {
		return nil, nil, fmt.Errorf("history bundle from %q: %w", b.Sender, ErrNotCoordinator)
	}
	if err := Verify(coordSign, LabelHistory, room, []byte(s.Body), s.Sig); err != nil {
		return nil, nil, fmt.Errorf("history bundle: %w", err)
	}
	if b.To != me.ID() {
		return nil, nil, fmt.Errorf("history bundle for %s: %w (%s)", b.To, ErrWrongRecipient, me.ID())
	}
	if b.From < 1 {
		return nil, nil, fmt.Errorf("%w: history from position %d", ErrMalformed, b.From)
	}
	w := Wrap{To: b.To, Eph: b.Eph, Nonce: b.Nonce, CT: b.CT}
	plain, err := me.openSealed(&w, HistoryInfo(room, b.Sender, b.To, b.From))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read the shared history: %w", err)
	}
	keys, err := ParseHistoryPlaintext(plain)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range b.Former {
		sign, err := decodeKey(f.Sign)
		if err != nil || MemberID(sign) != f.ID || f.Since < 1 || f.Removed <= f.Since {
			return nil, nil, fmt.Errorf("%w: former member %s: key does not match the id, or bad epochs", ErrMalformed, f.ID)
		}
	}
	return b, keys, nil
}

// openSealed decrypts an X25519/HKDF/AES-GCM box addressed to this
// identity, as in a wrap, under info.
func (id *Identity) openSealed(w *Wrap, info []byte) ([]byte, error) {
	ephPub, err := decodeKey(w.Eph)
	if err != nil {
		return nil, fmt.Errorf("%w: ephemeral key %w", ErrDecrypt, err)
	}
	nonce, err := B64.DecodeString(w.Nonce)
	if err != nil {
		return nil, fmt.Errorf("%w: nonce not b64u", ErrDecrypt)
	}
	ct, err := B64.DecodeString(w.CT)
	if err != nil {
		return nil, fmt.Errorf("%w: ciphertext not b64u", ErrDecrypt)
	}
	kek, err := wrapKEK(id.dh, ephPub, ephPub, id.DHPub(), info)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDecrypt, err)
	}
	return Open256(kek, nonce, ct, info)
}

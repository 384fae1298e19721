package e2ee

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Content types (the "t" field).
const (
	TypeLog     = "log"
	TypeStatus  = "status"
	TypeChat    = "chat"
	TypeTask    = "task"
	TypeContact = "contact"
	TypeMeta    = "meta"
)

// MaxEnvelopeBody is the largest envelope body the relay accepts.
const MaxEnvelopeBody = 256 << 10

// MaxRefs is how many other senders' latest hashes an envelope cites.
const MaxRefs = 4

// Content is the plaintext of an envelope: one struct for every type, since
// the types share field names (text, state, title) and a reader must keep
// going on a type it does not know. Empty strings are omitted and stand for
// the spec's null (a new task, no reply, no eta); readers treat a missing
// field and null alike.
type Content struct {
	T string `json:"t"`

	// log: Kind is fact|action|decision|msg_in|msg_out; At is when it
	// happened (may be earlier than the envelope's time).
	Kind string `json:"kind,omitempty"`
	Text string `json:"text,omitempty"` // log, status, chat
	At   string `json:"at,omitempty"`

	// status: State is down|degraded|restored (status) or open|done|dropped (task).
	Service string `json:"service,omitempty"`
	State   string `json:"state,omitempty"`
	ETA     string `json:"eta,omitempty"`

	// chat
	ReplyTo string `json:"reply_to,omitempty"`
	Files   []File `json:"files,omitempty"`

	// task: Task is the hash of the envelope that created the task, empty
	// for a new one. Title is also the meta type's room title.
	Task  string `json:"task,omitempty"`
	Title string `json:"title,omitempty"`
	Owner string `json:"owner,omitempty"`
	Due   string `json:"due,omitempty"`

	// contact: Contact is the hash of the creating envelope, empty for a new one.
	Contact string `json:"contact,omitempty"`
	Name    string `json:"name,omitempty"`
	Org     string `json:"org,omitempty"`
	Role    string `json:"role,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Email   string `json:"email,omitempty"`
	Notes   string `json:"notes,omitempty"`
	Deleted bool   `json:"deleted,omitempty"`
}

// File is an attachment of a chat message: the blob id, its key (b64u, 32
// bytes: whoever reads the message can read the file) and what to show.
type File struct {
	Blob string `json:"blob"`
	Key  string `json:"key"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	Type string `json:"type"`
}

// Header is what the author decides about an envelope besides its content.
type Header struct {
	Room  string
	Epoch int64
	Seq   int64    // 1 for the sender's first envelope in the room
	Prev  string   // hash of envelope seq-1, empty for seq 1
	Refs  []string // up to 4 latest hashes of other senders
	Time  time.Time
}

// FormatTime writes t as the format's times: RFC 3339, UTC, milliseconds.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// ContentAAD is the associated data of an envelope's ciphertext:
// Enc(LabelContent, room, epoch, sender, seq, i). It ties the ciphertext to
// its place, so it cannot be replayed under another header.
func ContentAAD(room string, epoch int64, sender string, seq, i int64) []byte {
	return Enc(LabelContent, room, epoch, sender, seq, i)
}

// Seal encrypts c under the message key at chain's index, builds the
// envelope body and signs it. It then moves *chain one step forward, so a
// message key is never used twice. It reads 12 bytes (the nonce) from rand.
func (id *Identity) Seal(rand io.Reader, h Header, chain *Chain, c Content) (Signed, error) {
	switch {
	case h.Epoch < 1 || h.Seq < 1:
		return Signed{}, fmt.Errorf("e2ee: epoch %d and seq %d must be at least 1", h.Epoch, h.Seq)
	case (h.Seq == 1) != (h.Prev == ""):
		return Signed{}, fmt.Errorf("e2ee: seq %d with prev %q: prev is empty for seq 1 only", h.Seq, h.Prev)
	case len(h.Refs) > MaxRefs:
		return Signed{}, fmt.Errorf("e2ee: %d refs, at most %d", len(h.Refs), MaxRefs)
	}
	plain, err := json.Marshal(c)
	if err != nil {
		return Signed{}, fmt.Errorf("e2ee: encoding content: %w", err)
	}
	nonce := make([]byte, NonceSize)
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return Signed{}, fmt.Errorf("e2ee: drawing nonce: %w", err)
	}
	sender := id.ID()
	i := int64(chain.Index)
	ct, err := Seal256(chain.MessageKey(), nonce, plain, ContentAAD(h.Room, h.Epoch, sender, h.Seq, i))
	if err != nil {
		return Signed{}, err
	}
	refs := h.Refs
	if refs == nil {
		refs = []string{} // "refs":[] rather than null
	}
	body, err := json.Marshal(Envelope{
		V: Version, Room: h.Room, Epoch: h.Epoch, Sender: sender,
		Seq: h.Seq, Prev: h.Prev, Refs: refs, I: i,
		Nonce: B64.EncodeToString(nonce), CT: B64.EncodeToString(ct),
		Time: FormatTime(h.Time),
	})
	if err != nil {
		return Signed{}, fmt.Errorf("e2ee: encoding envelope: %w", err)
	}
	if len(body) > MaxEnvelopeBody {
		return Signed{}, fmt.Errorf("e2ee: envelope of %d bytes, at most %d (send large content as an attachment)", len(body), MaxEnvelopeBody)
	}
	*chain = chain.Next()
	return id.Sign(LabelEnvelope, h.Room, body), nil
}

// VerifyEnvelope parses a signed envelope and checks that it belongs to
// room, that its sender id is the one of senderSign, and its signature. It
// does not decrypt.
func VerifyEnvelope(s Signed, senderSign []byte, room string) (*Envelope, error) {
	e, err := ParseEnvelope([]byte(s.Body))
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	if e.Room != room {
		return nil, fmt.Errorf("envelope for room %q, expected %q: %w", e.Room, room, ErrWrongRoom)
	}
	if e.Sender != MemberID(senderSign) {
		return nil, fmt.Errorf("envelope from %q: %w", e.Sender, ErrWrongSender)
	}
	if err := Verify(senderSign, LabelEnvelope, room, []byte(s.Body), s.Sig); err != nil {
		return nil, fmt.Errorf("envelope %s#%d: %w", e.Sender, e.Seq, err)
	}
	return e, nil
}

// Open verifies a signed envelope (see VerifyEnvelope) and decrypts its
// content with chain, the sender's chain for the envelope's epoch at or
// before the envelope's index. chain is not modified.
func Open(s Signed, senderSign []byte, room string, chain Chain) (*Envelope, *Content, error) {
	e, err := VerifyEnvelope(s, senderSign, room)
	if err != nil {
		return nil, nil, err
	}
	c, err := decryptContent(e, chain)
	if err != nil {
		return e, nil, err
	}
	return e, c, nil
}

// decryptContent decrypts a verified envelope's content.
func decryptContent(e *Envelope, chain Chain) (*Content, error) {
	at, err := chain.AdvanceTo(e.I)
	if err != nil {
		return nil, fmt.Errorf("envelope %s#%d: %w", e.Sender, e.Seq, err)
	}
	nonce, err := B64.DecodeString(e.Nonce)
	if err != nil {
		return nil, fmt.Errorf("envelope %s#%d: %w: nonce not b64u", e.Sender, e.Seq, ErrDecrypt)
	}
	ct, err := B64.DecodeString(e.CT)
	if err != nil {
		return nil, fmt.Errorf("envelope %s#%d: %w: ciphertext not b64u", e.Sender, e.Seq, ErrDecrypt)
	}
	plain, err := Open256(at.MessageKey(), nonce, ct, ContentAAD(e.Room, e.Epoch, e.Sender, e.Seq, e.I))
	if err != nil {
		return nil, fmt.Errorf("envelope %s#%d: %w", e.Sender, e.Seq, err)
	}
	var c Content
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, fmt.Errorf("envelope %s#%d content: %w: %w", e.Sender, e.Seq, ErrMalformed, err)
	}
	return &c, nil
}

// Writer is one member's writing state in a room: its seq and prev (the
// hash chain across epochs) and its chain key for the current epoch. Go
// clients (tests, the load benchmark) use it; it is not safe for
// concurrent use.
type Writer struct {
	ID    *Identity
	Room  string
	Epoch int64
	Seq   int64  // seq of the last envelope written (0 before the first)
	Prev  string // hash of the last envelope written
	Chain Chain  // chain key at the index of the next envelope
}

// NewEpoch draws a fresh chain key for epoch (at a removal, every member
// starts over, so the removed one cannot follow). Wrap w.Chain for the
// members before writing.
func (w *Writer) NewEpoch(rand io.Reader, epoch int64) error {
	c, err := NewChain(rand)
	if err != nil {
		return err
	}
	w.Epoch, w.Chain = epoch, c
	return nil
}

// Write seals the next envelope and returns it with its hash.
func (w *Writer) Write(rand io.Reader, refs []string, t time.Time, c Content) (Signed, string, error) {
	h := Header{Room: w.Room, Epoch: w.Epoch, Seq: w.Seq + 1, Prev: w.Prev, Refs: refs, Time: t}
	s, err := w.ID.Seal(rand, h, &w.Chain, c)
	if err != nil {
		return Signed{}, "", err
	}
	w.Seq++
	w.Prev = Hash([]byte(s.Body))
	return s, w.Prev, nil
}

// Package snapshot owns the snapshot file: a small plain header that lists
// the packs the snapshot references (so a server can enforce retention and
// collect garbage without any key), followed by the sealed description of
// the snapshot (time, host, paths, root tree, summary). The header is bound
// to the sealed part as associated data: neither can be altered alone.
package snapshot

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/rempart/rempart/internal/vault/crypto"
)

// Summary records what a backup did.
type Summary struct {
	FilesNew         uint64  `json:"files_new"`
	FilesChanged     uint64  `json:"files_changed"`
	FilesUnchanged   uint64  `json:"files_unchanged"`
	DirsNew          uint64  `json:"dirs_new"`
	DirsChanged      uint64  `json:"dirs_changed"`
	DirsUnchanged    uint64  `json:"dirs_unchanged"`
	Errors           uint64  `json:"errors"`
	BlobsAdded       uint64  `json:"blobs_added"`
	BytesRead        uint64  `json:"bytes_read"`
	BytesTotal       uint64  `json:"bytes_total"`
	BytesAdded       uint64  `json:"bytes_added"`        // plaintext bytes of new blobs
	BytesAddedPacked uint64  `json:"bytes_added_packed"` // after compression and encryption
	FilesTotal       uint64  `json:"files_total"`
	DurationSeconds  float64 `json:"duration_seconds"`
}

// Snapshot describes one backup.
type Snapshot struct {
	Time     time.Time  `json:"time"`
	Host     string     `json:"host"`
	Username string     `json:"username,omitempty"`
	Paths    []string   `json:"paths"`
	Tags     []string   `json:"tags,omitempty"`
	Excludes []string   `json:"excludes,omitempty"`
	Tree     crypto.ID  `json:"tree"`
	Parent   *crypto.ID `json:"parent,omitempty"`
	Program  string     `json:"program"`
	Summary  *Summary   `json:"summary,omitempty"`
	// Sentinel is the ransomware assessment of this snapshot (a
	// sentinel.Report as JSON), sealed like the rest of the body; absent
	// when the snapshot was written without one.
	Sentinel json.RawMessage `json:"sentinel,omitempty"`
	// Flag is the coarse verdict, written in clear in the file's header so
	// that a server without the key can raise an alert and freeze clean
	// snapshots. It is bound to the sealed body (part of the AAD), so the
	// storage cannot change it unnoticed.
	Flag Flag `json:"-"`

	// Filled when loaded, not stored in the sealed body.
	ID    crypto.ID   `json:"-"`
	Packs []crypto.ID `json:"-"`
}

// HasTag reports whether the snapshot carries tag.
func (s *Snapshot) HasTag(tag string) bool {
	for _, t := range s.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Flag is the coarse verdict in a snapshot's plain header.
type Flag uint8

// Flags. FlagNone: no assessment (a snapshot written before Sentinel, or
// without it).
const (
	FlagNone Flag = iota
	FlagClean
	FlagSuspect
	FlagInfected
	maxFlag = FlagInfected
)

func (f Flag) String() string {
	switch f {
	case FlagClean:
		return "clean"
	case FlagSuspect:
		return "suspect"
	case FlagInfected:
		return "infected"
	}
	return "none"
}

const (
	// magic1 starts a header with the pack list only; magic2 a header
	// with a verdict flag and three reserved bytes before the pack list.
	// Readers accept both; Encode writes magic1 when there is no flag, so
	// snapshots without an assessment keep the first layout.
	magic1 = "RSN1"
	magic2 = "RSN2"
	// MaxPacks bounds the header a reader accepts (a 64 TiB snapshot).
	MaxPacks = 1 << 22
)

// ErrFormat means a snapshot file is damaged or foreign.
var ErrFormat = errors.New("snapshot file is damaged or not a Rempart snapshot")

func header(packs []crypto.ID, flag Flag) []byte {
	h := make([]byte, 0, 12+len(packs)*crypto.IDSize)
	if flag == FlagNone {
		h = append(h, magic1...)
	} else {
		h = append(h, magic2...)
		h = append(h, byte(flag), 0, 0, 0)
	}
	h = binary.LittleEndian.AppendUint32(h, uint32(len(packs)))
	for _, p := range packs {
		h = append(h, p[:]...)
	}
	return h
}

// Encode builds the snapshot file: header with the sorted, distinct pack
// list, then the sealed JSON body.
func Encode(k *crypto.Key, s *Snapshot, packs []crypto.ID) ([]byte, error) {
	packs = SortUnique(packs)
	body, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if s.Flag > maxFlag {
		return nil, fmt.Errorf("snapshot: invalid flag %d", s.Flag)
	}
	h := header(packs, s.Flag)
	return k.Seal(h, body, h), nil
}

// SortUnique sorts IDs and drops duplicates.
func SortUnique(ids []crypto.ID) []crypto.ID {
	out := append([]crypto.ID(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	w := 0
	for i, id := range out {
		if i == 0 || id != out[w-1] {
			out[w] = id
			w++
		}
	}
	return out[:w]
}

// Header is the plain part of a snapshot file: what a server without the
// key reads.
type Header struct {
	Packs []crypto.ID // sorted, distinct: the packs the snapshot keeps alive
	Flag  Flag        // coarse verdict; FlagNone in a first-layout header
}

// ReadHeader parses only the plain header and returns where the sealed body
// starts.
func ReadHeader(file []byte) (Header, int, error) {
	var h Header
	if len(file) < 8 {
		return h, 0, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	off := 4
	switch string(file[:4]) {
	case magic1:
	case magic2:
		if len(file) < 12 {
			return h, 0, fmt.Errorf("%w: header too short", ErrFormat)
		}
		h.Flag = Flag(file[4])
		if h.Flag == FlagNone || h.Flag > maxFlag || file[5]|file[6]|file[7] != 0 {
			return h, 0, fmt.Errorf("%w: unknown verdict flag or reserved bytes set", ErrFormat)
		}
		off = 8
	default:
		return h, 0, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	n := binary.LittleEndian.Uint32(file[off:])
	start := int64(off + 4)
	end := start + int64(n)*crypto.IDSize
	if n > MaxPacks || end > int64(len(file)) {
		return h, 0, fmt.Errorf("%w: pack list runs past the end", ErrFormat)
	}
	h.Packs = make([]crypto.ID, n)
	for i := range h.Packs {
		copy(h.Packs[i][:], file[start+int64(i)*crypto.IDSize:])
		if i > 0 && bytes.Compare(h.Packs[i-1][:], h.Packs[i][:]) >= 0 {
			return h, 0, fmt.Errorf("%w: pack list not sorted", ErrFormat)
		}
	}
	return h, int(end), nil
}

// ReadPacks parses only the plain header: this is what a server without the
// key reads to know which packs a snapshot keeps alive.
func ReadPacks(file []byte) ([]crypto.ID, int, error) {
	h, end, err := ReadHeader(file)
	return h.Packs, end, err
}

// Decode opens a snapshot file.
func Decode(k *crypto.Key, file []byte) (*Snapshot, error) {
	h, end, err := ReadHeader(file)
	if err != nil {
		return nil, err
	}
	body, err := k.Open(nil, file[end:], file[:end])
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	var s Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	s.Packs, s.Flag = h.Packs, h.Flag
	s.ID = crypto.Hash(file)
	return &s, nil
}

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

const (
	magic = "RSN1"
	// MaxPacks bounds the header a reader accepts (a 64 TiB snapshot).
	MaxPacks = 1 << 22
)

// ErrFormat means a snapshot file is damaged or foreign.
var ErrFormat = errors.New("snapshot file is damaged or not a Rempart snapshot")

func header(packs []crypto.ID) []byte {
	h := make([]byte, 0, 8+len(packs)*crypto.IDSize)
	h = append(h, magic...)
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
	h := header(packs)
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

// ReadPacks parses only the plain header: this is what a server without the
// key reads to know which packs a snapshot keeps alive.
func ReadPacks(file []byte) ([]crypto.ID, int, error) {
	if len(file) < 8 || string(file[:4]) != magic {
		return nil, 0, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	n := binary.LittleEndian.Uint32(file[4:])
	end := 8 + int64(n)*crypto.IDSize
	if n > MaxPacks || end > int64(len(file)) {
		return nil, 0, fmt.Errorf("%w: pack list runs past the end", ErrFormat)
	}
	packs := make([]crypto.ID, n)
	for i := range packs {
		copy(packs[i][:], file[8+i*crypto.IDSize:])
		if i > 0 && bytes.Compare(packs[i-1][:], packs[i][:]) >= 0 {
			return nil, 0, fmt.Errorf("%w: pack list not sorted", ErrFormat)
		}
	}
	return packs, int(end), nil
}

// Decode opens a snapshot file.
func Decode(k *crypto.Key, file []byte) (*Snapshot, error) {
	packs, end, err := ReadPacks(file)
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
	s.Packs = packs
	s.ID = crypto.Hash(file)
	return &s, nil
}

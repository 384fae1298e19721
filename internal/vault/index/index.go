// Package index owns the map from blob IDs to their place in packs, both in
// memory (what the engine consults for every chunk) and on storage (index
// files: sealed lists of packs and their blobs, written after the packs).
package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/pack"
)

// Location says where a blob is.
type Location struct {
	Pack      crypto.ID
	Type      pack.BlobType
	Flags     uint8
	Offset    uint32
	Length    uint32
	RawLength uint32
}

type entry struct {
	pack      uint32 // position in Index.packs
	flags     uint8
	offset    uint32
	length    uint32
	rawLength uint32
}

// PackInfo is one pack as recorded in an index file.
type PackInfo struct {
	ID    crypto.ID
	Size  int64
	Blobs []pack.Blob
}

// Index is the in-memory union of every index file. It is safe for
// concurrent use. Memory grows with the number of blobs (about 60 bytes
// each), never with the number of files backed up.
type Index struct {
	mu       sync.RWMutex
	packs    []crypto.ID
	packSize []int64
	packPos  map[crypto.ID]uint32
	blobs    [2]map[crypto.ID]entry
	// dups holds further copies of a blob (written by concurrent backups):
	// a snapshot may list the pack of any copy, and prune must not lose one.
	dups [2]map[crypto.ID][]entry
	// gone flags packs (by position) that index files still list but that
	// storage no longer holds: a server's garbage collection deletes packs
	// without being able to rewrite the encrypted index files. A blob whose
	// every copy is in a gone pack is not "known": deduplicating against it
	// would make a new snapshot point at data that no longer exists. Packs
	// added after the marking are beyond it (shorter slice): they are
	// present.
	gone      []bool
	goneCount int
}

// New returns an empty index.
func New() *Index {
	return &Index{packPos: map[crypto.ID]uint32{}, blobs: [2]map[crypto.ID]entry{{}, {}}, dups: [2]map[crypto.ID][]entry{{}, {}}}
}

// AddPack records a pack and its blobs. Adding a known pack again is a no-op.
func (x *Index) AddPack(p PackInfo) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.packPos[p.ID]; ok {
		return
	}
	pos := uint32(len(x.packs))
	x.packs = append(x.packs, p.ID)
	x.packSize = append(x.packSize, p.Size)
	x.packPos[p.ID] = pos
	for _, b := range p.Blobs {
		if b.Type > pack.TreeBlob {
			continue
		}
		m := x.blobs[b.Type]
		e := entry{pack: pos, flags: b.Flags, offset: b.Offset, length: b.Length, rawLength: b.RawLength}
		if _, ok := m[b.ID]; ok {
			x.dups[b.Type][b.ID] = append(x.dups[b.Type][b.ID], e)
			continue
		}
		m[b.ID] = e
	}
}

// isGone reports whether the pack at position pos is marked absent. The
// caller holds x.mu.
func (x *Index) isGone(pos uint32) bool {
	return int(pos) < len(x.gone) && x.gone[pos]
}

// present returns a copy of a blob in a pack not marked gone, the first
// copy when it qualifies (the common case costs one map lookup). The
// caller holds x.mu.
func (x *Index) present(t pack.BlobType, id crypto.ID) (entry, bool) {
	e, ok := x.blobs[t][id]
	if !ok {
		return entry{}, false
	}
	if x.goneCount == 0 || !x.isGone(e.pack) {
		return e, true
	}
	for _, d := range x.dups[t][id] {
		if !x.isGone(d.pack) {
			return d, true
		}
	}
	return entry{}, false
}

// Has reports whether a blob is known: indexed in a pack that is not
// marked gone.
func (x *Index) Has(t pack.BlobType, id crypto.ID) bool {
	x.mu.RLock()
	_, ok := x.present(t, id)
	x.mu.RUnlock()
	return ok
}

// Lookup returns where a blob is, choosing a copy in a pack not marked
// gone; a blob whose every copy is gone is not found.
func (x *Index) Lookup(t pack.BlobType, id crypto.ID) (Location, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.present(t, id)
	if !ok {
		return Location{}, false
	}
	return x.loc(t, e), true
}

// LookupPreferring is Lookup, but among the copies in packs not marked
// gone it picks the first whose pack prefer accepts. A restore prefers
// the packs its snapshot lists: they are exactly the ones a server keeps
// for it, whatever it may have collected since the index was written.
func (x *Index) LookupPreferring(t pack.BlobType, id crypto.ID, prefer func(crypto.ID) bool) (Location, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.present(t, id)
	if !ok {
		return Location{}, false
	}
	if prefer(x.packs[e.pack]) {
		return x.loc(t, e), true
	}
	for _, d := range x.dups[t][id] {
		if !x.isGone(d.pack) && prefer(x.packs[d.pack]) {
			return x.loc(t, d), true
		}
	}
	return x.loc(t, e), true
}

// Locations returns every copy of a blob (usually one), in gone packs
// too: the checker needs them to tell collected packs from damage.
func (x *Index) Locations(t pack.BlobType, id crypto.ID) []Location {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.blobs[t][id]
	if !ok {
		return nil
	}
	out := []Location{x.loc(t, e)}
	for _, d := range x.dups[t][id] {
		out = append(out, x.loc(t, d))
	}
	return out
}

func (x *Index) loc(t pack.BlobType, e entry) Location {
	return Location{Pack: x.packs[e.pack], Type: t, Flags: e.flags, Offset: e.offset, Length: e.length, RawLength: e.rawLength}
}

// HasPack reports whether a pack is indexed.
func (x *Index) HasPack(id crypto.ID) bool {
	x.mu.RLock()
	_, ok := x.packPos[id]
	x.mu.RUnlock()
	return ok
}

// MarkGone records that the given indexed packs are absent from storage
// (unknown IDs are ignored). From then on Has, Lookup and LookupPreferring
// see only the copies of a blob in other packs. It returns how many packs
// were newly marked.
func (x *Index) MarkGone(ids ...crypto.ID) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for _, id := range ids {
		pos, ok := x.packPos[id]
		if !ok || x.isGone(pos) {
			continue
		}
		if int(pos) >= len(x.gone) {
			x.gone = append(x.gone, make([]bool, len(x.packs)-len(x.gone))...)
		}
		x.gone[pos] = true
		x.goneCount++
		n++
	}
	return n
}

// MarkAbsent marks gone every indexed pack that is not in present (a
// listing of storage) and returns the indexed packs that are absent. One
// listing per session replaces any per-blob question to storage.
func (x *Index) MarkAbsent(present map[crypto.ID]int64) []crypto.ID {
	x.mu.RLock()
	var absent []crypto.ID
	for _, id := range x.packs {
		if _, ok := present[id]; !ok {
			absent = append(absent, id)
		}
	}
	x.mu.RUnlock()
	x.MarkGone(absent...)
	return absent
}

// Gone reports whether a pack is marked absent from storage.
func (x *Index) Gone(id crypto.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	pos, ok := x.packPos[id]
	return ok && x.isGone(pos)
}

// PackSize returns the recorded size of a pack.
func (x *Index) PackSize(id crypto.ID) (int64, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	p, ok := x.packPos[id]
	if !ok {
		return 0, false
	}
	return x.packSize[p], true
}

// Packs returns every indexed pack with its size.
func (x *Index) Packs() map[crypto.ID]int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make(map[crypto.ID]int64, len(x.packs))
	for i, id := range x.packs {
		out[id] = x.packSize[i]
	}
	return out
}

// Count returns the number of blobs of a type (whether or not their packs
// are gone).
func (x *Index) Count(t pack.BlobType) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.blobs[t])
}

// Each calls fn for every copy of every blob (under a read lock: fn must
// not modify x).
func (x *Index) Each(fn func(id crypto.ID, loc Location)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for t, m := range x.blobs {
		for id, e := range m {
			fn(id, x.loc(pack.BlobType(t), e))
		}
		for id, es := range x.dups[t] {
			for _, e := range es {
				fn(id, x.loc(pack.BlobType(t), e))
			}
		}
	}
}

// File is the content of one index file.
type File struct {
	Packs []PackInfo
	// Supersedes lists index files this one replaces (written by prune);
	// readers ignore the superseded files if they still exist.
	Supersedes []crypto.ID
}

const fileMagic = "RIX1"

var fileAAD = []byte("rempart index v1")

// ErrFormat means an index file is damaged or foreign.
var ErrFormat = errors.New("index file is damaged or not a Rempart index")

// Encode serialises and seals an index file.
func Encode(k *crypto.Key, f *File) []byte {
	b := []byte(fileMagic)
	b = binary.AppendUvarint(b, uint64(len(f.Packs)))
	for _, p := range f.Packs {
		b = append(b, p.ID[:]...)
		b = binary.AppendUvarint(b, uint64(p.Size))
		b = binary.AppendUvarint(b, uint64(len(p.Blobs)))
		for _, bl := range p.Blobs {
			b = append(b, byte(bl.Type), bl.Flags)
			b = append(b, bl.ID[:]...)
			b = binary.AppendUvarint(b, uint64(bl.Offset))
			b = binary.AppendUvarint(b, uint64(bl.Length))
			b = binary.AppendUvarint(b, uint64(bl.RawLength))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(f.Supersedes)))
	for _, s := range f.Supersedes {
		b = append(b, s[:]...)
	}
	return k.Seal(nil, b, fileAAD)
}

// Decode opens and parses an index file.
func Decode(k *crypto.Key, sealed []byte) (*File, error) {
	plain, err := k.Open(nil, sealed, fileAAD)
	if err != nil {
		return nil, fmt.Errorf("index file: %w", err)
	}
	return Parse(plain)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint(max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > max {
		r.err = ErrFormat
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) id() (id crypto.ID) {
	if r.err != nil {
		return
	}
	if len(r.b) < crypto.IDSize {
		r.err = ErrFormat
		return
	}
	copy(id[:], r.b)
	r.b = r.b[crypto.IDSize:]
	return
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = ErrFormat
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Parse reads the plaintext of an index file.
func Parse(plain []byte) (*File, error) {
	if len(plain) < 4 || string(plain[:4]) != fileMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	r := &reader{b: plain[4:]}
	// Each entry takes at least 35 bytes: bounding counts by the remaining
	// length keeps a damaged file from asking for huge allocations.
	np := r.uvarint(uint64(len(r.b)) / 35)
	f := &File{Packs: make([]PackInfo, 0, np)}
	for i := uint64(0); i < np && r.err == nil; i++ {
		p := PackInfo{ID: r.id(), Size: int64(r.uvarint(1 << 40))}
		nb := r.uvarint(uint64(len(r.b)) / 35)
		p.Blobs = make([]pack.Blob, 0, nb)
		for j := uint64(0); j < nb && r.err == nil; j++ {
			bl := pack.Blob{Type: pack.BlobType(r.byte()), Flags: r.byte(), ID: r.id()}
			bl.Offset = uint32(r.uvarint(1<<32 - 1))
			bl.Length = uint32(r.uvarint(1<<32 - 1))
			bl.RawLength = uint32(r.uvarint(1<<32 - 1))
			if r.err == nil && (bl.Type > pack.TreeBlob || int64(bl.Offset)+int64(bl.Length) > p.Size) {
				r.err = ErrFormat
			}
			p.Blobs = append(p.Blobs, bl)
		}
		f.Packs = append(f.Packs, p)
	}
	ns := r.uvarint(uint64(len(r.b)) / crypto.IDSize)
	for i := uint64(0); i < ns && r.err == nil; i++ {
		f.Supersedes = append(f.Supersedes, r.id())
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = ErrFormat
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: truncated or malformed", ErrFormat)
	}
	return f, nil
}

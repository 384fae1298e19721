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

// Has reports whether a blob is known.
func (x *Index) Has(t pack.BlobType, id crypto.ID) bool {
	x.mu.RLock()
	_, ok := x.blobs[t][id]
	x.mu.RUnlock()
	return ok
}

// Lookup returns where a blob is.
func (x *Index) Lookup(t pack.BlobType, id crypto.ID) (Location, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.blobs[t][id]
	if !ok {
		return Location{}, false
	}
	return x.loc(t, e), true
}

// Locations returns every copy of a blob (usually one).
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

// Count returns the number of blobs of a type.
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

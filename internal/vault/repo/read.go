package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/tree"
)

// ErrBlobMissing means the index does not know a blob.
var ErrBlobMissing = errors.New("blob is not in the index")

// LoadBlob reads, authenticates and decodes one blob.
//
// A pack that storage no longer has (collected by a server, which cannot
// rewrite the index files that still list it) is marked gone in the index
// and the blob is read from another copy when the index knows one: reading
// a snapshot must not depend on a listing of every pack first.
func (r *Repository) LoadBlob(ctx context.Context, t pack.BlobType, id crypto.ID) ([]byte, error) {
	for {
		loc, ok := r.idx.Lookup(t, id)
		if !ok {
			return nil, fmt.Errorf("%s blob %s: %w", t, id.Short(), ErrBlobMissing)
		}
		var sealed []byte
		if t == pack.TreeBlob {
			sealed = r.trees.get(ctx, r, loc)
		}
		if sealed == nil {
			var err error
			sealed, err = r.be.Load(ctx, backend.Handle{Type: backend.Pack, Name: loc.Pack.String()}, int64(loc.Offset), int64(loc.Length))
			if err != nil {
				if errors.Is(err, backend.ErrNotFound) && len(r.idx.Locations(t, id)) > 1 && r.idx.MarkGone(loc.Pack) > 0 {
					continue // another copy may be in a pack that is there
				}
				return nil, fmt.Errorf("%s blob %s in pack %s: %w", t, id.Short(), loc.Pack.Short(), err)
			}
		}
		plain, err := r.DecodeBlob(id, loc, sealed)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", loc.Pack.Short(), err)
		}
		return plain, nil
	}
}

// LoadTree loads and decodes a tree blob.
func (r *Repository) LoadTree(ctx context.Context, id crypto.ID) (*tree.Tree, error) {
	buf, err := r.LoadBlob(ctx, pack.TreeBlob, id)
	if err != nil {
		return nil, err
	}
	t, err := tree.Decode(buf)
	if err != nil {
		return nil, fmt.Errorf("tree %s: %w", id.Short(), err)
	}
	return t, nil
}

// SaveTree encodes and stores a tree, returning its ID.
func (r *Repository) SaveTree(ctx context.Context, t *tree.Tree) (crypto.ID, error) {
	buf, err := tree.Encode(t)
	if err != nil {
		return crypto.ID{}, err
	}
	id := r.key.BlobID(buf)
	_, err = r.SaveBlob(ctx, pack.TreeBlob, id, buf)
	return id, err
}

// SaveIndex writes an index file and returns its ID.
func (r *Repository) SaveIndex(ctx context.Context, f *index.File) error {
	buf := index.Encode(r.key, f)
	id := crypto.Hash(buf)
	if err := r.be.Save(ctx, backend.Handle{Type: backend.Index, Name: id.String()}, buf); err != nil {
		return fmt.Errorf("writing index: %w", err)
	}
	return nil
}

// IndexProblem describes an index file that could not be read.
type IndexProblem struct {
	Name string
	Err  error
}

// LoadIndex reads every index file into memory, in parallel. Damaged index
// files are skipped and reported: the packs they described can be
// re-indexed from their own headers (RecoverPacks).
func (r *Repository) LoadIndex(ctx context.Context) ([]IndexProblem, error) {
	var names []string
	if err := r.be.List(ctx, backend.Index, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("listing index files: %w", err)
	}
	type result struct {
		name string
		f    *index.File
		err  error
	}
	jobs := make(chan string)
	results := make(chan result)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				buf, err := r.be.Load(ctx, backend.Handle{Type: backend.Index, Name: name}, 0, 0)
				var f *index.File
				if err == nil {
					if id, perr := crypto.ParseID(name); perr != nil || crypto.Hash(buf) != id {
						err = errors.New("content does not match its name (damaged)")
					} else {
						f, err = index.Decode(r.key, buf)
					}
				}
				results <- result{name, f, err}
			}
		}()
	}
	go func() {
		for _, n := range names {
			jobs <- n
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()
	files := map[string]*index.File{}
	var problems []IndexProblem
	for res := range results {
		if res.err != nil {
			problems = append(problems, IndexProblem{Name: res.name, Err: res.err})
			continue
		}
		files[res.name] = res.f
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	superseded := map[string]bool{}
	for _, f := range files {
		for _, s := range f.Supersedes {
			superseded[s.String()] = true
		}
	}
	// A damaged file already replaced (by RecoverPacks or prune) is no
	// longer a problem.
	kept := problems[:0]
	for _, p := range problems {
		if !superseded[p.Name] {
			kept = append(kept, p)
		}
	}
	problems = kept
	r.damagedIndex = nil
	for _, p := range problems {
		if id, err := crypto.ParseID(p.Name); err == nil {
			r.damagedIndex = append(r.damagedIndex, id)
		}
	}
	for name, f := range files {
		if superseded[name] {
			continue
		}
		for _, p := range f.Packs {
			r.idx.AddPack(p)
		}
	}
	// The packs just indexed were not in the last listing, if any.
	r.packsListed.Store(false)
	return problems, nil
}

// MarkAbsentPacks lists the packs in storage and marks gone, in the
// index, every indexed pack that is not there, so that deduplication never
// points a new snapshot at a pack a server has collected: its blobs count
// as unknown and are stored again. It lists once after each LoadIndex
// (RecoverPacks counts as the listing); later calls return at once. It
// returns how many indexed packs are absent.
func (r *Repository) MarkAbsentPacks(ctx context.Context) (int, error) {
	if r.packsListed.Load() {
		return 0, nil
	}
	stored, err := r.ListPacks(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing packs: %w", err)
	}
	return len(r.NoteStoredPacks(stored)), nil
}

// NoteStoredPacks takes a listing of storage's packs (ListPacks) made
// after the index was loaded: indexed packs absent from it are marked gone
// (and returned), and MarkAbsentPacks need not list again.
func (r *Repository) NoteStoredPacks(stored map[crypto.ID]int64) []crypto.ID {
	absent := r.idx.MarkAbsent(stored)
	r.packsListed.Store(true)
	return absent
}

// IndexFiles lists the index file names.
func (r *Repository) IndexFiles(ctx context.Context) ([]string, error) {
	var names []string
	err := r.be.List(ctx, backend.Index, func(fi backend.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	return names, err
}

// ReadPackHeader reads a pack's own header (the last bytes of the pack).
func (r *Repository) ReadPackHeader(ctx context.Context, id crypto.ID, size int64) ([]pack.Blob, error) {
	h := backend.Handle{Type: backend.Pack, Name: id.String()}
	if size < pack.TrailerSize {
		return nil, fmt.Errorf("pack %s: %w: only %d bytes", id.Short(), pack.ErrFormat, size)
	}
	tr, err := r.be.Load(ctx, h, size-pack.TrailerSize, pack.TrailerSize)
	if err != nil {
		return nil, err
	}
	hl, err := pack.ParseTrailer(tr, size)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", id.Short(), err)
	}
	start := size - pack.TrailerSize - hl
	sealed, err := r.be.Load(ctx, h, start, hl)
	if err != nil {
		return nil, err
	}
	blobs, err := pack.DecodeHeader(r.key, sealed, start)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", id.Short(), err)
	}
	return blobs, nil
}

// RecoverPacks indexes packs that exist in storage but in no index file,
// reading their headers: the work of a backup that was killed before it
// wrote its index is found again and reused. It returns how many packs it
// recovered and which ones it could not read.
func (r *Repository) RecoverPacks(ctx context.Context) (int, []IndexProblem, error) {
	var orphans []backend.FileInfo
	stored := map[crypto.ID]int64{}
	if err := r.be.List(ctx, backend.Pack, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err != nil {
			return nil
		}
		stored[id] = fi.Size
		if !r.idx.HasPack(id) {
			orphans = append(orphans, fi)
		}
		return nil
	}); err != nil {
		return 0, nil, fmt.Errorf("listing packs: %w", err)
	}
	// The same listing tells which indexed packs are gone: a backup that
	// recovers packs first needs no second listing.
	r.NoteStoredPacks(stored)
	var recovered []index.PackInfo
	var problems []IndexProblem
	for _, fi := range orphans {
		id, _ := crypto.ParseID(fi.Name)
		blobs, err := r.ReadPackHeader(ctx, id, fi.Size)
		if err != nil {
			problems = append(problems, IndexProblem{Name: fi.Name, Err: err})
			continue
		}
		info := index.PackInfo{ID: id, Size: fi.Size, Blobs: blobs}
		r.idx.AddPack(info)
		recovered = append(recovered, info)
	}
	// Every pack that a damaged index file described is now indexed again
	// (or was indexed elsewhere): the new file replaces the damaged ones.
	if len(recovered) > 0 || len(r.damagedIndex) > 0 {
		if err := r.SaveIndex(ctx, &index.File{Packs: recovered, Supersedes: r.damagedIndex}); err != nil {
			return 0, problems, err
		}
	}
	return len(recovered), problems, nil
}

// ListPacks lists the packs in storage with their sizes.
func (r *Repository) ListPacks(ctx context.Context) (map[crypto.ID]int64, error) {
	out := map[crypto.ID]int64{}
	err := r.be.List(ctx, backend.Pack, func(fi backend.FileInfo) error {
		if id, err := crypto.ParseID(fi.Name); err == nil {
			out[id] = fi.Size
		}
		return nil
	})
	return out, err
}

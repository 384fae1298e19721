package prune

import (
	"context"
	"errors"
	"fmt"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/tree"
)

// Stats says what prune found and did.
type Stats struct {
	Snapshots      int    `json:"snapshots"`
	PacksTotal     int    `json:"packs_total"`
	PacksKept      int    `json:"packs_kept"`
	PacksRemoved   int    `json:"packs_removed"`
	UnindexedPacks int    `json:"unindexed_packs_removed"`
	BytesRemoved   uint64 `json:"bytes_removed"`
	BytesKept      uint64 `json:"bytes_kept"`
	IndexFiles     int    `json:"index_files_replaced"`
	// CollectedForgotten counts packs the old index listed that storage
	// no longer held and no snapshot needed (collected by a server): the
	// new index no longer lists them.
	CollectedForgotten int  `json:"collected_packs_forgotten"`
	DryRun             bool `json:"dry_run"`
}

// ErrUnsafe means prune refused to delete anything because it could not
// see everything the repository needs.
var ErrUnsafe = errors.New("prune refused to remove anything")

// Prune removes the packs that no snapshot needs. The caller holds an
// exclusive lock. The order of writes makes it safe to kill at any moment:
// first a complete new index, then the old index files, then the packs.
func Prune(ctx context.Context, r *repo.Repository, dryRun bool) (*Stats, error) {
	st := &Stats{DryRun: dryRun}
	problems, err := r.LoadIndex(ctx)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: index file %s cannot be read (%v); run `rempart check` first", ErrUnsafe, problems[0].Name, problems[0].Err)
	}
	sns, sprob, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	if len(sprob) > 0 {
		return nil, fmt.Errorf("%w: snapshot %s cannot be read (%v); nothing could tell what it needs", ErrUnsafe, sprob[0].Name, sprob[0].Err)
	}
	st.Snapshots = len(sns)
	stored, err := r.ListPacks(ctx)
	if err != nil {
		return nil, err
	}
	// Packs the index lists but storage lacks (collected by a server, or
	// lost) are marked gone first, so that a blob stored twice is counted
	// in the copy that is still there; the new index drops them unless a
	// snapshot needs them (then check must still report the damage).
	absent := r.NoteStoredPacks(stored)
	idx := r.Index()
	// Every pack a snapshot needs: from the trees, and from the plain lists.
	needed := map[crypto.ID]bool{}
	seen := map[crypto.ID]bool{}
	var walk func(id crypto.ID) error
	walk = func(id crypto.ID) error {
		if seen[id] {
			return nil
		}
		seen[id] = true
		loc, ok := idx.Lookup(pack.TreeBlob, id)
		if !ok {
			return fmt.Errorf("%w: tree %s is not indexed or its pack is missing; run `rempart check`", ErrUnsafe, id.Short())
		}
		needed[loc.Pack] = true
		t, err := r.LoadTree(ctx, id)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnsafe, err)
		}
		for _, n := range t.Nodes {
			for _, b := range n.Content {
				if loc, ok := idx.Lookup(pack.DataBlob, b); ok {
					needed[loc.Pack] = true
				} else {
					// Every copy is in a missing pack: keep them in
					// the index so that check still names the damage.
					for _, l := range idx.Locations(pack.DataBlob, b) {
						needed[l.Pack] = true
					}
				}
			}
			if n.Type == tree.Dir && n.Subtree != nil {
				if err := walk(*n.Subtree); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, sn := range sns {
		for _, p := range sn.Packs {
			needed[p] = true
		}
		if err := walk(sn.Tree); err != nil {
			return nil, err
		}
	}
	st.PacksTotal = len(stored)
	for _, id := range absent {
		if !needed[id] {
			st.CollectedForgotten++
		}
	}
	indexed := idx.Packs()
	var remove []crypto.ID
	for id, size := range stored {
		switch {
		case needed[id]:
			st.PacksKept++
			st.BytesKept += uint64(size)
		default:
			if _, ok := indexed[id]; !ok {
				st.UnindexedPacks++
			}
			remove = append(remove, id)
			st.PacksRemoved++
			st.BytesRemoved += uint64(size)
		}
	}
	if dryRun {
		return st, nil
	}
	// A new index holding only the kept packs, superseding all others.
	old, err := r.IndexFiles(ctx)
	if err != nil {
		return nil, err
	}
	keep := &index.File{}
	for id := range needed {
		size, ok := indexed[id]
		if !ok {
			continue
		}
		info := index.PackInfo{ID: id, Size: size}
		keep.Packs = append(keep.Packs, info)
	}
	blobsOf := map[crypto.ID][]pack.Blob{}
	idx.Each(func(id crypto.ID, loc index.Location) {
		if needed[loc.Pack] {
			blobsOf[loc.Pack] = append(blobsOf[loc.Pack], pack.Blob{Type: loc.Type, Flags: loc.Flags, ID: id, Offset: loc.Offset, Length: loc.Length, RawLength: loc.RawLength})
		}
	})
	for i := range keep.Packs {
		keep.Packs[i].Blobs = blobsOf[keep.Packs[i].ID]
	}
	for _, name := range old {
		if id, err := crypto.ParseID(name); err == nil {
			keep.Supersedes = append(keep.Supersedes, id)
		}
	}
	if err := r.SaveIndex(ctx, keep); err != nil {
		return nil, err
	}
	for _, name := range old {
		if err := r.Backend().Remove(ctx, backend.Handle{Type: backend.Index, Name: name}); err != nil && !errors.Is(err, backend.ErrNotFound) {
			return nil, fmt.Errorf("removing old index %s: %w", name[:8], err)
		}
		st.IndexFiles++
	}
	// Temporary files of killed writers: nobody else runs under our
	// exclusive lock, so every one of them is garbage.
	if c, ok := r.Backend().(interface{ RemoveTemporary() }); ok {
		c.RemoveTemporary()
	}
	for _, id := range remove {
		if err := r.Backend().Remove(ctx, backend.Handle{Type: backend.Pack, Name: id.String()}); err != nil && !errors.Is(err, backend.ErrNotFound) {
			return nil, fmt.Errorf("removing pack %s: %w", id.Short(), err)
		}
	}
	return st, nil
}

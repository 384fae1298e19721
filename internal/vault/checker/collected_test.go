package checker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/checker"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/restorer"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

func checkCollected(t *testing.T, h *vaulttest.Collected, readData bool) *checker.Report {
	t.Helper()
	rep, err := checker.Check(context.Background(), h.Reopen(t), checker.Options{ReadData: readData})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return rep
}

// countingBackend counts the questions a backup asks storage.
type countingBackend struct {
	backend.Backend
	packLists, packStats atomic.Int32
}

func (c *countingBackend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if t == backend.Pack {
		c.packLists.Add(1)
	}
	return c.Backend.List(ctx, t, fn)
}

func (c *countingBackend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if h.Type == backend.Pack {
		c.packStats.Add(1)
	}
	return c.Backend.Stat(ctx, h)
}

func TestCollectedPacks(t *testing.T) {
	ctx := context.Background()
	h := vaulttest.NewCollected(t)

	for _, readData := range []bool{false, true} {
		rep := checkCollected(t, h, readData)
		if !rep.OK() || rep.CollectedPacks != len(h.Packs) || rep.UnusedPacks != 0 || rep.Snapshots != 2 {
			t.Errorf("check (read data %v) after collection: ok %v, collected %d (want %d), unused %d, snapshots %d; problems %+v damaged %+v",
				readData, rep.OK(), rep.CollectedPacks, len(h.Packs), rep.UnusedPacks, rep.Snapshots, rep.Problems, rep.DamagedFiles)
		}
	}

	t.Run("B restores", func(t *testing.T) {
		got := vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, h.Reopen(t), h.B), h.Src))
		vaulttest.CompareTrees(t, h.WantB, got)
	})

	t.Run("backup of collected files stores them again", func(t *testing.T) {
		be, err := local.Open(h.Dir)
		if err != nil {
			t.Fatal(err)
		}
		cb := &countingBackend{Backend: be}
		r, err := repo.Open(ctx, cb, h.Recovery)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.LoadIndex(ctx); err != nil {
			t.Fatal(err)
		}
		res := vaulttest.Backup(t, r, h.ADir)
		if n, s := cb.packLists.Load(), cb.packStats.Load(); n != 1 || s != 0 {
			t.Errorf("backup listed packs %d times and asked about %d packs one by one; want one listing and no question per pack", n, s)
		}
		c := res.Snapshot
		if c.Summary.BytesAdded < h.ABytes {
			t.Errorf("backup C added %d bytes, want at least the %d of the files whose packs were collected", c.Summary.BytesAdded, h.ABytes)
		}
		for _, p := range c.Packs {
			if h.IsCollected(p) {
				t.Errorf("snapshot C names collected pack %s", p.Short())
			}
			if _, err := os.Stat(vaulttest.PackPath(h.Dir, p.String())); err != nil {
				t.Errorf("snapshot C names pack %s: %v", p.Short(), err)
			}
		}
		got := vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, h.Reopen(t), c), h.ADir))
		vaulttest.CompareTrees(t, h.WantA, got)

		rep := checkCollected(t, h, true)
		if !rep.OK() || rep.CollectedPacks != len(h.Packs) {
			t.Errorf("check after C: ok %v, collected %d (want %d); problems %+v", rep.OK(), rep.CollectedPacks, len(h.Packs), rep.Problems)
		}
	})

	t.Run("a pack B needs is still damage", func(t *testing.T) {
		// The pack of B's new file: B alone needs it.
		var victim crypto.ID
		zPacks := map[crypto.ID]bool{}
		for _, p := range h.Z.Packs {
			zPacks[p] = true
		}
		dataPacks := map[crypto.ID]bool{}
		h.Reopen(t).Index().Each(func(_ crypto.ID, loc index.Location) {
			if loc.Type == pack.DataBlob {
				dataPacks[loc.Pack] = true
			}
		})
		for _, p := range h.B.Packs {
			if !zPacks[p] && dataPacks[p] {
				victim = p
			}
		}
		if victim == (crypto.ID{}) {
			t.Fatal("B has no data pack of its own: bad test")
		}
		if err := os.Remove(vaulttest.PackPath(h.Dir, victim.String())); err != nil {
			t.Fatal(err)
		}
		for _, readData := range []bool{false, true} {
			rep := checkCollected(t, h, readData)
			if rep.OK() || !hasProblem(rep, "pack", victim.String()) {
				t.Errorf("deleted pack %s that B needs: ok %v, problems %+v", victim.Short(), rep.OK(), rep.Problems)
			}
			if !setOf(rep.DamagedSnapshots...)[h.B.ID.String()] || len(rep.DamagedFiles) == 0 {
				t.Errorf("damaged snapshots %q and files %+v do not name B", rep.DamagedSnapshots, rep.DamagedFiles)
			}
			if rep.CollectedPacks != len(h.Packs) {
				t.Errorf("collected %d, want %d (the lost pack is damage, not collected)", rep.CollectedPacks, len(h.Packs))
			}
			for _, p := range rep.Problems {
				if p.Kind == "pack" && p.Name == victim.String() && !strings.Contains(p.Detail, h.B.ID.Short()) {
					t.Errorf("problem %+v does not name snapshot %s", p, h.B.ID.Short())
				}
			}
		}
		res, err := restorer.Restore(ctx, h.Reopen(t), h.B, restorer.Options{Target: t.TempDir()})
		if !errors.Is(err, restorer.ErrDamaged) || res == nil || len(res.Errors) == 0 {
			t.Fatalf("restore of B without its pack: %v, %+v", err, res)
		}
		for _, e := range res.Errors {
			if !strings.Contains(e.Path, h.Src) {
				t.Errorf("restore names %q, not a file of B", e.Path)
			}
		}
	})
}

// TestCollectedCopyOfDuplicateBlob: two backups that did not see each
// other stored the same files twice; one of them is then collected. Every
// reader must use the copy that is still there, even though a fresh index
// may list the collected copy first.
func TestCollectedCopyOfDuplicateBlob(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(8, 88))
	tr := vaulttest.NewRepo(t)
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		vaulttest.MustWrite(t, filepath.Join(src, "sub", fmt.Sprint("f", i)), vaulttest.RandBytes(rng, 600<<10), 0o644)
	}
	want := vaulttest.Scan(t, src)
	// Two sessions opened before either backed up: neither knows the
	// other's blobs.
	r1, r2 := tr.Reopen(t), tr.Reopen(t)
	a := vaulttest.Backup(t, r1, src).Snapshot
	b, err := archiver.Backup(ctx, r2, archiver.Options{Paths: []string{src}, Host: "testhost"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range b.Snapshot.Packs {
		for _, q := range a.Packs {
			if p == q {
				t.Fatalf("the two backups share pack %s: bad test", p.Short())
			}
		}
	}
	if b.Snapshot.Summary.BlobsAdded == 0 {
		t.Fatal("the second backup stored nothing: bad test")
	}
	collected := vaulttest.CollectGarbage(t, tr.Dir, a.ID.String())
	if len(collected) != len(a.Packs) {
		t.Fatalf("collected %d packs, want A's %d", len(collected), len(a.Packs))
	}
	// Index files are loaded in random order: try several fresh sessions
	// so that the collected copy comes first in some of them.
	for i := 0; i < 6; i++ {
		r := tr.Reopen(t)
		got := vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, r, b.Snapshot), src))
		vaulttest.CompareTrees(t, want, got)
	}
	rep, err := checker.Check(ctx, tr.Reopen(t), checker.Options{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.CollectedPacks != len(collected) {
		t.Errorf("check: ok %v, collected %d (want %d); problems %+v damaged %+v", rep.OK(), rep.CollectedPacks, len(collected), rep.Problems, rep.DamagedFiles)
	}
	// A new backup finds every blob in B's packs: nothing to store, and
	// its plain list names no collected pack.
	for i := 0; i < 3; i++ {
		vaulttest.MustWrite(t, filepath.Join(src, fmt.Sprint("touch", i)), nil, 0o644)
		c := vaulttest.Backup(t, tr.Reopen(t), src).Snapshot
		for _, p := range c.Packs {
			for _, q := range collected {
				if p.String() == q {
					t.Errorf("new snapshot names collected pack %s", p.Short())
				}
			}
		}
		if c.Summary.BytesAdded > 64<<10 {
			t.Errorf("new backup added %d bytes: it did not find the copies still stored", c.Summary.BytesAdded)
		}
	}
}

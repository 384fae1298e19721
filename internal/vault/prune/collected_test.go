package prune_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rempart/rempart/internal/vault/checker"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/prune"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// TestPruneAfterServerCollection: prune on a repository whose index lists
// packs a server collected. It must not stumble on them, and the index it
// writes no longer lists them, so that check finds nothing collected.
func TestPruneAfterServerCollection(t *testing.T) {
	ctx := context.Background()
	h := vaulttest.NewCollected(t)

	before := vaulttest.Scan(t, h.Dir)
	st, err := prune.Prune(ctx, h.Reopen(t), true)
	if err != nil {
		t.Fatalf("prune --dry-run: %v", err)
	}
	if st.CollectedForgotten != len(h.Packs) || st.PacksRemoved != 0 {
		t.Errorf("prune --dry-run: %+v, want %d collected packs to forget and nothing to remove", st, len(h.Packs))
	}
	if after := vaulttest.Scan(t, h.Dir); len(after) != len(before) {
		t.Errorf("prune --dry-run changed the repository: %d entries before, %d after", len(before), len(after))
	}

	r := h.Reopen(t)
	st, err = prune.Prune(ctx, r, false)
	if err != nil {
		t.Fatalf("prune: %v", err)
	}
	if st.CollectedForgotten != len(h.Packs) || st.PacksRemoved != 0 || st.IndexFiles == 0 {
		t.Errorf("prune: %+v, want %d collected packs forgotten and nothing removed", st, len(h.Packs))
	}
	entries, err := os.ReadDir(filepath.Join(h.Dir, "index"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("after prune, %d index files (%v), want 1", len(entries), err)
	}
	buf, err := os.ReadFile(filepath.Join(h.Dir, "index", entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	f, err := index.Decode(r.Key(), buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Packs {
		if h.IsCollected(p.ID) {
			t.Errorf("the new index still lists collected pack %s", p.ID.Short())
		}
	}

	rep, err := checker.Check(ctx, h.Reopen(t), checker.Options{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.CollectedPacks != 0 || rep.UnusedPacks != 0 || rep.Snapshots != 2 {
		t.Errorf("check after prune: ok %v, collected %d, unused %d, snapshots %d; problems %+v", rep.OK(), rep.CollectedPacks, rep.UnusedPacks, rep.Snapshots, rep.Problems)
	}
	vaulttest.CompareTrees(t, h.WantB, vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, h.Reopen(t), h.B), h.Src)))
	// And a backup of the collected files stores them again.
	c := vaulttest.Backup(t, h.Reopen(t), h.ADir).Snapshot
	if c.Summary.BytesAdded < h.ABytes {
		t.Errorf("backup after prune added %d bytes, want at least %d", c.Summary.BytesAdded, h.ABytes)
	}
	vaulttest.CompareTrees(t, h.WantA, vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, h.Reopen(t), c), h.ADir)))
}

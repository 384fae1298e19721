package archiver_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// TestParentUnderFormerHost: a machine that backed up under its system
// name and now backs up under the name it enrolled with finds its parent
// among its former name's snapshots (given), not another machine's, and
// an exact match under its new name wins.
func TestParentUnderFormerHost(t *testing.T) {
	ctx := context.Background()
	tr := vaulttest.NewRepo(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "a.txt"), []byte("hello\n"), 0o644)
	backup := func(o archiver.Options) *archiver.Result {
		t.Helper()
		o.Paths, o.Program = []string{src}, "test"
		res, err := archiver.Backup(ctx, tr.R, o)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	old := backup(archiver.Options{Host: "vm-1234"})
	backup(archiver.Options{Host: "other-machine"})
	if res := backup(archiver.Options{Host: "fs01"}); res.Parent != nil {
		t.Fatalf("parent %s found for a new name without former names", res.Parent.ID)
	}
	res := backup(archiver.Options{Host: "fs02", FormerHosts: []string{"vm-1234"}})
	if res.Parent == nil || res.Parent.ID != old.Snapshot.ID || res.Snapshot.Host != "fs02" {
		t.Fatalf("parent under the former name: got %v, want %s", res.Parent, old.Snapshot.ID)
	}
	again := backup(archiver.Options{Host: "fs02", FormerHosts: []string{"vm-1234"}})
	if again.Parent == nil || again.Parent.ID != res.Snapshot.ID {
		t.Fatalf("the new name's own snapshot should be the parent: got %v, want %s", again.Parent, res.Snapshot.ID)
	}
}

package restorer_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/restorer"
	"github.com/rempart/rempart/internal/vault/tree"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// TestRestoreReportsUnreadableBlobs: a blob that no longer decrypts (one
// flipped byte in its pack) must make Restore name the file it belongs to
// and return ErrDamaged, for a file of one chunk as for a file of several;
// the other files come back intact.
func TestRestoreReportsUnreadableBlobs(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 33))
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int{"one-chunk": 10000, "many-chunks": 3 << 20, "intact-small": 2000, "intact-big": 2 << 20} {
		vaulttest.MustWrite(t, filepath.Join(src, name), vaulttest.RandBytes(rng, size), 0o644)
	}
	want := vaulttest.Scan(t, src)
	tr := vaulttest.NewRepo(t)
	sn := vaulttest.Backup(t, tr.R, src).Snapshot
	r := tr.Reopen(t)

	// Find the files' blobs.
	content := map[string][]crypto.ID{}
	var walk func(id crypto.ID, p string)
	walk = func(id crypto.ID, p string) {
		tt, err := r.LoadTree(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tt.Nodes {
			if n.Type == tree.Dir {
				walk(*n.Subtree, filepath.Join(p, n.Name))
			} else {
				content[filepath.Join(p, n.Name)] = n.Content
			}
		}
	}
	walk(sn.Tree, "/")
	for _, name := range []string{"one-chunk", "many-chunks"} {
		ids := content[filepath.Join(src, name)]
		if (name == "one-chunk") != (len(ids) == 1) {
			t.Fatalf("%s has %d chunks", name, len(ids))
		}
		loc, ok := r.Index().Lookup(pack.DataBlob, ids[len(ids)-1])
		if !ok {
			t.Fatal("blob not indexed")
		}
		s := loc.Pack.String()
		p := filepath.Join(tr.Dir, "data", s[:2], s)
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := []byte{0}
		off := int64(loc.Offset + loc.Length/2)
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0x40
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}

	target := t.TempDir()
	res, err := restorer.Restore(ctx, tr.Reopen(t), sn, restorer.Options{Target: target})
	if !errors.Is(err, restorer.ErrDamaged) {
		t.Errorf("Restore with two unreadable blobs: %v, want ErrDamaged", err)
	}
	var named []string
	if res != nil {
		for _, e := range res.Errors {
			named = append(named, strings.TrimPrefix(e.Path, filepath.Join(target, src)+"/"))
		}
	}
	sort.Strings(named)
	if strings.Join(named, ",") != "many-chunks,one-chunk" {
		t.Errorf("Restore names %q as damaged, want many-chunks and one-chunk", named)
	}
	got := vaulttest.Scan(t, filepath.Join(target, src))
	for _, name := range []string{"one-chunk", "many-chunks"} {
		delete(want, name)
		delete(got, name)
	}
	vaulttest.CompareTrees(t, want, got)
}

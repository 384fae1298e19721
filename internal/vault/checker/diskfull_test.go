package checker_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/checker"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// fullDisk is a folder backend that runs out of space: saves fail with
// ENOSPC once budget bytes were written, or always for the listed types.
type fullDisk struct {
	backend.Backend
	mu       sync.Mutex
	budget   int64
	used     int64
	types    map[backend.FileType]bool
	failures int
}

func (d *fullDisk) take(h backend.Handle, n int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.types[h.Type] || d.used+n > d.budget {
		d.failures++
		return fmt.Errorf("saving %s: %w: %w", h, backend.ErrNoSpace, syscall.ENOSPC)
	}
	d.used += n
	return nil
}

func (d *fullDisk) Save(ctx context.Context, h backend.Handle, data []byte) error {
	if err := d.take(h, int64(len(data))); err != nil {
		return err
	}
	return d.Backend.Save(ctx, h, data)
}

func (d *fullDisk) SaveFile(ctx context.Context, h backend.Handle, f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if err := d.take(h, st.Size()); err != nil {
		// SaveFile owns f: close and remove it, as the real one does.
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	return d.Backend.SaveFile(ctx, h, f)
}

// leftovers lists temporary files left in the repository folder.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasPrefix(d.Name(), ".tmp-") || filepath.Base(filepath.Dir(p)) == "tmp") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBackupOnFullDisk(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 77))
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(filepath.Join(src, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		vaulttest.MustWrite(t, filepath.Join(src, "old", fmt.Sprintf("f%d", i)), vaulttest.RandBytes(rng, 2<<20), 0o644)
	}
	vaulttest.MustWrite(t, filepath.Join(src, "old", "note.txt"), []byte("hello\n"), 0o644)
	tr := vaulttest.NewRepo(t)
	first := vaulttest.Backup(t, tr.R, src).Snapshot
	want1 := vaulttest.Scan(t, src)

	// About 31 MB of new data: more than the 24 MiB budget, in which the
	// first pack (16 to 24 MiB: it closes past 16 MiB, blobs are at most
	// 8 MiB) still fits.
	if err := os.Mkdir(filepath.Join(src, "new"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		vaulttest.MustWrite(t, filepath.Join(src, "new", fmt.Sprintf("n%02d", i)), vaulttest.RandBytes(rng, 3<<20), 0o644)
	}
	want2 := vaulttest.Scan(t, src)

	for _, tc := range []struct {
		name   string
		budget int64
		types  []backend.FileType
	}{
		{"nothing fits", 0, nil},
		{"after 24 MiB", 24 << 20, nil},
		{"index", 1 << 40, []backend.FileType{backend.Index}},
		{"snapshot", 1 << 40, []backend.FileType{backend.Snapshot}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain, err := local.Open(tr.Dir)
			if err != nil {
				t.Fatal(err)
			}
			full := &fullDisk{Backend: plain, budget: tc.budget, types: map[backend.FileType]bool{}}
			for _, ty := range tc.types {
				full.types[ty] = true
			}
			r, err := repo.Open(ctx, full, tr.Recovery)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.LoadIndex(ctx); err != nil {
				t.Fatal(err)
			}
			_, err = archiver.Backup(ctx, r, archiver.Options{Paths: []string{src}, Host: "testhost"})
			if !errors.Is(err, backend.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("backup on a full disk: %v, want ErrNoSpace", err)
			}
			if full.failures == 0 {
				t.Fatal("the backend never failed")
			}
			t.Logf("error: %v (%d bytes stored before)", err, full.used)
			if l := leftovers(t, tr.Dir); len(l) > 0 {
				t.Errorf("temporary files left behind: %q", l)
			}

			// The repository is intact and the old snapshot is still alone.
			r = tr.Reopen(t)
			rep, err := checker.Check(ctx, r, checker.Options{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Snapshots != 1 {
				t.Errorf("check after a failed backup: %+v", rep)
			}
			sns, _, err := r.Snapshots(ctx)
			if err != nil || len(sns) != 1 || sns[0].ID != first.ID {
				t.Fatalf("snapshots after a failed backup: %v %v", sns, err)
			}
			vaulttest.CompareTrees(t, want1, vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, r, first), src)))
		})
	}

	// With space again, the backup goes through and restores.
	r := tr.Reopen(t)
	second := vaulttest.Backup(t, r, src).Snapshot
	r = tr.Reopen(t)
	vaulttest.CompareTrees(t, want2, vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, r, second), src)))
	vaulttest.CompareTrees(t, want1, vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, r, first), src)))
	rep, err := checker.Check(ctx, tr.Reopen(t), checker.Options{ReadData: true})
	if err != nil || !rep.OK() || rep.Snapshots != 2 {
		t.Errorf("final check: %+v %v", rep, err)
	}
}

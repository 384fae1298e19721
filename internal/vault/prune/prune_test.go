package prune_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/checker"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/prune"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

func packSet(t *testing.T, r *repo.Repository) map[crypto.ID]bool {
	t.Helper()
	m, err := r.ListPacks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[crypto.ID]bool{}
	for id := range m {
		out[id] = true
	}
	return out
}

func minus(a, b map[crypto.ID]bool) map[crypto.ID]bool {
	out := map[crypto.ID]bool{}
	for id := range a {
		if !b[id] {
			out[id] = true
		}
	}
	return out
}

func sameIDs(a, b map[crypto.ID]bool) bool { return len(a) == len(b) && len(minus(a, b)) == 0 }

// history is a repository with three snapshots: S1 (keep/), S2 (keep/ and
// a/, a/ all new data), S3 (keep/ and c/, a/ deleted). S1 is tagged.
type history struct {
	tr    *vaulttest.Repo
	src   string
	snaps []*snapshot.Snapshot
	want  []vaulttest.Manifest
	packs []map[crypto.ID]bool // packs written by each backup
	index []string             // index file written by each backup
}

func makeHistory(t *testing.T) *history {
	t.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 55))
	h := &history{tr: vaulttest.NewRepo(t), src: filepath.Join(t.TempDir(), "src")}
	for _, d := range []string{"keep", "a", "c"} {
		if err := os.MkdirAll(filepath.Join(h.src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		vaulttest.MustWrite(t, filepath.Join(h.src, "keep", fmt.Sprint("k", i)), vaulttest.RandBytes(rng, 300<<10), 0o644)
	}
	steps := []func(){
		func() {},
		func() {
			vaulttest.MustWrite(t, filepath.Join(h.src, "a", "big"), vaulttest.RandBytes(rng, 3<<20), 0o644)
			vaulttest.MustWrite(t, filepath.Join(h.src, "a", "small"), vaulttest.RandBytes(rng, 1000), 0o644)
		},
		func() {
			if err := os.RemoveAll(filepath.Join(h.src, "a")); err != nil {
				t.Fatal(err)
			}
			vaulttest.MustWrite(t, filepath.Join(h.src, "c", "mid"), vaulttest.RandBytes(rng, 2<<20), 0o644)
		},
	}
	r := h.tr.R
	for i, step := range steps {
		step()
		before, beforeIdx := packSet(t, r), indexFiles(t, r)
		var tags []string
		if i == 0 {
			tags = []string{"precious"}
		}
		res, err := archiver.Backup(ctx, r, archiver.Options{Paths: []string{h.src}, Host: "testhost", Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		h.snaps = append(h.snaps, res.Snapshot)
		h.want = append(h.want, vaulttest.Scan(t, h.src))
		h.packs = append(h.packs, minus(packSet(t, r), before))
		newIdx := vaulttest.Difference(indexFiles(t, r), beforeIdx)
		if len(newIdx) != 1 {
			t.Fatalf("backup %d wrote %d index files, want 1", i, len(newIdx))
		}
		h.index = append(h.index, newIdx[0])
		// Distinct times for the policy.
		time.Sleep(10 * time.Millisecond)
	}
	return h
}

func indexFiles(t *testing.T, r *repo.Repository) []string {
	t.Helper()
	names, err := r.IndexFiles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// verifyAll checks the repository and restores every snapshot but the
// forgotten ones.
func (h *history) verifyAll(t *testing.T, r *repo.Repository, live []int, unused int) {
	t.Helper()
	rep, err := checker.Check(context.Background(), r, checker.Options{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Snapshots != len(live) || rep.UnusedPacks != unused {
		t.Errorf("check: ok %v, %d snapshots (want %d), %d unused packs (want %d); problems %+v damaged %+v",
			rep.OK(), rep.Snapshots, len(live), rep.UnusedPacks, unused, rep.Problems, rep.DamagedFiles)
	}
	for _, i := range live {
		vaulttest.CompareTrees(t, h.want[i], vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, r, h.snaps[i]), h.src)))
	}
}

// forget applies the policy "last 1, tag precious": S2 goes.
func (h *history) forget(t *testing.T, r *repo.Repository) {
	t.Helper()
	ctx := context.Background()
	sns, _, err := r.Snapshots(ctx)
	if err != nil || len(sns) != 3 {
		t.Fatalf("snapshots: %d %v", len(sns), err)
	}
	var gone []string
	for _, d := range prune.Apply(prune.Policy{Last: 1, Tags: []string{"precious"}}, sns, time.Now()) {
		if !d.Keep {
			gone = append(gone, d.Snapshot.ID.String())
			if err := r.RemoveSnapshot(ctx, d.Snapshot.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(gone) != 1 || gone[0] != h.snaps[1].ID.String() {
		t.Fatalf("policy forgot %q, want only the second snapshot", gone)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func openAt(t *testing.T, dir, recovery string) *repo.Repository {
	t.Helper()
	tr := &vaulttest.Repo{Dir: dir, Recovery: recovery}
	return tr.Reopen(t)
}

func TestPruneRemovesExactlyUnusedPacks(t *testing.T) {
	ctx := context.Background()
	h := makeHistory(t)
	if len(h.packs[1]) < 2 {
		t.Fatalf("the second backup wrote %d packs, want data and tree packs", len(h.packs[1]))
	}
	r := h.tr.Reopen(t)
	h.forget(t, r)
	all := packSet(t, r)
	pre := copyDir(t, h.tr.Dir) // the repository just before prune

	st, err := prune.Prune(ctx, h.tr.Reopen(t), true)
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksRemoved != len(h.packs[1]) || st.PacksKept != len(all)-len(h.packs[1]) || st.PacksTotal != len(all) || !st.DryRun {
		t.Errorf("dry run: %+v; want %d of %d packs removed", st, len(h.packs[1]), len(all))
	}
	if !sameIDs(packSet(t, r), all) || len(indexFiles(t, r)) != 3 {
		t.Fatal("the dry run changed the repository")
	}

	st, err = prune.Prune(ctx, h.tr.Reopen(t), false)
	if err != nil {
		t.Fatal(err)
	}
	if st.PacksRemoved != len(h.packs[1]) || st.UnindexedPacks != 0 || st.IndexFiles != 3 || st.Snapshots != 2 {
		t.Errorf("prune: %+v; want the %d packs of the forgotten snapshot removed, 3 index files replaced", st, len(h.packs[1]))
	}
	if left := packSet(t, r); !sameIDs(left, minus(all, h.packs[1])) {
		t.Errorf("prune left %d packs, want exactly the %d packs of the kept snapshots", len(left), len(all)-len(h.packs[1]))
	}
	newIndex := indexFiles(t, r)
	if len(newIndex) != 1 {
		t.Fatalf("%d index files after prune, want 1", len(newIndex))
	}
	newIdx, err := os.ReadFile(filepath.Join(h.tr.Dir, "index", newIndex[0]))
	if err != nil {
		t.Fatal(err)
	}
	h.verifyAll(t, h.tr.Reopen(t), []int{0, 2}, 0)

	// Pruning again finds nothing to remove.
	st, err = prune.Prune(ctx, h.tr.Reopen(t), false)
	if err != nil || st.PacksRemoved != 0 {
		t.Errorf("second prune: %+v %v", st, err)
	}
	h.verifyAll(t, h.tr.Reopen(t), []int{0, 2}, 0)

	// Prune killed at each step leaves a usable repository, and running it
	// again finishes the work. The states are rebuilt from the copy taken
	// before prune and the index file prune wrote.
	for _, tc := range []struct {
		name         string
		removeOld    bool
		removedPacks int
	}{
		{"after writing the new index", false, 0},
		{"after removing the old indexes", true, 0},
		{"while removing packs", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, pre)
			if tc.removeOld {
				for _, name := range h.index {
					if err := os.Remove(filepath.Join(dir, "index", name)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "index", newIndex[0]), newIdx, 0o400); err != nil {
				t.Fatal(err)
			}
			n := 0
			for id := range h.packs[1] {
				if n == tc.removedPacks {
					break
				}
				if err := os.Remove(filepath.Join(dir, "data", id.String()[:2], id.String())); err != nil {
					t.Fatal(err)
				}
				n++
			}
			left := len(h.packs[1]) - tc.removedPacks
			h.verifyAll(t, openAt(t, dir, h.tr.Recovery), []int{0, 2}, left)
			st, err := prune.Prune(ctx, openAt(t, dir, h.tr.Recovery), false)
			if err != nil || st.PacksRemoved != left {
				t.Fatalf("prune after the crash: %+v %v; want %d packs removed", st, err, left)
			}
			r := openAt(t, dir, h.tr.Recovery)
			if !sameIDs(packSet(t, r), minus(all, h.packs[1])) {
				t.Error("pack set differs from an uninterrupted prune")
			}
			h.verifyAll(t, r, []int{0, 2}, 0)
		})
	}
}

// TestPruneKeepsPacksWhoseIndexIsLost: a snapshot's packs whose index file
// is gone are still listed in its plain pack list; prune must keep them,
// and RecoverPacks must index them again.
func TestPruneKeepsPacksWhoseIndexIsLost(t *testing.T) {
	ctx := context.Background()
	h := makeHistory(t)
	r := h.tr.Reopen(t)
	h.forget(t, r)

	// Split the third backup's index in two (tree packs, data packs), as
	// a large backup writes several, then lose the data one.
	name := h.index[2]
	buf, err := os.ReadFile(filepath.Join(h.tr.Dir, "index", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := index.Decode(r.Key(), buf)
	if err != nil {
		t.Fatal(err)
	}
	var trees, data index.File
	lost := map[crypto.ID]bool{}
	for _, p := range f.Packs {
		if len(p.Blobs) > 0 && p.Blobs[0].Type == pack.TreeBlob {
			trees.Packs = append(trees.Packs, p)
		} else {
			data.Packs = append(data.Packs, p)
			lost[p.ID] = true
		}
	}
	if len(trees.Packs) == 0 || len(data.Packs) == 0 {
		t.Fatalf("third backup: %d tree packs, %d data packs", len(trees.Packs), len(data.Packs))
	}
	if err := r.SaveIndex(ctx, &trees); err != nil {
		t.Fatal(err)
	}
	if err := r.Backend().Remove(ctx, backend.Handle{Type: backend.Index, Name: name}); err != nil {
		t.Fatal(err)
	}

	// The check sees the files of c/ as damaged (their blobs are in no
	// index) and the packs as unused.
	rep, err := checker.Check(ctx, h.tr.Reopen(t), checker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.DamagedFiles) != 1 || !strings.HasSuffix(rep.DamagedFiles[0].Path, "/c/mid") || rep.UnusedPacks != len(lost) {
		t.Errorf("check with a lost index: damaged %+v, %d unused packs", rep.DamagedFiles, rep.UnusedPacks)
	}

	all := packSet(t, r)
	st, err := prune.Prune(ctx, h.tr.Reopen(t), false)
	if err != nil {
		t.Fatal(err)
	}
	left := packSet(t, r)
	for id := range lost {
		if !left[id] {
			t.Errorf("prune removed pack %s, which the third snapshot lists", id.Short())
		}
	}
	if !sameIDs(left, minus(all, h.packs[1])) || st.PacksRemoved != len(h.packs[1]) {
		t.Errorf("prune: %+v; want exactly the forgotten snapshot's %d packs removed", st, len(h.packs[1]))
	}

	// Re-index from the packs' own headers: everything is whole again.
	r = h.tr.Reopen(t)
	n, problems, err := r.RecoverPacks(ctx)
	if err != nil || len(problems) > 0 || n != len(lost) {
		t.Fatalf("RecoverPacks: %d, %v, %v; want %d packs", n, problems, err, len(lost))
	}
	h.verifyAll(t, h.tr.Reopen(t), []int{0, 2}, 0)
}

// TestRecoverPacksAfterIndexDeleted: a whole index file deleted (a backup
// killed before writing it): the snapshot is unreadable, prune refuses to
// run, and RecoverPacks brings everything back.
func TestRecoverPacksAfterIndexDeleted(t *testing.T) {
	ctx := context.Background()
	h := makeHistory(t)
	if err := os.Remove(filepath.Join(h.tr.Dir, "index", h.index[2])); err != nil {
		t.Fatal(err)
	}
	rep, err := checker.Check(ctx, h.tr.Reopen(t), checker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.DamagedFiles) != 1 || rep.DamagedFiles[0].Snapshot != h.snaps[2].ID.String() || rep.DamagedFiles[0].Path != "/" ||
		rep.UnusedPacks != len(h.packs[2]) {
		t.Errorf("check: damaged %+v, %d unused packs (want %d)", rep.DamagedFiles, rep.UnusedPacks, len(h.packs[2]))
	}
	all := packSet(t, h.tr.R)
	if _, err := prune.Prune(ctx, h.tr.Reopen(t), false); !errors.Is(err, prune.ErrUnsafe) {
		t.Errorf("prune with a snapshot it cannot read: %v, want ErrUnsafe", err)
	}
	if !sameIDs(packSet(t, h.tr.R), all) {
		t.Fatal("prune removed packs while refusing")
	}
	r := h.tr.Reopen(t)
	n, problems, err := r.RecoverPacks(ctx)
	if err != nil || len(problems) > 0 || n != len(h.packs[2]) {
		t.Fatalf("RecoverPacks: %d, %v, %v; want %d", n, problems, err, len(h.packs[2]))
	}
	// Nothing left to recover the second time.
	if n, _, err := h.tr.Reopen(t).RecoverPacks(ctx); err != nil || n != 0 {
		t.Errorf("second RecoverPacks: %d %v", n, err)
	}
	h.verifyAll(t, h.tr.Reopen(t), []int{0, 1, 2}, 0)
}

package vaulttest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

// Collected is a repository after a server's garbage collection. Z backs
// up Src; A backs up Src and ADir, so that A's new packs hold only ADir's
// data and A's own folder listings; B backs up Src after changes. Then A's
// snapshot file and every pack only A named are deleted as the server
// does (CollectGarbage), while the index files still list those packs.
type Collected struct {
	*Repo
	Src, ADir string
	Z, A, B   *snapshot.Snapshot
	WantB     Manifest // Src as B saw it
	WantA     Manifest // ADir
	ABytes    uint64   // bytes of ADir's files
	Packs     []string // the packs the collection deleted, sorted
}

// NewCollected builds the Collected history in temporary folders.
func NewCollected(t testing.TB) *Collected {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 77))
	base := t.TempDir()
	h := &Collected{Repo: NewRepo(t), Src: filepath.Join(base, "src"), ADir: filepath.Join(base, "only-a")}
	for _, d := range []string{filepath.Join(h.Src, "common"), filepath.Join(h.ADir, "deep")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		MustWrite(t, filepath.Join(h.Src, "common", fmt.Sprint("c", i)), RandBytes(rng, 900<<10), 0o644)
	}
	MustWrite(t, filepath.Join(h.Src, "registre.txt"), []byte(strings.Repeat("délibération\n", 500)), 0o644)
	for i, n := range []int{2 << 20, 1500 << 10, 3000} {
		h.ABytes += uint64(n)
		MustWrite(t, filepath.Join(h.ADir, "deep", fmt.Sprint("a", i)), RandBytes(rng, n), 0o644)
	}
	r := h.R
	h.Z = Backup(t, r, h.Src).Snapshot
	h.A = Backup(t, r, h.Src, h.ADir).Snapshot
	h.WantA = Scan(t, h.ADir)

	f, err := os.OpenFile(filepath.Join(h.Src, "registre.txt"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("nouvelle séance\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	MustWrite(t, filepath.Join(h.Src, "common", "new"), RandBytes(rng, 700<<10), 0o644)
	h.B = Backup(t, r, h.Src).Snapshot
	h.WantB = Scan(t, h.Src)

	h.Packs = CollectGarbage(t, h.Dir, h.A.ID.String())
	// What was collected must be exactly what A alone named, or the
	// history does not test what it claims to.
	others := map[crypto.ID]bool{}
	for _, sn := range []*snapshot.Snapshot{h.Z, h.B} {
		for _, p := range sn.Packs {
			others[p] = true
		}
	}
	var onlyA []string
	for _, p := range h.A.Packs {
		if !others[p] {
			onlyA = append(onlyA, p.String())
		}
	}
	if len(h.Packs) == 0 || strings.Join(onlyA, " ") != strings.Join(h.Packs, " ") {
		t.Fatalf("collected %q, but A alone named %q", h.Packs, onlyA)
	}
	return h
}

// IsCollected reports whether the collection deleted pack p.
func (h *Collected) IsCollected(p crypto.ID) bool {
	for _, c := range h.Packs {
		if c == p.String() {
			return true
		}
	}
	return false
}

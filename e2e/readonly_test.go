package e2e

import (
	"path/filepath"
	"testing"
)

// TestReadOnlyRepository: after an attack, the repository is often reached
// read-only (a write-protected disk, a read-only NFS export or snapshot).
// Reading commands must work there: listing, restoring, verifying.
func TestReadOnlyRepository(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(tempDir(t), "src")
	genUserTree(t, src, 6)
	e.initRepo()
	b := e.backup(src)
	want := takeManifest(t, src)
	ro := t.TempDir()
	if err := bindReadOnly(t, e.repo(), ro); err != nil {
		t.Skipf("no read-only bind mount here: %v", err)
	}
	r := e.with("REMPART_REPO", ro)
	before := repoListing(t, ro)
	if s := r.snapshots(); len(s) != 1 {
		t.Errorf("snapshots on a read-only repository: %+v", s)
	}
	r.ok("ls", "latest")
	for _, args := range [][]string{
		{"restore", "latest", "--target", filepath.Join(t.TempDir(), "r")},
		{"check", "--read-data"},
	} {
		if res := r.run(args...); res.code != 0 {
			t.Errorf("a reading command fails on a read-only repository (it cannot write its lock)\n%s", res)
		}
	}
	if !t.Failed() {
		r.restoreAndCompare(b.SnapshotID, src, want)
	}
	// Writing commands fail cleanly.
	res := r.run("backup", src)
	if res.code == 0 {
		t.Errorf("backup into a read-only repository succeeded\n%s", res)
	}
	mustContain(t, "backup into a read-only repository", res.stderr, "read-only")
	sameListing(t, "commands on a read-only repository", before, repoListing(t, ro))
}

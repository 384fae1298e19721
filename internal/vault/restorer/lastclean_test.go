package restorer_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/sentinel"
	"github.com/rempart/rempart/internal/vault/restorer"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// TestLastClean: files a report lists as affected come back from their
// last clean snapshot (under their old name when renamed), files with no
// clean version stay out, and the rest comes from the snapshot itself —
// including names with pattern characters, which Include would misread.
func TestLastClean(t *testing.T) {
	src, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"a.txt": "budget 2026\n", "b [draft].txt": "procès-verbal\n", "c.txt": "untouched\n",
		"sub/d*.txt": "état civil\n", "sub/e.txt": "second version\n",
	}
	for name, content := range files {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(src, name)), 0o755))
		vaulttest.MustWrite(t, filepath.Join(src, name), []byte(content), 0o644)
	}
	tr := vaulttest.NewRepo(t)
	r := tr.R
	s1 := vaulttest.Backup(t, r, src).Snapshot
	want1 := vaulttest.Scan(t, src)

	// The attack: encrypt in place, encrypt into a renamed copy and delete
	// the original, drop a note; e.txt changes benignly in between.
	vaulttest.MustWrite(t, filepath.Join(src, "sub/e.txt"), []byte("third version, still clean\n"), 0o644)
	s2 := vaulttest.Backup(t, r, src).Snapshot
	vaulttest.MustWrite(t, filepath.Join(src, "a.txt"), []byte("\x8f\x01\xfe garbage"), 0o644)
	vaulttest.MustWrite(t, filepath.Join(src, "sub/d*.txt"), []byte("\x8f\x02\xfe garbage"), 0o644)
	vaulttest.MustWrite(t, filepath.Join(src, "b [draft].txt.locked"), []byte("\x8f\x03\xfe garbage"), 0o644)
	must(t, os.Remove(filepath.Join(src, "b [draft].txt")))
	vaulttest.MustWrite(t, filepath.Join(src, "LISEZ-MOI.txt"), []byte("vos fichiers sont chiffrés\n"), 0o644)
	s3 := vaulttest.Backup(t, r, src).Snapshot
	rep := sentinel.Report{Version: 1, Verdict: sentinel.Infected, Affected: []sentinel.Affected{
		{Path: src + "/a.txt", LastClean: s2.ID.String()},
		{Path: src + "/b [draft].txt.locked", LastClean: s1.ID.String(), LastCleanPath: src + "/b [draft].txt"},
		{Path: src + "/sub/d*.txt", LastClean: s2.ID.String()},
		{Path: src + "/LISEZ-MOI.txt"},
	}}
	s3.Sentinel, err = json.Marshal(rep)
	must(t, err)

	target := t.TempDir()
	res, err := restorer.LastClean(context.Background(), r, s3, restorer.Options{Target: target})
	if err != nil {
		t.Fatalf("LastClean: %v (%+v)", err, res)
	}
	got := vaulttest.Scan(t, filepath.Join(target, src))
	// Folders and untouched files as they are now, affected files as they
	// were before the attack, nothing the attack made.
	want := vaulttest.Scan(t, src)
	delete(want, "b [draft].txt.locked")
	delete(want, "LISEZ-MOI.txt")
	for _, p := range []string{"a.txt", "b [draft].txt", "sub/d*.txt"} {
		want[p] = want1[p]
	}
	vaulttest.CompareTrees(t, want, got)
	if len(res.FromClean) != 3 || res.FromLatest != 2 || len(res.Skipped) != 1 || !strings.HasSuffix(res.Skipped[0].Path, "LISEZ-MOI.txt") {
		t.Errorf("result: %d from clean %+v, %d from the snapshot, skipped %+v; want 3, 2 (c.txt, e.txt) and the note", len(res.FromClean), res.FromClean, res.FromLatest, res.Skipped)
	}
	for _, f := range res.FromClean {
		if strings.HasSuffix(f.Path, "b [draft].txt") != (f.Affected != "") {
			t.Errorf("renamed file: %+v", f)
		}
	}

	// A clean snapshot that is gone: the rest is still restored, the file
	// is listed as skipped, and the call fails.
	rep.Affected[0].LastClean = strings.Repeat("ab", 32)
	s3.Sentinel, _ = json.Marshal(rep)
	target2 := t.TempDir()
	res, err = restorer.LastClean(context.Background(), r, s3, restorer.Options{Target: target2})
	if err == nil || res == nil || len(res.FromClean) != 2 || len(res.Skipped) != 2 {
		t.Errorf("missing clean snapshot: err %v, result %+v", err, res)
	}
	if _, err := os.Stat(filepath.Join(target2, src, "c.txt")); err != nil {
		t.Errorf("missing clean snapshot: the rest was not restored: %v", err)
	}

	// Not assessed.
	s3.Sentinel = nil
	if _, err := restorer.LastClean(context.Background(), r, s3, restorer.Options{Target: t.TempDir()}); !errors.Is(err, restorer.ErrNotAssessed) {
		t.Errorf("snapshot without report: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

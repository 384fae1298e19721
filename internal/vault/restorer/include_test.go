package restorer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/vault/restorer"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// includeTree builds a small fixed tree for the --include tests.
func includeTree(t *testing.T, src string) {
	t.Helper()
	for _, d := range []string{"docs/sub/deep", "photos", "other", "hl", "empty"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{
		"docs/a.txt": "a", "docs/b.md": "b", "docs/sub/c.txt": "c", "docs/sub/deep/d.txt": "d",
		"photos/x.jpg": "x", "photos/y.txt": "y", "notes.txt": "notes", "other/e.bin": "eeee",
		"other/odd\nname.txt": "odd", "other/\xff.txt": "raw",
	} {
		vaulttest.MustWrite(t, filepath.Join(src, name), []byte(content), 0o640)
	}
	if err := os.Link(filepath.Join(src, "other/e.bin"), filepath.Join(src, "hl/link1")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("docs", filepath.Join(src, "sym")); err != nil {
		t.Fatal(err)
	}
}

// includeMatches is an independent model of --include: an entry is
// restored when a pattern matches its full path or its name, or those of
// one of its folders.
func includeMatches(patterns []string, abs string) bool {
	for p := abs; p != "/"; p = filepath.Dir(p) {
		for _, pat := range patterns {
			if ok, _ := filepath.Match(pat, p); ok {
				return true
			}
			if ok, _ := filepath.Match(pat, filepath.Base(p)); ok {
				return true
			}
		}
	}
	return false
}

func TestRestoreInclude(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	includeTree(t, src)
	all := vaulttest.Scan(t, src)
	tr := vaulttest.NewRepo(t)
	sn := vaulttest.Backup(t, tr.R, src).Snapshot
	r := tr.Reopen(t)

	for _, tc := range []struct {
		name    string
		include []string
		// byName: a name pattern walks every folder, so only files are
		// compared exactly; folders must at least hold the matches.
		byName bool
	}{
		{"folder", []string{src + "/docs"}, false},
		{"glob in folder", []string{src + "/docs/sub/*.txt"}, false},
		{"glob in path", []string{filepath.Dir(src) + "/*/photos"}, false},
		{"one hard link name", []string{src + "/hl/link1"}, false},
		{"symlink", []string{src + "/sym"}, false},
		{"two patterns", []string{src + "/notes.txt", src + "/other/e.bin"}, false},
		{"odd name", []string{src + "/other/odd\nname.txt"}, false},
		{"name pattern", []string{"*.txt"}, true},
		{"folder name", []string{"sub"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := vaulttest.Manifest{}
			for rel, e := range all {
				if rel != "." && includeMatches(tc.include, filepath.Join(src, rel)) {
					want[rel] = e
					for _, a := range ancestors(rel) {
						want[a] = all[a]
					}
				}
			}
			if len(want) < 2 {
				t.Fatalf("pattern %q matches nothing: bad test", tc.include)
			}
			target := vaulttest.Restore(t, r, sn, tc.include...)
			got := vaulttest.Scan(t, filepath.Join(target, src))
			if tc.byName {
				for rel, e := range got {
					if e.Type == "dir" {
						if _, ok := want[rel]; !ok {
							want[rel] = all[rel]
						}
					}
				}
			}
			vaulttest.CompareTrees(t, want, got)
		})
	}

	// Nothing outside the include set is created next to the snapshot path.
	target := vaulttest.Restore(t, r, sn, src+"/docs/a.txt")
	var names []string
	_ = filepath.WalkDir(target, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimPrefix(p, target))
		}
		return nil
	})
	sort.Strings(names)
	if len(names) != 1 || names[0] != src+"/docs/a.txt" {
		t.Errorf("include of one file restored %q", names)
	}

	// A bad pattern is refused before anything is written.
	_, err := restorer.Restore(context.Background(), r, sn, restorer.Options{Target: t.TempDir(), Include: []string{"[unclosed"}})
	if err == nil || errors.Is(err, restorer.ErrDamaged) {
		t.Errorf("bad include pattern: got %v, want an error", err)
	}
}

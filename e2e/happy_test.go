package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// tempDir is t.TempDir with symlinks resolved, so that the absolute paths
// rempart records are the ones the test computes.
func tempDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var printedKeyRE = regexp.MustCompile(`[0-9A-Z]{5}(?:-[0-9A-Z]{5}){5,}`)

// TestHappyPath walks through a user's first days: init, backup, list,
// change, diff, restore and compare, check, keys, recovery key, forget and
// prune, partial restore.
func TestHappyPath(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(tempDir(t), "src")
	nFiles := genUserTree(t, src, 1)

	// init, in words: the recovery key is printed once.
	r := e.ok("init")
	mustContain(t, "init output", r.stdout, "recovery key")
	recovery := printedKeyRE.FindString(r.stdout)
	if recovery == "" {
		t.Fatalf("init does not print a recovery key:\n%s", r)
	}

	// init --json: the recovery key is a field.
	t.Run("init --json", func(t *testing.T) {
		e2 := newEnv(t)
		var out map[string]any
		e2.okJSON(&out, "init")
		rk, _ := out["recovery_key"].(string)
		if !recoveryKeyRE.MatchString(rk) {
			t.Errorf("init --json: recovery_key = %q in %v", rk, out)
		}
		if rk == recovery {
			t.Errorf("two repositories got the same recovery key %s", rk)
		}
	})

	// First backup.
	b1 := e.backup(src)
	if b1.Summary.FilesNew < uint64(nFiles) || b1.Summary.BytesAdded == 0 {
		t.Errorf("first backup: summary %+v, want at least %d new files and some bytes added", b1.Summary, nFiles)
	}
	snaps := e.snapshots()
	if len(snaps) != 1 || snaps[0].ID != b1.SnapshotID || len(snaps[0].Paths) != 1 || snaps[0].Paths[0] != src {
		t.Fatalf("snapshots --json after one backup: %+v, want one snapshot %s of %s", snaps, short(b1.SnapshotID), src)
	}

	// ls shows Unicode names, symlinks and the empty folder.
	r = e.ok("ls", "latest")
	mustContain(t, "ls latest", r.stdout,
		src+"/日本語フォルダ/",
		src+"/docs/000-café.txt",
		src+"/emoji 🎉/",
		src+"/links/to-cafe -> ../docs/000-café.txt",
		src+"/links/dangling -> does/not/exist",
		src+"/empty/")
	var ls []struct {
		Path       string `json:"path"`
		Type       string `json:"type"`
		LinkTarget string `json:"link_target"`
	}
	e.okJSON(&ls, "ls", "latest", src)
	want := takeManifest(t, src)
	if len(ls) != len(want) {
		t.Errorf("ls --json latest %s lists %d entries, the folder has %d", src, len(ls), len(want))
	}

	// Change a few things and back up again.
	orig1 := want
	appendTo(t, filepath.Join(src, "docs", "registre.txt"), "\nnouvelle délibération\n")
	must(t, os.WriteFile(filepath.Join(src, "docs", "nouveau ✨.txt"), []byte("nouveau fichier\n"), 0o644))
	must(t, os.Remove(filepath.Join(src, "photos", "IMG_0001.jpg")))
	must(t, os.Chmod(filepath.Join(src, "docs", "2024", "001-naïve résumé.odt"), 0o604))
	b2 := e.backup(src)
	if b2.Parent != b1.SnapshotID {
		t.Errorf("second backup: parent %s, want %s", short(b2.Parent), short(b1.SnapshotID))
	}
	if b2.Summary.FilesChanged == 0 || b2.Summary.FilesNew != 1 || b2.Summary.BytesRead > 3<<20 {
		t.Errorf("second backup: summary %+v: want the changed file re-read, one new file, unchanged files skipped", b2.Summary)
	}
	orig2 := takeManifest(t, src)

	t.Run("diff", func(t *testing.T) {
		var d struct {
			Changes []struct {
				Path   string `json:"path"`
				Change string `json:"change"`
			} `json:"changes"`
		}
		e.okJSON(&d, "diff", b1.SnapshotID[:8], "latest")
		got := map[string]string{}
		for _, c := range d.Changes {
			got[c.Path] = c.Change
		}
		for p, c := range map[string]string{
			src + "/docs/registre.txt":              "modified",
			src + "/docs/nouveau ✨.txt":             "added",
			src + "/photos/IMG_0001.jpg":            "removed",
			src + "/docs/2024/001-naïve résumé.odt": "metadata",
		} {
			if got[p] != c {
				t.Errorf("diff --json: %s is %q, want %q (all changes: %v)", p, got[p], c, got)
			}
		}
		r := e.ok("diff", b1.SnapshotID, b2.SnapshotID)
		mustContain(t, "diff", r.stdout, "M  "+src+"/docs/registre.txt", "+  "+src+"/docs/nouveau ✨.txt")
	})

	t.Run("restore latest", func(t *testing.T) {
		e.restoreAndCompare("latest", src, orig2)
	})
	t.Run("restore first", func(t *testing.T) {
		e.restoreAndCompare(b1.SnapshotID[:10], src, orig1)
	})

	t.Run("check --read-data", func(t *testing.T) {
		r := e.ok("check", "--read-data")
		mustContain(t, "check", r.stdout, "no problem found")
	})

	t.Run("password file", func(t *testing.T) {
		pf := filepath.Join(e.home, "pass")
		must(t, os.WriteFile(pf, []byte(testPassword+"\n"), 0o600))
		e.with("REMPART_PASSWORD", "").ok("snapshots", "--password-file", pf)
		e.with("REMPART_PASSWORD", "", "REMPART_PASSWORD_FILE", pf).ok("snapshots")
	})

	t.Run("keys", func(t *testing.T) {
		const newPass = "another long passphrase for the mayor"
		var added struct {
			ID string `json:"id"`
		}
		e.with("REMPART_NEW_PASSWORD", newPass).okJSON(&added, "key", "add")
		type keyJSON struct {
			ID      string `json:"id"`
			Kind    string `json:"kind"`
			Current bool   `json:"current"`
		}
		var keys []keyJSON
		e.okJSON(&keys, "key", "list")
		kinds := map[string]int{}
		var current string
		for _, k := range keys {
			kinds[k.Kind]++
			if k.Current {
				current = k.ID
			}
		}
		if len(keys) != 3 || kinds["passphrase"] != 2 || kinds["recovery"] != 1 || current == "" || current == added.ID {
			t.Fatalf("key list --json after key add: %+v", keys)
		}
		r := e.ok("key", "list")
		mustContain(t, "key list", r.stdout, added.ID[:8], current[:8], "recovery")

		withNew := e.with("REMPART_PASSWORD", newPass)
		var keys2 []keyJSON
		withNew.okJSON(&keys2, "key", "list")
		for _, k := range keys2 {
			if k.Current != (k.ID == added.ID) {
				t.Errorf("opened with the new passphrase, key list marks %+v", k)
			}
		}
		withNew.ok("restore", "latest", "--target", filepath.Join(t.TempDir(), "r"), "--include", "/nothing/matches")

		// The key in use cannot be removed.
		r = withNew.run("key", "remove", added.ID[:8])
		if r.code == 0 {
			t.Errorf("removing the key in use succeeded:\n%s", r)
		}
		e.ok("key", "remove", added.ID[:8])
		r = withNew.expect(12, "snapshots")
		mustContain(t, "stderr after key remove", r.stderr, "wrong passphrase")
		var keys3 []keyJSON
		e.okJSON(&keys3, "key", "list")
		if len(keys3) != 2 {
			t.Errorf("key list after remove: %+v", keys3)
		}
	})

	t.Run("recovery key", func(t *testing.T) {
		rec := e.with("REMPART_PASSWORD", recovery)
		if got := rec.snapshots(); len(got) != 2 {
			t.Errorf("snapshots with the recovery key: %+v", got)
		}
		// Lower case and without dashes is how people type it from paper.
		rec2 := e.with("REMPART_PASSWORD", strings.ToLower(strings.ReplaceAll(recovery, "-", " ")))
		if r := rec2.run("snapshots"); r.code != 0 {
			t.Logf("note: the recovery key typed in lower case with spaces is refused:\n%s", r)
		}
		rec.restoreAndCompare("latest", src, orig2)
	})

	t.Run("forget --prune", func(t *testing.T) {
		var out struct {
			Removed int `json:"removed"`
			Prune   *struct {
				PacksRemoved int `json:"packs_removed"`
			} `json:"prune"`
		}
		e.okJSON(&out, "forget", "--keep-last", "1", "--prune")
		if out.Removed != 1 || out.Prune == nil {
			t.Errorf("forget --keep-last 1 --prune: %+v", out)
		}
		snaps := e.snapshots()
		if len(snaps) != 1 || snaps[0].ID != b2.SnapshotID {
			t.Fatalf("after forget, snapshots %+v, want only %s", snaps, short(b2.SnapshotID))
		}
		e.ok("check", "--read-data")
		e.restoreAndCompare("latest", src, orig2)
	})

	t.Run("restore --include name pattern", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "r")
		e.ok("restore", "latest", "--target", target, "--include", "*.txt")
		got := takeManifest(t, filepath.Join(target, src))
		checkSubset(t, orig2, got, func(rel string, en entry) bool {
			return en.typ != 'd' && strings.HasSuffix(filepath.Base(rel), ".txt")
		})
	})
	t.Run("restore --include path", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "r")
		e.ok("restore", "latest", "--target", target, "--include", src+"/docs/2025")
		got := takeManifest(t, filepath.Join(target, src))
		checkSubset(t, orig2, got, func(rel string, en entry) bool {
			return rel == "docs/2025" || strings.HasPrefix(rel, "docs/2025/")
		})
	})
}

// checkSubset verifies that got holds exactly the non-folder entries of
// want that match sel, identical, and of folders only those that sel
// selects or that lead to something restored.
func checkSubset(t *testing.T, want, got manifest, sel func(string, entry) bool) {
	t.Helper()
	n := 0
	var missing, wrong, extra []string
	for rel, w := range want {
		if !sel(rel, w) {
			continue
		}
		n++
		if g, ok := got[rel]; !ok {
			missing = append(missing, rel)
		} else if g != w {
			wrong = append(wrong, fmt.Sprintf("%q restored as %s, want %s", rel, g, w))
		}
	}
	if n == 0 {
		t.Fatal("the pattern selects nothing in the source: bad test")
	}
	for rel, g := range got {
		if g.typ != 'd' && !sel(rel, g) {
			extra = append(extra, rel)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("--include: %d matching entries were not restored: %q", len(missing), firstN(missing, 10))
	}
	if len(wrong) > 0 {
		t.Errorf("--include: %d entries differ:\n  %s", len(wrong), strings.Join(firstN(wrong, 10), "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("--include: %d of %d restored files and symlinks do not match the pattern, e.g. %q", len(extra), countNonDirs(got), firstN(extra, 5))
	}
}

func countNonDirs(m manifest) int {
	n := 0
	for _, e := range m {
		if e.typ != 'd' {
			n++
		}
	}
	return n
}

func appendTo(t *testing.T, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString(s)
	must(t, err)
	must(t, f.Close())
	// Make sure the time moves even on coarse clocks.
	now := time.Now().Add(time.Second)
	must(t, os.Chtimes(p, now, now))
}

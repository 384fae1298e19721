package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadInput gives rempart what users get wrong. Each case must fail with
// a clear message on stderr and the documented exit code, and leave the
// repository exactly as it was (same files, same sizes).
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	base := tempDir(t)
	src := filepath.Join(base, "src")
	genUserTree(t, src, 2)
	e.initRepo()
	b1 := e.backup(src)
	want := takeManifest(t, src)

	// unchanged runs fn and verifies that the repository did not change.
	unchanged := func(t *testing.T, fn func()) {
		t.Helper()
		before := repoListing(t, e.repo())
		fn()
		sameListing(t, t.Name(), before, repoListing(t, e.repo()))
	}
	// fails checks a run's exit code and that stderr explains it.
	fails := func(t *testing.T, r *result, code int, words ...string) {
		t.Helper()
		if code >= 0 && r.code != code {
			t.Errorf("want exit %d\n%s", code, r)
		} else if r.code == 0 {
			t.Errorf("want a failure\n%s", r)
		}
		if strings.TrimSpace(r.stderr) == "" {
			t.Errorf("nothing on stderr\n%s", r)
		}
		mustContain(t, "stderr of rempart "+strings.Join(r.args, " "), r.stderr, words...)
	}

	t.Run("wrong passphrase", func(t *testing.T) {
		unchanged(t, func() {
			bad := e.with("REMPART_PASSWORD", "not the passphrase")
			for _, args := range [][]string{
				{"snapshots"},
				{"backup", src},
				{"restore", "latest", "--target", filepath.Join(t.TempDir(), "r")},
				{"check"},
				{"forget", "--keep-last", "1", "--prune"},
				{"prune"},
				{"key", "add"},
			} {
				fails(t, bad.run(args...), 12, "wrong passphrase")
			}
			pf := filepath.Join(t.TempDir(), "pw")
			must(t, os.WriteFile(pf, []byte("still not it\n"), 0o600))
			fails(t, e.with("REMPART_PASSWORD", "").run("snapshots", "--password-file", pf), 12, "wrong passphrase")
			// --json carries the error too.
			r := bad.run("snapshots", "--json")
			var out struct {
				Error    string `json:"error"`
				ExitCode int    `json:"exit_code"`
			}
			if json.Unmarshal([]byte(r.stdout), &out) != nil || out.ExitCode != 12 || out.Error == "" {
				t.Errorf("--json with a wrong passphrase: want {error, exit_code: 12} on stdout\n%s", r)
			}
		})
	})

	t.Run("missing repository", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "no", "such", "repo")
		m := e.with("REMPART_REPO", missing)
		for _, args := range [][]string{{"snapshots"}, {"backup", src}, {"restore", "latest", "--target", t.TempDir()}, {"check"}, {"key", "list"}} {
			fails(t, m.run(args...), 10, missing)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Errorf("a failed command created the missing repository folder %s", missing)
		}
	})

	t.Run("folder is not a repository", func(t *testing.T) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a repository\n"), 0o644))
		must(t, os.Mkdir(filepath.Join(dir, "keys"), 0o755))
		before := repoListing(t, dir)
		m := e.with("REMPART_REPO", dir)
		for _, args := range [][]string{{"snapshots"}, {"backup", src}, {"check"}, {"unlock"}} {
			fails(t, m.run(args...), 10, "not a rempart repository")
		}
		// An empty folder is not one either.
		fails(t, e.with("REMPART_REPO", t.TempDir()).run("snapshots"), 10, "not a rempart repository")
		sameListing(t, "commands on a folder that is not a repository", before, repoListing(t, dir))
	})

	t.Run("file is not a repository", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "repo.txt")
		must(t, os.WriteFile(f, []byte("x"), 0o644))
		// Exit code 10 is documented as "no repository there".
		fails(t, e.with("REMPART_REPO", f).run("snapshots"), 10, f)
	})

	t.Run("no repository given", func(t *testing.T) {
		fails(t, e.with("REMPART_REPO", "").run("snapshots"), 2, "--repo", "REMPART_REPO")
	})

	t.Run("no passphrase and no terminal", func(t *testing.T) {
		unchanged(t, func() {
			fails(t, e.with("REMPART_PASSWORD", "").run("snapshots"), -1, "REMPART_PASSWORD", "--password-file")
		})
	})

	t.Run("password file missing", func(t *testing.T) {
		unchanged(t, func() {
			missing := filepath.Join(t.TempDir(), "nope.txt")
			// Even with REMPART_PASSWORD set, an explicit file that is
			// missing must be an error, not silently ignored.
			for _, ee := range []*env{e, e.with("REMPART_PASSWORD", "")} {
				fails(t, ee.run("snapshots", "--password-file", missing), -1, "password file", missing)
				fails(t, ee.with("REMPART_PASSWORD_FILE", missing).run("backup", src), -1, "password file")
			}
			empty := filepath.Join(t.TempDir(), "empty.txt")
			must(t, os.WriteFile(empty, nil, 0o600))
			fails(t, e.run("snapshots", "--password-file", empty), -1, "empty")
		})
	})

	t.Run("init into a non-empty folder", func(t *testing.T) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "precious.odt"), []byte("do not touch"), 0o644))
		before := repoListing(t, dir)
		fails(t, e.with("REMPART_REPO", dir).run("init"), -1, "not empty")
		sameListing(t, "init into a non-empty folder", before, repoListing(t, dir))
		// Nor over an existing repository.
		unchanged(t, func() { fails(t, e.run("init"), -1, e.repo()) })
		e.ok("snapshots") // still opens with the same key
	})

	t.Run("init with a short passphrase", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "new")
		fails(t, e.with("REMPART_REPO", dir, "REMPART_PASSWORD", "short").run("init"), 2, "too short")
		if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
			t.Errorf("init with a refused passphrase left a repository")
		}
	})

	t.Run("restore target under a regular file", func(t *testing.T) {
		// Root ignores permission bits, so chmod 0555 would not stop it.
		// A path whose parent is a regular file fails for everybody.
		file := filepath.Join(t.TempDir(), "file")
		must(t, os.WriteFile(file, []byte("i am a file"), 0o644))
		unchanged(t, func() {
			fails(t, e.run("restore", "latest", "--target", filepath.Join(file, "restore")), 1, "target", "not a directory")
		})
		if b, _ := os.ReadFile(file); string(b) != "i am a file" {
			t.Errorf("the file in the way was changed: %q", b)
		}
	})

	t.Run("restore target on a read-only mount", func(t *testing.T) {
		dir, ro := t.TempDir(), t.TempDir()
		if err := bindReadOnly(t, dir, ro); err != nil {
			t.Skipf("no read-only bind mount here: %v", err)
		}
		unchanged(t, func() {
			fails(t, e.run("restore", "latest", "--target", ro), 1, "read-only file system")
			fails(t, e.run("restore", "latest", "--target", filepath.Join(ro, "sub")), 1, "read-only file system")
		})
	})

	t.Run("restore target immutable (chattr +i)", func(t *testing.T) {
		dir := t.TempDir()
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("chattr +i not possible here: %v %s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("chattr", "-i", dir).Run() })
		unchanged(t, func() { fails(t, e.run("restore", "latest", "--target", dir), 1, "target") })
	})

	t.Run("restore an unknown snapshot", func(t *testing.T) {
		unchanged(t, func() {
			fails(t, e.run("restore", "ffffffff", "--target", t.TempDir()), -1, "ffffffff")
			fails(t, e.run("restore", "latest"), 2, "--target")
		})
	})

	t.Run("backup of a missing path", func(t *testing.T) {
		missing := filepath.Join(base, "does", "not", "exist")
		unchanged(t, func() {
			fails(t, e.run("backup", missing), 1, missing, "does not exist")
			fails(t, e.run("backup", src, missing), 1, missing)
		})
		if s := e.snapshots(); len(s) != 1 || s[0].ID != b1.SnapshotID {
			t.Errorf("a failed backup changed the snapshots: %+v", s)
		}
	})

	t.Run("forget without a rule", func(t *testing.T) {
		unchanged(t, func() {
			fails(t, e.run("forget"), 2, "no rule")
			fails(t, e.run("forget", "--prune"), 2, "no rule")
			fails(t, e.run("forget", "--keep-within", "fortnight"), 2, "--keep-within")
		})
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		// "2 bad usage" is documented in rempart --help.
		unchanged(t, func() {
			for _, args := range [][]string{
				{"backup"},                        // no path
				{"backup", "--no-such-flag", src}, // unknown flag
				{"diff", "latest"},                // one snapshot only
				{"no-such-command"},
				{"snapshots", "extra-arg"},
			} {
				fails(t, e.run(args...), 2)
			}
		})
	})

	t.Run("locked by a running process", func(t *testing.T) {
		// A live process (this test) holds an exclusive lock.
		host, _ := os.Hostname()
		lock := filepath.Join(e.repo(), "locks", "e2e0000000000000000000000000000e")
		body := fmt.Sprintf(`{"time":%q,"exclusive":true,"host":%q,"pid":%d,"command":"prune"}`,
			time.Now().UTC().Format(time.RFC3339Nano), host, os.Getpid())
		must(t, os.WriteFile(lock, []byte(body), 0o400))
		defer os.Remove(lock)
		unchanged(t, func() {
			fails(t, e.run("backup", src), 11, "locked")
			fails(t, e.run("forget", "--keep-last", "5"), 11, "locked")
			// unlock keeps the lock of a live process.
			e.ok("unlock")
		})
		if _, err := os.Stat(lock); err != nil {
			t.Errorf("unlock removed the lock of a running process: %v", err)
		}
	})

	// After all this, the repository is whole and the snapshot restores.
	e.ok("check", "--read-data")
	e.restoreAndCompare(b1.SnapshotID, src, want)
}

// TestTruncatedPack cuts a pack short: check --read-data must fail (exit
// 1) and name the damaged pack and the files that cannot be restored, and
// restore must still bring back every other file.
func TestTruncatedPack(t *testing.T) {
	e := newEnv(t)
	src := filepath.Join(tempDir(t), "src")
	genUserTree(t, src, 3)
	// A large file of its own, so that one pack holds only its data.
	writeFile(t, filepath.Join(src, "big", "archive.bin"), newRand(9), 20<<20, true, 0o644)
	e.initRepo()
	e.backup(src)
	e.ok("check", "--read-data")

	packs := packFiles(t, e.repo())
	var biggest string
	for name, size := range packs {
		if biggest == "" || size > packs[biggest] {
			biggest = name
		}
	}
	p := filepath.Join(e.repo(), "data", biggest[:2], biggest)
	must(t, os.Chmod(p, 0o600))
	must(t, os.Truncate(p, packs[biggest]/2))

	r := e.expect(1, "check", "--read-data")
	mustContain(t, "check --read-data output", r.stdout+r.stderr, biggest[:8], "big/archive.bin", "damaged")
	var rep struct {
		OK     bool `json:"ok"`
		Report struct {
			Problems []struct {
				Kind, Name, Detail string
			} `json:"problems"`
			DamagedFiles []struct {
				Path string `json:"path"`
			} `json:"damaged_files"`
		} `json:"report"`
	}
	r = e.expect(1, "check", "--read-data", "--json")
	// The JSON report comes first, then the error object.
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("check --json: %v\n%s", err, r)
	}
	damaged := map[string]bool{}
	for _, f := range rep.Report.DamagedFiles {
		damaged[f.Path] = true
	}
	if rep.OK || len(rep.Report.Problems) == 0 || !damaged[src+"/big/archive.bin"] {
		t.Errorf("check --json on a truncated pack: ok=%v problems=%+v damaged files=%v", rep.OK, rep.Report.Problems, damaged)
	}
	// Plain check (no --read-data) sees the size mismatch too.
	e.expect(1, "check")

	// Restore: the damaged files are reported, the others come back.
	target := filepath.Join(t.TempDir(), "r")
	r = e.expect(1, "restore", "latest", "--target", target)
	mustContain(t, "restore stderr", r.stderr, "archive.bin")
	want := takeManifest(t, src)
	got := takeManifest(t, filepath.Join(target, src))
	n := 0
	for rel, w := range want {
		// JSON cannot carry the non-UTF-8 name: it comes with U+FFFD.
		if w.typ != 'f' || damaged[strings.ToValidUTF8(filepath.Join(src, rel), "\uFFFD")] {
			continue
		}
		n++
		if g := got[rel]; g != w {
			t.Errorf("undamaged file %s was not restored identical: got %s, want %s", rel, g, w)
		}
	}
	// Which files share the truncated pack depends on how the workers
	// interleaved; what matters is that a good number are checked.
	if n < 30 {
		t.Errorf("only %d files are undamaged: bad test", n)
	}
}

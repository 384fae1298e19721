package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestDiskFull backs up more than the repository's disk can hold. The
// repository lives on a small file system of its own: a tmpfs if this
// machine lets root mount one, else a loop-mounted ext4 image, else (no
// mount at all) the file size limit RLIMIT_FSIZE set with prlimit, under
// which writes fail with EFBIG (the Go runtime ignores SIGXFSZ).
//
// The failed backup must exit non-zero and say that the disk is full, add
// no snapshot, and leave the earlier snapshot restorable byte for byte;
// once space is freed, check passes and the next backup completes.
func TestDiskFull(t *testing.T) {
	e := newEnv(t)
	base := tempDir(t)
	mnt := filepath.Join(base, "small-disk")
	must(t, os.Mkdir(mnt, 0o755))
	const fsSize = 64 << 20
	// REMPART_E2E_DISKFULL=tmpfs|loop|rlimit forces one technique.
	force := os.Getenv("REMPART_E2E_DISKFULL")
	technique := ""
	var errs []error
	if force == "" || force == "tmpfs" {
		if err := mountTmpfs(t, mnt, fsSize); err == nil {
			technique = "tmpfs"
		} else {
			errs = append(errs, err)
		}
	}
	if technique == "" && (force == "" || force == "loop") {
		if err := mountLoop(t, mnt, fsSize); err == nil {
			technique = "loop-mounted ext4 image"
		} else {
			errs = append(errs, err)
		}
	}
	if technique == "" && (force == "" || force == "rlimit") {
		if _, err := exec.LookPath("prlimit"); err == nil {
			technique = "rlimit"
			t.Logf("cannot mount (%v): falling back to RLIMIT_FSIZE", errs)
		} else {
			errs = append(errs, err)
		}
	}
	if technique == "" {
		t.Skipf("no way to make writes fail here: %v", errs)
	}
	t.Logf("full disk technique: %s", technique)

	e = e.with("REMPART_REPO", filepath.Join(mnt, "repo"))
	src := filepath.Join(base, "src")
	genUserTree(t, src, 4)
	e.initRepo()
	b1 := e.backup(src)
	want1 := takeManifest(t, src)

	// More data than fits: 40 MB that do not compress.
	writeFile(t, filepath.Join(src, "big", "scan.bin"), newRand(5), 40<<20, true, 0o644)
	var ballast string
	var r *result
	if technique == "rlimit" {
		r = e.runCmd(mustLookPath(t, "prlimit"), "--fsize="+strconv.Itoa(8<<20), "--", bin, "backup", src)
	} else {
		// Leave 10 MB: less than one pack.
		ballast = filepath.Join(mnt, "ballast")
		fill(t, ballast, freeBytes(t, mnt)-10<<20)
		r = e.run("backup", src)
	}
	if r.code == 0 || r.code == 3 {
		t.Fatalf("backup onto a full disk did not fail\n%s", r)
	}
	if technique == "rlimit" {
		mustContain(t, "stderr of a backup over the file size limit", r.stderr, "file too large")
	} else {
		mustContain(t, "stderr of a backup onto a full disk", r.stderr, "no space left", "disk is full")
	}
	if s := e.snapshots(); len(s) != 1 || s[0].ID != b1.SnapshotID {
		t.Errorf("the failed backup changed the snapshots: %+v", s)
	}
	e.restoreAndCompare(b1.SnapshotID, src, want1)

	if ballast != "" {
		// A disk left completely full (by this or another program) must
		// not keep the earlier snapshots from being restored: restoring
		// writes nothing into the repository that it cannot do without.
		t.Run("restore with the disk completely full", func(t *testing.T) {
			more := filepath.Join(mnt, "ballast2")
			fill(t, more, -1)
			defer os.Remove(more)
			if e.run("snapshots").code != 0 {
				t.Errorf("snapshots fails on a full disk")
			}
			target := filepath.Join(t.TempDir(), "r")
			r := e.run("restore", b1.SnapshotID, "--target", target)
			if r.code != 0 {
				t.Errorf("restore fails when the repository's disk is full (the lock file cannot be written)\n%s", r)
				return
			}
			if d := compareManifests(want1, takeManifest(t, filepath.Join(target, src))); len(d) > 0 {
				t.Errorf("restore on a full disk differs: %v", firstN(d, 5))
			}
		})
		must(t, os.Remove(ballast))
	}

	// Space is back: check passes, the next backup completes and restores.
	r = e.ok("check")
	t.Logf("check after freeing space: %s", r.stdout)
	b2 := e.backup(src)
	if b2.Parent != b1.SnapshotID {
		t.Errorf("backup after the failure: parent %s, want %s", short(b2.Parent), short(b1.SnapshotID))
	}
	e.ok("check", "--read-data")
	e.restoreAndCompare("latest", src, takeManifest(t, src))
	e.restoreAndCompare(b1.SnapshotID, src, want1)
}

// fill writes n zero bytes to p (n < 0: until the disk is full).
func fill(t *testing.T, p string, n int64) {
	t.Helper()
	f, err := os.Create(p)
	must(t, err)
	defer f.Close()
	buf := make([]byte, 1<<20)
	for n < 0 || n > 0 {
		k := int64(len(buf))
		if n >= 0 && k > n {
			k = n
		}
		w, err := f.Write(buf[:k])
		if n > 0 {
			n -= int64(w)
		}
		if err != nil {
			if n < 0 && errors.Is(err, syscall.ENOSPC) {
				break
			}
			t.Fatalf("filling %s: %v", p, err)
		}
	}
	must(t, f.Sync())
}

func mustLookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

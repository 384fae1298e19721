// Package vaulttest holds helpers shared by the vault's tests: random data,
// tree manifests and comparison, throwaway repositories. Only tests import it.
package vaulttest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/zeebo/blake3"
	"golang.org/x/sys/unix"

	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/restorer"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

// Passphrase is the password of every test repository.
const Passphrase = "correct horse battery staple"

// Repo is a fresh repository in a temporary folder.
type Repo struct {
	Dir      string
	R        *repo.Repository
	Recovery string // the recovery key, which opens it fast
}

// NewRepo creates a repository in a temporary folder.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	dir := t.TempDir()
	be, err := local.Create(dir)
	if err != nil {
		t.Fatalf("local.Create: %v", err)
	}
	r, rk, err := repo.Init(context.Background(), be, Passphrase)
	if err != nil {
		t.Fatalf("repo.Init: %v", err)
	}
	return &Repo{Dir: dir, R: r, Recovery: rk}
}

// Reopen opens the repository again (with the fast recovery key) and loads
// its index, as a new process would.
func (tr *Repo) Reopen(t testing.TB) *repo.Repository {
	t.Helper()
	be, err := local.Open(tr.Dir)
	if err != nil {
		t.Fatalf("local.Open: %v", err)
	}
	r, err := repo.Open(context.Background(), be, tr.Recovery)
	if err != nil {
		t.Fatalf("repo.Open: %v", err)
	}
	if problems, err := r.LoadIndex(context.Background()); err != nil || len(problems) > 0 {
		t.Fatalf("LoadIndex: %v %v", problems, err)
	}
	return r
}

// Backup backs paths up and fails the test on any error.
func Backup(t testing.TB, r *repo.Repository, paths ...string) *archiver.Result {
	t.Helper()
	res, err := archiver.Backup(context.Background(), r, archiver.Options{Paths: paths, Host: "testhost", Program: "test"})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("Backup file errors: %+v", res.Errors)
	}
	return res
}

// Restore restores sn into a new temporary folder and returns it.
func Restore(t testing.TB, r *repo.Repository, sn *snapshot.Snapshot, include ...string) string {
	t.Helper()
	target := t.TempDir()
	res, err := restorer.Restore(context.Background(), r, sn, restorer.Options{Target: target, Include: include})
	if err != nil {
		t.Fatalf("Restore: %v (result %+v)", err, res)
	}
	return target
}

// Entry is what the tests compare of one file system entry.
type Entry struct {
	Type    string
	Mode    fs.FileMode // permission, set-uid/gid and sticky bits
	MtimeNs int64
	Size    int64
	Sum     [32]byte
	Target  string
	UID     uint32
	GID     uint32
	Ino     uint64
	Nlink   uint64
	Blocks  int64
}

// Manifest maps paths relative to a root ("." is the root) to entries.
type Manifest map[string]Entry

func typeOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "file"
	case m.IsDir():
		return "dir"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "fifo"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "dev"
	}
	return "other"
}

// HashFile hashes a file's size and its non-zero 4 KiB blocks with their
// offsets: two files hash alike exactly when their bytes are equal, and the
// holes of a sparse file cost nothing to read (SEEK_DATA/SEEK_HOLE).
func HashFile(t testing.TB, p string) [32]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatalf("open %q: %v", p, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	size := fi.Size()
	h := blake3.New()
	_ = binary.Write(h, binary.LittleEndian, size)
	const blk = 4096
	buf := make([]byte, 1<<20)
	next := int64(0) // first block not hashed yet
	for next < size {
		data, err := unix.Seek(int(f.Fd()), next, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break
		} else if err != nil {
			t.Fatalf("seek %q: %v", p, err)
		}
		hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			t.Fatalf("seek %q: %v", p, err)
		}
		for pos := max(data&^(blk-1), next); pos < hole; {
			n, err := f.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
			if err != nil && !errors.Is(err, io.EOF) {
				t.Fatalf("read %q: %v", p, err)
			}
			for i := 0; i < n; i += blk {
				b := buf[i:min(i+blk, n)]
				if !allZero(b) {
					_ = binary.Write(h, binary.LittleEndian, pos+int64(i))
					_, _ = h.Write(b)
				}
			}
			pos += int64(n)
			next = pos
			if n == 0 {
				break
			}
		}
	}
	var s [32]byte
	h.Sum(s[:0])
	return s
}

var zeroBlock [4096]byte

// allZero reports whether b (at most 4 KiB) holds only zeros; bytes.Equal
// keeps it fast under the race detector.
func allZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }

// Scan records every entry below root (root itself is ".").
func Scan(t testing.TB, root string) Manifest {
	t.Helper()
	m := Manifest{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := Entry{Type: typeOf(fi.Mode()), Mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			MtimeNs: fi.ModTime().UnixNano(), UID: st.Uid, GID: st.Gid, Ino: st.Ino, Nlink: uint64(st.Nlink), Blocks: st.Blocks}
		switch e.Type {
		case "file":
			e.Size = fi.Size()
			e.Sum = HashFile(t, p)
		case "symlink":
			e.Target, err = os.Readlink(p)
			if err != nil {
				return err
			}
			e.Mode = 0 // symlink permissions mean nothing on Linux
		}
		m[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("scanning %s: %v", root, err)
	}
	return m
}

// LinkGroups returns the sets of names that share an inode (hard links).
func LinkGroups(m Manifest) []string {
	byIno := map[uint64][]string{}
	for p, e := range m {
		if e.Type == "file" {
			byIno[e.Ino] = append(byIno[e.Ino], p)
		}
	}
	var out []string
	for _, names := range byIno {
		if len(names) > 1 {
			sort.Strings(names)
			out = append(out, fmt.Sprintf("%q", names))
		}
	}
	sort.Strings(out)
	return out
}

// compareEntry reports differences between two entries, owners only when
// owner is set.
func compareEntry(w, g Entry, owner bool) []string {
	var diffs []string
	if w.Type != g.Type {
		return []string{fmt.Sprintf("type %s, want %s", g.Type, w.Type)}
	}
	if w.Mode != g.Mode {
		diffs = append(diffs, fmt.Sprintf("mode %v, want %v", g.Mode, w.Mode))
	}
	if w.MtimeNs != g.MtimeNs {
		diffs = append(diffs, fmt.Sprintf("mtime %d, want %d", g.MtimeNs, w.MtimeNs))
	}
	if w.Size != g.Size {
		diffs = append(diffs, fmt.Sprintf("size %d, want %d", g.Size, w.Size))
	}
	if w.Sum != g.Sum {
		diffs = append(diffs, "content differs")
	}
	if w.Target != g.Target {
		diffs = append(diffs, fmt.Sprintf("link target %q, want %q", g.Target, w.Target))
	}
	if owner && (w.UID != g.UID || w.GID != g.GID) {
		diffs = append(diffs, fmt.Sprintf("owner %d:%d, want %d:%d", g.UID, g.GID, w.UID, w.GID))
	}
	return diffs
}

// CompareTrees checks that got holds exactly the entries of want, with the
// same content and metadata (owners only when running as root), and the
// same hard-link grouping.
func CompareTrees(t testing.TB, want, got Manifest) {
	t.Helper()
	owner := os.Geteuid() == 0
	var problems []string
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			problems = append(problems, fmt.Sprintf("%q: missing", p))
			continue
		}
		for _, d := range compareEntry(w, g, owner) {
			problems = append(problems, fmt.Sprintf("%q: %s", p, d))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			problems = append(problems, fmt.Sprintf("%q: unexpected", p))
		}
	}
	if w, g := LinkGroups(want), LinkGroups(got); strings.Join(w, "\n") != strings.Join(g, "\n") {
		problems = append(problems, fmt.Sprintf("hard links: got %v, want %v", g, w))
	}
	sort.Strings(problems)
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
	}
	if len(problems) > 0 {
		t.Errorf("restored tree differs:\n%s", strings.Join(problems, "\n"))
	}
}

// MustWrite writes a file and fails the test on error.
func MustWrite(t testing.TB, p string, data []byte, perm fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatal(err)
	}
}

// RandBytes returns n bytes drawn from rng, eight per Uint64.
func RandBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// Difference returns the items of a that are not in b, in a's order.
func Difference(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// PackPath is where a folder repository keeps pack id.
func PackPath(dir, id string) string {
	return filepath.Join(dir, "data", id[:2], id)
}

// CollectGarbage does to the folder repository dir what a server's
// retention and garbage collection do, with no key: it deletes the given
// snapshot files, then every pack file that no remaining snapshot's plain
// pack list names (read with snapshot.ReadPacks from the raw files, as the
// server reads them; the grace period is taken as over). Index files are
// left alone: the server cannot rewrite them. It returns the packs deleted
// (hex IDs, sorted).
func CollectGarbage(t testing.TB, dir string, forget ...string) []string {
	t.Helper()
	deleted, err := CollectGarbageErr(dir, forget...)
	if err != nil {
		t.Fatal(err)
	}
	return deleted
}

// CollectGarbageErr is CollectGarbage returning its error, for use where
// t.Fatal cannot be called (a fake server's handler).
func CollectGarbageErr(dir string, forget ...string) ([]string, error) {
	for _, s := range forget {
		if err := os.Remove(filepath.Join(dir, "snapshots", s)); err != nil {
			return nil, fmt.Errorf("collecting snapshot %s: %w", s, err)
		}
	}
	named := map[string]bool{}
	entries, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		buf, err := os.ReadFile(filepath.Join(dir, "snapshots", e.Name()))
		if err != nil {
			return nil, err
		}
		packs, _, err := snapshot.ReadPacks(buf)
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: plain pack list unreadable: %w", e.Name(), err)
		}
		for _, p := range packs {
			named[p.String()] = true
		}
	}
	var deleted []string
	err = filepath.WalkDir(filepath.Join(dir, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") || named[d.Name()] {
			return err
		}
		deleted = append(deleted, d.Name())
		return os.Remove(p)
	})
	if err != nil {
		return nil, fmt.Errorf("collecting packs: %w", err)
	}
	sort.Strings(deleted)
	return deleted, nil
}

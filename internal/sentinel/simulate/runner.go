package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/rempart/rempart/internal/sentinel"
)

// Runner backs up a folder again and again, as a town's daily backup
// does, and returns the Sentinel report of each new snapshot, with paths
// relative to the folder.
type Runner interface {
	Backup(ctx context.Context, dir string) (*sentinel.Report, error)
	Close() error
}

// RunnerFactory makes a fresh Runner (a new, empty history) that may keep
// what it needs under work.
type RunnerFactory struct {
	Name string
	New  func(work string) (Runner, error)
}

// LibRunner is the library-level runner: it walks the folder itself,
// reads new and changed files through a sentinel.Observer (skipping files
// whose size, times and inode did not change, as the archiver does),
// keys contents by SHA-256, builds the Input against its previous walk
// and calls sentinel.Assess. It is what the engine does, without the
// engine.
//
// Its runners share what they read: the scenarios' copies are hard links
// to one base copy, so a file with the same inode, size and times (ctime
// moves on any write) holds the same bytes, and the first backup of each
// copy need not read the corpus again.
var LibRunner = RunnerFactory{Name: "library", New: func(string) (Runner, error) { return &libRunner{cache: &libCache}, nil }}

type statKey struct {
	ino                uint64
	size, mtime, ctime int64
}

type cached struct {
	f   sentinel.Features
	key string
}

var libCache sync.Map // statKey -> cached

type libEntry struct {
	size, mtime, ctime int64
	ino                uint64
	f                  sentinel.Features
	key                string
}

type libRunner struct {
	cache  *sync.Map
	prev   map[string]*libEntry
	report *sentinel.Report
	id     string
	n      int
	obs    sentinel.Observer
	buf    []byte
}

func (l *libRunner) Close() error { return nil }

func (l *libRunner) Backup(ctx context.Context, dir string) (*sentinel.Report, error) {
	files, err := listFiles(dir)
	if err != nil {
		return nil, err
	}
	if l.buf == nil {
		l.buf = make([]byte, 1<<20)
	}
	cur := make(map[string]*libEntry, len(files))
	var in sentinel.Input
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fi, err := os.Lstat(abs(dir, p))
		if err != nil {
			return nil, err
		}
		e := &libEntry{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			e.ctime = st.Ctim.Nano()
			e.ino = st.Ino
		}
		old := l.prev[p]
		if old != nil && old.size == e.size && old.mtime == e.mtime && old.ctime == e.ctime && old.ino == e.ino {
			e.f, e.key = old.f, old.key
			cur[p] = e
			in.Unchanged++
			continue
		}
		sk := statKey{e.ino, e.size, e.mtime, e.ctime}
		if c, ok := l.cache.Load(sk); ok && e.ino != 0 {
			e.f, e.key = c.(cached).f, c.(cached).key
		} else {
			if err := l.read(abs(dir, p), e); err != nil {
				return nil, err
			}
			l.cache.Store(sk, cached{e.f, e.key})
		}
		cur[p] = e
		if old != nil && old.key == e.key {
			// Read again (its times changed: another copy's hard link
			// to the same inode was made or removed) but the same bytes:
			// unchanged, as the archiver counts it.
			in.Unchanged++
			continue
		}
		c := sentinel.Change{Path: p, Size: e.size, Cur: e.f, ContentKey: e.key}
		if old != nil {
			pf := old.f
			c.Prev = &pf
		}
		in.Changes = append(in.Changes, c)
	}
	for p, old := range l.prev {
		if cur[p] == nil {
			pf := old.f
			in.Deleted = append(in.Deleted, sentinel.Deletion{Path: p, Size: old.size, Prev: &pf, ContentKey: old.key})
		}
	}
	in.Parent, in.ParentID = l.report, l.id
	rep := sentinel.Assess(in)
	l.n++
	l.prev, l.report, l.id = cur, &rep, fmt.Sprintf("lib%04d", l.n)
	return &rep, nil
}

func (l *libRunner) read(p string, e *libEntry) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	l.obs.Reset(p, e.size)
	h := sha256.New()
	for {
		n, err := f.Read(l.buf)
		if n > 0 {
			_, _ = l.obs.Write(l.buf[:n]) // never fails
			h.Write(l.buf[:n])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	e.f = l.obs.Features()
	e.key = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return nil
}

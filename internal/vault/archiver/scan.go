package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	chunkers "github.com/PlakarKorp/go-cdc-chunkers"

	"github.com/rempart/rempart/internal/sentinel"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
)

// ScanOptions say what `rempart sentinel scan` compares.
type ScanOptions struct {
	// Path is the live folder (or file) to look at.
	Path string
	// Snapshot is the backup it is compared with; it must hold Path.
	Snapshot *snapshot.Snapshot
	// Full reads every file; otherwise a file with the snapshot's size and
	// modification time is taken as unchanged without being read, as a
	// backup would.
	Full bool
	// SkipPaths are never looked at (the repository itself).
	SkipPaths []string
	// Progress, when set, is updated as the scan goes.
	Progress *Progress
}

// ScanResult is what a scan found.
type ScanResult struct {
	Report         sentinel.Report
	FilesRead      uint64
	FilesUnchanged uint64 // not read: same size and time as in the snapshot
	BytesRead      uint64
	Errors         []FileError
}

type scanJob struct {
	path string
	name string
	size int64
	prev *tree.Node
}

// Scan checks a live folder against a snapshot without backing anything
// up: during an incident it tells within minutes whether files are being
// encrypted, without adding a poisoned snapshot. Files are read and cut
// into chunks exactly as a backup would (with the repository's chunker
// key), so that their content keys can be compared with the snapshot's to
// recognise renamed files, but nothing is stored. The snapshot's own
// report is the parent report.
func Scan(ctx context.Context, r *repo.Repository, opts ScanOptions) (*ScanResult, error) {
	if opts.Snapshot == nil {
		return nil, errors.New("scan: no snapshot to compare with")
	}
	abs, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: check the path", opts.Path)
		}
		return nil, fmt.Errorf("cannot read %s: %w", opts.Path, err)
	}
	a := &archiver{r: r, progress: opts.Progress, names: names{users: map[uint32]string{}, groups: map[uint32]string{}},
		skip: map[string]bool{}, excludes: opts.Snapshot.Excludes, sent: newCollector(opts.Snapshot)}
	if a.progress == nil {
		a.progress = &Progress{}
	}
	for _, s := range opts.SkipPaths {
		if p, err := filepath.Abs(s); err == nil {
			a.skip[p] = true
		}
	}
	prev, err := findNode(ctx, r, opts.Snapshot, abs)
	if err != nil {
		return nil, err
	}
	res := &ScanResult{}
	var jobs []scanJob
	var walk func(p, name string, fi fs.FileInfo, prev *tree.Node) error
	walk = func(p, name string, fi fs.FileInfo, prev *tree.Node) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case fi.Mode().IsRegular():
			if prev != nil && prev.Type != tree.File {
				prev = nil
			}
			a.progress.FilesTotal.Add(1)
			a.progress.BytesTotal.Add(uint64(fi.Size()))
			if !opts.Full && prev != nil && uint64(fi.Size()) == prev.Size && fi.ModTime().Equal(prev.ModTime) {
				a.sent.unchanged()
				res.FilesUnchanged++
				a.progress.FilesDone.Add(1)
				a.progress.BytesDone.Add(uint64(fi.Size()))
				return nil
			}
			jobs = append(jobs, scanJob{path: p, name: name, size: fi.Size(), prev: prev})
		case fi.IsDir():
			entries, err := os.ReadDir(p)
			if err != nil {
				res.Errors = append(res.Errors, FileError{Path: p, Err: err.Error()})
				return nil
			}
			var prevTree *tree.Tree
			if prev != nil && prev.Type == tree.Dir {
				prevTree = a.loadPrevTree(ctx, prev)
			}
			for _, e := range entries {
				child := filepath.Join(p, e.Name())
				if a.excluded(child, e.Name()) {
					continue
				}
				cfi, err := e.Info()
				if err != nil {
					continue
				}
				var pn *tree.Node
				if prevTree != nil {
					pn = prevTree.Find(e.Name())
				}
				if err := walk(child, e.Name(), cfi, pn); err != nil {
					return err
				}
			}
			a.sent.compare(ctx, r, p, entries, prevTree)
		}
		return nil
	}
	if err := walk(abs, filepath.Base(abs), fi, prev); err != nil {
		return nil, err
	}
	a.progress.ScanDone.Store(true)

	n := runtime.GOMAXPROCS(0)
	pool, err := a.newChunkers(r.Config().Chunker, n)
	if err != nil {
		return nil, err
	}
	ch := make(chan scanJob)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := <-pool
			for job := range ch {
				a.progress.current.Store(job.path)
				read, err := a.scanFile(job, c)
				a.progress.FilesDone.Add(1)
				mu.Lock()
				switch {
				case errors.Is(err, fs.ErrNotExist):
					if job.prev != nil {
						a.sent.gone(job.path, job.prev)
					}
				case err != nil:
					res.Errors = append(res.Errors, FileError{Path: job.path, Err: err.Error()})
				default:
					res.FilesRead++
					res.BytesRead += read
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Report = a.sent.assess()
	return res, nil
}

// scanFile reads one file through the observer and the chunker, and
// records it; it returns the bytes read.
func (a *archiver) scanFile(job scanJob, c *chunkers.Chunker) (uint64, error) {
	f, err := openNoAtime(job.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cr := &countingReader{r: f, p: a.progress, obs: sentinel.NewObserver(job.name, job.size)}
	c.Reset(cr)
	key := a.r.Key()
	var content []crypto.ID
	for {
		chunk, err := c.Next()
		if err != nil && !errors.Is(err, io.EOF) {
			return cr.n, err
		}
		if len(chunk) > 0 {
			content = append(content, key.BlobID(chunk))
		}
		if err != nil {
			break
		}
	}
	a.sent.read(job.path, cr.n, content, job.prev, cr.obs.Features())
	return cr.n, nil
}

// findNode returns the node at absolute path p in snapshot sn, or nil.
func findNode(ctx context.Context, r *repo.Repository, sn *snapshot.Snapshot, p string) (*tree.Node, error) {
	id := sn.Tree
	if p == "/" {
		return &tree.Node{Type: tree.Dir, Subtree: &id}, nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, part := range parts {
		t, err := r.LoadTree(ctx, id)
		if err != nil {
			return nil, err
		}
		n := t.Find(part)
		if n == nil || i == len(parts)-1 {
			return n, nil
		}
		if n.Type != tree.Dir || n.Subtree == nil {
			return nil, nil
		}
		id = *n.Subtree
	}
	return nil, nil
}

// FindCovering returns the latest snapshot of host that holds path (one
// of its backed-up paths is path or a folder above it), or nil.
func FindCovering(ctx context.Context, r *repo.Repository, host, path string) (*snapshot.Snapshot, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	all, _, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		s := all[i]
		if s.Host != host {
			continue
		}
		for _, p := range s.Paths {
			if p == abs || p == "/" || strings.HasPrefix(abs, p+"/") {
				return s, nil
			}
		}
	}
	return nil, nil
}

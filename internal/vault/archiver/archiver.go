// Package archiver makes a snapshot of files and folders. It walks the
// paths depth-first, skips files that did not change since the parent
// snapshot (same size, mtime, ctime and inode), and keeps both cores busy:
// file workers read, chunk and hash; blob savers compress, encrypt and pack.
// Memory grows with the depth and width of the folders being worked on and
// with the index, never with the number of files backed up — except for
// Sentinel's input (sentinel.go), a few hundred bytes per new, changed or
// deleted file, which the ransomware assessment needs all at once.
//
// Sentinel rides on the same reads: every byte of a file read for backup
// also goes through a sentinel.Observer, whose features are stored in the
// file's node, and the snapshot is judged against its parent before it is
// saved (report sealed in the body, verdict flag in the plain header).
package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	chunkers "github.com/PlakarKorp/go-cdc-chunkers"
	_ "github.com/PlakarKorp/go-cdc-chunkers/chunkers/fastcdc" // registers FastCDC

	"github.com/rempart/rempart/internal/bufpool"
	"github.com/rempart/rempart/internal/sentinel"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
)

// Options say what to back up.
type Options struct {
	Paths    []string
	Excludes []string
	Host     string
	Tags     []string
	// Parent, when set, is the snapshot to compare with; otherwise the
	// latest snapshot with the same host and paths is used.
	Parent *snapshot.Snapshot
	// FormerHosts are names this machine's earlier snapshots may carry
	// (its system host name, before it backed up under the name it
	// enrolled with): without a parent under Host, the latest of theirs
	// with the same paths is the parent (nothing is read again, Sentinel
	// compares with it).
	FormerHosts []string
	// SkipPaths are never backed up (the repository itself, for instance).
	SkipPaths []string
	// Progress, when set, is updated as the backup goes.
	Progress *Progress
	// Program is recorded in the snapshot.
	Program string
	// NoSentinel turns ransomware detection off: no features in the
	// nodes, no report, no verdict flag. It exists to measure what
	// detection costs; a real backup always keeps it on.
	NoSentinel bool
}

// Progress is read by a display while the backup runs.
type Progress struct {
	FilesDone  atomic.Uint64
	BytesDone  atomic.Uint64
	FilesTotal atomic.Uint64
	BytesTotal atomic.Uint64
	ScanDone   atomic.Bool
	Errors     atomic.Uint64
	current    atomic.Value // string
}

// Current returns the file being read.
func (p *Progress) Current() string {
	if s, ok := p.current.Load().(string); ok {
		return s
	}
	return ""
}

// FileError is a file or folder that could not be read in full. The backup
// goes on without it and says so.
type FileError struct {
	Path string `json:"path"`
	Err  string `json:"error"`
}

// Result is what a backup did.
type Result struct {
	Snapshot *snapshot.Snapshot
	Parent   *snapshot.Snapshot
	Errors   []FileError
	// Sentinel is the ransomware assessment stored with the snapshot (nil
	// with Options.NoSentinel).
	Sentinel *sentinel.Report
}

type archiver struct {
	r        *repo.Repository
	opts     Options
	parent   *snapshot.Snapshot
	names    names
	progress *Progress

	jobs    chan fileJob
	blobs   chan blobJob
	workers sync.WaitGroup
	savers  sync.WaitGroup

	mu       sync.Mutex
	summary  snapshot.Summary
	errs     []FileError
	used     [2]map[crypto.ID]struct{}
	fatal    error
	skip     map[string]bool
	walkers  chan struct{} // tokens for extra folder walkers
	walking  sync.WaitGroup
	excludes []string
	sent     *collector // nil: Sentinel off
}

type future struct {
	done chan struct{}
	node *tree.Node
}

func ready(n *tree.Node) *future {
	f := &future{done: make(chan struct{}), node: n}
	close(f.done)
	return f
}

type fileJob struct {
	path string
	node *tree.Node
	fut  *future
	prev *tree.Node // the parent snapshot's node, for the new/changed count
}

type blobJob struct {
	id   crypto.ID
	data []byte
}

// Backup makes a snapshot and writes it to the repository. The repository
// index must be loaded. Files that cannot be read are skipped and listed in
// the result; any storage error aborts the backup and leaves every earlier
// snapshot untouched.
func Backup(ctx context.Context, r *repo.Repository, opts Options) (*Result, error) {
	start := time.Now()
	paths, err := cleanPaths(opts.Paths)
	if err != nil {
		return nil, err
	}
	opts.Paths = paths
	if opts.Host == "" {
		opts.Host, _ = os.Hostname()
	}
	a := &archiver{r: r, opts: opts, progress: opts.Progress, names: names{users: map[uint32]string{}, groups: map[uint32]string{}},
		skip: map[string]bool{}, excludes: opts.Excludes, walkers: make(chan struct{}, 4)}
	if a.progress == nil {
		a.progress = &Progress{}
	}
	for _, s := range opts.SkipPaths {
		if abs, err := filepath.Abs(s); err == nil {
			a.skip[abs] = true
		}
	}
	for _, ex := range a.excludes {
		if _, err := filepath.Match(ex, "x"); err != nil {
			return nil, fmt.Errorf("bad --exclude pattern %q: %w", ex, err)
		}
	}
	// A server's garbage collection deletes packs that the index files
	// still list: blobs whose every copy is gone must count as unknown, or
	// the new snapshot would need them. One listing, never a question per
	// blob (nothing if RecoverPacks already listed).
	if _, err := r.MarkAbsentPacks(ctx); err != nil {
		return nil, err
	}
	a.used = [2]map[crypto.ID]struct{}{{}, {}}
	a.parent = opts.Parent
	for _, h := range append([]string{opts.Host}, opts.FormerHosts...) {
		if a.parent != nil || h == "" {
			continue
		}
		if a.parent, err = FindParent(ctx, r, h, paths); err != nil {
			return nil, err
		}
	}
	if !opts.NoSentinel {
		a.sent = newCollector(a.parent)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go a.scan(ctx, paths)

	cfg := r.Config().Chunker
	n := runtime.GOMAXPROCS(0)
	a.jobs = make(chan fileJob, 64)
	a.blobs = make(chan blobJob, n)
	r.StartWriting()
	for i := 0; i < n; i++ {
		a.savers.Add(1)
		go a.saver(ctx)
	}
	// One chunker (800 MB/s) feeds every core's compression; each costs an
	// 8 MiB buffer (a second one measured no faster on a cold 2 GB corpus).
	pool, err := a.newChunkers(cfg, 1)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 4*n; i++ {
		a.workers.Add(1)
		go a.worker(ctx, cfg, pool)
	}

	slog.Debug("backup: parent chosen", "elapsed", time.Since(start))
	rootFut := a.saveRoot(ctx, paths)
	a.walking.Wait()
	slog.Debug("backup: walk done", "elapsed", time.Since(start))
	close(a.jobs)
	a.workers.Wait()
	slog.Debug("backup: files read", "elapsed", time.Since(start))
	close(a.blobs)
	a.savers.Wait()
	<-rootFut.done
	slog.Debug("backup: blobs saved", "elapsed", time.Since(start))

	if err := a.err(ctx); err != nil {
		r.Abort()
		return nil, err
	}
	if rootFut.node == nil || rootFut.node.Subtree == nil {
		r.Abort()
		return nil, errors.New("nothing was backed up")
	}
	if err := r.Flush(ctx); err != nil {
		r.Abort()
		return nil, err
	}
	slog.Debug("backup: flushed", "elapsed", time.Since(start))
	packs, err := a.packList()
	if err != nil {
		return nil, err
	}
	st := r.WriteStats()
	a.summary.BlobsAdded = st.Blobs
	a.summary.BytesAdded = st.Bytes
	a.summary.BytesAddedPacked = st.PackedBytes
	a.summary.DurationSeconds = time.Since(start).Seconds()
	a.summary.Errors = uint64(len(a.errs))
	sn := &snapshot.Snapshot{Time: start.UTC(), Host: opts.Host, Paths: paths, Tags: opts.Tags, Excludes: opts.Excludes,
		Tree: *rootFut.node.Subtree, Program: opts.Program, Summary: &a.summary}
	if u, err := user.Current(); err == nil {
		sn.Username = u.Username
	}
	if a.parent != nil {
		pid := a.parent.ID
		sn.Parent = &pid
	}
	var verdict *sentinel.Report
	if a.sent != nil {
		// Judged once every tree is written: the report and its flag
		// are sealed with the snapshot, in the same file.
		rep := a.sent.assess()
		verdict = &rep
		sn.Sentinel = reportJSON(rep)
		sn.Flag = FlagOf(rep.Verdict)
		slog.Debug("backup: assessed", "verdict", rep.Verdict, "elapsed", time.Since(start))
	}
	if _, err := r.SaveSnapshot(ctx, sn, packs); err != nil {
		return nil, err
	}
	return &Result{Snapshot: sn, Parent: a.parent, Errors: a.errs, Sentinel: verdict}, nil
}

func (a *archiver) err(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fatal != nil {
		return a.fatal
	}
	return ctx.Err()
}

func (a *archiver) setFatal(err error) {
	a.mu.Lock()
	if a.fatal == nil {
		a.fatal = err
	}
	a.mu.Unlock()
}

func (a *archiver) fileError(path string, err error) {
	a.progress.Errors.Add(1)
	a.mu.Lock()
	a.errs = append(a.errs, FileError{Path: path, Err: err.Error()})
	a.mu.Unlock()
}

func (a *archiver) use(t pack.BlobType, ids ...crypto.ID) {
	a.mu.Lock()
	for _, id := range ids {
		a.used[t][id] = struct{}{}
	}
	a.mu.Unlock()
}

// packList maps every blob the snapshot references to its pack.
func (a *archiver) packList() ([]crypto.ID, error) {
	set := map[crypto.ID]struct{}{}
	for t, m := range a.used {
		for id := range m {
			loc, ok := a.r.Index().Lookup(pack.BlobType(t), id)
			if !ok {
				return nil, fmt.Errorf("internal error: %s blob %s is referenced but not stored", pack.BlobType(t), id.Short())
			}
			set[loc.Pack] = struct{}{}
		}
	}
	out := make([]crypto.ID, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	return out, nil
}

func cleanPaths(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, errors.New("nothing to back up: give at least one path")
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range in {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Lstat(abs); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s does not exist: check the path", p)
			}
			return nil, fmt.Errorf("cannot read %s: %w", p, err)
		}
		if !seen[abs] {
			seen[abs] = true
			out = append(out, abs)
		}
	}
	sort.Strings(out)
	// A path inside another one is already covered.
	var kept []string
	for _, p := range out {
		covered := false
		for _, k := range kept {
			if k == "/" || strings.HasPrefix(p, k+"/") {
				covered = true
				break
			}
		}
		if !covered {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

// FindParent returns the latest snapshot of the same host and paths.
func FindParent(ctx context.Context, r *repo.Repository, host string, paths []string) (*snapshot.Snapshot, error) {
	all, _, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	want := strings.Join(paths, "\x00")
	for i := len(all) - 1; i >= 0; i-- {
		s := all[i]
		if s.Host == host && strings.Join(s.Paths, "\x00") == want {
			return s, nil
		}
	}
	return nil, nil
}

func (a *archiver) excluded(path, name string) bool {
	if a.skip[path] {
		return true
	}
	for _, ex := range a.excludes {
		target := name
		if strings.Contains(ex, "/") {
			target = path
		}
		if ok, _ := filepath.Match(ex, target); ok {
			return true
		}
		if strings.Contains(ex, "/") && strings.HasPrefix(path, strings.TrimSuffix(ex, "/")+"/") {
			return true
		}
	}
	return false
}

// saveRoot builds the virtual tree from "/" down to each path: the folders
// above a backed-up path hold only what leads to it.
func (a *archiver) saveRoot(ctx context.Context, paths []string) *future {
	type vdir struct {
		children map[string]*vdir
		target   bool
	}
	root := &vdir{children: map[string]*vdir{}}
	for _, p := range paths {
		cur := root
		if p == "/" {
			root.target = true
			continue
		}
		for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			next := cur.children[part]
			if next == nil {
				next = &vdir{children: map[string]*vdir{}}
				cur.children[part] = next
			}
			cur = next
		}
		cur.target = true
	}
	var build func(path string, v *vdir, prev *tree.Node) *future
	build = func(path string, v *vdir, prev *tree.Node) *future {
		fi, err := os.Lstat(path)
		if err != nil {
			a.setFatal(fmt.Errorf("cannot read %s: %w", path, err))
			return ready(nil)
		}
		name := filepath.Base(path)
		if v.target {
			return a.saveEntry(ctx, path, name, fi, prev)
		}
		node := a.nodeFromInfo(name, fi)
		prevTree := a.loadPrevTree(ctx, prev)
		names := make([]string, 0, len(v.children))
		for n := range v.children {
			names = append(names, n)
		}
		sort.Strings(names)
		var kids []*future
		for _, n := range names {
			var pn *tree.Node
			if prevTree != nil {
				pn = prevTree.Find(n)
			}
			kids = append(kids, build(filepath.Join(path, n), v.children[n], pn))
		}
		return a.finishDir(ctx, path, node, prev, kids)
	}
	var prevRoot *tree.Node
	if a.parent != nil {
		t := a.parent.Tree
		prevRoot = &tree.Node{Type: tree.Dir, Subtree: &t}
	}
	return build("/", root, prevRoot)
}

func (a *archiver) loadPrevTree(ctx context.Context, prev *tree.Node) *tree.Tree {
	if prev == nil || prev.Type != tree.Dir || prev.Subtree == nil {
		return nil
	}
	t, err := a.r.LoadTree(ctx, *prev.Subtree)
	if err != nil {
		return nil // the parent is damaged: read everything again
	}
	return t
}

// saveEntry dispatches one directory entry.
func (a *archiver) saveEntry(ctx context.Context, path, name string, fi fs.FileInfo, prev *tree.Node) *future {
	node := a.nodeFromInfo(name, fi)
	if prev != nil && prev.Type != node.Type {
		prev = nil
	}
	switch node.Type {
	case tree.Dir:
		select {
		case a.walkers <- struct{}{}:
			// Walk this folder on another goroutine: reading folders on
			// a cold disk is mostly waiting, and several waits overlap.
			f := &future{done: make(chan struct{})}
			a.walking.Add(1)
			go func() {
				inner := a.saveDir(ctx, path, node, prev)
				<-a.walkers
				a.walking.Done()
				<-inner.done
				f.node = inner.node
				close(f.done)
			}()
			return f
		default:
			return a.saveDir(ctx, path, node, prev)
		}
	case tree.Symlink:
		target, err := os.Readlink(path)
		if err != nil {
			a.fileError(path, err)
			node.Error = err.Error()
		}
		node.LinkTarget = target
		a.countFile(node, prev)
		return ready(node)
	case tree.File:
		if prev != nil && unchanged(node, prev) && a.allStored(prev.Content) {
			node.Content = prev.Content
			if a.sent != nil {
				node.Sentinel = prev.Sentinel
				a.sent.unchanged()
			}
			a.use(pack.DataBlob, node.Content...)
			a.mu.Lock()
			a.summary.FilesUnchanged++
			a.summary.FilesTotal++
			a.summary.BytesTotal += node.Size
			a.mu.Unlock()
			a.progress.FilesDone.Add(1)
			a.progress.BytesDone.Add(node.Size)
			return ready(node)
		}
		f := &future{done: make(chan struct{}), node: node}
		select {
		case a.jobs <- fileJob{path: path, node: node, fut: f, prev: prev}:
		case <-ctx.Done():
			close(f.done)
		}
		return f
	default:
		a.countFile(node, prev)
		return ready(node)
	}
}

func (a *archiver) countFile(node, prev *tree.Node) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.summary.FilesTotal++
	a.summary.BytesTotal += node.Size
	switch {
	case prev == nil:
		a.summary.FilesNew++
	case node.Type == tree.File && contentEqual(node.Content, prev.Content):
		a.summary.FilesUnchanged++
	case node.Type != tree.File && node.LinkTarget == prev.LinkTarget && node.ModTime.Equal(prev.ModTime):
		a.summary.FilesUnchanged++
	default:
		a.summary.FilesChanged++
	}
}

func contentEqual(a, b []crypto.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func unchanged(n, prev *tree.Node) bool {
	return n.Size == prev.Size && n.ModTime.Equal(prev.ModTime) && n.ChangeTime.Equal(prev.ChangeTime) && n.Inode == prev.Inode
}

func (a *archiver) allStored(ids []crypto.ID) bool {
	for _, id := range ids {
		if !a.r.HasBlob(pack.DataBlob, id) {
			return false
		}
	}
	return true
}

func (a *archiver) saveDir(ctx context.Context, path string, node, prev *tree.Node) *future {
	if a.err(ctx) != nil {
		return ready(nil)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		// Keep the folder itself, empty, and say why.
		a.fileError(path, err)
		node.Error = err.Error()
	}
	prevTree := a.loadPrevTree(ctx, prev)
	kids := make([]*future, 0, len(entries))
	for _, e := range entries {
		child := filepath.Join(path, e.Name())
		if a.excluded(child, e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // vanished meanwhile: not an error
				a.fileError(child, err)
			}
			continue
		}
		var pn *tree.Node
		if prevTree != nil {
			pn = prevTree.Find(e.Name())
		}
		kids = append(kids, a.saveEntry(ctx, child, e.Name(), fi, pn))
	}
	a.sent.compare(ctx, a.r, path, entries, prevTree)
	return a.finishDir(ctx, path, node, prev, kids)
}

// finishDir completes a folder's node once all its children are done.
func (a *archiver) finishDir(ctx context.Context, path string, node, prev *tree.Node, kids []*future) *future {
	f := &future{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		t := &tree.Tree{Nodes: make([]*tree.Node, 0, len(kids))}
		for _, k := range kids {
			select {
			case <-k.done:
			case <-ctx.Done():
				return
			}
			if k.node != nil {
				t.Nodes = append(t.Nodes, k.node)
			}
		}
		if a.err(ctx) != nil {
			return
		}
		id, err := a.r.SaveTree(ctx, t)
		if err != nil {
			a.setFatal(err)
			return
		}
		a.use(pack.TreeBlob, id)
		node.Subtree = &id
		a.mu.Lock()
		switch {
		case prev == nil || prev.Subtree == nil:
			a.summary.DirsNew++
		case *prev.Subtree == id:
			a.summary.DirsUnchanged++
		default:
			a.summary.DirsChanged++
		}
		a.mu.Unlock()
		f.node = node
	}()
	return f
}

// worker reads files. Small files (below the chunker's minimum size, most
// files of a town's shares) are read whole into a small buffer and saved as
// one chunk by the worker itself; larger files borrow one of a few
// chunkers, whose 8 MiB buffers are the main memory cost. There are more
// workers than cores so that file system latency overlaps with work.
func (a *archiver) worker(ctx context.Context, cfg repo.ChunkerParams, chunkerPool chan *chunkers.Chunker) {
	defer a.workers.Done()
	small := make([]byte, cfg.Min+1)
	for job := range a.jobs {
		if a.err(ctx) != nil {
			close(job.fut.done)
			continue
		}
		a.progress.current.Store(job.path)
		ferr := a.readFile(ctx, job, small, chunkerPool)
		if errors.Is(ferr, fs.ErrNotExist) {
			// Deleted between listing and reading: as if it never was.
			if job.prev != nil {
				a.sent.gone(job.path, job.prev)
			}
			a.progress.FilesDone.Add(1)
			job.fut.node = nil
			close(job.fut.done)
			continue
		}
		if ferr != nil {
			a.fileError(job.path, ferr)
			job.node.Error = ferr.Error()
			job.node.Content = nil
			job.node.Size = 0
		}
		a.progress.FilesDone.Add(1)
		a.countFile(job.node, job.prev)
		close(job.fut.done)
	}
}

// newChunkers makes the pool of chunkers shared by the workers.
func (a *archiver) newChunkers(cfg repo.ChunkerParams, n int) (chan *chunkers.Chunker, error) {
	pool := make(chan *chunkers.Chunker, n)
	opts := &chunkers.ChunkerOpts{MinSize: cfg.Min, NormalSize: cfg.Avg, MaxSize: cfg.Max, Key: a.r.Key().ChunkerKey()}
	for i := 0; i < n; i++ {
		ch, err := chunkers.NewChunkerBuffer(cfg.Algorithm, eofReader{}, opts, make([]byte, cfg.Max))
		if err != nil {
			return nil, fmt.Errorf("chunker %s: %w", cfg.Algorithm, err)
		}
		pool <- ch
	}
	return pool, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// countingReader counts the bytes read for the progress display and shows
// them to the Sentinel observer (obs, nil when off) as they pass, so that
// a large file is observed in the same read as it is chunked.
type countingReader struct {
	r   io.Reader
	p   *Progress
	n   uint64
	obs *sentinel.Observer
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += uint64(n)
	c.p.BytesDone.Add(uint64(n))
	if c.obs != nil && n > 0 {
		_, _ = c.obs.Write(b[:n])
	}
	return n, err
}

func (a *archiver) readFile(ctx context.Context, job fileJob, small []byte, pool chan *chunkers.Chunker) error {
	f, err := openRaw(job.path)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := &countingReader{r: f, p: a.progress}
	key := a.r.Key()
	if job.node.Size < uint64(len(small)-1) {
		// Read one byte more than the size said, to see a file that grew.
		n, err := io.ReadFull(cr, small[:job.node.Size+1])
		switch {
		case err == nil:
			// It grew past the size seen: chunk it from the start.
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			a.progress.BytesDone.Add(^uint64(cr.n - 1))
			cr.n = 0
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			var content []crypto.ID
			if n > 0 {
				id := key.BlobID(small[:n])
				content = []crypto.ID{id}
				if _, err := a.r.SaveBlob(ctx, pack.DataBlob, id, small[:n]); err != nil {
					a.setFatal(err)
					return err
				}
			}
			var obs *sentinel.Observer
			if a.sent != nil {
				// The whole file is in the buffer: one call.
				obs = sentinel.NewObserver(job.node.Name, int64(n))
				_, _ = obs.Write(small[:n])
			}
			a.finishFile(job, content, uint64(n), obs)
			return nil
		default:
			return err
		}
	}
	var ch *chunkers.Chunker
	select {
	case ch = <-pool:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { pool <- ch }()
	if a.sent != nil {
		cr.obs = sentinel.NewObserver(job.node.Name, int64(job.node.Size))
	}
	ch.Reset(cr)
	var content []crypto.ID
	for {
		chunk, cerr := ch.Next()
		if cerr != nil && !errors.Is(cerr, io.EOF) {
			return cerr
		}
		if len(chunk) > 0 {
			id := key.BlobID(chunk)
			content = append(content, id)
			if !a.r.HasBlob(pack.DataBlob, id) {
				// Hand the chunk to the savers so that one large file
				// still keeps every core busy.
				select {
				case a.blobs <- blobJob{id: id, data: append(bufpool.Get(len(chunk)), chunk...)}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		if cerr != nil {
			break
		}
	}
	a.finishFile(job, content, cr.n, cr.obs)
	return nil
}

// finishFile completes a file's node once its content is read; obs, when
// Sentinel is on, has seen every byte.
func (a *archiver) finishFile(job fileJob, content []crypto.ID, size uint64, obs *sentinel.Observer) {
	a.use(pack.DataBlob, content...)
	job.node.Content = content
	job.node.Size = size
	if obs != nil {
		f := obs.Features()
		job.node.Sentinel = featuresJSON(f)
		a.sent.read(job.path, size, content, job.prev, f)
	}
	a.mu.Lock()
	a.summary.BytesRead += size
	a.mu.Unlock()
}

func (a *archiver) saver(ctx context.Context) {
	defer a.savers.Done()
	for b := range a.blobs {
		if a.err(ctx) == nil {
			if _, err := a.r.SaveBlob(ctx, pack.DataBlob, b.id, b.data); err != nil {
				a.setFatal(err)
			}
		}
		bufpool.Put(b.data)
	}
}

// scan counts files and bytes ahead of the backup, for the progress bar.
func (a *archiver) scan(ctx context.Context, paths []string) {
	defer a.progress.ScanDone.Store(true)
	for _, p := range paths {
		_ = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return nil
			}
			if path != p && a.excluded(path, d.Name()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				if fi, err := d.Info(); err == nil {
					a.progress.BytesTotal.Add(uint64(fi.Size()))
				}
			}
			if !d.IsDir() {
				a.progress.FilesTotal.Add(1)
			}
			return nil
		})
	}
}

// Package restorer writes a snapshot back to disk. It plans the whole
// restore first, then reads each needed pack once, in order, and writes the
// blobs it holds to every file that needs them, out of order and in
// parallel. Long zero runs become holes. Files, folders, symlinks, hard
// links, special files, modes, times and (as root) owners come back.
package restorer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/rempart/rempart/internal/bufpool"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
)

// Options say what to restore and where.
type Options struct {
	Target string
	// Include, when not empty, restores only the paths that match one of
	// these patterns (a pattern matches a full path in the snapshot, or a
	// file or folder name; a matching folder brings everything inside it).
	Include []string
	// Only, when not nil, restores exactly these snapshot paths (and the
	// folders that lead to them; a folder listed brings everything inside
	// it). Unlike Include patterns, any name is taken literally. It cannot
	// be combined with Include.
	Only map[string]bool
	// Skip lists snapshot paths never restored, whatever else selects
	// them: restore --last-clean leaves out the files that look hit.
	Skip map[string]bool
	// Progress, when set, is updated as the restore goes.
	Progress *Progress
	// Workers is the number of packs processed at once (0: default).
	Workers int
}

// Progress is read by a display while the restore runs.
type Progress struct {
	FilesTotal atomic.Uint64
	BytesTotal atomic.Uint64
	FilesDone  atomic.Uint64
	BytesDone  atomic.Uint64
}

// FileError is a file that could not be restored in full.
type FileError struct {
	Path string `json:"path"`
	Err  string `json:"error"`
}

// Result says what was restored.
type Result struct {
	Files  uint64      `json:"files"`
	Dirs   uint64      `json:"dirs"`
	Bytes  uint64      `json:"bytes"`
	Errors []FileError `json:"errors,omitempty"`
}

type fileState struct {
	path      string
	node      *tree.Node // metadata; Content and Sentinel are dropped once planned
	single    bool       // one chunk: written whole by the writer pool
	remaining atomic.Int64
	mu        sync.Mutex
	err       error
}

type target struct {
	file   *fileState
	offset int64
}

type blobUse struct {
	id      crypto.ID
	loc     index.Location
	targets []target
}

type hardlink struct {
	path, first string
	node        *tree.Node
}

type restorer struct {
	r       *repo.Repository
	opts    Options
	asRoot  bool
	prog    *Progress
	files   []*fileState
	blobs   map[crypto.ID]*blobUse
	dirs    []dirMeta
	links   []hardlink
	others  []otherNode
	inodes  map[[2]uint64]string
	mu      sync.Mutex
	errs    []FileError
	fatal   error
	res     Result
	include []string
	// onlyDirs holds every folder above an Options.Only path: walked
	// through, not restored whole.
	onlyDirs map[string]bool
	small    chan smallWrite
	made     map[string]bool // target folders created
	// listed is the snapshot's plain pack list. When a blob has copies in
	// several packs, the one in a listed pack is read: a server keeps
	// exactly those for the snapshot and may have collected the others,
	// which the index files still describe.
	listed map[crypto.ID]bool
}

type dirMeta struct {
	path string
	node *tree.Node
}

type otherNode struct {
	path string
	node *tree.Node
}

// ErrDamaged means some files could not be restored in full.
var ErrDamaged = errors.New("some files could not be restored")

// Restore writes snapshot sn under opts.Target. The index must be loaded.
func Restore(ctx context.Context, r *repo.Repository, sn *snapshot.Snapshot, opts Options) (*Result, error) {
	if opts.Target == "" {
		return nil, errors.New("no target folder: give --target DIR")
	}
	tgt, err := filepath.Abs(opts.Target)
	if err != nil {
		return nil, err
	}
	opts.Target = tgt
	if err := os.MkdirAll(tgt, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create target %s: %w", tgt, err)
	}
	probe, err := os.CreateTemp(tgt, ".rempart-probe-")
	if err != nil {
		return nil, fmt.Errorf("cannot write into target %s: %w", tgt, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	for _, p := range opts.Include {
		if _, err := filepath.Match(p, "x"); err != nil {
			return nil, fmt.Errorf("bad --include pattern %q: %w", p, err)
		}
	}
	if opts.Only != nil && len(opts.Include) > 0 {
		return nil, errors.New("restorer: Only and Include cannot be combined")
	}
	rs := &restorer{r: r, opts: opts, asRoot: os.Geteuid() == 0, prog: opts.Progress, blobs: map[crypto.ID]*blobUse{},
		inodes: map[[2]uint64]string{}, include: opts.Include, made: map[string]bool{}, listed: make(map[crypto.ID]bool, len(sn.Packs))}
	for _, p := range sn.Packs {
		rs.listed[p] = true
	}
	if opts.Only != nil {
		rs.onlyDirs = map[string]bool{}
		for p := range opts.Only {
			for d := filepath.Dir(p); !rs.onlyDirs[d]; d = filepath.Dir(d) {
				rs.onlyDirs[d] = true
				if d == "/" || d == "." {
					break
				}
			}
		}
	}
	if rs.prog == nil {
		rs.prog = &Progress{}
	}
	if err := rs.plan(ctx, sn.Tree, "/", tgt); err != nil {
		return nil, err
	}
	rs.r.ReleaseCaches()
	if err := rs.writeFiles(ctx); err != nil {
		return &rs.res, err
	}
	rs.finishOthers()
	rs.finishDirs()
	rs.res.Errors = rs.errs
	if len(rs.errs) > 0 {
		return &rs.res, fmt.Errorf("%w: %d problem(s)", ErrDamaged, len(rs.errs))
	}
	return &rs.res, nil
}

func (rs *restorer) fail(path string, err error) {
	rs.mu.Lock()
	rs.errs = append(rs.errs, FileError{Path: path, Err: err.Error()})
	rs.mu.Unlock()
}

// selected tells whether snapshot path p is to be restored, and whether
// something below it might be (so its folder must be walked).
func (rs *restorer) selected(p, name string, isDir bool) (take, descend bool) {
	if len(rs.include) == 0 {
		return true, true
	}
	for _, pat := range rs.include {
		if ok, _ := filepath.Match(pat, p); ok {
			return true, true
		}
		if ok, _ := filepath.Match(pat, name); ok {
			return true, true
		}
		// A pattern that names a path below this folder.
		if isDir && strings.HasPrefix(pat, "/") && strings.Count(pat, "/") > strings.Count(p, "/") {
			prefix := strings.Join(strings.Split(pat, "/")[:strings.Count(p, "/")+1], "/")
			if p == "/" || prefix == p {
				descend = true
			} else if ok, _ := filepath.Match(prefix, p); ok {
				descend = true
			}
		}
		if isDir && !strings.HasPrefix(pat, "/") {
			descend = true // a name pattern may match deeper
		}
	}
	return false, descend
}

// plan walks the tree and records everything to create.
func (rs *restorer) plan(ctx context.Context, treeID crypto.ID, snapPath, dst string) error {
	return rs.planDir(ctx, treeID, snapPath, dst, len(rs.include) == 0 && rs.opts.Only == nil)
}

func (rs *restorer) planDir(ctx context.Context, treeID crypto.ID, snapPath, dst string, taken bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := rs.r.LoadTree(ctx, treeID)
	if err != nil {
		rs.fail(dst, fmt.Errorf("folder cannot be read from the repository: %w", err))
		return nil
	}
	for _, n := range t.Nodes {
		sp := filepath.Join(snapPath, n.Name)
		dp := filepath.Join(dst, n.Name)
		if rs.opts.Skip[sp] {
			continue
		}
		take, descend := taken, true
		switch {
		case taken:
		case rs.opts.Only != nil:
			take, descend = rs.opts.Only[sp], rs.onlyDirs[sp]
		default:
			take, descend = rs.selected(sp, n.Name, n.Type == tree.Dir)
		}
		switch n.Type {
		case tree.Dir:
			if !take && !descend {
				continue
			}
			if take {
				// The whole folder is restored, empty or not.
				if err := rs.ensureDir(dp); err != nil {
					return err
				}
			}
			if err := rs.planDir(ctx, *n.Subtree, sp, dp, take); err != nil {
				return err
			}
			// A folder only walked through for --include exists only if
			// something inside it matched.
			if take || rs.made[dp] {
				rs.res.Dirs++
				rs.dirs = append(rs.dirs, dirMeta{dp, n})
			}
		case tree.File:
			if !take {
				continue
			}
			if err := rs.ensureDir(dst); err != nil {
				return err
			}
			if n.Links > 1 && n.Inode != 0 {
				key := [2]uint64{n.DeviceID, n.Inode}
				if first, ok := rs.inodes[key]; ok {
					rs.links = append(rs.links, hardlink{path: dp, first: first, node: n})
					continue
				}
				rs.inodes[key] = dp
			}
			if err := rs.planFile(dp, n); err != nil {
				return err
			}
		default:
			if take {
				if err := rs.ensureDir(dst); err != nil {
					return err
				}
				rs.others = append(rs.others, otherNode{dp, n})
			}
		}
	}
	return nil
}

// ensureDir creates a folder of the target (and its parents) once. Only a
// full or read-only disk is fatal; other failures are reported for the
// folder and the files in it then fail on their own.
func (rs *restorer) ensureDir(dir string) error {
	if rs.made[dir] {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
		rs.fail(dir, err)
	}
	for d := dir; d != rs.opts.Target && !rs.made[d] && len(d) > len(rs.opts.Target); d = filepath.Dir(d) {
		rs.made[d] = true
	}
	return nil
}

func (rs *restorer) planFile(dp string, n *tree.Node) error {
	// The node stays referenced until its file is done: drop what restoring
	// never reads (Sentinel's features of the file, kept in the snapshot).
	n.Sentinel = nil
	fs := &fileState{path: dp, node: n}
	var size int64
	for _, id := range n.Content {
		loc, ok := rs.r.Index().LookupPreferring(pack.DataBlob, id, rs.inSnapshot)
		if !ok {
			fs.err = fmt.Errorf("data blob %s is missing from the repository", id.Short())
			size += 0
			continue
		}
		bu := rs.blobs[id]
		if bu == nil {
			bu = &blobUse{id: id, loc: loc}
			rs.blobs[id] = bu
		}
		bu.targets = append(bu.targets, target{file: fs, offset: size})
		size += int64(loc.RawLength)
	}
	fs.remaining.Store(int64(len(n.Content)))
	fs.single = len(n.Content) == 1
	empty := len(n.Content) == 0
	n.Content = nil // the blob uses hold the IDs now
	if fs.single && fs.err == nil {
		// Most files are one chunk: the writer creates, fills and closes
		// them in one go (see writeSingle), saving system calls.
		rs.files = append(rs.files, fs)
		rs.prog.FilesTotal.Add(1)
		rs.prog.BytesTotal.Add(uint64(size))
		rs.res.Files++
		rs.res.Bytes += uint64(size)
		return nil
	}
	f, err := os.OpenFile(dp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("creating %s: %w", dp, err)
		}
		rs.fail(dp, err)
		fs.err = err
		return nil
	}
	// Setting the size first leaves holes wherever nothing is written.
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("creating %s: %w", dp, err)
	}
	rs.files = append(rs.files, fs)
	rs.prog.FilesTotal.Add(1)
	rs.prog.BytesTotal.Add(uint64(size))
	rs.res.Files++
	rs.res.Bytes += uint64(size)
	if empty {
		rs.fileDone(fs)
	}
	return nil
}

func (rs *restorer) inSnapshot(p crypto.ID) bool { return rs.listed[p] }

// writeFiles reads every needed pack once and writes its blobs.
func (rs *restorer) writeFiles(ctx context.Context) error {
	byPack := map[crypto.ID][]*blobUse{}
	for _, bu := range rs.blobs {
		byPack[bu.loc.Pack] = append(byPack[bu.loc.Pack], bu)
	}
	packs := make([]crypto.ID, 0, len(byPack))
	for id := range byPack {
		packs = append(packs, id)
	}
	sort.Slice(packs, func(i, j int) bool { return packs[i].String() < packs[j].String() })
	n := rs.opts.Workers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	// Creating a file costs the file system far more than writing a small
	// one: small files go to a pool of writers so that creations overlap,
	// while the pack workers keep reading and decrypting.
	rs.small = make(chan smallWrite, 32)
	var writers sync.WaitGroup
	for i := 0; i < 8; i++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for w := range rs.small {
				rs.writeSingle(w.file, w.data, w.zero)
				if !w.zero {
					bufpool.Put(w.data)
				}
			}
		}()
	}
	jobs := make(chan crypto.ID)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte // this worker's read buffer, reused from pack to pack
			for id := range jobs {
				buf = rs.restorePack(ctx, id, byPack[id], buf)
			}
		}()
	}
	for _, id := range packs {
		if rs.getFatal() != nil || ctx.Err() != nil {
			break
		}
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	close(rs.small)
	writers.Wait()
	if err := rs.getFatal(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, f := range rs.files {
		if f.err != nil {
			rs.fail(f.path, f.err)
		}
	}
	return nil
}

func (rs *restorer) getFatal() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.fatal
}

func (rs *restorer) setFatal(err error) {
	rs.mu.Lock()
	if rs.fatal == nil {
		rs.fatal = err
	}
	rs.mu.Unlock()
}

// restorePack reads the needed parts of one pack (nearby blobs in one read)
// and writes each blob where it goes. It reads into buf when it is large
// enough and returns the buffer it ended with, for the next pack.
func (rs *restorer) restorePack(ctx context.Context, packID crypto.ID, uses []*blobUse, buf []byte) []byte {
	sort.Slice(uses, func(i, j int) bool { return uses[i].loc.Offset < uses[j].loc.Offset })
	const maxGap = 1 << 20
	var scratch repo.Scratch
	h := backend.Handle{Type: backend.Pack, Name: packID.String()}
	for i := 0; i < len(uses); {
		j := i + 1
		end := int64(uses[i].loc.Offset) + int64(uses[i].loc.Length)
		for j < len(uses) && int64(uses[j].loc.Offset)-end <= maxGap && end-int64(uses[i].loc.Offset) < 4<<20 {
			if e := int64(uses[j].loc.Offset) + int64(uses[j].loc.Length); e > end {
				end = e
			}
			j++
		}
		start := int64(uses[i].loc.Offset)
		data, err := backend.LoadInto(ctx, rs.r.Backend(), h, start, end-start, buf)
		if err == nil && cap(data) > cap(buf) {
			buf = data
		}
		for _, bu := range uses[i:j] {
			if err != nil {
				rs.blobFailed(bu, fmt.Errorf("pack %s: %w", packID.Short(), err))
				continue
			}
			off := int64(bu.loc.Offset) - start
			plain, derr := rs.r.DecodeBlobInto(bu.id, bu.loc, data[off:off+int64(bu.loc.Length)], &scratch)
			if derr != nil {
				rs.blobFailed(bu, derr)
				continue
			}
			rs.writeBlob(bu, plain)
		}
		i = j
	}
	return buf
}

func (rs *restorer) blobFailed(bu *blobUse, err error) {
	for _, t := range bu.targets {
		t.file.mu.Lock()
		if t.file.err == nil {
			t.file.err = err
		}
		t.file.mu.Unlock()
		if t.file.remaining.Add(-1) == 0 {
			rs.fileDone(t.file)
		}
	}
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func (rs *restorer) writeBlob(bu *blobUse, plain []byte) {
	zero := isZero(plain)
	for _, t := range bu.targets {
		if t.file.single {
			if len(plain) <= 1<<20 {
				data := plain
				if !zero {
					data = append(bufpool.Get(len(plain)), plain...) // given back by the writer
				}
				rs.small <- smallWrite{t.file, data, zero}
			} else {
				rs.writeSingle(t.file, plain, zero)
			}
			continue
		}
		if !zero {
			if err := writeAt(t.file.path, plain, t.offset); err != nil {
				if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EDQUOT) {
					rs.setFatal(fmt.Errorf("writing %s: %w", t.file.path, err))
				}
				t.file.mu.Lock()
				if t.file.err == nil {
					t.file.err = err
				}
				t.file.mu.Unlock()
			}
		}
		rs.prog.BytesDone.Add(uint64(len(plain)))
		if t.file.remaining.Add(-1) == 0 {
			rs.fileDone(t.file)
		}
	}
}

// smallWrite is a one-chunk file for the writer pool.
type smallWrite struct {
	file *fileState
	data []byte
	zero bool
}

// writeSingle creates a one-chunk file, writes it and sets its metadata
// through one descriptor.
func (rs *restorer) writeSingle(f *fileState, plain []byte, zero bool) {
	err := createWhole(f.path, plain, zero, f.node, rs.asRoot)
	rs.prog.BytesDone.Add(uint64(len(plain)))
	rs.prog.FilesDone.Add(1)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EDQUOT) {
			rs.setFatal(fmt.Errorf("writing %s: %w", f.path, err))
		}
		rs.fail(f.path, err)
	}
	f.remaining.Store(0)
}

func writeAt(path string, b []byte, off int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, off)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// fileDone applies metadata once a file's last blob is written.
func (rs *restorer) fileDone(f *fileState) {
	rs.prog.FilesDone.Add(1)
	if f.err != nil {
		return // reported by writeFiles
	}
	if err := rs.applyMeta(f.path, f.node); err != nil {
		rs.fail(f.path, err)
	}
}

func (rs *restorer) finishOthers() {
	for _, o := range rs.others {
		n := o.node
		_ = os.Remove(o.path)
		var err error
		switch n.Type {
		case tree.Symlink:
			err = os.Symlink(n.LinkTarget, o.path)
		case tree.FIFO:
			err = mkfifo(o.path, n.Mode)
		case tree.Dev, tree.CharDev:
			if !rs.asRoot {
				continue // only root may create device files
			}
			err = mknod(o.path, n)
		case tree.Socket:
			continue // sockets are made by the programs that listen on them
		}
		if err == nil {
			err = rs.applyMeta(o.path, n)
		}
		if err != nil {
			rs.fail(o.path, err)
		}
		rs.res.Files++
	}
	for _, l := range rs.links {
		_ = os.Remove(l.path)
		if err := os.Link(l.first, l.path); err != nil {
			rs.fail(l.path, fmt.Errorf("hard link to %s: %w", l.first, err))
		}
		rs.res.Files++
	}
}

func (rs *restorer) finishDirs() {
	// Deepest first, so that restoring a child does not change the times
	// of a parent already set.
	sort.SliceStable(rs.dirs, func(i, j int) bool {
		return strings.Count(rs.dirs[i].path, "/") > strings.Count(rs.dirs[j].path, "/")
	})
	for _, d := range rs.dirs {
		if err := rs.applyMeta(d.path, d.node); err != nil {
			rs.fail(d.path, err)
		}
	}
}

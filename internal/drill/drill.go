// Package drill runs restore drills (docs/drills.md): for a service of the
// continuity plan, it restores the latest snapshot of each of its sources
// into a fresh scratch folder that is never a production path, re-reads
// every restored file and checks its bytes against the snapshot's content
// hashes, runs the service's optional health check on the restored data,
// measures the time and compares it with the service's RTO. The outcome is
// a Record: the evidence a town keeps (and sends to its server).
//
// The package runs where the passphrase is (the town's machine): it is
// given an open repository. It never imports the server.
package drill

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/restorer"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
)

// DefaultHealthTimeout bounds a health check unless Options say otherwise.
const DefaultHealthTimeout = 10 * time.Minute

// Options tune a drill.
type Options struct {
	// Scratch is the folder under which a fresh scratch folder is made
	// ("": the system's temporary folder). It may not be, contain or be
	// inside a source's path.
	Scratch string
	// Keep leaves the scratch folder in place (to look at it); otherwise
	// it is removed at the end.
	Keep bool
	// NoHealthCheck skips the service's health check.
	NoHealthCheck bool
	// HealthTimeout bounds the health check (0: DefaultHealthTimeout).
	HealthTimeout time.Duration
	// Now is the clock (nil: time.Now); tests make time pass with it.
	Now func() time.Time
	// RanBy, Host, Program and PlanVersion go into the record as they are.
	RanBy       string
	Host        string
	Program     string
	PlanVersion int64
	// Progress, when set, is updated as the drill runs.
	Progress *Progress
	// Aliases are other names of a source's host in snapshots: a
	// machine enrolled as "fs01" whose backups name it by its system
	// host name (lower case keys).
	Aliases map[string][]string
}

// Progress is read by a display while a drill runs.
type Progress struct {
	Restore restorer.Progress
	// VerifiedBytes counts the bytes read back and checked.
	VerifiedBytes atomic.Uint64
	mu            sync.Mutex
	phase         string
}

// Phase is what the drill is doing ("restoring app01:/srv/paie"...).
func (p *Progress) Phase() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase
}

func (p *Progress) set(phase string) {
	p.mu.Lock()
	p.phase = phase
	p.mu.Unlock()
}

// ErrScratch refuses a scratch folder that overlaps a source: a drill
// never writes where production data lives.
var ErrScratch = errors.New("unsafe scratch folder")

// Run drills one service: snaps are the repository's snapshots (from
// r.Snapshots, loaded once for several services); the repository's index
// must be loaded. The error is only for what stops a drill from starting
// (an unsafe or unusable scratch folder); everything that goes wrong
// after that is in the record, whose Result is then Failed.
func Run(ctx context.Context, r *repo.Repository, snaps []*snapshot.Snapshot, svc continuity.Service, opts Options) (*Record, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	prog := opts.Progress
	if prog == nil {
		prog = &Progress{}
	}
	parent := opts.Scratch
	if parent == "" {
		parent = os.TempDir()
	}
	// The folder given holds the fresh scratch folder: it may contain a
	// source (the system's /tmp may hold anything), but it may not be one
	// or be inside one.
	if err := checkScratch(parent, svc.Sources, false); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the scratch folder %s: %w", parent, err)
	}
	scratch, err := os.MkdirTemp(parent, "rempart-drill-"+svc.ID+"-")
	if err != nil {
		return nil, fmt.Errorf("cannot create a scratch folder in %s: %w", parent, err)
	}
	if scratch, err = filepath.Abs(scratch); err != nil {
		return nil, err
	}
	// The folder made may sit behind a symbolic link: check it again.
	if err := CheckScratch(scratch, svc.Sources); err != nil {
		_ = os.Remove(scratch)
		return nil, err
	}
	rec := &Record{Service: svc.ID, ServiceName: svc.Name, PlanVersion: opts.PlanVersion, RTO: svc.RTO, Started: now().UTC(),
		RanBy: opts.RanBy, Host: opts.Host, Program: opts.Program, Scratch: scratch, Kept: opts.Keep, Sources: []SourceResult{}}
	d := &drill{r: r, rec: rec, prog: prog, now: now, scratch: scratch}
	defer func() {
		if !opts.Keep {
			if err := removeAll(scratch); err != nil {
				rec.Reasons = append(rec.Reasons, fmt.Sprintf("the scratch folder %s could not be removed: %v", scratch, err))
			}
		}
	}()

	if len(svc.Sources) == 0 {
		d.fail("the service lists no backup source: nothing to restore (add its folders under sources in the plan)")
	}
	var manifest []string
	for i, src := range svc.Sources {
		if err := ctx.Err(); err != nil {
			d.fail("interrupted: " + err.Error())
			break
		}
		sr, lines := d.source(ctx, snaps, src, i, len(svc.Sources), opts.Aliases)
		rec.Sources = append(rec.Sources, sr)
		manifest = append(manifest, lines...)
	}
	rec.Digest = digest(manifest)

	if svc.HealthCheck != "" && !opts.NoHealthCheck {
		h := &HealthResult{Command: svc.HealthCheck}
		rec.Health = h
		switch {
		case rec.Damaged > 0 || rec.Result == Failed:
			h.Error = "not run: the restore did not come back intact"
		default:
			prog.set("health check")
			t0 := now()
			runHealthCheck(ctx, h, scratch, svc, rec.Sources, opts.HealthTimeout)
			rec.HealthSeconds = now().Sub(t0).Seconds()
			h.Seconds = rec.HealthSeconds
			if !h.OK() {
				switch {
				case h.TimedOut:
					d.fail(fmt.Sprintf("the health check did not finish within %s", timeoutOr(opts.HealthTimeout)))
				case h.Error != "":
					d.fail("the health check could not run: " + h.Error)
				default:
					d.fail(fmt.Sprintf("the health check exited with status %d", h.ExitCode))
				}
			}
		}
	}
	rec.RecoverySeconds = rec.RestoreSeconds + rec.HealthSeconds
	if rec.Result == "" {
		rec.Result = Passed
		if rto := time.Duration(svc.RTO); rto > 0 && time.Duration(rec.RecoverySeconds*float64(time.Second)) > rto {
			rec.Result = Slow
			rec.Reasons = append(rec.Reasons, fmt.Sprintf("the recovery took %s, more than the RTO of %s",
				(time.Duration(rec.RecoverySeconds*float64(time.Second))).Round(time.Millisecond), svc.RTO))
		}
	}
	prog.set("done")
	rec.Finished = now().UTC()
	return rec, nil
}

func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultHealthTimeout
	}
	return d
}

type drill struct {
	r       *repo.Repository
	rec     *Record
	prog    *Progress
	now     func() time.Time
	scratch string
}

func (d *drill) fail(reason string) {
	d.rec.Result = Failed
	d.rec.Reasons = append(d.rec.Reasons, reason)
}

// Target is where a source is restored under the scratch folder:
// SCRATCH/HOST/PATH (the snapshot's full path under the host's name, so
// that two machines' /var/www do not meet).
func Target(scratch string, src continuity.Source) string {
	return filepath.Join(scratch, hostDir(src.Host), cleanPath(src.Path))
}

// hostDir makes a host name one safe folder name.
func hostDir(h string) string {
	h = strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, h)
	if h == "" || strings.Trim(h, ".") == "" {
		return "_" + h
	}
	return h
}

// cleanPath is a source's path as an absolute, clean snapshot path.
func cleanPath(p string) string {
	return filepath.Clean("/" + strings.TrimSpace(p))
}

// source restores and verifies one source; it returns its evidence and
// its lines of the manifest.
func (d *drill) source(ctx context.Context, snaps []*snapshot.Snapshot, src continuity.Source, i, n int, aliases map[string][]string) (SourceResult, []string) {
	sr := SourceResult{Host: src.Host, Path: src.Path}
	sn, skipped := Latest(snaps, src)
	for _, alias := range aliases[strings.ToLower(src.Host)] {
		if sn != nil {
			break
		}
		sn, skipped = Latest(snaps, continuity.Source{Host: alias, Path: src.Path})
	}
	for _, s := range skipped {
		sr.Skipped = append(sr.Skipped, s.ID.String()+" ("+s.Flag.String()+")")
	}
	if sn == nil {
		msg := fmt.Sprintf("no snapshot of %s in the repository", src)
		if len(skipped) > 0 {
			msg = fmt.Sprintf("no snapshot of %s that Sentinel did not flag (%d flagged)", src, len(skipped))
		}
		sr.Error = msg
		d.fail(msg)
		return sr, nil
	}
	sr.Snapshot, sr.SnapshotTime, sr.SnapshotHost = sn.ID.String(), sn.Time, sn.Host
	root := d.scratch + string(filepath.Separator) + hostDir(src.Host)
	sr.Target = Target(d.scratch, src)
	snapPath := cleanPath(src.Path)

	label := src.String()
	if n > 1 {
		label = fmt.Sprintf("%s (%d/%d)", label, i+1, n)
	}
	d.prog.set("restoring " + label)
	t0 := d.now()
	res, err := restorer.Restore(ctx, d.r, sn, restorer.Options{Target: root, Only: map[string]bool{snapPath: true}, Progress: &d.prog.Restore})
	sr.RestoreSeconds = d.now().Sub(t0).Seconds()
	d.rec.RestoreSeconds += sr.RestoreSeconds
	restoreErrs := map[string]string{}
	if res != nil {
		sr.Dirs = res.Dirs
		d.rec.Dirs += res.Dirs
		for _, e := range res.Errors {
			p := "/" + strings.TrimPrefix(strings.TrimPrefix(e.Path, root), "/")
			restoreErrs[filepath.Clean(p)] = e.Err
		}
	}
	if err != nil && !errors.Is(err, restorer.ErrDamaged) {
		sr.Error = "restore: " + err.Error()
		d.fail(fmt.Sprintf("%s: the restore stopped: %v", src, err))
		return sr, nil
	}

	d.prog.set("verifying " + label)
	t0 = d.now()
	v := &verifier{r: d.r, ctx: ctx, root: root, host: src.Host, prog: d.prog, restoreErrs: restoreErrs}
	v.verifyPath(sn.Tree, snapPath)
	sr.VerifySeconds = d.now().Sub(t0).Seconds()
	d.rec.VerifySeconds += sr.VerifySeconds
	// A file the restorer reported that the walk did not reach (a folder
	// that could not be created) is damaged too.
	for p, e := range restoreErrs {
		if !v.reported[p] {
			v.damage(p, "restore: "+e)
		}
	}
	sort.Slice(v.damaged, func(i, j int) bool { return v.damaged[i].Path < v.damaged[j].Path })
	sr.Files, sr.Bytes, sr.DamagedCount = v.files, v.bytes, len(v.damaged)
	sr.Damaged = v.damaged
	if len(sr.Damaged) > MaxDamaged {
		sr.Damaged = sr.Damaged[:MaxDamaged]
	}
	sr.Digest = digest(v.lines)
	d.rec.Files += v.files
	d.rec.Bytes += v.bytes
	d.rec.Damaged += len(v.damaged)
	if v.missing {
		sr.Error = fmt.Sprintf("%s is not in snapshot %s", snapPath, sn.ID.Short())
		d.fail(fmt.Sprintf("%s: %s", src, sr.Error))
	}
	if len(v.damaged) > 0 {
		names := make([]string, 0, 3)
		for _, dm := range v.damaged[:min(3, len(v.damaged))] {
			names = append(names, dm.Path)
		}
		more := ""
		if len(v.damaged) > 3 {
			more = fmt.Sprintf(" and %d more", len(v.damaged)-3)
		}
		d.fail(fmt.Sprintf("%s: %d file(s) not restored intact from snapshot %s: %s%s", src, len(v.damaged), sn.ID.Short(), strings.Join(names, ", "), more))
	}
	return sr, v.lines
}

// Latest returns the newest snapshot that holds the source (its host, and
// its path or a folder above it) and that Sentinel did not flag suspect
// or infected, with the newer ones it skipped because they were flagged.
func Latest(snaps []*snapshot.Snapshot, src continuity.Source) (*snapshot.Snapshot, []*snapshot.Snapshot) {
	var skipped []*snapshot.Snapshot
	var best *snapshot.Snapshot
	for _, s := range snaps {
		if !Holds(s, src) {
			continue
		}
		if s.Flag == snapshot.FlagSuspect || s.Flag == snapshot.FlagInfected {
			skipped = append(skipped, s)
			continue
		}
		if best == nil || s.Time.After(best.Time) {
			best = s
		}
	}
	var newer []*snapshot.Snapshot
	for _, s := range skipped {
		if best == nil || s.Time.After(best.Time) {
			newer = append(newer, s)
		}
	}
	return best, newer
}

// Holds reports whether snapshot s was made on the source's host and
// backed up its path (or a folder above it).
func Holds(s *snapshot.Snapshot, src continuity.Source) bool {
	if !sameHost(s.Host, src.Host) {
		return false
	}
	want := cleanPath(src.Path)
	for _, p := range s.Paths {
		p = cleanPath(p)
		if p == want || p == "/" || strings.HasPrefix(want, p+"/") {
			return true
		}
	}
	return false
}

// sameHost compares host names without case, and a full name with its
// first label (app01.mairie.local is app01).
func sameHost(a, b string) bool {
	a, b = strings.ToLower(strings.TrimSpace(a)), strings.ToLower(strings.TrimSpace(b))
	if a == "" || b == "" {
		return false
	}
	if a == b {
		return true
	}
	short := func(h string) string { s, _, _ := strings.Cut(h, "."); return s }
	return (short(a) == b && strings.Contains(a, ".")) || (short(b) == a && strings.Contains(b, "."))
}

// digest is the SHA-256 of the sorted manifest lines.
func digest(lines []string) string {
	sorted := append([]string(nil), lines...)
	sort.Strings(sorted)
	h := sha256.New()
	for _, l := range sorted {
		_, _ = io.WriteString(h, l+"\n")
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// verifier walks the snapshot's tree under a source and checks what was
// written to disk.
type verifier struct {
	r           *repo.Repository
	ctx         context.Context
	root        string // the restore target: root + snapshot path
	host        string
	prog        *Progress
	restoreErrs map[string]string
	files       uint64
	bytes       uint64
	lines       []string
	damaged     []Damage
	reported    map[string]bool
	missing     bool
	buf         []byte
}

func (v *verifier) damage(p, reason string) {
	if v.reported == nil {
		v.reported = map[string]bool{}
	}
	if v.reported[p] {
		return
	}
	v.reported[p] = true
	v.damaged = append(v.damaged, Damage{Path: p, Reason: reason})
}

// why prefers the restorer's account of a file (it names the blob and
// the pack) to what verifying found.
func (v *verifier) why(p, found string) string {
	if e, ok := v.restoreErrs[p]; ok {
		return found + " (restore: " + e + ")"
	}
	return found
}

// verifyPath finds snapPath in the tree and checks everything under it.
func (v *verifier) verifyPath(rootTree crypto.ID, snapPath string) {
	id := rootTree
	parts := strings.Split(strings.Trim(snapPath, "/"), "/")
	if snapPath == "/" {
		parts = nil
	}
	cur := "/"
	for i, name := range parts {
		t, err := v.r.LoadTree(v.ctx, id)
		if err != nil {
			v.damage(cur, "folder cannot be read from the repository: "+err.Error())
			return
		}
		n := find(t, name)
		if n == nil {
			v.missing = true
			return
		}
		cur = filepath.Join(cur, name)
		if i == len(parts)-1 && n.Type != tree.Dir {
			v.node(cur, n)
			return
		}
		if n.Type != tree.Dir || n.Subtree == nil {
			v.missing = true
			return
		}
		id = *n.Subtree
	}
	v.dir(cur, id)
}

func find(t *tree.Tree, name string) *tree.Node {
	for _, n := range t.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

func (v *verifier) dir(p string, id crypto.ID) {
	if v.ctx.Err() != nil {
		return
	}
	fi, err := os.Lstat(v.root + p)
	if err != nil || !fi.IsDir() {
		v.damage(p, v.why(p, "folder missing from the restore"))
		return
	}
	t, err := v.r.LoadTree(v.ctx, id)
	if err != nil {
		v.damage(p, "folder cannot be read from the repository: "+err.Error())
		return
	}
	for _, n := range t.Nodes {
		v.node(filepath.Join(p, n.Name), n)
	}
}

func (v *verifier) node(p string, n *tree.Node) {
	disk := v.root + p
	switch n.Type {
	case tree.Dir:
		if n.Subtree == nil {
			v.damage(p, "folder without a tree in the snapshot")
			return
		}
		v.dir(p, *n.Subtree)
	case tree.File:
		v.file(p, disk, n)
	case tree.Symlink:
		got, err := os.Readlink(disk)
		if err != nil || got != n.LinkTarget {
			v.damage(p, v.why(p, fmt.Sprintf("symbolic link missing or pointing elsewhere (want %q)", n.LinkTarget)))
			return
		}
		v.lines = append(v.lines, fmt.Sprintf("symlink  -  %s:%s -> %s", v.host, p, n.LinkTarget))
	default:
		// Devices, FIFOs and sockets hold no data to verify.
	}
}

// file re-reads a restored file and checks each chunk against the keyed
// hash the snapshot names for it, and that nothing follows the last one.
func (v *verifier) file(p, disk string, n *tree.Node) {
	f, err := os.Open(disk)
	if err != nil {
		v.damage(p, v.why(p, "file missing from the restore: "+errText(err)))
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		v.damage(p, v.why(p, "not a regular file in the restore"))
		return
	}
	br := bufio.NewReaderSize(f, 1<<20)
	h := sha256.New()
	var off uint64
	for i, id := range n.Content {
		if v.ctx.Err() != nil {
			return
		}
		loc, ok := v.r.Index().Lookup(pack.DataBlob, id)
		if !ok {
			v.damage(p, v.why(p, fmt.Sprintf("chunk %d (blob %s) is missing from the repository's index", i+1, id.Short())))
			return
		}
		size := int(loc.RawLength)
		if cap(v.buf) < size {
			v.buf = make([]byte, size)
		}
		buf := v.buf[:size]
		if _, err := io.ReadFull(br, buf); err != nil {
			v.damage(p, v.why(p, fmt.Sprintf("file too short: ends at byte %d, the snapshot has %d chunk(s)", off, len(n.Content))))
			return
		}
		if v.r.Key().BlobID(buf) != id {
			v.damage(p, v.why(p, fmt.Sprintf("content differs from the snapshot at bytes %d-%d (chunk %d of %d)", off, off+uint64(size), i+1, len(n.Content))))
			return
		}
		h.Write(buf)
		off += uint64(size)
		v.prog.VerifiedBytes.Add(uint64(size))
	}
	if extra, _ := io.CopyN(io.Discard, br, 1); extra > 0 {
		v.damage(p, v.why(p, fmt.Sprintf("file longer than in the snapshot (%d bytes)", off)))
		return
	}
	v.files++
	v.bytes += off
	v.lines = append(v.lines, fmt.Sprintf("%s  %d  %s:%s", hex.EncodeToString(h.Sum(nil)), off, v.host, p))
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

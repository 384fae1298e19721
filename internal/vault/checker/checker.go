// Package checker verifies a repository: that every index file, snapshot
// and tree can be read, that every blob a snapshot needs is indexed and its
// pack is present with the right size, and (with ReadData) that every byte
// of every pack still hashes to its name and decrypts. It names exactly
// which snapshots and files are damaged, so that a person knows what can
// still be restored.
package checker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
)

// Options tune a check.
type Options struct {
	ReadData bool
	Progress *Progress
}

// Progress is read by a display while the check runs.
type Progress struct {
	PacksTotal atomic.Uint64
	PacksDone  atomic.Uint64
	BytesDone  atomic.Uint64
}

// Problem is one thing found wrong.
type Problem struct {
	Kind   string `json:"kind"`   // index, pack, snapshot, tree, blob
	Name   string `json:"name"`   // file or blob ID
	Detail string `json:"detail"` // what is wrong
}

// DamagedFile is a file (or folder) of a snapshot that cannot be restored
// in full.
type DamagedFile struct {
	Snapshot string `json:"snapshot"`
	Path     string `json:"path"`
	Reason   string `json:"reason"`
}

// Report is the outcome of a check.
type Report struct {
	Snapshots        int           `json:"snapshots"`
	Packs            int           `json:"packs"`
	Blobs            int           `json:"blobs"`
	BytesRead        uint64        `json:"bytes_read"`
	Problems         []Problem     `json:"problems"`
	DamagedSnapshots []string      `json:"damaged_snapshots"`
	DamagedFiles     []DamagedFile `json:"damaged_files"`
	UnusedPacks      int           `json:"unused_packs"` // harmless: left by an interrupted backup, removed by prune
	// CollectedPacks counts packs that index files list but storage no
	// longer holds, and that no snapshot needs: a server's garbage
	// collection deleted them (it cannot rewrite the encrypted index
	// files). Information, not damage.
	CollectedPacks int      `json:"collected_packs"`
	Warnings       []string `json:"warnings,omitempty"`
}

// OK reports whether nothing is damaged.
func (r *Report) OK() bool {
	return len(r.Problems) == 0 && len(r.DamagedFiles) == 0 && len(r.DamagedSnapshots) == 0
}

type checker struct {
	r     *repo.Repository
	rep   *Report
	mu    sync.Mutex
	bad   [2]map[crypto.ID]string // damaged or missing blobs → reason
	trees map[crypto.ID]bool      // trees already walked
	prog  *Progress
	// absent holds the indexed packs storage does not have; neededBy
	// maps those a snapshot needs to the snapshots (short IDs). The others
	// were collected.
	absent   map[crypto.ID]bool
	neededBy map[crypto.ID][]string
}

func (c *checker) problem(kind, name, detail string) {
	c.mu.Lock()
	c.rep.Problems = append(c.rep.Problems, Problem{kind, name, detail})
	c.mu.Unlock()
}

func (c *checker) markBad(t pack.BlobType, id crypto.ID, why string) {
	c.mu.Lock()
	if _, ok := c.bad[t][id]; !ok {
		c.bad[t][id] = why
	}
	c.mu.Unlock()
}

// Check verifies the repository. It loads the index itself.
func Check(ctx context.Context, r *repo.Repository, opts Options) (*Report, error) {
	c := &checker{r: r, rep: &Report{}, bad: [2]map[crypto.ID]string{{}, {}}, trees: map[crypto.ID]bool{}, prog: opts.Progress,
		absent: map[crypto.ID]bool{}, neededBy: map[crypto.ID][]string{}}
	if c.prog == nil {
		c.prog = &Progress{}
	}
	problems, err := r.LoadIndex(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		c.problem("index", p.Name, p.Err.Error())
	}
	idx := r.Index()
	c.rep.Blobs = idx.Count(pack.DataBlob) + idx.Count(pack.TreeBlob)

	// Packs: every indexed pack must be in storage with its recorded size.
	stored, err := r.ListPacks(ctx)
	if err != nil {
		return nil, err
	}
	indexed := idx.Packs()
	c.rep.Packs = len(stored)
	// Absent packs are marked gone in the index, so that reading a tree
	// or blob with a copy in a present pack uses that copy. Whether an
	// absent pack is damage or was collected is known only once every
	// snapshot has said what it needs (finishAbsent).
	for _, id := range r.NoteStoredPacks(stored) {
		c.absent[id] = true
	}
	missingPack := map[crypto.ID]string{}
	for id, size := range indexed {
		got, ok := stored[id]
		switch {
		case !ok:
			missingPack[id] = "pack " + id.Short() + " is missing"
		case got != size:
			missingPack[id] = fmt.Sprintf("pack %s has %d bytes instead of %d (truncated?)", id.Short(), got, size)
			c.problem("pack", id.String(), fmt.Sprintf("size %d, index says %d (truncated or damaged)", got, size))
		}
	}
	for id := range stored {
		if _, ok := indexed[id]; !ok {
			c.rep.UnusedPacks++
		}
	}
	if len(missingPack) > 0 {
		idx.Each(func(id crypto.ID, loc index.Location) {
			if why, ok := missingPack[loc.Pack]; ok {
				if _, seen := c.bad[loc.Type][id]; !seen {
					c.bad[loc.Type][id] = why
				}
			}
		})
		// A blob with a copy in a sound pack is not damaged: concurrent
		// backups may have stored it twice, and a server may have
		// collected one copy.
		for t := range c.bad {
			for id := range c.bad[t] {
				for _, loc := range idx.Locations(pack.BlobType(t), id) {
					if _, bad := missingPack[loc.Pack]; !bad {
						delete(c.bad[t], id)
						break
					}
				}
			}
		}
	}

	if opts.ReadData {
		c.readData(ctx, stored, indexed)
	}

	sns, sproblems, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range sproblems {
		c.problem("snapshot", p.Name, p.Err.Error())
		c.rep.DamagedSnapshots = append(c.rep.DamagedSnapshots, p.Name)
		c.unreadableNeeds(ctx, p.Name)
	}
	c.rep.Snapshots = len(sns) + len(sproblems)
	for _, sn := range sns {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.checkTree(ctx, sn.Tree)
	}
	// Name every file hit by a bad blob, and check the plain pack lists.
	for _, sn := range sns {
		damaged := c.snapshotFiles(ctx, sn)
		if damaged {
			c.rep.DamagedSnapshots = append(c.rep.DamagedSnapshots, sn.ID.String())
		}
	}
	c.finishAbsent()
	sort.Slice(c.rep.Problems, func(i, j int) bool {
		if c.rep.Problems[i].Kind != c.rep.Problems[j].Kind {
			return c.rep.Problems[i].Kind < c.rep.Problems[j].Kind
		}
		return c.rep.Problems[i].Name < c.rep.Problems[j].Name
	})
	return c.rep, ctx.Err()
}

// need records that snapshot sn (a short ID) needs absent pack p.
func (c *checker) need(p crypto.ID, sn string) {
	for _, s := range c.neededBy[p] {
		if s == sn {
			return
		}
	}
	c.neededBy[p] = append(c.neededBy[p], sn)
}

// unreadableNeeds takes what it can from a snapshot file that cannot be
// opened: its plain pack list, readable without the key, still says which
// packs it needs. When even that is unreadable, no absent pack can be
// called collected, since this snapshot might need it.
func (c *checker) unreadableNeeds(ctx context.Context, name string) {
	if len(c.absent) == 0 {
		return
	}
	short := name
	if len(short) > 8 {
		short = short[:8]
	}
	buf, err := c.r.Backend().Load(ctx, backend.Handle{Type: backend.Snapshot, Name: name}, 0, 0)
	var packs []crypto.ID
	if err == nil {
		packs, _, err = snapshot.ReadPacks(buf)
	}
	if err != nil {
		for p := range c.absent {
			c.need(p, short+" (unreadable)")
		}
		return
	}
	for _, p := range packs {
		if c.absent[p] {
			c.need(p, short)
		}
	}
}

// finishAbsent reports each absent pack: damage when a snapshot needs it
// (its plain list names it, or it holds the only copies of blobs the
// snapshot uses), and otherwise collected by a server, which is normal.
func (c *checker) finishAbsent() {
	for p := range c.absent {
		sns := c.neededBy[p]
		if len(sns) == 0 {
			c.rep.CollectedPacks++
			continue
		}
		sort.Strings(sns)
		c.problem("pack", p.String(), "missing from storage; needed by snapshot "+strings.Join(sns, ", "))
	}
}

// checkTree walks each distinct tree once and records missing blobs.
func (c *checker) checkTree(ctx context.Context, id crypto.ID) {
	if c.trees[id] {
		return
	}
	c.trees[id] = true
	if _, bad := c.bad[pack.TreeBlob][id]; bad {
		return
	}
	t, err := c.r.LoadTree(ctx, id)
	if err != nil {
		c.markBad(pack.TreeBlob, id, err.Error())
		c.problem("tree", id.String(), err.Error())
		return
	}
	for _, n := range t.Nodes {
		for _, b := range n.Content {
			if !c.r.Index().Has(pack.DataBlob, b) {
				if _, known := c.bad[pack.DataBlob][b]; !known {
					c.markBad(pack.DataBlob, b, "data blob "+b.Short()+" is not in any index")
					c.problem("blob", b.String(), "referenced but not in any index")
				}
			}
		}
		if n.Type == tree.Dir && n.Subtree != nil {
			c.checkTree(ctx, *n.Subtree)
		}
	}
}

// snapshotFiles lists the damaged files of one snapshot and verifies its
// plain pack list. It reports whether the snapshot is damaged.
func (c *checker) snapshotFiles(ctx context.Context, sn *snapshot.Snapshot) bool {
	listed := map[crypto.ID]bool{}
	for _, p := range sn.Packs {
		listed[p] = true
	}
	damaged := false
	short := sn.ID.Short()
	// A snapshot whose plain list names an absent pack is damaged: a
	// server keeps what the list names, so the pack was lost, not
	// collected.
	for _, p := range sn.Packs {
		if c.absent[p] {
			c.need(p, short)
			damaged = true
		}
	}
	unlisted := map[crypto.ID]bool{}
	idx := c.r.Index()
	note := func(t pack.BlobType, id crypto.ID) {
		locs := idx.Locations(t, id)
		if _, bad := c.bad[t][id]; bad {
			// No sound copy: every absent pack with a copy was needed.
			for _, l := range locs {
				if c.absent[l.Pack] {
					c.need(l.Pack, short)
				}
			}
		}
		for _, l := range locs {
			if listed[l.Pack] {
				return
			}
		}
		if len(locs) > 0 {
			unlisted[locs[0].Pack] = true
		}
	}
	var walk func(id crypto.ID, p string)
	walk = func(id crypto.ID, p string) {
		note(pack.TreeBlob, id)
		if why, bad := c.bad[pack.TreeBlob][id]; bad {
			damaged = true
			c.rep.DamagedFiles = append(c.rep.DamagedFiles, DamagedFile{sn.ID.String(), p, "folder listing unreadable: " + why})
			return
		}
		t, err := c.r.LoadTree(ctx, id)
		if err != nil {
			return // already reported by checkTree
		}
		for _, n := range t.Nodes {
			np := path.Join(p, n.Name)
			reported := false
			for _, b := range n.Content {
				note(pack.DataBlob, b)
				if why, bad := c.bad[pack.DataBlob][b]; bad && !reported {
					damaged = true
					reported = true
					c.rep.DamagedFiles = append(c.rep.DamagedFiles, DamagedFile{sn.ID.String(), np, why})
				}
			}
			if n.Type == tree.Dir && n.Subtree != nil {
				walk(*n.Subtree, np)
			}
		}
	}
	walk(sn.Tree, "/")
	if len(unlisted) > 0 {
		c.problem("snapshot", sn.ID.String(), fmt.Sprintf("its plain pack list omits %d pack(s) it uses: a server could not protect them", len(unlisted)))
		damaged = true
	}
	return damaged
}

// readData reads every pack in full, in parallel, and verifies it.
func (c *checker) readData(ctx context.Context, stored, indexed map[crypto.ID]int64) {
	ids := make([]crypto.ID, 0, len(stored))
	for id := range stored {
		if _, ok := indexed[id]; ok {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	c.prog.PacksTotal.Store(uint64(len(ids)))
	// Which blobs the index expects in each pack.
	expect := map[crypto.ID][]pack.Blob{}
	c.r.Index().Each(func(id crypto.ID, loc index.Location) {
		expect[loc.Pack] = append(expect[loc.Pack], pack.Blob{Type: loc.Type, Flags: loc.Flags, ID: id, Offset: loc.Offset, Length: loc.Length, RawLength: loc.RawLength})
	})
	jobs := make(chan crypto.ID)
	var wg sync.WaitGroup
	// Twice as many readers as cores: each mostly waits for the disk.
	for i := 0; i < 2*runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				c.readPack(ctx, id, stored[id], expect[id])
				c.prog.PacksDone.Add(1)
			}
		}()
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		jobs <- id
	}
	close(jobs)
	wg.Wait()
}

// readPack streams one pack: it hashes every byte, decodes every blob the
// index places in it as it goes by, and finally checks the pack's own
// header. Memory stays at one blob per worker, whatever the pack size.
func (c *checker) readPack(ctx context.Context, id crypto.ID, size int64, expect []pack.Blob) {
	rc, err := c.r.Backend().Open(ctx, backend.Handle{Type: backend.Pack, Name: id.String()})
	if err != nil {
		c.problem("pack", id.String(), "cannot be read: "+err.Error())
		for _, b := range expect {
			c.markBad(b.Type, b.ID, "pack "+id.Short()+" cannot be read")
		}
		return
	}
	defer rc.Close()
	h := crypto.NewHasher()
	rd := io.TeeReader(bufio.NewReaderSize(rc, 1<<20), h)
	sort.Slice(expect, func(i, j int) bool { return expect[i].Offset < expect[j].Offset })
	key := c.r.Key()
	var pos int64
	var buf []byte
	var scratch repo.Scratch
	truncated := false
	for _, b := range expect {
		if int64(b.Offset) < pos {
			c.markBad(b.Type, b.ID, "index places it over another blob")
			c.problem("blob", b.ID.String(), fmt.Sprintf("in pack %s: index entry overlaps another blob", id.Short()))
			continue
		}
		if !truncated {
			if n, err := io.CopyN(io.Discard, rd, int64(b.Offset)-pos); err != nil {
				truncated = true
				pos += n
			} else {
				pos = int64(b.Offset)
			}
		}
		if !truncated {
			if cap(buf) < int(b.Length) {
				buf = make([]byte, b.Length)
			}
			buf = buf[:b.Length]
			n, err := io.ReadFull(rd, buf)
			pos += int64(n)
			if err != nil {
				truncated = true
			}
		}
		if truncated {
			c.markBad(b.Type, b.ID, "pack "+id.Short()+" is truncated")
			continue
		}
		loc := index.Location{Pack: id, Type: b.Type, Flags: b.Flags, Offset: b.Offset, Length: b.Length, RawLength: b.RawLength}
		plain, err := c.r.DecodeBlobInto(b.ID, loc, buf, &scratch)
		if err != nil {
			c.markBad(b.Type, b.ID, err.Error())
			c.problem("blob", b.ID.String(), fmt.Sprintf("in pack %s: %v", id.Short(), err))
			continue
		}
		if key.BlobID(plain) != b.ID {
			c.markBad(b.Type, b.ID, "content does not match its ID")
			c.problem("blob", b.ID.String(), fmt.Sprintf("in pack %s: content does not match its ID", id.Short()))
		}
	}
	tail, err := io.ReadAll(rd)
	if err != nil {
		c.problem("pack", id.String(), "cannot be read to the end: "+err.Error())
		return
	}
	total := pos + int64(len(tail))
	c.mu.Lock()
	c.rep.BytesRead += uint64(total)
	c.mu.Unlock()
	c.prog.BytesDone.Add(uint64(total))
	var sum crypto.ID
	h.Sum(sum[:0])
	if sum != id {
		c.problem("pack", id.String(), "content does not match its name: the pack is damaged")
	}
	// The pack's own header must be readable (it rebuilds a lost index).
	hl, err := pack.ParseTrailer(tail[max(0, len(tail)-pack.TrailerSize):], total)
	switch {
	case err != nil:
		c.problem("pack", id.String(), "header: "+err.Error())
	case hl+pack.TrailerSize > int64(len(tail)):
		c.problem("pack", id.String(), "header: overlaps the blobs the index places in the pack")
	default:
		start := total - pack.TrailerSize - hl
		sealed := tail[int64(len(tail))-pack.TrailerSize-hl : int64(len(tail))-pack.TrailerSize]
		if _, err := pack.DecodeHeader(c.r.Key(), sealed, start); err != nil {
			c.problem("pack", id.String(), "header: "+err.Error())
		}
	}
}

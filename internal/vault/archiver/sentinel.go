package archiver

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"sync"

	"github.com/rempart/rempart/internal/sentinel"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
)

// collector gathers, while the walk and the workers run, everything
// sentinel.Assess needs: the new and changed files with their features and
// their previous version's, the files of the parent that are gone, and how
// many stayed the same. Unlike the rest of the backup its memory grows with
// the number of new or changed files (a few hundred bytes each), which a
// first backup makes all of them; the detection needs them together.
//
// A nil collector (Options.NoSentinel) records nothing, so the call sites
// need no test.
type collector struct {
	mu sync.Mutex
	in sentinel.Input
	// changes fill blocks of fixed capacity, joined once before Assess: a
	// single growing slice would copy every change again and again (a
	// first backup has as many as there are files).
	changes [][]sentinel.Change
}

const changeBlock = 4096

func newCollector(parent *snapshot.Snapshot) *collector {
	c := &collector{}
	if parent != nil {
		c.in.ParentID = parent.ID.String()
		c.in.Parent = parseReport(parent.Sentinel)
	}
	return c
}

// parseReport reads a stored report; nil when absent or unreadable (the
// detection then works without the parent's view).
func parseReport(raw json.RawMessage) *sentinel.Report {
	if len(raw) == 0 {
		return nil
	}
	var r sentinel.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		slog.Debug("sentinel: stored report unreadable", "err", err)
		return nil
	}
	return &r
}

// parseFeatures reads a node's stored features; nil when absent (a node
// written without Sentinel) or unreadable.
func parseFeatures(raw json.RawMessage) *sentinel.Features {
	if len(raw) == 0 {
		return nil
	}
	var f sentinel.Features
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil
	}
	return &f
}

// contentKey names a file's content by its chunk IDs: equal keys mean equal
// bytes (chunk IDs are keyed hashes of the plaintext), so the detection
// recognises a file that was only renamed or copied. Empty files get no key:
// they all look alike and would make every new empty file a "rename".
func contentKey(ids []crypto.ID) string {
	if len(ids) == 0 {
		return ""
	}
	h := crypto.NewHasher()
	for _, id := range ids {
		_, _ = h.Write(id[:])
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return hex.EncodeToString(sum[:16])
}

// unchanged counts a file that was not read again (same metadata as the
// parent's) or read to the same content.
func (c *collector) unchanged() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.in.Unchanged++
	c.mu.Unlock()
}

// read records a file whose content was read. A file read again that turns
// out to hold the parent's bytes (only its times changed) is unchanged.
func (c *collector) read(p string, size uint64, content []crypto.ID, prev *tree.Node, cur sentinel.Features) {
	if c == nil {
		return
	}
	if prev != nil && contentEqual(content, prev.Content) {
		c.unchanged()
		return
	}
	ch := sentinel.Change{Path: p, Size: int64(size), Cur: cur, ContentKey: contentKey(content)}
	if prev != nil {
		ch.Prev = parseFeatures(prev.Sentinel)
	}
	c.mu.Lock()
	if n := len(c.changes); n == 0 || len(c.changes[n-1]) == changeBlock {
		c.changes = append(c.changes, make([]sentinel.Change, 0, changeBlock))
	}
	last := &c.changes[len(c.changes)-1]
	*last = append(*last, ch)
	c.mu.Unlock()
}

// gone records a file of the parent that is no longer there.
func (c *collector) gone(p string, prev *tree.Node) {
	if c == nil || prev.Type != tree.File {
		return
	}
	d := sentinel.Deletion{Path: p, Size: int64(prev.Size), Prev: parseFeatures(prev.Sentinel), ContentKey: contentKey(prev.Content)}
	c.mu.Lock()
	c.in.Deleted = append(c.in.Deleted, d)
	c.mu.Unlock()
}

// goneTree records every file below a folder of the parent that vanished
// entirely. Only then is the parent's subtree read: a folder still present
// is compared entry by entry as the walk goes.
func (c *collector) goneTree(ctx context.Context, r *repo.Repository, p string, prev *tree.Node) {
	if c == nil || prev.Subtree == nil {
		return
	}
	t, err := r.LoadTree(ctx, *prev.Subtree)
	if err != nil {
		return // the parent is damaged there: nothing to compare with
	}
	for _, n := range t.Nodes {
		np := path.Join(p, n.Name)
		switch n.Type {
		case tree.File:
			c.gone(np, n)
		case tree.Dir:
			c.goneTree(ctx, r, np, n)
		}
	}
}

// compare records what the parent held in folder dir and the folder no
// longer does: names gone, and files or folders replaced by something of
// another type. entries is the folder's listing now, sorted by name as
// os.ReadDir returns it; excluded or unreadable entries still count as
// present, so that a new --exclude does not look like a mass deletion.
func (c *collector) compare(ctx context.Context, r *repo.Repository, dir string, entries []fs.DirEntry, prevTree *tree.Tree) {
	if c == nil || prevTree == nil {
		return
	}
	i := 0
	for _, pn := range prevTree.Nodes {
		for i < len(entries) && entries[i].Name() < pn.Name {
			i++
		}
		var cur fs.DirEntry
		if i < len(entries) && entries[i].Name() == pn.Name {
			cur = entries[i]
		}
		p := path.Join(dir, pn.Name)
		switch pn.Type {
		case tree.File:
			if cur == nil || !cur.Type().IsRegular() {
				c.gone(p, pn)
			}
		case tree.Dir:
			if cur == nil || !cur.IsDir() {
				c.goneTree(ctx, r, p, pn)
			}
		}
	}
}

// assess judges the snapshot. The workers append in no fixed order: sorting
// makes the input, and so the report, the same for the same files.
func (c *collector) assess() sentinel.Report {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.in.Changes)
	for _, b := range c.changes {
		n += len(b)
	}
	all := make([]sentinel.Change, 0, n)
	all = append(all, c.in.Changes...)
	for _, b := range c.changes {
		all = append(all, b...)
	}
	c.in.Changes, c.changes = all, nil
	sort.Slice(c.in.Changes, func(i, j int) bool { return c.in.Changes[i].Path < c.in.Changes[j].Path })
	sort.Slice(c.in.Deleted, func(i, j int) bool { return c.in.Deleted[i].Path < c.in.Deleted[j].Path })
	return assess(c.in)
}

// assess is sentinel.Assess; tests replace it to see the input.
var assess = sentinel.Assess

// FlagOf maps a verdict to the plain header flag. A verdict this version
// does not know is treated as suspect: better a needless alert than a
// missed one.
func FlagOf(v sentinel.Verdict) snapshot.Flag {
	switch v {
	case sentinel.Clean:
		return snapshot.FlagClean
	case sentinel.Infected:
		return snapshot.FlagInfected
	}
	return snapshot.FlagSuspect
}

// ReportOf returns the Sentinel report stored in a snapshot, or nil when it
// was written without one.
func ReportOf(sn *snapshot.Snapshot) *sentinel.Report { return parseReport(sn.Sentinel) }

// featuresJSON is what a file node stores.
func featuresJSON(f sentinel.Features) json.RawMessage {
	return f.AppendJSON(make([]byte, 0, 128))
}

// reportJSON is what the snapshot body stores.
func reportJSON(r sentinel.Report) json.RawMessage {
	b, err := json.Marshal(r)
	if err != nil {
		return nil
	}
	return b
}

package restorer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rempart/rempart/internal/sentinel"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
)

// ErrNotAssessed means a snapshot carries no Sentinel report, so nothing
// says which of its files are clean.
var ErrNotAssessed = errors.New("snapshot was not assessed by Sentinel")

// CleanFile is an affected file brought back from an earlier snapshot.
type CleanFile struct {
	Path     string `json:"path"`     // where it is restored (its name before the attack)
	Snapshot string `json:"snapshot"` // the clean snapshot it comes from
	// Affected is the path the snapshot holds instead when the attack
	// renamed the file (x.docx.locked); empty when the same.
	Affected string `json:"affected,omitempty"`
}

// SkippedFile is an affected file that is not restored, and why.
type SkippedFile struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// LastCleanResult says where every file of a last-clean restore came from.
type LastCleanResult struct {
	Snapshot   string        `json:"snapshot_id"`
	FromLatest uint64        `json:"from_snapshot"` // files, symlinks... restored from the snapshot itself
	FromClean  []CleanFile   `json:"from_clean"`
	Skipped    []SkippedFile `json:"skipped"`
	Dirs       uint64        `json:"dirs"`
	Bytes      uint64        `json:"bytes"`
	Errors     []FileError   `json:"errors,omitempty"`
}

// LastClean restores snapshot sn like Restore, except for the files its
// Sentinel report lists as affected: each comes from the latest snapshot
// where it was clean (under its name there, when the attack renamed it),
// and those with no clean version (ransom notes, files the attack created)
// are left out. It is two kinds of ordinary restores into the same target:
// one per clean snapshot with Only, then sn itself with Skip, so that the
// latest folders' metadata is applied last. opts.Include and opts.Only
// must be empty.
func LastClean(ctx context.Context, r *repo.Repository, sn *snapshot.Snapshot, opts Options) (*LastCleanResult, error) {
	if len(opts.Include) > 0 || opts.Only != nil {
		return nil, errors.New("restorer: LastClean restores whole snapshots")
	}
	if len(sn.Sentinel) == 0 {
		return nil, fmt.Errorf("%w (%s)", ErrNotAssessed, sn.ID.Short())
	}
	var rep sentinel.Report
	if err := json.Unmarshal(sn.Sentinel, &rep); err != nil {
		return nil, fmt.Errorf("snapshot %s: Sentinel report unreadable: %w", sn.ID.Short(), err)
	}
	res := &LastCleanResult{Snapshot: sn.ID.String(), FromClean: []CleanFile{}, Skipped: []SkippedFile{}}
	skip := map[string]bool{}
	for _, a := range rep.Affected {
		skip[a.Path] = true
	}
	// What each clean snapshot gives: source path -> the affected entry.
	plans := map[string]map[string]sentinel.Affected{}
	taken := map[string]string{} // restored path -> the affected path that brings it
	affected := append([]sentinel.Affected(nil), rep.Affected...)
	sort.Slice(affected, func(i, j int) bool { return affected[i].Path < affected[j].Path })
	for _, a := range affected {
		if a.LastClean == "" {
			res.Skipped = append(res.Skipped, SkippedFile{a.Path, "no clean version: made by the attack (ransom note, encrypted copy) or never backed up clean"})
			continue
		}
		src := a.Path
		if a.LastCleanPath != "" {
			src = a.LastCleanPath
		}
		if other, ok := taken[src]; ok {
			res.Skipped = append(res.Skipped, SkippedFile{a.Path, fmt.Sprintf("its clean version %s is already restored (for %s)", src, other)})
			continue
		}
		if src != a.Path && !skip[src] {
			// The original name is in the snapshot and does not look
			// hit: that newer version wins over the renamed copy.
			n, err := Lookup(ctx, r, sn, src)
			if err != nil {
				return nil, err
			}
			if n != nil {
				res.Skipped = append(res.Skipped, SkippedFile{a.Path, fmt.Sprintf("%s is intact in the snapshot", src)})
				continue
			}
		}
		taken[src] = a.Path
		if plans[a.LastClean] == nil {
			plans[a.LastClean] = map[string]sentinel.Affected{}
		}
		plans[a.LastClean][src] = a
	}

	ids := make([]string, 0, len(plans))
	for id := range plans {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var missing int
	for _, id := range ids {
		plan := plans[id]
		srcs := make([]string, 0, len(plan))
		for src := range plan {
			srcs = append(srcs, src)
		}
		sort.Strings(srcs)
		clean, err := findByID(ctx, r, id)
		if err != nil {
			for _, src := range srcs {
				res.Skipped = append(res.Skipped, SkippedFile{plan[src].Path, fmt.Sprintf("clean snapshot %s cannot be read: %v", short(id), err)})
				missing++
			}
			continue
		}
		only := map[string]bool{}
		for _, src := range srcs {
			n, err := Lookup(ctx, r, clean, src)
			if err != nil {
				return res, err
			}
			if n == nil || n.Type != tree.File {
				res.Skipped = append(res.Skipped, SkippedFile{plan[src].Path, fmt.Sprintf("not found in clean snapshot %s", clean.ID.Short())})
				missing++
				continue
			}
			only[src] = true
			cf := CleanFile{Path: src, Snapshot: clean.ID.String()}
			if a := plan[src]; a.Path != src {
				cf.Affected = a.Path
			}
			res.FromClean = append(res.FromClean, cf)
		}
		if len(only) == 0 {
			continue
		}
		o := opts
		o.Only = only
		sub, err := Restore(ctx, r, clean, o)
		res.add(sub)
		if err != nil && !errors.Is(err, ErrDamaged) {
			return res, err
		}
	}

	o := opts
	o.Skip = skip
	sub, err := Restore(ctx, r, sn, o)
	if sub != nil {
		res.FromLatest = sub.Files
	}
	res.add(sub)
	if err != nil && !errors.Is(err, ErrDamaged) {
		return res, err
	}
	sort.Slice(res.FromClean, func(i, j int) bool { return res.FromClean[i].Path < res.FromClean[j].Path })
	sort.Slice(res.Skipped, func(i, j int) bool { return res.Skipped[i].Path < res.Skipped[j].Path })
	if len(res.Errors) > 0 {
		return res, fmt.Errorf("%w: %d problem(s)", ErrDamaged, len(res.Errors))
	}
	if missing > 0 {
		return res, fmt.Errorf("%d affected file(s) have no readable clean version (listed as skipped)", missing)
	}
	return res, nil
}

func (res *LastCleanResult) add(sub *Result) {
	if sub == nil {
		return
	}
	res.Dirs += sub.Dirs
	res.Bytes += sub.Bytes
	res.Errors = append(res.Errors, sub.Errors...)
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func findByID(ctx context.Context, r *repo.Repository, id string) (*snapshot.Snapshot, error) {
	sid, err := crypto.ParseID(id)
	if err != nil {
		return nil, err
	}
	return r.LoadSnapshot(ctx, sid)
}

// Lookup returns the node at path p (absolute, slash-separated, as the
// snapshot records it) in snapshot sn, or nil when there is none. It reads
// only the folders on the way.
func Lookup(ctx context.Context, r *repo.Repository, sn *snapshot.Snapshot, p string) (*tree.Node, error) {
	id := sn.Tree
	parts := strings.Split(strings.Trim(p, "/"), "/")
	if len(parts) == 1 && parts[0] == "" {
		return &tree.Node{Type: tree.Dir, Subtree: &id}, nil
	}
	for i, part := range parts {
		t, err := r.LoadTree(ctx, id)
		if err != nil {
			return nil, err
		}
		n := t.Find(part)
		if n == nil {
			return nil, nil
		}
		if i == len(parts)-1 {
			return n, nil
		}
		if n.Type != tree.Dir || n.Subtree == nil {
			return nil, nil
		}
		id = *n.Subtree
	}
	return nil, nil
}

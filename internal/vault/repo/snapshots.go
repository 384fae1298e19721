package repo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

// SaveSnapshot writes a snapshot that references packs. Call it only after
// Flush: a snapshot must never name a pack that is not stored yet.
func (r *Repository) SaveSnapshot(ctx context.Context, s *snapshot.Snapshot, packs []crypto.ID) (crypto.ID, error) {
	buf, err := snapshot.Encode(r.key, s, packs)
	if err != nil {
		return crypto.ID{}, err
	}
	id := crypto.Hash(buf)
	if err := r.be.Save(ctx, backend.Handle{Type: backend.Snapshot, Name: id.String()}, buf); err != nil {
		if errors.Is(err, backend.ErrPacksMissing) {
			return crypto.ID{}, r.collected(ctx, packs, err)
		}
		return crypto.ID{}, fmt.Errorf("writing snapshot: %w", err)
	}
	s.ID = id
	s.Packs = snapshot.SortUnique(packs)
	return id, nil
}

// ErrPackCollected means the server refused a new snapshot because a pack
// it needs was deleted by the server's garbage collection while the backup
// ran (the backup reused blobs of a pack that no kept snapshot named any
// more). Nothing is lost: running the backup again stores those blobs anew.
var ErrPackCollected = errors.New("a pack this backup needs was collected by the server")

// PackCollectedError is ErrPackCollected naming the packs.
type PackCollectedError struct {
	Packs []string // hex IDs, as the server named them (may be empty)
	Err   error    // the storage's refusal
}

func (e *PackCollectedError) Error() string {
	if len(e.Packs) == 0 {
		return "the server collected a pack while this backup ran (garbage collection); run the backup again"
	}
	name := e.Packs[0]
	if len(name) > 8 {
		name = name[:8]
	}
	more := ""
	if len(e.Packs) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(e.Packs)-1)
	}
	return fmt.Sprintf("the server collected pack %s%s while this backup ran (garbage collection); run the backup again", name, more)
}

// Unwrap gives errors.Is both ErrPackCollected and the storage's error.
func (e *PackCollectedError) Unwrap() []error { return []error{ErrPackCollected, e.Err} }

// collected explains a snapshot refused for missing packs. The packs the
// server named are marked gone so that a retry in the same process stores
// their blobs again; when it named none, one listing finds them (this is
// the failure path, so its cost does not matter).
func (r *Repository) collected(ctx context.Context, packs []crypto.ID, err error) error {
	var names []string
	var pm *backend.PacksMissingError
	if errors.As(err, &pm) {
		names = append(names, pm.Packs...)
	}
	if len(names) == 0 {
		if stored, lerr := r.ListPacks(ctx); lerr == nil {
			for _, p := range snapshot.SortUnique(packs) {
				if _, ok := stored[p]; !ok {
					names = append(names, p.String())
				}
			}
		}
	}
	for _, n := range names {
		if id, perr := crypto.ParseID(n); perr == nil {
			r.idx.MarkGone(id)
		}
	}
	return &PackCollectedError{Packs: names, Err: err}
}

// LoadSnapshot reads one snapshot by full ID.
func (r *Repository) LoadSnapshot(ctx context.Context, id crypto.ID) (*snapshot.Snapshot, error) {
	buf, err := r.be.Load(ctx, backend.Handle{Type: backend.Snapshot, Name: id.String()}, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id.Short(), err)
	}
	if crypto.Hash(buf) != id {
		return nil, fmt.Errorf("snapshot %s: %w: content does not match its name", id.Short(), snapshot.ErrFormat)
	}
	s, err := snapshot.Decode(r.key, buf)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id.Short(), err)
	}
	return s, nil
}

// SnapshotProblem is a snapshot file that could not be read.
type SnapshotProblem struct {
	Name string
	Err  error
}

// Snapshots loads every snapshot, oldest first. Unreadable ones are
// returned apart so that one damaged file never hides the others.
func (r *Repository) Snapshots(ctx context.Context) ([]*snapshot.Snapshot, []SnapshotProblem, error) {
	var out []*snapshot.Snapshot
	var problems []SnapshotProblem
	err := r.be.List(ctx, backend.Snapshot, func(fi backend.FileInfo) error {
		id, err := crypto.ParseID(fi.Name)
		if err != nil {
			problems = append(problems, SnapshotProblem{fi.Name, err})
			return nil
		}
		s, err := r.LoadSnapshot(ctx, id)
		if err != nil {
			problems = append(problems, SnapshotProblem{fi.Name, err})
			return nil
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing snapshots: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, problems, nil
}

// ErrNoSnapshot means no snapshot matched.
var ErrNoSnapshot = errors.New("no matching snapshot")

// FindSnapshot resolves "latest" or an ID prefix (at least 4 hex digits).
func (r *Repository) FindSnapshot(ctx context.Context, ref string) (*snapshot.Snapshot, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if ref == "" {
		return nil, errors.New("no snapshot given: use an ID from `rempart snapshots`, or latest")
	}
	if id, err := crypto.ParseID(ref); err == nil {
		return r.LoadSnapshot(ctx, id)
	}
	all, _, err := r.Snapshots(ctx)
	if err != nil {
		return nil, err
	}
	if ref == "latest" {
		if len(all) == 0 {
			return nil, fmt.Errorf("%w: the repository has no snapshot yet", ErrNoSnapshot)
		}
		return all[len(all)-1], nil
	}
	if len(ref) < 4 {
		return nil, fmt.Errorf("snapshot ID %q is too short: give at least 4 characters", ref)
	}
	var found *snapshot.Snapshot
	for _, s := range all {
		if strings.HasPrefix(s.ID.String(), ref) {
			if found != nil {
				return nil, fmt.Errorf("snapshot ID %q is ambiguous: give more characters", ref)
			}
			found = s
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no snapshot ID starts with %q (see `rempart snapshots`)", ErrNoSnapshot, ref)
	}
	return found, nil
}

// RemoveSnapshot deletes a snapshot file (forget).
func (r *Repository) RemoveSnapshot(ctx context.Context, id crypto.ID) error {
	return r.be.Remove(ctx, backend.Handle{Type: backend.Snapshot, Name: id.String()})
}

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
		return crypto.ID{}, fmt.Errorf("writing snapshot: %w", err)
	}
	s.ID = id
	s.Packs = snapshot.SortUnique(packs)
	return id, nil
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

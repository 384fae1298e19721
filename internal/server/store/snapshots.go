package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SnapshotRecord is what the server knows about one snapshot file of a
// tenant without being able to read it: when it arrived by the server's
// own clock, who sent it, and until when nobody may remove it.
type SnapshotRecord struct {
	TenantID  int64
	Name      string
	Received  time.Time
	Writer    string // the principal that uploaded it ("agent:12"); "" if unknown
	Size      int64
	LockUntil time.Time // zero: no lock beyond append-only
	Deleted   time.Time // zero while stored
}

// RecordSnapshot notes a snapshot the server has just stored. Recording the
// same name again keeps the first record: the first arrival is the one
// that counts, and a replayed upload cannot move a snapshot in time.
func (s *Store) RecordSnapshot(ctx context.Context, r SnapshotRecord) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO snapshots (tenant_id, name, received_at, writer, size, lock_until)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, name) DO NOTHING`),
		r.TenantID, r.Name, dbTime(r.Received), r.Writer, r.Size, dbTime(r.LockUntil))
	if err != nil {
		return fmt.Errorf("store: record snapshot %s: %w", r.Name, err)
	}
	return nil
}

// Snapshots returns the tenant's snapshot records, oldest first; deleted
// ones only when withDeleted.
func (s *Store) Snapshots(ctx context.Context, tenantID int64, withDeleted bool) ([]SnapshotRecord, error) {
	q := `SELECT tenant_id, name, received_at, writer, size, lock_until, deleted_at FROM snapshots WHERE tenant_id = ?`
	if !withDeleted {
		q += ` AND deleted_at IS NULL`
	}
	rows, err := s.db.QueryContext(ctx, s.q(q+` ORDER BY received_at, name`), tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list snapshots: %w", err)
	}
	defer rows.Close()
	var out []SnapshotRecord
	for rows.Next() {
		var r SnapshotRecord
		var received, lock int64
		var deleted sql.NullInt64
		if err := rows.Scan(&r.TenantID, &r.Name, &received, &r.Writer, &r.Size, &lock, &deleted); err != nil {
			return nil, fmt.Errorf("store: list snapshots: %w", err)
		}
		r.Received = goTime(received)
		if lock != 0 {
			r.LockUntil = goTime(lock)
		}
		r.Deleted = goTimeNull(deleted)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list snapshots: %w", err)
	}
	return out, nil
}

// MarkSnapshotDeleted records that retention removed a snapshot. A locked
// snapshot cannot be marked: ErrLocked.
func (s *Store) MarkSnapshotDeleted(ctx context.Context, tenantID int64, name string) error {
	now := s.now()
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE snapshots SET deleted_at = ?
		WHERE tenant_id = ? AND name = ? AND deleted_at IS NULL AND lock_until <= ?`),
		dbTime(now), tenantID, name, dbTime(now))
	if err != nil {
		return fmt.Errorf("store: snapshot %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: snapshot %s: %w (locked, unknown or already deleted)", name, ErrLocked)
	}
	return nil
}

// ErrLocked refuses to remove what a retention lock protects, or to shorten
// a lock.
var ErrLocked = errors.New("protected by a retention lock")

// SetRetention replaces a tenant's retention policy now (policy is a JSON
// object), dropping any looser policy that was waiting.
func (s *Store) SetRetention(ctx context.Context, tenantID int64, policy json.RawMessage) error {
	p, err := jsonObject(policy)
	if err != nil {
		return fmt.Errorf("store: retention policy: %w", err)
	}
	return s.updateTenant(ctx, tenantID, `retention_policy = ?, retention_pending = NULL, retention_pending_at = NULL`, string(p))
}

// SetPendingRetention schedules policy to replace the current one at at.
func (s *Store) SetPendingRetention(ctx context.Context, tenantID int64, policy json.RawMessage, at time.Time) error {
	p, err := jsonObject(policy)
	if err != nil {
		return fmt.Errorf("store: retention policy: %w", err)
	}
	return s.updateTenant(ctx, tenantID, `retention_pending = ?, retention_pending_at = ?`, string(p), dbTime(at))
}

// ApplyPendingRetention makes a waiting policy current once its time has
// come; it reports whether it did.
func (s *Store) ApplyPendingRetention(ctx context.Context, tenantID int64) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE tenants SET retention_policy = retention_pending,
		retention_pending = NULL, retention_pending_at = NULL
		WHERE id = ? AND retention_pending IS NOT NULL AND retention_pending_at <= ?`), tenantID, dbTime(s.now()))
	if err != nil {
		return false, fmt.Errorf("store: apply pending retention: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// SetLockDays changes how long new snapshots of a tenant are locked. A lock
// can be lengthened, never shortened (ErrLocked).
func (s *Store) SetLockDays(ctx context.Context, tenantID int64, days int) error {
	if days < 0 || days > maxLockDays {
		return fmt.Errorf("store: lock of %d days: %w", days, ErrInvalid)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var raw string
		err := tx.QueryRowContext(ctx, s.q(`SELECT lock_settings FROM tenants WHERE id = ?`), tenantID).Scan(&raw)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: tenant %d: %w", tenantID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: tenant %d: %w", tenantID, err)
		}
		var cur LockSettings
		if err := json.Unmarshal([]byte(raw), &cur); err != nil {
			return fmt.Errorf("store: tenant %d: lock settings: %w", tenantID, err)
		}
		if days < cur.Days {
			return fmt.Errorf("store: the lock is %d days and can never be shortened (asked: %d): %w", cur.Days, days, ErrLocked)
		}
		b, err := json.Marshal(LockSettings{Days: days})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE tenants SET lock_settings = ? WHERE id = ?`), string(b), tenantID)
		return err
	})
}

func (s *Store) updateTenant(ctx context.Context, id int64, set string, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE tenants SET `+set+` WHERE id = ?`), append(args, id)...)
	if err != nil {
		return fmt.Errorf("store: tenant %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: tenant %d: %w", id, ErrNotFound)
	}
	return nil
}

// GCRun is the outcome of one garbage collection of a tenant.
type GCRun struct {
	TenantID         int64     `json:"-"`
	Started          time.Time `json:"started"`
	Finished         time.Time `json:"finished"`
	DryRun           bool      `json:"dry_run"`
	SnapshotsKept    int       `json:"snapshots_kept"`
	SnapshotsDeleted int       `json:"snapshots_deleted"`
	PacksDeleted     int       `json:"packs_deleted"`
	BytesFreed       int64     `json:"bytes_freed"`
	LocksRemoved     int       `json:"locks_removed"`
	Error            string    `json:"error,omitempty"` // "" when it completed
}

// RecordGCRun keeps the outcome of a collection (the console shows the last
// one per tenant).
func (s *Store) RecordGCRun(ctx context.Context, r GCRun) error {
	dry := 0
	if r.DryRun {
		dry = 1
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO gc_runs (tenant_id, started_at, finished_at, dry_run,
		snapshots_kept, snapshots_deleted, packs_deleted, bytes_freed, locks_removed, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.TenantID, dbTime(r.Started), dbTime(r.Finished), dry, r.SnapshotsKept, r.SnapshotsDeleted,
		r.PacksDeleted, r.BytesFreed, r.LocksRemoved, r.Error)
	if err != nil {
		return fmt.Errorf("store: record collection: %w", err)
	}
	return nil
}

// LastGCRun returns the tenant's latest collection that was not a dry run;
// ErrNotFound when there was none.
func (s *Store) LastGCRun(ctx context.Context, tenantID int64) (GCRun, error) {
	var r GCRun
	var started, finished, dry int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT tenant_id, started_at, finished_at, dry_run, snapshots_kept,
		snapshots_deleted, packs_deleted, bytes_freed, locks_removed, error
		FROM gc_runs WHERE tenant_id = ? AND dry_run = 0 ORDER BY id DESC LIMIT 1`), tenantID).Scan(
		&r.TenantID, &started, &finished, &dry, &r.SnapshotsKept, &r.SnapshotsDeleted,
		&r.PacksDeleted, &r.BytesFreed, &r.LocksRemoved, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return GCRun{}, fmt.Errorf("store: last collection: %w", ErrNotFound)
	}
	if err != nil {
		return GCRun{}, fmt.Errorf("store: last collection: %w", err)
	}
	r.Started, r.Finished, r.DryRun = goTime(started), goTime(finished), dry != 0
	return r, nil
}

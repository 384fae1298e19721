package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// DrillSchedule is a tenant's drill schedule (docs/drills.md): every
// service of its plan is drilled every EveryDays days at At (HH:MM, the
// server's time zone). The server computes Next; the store keeps it.
type DrillSchedule struct {
	TenantID  int64
	EveryDays int
	At        string
	Next      time.Time
	LastRun   time.Time
	Updated   time.Time
	UpdatedBy string
}

var hhmm = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// ValidScheduleTime says whether at is a time of day as HH:MM.
func ValidScheduleTime(at string) bool { return hhmm.MatchString(at) }

const scheduleColumns = `tenant_id, every_days, at_time, next_run_at, last_run_at, updated_at, updated_by`

func scanSchedule(sc interface{ Scan(...any) error }) (DrillSchedule, error) {
	var d DrillSchedule
	var next, updated int64
	var last sql.NullInt64
	err := sc.Scan(&d.TenantID, &d.EveryDays, &d.At, &next, &last, &updated, &d.UpdatedBy)
	d.Next, d.LastRun, d.Updated = goTime(next), goTimeNull(last), goTime(updated)
	return d, err
}

// DrillScheduleOf returns a tenant's schedule; ErrNotFound when it has
// none (drills are not scheduled).
func (s *Store) DrillScheduleOf(ctx context.Context, tenantID int64) (DrillSchedule, error) {
	d, err := scanSchedule(s.db.QueryRowContext(ctx, s.q(`SELECT `+scheduleColumns+` FROM drill_schedules WHERE tenant_id = ?`), tenantID))
	if errors.Is(err, sql.ErrNoRows) {
		return DrillSchedule{}, fmt.Errorf("store: drill schedule: %w", ErrNotFound)
	}
	if err != nil {
		return DrillSchedule{}, fmt.Errorf("store: drill schedule: %w", err)
	}
	return d, nil
}

// SetDrillSchedule sets a tenant's schedule (d.EveryDays 0: removes it),
// keeping when it last ran.
func (s *Store) SetDrillSchedule(ctx context.Context, d DrillSchedule) (DrillSchedule, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	if d.EveryDays == 0 {
		if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM drill_schedules WHERE tenant_id = ?`), d.TenantID); err != nil {
			return DrillSchedule{}, fmt.Errorf("store: remove drill schedule: %w", err)
		}
		return DrillSchedule{TenantID: d.TenantID, Updated: now, UpdatedBy: d.UpdatedBy}, nil
	}
	if d.EveryDays < 1 || d.EveryDays > 365 || !ValidScheduleTime(d.At) || d.Next.IsZero() || d.UpdatedBy == "" {
		return DrillSchedule{}, fmt.Errorf("store: drill schedule every %d days at %q: %w", d.EveryDays, d.At, ErrInvalid)
	}
	if err := s.tenantExists(ctx, s.db, d.TenantID); err != nil {
		return DrillSchedule{}, fmt.Errorf("store: set drill schedule: %w", err)
	}
	d.Updated, d.Next = now, d.Next.UTC().Truncate(time.Microsecond)
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO drill_schedules (tenant_id, every_days, at_time, next_run_at, updated_at, updated_by)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET every_days = excluded.every_days, at_time = excluded.at_time,
		next_run_at = excluded.next_run_at, updated_at = excluded.updated_at, updated_by = excluded.updated_by`),
		d.TenantID, d.EveryDays, d.At, dbTime(d.Next), dbTime(now), d.UpdatedBy); err != nil {
		return DrillSchedule{}, fmt.Errorf("store: set drill schedule: %w", err)
	}
	return s.DrillScheduleOf(ctx, d.TenantID)
}

// DueDrillSchedules lists the schedules whose next run is at or before
// now.
func (s *Store) DueDrillSchedules(ctx context.Context, now time.Time) ([]DrillSchedule, error) {
	return queryRows(ctx, s, "due drill schedules", scanSchedule, `SELECT `+scheduleColumns+` FROM drill_schedules
		WHERE next_run_at <= ? ORDER BY tenant_id`, dbTime(now))
}

// MarkDrillScheduleRun records that the schedule of a tenant ran at ran
// and next runs at next, if it was still due at was (a schedule changed
// meanwhile is left as set: ErrConflict).
func (s *Store) MarkDrillScheduleRun(ctx context.Context, tenantID int64, was, ran, next time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE drill_schedules SET last_run_at = ?, next_run_at = ? WHERE tenant_id = ? AND next_run_at = ?`),
		dbTime(ran), dbTime(next), tenantID, dbTime(was))
	if err != nil {
		return fmt.Errorf("store: drill schedule run: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("store: drill schedule of tenant %d changed meanwhile: %w", tenantID, ErrConflict)
	}
	return nil
}

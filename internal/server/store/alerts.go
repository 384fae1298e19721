package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinel alerts. A snapshot's plain header carries a coarse verdict flag
// (docs/format.md): the server records it with the snapshot, and a suspect
// or infected snapshot opens an alert. While a tenant has an open alert its
// retention expires nothing; an admin closes the alert, with a note.

// Flags as recorded (the values of the snapshot header's flag byte).
const (
	FlagNone     = 0 // no assessment (or recorded before Sentinel)
	FlagClean    = 1
	FlagSuspect  = 2
	FlagInfected = 3
)

// Kinds of alerts. A Sentinel alert (a suspect or infected snapshot)
// freezes the tenant's retention while it is open; a drill alert (a failed
// or slow restore drill) does not: it asks people to look, nothing else.
const (
	AlertSentinel = "sentinel"
	AlertDrill    = "drill"
)

// ErrAlreadyClosed refuses to close an alert twice.
var ErrAlreadyClosed = errors.New("alert already closed")

// maxCloseNote bounds the note of a closed alert, in bytes.
const maxCloseNote = 4000

// Alert is one suspect or infected snapshot reported to people.
type Alert struct {
	ID       int64
	Kind     string // AlertSentinel or AlertDrill
	TenantID int64
	Tenant   string // the tenant's name
	Snapshot string // the snapshot's file name (its ID); "drill:ID" for a drill alert
	Flag     int    // FlagSuspect or FlagInfected (FlagNone for a drill alert)
	Source   string // who sent the snapshot ("agent:12"), or the drill record
	// Detail says why, for a drill alert ("drill of paie failed: ...").
	Detail string
	Opened time.Time
	// CleanSnapshot is the last snapshot of the same source received
	// before Snapshot and not flagged suspect or infected: the clean
	// restore point, frozen while the alert is open ("" if there was none).
	CleanSnapshot string
	CleanReceived time.Time
	Closed        time.Time // zero while open
	ClosedBy      string
	CloseNote     string
}

// IsOpen reports whether the alert is still open.
func (a Alert) IsOpen() bool { return a.Closed.IsZero() }

// NewAlert describes an alert to open.
type NewAlert struct {
	TenantID      int64
	Snapshot      string
	Flag          int
	Source        string
	CleanSnapshot string
	CleanReceived time.Time
}

// OpenAlert opens an alert for a snapshot, or returns the alert that
// snapshot already has (open or closed: a replayed upload never reopens
// one); created says which.
func (s *Store) OpenAlert(ctx context.Context, n NewAlert) (Alert, bool, error) {
	if n.Snapshot == "" || (n.Flag != FlagSuspect && n.Flag != FlagInfected) {
		return Alert{}, false, fmt.Errorf("store: open alert: %w: a suspect or infected snapshot is needed", ErrInvalid)
	}
	var id int64
	created := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.tenantExists(ctx, tx, n.TenantID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO alerts (tenant_id, snapshot, flag, source, opened_at, clean_snapshot, clean_received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, snapshot) DO NOTHING RETURNING id`),
			n.TenantID, n.Snapshot, n.Flag, n.Source, dbTime(s.now()), n.CleanSnapshot, dbTimeNull(n.CleanReceived)).Scan(&id)
		if err == nil {
			created = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return tx.QueryRowContext(ctx, s.q(`SELECT id FROM alerts WHERE tenant_id = ? AND snapshot = ?`), n.TenantID, n.Snapshot).Scan(&id)
	})
	if err != nil {
		return Alert{}, false, fmt.Errorf("store: open alert for snapshot %s: %w", n.Snapshot, err)
	}
	a, err := s.Alert(ctx, id)
	return a, created, err
}

const alertColumns = `a.id, a.tenant_id, t.name, a.snapshot, a.flag, a.source, a.opened_at, a.clean_snapshot,
	a.clean_received_at, a.closed_at, a.closed_by, a.close_note, a.kind, a.detail`

func scanAlert(sc interface{ Scan(...any) error }) (Alert, error) {
	var a Alert
	var opened int64
	var cleanAt, closedAt sql.NullInt64
	var by, note sql.NullString
	if err := sc.Scan(&a.ID, &a.TenantID, &a.Tenant, &a.Snapshot, &a.Flag, &a.Source, &opened, &a.CleanSnapshot,
		&cleanAt, &closedAt, &by, &note, &a.Kind, &a.Detail); err != nil {
		return Alert{}, err
	}
	a.Opened, a.CleanReceived, a.Closed = goTime(opened), goTimeNull(cleanAt), goTimeNull(closedAt)
	a.ClosedBy, a.CloseNote = by.String, note.String
	return a, nil
}

// Alert returns one alert.
func (s *Store) Alert(ctx context.Context, id int64) (Alert, error) {
	a, err := scanAlert(s.db.QueryRowContext(ctx, s.q(`SELECT `+alertColumns+`
		FROM alerts a JOIN tenants t ON t.id = a.tenant_id WHERE a.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Alert{}, fmt.Errorf("store: alert %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Alert{}, fmt.Errorf("store: alert %d: %w", id, err)
	}
	return a, nil
}

// AlertState selects alerts by state.
type AlertState int

// States of AlertFilter.
const (
	AlertsOpen AlertState = iota
	AlertsClosed
	AlertsAll
)

// AlertFilter selects alerts: of one tenant (every tenant when TenantID is
// 0), by state, of one kind ("" for every kind).
type AlertFilter struct {
	TenantID int64
	State    AlertState
	Kind     string
}

// Alerts lists alerts, newest first.
func (s *Store) Alerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	query := `SELECT ` + alertColumns + ` FROM alerts a JOIN tenants t ON t.id = a.tenant_id WHERE 1 = 1`
	var args []any
	if f.TenantID != 0 {
		query += ` AND a.tenant_id = ?`
		args = append(args, f.TenantID)
	}
	if f.Kind != "" {
		query += ` AND a.kind = ?`
		args = append(args, f.Kind)
	}
	switch f.State {
	case AlertsOpen:
		query += ` AND a.closed_at IS NULL`
	case AlertsClosed:
		query += ` AND a.closed_at IS NOT NULL`
	}
	return queryRows(ctx, s, "list alerts", scanAlert, query+` ORDER BY a.id DESC`, args...)
}

// OpenAlerts lists a tenant's open Sentinel alerts (those that freeze its
// retention), oldest first.
func (s *Store) OpenAlerts(ctx context.Context, tenantID int64) ([]Alert, error) {
	list, err := s.Alerts(ctx, AlertFilter{TenantID: tenantID, State: AlertsOpen, Kind: AlertSentinel})
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list, err
}

// HasOpenAlert reports whether the tenant has an open Sentinel alert (one
// that freezes its retention).
func (s *Store) HasOpenAlert(ctx context.Context, tenantID int64) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM alerts WHERE tenant_id = ? AND closed_at IS NULL AND kind = ?`),
		tenantID, AlertSentinel).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("store: open alerts of tenant %d: %w", tenantID, err)
	}
	return n > 0, nil
}

// CloseAlert closes an open alert with who closed it and why (note is
// required). Closing it again is refused: ErrAlreadyClosed.
func (s *Store) CloseAlert(ctx context.Context, id int64, by, note string) (Alert, error) {
	note = strings.TrimSpace(note)
	if note == "" || len(note) > maxCloseNote || !utf8.ValidString(note) || strings.TrimSpace(by) == "" {
		return Alert{}, fmt.Errorf("store: close alert %d: %w: a note of 1 to %d bytes and who closes it are required", id, ErrInvalid, maxCloseNote)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE alerts SET closed_at = ?, closed_by = ?, close_note = ?
		WHERE id = ? AND closed_at IS NULL`), dbTime(s.now()), by, note, id)
	if err != nil {
		return Alert{}, fmt.Errorf("store: close alert %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		a, err := s.Alert(ctx, id)
		if err != nil {
			return Alert{}, err
		}
		return a, fmt.Errorf("store: alert %d, closed %s by %s: %w", id, a.Closed.Format(time.RFC3339), a.ClosedBy, ErrAlreadyClosed)
	}
	return s.Alert(ctx, id)
}

// SetSnapshotFlag records the verdict flag of a recorded snapshot. The flag
// is bound to the snapshot's content, hence to its name: setting it again
// writes the same value.
func (s *Store) SetSnapshotFlag(ctx context.Context, tenantID int64, name string, flag int) error {
	if flag < FlagNone || flag > FlagInfected {
		return fmt.Errorf("store: snapshot %s: flag %d: %w", name, flag, ErrInvalid)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE snapshots SET flag = ? WHERE tenant_id = ? AND name = ?`), flag, tenantID, name)
	if err != nil {
		return fmt.Errorf("store: snapshot %s: flag: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: snapshot %s: %w", name, ErrNotFound)
	}
	return nil
}

// SnapshotFlags maps the tenant's recorded snapshots (deleted ones too) to
// their flags.
func (s *Store) SnapshotFlags(ctx context.Context, tenantID int64) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT name, flag FROM snapshots WHERE tenant_id = ?`), tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: snapshot flags: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name string
		var flag int
		if err := rows.Scan(&name, &flag); err != nil {
			return nil, fmt.Errorf("store: snapshot flags: %w", err)
		}
		out[name] = flag
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: snapshot flags: %w", err)
	}
	return out, nil
}

// SnapshotRecordByName returns the record of one snapshot (deleted or not).
func (s *Store) SnapshotRecordByName(ctx context.Context, tenantID int64, name string) (SnapshotRecord, error) {
	r, err := s.snapshotRecord(ctx, `tenant_id = ? AND name = ?`, tenantID, name)
	if errors.Is(err, sql.ErrNoRows) {
		return SnapshotRecord{}, fmt.Errorf("store: snapshot %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return SnapshotRecord{}, fmt.Errorf("store: snapshot %s: %w", name, err)
	}
	return r, nil
}

// LastCleanSnapshot returns the latest snapshot still stored that source
// sent before the time before and that is not flagged suspect or infected
// (clean, or never assessed); ErrNotFound when there is none.
func (s *Store) LastCleanSnapshot(ctx context.Context, tenantID int64, source string, before time.Time) (SnapshotRecord, error) {
	r, err := s.snapshotRecord(ctx, `tenant_id = ? AND writer = ? AND received_at < ? AND flag IN (?, ?) AND deleted_at IS NULL
		ORDER BY received_at DESC, name DESC LIMIT 1`, tenantID, source, dbTime(before), FlagNone, FlagClean)
	if errors.Is(err, sql.ErrNoRows) {
		return SnapshotRecord{}, fmt.Errorf("store: last clean snapshot of %s: %w", source, ErrNotFound)
	}
	if err != nil {
		return SnapshotRecord{}, fmt.Errorf("store: last clean snapshot of %s: %w", source, err)
	}
	return r, nil
}

func (s *Store) snapshotRecord(ctx context.Context, where string, args ...any) (SnapshotRecord, error) {
	var r SnapshotRecord
	var received, lock int64
	var deleted sql.NullInt64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT tenant_id, name, received_at, writer, size, lock_until, deleted_at
		FROM snapshots WHERE `+where), args...).Scan(&r.TenantID, &r.Name, &received, &r.Writer, &r.Size, &lock, &deleted)
	if err != nil {
		return SnapshotRecord{}, err
	}
	r.Received = goTime(received)
	if lock != 0 {
		r.LockUntil = goTime(lock)
	}
	r.Deleted = goTimeNull(deleted)
	return r, nil
}

// NotificationSettings returns the tenant's notification settings (a JSON
// object, with secrets: never hand it out as is); "{}" when none are set.
func (s *Store) NotificationSettings(ctx context.Context, tenantID int64) (json.RawMessage, error) {
	var raw string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT settings FROM notification_settings WHERE tenant_id = ?`), tenantID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return json.RawMessage("{}"), nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: notification settings of tenant %d: %w", tenantID, err)
	}
	return json.RawMessage(raw), nil
}

// SetNotificationSettings replaces the tenant's notification settings (a
// JSON object).
func (s *Store) SetNotificationSettings(ctx context.Context, tenantID int64, settings json.RawMessage) error {
	obj, err := jsonObject(settings)
	if err != nil {
		return fmt.Errorf("store: notification settings: %w", err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.tenantExists(ctx, tx, tenantID); err != nil {
			return fmt.Errorf("store: notification settings: %w", err)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO notification_settings (tenant_id, settings, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`),
			tenantID, string(obj), dbTime(s.now()))
		if err != nil {
			return fmt.Errorf("store: notification settings of tenant %d: %w", tenantID, err)
		}
		return nil
	})
}

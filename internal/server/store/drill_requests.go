package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Drill requests (docs/drills.md): the server cannot run a drill (it
// cannot read the backups) but it can ask for one. A request is queued by
// a person or by the tenant's schedule, claimed by a machine of the
// tenant, kept alive by its progress reports, and ends done (with the
// drill it recorded), failed (with why; a drill alert is opened) or
// cancelled. A running request with no news past its lease fails.

// States of a drill request.
const (
	RequestQueued    = "queued"
	RequestRunning   = "running"
	RequestDone      = "done"
	RequestFailed    = "failed"
	RequestCancelled = "cancelled"
)

// RequestedBySchedule is the requester of the requests the schedule
// queues.
const RequestedBySchedule = "schedule"

// DrillRequest is one request.
type DrillRequest struct {
	ID          int64
	TenantID    int64
	Service     string
	State       string
	Requested   time.Time
	RequestedBy string // "account:dsi", "schedule"
	Claimed     time.Time
	ClaimedBy   string // "agent:3"
	Host        string // where it runs, as the machine says
	LeaseUntil  time.Time
	Phase       string
	Done, Total int64 // bytes, as the last progress report said
	ProgressAt  time.Time
	Finished    time.Time
	DrillID     int64
	DrillResult string // the result of the drill that answered it ("" until done)
	Error       string
	CancelledBy string
	AlertID     int64
}

// Open says whether the request is still queued or running.
func (r DrillRequest) Open() bool { return r.State == RequestQueued || r.State == RequestRunning }

// DrillRunner is a caller that picks up a tenant's requests.
type DrillRunner struct {
	TenantID int64
	Actor    string
	Host     string
	LastSeen time.Time
}

// Bounds of what a request holds.
const (
	maxRequestText = 2000
	// MaxOpenDrillRequests bounds the queued and running requests of a
	// tenant (one per service of its plan, which is bounded too).
	MaxOpenDrillRequests = 500
)

// requestColumns are read from drill_requests (not aliased); the last is
// the result of the drill that answered the request.
const requestColumns = `id, tenant_id, service, state, requested_at, requested_by, claimed_at, claimed_by, host, lease_until,
	phase, done_bytes, total_bytes, progress_at, finished_at, drill_id, error, cancelled_by, alert_id,
	COALESCE((SELECT d.result FROM drills d WHERE d.id = drill_requests.drill_id), '')`

func scanRequest(sc interface{ Scan(...any) error }) (DrillRequest, error) {
	var r DrillRequest
	var requested int64
	var claimed, lease, progress, finished, drill, alert sql.NullInt64
	if err := sc.Scan(&r.ID, &r.TenantID, &r.Service, &r.State, &requested, &r.RequestedBy, &claimed, &r.ClaimedBy, &r.Host, &lease,
		&r.Phase, &r.Done, &r.Total, &progress, &finished, &drill, &r.Error, &r.CancelledBy, &alert, &r.DrillResult); err != nil {
		return DrillRequest{}, err
	}
	r.Requested, r.Claimed, r.LeaseUntil = goTime(requested), goTimeNull(claimed), goTimeNull(lease)
	r.ProgressAt, r.Finished, r.DrillID, r.AlertID = goTimeNull(progress), goTimeNull(finished), drill.Int64, alert.Int64
	return r, nil
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxRequestText {
		s = strings.ToValidUTF8(s[:maxRequestText], "")
	}
	return s
}

// RequestDrills queues a request for each service, in order, in one
// transaction; a service that already has an open request gets that one
// back (created false).
func (s *Store) RequestDrills(ctx context.Context, tenantID int64, services []string, by string) ([]DrillRequest, []bool, error) {
	if len(services) == 0 || strings.TrimSpace(by) == "" {
		return nil, nil, fmt.Errorf("store: request drills: services and requester are required: %w", ErrInvalid)
	}
	for _, sv := range services {
		if strings.TrimSpace(sv) == "" || len(sv) > 200 {
			return nil, nil, fmt.Errorf("store: request drills: service %q: %w", sv, ErrInvalid)
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var out []DrillRequest
	var created []bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.tenantExists(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := s.d.lock(ctx, tx, lockDrillRequests+tenantID); err != nil {
			return err
		}
		var open int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM drill_requests WHERE tenant_id = ? AND state IN (?, ?)`),
			tenantID, RequestQueued, RequestRunning).Scan(&open); err != nil {
			return err
		}
		out, created = out[:0], created[:0]
		for _, sv := range services {
			r, err := scanRequest(tx.QueryRowContext(ctx, s.q(`SELECT `+requestColumns+` FROM drill_requests
				WHERE tenant_id = ? AND service = ? AND state IN (?, ?) ORDER BY id LIMIT 1`), tenantID, sv, RequestQueued, RequestRunning))
			if err == nil {
				out, created = append(out, r), append(created, false)
				continue
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if open >= MaxOpenDrillRequests {
				return fmt.Errorf("%d drill requests are already waiting: %w", open, ErrInvalid)
			}
			r = DrillRequest{TenantID: tenantID, Service: sv, State: RequestQueued, Requested: now, RequestedBy: by}
			if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO drill_requests (tenant_id, service, state, requested_at, requested_by)
				VALUES (?, ?, ?, ?, ?) RETURNING id`), tenantID, sv, RequestQueued, dbTime(now), by).Scan(&r.ID); err != nil {
				return err
			}
			open++
			out, created = append(out, r), append(created, true)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("store: request drills: %w", err)
	}
	return out, created, nil
}

// lockDrillRequests keys the advisory lock (PostgreSQL) that serialises a
// tenant's request queue: one open request per service, one claimer per
// request.
const lockDrillRequests = 0x44524c00_00000000

// DrillRequest returns one request of a tenant.
func (s *Store) DrillRequest(ctx context.Context, tenantID, id int64) (DrillRequest, error) {
	r, err := scanRequest(s.db.QueryRowContext(ctx, s.q(`SELECT `+requestColumns+` FROM drill_requests WHERE tenant_id = ? AND id = ?`), tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return DrillRequest{}, fmt.Errorf("store: drill request %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return DrillRequest{}, fmt.Errorf("store: drill request %d: %w", id, err)
	}
	return r, nil
}

// DrillRequests lists a tenant's requests, newest first: the open ones
// first, then the newest limit (0: 50) of the others.
func (s *Store) DrillRequests(ctx context.Context, tenantID int64, limit int) ([]DrillRequest, error) {
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	open, err := queryRows(ctx, s, "list drill requests", scanRequest, `SELECT `+requestColumns+` FROM drill_requests
		WHERE tenant_id = ? AND state IN (?, ?) ORDER BY id DESC`, tenantID, RequestQueued, RequestRunning)
	if err != nil {
		return nil, err
	}
	closed, err := queryRows(ctx, s, "list drill requests", scanRequest, `SELECT `+requestColumns+` FROM drill_requests
		WHERE tenant_id = ? AND state NOT IN (?, ?) ORDER BY id DESC LIMIT `+strconv.Itoa(limit), tenantID, RequestQueued, RequestRunning)
	if err != nil {
		return nil, err
	}
	return append(open, closed...), nil
}

// ClaimDrillRequest gives the oldest queued request of a tenant to actor
// (running on host, until now+lease unless renewed) and records actor as
// a runner of the tenant, in one transaction. ok is false when no request
// is queued.
func (s *Store) ClaimDrillRequest(ctx context.Context, tenantID int64, actor, host string, lease time.Duration) (DrillRequest, bool, error) {
	host = clip(host)
	if strings.TrimSpace(actor) == "" || host == "" || lease <= 0 {
		return DrillRequest{}, false, fmt.Errorf("store: claim drill request: actor, host and lease are required: %w", ErrInvalid)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var r DrillRequest
	ok := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.tenantExists(ctx, tx, tenantID); err != nil {
			return err
		}
		if err := s.d.lock(ctx, tx, lockDrillRequests+tenantID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO drill_runners (tenant_id, actor, host, last_seen_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, actor) DO UPDATE SET host = excluded.host, last_seen_at = excluded.last_seen_at`),
			tenantID, actor, host, dbTime(now)); err != nil {
			return err
		}
		var err error
		r, err = scanRequest(tx.QueryRowContext(ctx, s.q(`SELECT `+requestColumns+` FROM drill_requests
			WHERE tenant_id = ? AND state = ? ORDER BY id LIMIT 1`), tenantID, RequestQueued))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		r.State, r.Claimed, r.ClaimedBy, r.Host, r.LeaseUntil = RequestRunning, now, actor, host, now.Add(lease)
		res, err := tx.ExecContext(ctx, s.q(`UPDATE drill_requests SET state = ?, claimed_at = ?, claimed_by = ?, host = ?, lease_until = ?
			WHERE id = ? AND state = ?`), RequestRunning, dbTime(now), actor, host, dbTime(r.LeaseUntil), r.ID, RequestQueued)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("request %d changed meanwhile: %w", r.ID, ErrConflict)
		}
		ok = true
		return nil
	})
	if err != nil {
		return DrillRequest{}, false, fmt.Errorf("store: claim drill request: %w", err)
	}
	return r, ok, nil
}

// ReportDrillProgress records the progress of a running request claimed
// by actor and extends its lease. ErrConflict (with the request as it
// is) when it is no longer running or was claimed by someone else: the
// machine should stop.
func (s *Store) ReportDrillProgress(ctx context.Context, tenantID, id int64, actor, phase string, done, total int64, lease time.Duration) (DrillRequest, error) {
	if done < 0 || total < 0 || lease <= 0 {
		return DrillRequest{}, fmt.Errorf("store: drill progress: %w", ErrInvalid)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var r DrillRequest
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if r, err = s.runningBy(ctx, tx, tenantID, id, actor); err != nil {
			return err
		}
		r.Phase, r.Done, r.Total, r.ProgressAt, r.LeaseUntil = clip(phase), done, total, now, now.Add(lease)
		_, err = tx.ExecContext(ctx, s.q(`UPDATE drill_requests SET phase = ?, done_bytes = ?, total_bytes = ?, progress_at = ?, lease_until = ?
			WHERE id = ?`), r.Phase, done, total, dbTime(now), dbTime(r.LeaseUntil), id)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE drill_runners SET last_seen_at = ? WHERE tenant_id = ? AND actor = ?`), dbTime(now), tenantID, actor)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("store: drill request %d progress: %w", id, err)
	}
	return r, nil
}

// runningBy reads request id of the tenant and checks it is running,
// claimed by actor; ErrConflict (with the request) otherwise.
func (s *Store) runningBy(ctx context.Context, tx *sql.Tx, tenantID, id int64, actor string) (DrillRequest, error) {
	r, err := scanRequest(tx.QueryRowContext(ctx, s.q(`SELECT `+requestColumns+` FROM drill_requests WHERE tenant_id = ? AND id = ?`), tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	if r.ClaimedBy != actor {
		return r, fmt.Errorf("request %d is not yours: %w", id, ErrConflict)
	}
	if r.State != RequestRunning {
		return r, fmt.Errorf("request %d is %s: %w", id, r.State, ErrConflict)
	}
	return r, nil
}

// FailDrillRequest ends a running request claimed by actor as failed,
// with why, and opens a drill alert for it (returned).
func (s *Store) FailDrillRequest(ctx context.Context, tenantID, id int64, actor, why string) (DrillRequest, *Alert, error) {
	why = clip(why)
	if why == "" {
		return DrillRequest{}, nil, fmt.Errorf("store: fail drill request: the reason is required: %w", ErrInvalid)
	}
	var r DrillRequest
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if r, err = s.runningBy(ctx, tx, tenantID, id, actor); err != nil {
			return err
		}
		return s.failRequest(ctx, tx, &r, why, actor)
	})
	if err != nil {
		return r, nil, fmt.Errorf("store: drill request %d: %w", id, err)
	}
	a, err := s.Alert(ctx, r.AlertID)
	if err != nil {
		return r, nil, err
	}
	return r, &a, nil
}

// failRequest marks r failed with why and opens its alert, in tx.
func (s *Store) failRequest(ctx context.Context, tx *sql.Tx, r *DrillRequest, why, source string) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	detail := fmt.Sprintf("requested drill of %s could not run: %s", r.Service, why)
	if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO alerts (tenant_id, snapshot, flag, source, opened_at, clean_snapshot, kind, detail)
		VALUES (?, ?, ?, ?, ?, '', ?, ?) RETURNING id`), r.TenantID, DrillRequestAlertPrefix+strconv.FormatInt(r.ID, 10), FlagNone,
		source, dbTime(now), AlertDrill, detail).Scan(&r.AlertID); err != nil {
		return fmt.Errorf("open the request's alert: %w", err)
	}
	r.State, r.Error, r.Finished = RequestFailed, why, now
	_, err := tx.ExecContext(ctx, s.q(`UPDATE drill_requests SET state = ?, error = ?, finished_at = ?, alert_id = ? WHERE id = ?`),
		RequestFailed, why, dbTime(now), r.AlertID, r.ID)
	return err
}

// DrillRequestAlertPrefix starts the snapshot column of the alert of a
// failed request (a drill's alert has "drill:ID").
const DrillRequestAlertPrefix = "drill-request:"

// CancelDrillRequest cancels a queued or running request; ErrConflict
// (with the request) when it has ended.
func (s *Store) CancelDrillRequest(ctx context.Context, tenantID, id int64, by string) (DrillRequest, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	var r DrillRequest
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = scanRequest(tx.QueryRowContext(ctx, s.q(`SELECT `+requestColumns+` FROM drill_requests WHERE tenant_id = ? AND id = ?`), tenantID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if !r.Open() {
			return fmt.Errorf("request %d is %s: %w", id, r.State, ErrConflict)
		}
		r.State, r.CancelledBy, r.Finished = RequestCancelled, by, now
		_, err = tx.ExecContext(ctx, s.q(`UPDATE drill_requests SET state = ?, cancelled_by = ?, finished_at = ? WHERE id = ?`),
			RequestCancelled, by, dbTime(now), id)
		return err
	})
	if err != nil {
		return r, fmt.Errorf("store: cancel drill request %d: %w", id, err)
	}
	return r, nil
}

// ExpireDrillRequests fails every running request whose lease has passed
// ("no news from HOST since …") and opens their alerts; it returns them.
func (s *Store) ExpireDrillRequests(ctx context.Context) ([]DrillRequest, error) {
	now := s.now().UTC()
	stale, err := queryRows(ctx, s, "expire drill requests", scanRequest, `SELECT `+requestColumns+` FROM drill_requests
		WHERE state = ? AND lease_until < ? ORDER BY id`, RequestRunning, dbTime(now))
	if err != nil {
		return nil, err
	}
	var out []DrillRequest
	for _, r := range stale {
		last := r.Claimed
		if r.ProgressAt.After(last) {
			last = r.ProgressAt
		}
		why := fmt.Sprintf("no news from %s since %s UTC: the machine stopped or lost the server", r.Host, last.Format("2006-01-02 15:04:05"))
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE drill_requests SET state = ? WHERE id = ? AND state = ? AND lease_until < ?`),
				RequestFailed, r.ID, RequestRunning, dbTime(now))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return ErrConflict // renewed or ended meanwhile
			}
			return s.failRequest(ctx, tx, &r, why, "server")
		})
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("store: expire drill request %d: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// DrillRunners lists the callers that picked up a tenant's requests,
// most recently seen first.
func (s *Store) DrillRunners(ctx context.Context, tenantID int64) ([]DrillRunner, error) {
	return queryRows(ctx, s, "list drill runners", func(sc interface{ Scan(...any) error }) (DrillRunner, error) {
		var r DrillRunner
		var seen int64
		err := sc.Scan(&r.TenantID, &r.Actor, &r.Host, &seen)
		r.LastSeen = goTime(seen)
		return r, err
	}, `SELECT tenant_id, actor, host, last_seen_at FROM drill_runners WHERE tenant_id = ? ORDER BY last_seen_at DESC, actor`, tenantID)
}

// finishRequest marks request id done with drill, when actor claimed it
// and it still runs, in tx (called while recording the drill). A request
// cancelled or expired meanwhile keeps its state: the drill is recorded
// all the same.
func (s *Store) finishRequest(ctx context.Context, tx *sql.Tx, tenantID, id int64, actor string, drill int64, at time.Time) error {
	r, err := s.runningBy(ctx, tx, tenantID, id, actor)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("drill request %d: %w", id, ErrNotFound)
	case errors.Is(err, ErrConflict) && r.ClaimedBy == actor:
		return nil
	case err != nil:
		return err
	}
	_, err = tx.ExecContext(ctx, s.q(`UPDATE drill_requests SET state = ?, drill_id = ?, finished_at = ? WHERE id = ?`), RequestDone, drill, dbTime(at), id)
	return err
}

package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Restore drills (package drill, docs/drills.md): each drill a town runs
// is recorded with its evidence, as sent; a failed or slow one opens an
// alert of kind AlertDrill in the same transaction. The store does not
// read the evidence: it keeps the JSON it is given and its SHA-256.

// Drill results, as the drills table's CHECK constraint allows them.
const (
	DrillPassed = "passed"
	DrillFailed = "failed"
	DrillSlow   = "slow"
)

// Drill is one recorded restore drill.
type Drill struct {
	ID         int64
	TenantID   int64
	Service    string
	Result     string // DrillPassed, DrillFailed or DrillSlow
	Started    time.Time
	Finished   time.Time
	Recorded   time.Time
	RecordedBy string // who sent it: "agent:3", "account:dsi"
	RanBy      string // who ran it, as the runner says
	Host       string // where it ran, as the runner says
	Evidence   []byte // the drill's record (JSON)
	SHA256     string // hex SHA-256 of Evidence
	AlertID    int64  // the alert it opened (0: none)
}

// NewDrill is a drill to record. When Alert is set (a failed or slow
// drill), an alert of kind AlertDrill is opened with AlertDetail.
type NewDrill struct {
	TenantID    int64
	Service     string
	Result      string
	Started     time.Time
	Finished    time.Time
	RecordedBy  string
	RanBy       string
	Host        string
	Evidence    []byte
	Alert       bool
	AlertDetail string
	// RequestID is the drill request this drill answers (0: none); it
	// must have been claimed by RecordedBy, and is marked done.
	RequestID int64
}

const maxDrillEvidence = 2 << 20

// RecordDrill stores a drill and, when asked, opens its alert; the alert
// is returned (nil when none was opened).
func (s *Store) RecordDrill(ctx context.Context, n NewDrill) (Drill, *Alert, error) {
	switch {
	case n.Result != DrillPassed && n.Result != DrillFailed && n.Result != DrillSlow:
		return Drill{}, nil, fmt.Errorf("store: drill result %q: %w", n.Result, ErrInvalid)
	case strings.TrimSpace(n.Service) == "" || strings.TrimSpace(n.RecordedBy) == "":
		return Drill{}, nil, fmt.Errorf("store: drill: service and recorded_by are required: %w", ErrInvalid)
	case len(n.Evidence) == 0 || len(n.Evidence) > maxDrillEvidence:
		return Drill{}, nil, fmt.Errorf("store: drill evidence of %d bytes: %w", len(n.Evidence), ErrInvalid)
	case n.Started.IsZero() || n.Finished.Before(n.Started):
		return Drill{}, nil, fmt.Errorf("store: drill times: %w", ErrInvalid)
	}
	sum := sha256.Sum256(n.Evidence)
	d := Drill{TenantID: n.TenantID, Service: n.Service, Result: n.Result, Started: n.Started.UTC().Truncate(time.Microsecond),
		Finished: n.Finished.UTC().Truncate(time.Microsecond), Recorded: s.now().UTC().Truncate(time.Microsecond),
		RecordedBy: n.RecordedBy, RanBy: n.RanBy, Host: n.Host, Evidence: n.Evidence, SHA256: hex.EncodeToString(sum[:])}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.tenantExists(ctx, tx, n.TenantID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO drills (tenant_id, service, result, started_at, finished_at, recorded_at,
			recorded_by, ran_by, host, evidence, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			d.TenantID, d.Service, d.Result, dbTime(d.Started), dbTime(d.Finished), dbTime(d.Recorded), d.RecordedBy, d.RanBy, d.Host,
			string(d.Evidence), d.SHA256).Scan(&d.ID)
		if err != nil {
			return err
		}
		if n.RequestID != 0 {
			if err := s.finishRequest(ctx, tx, n.TenantID, n.RequestID, n.RecordedBy, d.ID, d.Recorded); err != nil {
				return err
			}
		}
		if !n.Alert {
			return nil
		}
		if err := tx.QueryRowContext(ctx, s.q(`INSERT INTO alerts (tenant_id, snapshot, flag, source, opened_at, clean_snapshot, kind, detail)
			VALUES (?, ?, ?, ?, ?, '', ?, ?) RETURNING id`), d.TenantID, "drill:"+strconv.FormatInt(d.ID, 10), FlagNone,
			d.RecordedBy, dbTime(d.Recorded), AlertDrill, n.AlertDetail).Scan(&d.AlertID); err != nil {
			return fmt.Errorf("open the drill's alert: %w", err)
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE drills SET alert_id = ? WHERE id = ?`), d.AlertID, d.ID)
		return err
	})
	if err != nil {
		return Drill{}, nil, fmt.Errorf("store: record drill of %s: %w", n.Service, err)
	}
	if d.AlertID == 0 {
		return d, nil, nil
	}
	a, err := s.Alert(ctx, d.AlertID)
	if err != nil {
		return d, nil, err
	}
	return d, &a, nil
}

const drillColumns = `id, tenant_id, service, result, started_at, finished_at, recorded_at, recorded_by, ran_by, host, evidence, sha256, alert_id`

func scanDrill(sc interface{ Scan(...any) error }) (Drill, error) {
	var d Drill
	var started, finished, recorded int64
	var evidence string
	var alert sql.NullInt64
	if err := sc.Scan(&d.ID, &d.TenantID, &d.Service, &d.Result, &started, &finished, &recorded, &d.RecordedBy, &d.RanBy, &d.Host,
		&evidence, &d.SHA256, &alert); err != nil {
		return Drill{}, err
	}
	d.Started, d.Finished, d.Recorded, d.Evidence, d.AlertID = goTime(started), goTime(finished), goTime(recorded), []byte(evidence), alert.Int64
	return d, nil
}

// Drill returns one drill of a tenant; ErrNotFound when the tenant has no
// drill with that ID.
func (s *Store) Drill(ctx context.Context, tenantID, id int64) (Drill, error) {
	d, err := scanDrill(s.db.QueryRowContext(ctx, s.q(`SELECT `+drillColumns+` FROM drills WHERE tenant_id = ? AND id = ?`), tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Drill{}, fmt.Errorf("store: drill %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Drill{}, fmt.Errorf("store: drill %d: %w", id, err)
	}
	return d, nil
}

// DrillFilter selects a tenant's drills: of one service ("" for all),
// started at or before Until (zero: any time), the newest Limit (0: 100).
type DrillFilter struct {
	TenantID int64
	Service  string
	Until    time.Time
	Limit    int
}

// Drills lists a tenant's drills, newest first.
func (s *Store) Drills(ctx context.Context, f DrillFilter) ([]Drill, error) {
	q, args := `SELECT `+drillColumns+` FROM drills WHERE tenant_id = ?`, []any{f.TenantID}
	if f.Service != "" {
		q += ` AND service = ?`
		args = append(args, f.Service)
	}
	if !f.Until.IsZero() {
		q += ` AND started_at <= ?`
		args = append(args, dbTime(f.Until))
	}
	limit := f.Limit
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	return queryRows(ctx, s, "list drills", scanDrill, q+` ORDER BY id DESC LIMIT `+strconv.Itoa(limit), args...)
}

// DrillOutcome is a drill without its evidence: what an overview needs.
type DrillOutcome struct {
	ID       int64
	Service  string
	Result   string
	Finished time.Time
}

// LatestDrills returns the latest drill (the highest ID) of each service
// of a tenant, without the evidence, by service.
func (s *Store) LatestDrills(ctx context.Context, tenantID int64) ([]DrillOutcome, error) {
	return queryRows(ctx, s, "latest drills", func(sc interface{ Scan(...any) error }) (DrillOutcome, error) {
		var d DrillOutcome
		var finished int64
		err := sc.Scan(&d.ID, &d.Service, &d.Result, &finished)
		d.Finished = goTime(finished)
		return d, err
	}, `SELECT id, service, result, finished_at FROM drills WHERE id IN
		(SELECT MAX(id) FROM drills WHERE tenant_id = ? GROUP BY service) ORDER BY service`, tenantID)
}

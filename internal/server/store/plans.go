package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Continuity plans (package continuity, docs/continuity.md): every version
// of each tenant's plan is kept, never changed. The store does not read
// plans: it keeps the canonical JSON it is given, its SHA-256 and the file
// as applied.

// ErrConflict refuses a new version of a plan made from a version that is
// no longer the latest (someone saved another meanwhile).
var ErrConflict = errors.New("changed meanwhile")

// PlanVersion is one saved version of a tenant's plan.
type PlanVersion struct {
	TenantID  int64
	Version   int64 // 1, 2, 3... per tenant
	Created   time.Time
	CreatedBy string // "account:dsi"
	Note      string
	Plan      []byte // canonical JSON
	SHA256    string // hex SHA-256 of Plan
	Source    string // the YAML file as applied; "" when saved as JSON
}

// NewPlanVersion is a version to save.
type NewPlanVersion struct {
	TenantID int64
	// Base is the version the change was made from: the latest when it
	// is saved, 0 for a tenant with no plan yet. Otherwise ErrConflict.
	Base      int64
	CreatedBy string
	Note      string
	Plan      []byte
	Source    string
}

// Bounds of what a version holds.
const (
	maxPlanBytes = 2 << 20
	maxPlanNote  = 1000
)

// SavePlanVersion stores version Base+1 of a tenant's plan if Base is
// still its latest version; otherwise ErrConflict and nothing is saved.
func (s *Store) SavePlanVersion(ctx context.Context, n NewPlanVersion) (PlanVersion, error) {
	switch {
	case len(n.Plan) == 0 || len(n.Plan)+len(n.Source) > maxPlanBytes:
		return PlanVersion{}, fmt.Errorf("store: plan of %d bytes: %w", len(n.Plan)+len(n.Source), ErrInvalid)
	case len(n.Note) > maxPlanNote:
		return PlanVersion{}, fmt.Errorf("store: plan note of %d bytes (at most %d): %w", len(n.Note), maxPlanNote, ErrInvalid)
	case strings.TrimSpace(n.CreatedBy) == "" || n.Base < 0:
		return PlanVersion{}, fmt.Errorf("store: plan version: %w", ErrInvalid)
	}
	sum := sha256.Sum256(n.Plan)
	v := PlanVersion{TenantID: n.TenantID, Version: n.Base + 1, Created: s.now().UTC().Truncate(time.Microsecond),
		CreatedBy: n.CreatedBy, Note: n.Note, Plan: n.Plan, SHA256: hex.EncodeToString(sum[:]), Source: n.Source}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.tenantExists(ctx, tx, n.TenantID); err != nil {
			return err
		}
		var latest int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(version), 0) FROM plan_versions WHERE tenant_id = ?`),
			n.TenantID).Scan(&latest); err != nil {
			return err
		}
		if latest != n.Base {
			return fmt.Errorf("the latest version is %d, not %d: %w", latest, n.Base, ErrConflict)
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO plan_versions (tenant_id, version, created_at, created_by, note, plan, sha256, source)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), v.TenantID, v.Version, dbTime(v.Created), v.CreatedBy, v.Note, string(v.Plan), v.SHA256, v.Source)
		if s.d.isUniqueViolation(err) { // a concurrent writer took this version first
			return fmt.Errorf("version %d was saved meanwhile: %w", v.Version, ErrConflict)
		}
		return err
	})
	if err != nil {
		return PlanVersion{}, fmt.Errorf("store: save plan: %w", err)
	}
	return v, nil
}

const planColumns = "tenant_id, version, created_at, created_by, note, plan, sha256, source"

func scanPlanVersion(sc interface{ Scan(...any) error }) (PlanVersion, error) {
	var v PlanVersion
	var created int64
	var plan string
	if err := sc.Scan(&v.TenantID, &v.Version, &created, &v.CreatedBy, &v.Note, &plan, &v.SHA256, &v.Source); err != nil {
		return PlanVersion{}, err
	}
	v.Created, v.Plan = goTime(created), []byte(plan)
	return v, nil
}

// PlanVersion returns one version of a tenant's plan, the latest when
// version is 0; ErrNotFound when there is none.
func (s *Store) PlanVersion(ctx context.Context, tenantID, version int64) (PlanVersion, error) {
	q, args := `SELECT `+planColumns+` FROM plan_versions WHERE tenant_id = ? ORDER BY version DESC LIMIT 1`, []any{tenantID}
	if version != 0 {
		q, args = `SELECT `+planColumns+` FROM plan_versions WHERE tenant_id = ? AND version = ?`, []any{tenantID, version}
	}
	v, err := scanPlanVersion(s.db.QueryRowContext(ctx, s.q(q), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return PlanVersion{}, fmt.Errorf("store: plan version %d: %w", version, ErrNotFound)
	}
	if err != nil {
		return PlanVersion{}, fmt.Errorf("store: plan version %d: %w", version, err)
	}
	return v, nil
}

// PlanVersions returns every version of a tenant's plan, newest first.
func (s *Store) PlanVersions(ctx context.Context, tenantID int64) ([]PlanVersion, error) {
	return queryRows(ctx, s, "list plan versions", scanPlanVersion, `SELECT `+planColumns+` FROM plan_versions WHERE tenant_id = ? ORDER BY version DESC`, tenantID)
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Agent is a machine that backs up into one tenant with its own API token.
type Agent struct {
	ID       int64
	TenantID int64
	Host     string
	Created  time.Time
	Revoked  time.Time // zero while the agent may connect
}

// Enrolment is a one-time token that lets a new machine become an agent of
// a tenant.
type Enrolment struct {
	ID       int64
	TenantID int64
	Created  time.Time
	Expires  time.Time
}

// Bounds of an enrolment token's lifetime.
const (
	MinEnrolmentTTL = time.Minute
	MaxEnrolmentTTL = 30 * 24 * time.Hour
)

// CreateEnrolment creates a one-time enrolment token for a tenant, valid
// for ttl, and returns it in clear, once.
func (s *Store) CreateEnrolment(ctx context.Context, tenantID int64, ttl time.Duration) (string, Enrolment, error) {
	if ttl < MinEnrolmentTTL || ttl > MaxEnrolmentTTL {
		return "", Enrolment{}, fmt.Errorf("store: enrolment lifetime %v: %w (between %v and %v)", ttl, ErrInvalid, MinEnrolmentTTL, MaxEnrolmentTTL)
	}
	if err := s.tenantExists(ctx, s.db, tenantID); err != nil {
		return "", Enrolment{}, fmt.Errorf("store: create enrolment: %w", err)
	}
	sec, err := newSecret(enrolTokenPrefix)
	if err != nil {
		return "", Enrolment{}, fmt.Errorf("store: create enrolment: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	e := Enrolment{TenantID: tenantID, Created: now, Expires: now.Add(ttl)}
	err = s.db.QueryRowContext(ctx, s.q(`INSERT INTO enrolment_tokens (selector, token_hash, tenant_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), sec.selector, sec.hash, tenantID, dbTime(now), dbTime(e.Expires)).Scan(&e.ID)
	if err != nil {
		return "", Enrolment{}, fmt.Errorf("store: create enrolment: %w", err)
	}
	return sec.clear, e, nil
}

// RedeemEnrolment uses an enrolment token, once: it creates the agent for
// host in the token's tenant and returns it with the agent's API token in
// clear. A second redeem of the same token fails with ErrTokenUsed, an
// expired token with ErrTokenExpired, anything else with ErrInvalidToken.
func (s *Store) RedeemEnrolment(ctx context.Context, token, host string) (Agent, string, error) {
	host = strings.TrimSpace(host)
	if host == "" || len(host) > 255 || strings.IndexFunc(host, unicode.IsControl) >= 0 {
		return Agent{}, "", fmt.Errorf("store: redeem enrolment: host name %q: %w", host, ErrInvalid)
	}
	sel, sum, ok := splitSecret(enrolTokenPrefix, token)
	if !ok {
		return Agent{}, "", fmt.Errorf("store: redeem enrolment: %w", ErrInvalidToken)
	}
	var agent Agent
	var clear string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var id, tenant, expires int64
		var hash string
		var used sql.NullInt64
		err := tx.QueryRowContext(ctx, s.q(`SELECT id, token_hash, tenant_id, expires_at, used_at
			FROM enrolment_tokens WHERE selector = ?`), sel).Scan(&id, &hash, &tenant, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !hashMatches(sum, hash)) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		now := s.now().UTC().Truncate(time.Microsecond)
		switch {
		case used.Valid:
			return ErrTokenUsed
		case !now.Before(goTime(expires)):
			return ErrTokenExpired
		}
		// The condition on used_at makes the token one-time even when two
		// redeems race: the second one updates no row.
		res, err := tx.ExecContext(ctx, s.q("UPDATE enrolment_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL"), dbTime(now), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return ErrTokenUsed
		}
		agent = Agent{TenantID: tenant, Host: host, Created: now}
		if err := tx.QueryRowContext(ctx, s.q("INSERT INTO agents (tenant_id, host, created_at) VALUES (?, ?, ?) RETURNING id"),
			tenant, host, dbTime(now)).Scan(&agent.ID); err != nil {
			return fmt.Errorf("create agent: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q("UPDATE enrolment_tokens SET agent_id = ? WHERE id = ?"), agent.ID, id); err != nil {
			return err
		}
		clear, _, err = s.createAPIToken(ctx, tx, NewAPIToken{AgentID: agent.ID, Name: "agent " + host})
		return err
	})
	if err != nil {
		return Agent{}, "", fmt.Errorf("store: redeem enrolment: %w", err)
	}
	return agent, clear, nil
}

// RevokeAgent stops an agent: its tokens no longer work. Revoking twice
// keeps the first date.
func (s *Store) RevokeAgent(ctx context.Context, agentID int64) error {
	res, err := s.db.ExecContext(ctx, s.q("UPDATE agents SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?"), dbTime(s.now()), agentID)
	if err != nil {
		return fmt.Errorf("store: revoke agent %d: %w", agentID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: revoke agent %d: %w", agentID, err)
	} else if n == 0 {
		return fmt.Errorf("store: revoke agent %d: %w", agentID, ErrNotFound)
	}
	return nil
}

// ListAgents returns a tenant's agents, oldest first.
func (s *Store) ListAgents(ctx context.Context, tenantID int64) ([]Agent, error) {
	rows, err := s.db.QueryContext(ctx, s.q("SELECT id, tenant_id, host, created_at, revoked_at FROM agents WHERE tenant_id = ? ORDER BY id"), tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list agents: %w", err)
	}
	defer rows.Close()
	var out []Agent
	for rows.Next() {
		var a Agent
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&a.ID, &a.TenantID, &a.Host, &created, &revoked); err != nil {
			return nil, fmt.Errorf("store: list agents: %w", err)
		}
		a.Created, a.Revoked = goTime(created), goTimeNull(revoked)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list agents: %w", err)
	}
	return out, nil
}

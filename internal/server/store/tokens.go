package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A clear token is <prefix><selector>_<secret>: the selector (8 random
// bytes, hex) finds the row, the secret (32 random bytes, base64url) is
// checked against the SHA-256 stored with it, in constant time.
const (
	apiTokenPrefix   = "rmpt_"
	enrolTokenPrefix = "rmpe_"
	selectorLen      = 8
	secretLen        = 32
	// lastUsedEvery limits the writes CheckToken does.
	lastUsedEvery = time.Minute
)

type secret struct {
	clear    string
	selector string
	hash     string // hex SHA-256 of the random secret
}

func newSecret(prefix string) (secret, error) {
	buf := make([]byte, selectorLen+secretLen)
	if _, err := rand.Read(buf); err != nil {
		return secret{}, fmt.Errorf("draw token: %w", err)
	}
	sel := hex.EncodeToString(buf[:selectorLen])
	sum := sha256.Sum256(buf[selectorLen:])
	return secret{
		clear:    prefix + sel + "_" + base64.RawURLEncoding.EncodeToString(buf[selectorLen:]),
		selector: sel,
		hash:     hex.EncodeToString(sum[:]),
	}, nil
}

// splitSecret returns the selector of a clear token and the SHA-256 of its
// secret part.
func splitSecret(prefix, token string) (string, [sha256.Size]byte, bool) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok {
		return "", [sha256.Size]byte{}, false
	}
	sel, enc, ok := strings.Cut(rest, "_")
	if !ok || len(sel) != 2*selectorLen {
		return "", [sha256.Size]byte{}, false
	}
	if _, err := hex.DecodeString(sel); err != nil {
		return "", [sha256.Size]byte{}, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(raw) != secretLen {
		return "", [sha256.Size]byte{}, false
	}
	return sel, sha256.Sum256(raw), true
}

// hashMatches compares a computed hash with a stored hex one in constant
// time.
func hashMatches(sum [sha256.Size]byte, stored string) bool {
	want, err := hex.DecodeString(stored)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(sum[:], want) == 1
}

// TokenKind tells how a token came to be, which decides what it may do
// beyond its owner's role: an automation token may not mint other tokens
// (a leaked one could otherwise outlive its own revocation).
type TokenKind string

// Kinds of API tokens.
const (
	TokenSession    TokenKind = "session"    // from a sign-in with a password (/v1/login), short-lived
	TokenAutomation TokenKind = "automation" // made by an account for its scripts, named, long-lived
	TokenAgent      TokenKind = "agent"      // an agent's, from its enrolment
)

// APIToken is a bearer token of an account or an agent (one of AccountID
// and AgentID is set).
type APIToken struct {
	ID        int64
	AccountID int64
	AgentID   int64
	Kind      TokenKind
	Name      string
	Created   time.Time
	Expires   time.Time // zero: never
	LastUsed  time.Time // zero: never used
}

// NewAPIToken describes a token to create: for an account or an agent, with
// a TTL (0: the token does not expire).
type NewAPIToken struct {
	AccountID int64
	AgentID   int64
	// Kind defaults to TokenAgent for an agent and TokenSession for an
	// account; an agent's token is always TokenAgent.
	Kind TokenKind
	Name string
	TTL  time.Duration
}

// Principal is who presented a valid token.
type Principal struct {
	TokenID   int64
	AccountID int64 // set for an account's token
	AgentID   int64 // set for an agent's token
	Username  string
	Role      Role  // RoleAgent for an agent
	TenantID  int64 // 0 for none
	TokenKind TokenKind
}

// CreateAPIToken creates a token and returns it in clear, once.
func (s *Store) CreateAPIToken(ctx context.Context, n NewAPIToken) (string, APIToken, error) {
	var clear string
	var tok APIToken
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		clear, tok, err = s.createAPIToken(ctx, tx, n)
		return err
	})
	if err != nil {
		return "", APIToken{}, fmt.Errorf("store: create API token %q: %w", n.Name, err)
	}
	return clear, tok, nil
}

func (s *Store) createAPIToken(ctx context.Context, tx *sql.Tx, n NewAPIToken) (string, APIToken, error) {
	if (n.AccountID == 0) == (n.AgentID == 0) {
		return "", APIToken{}, fmt.Errorf("%w: a token belongs to one account or one agent", ErrInvalid)
	}
	if n.TTL < 0 {
		return "", APIToken{}, fmt.Errorf("%w: negative lifetime", ErrInvalid)
	}
	name := strings.TrimSpace(n.Name)
	if name == "" || len(name) > 200 {
		return "", APIToken{}, fmt.Errorf("%w: a token needs a name of at most 200 bytes", ErrInvalid)
	}
	kind := n.Kind
	switch {
	case kind == "" && n.AgentID != 0:
		kind = TokenAgent
	case kind == "":
		kind = TokenSession
	case (kind == TokenAgent) != (n.AgentID != 0), kind != TokenAgent && kind != TokenSession && kind != TokenAutomation:
		return "", APIToken{}, fmt.Errorf("%w: token kind %q for this owner", ErrInvalid, kind)
	}
	owner, table := n.AccountID, "accounts"
	if n.AgentID != 0 {
		owner, table = n.AgentID, "agents"
	}
	var one int
	err := tx.QueryRowContext(ctx, s.q("SELECT 1 FROM "+table+" WHERE id = ?"), owner).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return "", APIToken{}, fmt.Errorf("owner %d: %w", owner, ErrNotFound)
	}
	if err != nil {
		return "", APIToken{}, err
	}
	sec, err := newSecret(apiTokenPrefix)
	if err != nil {
		return "", APIToken{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	tok := APIToken{AccountID: n.AccountID, AgentID: n.AgentID, Kind: kind, Name: name, Created: now}
	if n.TTL > 0 {
		tok.Expires = now.Add(n.TTL)
	}
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO api_tokens (selector, token_hash, account_id, agent_id, kind, name, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		sec.selector, sec.hash, nullID(n.AccountID), nullID(n.AgentID), string(kind), name, dbTime(now), dbTimeNull(tok.Expires)).Scan(&tok.ID)
	if err != nil {
		return "", APIToken{}, err
	}
	return sec.clear, tok, nil
}

// CheckToken returns who a clear API token belongs to. An unknown or
// malformed token, one of a disabled account or of a revoked agent is
// ErrInvalidToken; an expired one is ErrTokenExpired.
func (s *Store) CheckToken(ctx context.Context, token string) (Principal, error) {
	sel, sum, ok := splitSecret(apiTokenPrefix, token)
	if !ok {
		return Principal{}, fmt.Errorf("store: check token: %w", ErrInvalidToken)
	}
	var (
		p                             Principal
		hash                          string
		account, agent, expires, used sql.NullInt64
		accTenant, agTenant           sql.NullInt64
		disabled, revoked             sql.NullInt64
		user, role                    sql.NullString
		kind                          string
	)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT t.id, t.token_hash, t.account_id, t.agent_id, t.kind, t.expires_at, t.last_used_at,
			a.username, a.role, a.tenant_id, a.disabled_at, g.tenant_id, g.revoked_at
		FROM api_tokens t
		LEFT JOIN accounts a ON a.id = t.account_id
		LEFT JOIN agents g ON g.id = t.agent_id
		WHERE t.selector = ?`), sel).Scan(&p.TokenID, &hash, &account, &agent, &kind, &expires, &used,
		&user, &role, &accTenant, &disabled, &agTenant, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return Principal{}, fmt.Errorf("store: check token: %w", ErrInvalidToken)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("store: check token: %w", err)
	}
	if !hashMatches(sum, hash) {
		return Principal{}, fmt.Errorf("store: check token: %w", ErrInvalidToken)
	}
	now := s.now()
	switch {
	case expires.Valid && !now.Before(goTime(expires.Int64)):
		return Principal{}, fmt.Errorf("store: check token %d: %w", p.TokenID, ErrTokenExpired)
	case disabled.Valid:
		return Principal{}, fmt.Errorf("store: check token %d: %w: account disabled", p.TokenID, ErrInvalidToken)
	case revoked.Valid:
		return Principal{}, fmt.Errorf("store: check token %d: %w: agent revoked", p.TokenID, ErrInvalidToken)
	}
	p.TokenKind = TokenKind(kind)
	if account.Valid {
		p.AccountID, p.Username, p.Role, p.TenantID = account.Int64, user.String, Role(role.String), accTenant.Int64
	} else {
		p.AgentID, p.Role, p.TenantID = agent.Int64, RoleAgent, agTenant.Int64
	}
	if !used.Valid || now.Sub(goTime(used.Int64)) >= lastUsedEvery {
		if _, err := s.db.ExecContext(ctx, s.q("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"), dbTime(now), p.TokenID); err != nil {
			return Principal{}, fmt.Errorf("store: check token %d: record use: %w", p.TokenID, err)
		}
	}
	return p, nil
}

const apiTokenColumns = "id, account_id, agent_id, kind, name, created_at, expires_at, last_used_at"

func scanAPIToken(sc interface{ Scan(...any) error }) (APIToken, error) {
	var t APIToken
	var account, agent, expires, used sql.NullInt64
	var created int64
	var kind string
	if err := sc.Scan(&t.ID, &account, &agent, &kind, &t.Name, &created, &expires, &used); err != nil {
		return APIToken{}, err
	}
	t.AccountID, t.AgentID, t.Kind = account.Int64, agent.Int64, TokenKind(kind)
	t.Created, t.Expires, t.LastUsed = goTime(created), goTimeNull(expires), goTimeNull(used)
	return t, nil
}

// ListAPITokens returns the tokens of an account (accountID) or of an agent
// (agentID), oldest first. Only what describes them is returned: the
// clear token was shown once, at creation, and is not kept.
func (s *Store) ListAPITokens(ctx context.Context, accountID, agentID int64) ([]APIToken, error) {
	return queryRows(ctx, s, "list API tokens", scanAPIToken, "SELECT "+apiTokenColumns+" FROM api_tokens WHERE account_id = ? OR agent_id = ? ORDER BY id", nullID(accountID), nullID(agentID))
}

// APITokenByID returns the description of one token.
func (s *Store) APITokenByID(ctx context.Context, id int64) (APIToken, error) {
	t, err := scanAPIToken(s.db.QueryRowContext(ctx, s.q("SELECT "+apiTokenColumns+" FROM api_tokens WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIToken{}, fmt.Errorf("store: API token %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("store: API token %d: %w", id, err)
	}
	return t, nil
}

// RevokeAccountTokens deletes every token of an account but keepID (0:
// none kept), sessions and automation tokens alike, and returns how many
// it deleted. It is what a change of password calls: whoever held the old
// password may have signed in with it.
func (s *Store) RevokeAccountTokens(ctx context.Context, accountID, keepID int64) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q("DELETE FROM api_tokens WHERE account_id = ? AND id <> ?"), accountID, keepID)
	if err != nil {
		return 0, fmt.Errorf("store: revoke tokens of account %d: %w", accountID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: revoke tokens of account %d: %w", accountID, err)
	}
	return n, nil
}

// DeleteAPIToken revokes a token for good.
func (s *Store) DeleteAPIToken(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q("DELETE FROM api_tokens WHERE id = ?"), id)
	if err != nil {
		return fmt.Errorf("store: delete API token %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: delete API token %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("store: delete API token %d: %w", id, ErrNotFound)
	}
	return nil
}

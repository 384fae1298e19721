package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Tenant is one organisation (a town) hosted by the server, with its own
// repository.
type Tenant struct {
	ID      int64
	Name    string
	Created time.Time
	// Retention is the tenant's retention policy as JSON (an object, e.g.
	// the vault's prune policy); "{}" when none is set.
	Retention json.RawMessage
	Lock      LockSettings
	// RetentionPending is a looser policy waiting for RetentionPendingAt
	// before it replaces Retention; nil when none waits.
	RetentionPending   json.RawMessage
	RetentionPendingAt time.Time
}

// LockSettings protect a tenant's snapshots on the server.
type LockSettings struct {
	// Days is how long a snapshot cannot be removed after it was written,
	// by anyone; 0 means no lock beyond append-only.
	Days int `json:"days"`
}

// maxLockDays is 100 years.
const maxLockDays = 36500

// NewTenant describes a tenant to create.
type NewTenant struct {
	Name      string
	Retention json.RawMessage // nil for none
	Lock      LockSettings
}

// tenantName is safe in URLs and as a folder name.
var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// CreateTenant adds a tenant. Names are lower-case letters, digits, ".",
// "_" and "-", 1 to 63 characters, starting with a letter or digit.
func (s *Store) CreateTenant(ctx context.Context, n NewTenant) (Tenant, error) {
	if !tenantName.MatchString(n.Name) {
		return Tenant{}, fmt.Errorf("store: tenant name %q: %w (use lower-case letters, digits, '.', '_' and '-')", n.Name, ErrInvalid)
	}
	retention, err := jsonObject(n.Retention)
	if err != nil {
		return Tenant{}, fmt.Errorf("store: tenant %s: retention policy: %w", n.Name, err)
	}
	if n.Lock.Days < 0 || n.Lock.Days > maxLockDays {
		return Tenant{}, fmt.Errorf("store: tenant %s: lock of %d days: %w", n.Name, n.Lock.Days, ErrInvalid)
	}
	lock, err := json.Marshal(n.Lock)
	if err != nil {
		return Tenant{}, fmt.Errorf("store: tenant %s: %w", n.Name, err)
	}
	t := Tenant{Name: n.Name, Created: s.now().UTC().Truncate(time.Microsecond), Retention: retention, Lock: n.Lock}
	err = s.db.QueryRowContext(ctx, s.q(`INSERT INTO tenants (name, created_at, retention_policy, lock_settings)
		VALUES (?, ?, ?, ?) RETURNING id`), t.Name, dbTime(t.Created), string(retention), string(lock)).Scan(&t.ID)
	if s.d.isUniqueViolation(err) {
		return Tenant{}, fmt.Errorf("store: tenant %s: %w", n.Name, ErrExists)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("store: create tenant %s: %w", n.Name, err)
	}
	return t, nil
}

const tenantColumns = "id, name, created_at, retention_policy, lock_settings, retention_pending, retention_pending_at"

func scanTenant(sc interface{ Scan(...any) error }) (Tenant, error) {
	var t Tenant
	var created int64
	var retention, lock string
	var pending sql.NullString
	var pendingAt sql.NullInt64
	if err := sc.Scan(&t.ID, &t.Name, &created, &retention, &lock, &pending, &pendingAt); err != nil {
		return Tenant{}, err
	}
	t.Created = goTime(created)
	if pending.Valid {
		t.RetentionPending = json.RawMessage(pending.String)
		t.RetentionPendingAt = goTime(pendingAt.Int64)
	}
	t.Retention = json.RawMessage(retention)
	if err := json.Unmarshal([]byte(lock), &t.Lock); err != nil {
		return Tenant{}, fmt.Errorf("tenant %s: lock settings: %w", t.Name, err)
	}
	return t, nil
}

// ListTenants returns every tenant, by name.
func (s *Store) ListTenants(ctx context.Context) ([]Tenant, error) {
	return queryRows(ctx, s, "list tenants", scanTenant, "SELECT "+tenantColumns+" FROM tenants ORDER BY name")
}

// TenantByName returns the tenant called name.
func (s *Store) TenantByName(ctx context.Context, name string) (Tenant, error) {
	t, err := scanTenant(s.db.QueryRowContext(ctx, s.q("SELECT "+tenantColumns+" FROM tenants WHERE name = ?"), name))
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, fmt.Errorf("store: tenant %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("store: tenant %s: %w", name, err)
	}
	return t, nil
}

// TenantByID returns the tenant with that ID.
func (s *Store) TenantByID(ctx context.Context, id int64) (Tenant, error) {
	t, err := scanTenant(s.db.QueryRowContext(ctx, s.q("SELECT "+tenantColumns+" FROM tenants WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, fmt.Errorf("store: tenant %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("store: tenant %d: %w", id, err)
	}
	return t, nil
}

// tenantExists checks a tenant ID given by a caller.
func (s *Store) tenantExists(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id int64) error {
	var one int
	err := q.QueryRowContext(ctx, s.q("SELECT 1 FROM tenants WHERE id = ?"), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("tenant %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("tenant %d: %w", id, err)
	}
	return nil
}

// jsonObject checks that raw is a JSON object and compacts it; nil gives "{}".
func jsonObject(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("{}"), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalid)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return b.Bytes(), nil
}

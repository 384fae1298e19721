package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is what an account may do.
type Role string

// Roles of accounts. RoleAgent is never stored on an account: it is the role
// of a Principal authenticated by an agent's token.
const (
	RoleOperator    Role = "operator"     // runs the server, every tenant
	RoleTenantAdmin Role = "tenant_admin" // manages one tenant
	RoleAuditor     Role = "auditor"      // reads the audit trail (of one tenant, or all)
	RoleCoordinator Role = "coordinator"  // runs crisis rooms (of one tenant, or any)
	RoleAgent       Role = "agent"        // a machine backing up into one tenant
)

// MinPasswordLen is the shortest password CreateAccount accepts, in
// characters.
const MinPasswordLen = 12

// Account is a person who signs in to the server.
type Account struct {
	ID       int64
	Username string
	Role     Role
	TenantID int64 // 0 for none (operators, server-wide auditors)
	// TOTPSecret is the base32 secret of the second factor, "" if none.
	TOTPSecret string
	// TOTPPending is a secret being set up, "" if none: it becomes
	// TOTPSecret only once a code made from it is confirmed (ActivateTOTP),
	// so that a secret mistyped into an authenticator app cannot lock its
	// owner out. Sign-in ignores it.
	TOTPPending string
	Created     time.Time
	Disabled    time.Time // zero while the account is enabled
	LastLogin   time.Time // its last sign-in (zero: never, or before schema 9)
}

// NewAccount describes an account to create.
type NewAccount struct {
	Username string
	Password string
	Role     Role
	TenantID int64
}

var username = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// normUsername makes user names case-insensitive.
func normUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// CreateAccount adds an account. Operators have no tenant, tenant admins
// have one, auditors and coordinators may have one.
func (s *Store) CreateAccount(ctx context.Context, n NewAccount) (Account, error) {
	name := normUsername(n.Username)
	if !username.MatchString(name) {
		return Account{}, fmt.Errorf("store: user name %q: %w (use letters, digits, '.', '_', '@' and '-')", n.Username, ErrInvalid)
	}
	switch {
	case n.Role != RoleOperator && n.Role != RoleTenantAdmin && n.Role != RoleAuditor && n.Role != RoleCoordinator:
		return Account{}, fmt.Errorf("store: account %s: role %q: %w", name, n.Role, ErrInvalid)
	case n.Role == RoleOperator && n.TenantID != 0:
		return Account{}, fmt.Errorf("store: account %s: an operator belongs to no tenant: %w", name, ErrInvalid)
	case n.Role == RoleTenantAdmin && n.TenantID == 0:
		return Account{}, fmt.Errorf("store: account %s: a tenant admin needs a tenant: %w", name, ErrInvalid)
	case utf8.RuneCountInString(n.Password) < MinPasswordLen:
		return Account{}, fmt.Errorf("store: account %s: password shorter than %d characters: %w", name, MinPasswordLen, ErrInvalid)
	}
	if n.TenantID != 0 {
		if err := s.tenantExists(ctx, s.db, n.TenantID); err != nil {
			return Account{}, fmt.Errorf("store: account %s: %w", name, err)
		}
	}
	hash, err := s.hashPassword(ctx, n.Password)
	if err != nil {
		return Account{}, fmt.Errorf("store: account %s: %w", name, err)
	}
	a := Account{Username: name, Role: n.Role, TenantID: n.TenantID, Created: s.now().UTC().Truncate(time.Microsecond)}
	err = s.db.QueryRowContext(ctx, s.q(`INSERT INTO accounts (username, role, tenant_id, password_hash, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), a.Username, string(a.Role), nullID(a.TenantID), hash, dbTime(a.Created)).Scan(&a.ID)
	if s.d.isUniqueViolation(err) {
		return Account{}, fmt.Errorf("store: account %s: %w", name, ErrExists)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: create account %s: %w", name, err)
	}
	return a, nil
}

const accountColumns = "id, username, role, tenant_id, totp_secret, totp_pending, created_at, disabled_at, last_login_at, password_hash"

func scanAccount(sc interface{ Scan(...any) error }) (Account, string, error) {
	var a Account
	var role string
	var tenant, disabled, login sql.NullInt64
	var totp, pending sql.NullString
	var created int64
	var hash string
	if err := sc.Scan(&a.ID, &a.Username, &role, &tenant, &totp, &pending, &created, &disabled, &login, &hash); err != nil {
		return Account{}, "", err
	}
	a.Role, a.TenantID, a.TOTPSecret, a.TOTPPending = Role(role), tenant.Int64, totp.String, pending.String
	a.Created, a.Disabled, a.LastLogin = goTime(created), goTimeNull(disabled), goTimeNull(login)
	return a, hash, nil
}

// Account returns the account with the given ID.
func (s *Store) Account(ctx context.Context, id int64) (Account, error) {
	a, _, err := scanAccount(s.db.QueryRowContext(ctx, s.q("SELECT "+accountColumns+" FROM accounts WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("store: account %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %d: %w", id, err)
	}
	return a, nil
}

// AccountByName returns the account called name (case-insensitive).
func (s *Store) AccountByName(ctx context.Context, name string) (Account, error) {
	name = normUsername(name)
	a, _, err := scanAccount(s.db.QueryRowContext(ctx, s.q("SELECT "+accountColumns+" FROM accounts WHERE username = ?"), name))
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("store: account %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("store: account %s: %w", name, err)
	}
	return a, nil
}

// AccountFilter selects accounts for ListAccounts.
type AccountFilter struct {
	// TenantID keeps only the accounts of one tenant; 0 keeps every account
	// (operators and server-wide auditors included).
	TenantID int64
}

// ListAccounts returns accounts sorted by user name, disabled ones
// included.
func (s *Store) ListAccounts(ctx context.Context, f AccountFilter) ([]Account, error) {
	query, args := "SELECT "+accountColumns+" FROM accounts", []any{}
	if f.TenantID != 0 {
		query += " WHERE tenant_id = ?"
		args = append(args, f.TenantID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+" ORDER BY username"), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, _, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list accounts: %w", err)
	}
	return out, nil
}

// Authenticate checks a user name and password. It takes the same time
// whether or not the user exists, and returns ErrInvalidCredentials for an
// unknown user or a wrong password alike. ErrAccountDisabled is returned
// only with the right password. A hash made with other parameters than the
// store's is replaced on success.
func (s *Store) Authenticate(ctx context.Context, user, password string) (Account, error) {
	dummy, err := s.dummy(ctx)
	if err != nil {
		return Account{}, fmt.Errorf("store: authenticate: %w", err)
	}
	name := normUsername(user)
	a, hash, err := scanAccount(s.db.QueryRowContext(ctx, s.q("SELECT "+accountColumns+" FROM accounts WHERE username = ?"), name))
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("store: authenticate %s: %w", name, err)
	}
	if !found {
		hash = dummy
	}
	ok, err := s.verifyPassword(ctx, password, hash)
	if err != nil {
		if ctx.Err() != nil {
			return Account{}, fmt.Errorf("store: authenticate %s: %w", name, ctx.Err())
		}
		s.log.ErrorContext(ctx, "stored password hash is unusable", "account", name, "err", err)
		return Account{}, fmt.Errorf("store: authenticate %s: %w", name, ErrInvalidCredentials)
	}
	if !found || !ok {
		return Account{}, fmt.Errorf("store: authenticate %s: %w", name, ErrInvalidCredentials)
	}
	if !a.Disabled.IsZero() {
		return Account{}, fmt.Errorf("store: authenticate %s: %w", name, ErrAccountDisabled)
	}
	if NeedsRehash(hash, s.pw) {
		if err := s.setPassword(ctx, a.ID, password); err != nil {
			s.log.WarnContext(ctx, "cannot upgrade password hash", "account", name, "err", err)
		}
	}
	return a, nil
}

// SetPassword replaces an account's password.
func (s *Store) SetPassword(ctx context.Context, accountID int64, password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return fmt.Errorf("store: account %d: password shorter than %d characters: %w", accountID, MinPasswordLen, ErrInvalid)
	}
	if err := s.setPassword(ctx, accountID, password); err != nil {
		return fmt.Errorf("store: account %d: %w", accountID, err)
	}
	return nil
}

func (s *Store) setPassword(ctx context.Context, accountID int64, password string) error {
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	return s.updateAccount(ctx, accountID, "password_hash = ?", hash)
}

// SetTOTP sets the base32 secret of an account's second factor; "" removes
// it. Either way a secret being set up (TOTPPending) is dropped: it was
// drawn for a state of the account that no longer holds.
func (s *Store) SetTOTP(ctx context.Context, accountID int64, secret string) error {
	v := sql.NullString{String: secret, Valid: secret != ""}
	if err := s.updateAccount(ctx, accountID, "totp_secret = ?, totp_pending = NULL", v); err != nil {
		return fmt.Errorf("store: set second factor of account %d: %w", accountID, err)
	}
	return nil
}

// SetPendingTOTP records a second-factor secret being set up, replacing
// any earlier pending one. The active secret, if any, is untouched.
func (s *Store) SetPendingTOTP(ctx context.Context, accountID int64, secret string) error {
	if secret == "" {
		return fmt.Errorf("store: pending second factor of account %d: %w: empty secret", accountID, ErrInvalid)
	}
	if err := s.updateAccount(ctx, accountID, "totp_pending = ?", secret); err != nil {
		return fmt.Errorf("store: pending second factor of account %d: %w", accountID, err)
	}
	return nil
}

// ActivateTOTP makes the pending secret the account's second factor, if
// it is still secret: the caller verified a code against that value, and a
// set-up started meanwhile (another pending secret) must not be activated
// in its place. Otherwise it returns ErrInvalid (ErrNotFound for an unknown
// account).
func (s *Store) ActivateTOTP(ctx context.Context, accountID int64, secret string) error {
	if secret == "" {
		return fmt.Errorf("store: activate second factor of account %d: %w: empty secret", accountID, ErrInvalid)
	}
	res, err := s.db.ExecContext(ctx, s.q("UPDATE accounts SET totp_secret = totp_pending, totp_pending = NULL WHERE id = ? AND totp_pending = ?"), accountID, secret)
	if err != nil {
		return fmt.Errorf("store: activate second factor of account %d: %w", accountID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: activate second factor of account %d: %w", accountID, err)
	} else if n == 1 {
		return nil
	}
	if _, err := s.Account(ctx, accountID); err != nil {
		return fmt.Errorf("store: activate second factor: %w", err)
	}
	return fmt.Errorf("store: activate second factor of account %d: %w: no such secret being set up", accountID, ErrInvalid)
}

// ErrLastOperator is returned by DisableAccount for the only enabled
// operator: without one nobody could create tenants or repair accounts
// short of editing the database.
var ErrLastOperator = errors.New("the last enabled operator cannot be disabled")

// lockAccounts serialises DisableAccount on PostgreSQL (see dialect.lock;
// the other keys are in dialect.go). Without it, two operators disabling
// each other at once would each see the other still enabled, and both
// would succeed.
const lockAccounts int64 = 0x72656d70617274a1

// DisableAccount stops an account from signing in and deletes its tokens
// (sessions and API tokens), so that they stay dead even if the account
// were enabled again. Disabling a disabled account changes nothing but
// deletes any token left. The last enabled operator is refused with
// ErrLastOperator.
func (s *Store) DisableAccount(ctx context.Context, accountID int64) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.d.lock(ctx, tx, lockAccounts); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var role string
		var disabled sql.NullInt64
		err := tx.QueryRowContext(ctx, s.q("SELECT role, disabled_at FROM accounts WHERE id = ?"), accountID).Scan(&role, &disabled)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if Role(role) == RoleOperator && !disabled.Valid {
			var n int64
			if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM accounts WHERE role = ? AND disabled_at IS NULL"), string(RoleOperator)).Scan(&n); err != nil {
				return err
			}
			if n <= 1 {
				return ErrLastOperator
			}
		}
		if _, err := tx.ExecContext(ctx, s.q("UPDATE accounts SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?"), dbTime(s.now()), accountID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q("DELETE FROM api_tokens WHERE account_id = ?"), accountID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: disable account %d: %w", accountID, err)
	}
	return nil
}

// RecordLogin notes that the account signed in now.
func (s *Store) RecordLogin(ctx context.Context, accountID int64) error {
	if err := s.updateAccount(ctx, accountID, "last_login_at = ?", dbTime(s.now())); err != nil {
		return fmt.Errorf("store: record sign-in of account %d: %w", accountID, err)
	}
	return nil
}

// EnableAccount enables a disabled account again with a new password
// (whoever held the old one, when it was disabled, does not get back
// in with it). ErrConflict when it is not disabled.
func (s *Store) EnableAccount(ctx context.Context, accountID int64, password string) error {
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return fmt.Errorf("store: enable account %d: %w", accountID, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q("UPDATE accounts SET disabled_at = NULL, password_hash = ? WHERE id = ? AND disabled_at IS NOT NULL"), hash, accountID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, s.q("SELECT 1 FROM accounts WHERE id = ?"), accountID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return fmt.Errorf("it is not disabled: %w", ErrConflict)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: enable account %d: %w", accountID, err)
	}
	return nil
}

func (s *Store) updateAccount(ctx context.Context, id int64, set string, v any) error {
	res, err := s.db.ExecContext(ctx, s.q("UPDATE accounts SET "+set+" WHERE id = ?"), v, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}

// hashPassword and verifyPassword bound the argon2id computations running
// at once: each one holds PasswordParams.Memory.
func (s *Store) hashPassword(ctx context.Context, password string) (string, error) {
	if err := s.acquireHash(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.hashSem }()
	return HashPassword(password, s.pw)
}

func (s *Store) verifyPassword(ctx context.Context, password, hash string) (bool, error) {
	if err := s.acquireHash(ctx); err != nil {
		return false, err
	}
	defer func() { <-s.hashSem }()
	return VerifyPassword(password, hash)
}

func (s *Store) acquireHash(ctx context.Context) error {
	select {
	case s.hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dummy is a hash with the store's parameters, verified for unknown users
// so that they take as long as known ones.
func (s *Store) dummy(ctx context.Context) (string, error) {
	s.dummyOnce.Do(func() {
		s.dummyHash, s.dummyErr = s.hashPassword(context.WithoutCancel(ctx), "rempart: no such user")
	})
	return s.dummyHash, s.dummyErr
}

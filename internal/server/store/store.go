// Package store owns the server's metadata: tenants (the towns a server
// hosts), accounts and their roles, API tokens, agents and their one-time
// enrolment tokens, and the hash-chained audit trail. It keeps them in SQL,
// in SQLite by default (pure Go, no cgo) or in PostgreSQL (pgx) for large
// installations, with one schema applied by versioned migrations when the
// store is opened. Backup data never goes through here.
//
// Secrets are never stored in clear: passwords as argon2id hashes (PHC
// strings, see password.go), tokens as the SHA-256 of their random part. A
// clear token is returned once, when it is created.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Errors callers test with errors.Is.
var (
	ErrNotFound           = errors.New("not found")
	ErrExists             = errors.New("already exists")
	ErrInvalid            = errors.New("invalid value")
	ErrInvalidCredentials = errors.New("invalid username or password")
	ErrAccountDisabled    = errors.New("account disabled")
	ErrInvalidToken       = errors.New("invalid token")
	ErrTokenExpired       = errors.New("token expired")
	ErrTokenUsed          = errors.New("enrolment token already used")
	ErrAuditChainBroken   = errors.New("audit chain broken")
)

// Options tune a Store. The zero value is ready for production.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives migrations and anomalies (default slog.Default()).
	Logger *slog.Logger
	// PasswordParams are the argon2id parameters for new password hashes
	// (default DefaultPasswordParams).
	PasswordParams PasswordParams
	// MaxConcurrentHashes bounds how many argon2id computations run at
	// once; each takes PasswordParams.Memory KiB (default 2).
	MaxConcurrentHashes int
}

// Store is the server's metadata database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	d       dialect
	now     func() time.Time
	log     *slog.Logger
	pw      PasswordParams
	hashSem chan struct{}

	dummyOnce sync.Once
	dummyHash string
	dummyErr  error

	auditMu sync.Mutex
}

// OpenSQLite opens (creating it if needed) the SQLite database at path and
// brings its schema up to date.
func OpenSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store: invalid SQLite path %q", path)
	}
	// WAL lets readers run beside the writer; immediate transactions take the
	// write lock at BEGIN, so two writers queue (busy_timeout) instead of
	// failing half-way.
	dsn := "file:" + path + "?_busy_timeout=10000&_foreign_keys=1&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open SQLite %s: %w", path, err)
	}
	return open(ctx, db, sqliteDialect{}, opts)
}

// OpenPostgres connects to PostgreSQL (dsn as accepted by pgx, e.g.
// "postgres://user:pass@host/db?sslmode=verify-full") and brings the schema
// up to date.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open PostgreSQL: %w", err)
	}
	return open(ctx, db, postgresDialect{}, opts)
}

func open(ctx context.Context, db *sql.DB, d dialect, opts Options) (*Store, error) {
	s := &Store{db: db, d: d, now: opts.Now, log: opts.Logger, pw: opts.PasswordParams}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.pw == (PasswordParams{}) {
		s.pw = DefaultPasswordParams
	}
	if err := s.pw.check(); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: password parameters: %w", err)
	}
	n := opts.MaxConcurrentHashes
	if n <= 0 {
		n = min(2, runtime.GOMAXPROCS(0))
	}
	s.hashSem = make(chan struct{}, n)
	// A database host that drops packets would otherwise hold the start
	// for the system's TCP timeout (minutes).
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := connect(cctx, db, d)
	cancel()
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", d.name(), err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// connect opens the first connection. Switching a brand-new SQLite file to
// WAL takes an exclusive lock that SQLite does not wait for (the busy
// handler is not called for it), so two processes starting on the same new
// database can see SQLITE_BUSY once: retry that for up to ten seconds, the
// same patience as busy_timeout.
func connect(ctx context.Context, db *sql.DB, d dialect) error {
	deadline := time.Now().Add(10 * time.Second)
	wait := 5 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		if err == nil || !d.isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name() }

// q adapts a query written with ? placeholders to the dialect.
func (s *Store) q(query string) string { return s.d.rebind(query) }

// queryRows runs query (rebound for the dialect) and scans every row with
// scan, newest or oldest first as the query orders them; a nil slice when
// there is none. Every error is wrapped "store: what: ...", as listings
// report them.
func queryRows[T any](ctx context.Context, s *Store, what string, scan func(interface{ Scan(...any) error }) (T, error),
	query string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// inTx runs fn in a transaction, committed if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Times are stored as Unix microseconds (BIGINT): portable, exact and
// ordered the same way in both dialects.
func dbTime(t time.Time) int64 { return t.UnixMicro() }

func goTime(us int64) time.Time { return time.UnixMicro(us).UTC() }

func goTimeNull(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return goTime(v.Int64)
}

func dbTimeNull(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: dbTime(t), Valid: true}
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// Now is the store's clock: the time it writes into records (time.Now unless
// Options.Now replaced it). Handlers that compare records with the present
// use it, so that ages agree with what was recorded.
func (s *Store) Now() time.Time { return s.now() }

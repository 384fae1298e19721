package store

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fastParams keep argon2id cheap in tests that hash many passwords.
var fastParams = PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a store under test with its clock, and how to open it again.
type env struct {
	s       *Store
	clock   *clock
	dialect string
	target  string // SQLite path or PostgreSQL DSN
}

func (e *env) options() Options {
	return Options{Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler), PasswordParams: fastParams}
}

// open opens another Store on the same database.
func (e *env) open(t *testing.T, opts Options) (*Store, error) {
	t.Helper()
	ctx := context.Background()
	var s *Store
	var err error
	if e.dialect == "sqlite" {
		s, err = OpenSQLite(ctx, e.target, opts)
	} else {
		s, err = OpenPostgres(ctx, e.target, opts)
	}
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

func newEnv(t *testing.T, dialect string) *env {
	t.Helper()
	e := &env{clock: &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}, dialect: dialect}
	if dialect == "sqlite" {
		e.target = filepath.Join(t.TempDir(), "rempart.db")
	} else {
		e.target = postgresDSN(t)
	}
	s, err := e.open(t, e.options())
	if err != nil {
		t.Fatalf("open %s store: %v", dialect, err)
	}
	e.s = s
	return e
}

// forEachDB runs fn against a fresh SQLite store and a fresh PostgreSQL
// store.
func forEachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) { fn(t, newEnv(t, d)) })
	}
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// must fails on an error.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mustTenant creates a tenant.
func mustTenant(t *testing.T, e *env, name string) Tenant {
	t.Helper()
	tn, err := e.s.CreateTenant(context.Background(), NewTenant{Name: name})
	must(t, err)
	return tn
}

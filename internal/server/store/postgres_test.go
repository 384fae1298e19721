package store

import (
	"os"
	"testing"

	"github.com/rempart/rempart/internal/server/store/pgtest"
)

// The PostgreSQL variant of the tests runs against REMPART_TEST_PG_DSN when
// it is set, or else against a throwaway server (see package pgtest) that
// TestMain stops. Without either the PostgreSQL tests fail: they are never
// skipped.

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// postgresDSN returns a DSN whose search_path is a new schema that is
// dropped when the test ends.
func postgresDSN(t *testing.T) string {
	t.Helper()
	return pgtest.DSN(t)
}

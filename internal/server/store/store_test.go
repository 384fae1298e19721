package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMigrations(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		got, err := e.s.AppliedMigrations(ctx)
		must(t, err)
		var want []int
		for _, m := range migrations {
			want = append(want, m.version)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("applied migrations %v, want %v", got, want)
		}
		if e.s.Dialect() != e.dialect {
			t.Fatalf("Dialect() = %s", e.s.Dialect())
		}
		for _, table := range []string{"tenants", "accounts", "api_tokens", "agents", "enrolment_tokens", "audit"} {
			var n int
			must(t, e.s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n))
		}

		// Opening again applies nothing.
		s2, err := e.open(t, e.options())
		must(t, err)
		got, err = s2.AppliedMigrations(ctx)
		must(t, err)
		if !slices.Equal(got, want) {
			t.Fatalf("after reopen: applied migrations %v, want %v", got, want)
		}

		// A schema from a newer rempart is refused.
		_, err = e.s.db.ExecContext(ctx, e.s.q("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
			SchemaVersion()+1, "from the future", 0)
		must(t, err)
		_, err = e.open(t, e.options())
		if err == nil || !strings.Contains(err.Error(), "upgrade rempart") {
			t.Fatalf("open with a newer schema = %v, want an upgrade error", err)
		}
	})
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	for _, d := range []string{"sqlite", "postgres"} {
		t.Run(d, func(t *testing.T) {
			e := &env{clock: &clock{t: time.Now()}, dialect: d}
			if d == "sqlite" {
				e.target = t.TempDir() + "/fresh.db"
			} else {
				e.target = postgresDSN(t)
			}
			var wg sync.WaitGroup
			errs := make([]error, 4)
			stores := make([]*Store, 4)
			for i := range 4 {
				wg.Go(func() { stores[i], errs[i] = e.open(t, e.options()) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("open %d: %v", i, err)
				}
			}
			got, err := stores[0].AppliedMigrations(context.Background())
			must(t, err)
			if len(got) != len(migrations) {
				t.Fatalf("applied migrations %v after concurrent opens", got)
			}
		})
	}
}

func TestTenants(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		b, err := e.s.CreateTenant(ctx, NewTenant{
			Name:      "saint-denis",
			Retention: json.RawMessage(`{ "keep_daily": 90,  "keep_weekly": 52 }`),
			Lock:      LockSettings{Days: 30},
		})
		must(t, err)
		if b.ID == 0 || !b.Created.Equal(e.clock.Now()) {
			t.Fatalf("created tenant %+v", b)
		}
		a := mustTenant(t, e, "aubervilliers")

		_, err = e.s.CreateTenant(ctx, NewTenant{Name: "saint-denis"})
		wantErr(t, err, ErrExists, "duplicate tenant")
		for _, bad := range []string{"", "Saint-Denis", "saint denis", "../etc", "-x", strings.Repeat("a", 64)} {
			_, err = e.s.CreateTenant(ctx, NewTenant{Name: bad})
			wantErr(t, err, ErrInvalid, fmt.Sprintf("tenant name %q", bad))
		}
		for _, bad := range []string{`[1,2]`, `"x"`, `{`, `null`} {
			_, err = e.s.CreateTenant(ctx, NewTenant{Name: "x", Retention: json.RawMessage(bad)})
			wantErr(t, err, ErrInvalid, fmt.Sprintf("retention %s", bad))
		}
		_, err = e.s.CreateTenant(ctx, NewTenant{Name: "x", Lock: LockSettings{Days: -1}})
		wantErr(t, err, ErrInvalid, "negative lock")

		list, err := e.s.ListTenants(ctx)
		must(t, err)
		if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
			t.Fatalf("ListTenants = %+v, want aubervilliers then saint-denis", list)
		}
		got := list[1]
		if string(got.Retention) != `{"keep_daily":90,"keep_weekly":52}` || got.Lock.Days != 30 || !got.Created.Equal(b.Created) {
			t.Fatalf("tenant read back as %+v (retention %s)", got, got.Retention)
		}
		if string(list[0].Retention) != `{}` {
			t.Fatalf("default retention %s, want {}", list[0].Retention)
		}
		byName, err := e.s.TenantByName(ctx, "aubervilliers")
		must(t, err)
		if byName.ID != a.ID {
			t.Fatalf("TenantByName = %+v", byName)
		}
		_, err = e.s.TenantByName(ctx, "nowhere")
		wantErr(t, err, ErrNotFound, "unknown tenant")
	})
}

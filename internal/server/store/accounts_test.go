package store

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const goodPassword = "un mot de passe assez long"

func TestCreateAccount(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		town := mustTenant(t, e, "bobigny")

		op, err := e.s.CreateAccount(ctx, NewAccount{Username: " Alice ", Password: goodPassword, Role: RoleOperator})
		must(t, err)
		if op.ID == 0 || op.Username != "alice" || op.Role != RoleOperator || op.TenantID != 0 {
			t.Fatalf("operator %+v", op)
		}
		adm, err := e.s.CreateAccount(ctx, NewAccount{Username: "dsi@bobigny.fr", Password: goodPassword, Role: RoleTenantAdmin, TenantID: town.ID})
		must(t, err)
		aud, err := e.s.CreateAccount(ctx, NewAccount{Username: "cnil", Password: goodPassword, Role: RoleAuditor})
		must(t, err)

		got, err := e.s.Account(ctx, adm.ID)
		must(t, err)
		if got.Username != "dsi@bobigny.fr" || got.Role != RoleTenantAdmin || got.TenantID != town.ID || !got.Created.Equal(e.clock.Now()) || !got.Disabled.IsZero() {
			t.Fatalf("Account = %+v", got)
		}
		if got, err := e.s.Account(ctx, aud.ID); err != nil || got.TenantID != 0 || got.Role != RoleAuditor {
			t.Fatalf("auditor = %+v, %v", got, err)
		}
		_, err = e.s.Account(ctx, 9999)
		wantErr(t, err, ErrNotFound, "unknown account")

		_, err = e.s.CreateAccount(ctx, NewAccount{Username: "ALICE", Password: goodPassword, Role: RoleOperator})
		wantErr(t, err, ErrExists, "user names are case-insensitive")
		for name, n := range map[string]NewAccount{
			"bad role":             {Username: "bob", Password: goodPassword, Role: "root"},
			"agent role":           {Username: "bob", Password: goodPassword, Role: RoleAgent},
			"operator with tenant": {Username: "bob", Password: goodPassword, Role: RoleOperator, TenantID: town.ID},
			"admin without tenant": {Username: "bob", Password: goodPassword, Role: RoleTenantAdmin},
			"short password":       {Username: "bob", Password: "court", Role: RoleOperator},
			"bad user name":        {Username: "bob smith", Password: goodPassword, Role: RoleOperator},
			"empty user name":      {Username: "", Password: goodPassword, Role: RoleOperator},
			"overlong user name":   {Username: strings.Repeat("b", 65), Password: goodPassword, Role: RoleOperator},
		} {
			_, err := e.s.CreateAccount(ctx, n)
			wantErr(t, err, ErrInvalid, name)
		}
		_, err = e.s.CreateAccount(ctx, NewAccount{Username: "bob", Password: goodPassword, Role: RoleTenantAdmin, TenantID: 424242})
		wantErr(t, err, ErrNotFound, "unknown tenant")

		// Only an argon2id hash is stored.
		var hash string
		must(t, e.s.db.QueryRowContext(ctx, e.s.q("SELECT password_hash FROM accounts WHERE id = ?"), op.ID).Scan(&hash))
		if !strings.HasPrefix(hash, "$argon2id$v=19$m=1024,t=1,p=1$") || strings.Contains(hash, goodPassword) {
			t.Fatalf("stored password hash %q", hash)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, err := e.s.CreateAccount(ctx, NewAccount{Username: "alice", Password: goodPassword, Role: RoleOperator})
		must(t, err)

		got, err := e.s.Authenticate(ctx, "Alice", goodPassword)
		must(t, err)
		if got.ID != a.ID || got.Role != RoleOperator {
			t.Fatalf("Authenticate = %+v", got)
		}
		_, err = e.s.Authenticate(ctx, "alice", goodPassword+"!")
		wantErr(t, err, ErrInvalidCredentials, "wrong password")
		_, err = e.s.Authenticate(ctx, "mallory", goodPassword)
		wantErr(t, err, ErrInvalidCredentials, "unknown user")
		_, err = e.s.Authenticate(ctx, "not a valid name", goodPassword)
		wantErr(t, err, ErrInvalidCredentials, "malformed user name")

		// Password change.
		must(t, e.s.SetPassword(ctx, a.ID, "un autre mot de passe"))
		_, err = e.s.Authenticate(ctx, "alice", goodPassword)
		wantErr(t, err, ErrInvalidCredentials, "old password")
		_, err = e.s.Authenticate(ctx, "alice", "un autre mot de passe")
		must(t, err)
		wantErr(t, e.s.SetPassword(ctx, a.ID, "court"), ErrInvalid, "short new password")
		wantErr(t, e.s.SetPassword(ctx, 9999, goodPassword), ErrNotFound, "password of unknown account")

		// Second factor.
		must(t, e.s.SetTOTP(ctx, a.ID, "JBSWY3DPEHPK3PXP"))
		got, err = e.s.Authenticate(ctx, "alice", "un autre mot de passe")
		must(t, err)
		if got.TOTPSecret != "JBSWY3DPEHPK3PXP" {
			t.Fatalf("TOTP secret %q", got.TOTPSecret)
		}
		must(t, e.s.SetTOTP(ctx, a.ID, ""))
		if got, _ := e.s.Account(ctx, a.ID); got.TOTPSecret != "" {
			t.Fatalf("TOTP secret %q after removal", got.TOTPSecret)
		}
		wantErr(t, e.s.SetTOTP(ctx, 9999, "X"), ErrNotFound, "TOTP of unknown account")

		// A disabled account: the wrong password still says nothing more.
		e.clock.Add(time.Hour)
		must(t, e.s.DisableAccount(ctx, a.ID))
		_, err = e.s.Authenticate(ctx, "alice", "wrong password!!")
		wantErr(t, err, ErrInvalidCredentials, "disabled, wrong password")
		_, err = e.s.Authenticate(ctx, "alice", "un autre mot de passe")
		wantErr(t, err, ErrAccountDisabled, "disabled, right password")
		got, err = e.s.Account(ctx, a.ID)
		must(t, err)
		if !got.Disabled.Equal(e.clock.Now()) {
			t.Fatalf("disabled at %v, want %v", got.Disabled, e.clock.Now())
		}
		wantErr(t, e.s.DisableAccount(ctx, 9999), ErrNotFound, "disable unknown account")
	})
}

func TestAuthenticateUpgradesHash(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, err := e.s.CreateAccount(ctx, NewAccount{Username: "alice", Password: goodPassword, Role: RoleOperator})
		must(t, err)
		opts := e.options()
		opts.PasswordParams = PasswordParams{Memory: 2048, Iterations: 2, Parallelism: 1}
		s2, err := e.open(t, opts)
		must(t, err)
		_, err = s2.Authenticate(ctx, "alice", goodPassword)
		must(t, err)
		var hash string
		must(t, s2.db.QueryRowContext(ctx, s2.q("SELECT password_hash FROM accounts WHERE id = ?"), a.ID).Scan(&hash))
		if !strings.HasPrefix(hash, "$argon2id$v=19$m=2048,t=2,p=1$") {
			t.Fatalf("hash %q not upgraded to the new parameters", hash)
		}
		_, err = s2.Authenticate(ctx, "alice", goodPassword)
		must(t, err)
	})
}

// TestAuthenticateTiming: an unknown user costs an argon2id verification
// like a known one (without the dummy hash it would be ~100 times faster).
func TestAuthenticateTiming(t *testing.T) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "t.db"), Options{
		Logger:         slog.New(slog.DiscardHandler),
		PasswordParams: PasswordParams{Memory: 16 * 1024, Iterations: 2, Parallelism: 1},
	})
	must(t, err)
	defer s.Close()
	_, err = s.CreateAccount(ctx, NewAccount{Username: "alice", Password: goodPassword, Role: RoleOperator})
	must(t, err)
	median := func(user string) time.Duration {
		var d []time.Duration
		for range 7 {
			start := time.Now()
			_, err := s.Authenticate(ctx, user, "wrong password here")
			d = append(d, time.Since(start))
			wantErr(t, err, ErrInvalidCredentials, user)
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	median("nobody") // the first call computes the dummy hash
	known, unknown := median("alice"), median("nobody")
	if ratio := float64(unknown) / float64(known); ratio < 0.4 || ratio > 2.5 {
		t.Fatalf("unknown user takes %v, known user %v: timing reveals which users exist", unknown, known)
	}
}

func TestAuthenticateHonoursContext(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.s.Authenticate(ctx, "alice", goodPassword); err == nil {
		t.Fatal("Authenticate ran with a cancelled context")
	}
}

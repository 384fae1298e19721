package store

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
		// (alice is disabled while bob, another operator, stays enabled.)
		_, err = e.s.CreateAccount(ctx, NewAccount{Username: "bob", Password: goodPassword, Role: RoleOperator})
		must(t, err)
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

		// Enabled again, with a new password only: the old one stays refused.
		const fresh = "a brand new password"
		must(t, e.s.EnableAccount(ctx, a.ID, fresh))
		_, err = e.s.Authenticate(ctx, "alice", "un autre mot de passe")
		wantErr(t, err, ErrInvalidCredentials, "the password from before it was disabled")
		back, err := e.s.Authenticate(ctx, "alice", fresh)
		must(t, err)
		if !back.Disabled.IsZero() || !back.LastLogin.IsZero() {
			t.Fatalf("enabled account: %+v", back)
		}
		wantErr(t, e.s.EnableAccount(ctx, a.ID, fresh), ErrConflict, "enable an enabled account")
		wantErr(t, e.s.EnableAccount(ctx, 9999, fresh), ErrNotFound, "enable unknown account")
		// Its last sign-in is kept.
		e.clock.Add(time.Minute)
		must(t, e.s.RecordLogin(ctx, a.ID))
		if got, _ := e.s.Account(ctx, a.ID); !got.LastLogin.Equal(e.clock.Now()) {
			t.Fatalf("last sign-in %v, want %v", got.LastLogin, e.clock.Now())
		}
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

func TestListAccounts(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := mustTenant(t, e, "aulnay"), mustTenant(t, e, "bagnolet")
		for _, n := range []NewAccount{
			{Username: "zoe", Role: RoleOperator},
			{Username: "dsi-a", Role: RoleTenantAdmin, TenantID: a.ID},
			{Username: "cnil", Role: RoleAuditor},
			{Username: "audit-b", Role: RoleAuditor, TenantID: b.ID},
			{Username: "dsi-b", Role: RoleTenantAdmin, TenantID: b.ID},
		} {
			n.Password = goodPassword
			_, err := e.s.CreateAccount(ctx, n)
			must(t, err)
		}
		names := func(list []Account) []string {
			var out []string
			for _, a := range list {
				out = append(out, a.Username)
			}
			return out
		}
		all, err := e.s.ListAccounts(ctx, AccountFilter{})
		must(t, err)
		if got := names(all); !slices.Equal(got, []string{"audit-b", "cnil", "dsi-a", "dsi-b", "zoe"}) {
			t.Fatalf("every account: %v", got)
		}
		ofB, err := e.s.ListAccounts(ctx, AccountFilter{TenantID: b.ID})
		must(t, err)
		if got := names(ofB); !slices.Equal(got, []string{"audit-b", "dsi-b"}) {
			t.Fatalf("accounts of bagnolet: %v", got)
		}
		none, err := e.s.ListAccounts(ctx, AccountFilter{TenantID: 9999})
		must(t, err)
		if len(none) != 0 {
			t.Fatalf("accounts of an unknown tenant: %v", names(none))
		}

		got, err := e.s.AccountByName(ctx, " DSI-A ")
		must(t, err)
		if got.Username != "dsi-a" || got.TenantID != a.ID || got.Role != RoleTenantAdmin {
			t.Fatalf("AccountByName = %+v", got)
		}
		_, err = e.s.AccountByName(ctx, "nobody")
		wantErr(t, err, ErrNotFound, "unknown name")
	})
}

func TestDisableAccountKeepsAnOperator(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		first, err := e.s.CreateAccount(ctx, NewAccount{Username: "first", Password: goodPassword, Role: RoleOperator})
		must(t, err)
		wantErr(t, e.s.DisableAccount(ctx, first.ID), ErrLastOperator, "only operator")
		if got, _ := e.s.Account(ctx, first.ID); !got.Disabled.IsZero() {
			t.Fatal("the refused disable disabled the account")
		}
		second, err := e.s.CreateAccount(ctx, NewAccount{Username: "second", Password: goodPassword, Role: RoleOperator})
		must(t, err)
		tok, _, err := e.s.CreateAPIToken(ctx, NewAPIToken{AccountID: first.ID, Name: "script", Kind: TokenAutomation, TTL: time.Hour})
		must(t, err)
		must(t, e.s.DisableAccount(ctx, first.ID))
		// Its tokens are deleted, not only refused.
		_, err = e.s.CheckToken(ctx, tok)
		wantErr(t, err, ErrInvalidToken, "token of the disabled operator")
		if list, err := e.s.ListAPITokens(ctx, first.ID, 0); err != nil || len(list) != 0 {
			t.Fatalf("tokens left after disable: %+v, %v", list, err)
		}
		// Disabled operators do not count.
		wantErr(t, e.s.DisableAccount(ctx, second.ID), ErrLastOperator, "last enabled operator")
		must(t, e.s.DisableAccount(ctx, first.ID)) // again: nothing changes
		wantErr(t, e.s.DisableAccount(ctx, 9999), ErrNotFound, "unknown account")
	})
}

// TestDisableOperatorsRace: two operators disabling each other at once
// leave one of them enabled.
func TestDisableOperatorsRace(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for round := range 5 {
			var ids []int64
			for i := range 2 {
				a, err := e.s.CreateAccount(ctx, NewAccount{Username: fmt.Sprintf("op-%d-%d", round, i), Password: goodPassword, Role: RoleOperator})
				must(t, err)
				ids = append(ids, a.ID)
			}
			if round > 0 { // disable the survivor of the previous round
				list, err := e.s.ListAccounts(ctx, AccountFilter{})
				must(t, err)
				for _, a := range list {
					if a.Disabled.IsZero() && !slices.Contains(ids, a.ID) {
						must(t, e.s.DisableAccount(ctx, a.ID))
					}
				}
			}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() { errs[i] = e.s.DisableAccount(ctx, ids[i]) })
			}
			wg.Wait()
			failed := 0
			for _, err := range errs {
				if err != nil {
					wantErr(t, err, ErrLastOperator, "racing disable")
					failed++
				}
			}
			if failed != 1 {
				t.Fatalf("round %d: %d of 2 racing disables failed, want exactly 1 (%v)", round, failed, errs)
			}
		}
	})
}

func TestPendingTOTP(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, err := e.s.CreateAccount(ctx, NewAccount{Username: "alice", Password: goodPassword, Role: RoleOperator})
		must(t, err)
		must(t, e.s.SetPendingTOTP(ctx, a.ID, "AAAAAAAAAAAAAAAA"))
		got, err := e.s.Authenticate(ctx, "alice", goodPassword)
		must(t, err)
		if got.TOTPSecret != "" || got.TOTPPending != "AAAAAAAAAAAAAAAA" {
			t.Fatalf("after set-up began: active %q pending %q", got.TOTPSecret, got.TOTPPending)
		}
		// A newer set-up replaces the pending secret; the older one can no
		// longer be activated.
		must(t, e.s.SetPendingTOTP(ctx, a.ID, "BBBBBBBBBBBBBBBB"))
		wantErr(t, e.s.ActivateTOTP(ctx, a.ID, "AAAAAAAAAAAAAAAA"), ErrInvalid, "activate a replaced secret")
		must(t, e.s.ActivateTOTP(ctx, a.ID, "BBBBBBBBBBBBBBBB"))
		got, err = e.s.Account(ctx, a.ID)
		must(t, err)
		if got.TOTPSecret != "BBBBBBBBBBBBBBBB" || got.TOTPPending != "" {
			t.Fatalf("after activation: active %q pending %q", got.TOTPSecret, got.TOTPPending)
		}
		wantErr(t, e.s.ActivateTOTP(ctx, a.ID, "BBBBBBBBBBBBBBBB"), ErrInvalid, "activate twice")

		// A set-up begun while one is active leaves the active one alone;
		// removing the second factor also drops the pending one.
		must(t, e.s.SetPendingTOTP(ctx, a.ID, "CCCCCCCCCCCCCCCC"))
		if got, _ := e.s.Account(ctx, a.ID); got.TOTPSecret != "BBBBBBBBBBBBBBBB" {
			t.Fatalf("a new set-up changed the active secret to %q", got.TOTPSecret)
		}
		must(t, e.s.SetTOTP(ctx, a.ID, ""))
		if got, _ := e.s.Account(ctx, a.ID); got.TOTPSecret != "" || got.TOTPPending != "" {
			t.Fatalf("after removal: active %q pending %q", got.TOTPSecret, got.TOTPPending)
		}
		wantErr(t, e.s.SetPendingTOTP(ctx, a.ID, ""), ErrInvalid, "empty pending secret")
		wantErr(t, e.s.SetPendingTOTP(ctx, 9999, "X"), ErrNotFound, "unknown account")
		wantErr(t, e.s.ActivateTOTP(ctx, 9999, "X"), ErrNotFound, "activate for an unknown account")
	})
}

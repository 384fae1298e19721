package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAPITokens(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		town := mustTenant(t, e, "pantin")
		adm, err := e.s.CreateAccount(ctx, NewAccount{Username: "dsi", Password: goodPassword, Role: RoleTenantAdmin, TenantID: town.ID})
		must(t, err)

		clear, tok, err := e.s.CreateAPIToken(ctx, NewAPIToken{AccountID: adm.ID, Name: "script de sauvegarde", TTL: time.Hour})
		must(t, err)
		if !strings.HasPrefix(clear, "rmpt_") || len(clear) != len("rmpt_")+16+1+43 {
			t.Fatalf("token %q has the wrong form", clear)
		}
		if tok.ID == 0 || tok.AccountID != adm.ID || !tok.Expires.Equal(e.clock.Now().Add(time.Hour)) {
			t.Fatalf("token %+v", tok)
		}
		// Neither the token nor its secret part is stored.
		// rmpt_<16 hex selector>_<43 base64url secret>; the secret itself may
		// hold '_', so cut by position, not at the last '_'.
		secretPart := clear[len("rmpt_")+16+1:]
		var sel, hash string
		must(t, e.s.db.QueryRowContext(ctx, e.s.q("SELECT selector, token_hash FROM api_tokens WHERE id = ?"), tok.ID).Scan(&sel, &hash))
		if strings.Contains(hash, secretPart) || strings.Contains(sel, secretPart) || len(hash) != 64 {
			t.Fatalf("stored selector %q hash %q for token %q", sel, hash, clear)
		}

		p, err := e.s.CheckToken(ctx, clear)
		must(t, err)
		want := Principal{TokenID: tok.ID, AccountID: adm.ID, Username: "dsi", Role: RoleTenantAdmin, TenantID: town.ID, TokenKind: TokenSession}
		if p != want {
			t.Fatalf("CheckToken = %+v, want %+v", p, want)
		}
		list, err := e.s.ListAPITokens(ctx, adm.ID, 0)
		must(t, err)
		if len(list) != 1 || !list[0].LastUsed.Equal(e.clock.Now()) || list[0].Name != "script de sauvegarde" {
			t.Fatalf("ListAPITokens = %+v", list)
		}

		// Forged, damaged and foreign tokens.
		for name, bad := range map[string]string{
			"flipped":          tamper(clear),
			"empty":            "",
			"garbage":          "Bearer whatever",
			"no secret":        clear[:len("rmpt_")+16],
			"other selector":   "rmpt_0000000000000000_" + secretPart,
			"enrolment prefix": "rmpe_" + clear[5:],
		} {
			_, err := e.s.CheckToken(ctx, bad)
			wantErr(t, err, ErrInvalidToken, name)
		}

		// Expiry.
		e.clock.Add(59 * time.Minute)
		_, err = e.s.CheckToken(ctx, clear)
		must(t, err)
		e.clock.Add(time.Minute)
		_, err = e.s.CheckToken(ctx, clear)
		wantErr(t, err, ErrTokenExpired, "expired token")

		// A token without a lifetime does not expire; deleting it ends it.
		forever, tok2, err := e.s.CreateAPIToken(ctx, NewAPIToken{AccountID: adm.ID, Name: "sans fin"})
		must(t, err)
		if !tok2.Expires.IsZero() {
			t.Fatalf("token without TTL expires %v", tok2.Expires)
		}
		e.clock.Add(10 * 365 * 24 * time.Hour)
		_, err = e.s.CheckToken(ctx, forever)
		must(t, err)
		must(t, e.s.DeleteAPIToken(ctx, tok2.ID))
		_, err = e.s.CheckToken(ctx, forever)
		wantErr(t, err, ErrInvalidToken, "deleted token")
		wantErr(t, e.s.DeleteAPIToken(ctx, tok2.ID), ErrNotFound, "delete twice")

		// A disabled account's tokens stop working.
		third, _, err := e.s.CreateAPIToken(ctx, NewAPIToken{AccountID: adm.ID, Name: "trois"})
		must(t, err)
		must(t, e.s.DisableAccount(ctx, adm.ID))
		_, err = e.s.CheckToken(ctx, third)
		wantErr(t, err, ErrInvalidToken, "token of a disabled account")

		// Arguments.
		for name, n := range map[string]NewAPIToken{
			"no owner":     {Name: "x"},
			"two owners":   {AccountID: adm.ID, AgentID: 1, Name: "x"},
			"no name":      {AccountID: adm.ID},
			"negative TTL": {AccountID: adm.ID, Name: "x", TTL: -time.Second},
		} {
			_, _, err := e.s.CreateAPIToken(ctx, n)
			wantErr(t, err, ErrInvalid, name)
		}
		_, _, err = e.s.CreateAPIToken(ctx, NewAPIToken{AccountID: 9999, Name: "x"})
		wantErr(t, err, ErrNotFound, "unknown account")
	})
}

func TestEnrolment(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		town := mustTenant(t, e, "montreuil")

		token, en, err := e.s.CreateEnrolment(ctx, town.ID, 24*time.Hour)
		must(t, err)
		if !strings.HasPrefix(token, "rmpe_") || en.TenantID != town.ID || !en.Expires.Equal(e.clock.Now().Add(24*time.Hour)) {
			t.Fatalf("enrolment %q %+v", token, en)
		}
		agent, agentToken, err := e.s.RedeemEnrolment(ctx, token, " srv-fichiers.montreuil.local ")
		must(t, err)
		if agent.ID == 0 || agent.TenantID != town.ID || agent.Host != "srv-fichiers.montreuil.local" {
			t.Fatalf("agent %+v", agent)
		}
		p, err := e.s.CheckToken(ctx, agentToken)
		must(t, err)
		want := Principal{TokenID: p.TokenID, AgentID: agent.ID, Role: RoleAgent, TenantID: town.ID, TokenKind: TokenAgent}
		if p != want || p.TokenID == 0 {
			t.Fatalf("agent principal %+v, want %+v", p, want)
		}

		// One time only.
		_, _, err = e.s.RedeemEnrolment(ctx, token, "another-host")
		wantErr(t, err, ErrTokenUsed, "second redeem")
		agents, err := e.s.ListAgents(ctx, town.ID)
		must(t, err)
		if len(agents) != 1 {
			t.Fatalf("%d agents after a second redeem, want 1", len(agents))
		}

		// Expired, forged, wrong kind.
		old, _, err := e.s.CreateEnrolment(ctx, town.ID, time.Hour)
		must(t, err)
		e.clock.Add(time.Hour)
		_, _, err = e.s.RedeemEnrolment(ctx, old, "late-host")
		wantErr(t, err, ErrTokenExpired, "expired enrolment")
		_, _, err = e.s.RedeemEnrolment(ctx, tamper(old), "host")
		wantErr(t, err, ErrInvalidToken, "forged enrolment")
		_, _, err = e.s.RedeemEnrolment(ctx, agentToken, "host")
		wantErr(t, err, ErrInvalidToken, "API token used as enrolment")
		_, err = e.s.CheckToken(ctx, token)
		wantErr(t, err, ErrInvalidToken, "enrolment used as API token")
		fresh, _, err := e.s.CreateEnrolment(ctx, town.ID, time.Hour)
		must(t, err)
		_, _, err = e.s.RedeemEnrolment(ctx, fresh, "bad\nhost")
		wantErr(t, err, ErrInvalid, "host with a newline")
		_, _, err = e.s.RedeemEnrolment(ctx, fresh, "   ")
		wantErr(t, err, ErrInvalid, "empty host")

		// Arguments.
		_, _, err = e.s.CreateEnrolment(ctx, town.ID, time.Second)
		wantErr(t, err, ErrInvalid, "too short TTL")
		_, _, err = e.s.CreateEnrolment(ctx, town.ID, 31*24*time.Hour)
		wantErr(t, err, ErrInvalid, "too long TTL")
		_, _, err = e.s.CreateEnrolment(ctx, 9999, time.Hour)
		wantErr(t, err, ErrNotFound, "unknown tenant")

		// Revocation.
		must(t, e.s.RevokeAgent(ctx, agent.ID))
		_, err = e.s.CheckToken(ctx, agentToken)
		wantErr(t, err, ErrInvalidToken, "token of a revoked agent")
		agents, err = e.s.ListAgents(ctx, town.ID)
		must(t, err)
		if len(agents) != 1 || !agents[0].Revoked.Equal(e.clock.Now()) {
			t.Fatalf("agents after revocation %+v", agents)
		}
		e.clock.Add(time.Hour)
		must(t, e.s.RevokeAgent(ctx, agent.ID))
		agents, err = e.s.ListAgents(ctx, town.ID)
		must(t, err)
		if !agents[0].Revoked.Equal(e.clock.Now().Add(-time.Hour)) {
			t.Fatal("a second revocation changed the date")
		}
		wantErr(t, e.s.RevokeAgent(ctx, 9999), ErrNotFound, "revoke unknown agent")
	})
}

// TestRedeemRace: many machines racing with one token make one agent.
func TestRedeemRace(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		town := mustTenant(t, e, "bondy")
		token, _, err := e.s.CreateEnrolment(ctx, town.ID, time.Hour)
		must(t, err)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, _, errs[i] = e.s.RedeemEnrolment(ctx, token, "host") })
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrTokenUsed):
				t.Errorf("redeem: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d redeems succeeded, want 1", ok)
		}
		agents, err := e.s.ListAgents(ctx, town.ID)
		must(t, err)
		if len(agents) != 1 {
			t.Fatalf("%d agents, want 1", len(agents))
		}
	})
}

// tamper changes one character in the middle of a token's secret part, so
// that it still parses but no longer matches.
func tamper(token string) string {
	i := len(token) - 10
	c := "A"
	if token[i] == 'A' {
		c = "B"
	}
	return token[:i] + c + token[i+1:]
}

func TestTokenKinds(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		town := mustTenant(t, e, "stains")
		adm, err := e.s.CreateAccount(ctx, NewAccount{Username: "dsi", Password: goodPassword, Role: RoleTenantAdmin, TenantID: town.ID})
		must(t, err)
		session, s1, err := e.s.CreateAPIToken(ctx, NewAPIToken{AccountID: adm.ID, Name: "login", TTL: time.Hour})
		must(t, err)
		script, s2, err := e.s.CreateAPIToken(ctx, NewAPIToken{AccountID: adm.ID, Name: "nightly export", Kind: TokenAutomation, TTL: 90 * 24 * time.Hour})
		must(t, err)
		if s1.Kind != TokenSession || s2.Kind != TokenAutomation {
			t.Fatalf("kinds %q %q", s1.Kind, s2.Kind)
		}
		for clear, want := range map[string]TokenKind{session: TokenSession, script: TokenAutomation} {
			p, err := e.s.CheckToken(ctx, clear)
			must(t, err)
			if p.TokenKind != want || p.Role != RoleTenantAdmin {
				t.Fatalf("principal %+v, want kind %s", p, want)
			}
		}
		got, err := e.s.APITokenByID(ctx, s2.ID)
		must(t, err)
		if got.Kind != TokenAutomation || got.Name != "nightly export" || got.AccountID != adm.ID || !got.Expires.Equal(s2.Expires) {
			t.Fatalf("APITokenByID = %+v", got)
		}
		_, err = e.s.APITokenByID(ctx, 9999)
		wantErr(t, err, ErrNotFound, "unknown token")
		for name, n := range map[string]NewAPIToken{
			"agent kind for an account": {AccountID: adm.ID, Name: "x", Kind: TokenAgent},
			"unknown kind":              {AccountID: adm.ID, Name: "x", Kind: "root"},
			"session kind for an agent": {AgentID: 1, Name: "x", Kind: TokenSession},
		} {
			_, _, err := e.s.CreateAPIToken(ctx, n)
			wantErr(t, err, ErrInvalid, name)
		}

		// A change of password keeps only the token in use.
		third, s3, err := e.s.CreateAPIToken(ctx, NewAPIToken{AccountID: adm.ID, Name: "other laptop", TTL: time.Hour})
		must(t, err)
		other, err := e.s.CreateAccount(ctx, NewAccount{Username: "cnil", Password: goodPassword, Role: RoleAuditor})
		must(t, err)
		foreign, _, err := e.s.CreateAPIToken(ctx, NewAPIToken{AccountID: other.ID, Name: "login", TTL: time.Hour})
		must(t, err)
		n, err := e.s.RevokeAccountTokens(ctx, adm.ID, s3.ID)
		must(t, err)
		if n != 2 {
			t.Fatalf("revoked %d tokens, want 2", n)
		}
		for _, dead := range []string{session, script} {
			_, err := e.s.CheckToken(ctx, dead)
			wantErr(t, err, ErrInvalidToken, "revoked token")
		}
		for _, alive := range []string{third, foreign} {
			_, err := e.s.CheckToken(ctx, alive)
			must(t, err)
		}
		n, err = e.s.RevokeAccountTokens(ctx, adm.ID, 0)
		must(t, err)
		if n != 1 {
			t.Fatalf("revoked %d tokens, want 1", n)
		}
	})
}

// TestTokenKindMigration: tokens made before migration 3 keep working, as
// sessions or as agents' tokens.
func TestTokenKindMigration(t *testing.T) {
	forEachDB(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		at := -1
		for i, m := range migrations {
			if m.version == 3 {
				at = i
			}
		}
		if at < 0 {
			t.Fatal("no migration 3")
		}
		// A database at the schema before migration 3.
		e.target = e.target + "-old"
		if e.dialect == "postgres" {
			e.target = postgresDSN(t)
		}
		all := migrations
		migrations = all[:at]
		old, err := e.open(t, e.options())
		migrations = all
		must(t, err)
		now := dbTime(e.clock.Now())
		var tenant, account, agent int64
		must(t, old.db.QueryRowContext(ctx, old.q(`INSERT INTO tenants (name, created_at, retention_policy, lock_settings) VALUES ('ivry', ?, '{}', '{}') RETURNING id`), now).Scan(&tenant))
		must(t, old.db.QueryRowContext(ctx, old.q(`INSERT INTO accounts (username, role, password_hash, created_at) VALUES ('alice', 'operator', 'x', ?) RETURNING id`), now).Scan(&account))
		must(t, old.db.QueryRowContext(ctx, old.q(`INSERT INTO agents (tenant_id, host, created_at) VALUES (?, 'pc', ?) RETURNING id`), tenant, now).Scan(&agent))
		for i, owner := range []string{"account_id", "agent_id"} {
			id := account
			if i == 1 {
				id = agent
			}
			_, err := old.db.ExecContext(ctx, old.q(`INSERT INTO api_tokens (selector, token_hash, `+owner+`, name, created_at) VALUES (?, 'h', ?, 'old', ?)`), fmt.Sprint(i), id, now)
			must(t, err)
		}
		old.Close()

		s, err := e.open(t, e.options())
		must(t, err)
		for owner, want := range map[int64]TokenKind{account: TokenSession, agent: TokenAgent} {
			var acc, ag int64
			if want == TokenAgent {
				ag = owner
			} else {
				acc = owner
			}
			list, err := s.ListAPITokens(ctx, acc, ag)
			must(t, err)
			if len(list) != 1 || list[0].Kind != want {
				t.Fatalf("token of %d after migration: %+v, want kind %s", owner, list, want)
			}
		}
		if a, err := s.Account(ctx, account); err != nil || a.TOTPPending != "" {
			t.Fatalf("account after migration: %+v, %v", a, err)
		}
	})
}

package e2e

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 6238 TOTP is HMAC-SHA1, as the server and authenticator apps use it
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// totpCode is an authenticator app in a few lines (RFC 6238: HMAC-SHA1,
// 30-second steps, 6 digits), written independently of the server's.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.ReplaceAll(secret, " ", "")))
	if err != nil {
		t.Fatalf("the second-factor secret %q is not base32: %v", secret, err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:])&0x7fffffff)%1_000_000)
}

func TestAccountsTOTPHelper(t *testing.T) {
	// RFC 6238 appendix B, SHA-1, T=59 s: 94287082, of which 6 digits.
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	if got := totpCode(t, secret, time.Unix(59, 0)); got != "287082" {
		t.Fatalf("totpCode = %s, want 287082", got)
	}
}

type accountCreatedJSON struct {
	Username    string `json:"username"`
	Role        string `json:"role"`
	Tenant      string `json:"tenant"`
	TOTPEnabled bool   `json:"totp_enabled"`
	Disabled    bool   `json:"disabled"`
	Password    string `json:"password"`
}

// TestAccountsEndToEnd: the operator of a shared server makes a town's IT
// manager a tenant admin; the manager turns on a second factor, makes an
// auditor and an API token for a script; the auditor reads the trail and
// nothing else; the token works until it is revoked.
func TestAccountsEndToEnd(t *testing.T) {
	op := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	srv := startServer(t, op, filepath.Join(t.TempDir(), "data"))
	op.with("REMPART_LOGIN_PASSWORD", adminPassword).ok("login", srv.url, "--user", "admin", "--ca-fingerprint", srv.fp)
	op.ok("tenant", "create", "mairie-a")

	// The operator creates the town's tenant admin; the password is
	// generated and shown once.
	var dsiAcct accountCreatedJSON
	op.okJSON(&dsiAcct, "account", "create", "dsi@mairie-a.fr", "--role", "tenant-admin", "--tenant", "mairie-a")
	if dsiAcct.Username != "dsi@mairie-a.fr" || dsiAcct.Role != "tenant_admin" || dsiAcct.Tenant != "mairie-a" || len(dsiAcct.Password) < 24 {
		t.Fatalf("account create --json: %+v", dsiAcct)
	}
	r := op.expect(2, "account", "create", "someone")
	mustContain(t, "account create without --role", r.stderr, "--role")
	r = op.expect(1, "account", "create", "other", "--role", "tenant-admin")
	mustContain(t, "tenant admin without tenant", r.stderr, "needs a tenant")

	// The tenant admin signs in on their own machine and turns on TOTP.
	dsi := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	withPw := dsi.with("REMPART_LOGIN_PASSWORD", dsiAcct.Password)
	withPw.ok("login", srv.url, "--user", "dsi@mairie-a.fr", "--ca-fingerprint", srv.fp)
	var setup struct {
		Account     string `json:"account"`
		Secret      string `json:"secret"`
		OTPAuthURI  string `json:"otpauth_uri"`
		TOTPEnabled bool   `json:"totp_enabled"`
	}
	dsi.okJSON(&setup, "account", "totp", "enable")
	if setup.TOTPEnabled || len(setup.Secret) != 32 || !strings.HasPrefix(setup.OTPAuthURI, "otpauth://totp/Rempart:dsi@mairie-a.fr?") ||
		!strings.Contains(setup.OTPAuthURI, "secret="+setup.Secret) {
		t.Fatalf("totp enable --json: %+v", setup)
	}
	// Not confirmed yet: signing in still needs no code, and a wrong code
	// changes nothing.
	withPw.ok("login", srv.url, "--user", "dsi@mairie-a.fr")
	wrong := totpCode(t, setup.Secret, time.Now().Add(-10*time.Minute))
	r = dsi.expect(1, "account", "totp", "confirm", "--code", wrong)
	mustContain(t, "confirm with a wrong code", r.stderr, "does not match")
	withPw.ok("login", srv.url, "--user", "dsi@mairie-a.fr")
	dsi.ok("account", "totp", "confirm", "--code", totpCode(t, setup.Secret, time.Now()))

	// From now on signing in takes a code.
	r = withPw.expect(1, "login", srv.url, "--user", "dsi@mairie-a.fr")
	mustContain(t, "login without the code", r.stderr, "--totp")
	withPw.ok("login", srv.url, "--user", "dsi@mairie-a.fr", "--totp", totpCode(t, setup.Secret, time.Now()))
	var accounts []accountCreatedJSON
	r = op.okJSON(&accounts, "account", "list")
	if strings.Contains(r.stdout, "argon2") || strings.Contains(r.stdout, setup.Secret) {
		t.Errorf("account list shows a secret:\n%s", r.stdout)
	}
	found := false
	for _, a := range accounts {
		if a.Username == "dsi@mairie-a.fr" {
			found = a.TOTPEnabled && a.Tenant == "mairie-a" && !a.Disabled
		}
	}
	if !found {
		t.Errorf("account list: %+v, want dsi@mairie-a.fr with its second factor on", accounts)
	}
	r = op.ok("account", "list")
	mustContain(t, "account list", r.stdout, "dsi@mairie-a.fr", "tenant-admin", "mairie-a")

	// The tenant admin creates an auditor of the town (its own tenant by
	// default) but no operator.
	var audAcct accountCreatedJSON
	dsi.okJSON(&audAcct, "account", "create", "controle-a", "--role", "auditor")
	if audAcct.Role != "auditor" || audAcct.Tenant != "mairie-a" || audAcct.Password == "" {
		t.Fatalf("auditor created: %+v", audAcct)
	}
	r = dsi.expect(1, "account", "create", "chef", "--role", "operator")
	mustContain(t, "tenant admin creating an operator", r.stderr, "access denied")

	// The auditor reads the town's audit trail, and can do nothing else.
	aud := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	aud.with("REMPART_LOGIN_PASSWORD", audAcct.Password).ok("login", srv.url, "--user", "controle-a", "--ca-fingerprint", srv.fp)
	var trail auditJSON
	aud.okJSON(&trail, "audit")
	actions := map[string]bool{}
	for _, rec := range trail.Records {
		if rec.Tenant != "mairie-a" {
			t.Errorf("a tenant auditor sees a record of %q", rec.Tenant)
		}
		actions[rec.Actor+" "+rec.Action] = true
	}
	for _, want := range []string{"account:admin account.create", "account:dsi@mairie-a.fr account.totp.enable", "account:dsi@mairie-a.fr account.create"} {
		if !actions[want] {
			t.Errorf("the auditor's trail lacks %q: %v", want, actions)
		}
	}
	if !trail.Chain.Intact {
		t.Errorf("audit chain: %+v", trail.Chain)
	}
	for name, args := range map[string][]string{
		"tenant create":  {"tenant", "create", "mairie-b"},
		"agent enroll":   {"agent", "enroll", "--tenant", "mairie-a"},
		"account create": {"account", "create", "x", "--role", "auditor"},
		"account list":   {"account", "list"},
	} {
		r := aud.expect(1, args...)
		mustContain(t, "auditor: "+name, r.stderr, "access denied")
	}

	// An API token for a script acts as the tenant admin...
	var tok struct {
		ID      int64  `json:"id"`
		Name    string `json:"name"`
		Token   string `json:"token"`
		Kind    string `json:"kind"`
		Expires string `json:"expires"`
	}
	dsi.okJSON(&tok, "token", "create", "--name", "nightly-enrol", "--ttl", "30d")
	if !strings.HasPrefix(tok.Token, "rmpt_") || tok.Kind != "automation" || tok.Expires == "" {
		t.Fatalf("token create --json: %+v", tok)
	}
	r = dsi.ok("token", "list")
	mustContain(t, "token list", r.stdout, "nightly-enrol", "automation", "session")
	if strings.Contains(r.stdout, tok.Token) {
		t.Errorf("token list shows the token:\n%s", r.stdout)
	}
	script := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "", "REMPART_TOKEN", tok.Token)
	r = script.ok("login", srv.url, "--ca-fingerprint", srv.fp)
	mustContain(t, "login with a token", r.stdout, "dsi@mairie-a.fr", "nightly-enrol")
	script.ok("agent", "enroll", "--tenant", "mairie-a")
	var who struct {
		Username string `json:"username"`
		Role     string `json:"role"`
		Token    struct {
			ID   int64  `json:"id"`
			Kind string `json:"kind"`
		} `json:"token"`
	}
	script.okJSON(&who, "account", "whoami")
	if who.Username != "dsi@mairie-a.fr" || who.Role != "tenant_admin" || who.Token.ID != tok.ID || who.Token.Kind != "automation" {
		t.Errorf("whoami with the token: %+v", who)
	}
	// ... with its role and never more, and it cannot mint tokens.
	r = script.expect(1, "tenant", "create", "mairie-z")
	mustContain(t, "token creating a tenant", r.stderr, "access denied")
	r = script.expect(1, "token", "create", "--name", "child")
	mustContain(t, "token minting a token", r.stderr, "API token may not")
	// --token works as well as REMPART_TOKEN.
	newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "").ok("login", srv.url, "--token", tok.Token, "--ca-fingerprint", srv.fp)

	// Revoked, it stops working at once.
	dsi.ok("token", "revoke", fmt.Sprint(tok.ID))
	r = script.expect(1, "agent", "list", "--tenant", "mairie-a")
	mustContain(t, "revoked token", r.stderr, "invalid or has expired")
	r = newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "", "REMPART_TOKEN", tok.Token).expect(1, "login", srv.url, "--ca-fingerprint", srv.fp)
	mustContain(t, "login with a revoked token", r.stderr, "revoked")

	// The last operator cannot be disabled; the auditor can.
	r = op.expect(1, "account", "disable", "admin")
	mustContain(t, "disabling the last operator", r.stderr, "last enabled operator")
	dsi.ok("account", "disable", "controle-a")
	aud.expect(1, "audit")

	// The whole story is in the operator's trail, and no secret is.
	var all auditJSON
	r = op.okJSON(&all, "audit", "--limit", "0")
	for _, secret := range []string{dsiAcct.Password, audAcct.Password, setup.Secret, tok.Token} {
		if strings.Contains(r.stdout, secret) {
			t.Errorf("the audit trail holds a secret")
		}
	}
	actions = map[string]bool{}
	for _, rec := range all.Records {
		actions[rec.Actor+" "+rec.Action] = true
	}
	for _, want := range []string{
		"account:dsi@mairie-a.fr account.totp.begin", "account:dsi@mairie-a.fr token.create", "account:dsi@mairie-a.fr token.revoke",
		"account:dsi@mairie-a.fr account.disable", "account:controle-a api.refused", "account:dsi@mairie-a.fr api.refused", "account:admin api.refused",
	} {
		if !actions[want] {
			t.Errorf("the operator's trail lacks %q", want)
		}
	}
	srv.stop(t)
}

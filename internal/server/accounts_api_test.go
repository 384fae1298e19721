package server

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/store"
)

// testClock is the store's clock in these tests (token expiry); the
// server's own checks of one-time codes use the real time.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const fixturePassword = "a long enough password 123"

// acctFixture is an API server over a fresh SQLite store with two towns
// and a session token for: operator, auditor (every tenant), auditor-a,
// admin-a, admin-b; and agent-a, an agent of town-a.
type acctFixture struct {
	url    string
	st     *store.Store
	clock  *testClock
	tokens map[string]string
}

func newAcctFixture(t *testing.T) *acctFixture {
	t.Helper()
	ctx := context.Background()
	clk := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "rempart.db"), store.Options{
		Now: clk.Now, Logger: slog.New(slog.DiscardHandler),
		PasswordParams: store.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logins := newLoginLimiter()
	logins.now = clk.Now
	s := &srv{st: st, log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: newMetrics(), logins: logins}
	hs := httptest.NewServer(s.routes(http.NotFoundHandler()))
	t.Cleanup(hs.Close)
	f := &acctFixture{url: hs.URL, st: st, clock: clk, tokens: map[string]string{}}
	tenants := map[string]int64{}
	for _, name := range []string{"town-a", "town-b"} {
		tn, err := st.CreateTenant(ctx, store.NewTenant{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		tenants[name] = tn.ID
	}
	for _, a := range []struct {
		who    string
		role   store.Role
		tenant int64
	}{
		{"operator", store.RoleOperator, 0},
		{"auditor", store.RoleAuditor, 0},
		{"auditor-a", store.RoleAuditor, tenants["town-a"]},
		{"admin-a", store.RoleTenantAdmin, tenants["town-a"]},
		{"admin-b", store.RoleTenantAdmin, tenants["town-b"]},
	} {
		if _, err := st.CreateAccount(ctx, store.NewAccount{Username: a.who, Password: fixturePassword, Role: a.role, TenantID: a.tenant}); err != nil {
			t.Fatalf("account %s: %v", a.who, err)
		}
		f.tokens[a.who] = f.login(t, a.who, fixturePassword, "")
	}
	enr, _, err := st.CreateEnrolment(ctx, tenants["town-a"], time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, f.tokens["agent-a"], err = st.RedeemEnrolment(ctx, enr, "pc-1"); err != nil {
		t.Fatal(err)
	}
	return f
}

// call sends a request with a token ("" for none) and returns the status
// and the raw answer.
func (f *acctFixture) call(t *testing.T, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// as calls as one of the fixture's callers and decodes a JSON object.
func (f *acctFixture) as(t *testing.T, who, method, path string, body any) (int, map[string]any) {
	t.Helper()
	code, raw := f.call(t, f.tokens[who], method, path, body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return code, m
}

// want fails unless a call answers code.
func (f *acctFixture) want(t *testing.T, code int, who, method, path string, body any) map[string]any {
	t.Helper()
	got, m := f.as(t, who, method, path, body)
	if got != code {
		t.Fatalf("%s %s as %s: %d %v, want %d", method, path, who, got, m, code)
	}
	return m
}

func (f *acctFixture) login(t *testing.T, user, password, totp string) string {
	t.Helper()
	code, raw := f.call(t, "", http.MethodPost, "/v1/login", map[string]string{"username": user, "password": password, "totp": totp})
	if code != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, code, raw)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Token == "" {
		t.Fatalf("login %s: %s", user, raw)
	}
	return out.Token
}

func (f *acctFixture) loginCode(t *testing.T, user, password, totp string) int {
	t.Helper()
	code, _ := f.call(t, "", http.MethodPost, "/v1/login", map[string]string{"username": user, "password": password, "totp": totp})
	return code
}

// works reports whether a token is accepted by the administration API.
func (f *acctFixture) works(t *testing.T, token string) bool {
	t.Helper()
	code, _ := f.call(t, token, http.MethodGet, "/v1/account", nil)
	return code == http.StatusOK
}

// audit returns the whole trail.
func (f *acctFixture) audit(t *testing.T) []store.AuditRecord {
	t.Helper()
	recs, err := f.st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// wantRefusal fails unless the trail holds a refusal of method path by
// who with status code.
func (f *acctFixture) wantRefusal(t *testing.T, who, method, path string, code int) {
	t.Helper()
	for _, r := range f.audit(t) {
		if r.Action != "api.refused" || r.Actor != "account:"+who {
			continue
		}
		var d struct {
			Method string `json:"method"`
			Path   string `json:"path"`
			Status int    `json:"status"`
		}
		if json.Unmarshal(r.Detail, &d) == nil && d.Method == method && d.Path == path && d.Status == code {
			return
		}
	}
	t.Errorf("no refusal of %s %s (%d) for %s in the audit trail", method, path, code, who)
}

// wantAudit fails unless the trail holds action by who with the detail's
// username (when given).
func (f *acctFixture) wantAudit(t *testing.T, who, action, tenant string) map[string]any {
	t.Helper()
	for _, r := range f.audit(t) {
		if r.Action == action && r.Actor == "account:"+who && r.Tenant == tenant {
			var d map[string]any
			_ = json.Unmarshal(r.Detail, &d)
			return d
		}
	}
	t.Errorf("no %s by %s (tenant %q) in the audit trail", action, who, tenant)
	return nil
}

// codeNow is the current one-time code of a base32 secret.
func codeNow(t *testing.T, secret string) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		t.Fatalf("secret %q is not base32: %v", secret, err)
	}
	return totpAt(key, time.Now().Unix()/30)
}

// wrongCode is a code that is valid in no step around now.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	step := time.Now().Unix() / 30
	for n := 0; ; n++ {
		c := fmt.Sprintf("%06d", n)
		if c != totpAt(key, step-1) && c != totpAt(key, step) && c != totpAt(key, step+1) && c != totpAt(key, step+2) {
			return c
		}
	}
}

func TestCreateAccountPermissions(t *testing.T) {
	f := newAcctFixture(t)
	type acc = map[string]any
	for _, tc := range []struct {
		who  string
		in   acc
		code int
		// on success:
		tenant string
		role   string
	}{
		{"operator", acc{"username": "op2", "role": "operator"}, 201, "", "operator"},
		{"operator", acc{"username": "dsi-a2", "role": "tenant_admin", "tenant": "town-a"}, 201, "town-a", "tenant_admin"},
		{"operator", acc{"username": "cnil", "role": "auditor"}, 201, "", "auditor"},
		{"operator", acc{"username": "Given@Town-B.fr", "role": "auditor", "tenant": "town-b", "password": "chosen by the operator"}, 201, "town-b", "auditor"},
		{"operator", acc{"username": "x1", "role": "tenant_admin"}, 400, "", ""},
		{"operator", acc{"username": "x2", "role": "operator", "tenant": "town-a"}, 400, "", ""},
		{"operator", acc{"username": "x3", "role": "auditor", "tenant": "no-such-town"}, 404, "", ""},
		{"operator", acc{"username": "x4", "role": "root"}, 400, "", ""},
		{"operator", acc{"username": "x5", "role": "agent"}, 400, "", ""},
		{"operator", acc{"username": "x6", "role": "auditor", "password": "short"}, 400, "", ""},
		{"operator", acc{"username": "not a name", "role": "auditor"}, 400, "", ""},
		{"operator", acc{"username": "ADMIN-A", "role": "auditor"}, 409, "", ""},
		{"operator", acc{"username": "x7", "role": "auditor", "surprise": 1}, 400, "", ""},
		// A tenant admin: own tenant only, never an operator, never a
		// server-wide auditor (no tenant means their own).
		{"admin-a", acc{"username": "compta-a", "role": "auditor"}, 201, "town-a", "auditor"},
		{"admin-a", acc{"username": "dsi-a3", "role": "tenant-admin", "tenant": "town-a"}, 201, "town-a", "tenant_admin"},
		{"admin-a", acc{"username": "spy", "role": "auditor", "tenant": "town-b"}, 403, "", ""},
		{"admin-a", acc{"username": "boss", "role": "operator"}, 403, "", ""},
		{"admin-a", acc{"username": "other", "role": "tenant_admin", "tenant": "town-b"}, 403, "", ""},
		// Auditors create nothing.
		{"auditor", acc{"username": "y1", "role": "auditor"}, 403, "", ""},
		{"auditor-a", acc{"username": "y2", "role": "auditor", "tenant": "town-a"}, 403, "", ""},
		{"", acc{"username": "y3", "role": "auditor"}, 401, "", ""},
	} {
		code, raw := f.call(t, f.tokens[tc.who], http.MethodPost, "/v1/accounts", tc.in)
		if code != tc.code {
			t.Errorf("%s creating %v: %d %s, want %d", tc.who, tc.in, code, raw, tc.code)
			continue
		}
		if strings.Contains(string(raw), "argon2") {
			t.Errorf("the answer holds a password hash: %s", raw)
		}
		if code == http.StatusForbidden {
			f.wantRefusal(t, tc.who, http.MethodPost, "/v1/accounts", code)
		}
		if code != http.StatusCreated {
			continue
		}
		var out struct {
			accountJSON
			Password string `json:"password"`
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
		name := strings.ToLower(tc.in["username"].(string))
		if out.Username != name || out.Tenant != tc.tenant || string(out.Role) != tc.role || out.TOTPEnabled || out.Disabled {
			t.Errorf("%s created %+v, want %s of %q as %s", tc.who, out.accountJSON, name, tc.tenant, tc.role)
		}
		password, given := tc.in["password"].(string)
		switch {
		case given && out.Password != "":
			t.Errorf("a chosen password is echoed back: %s", raw)
		case !given && len(out.Password) < 24:
			t.Errorf("generated password %q is too weak", out.Password)
		case !given:
			password = out.Password
		}
		f.login(t, name, password, "")
		d := f.wantAudit(t, tc.who, "account.create", tc.tenant)
		if d != nil && d["from"] == nil {
			t.Errorf("account.create without its origin: %v", d)
		}
	}
	// No password ever reaches the trail.
	for _, r := range f.audit(t) {
		if strings.Contains(string(r.Detail), "chosen by the operator") || strings.Contains(string(r.Detail), `"password":`) {
			t.Errorf("a password is in the audit trail: %s", r.Detail)
		}
	}
}

func TestListAccounts(t *testing.T) {
	f := newAcctFixture(t)
	names := func(who, query string) []string {
		t.Helper()
		code, raw := f.call(t, f.tokens[who], http.MethodGet, "/v1/accounts"+query, nil)
		if code != http.StatusOK {
			t.Fatalf("list as %s: %d %s", who, code, raw)
		}
		if s := string(raw); strings.Contains(s, "argon2") || strings.Contains(s, "secret") || strings.Contains(s, "hash") {
			t.Errorf("the list shows secrets: %s", raw)
		}
		var list []accountJSON
		if err := json.Unmarshal(raw, &list); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range list {
			out = append(out, a.Username+"@"+a.Tenant)
		}
		return out
	}
	if got := strings.Join(names("operator", ""), " "); got != "admin-a@town-a admin-b@town-b auditor@ auditor-a@town-a operator@" {
		t.Errorf("operator sees %s", got)
	}
	if got := strings.Join(names("operator", "?tenant=town-b"), " "); got != "admin-b@town-b" {
		t.Errorf("operator ?tenant=town-b sees %s", got)
	}
	if got := strings.Join(names("admin-a", ""), " "); got != "admin-a@town-a auditor-a@town-a" {
		t.Errorf("admin-a sees %s", got)
	}
	f.want(t, http.StatusForbidden, "admin-a", http.MethodGet, "/v1/accounts?tenant=town-b", nil)
	f.want(t, http.StatusNotFound, "operator", http.MethodGet, "/v1/accounts?tenant=nowhere", nil)
	for _, who := range []string{"auditor", "auditor-a"} {
		f.want(t, http.StatusForbidden, who, http.MethodGet, "/v1/accounts", nil)
		f.wantRefusal(t, who, http.MethodGet, "/v1/accounts", http.StatusForbidden)
	}
	f.want(t, http.StatusForbidden, "agent-a", http.MethodGet, "/v1/accounts", nil)
}

func TestDisableAccount(t *testing.T) {
	f := newAcctFixture(t)
	// Who may not.
	for _, c := range []struct{ who, target string }{
		{"admin-a", "admin-b"}, {"admin-a", "operator"}, {"admin-a", "auditor"}, {"admin-a", "nobody"},
		{"auditor", "auditor-a"}, {"auditor-a", "admin-a"},
	} {
		path := "/v1/accounts/" + c.target + "/disable"
		f.want(t, http.StatusForbidden, c.who, http.MethodPost, path, nil)
		f.wantRefusal(t, c.who, http.MethodPost, path, http.StatusForbidden)
	}
	f.want(t, http.StatusNotFound, "operator", http.MethodPost, "/v1/accounts/nobody/disable", nil)

	// A tenant admin disables an account of their tenant: its tokens die.
	extra := f.login(t, "auditor-a", fixturePassword, "")
	m := f.want(t, http.StatusOK, "admin-a", http.MethodPost, "/v1/accounts/auditor-a/disable", nil)
	if m["disabled"] != true || m["disabled_at"] == nil {
		t.Errorf("disable answered %v", m)
	}
	for _, tok := range []string{f.tokens["auditor-a"], extra} {
		if f.works(t, tok) {
			t.Error("a token of a disabled account still works")
		}
	}
	if code := f.loginCode(t, "auditor-a", fixturePassword, ""); code != http.StatusUnauthorized {
		t.Errorf("a disabled account signs in: %d", code)
	}
	f.wantAudit(t, "admin-a", "account.disable", "town-a")
	f.want(t, http.StatusOK, "admin-a", http.MethodPost, "/v1/accounts/auditor-a/disable", nil) // again: no change

	// Enabled again by whoever may manage it, with a new password only.
	f.want(t, http.StatusForbidden, "admin-b", http.MethodPost, "/v1/accounts/auditor-a/enable", nil)
	f.want(t, http.StatusForbidden, "auditor", http.MethodPost, "/v1/accounts/auditor-a/enable", nil)
	en := f.want(t, http.StatusOK, "admin-a", http.MethodPost, "/v1/accounts/auditor-a/enable", nil)
	pw, _ := en["password"].(string)
	if en["disabled"] != false || len(pw) < 12 || pw == fixturePassword {
		t.Errorf("enable answered %v", en)
	}
	if code := f.loginCode(t, "auditor-a", fixturePassword, ""); code != http.StatusUnauthorized {
		t.Errorf("the password from before the disable still works: %d", code)
	}
	if code := f.loginCode(t, "auditor-a", pw, ""); code != http.StatusOK {
		t.Errorf("the new password: %d", code)
	}
	f.wantAudit(t, "admin-a", "account.enable", "town-a")
	f.want(t, http.StatusConflict, "admin-a", http.MethodPost, "/v1/accounts/auditor-a/enable", nil)
	var listed []map[string]any
	_, raw := f.call(t, f.tokens["admin-a"], http.MethodGet, "/v1/accounts", nil)
	_ = json.Unmarshal(raw, &listed)
	for _, a := range listed {
		if a["username"] == "auditor-a" && a["last_login"] == nil {
			t.Errorf("no last sign-in after signing in: %v", a)
		}
	}

	// The last enabled operator stays.
	f.want(t, http.StatusConflict, "operator", http.MethodPost, "/v1/accounts/operator/disable", nil)
	f.wantRefusal(t, "operator", http.MethodPost, "/v1/accounts/operator/disable", http.StatusConflict)
	if !f.works(t, f.tokens["operator"]) {
		t.Fatal("the refused disable ended the operator's session")
	}
	f.want(t, http.StatusCreated, "operator", http.MethodPost, "/v1/accounts", map[string]any{"username": "op2", "role": "operator", "password": fixturePassword})
	op2 := f.login(t, "op2", fixturePassword, "")
	f.want(t, http.StatusOK, "operator", http.MethodPost, "/v1/accounts/op2/disable", nil)
	if f.works(t, op2) {
		t.Error("op2's session survived its disable")
	}
	f.want(t, http.StatusConflict, "operator", http.MethodPost, "/v1/accounts/operator/disable", nil)

	// An operator disables a tenant admin.
	f.want(t, http.StatusOK, "operator", http.MethodPost, "/v1/accounts/admin-b/disable", nil)
	if f.works(t, f.tokens["admin-b"]) {
		t.Error("admin-b's session survived its disable")
	}
	f.wantAudit(t, "operator", "account.disable", "town-b")
}

func TestChangeOwnPassword(t *testing.T) {
	f := newAcctFixture(t)
	second := f.login(t, "admin-a", fixturePassword, "")
	code, raw := f.call(t, f.tokens["admin-a"], http.MethodPost, "/v1/tokens", map[string]string{"name": "nightly"})
	if code != http.StatusCreated {
		t.Fatalf("token: %d %s", code, raw)
	}
	var tok struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal(raw, &tok)
	const newPassword = "the new password of admin-a"

	f.want(t, http.StatusForbidden, "admin-a", http.MethodPost, "/v1/account/password", map[string]string{"old_password": "wrong password 123", "new_password": newPassword})
	f.wantRefusal(t, "admin-a", http.MethodPost, "/v1/account/password", http.StatusForbidden)
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodPost, "/v1/account/password", map[string]string{"old_password": fixturePassword, "new_password": "too short"})
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodPost, "/v1/account/password", map[string]string{"old_password": fixturePassword, "new_password": fixturePassword})
	m := f.want(t, http.StatusOK, "admin-a", http.MethodPost, "/v1/account/password", map[string]string{"old_password": fixturePassword, "new_password": newPassword})
	if m["tokens_revoked"] != float64(2) {
		t.Errorf("change answered %v, want 2 tokens revoked", m)
	}
	if !f.works(t, f.tokens["admin-a"]) {
		t.Error("the session that changed the password was ended")
	}
	if f.works(t, second) || f.works(t, tok.Token) {
		t.Error("another session or token survived the change of password")
	}
	if code := f.loginCode(t, "admin-a", fixturePassword, ""); code != http.StatusUnauthorized {
		t.Errorf("the old password still signs in: %d", code)
	}
	f.login(t, "admin-a", newPassword, "")
	f.wantAudit(t, "admin-a", "account.password.change", "town-a")
	// Every role may change its own.
	f.want(t, http.StatusOK, "auditor", http.MethodPost, "/v1/account/password", map[string]string{"old_password": fixturePassword, "new_password": newPassword})
	for _, r := range f.audit(t) {
		if strings.Contains(string(r.Detail), newPassword) || strings.Contains(string(r.Detail), fixturePassword) {
			t.Errorf("a password is in the audit trail: %s", r.Detail)
		}
	}
}

func TestResetPassword(t *testing.T) {
	f := newAcctFixture(t)
	for _, c := range []struct{ who, target string }{
		{"admin-a", "admin-b"}, {"admin-a", "operator"}, {"auditor", "auditor-a"}, {"auditor-a", "auditor-a"},
	} {
		path := "/v1/accounts/" + c.target + "/password"
		f.want(t, http.StatusForbidden, c.who, http.MethodPost, path, nil)
		f.wantRefusal(t, c.who, http.MethodPost, path, http.StatusForbidden)
	}
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodPost, "/v1/accounts/admin-a/password", nil)
	m := f.want(t, http.StatusOK, "admin-a", http.MethodPost, "/v1/accounts/auditor-a/password", nil)
	pw, _ := m["password"].(string)
	if len(pw) < 24 {
		t.Fatalf("reset answered %v", m)
	}
	if f.works(t, f.tokens["auditor-a"]) {
		t.Error("the session of an account whose password was reset survived")
	}
	if code := f.loginCode(t, "auditor-a", fixturePassword, ""); code != http.StatusUnauthorized {
		t.Errorf("the old password still signs in: %d", code)
	}
	f.login(t, "auditor-a", pw, "")
	d := f.wantAudit(t, "admin-a", "account.password.reset", "town-a")
	if d != nil && (d["username"] != "auditor-a" || d["password"] != nil) {
		t.Errorf("audit detail %v", d)
	}
	f.want(t, http.StatusOK, "operator", http.MethodPost, "/v1/accounts/admin-b/password", nil)
}

func TestTOTPSetUp(t *testing.T) {
	f := newAcctFixture(t)
	m := f.want(t, http.StatusOK, "admin-a", http.MethodPost, "/v1/account/totp", nil)
	secret, _ := m["secret"].(string)
	uri, _ := m["otpauth_uri"].(string)
	if len(secret) != 32 || !strings.HasPrefix(uri, "otpauth://totp/Rempart:admin-a?") || !strings.Contains(uri, "secret="+secret) || !strings.Contains(uri, "issuer=Rempart") {
		t.Fatalf("set-up answered %v", m)
	}
	for _, r := range f.audit(t) {
		if strings.Contains(string(r.Detail), secret) {
			t.Fatalf("the secret is in the audit trail: %s", r.Detail)
		}
	}
	// Pending: sign-in does not ask for a code yet.
	f.login(t, "admin-a", fixturePassword, "")
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodPost, "/v1/account/totp/confirm", map[string]string{"code": wrongCode(t, secret)})
	f.wantRefusal(t, "admin-a", http.MethodPost, "/v1/account/totp/confirm", http.StatusBadRequest)
	f.login(t, "admin-a", fixturePassword, "")
	var acct accountJSON
	_, raw := f.call(t, f.tokens["admin-a"], http.MethodGet, "/v1/account", nil)
	_ = json.Unmarshal(raw, &acct)
	if acct.TOTPEnabled || !acct.TOTPPending {
		t.Fatalf("after a wrong confirmation: %+v", acct)
	}

	f.want(t, http.StatusOK, "admin-a", http.MethodPost, "/v1/account/totp/confirm", map[string]string{"code": codeNow(t, secret)})
	f.wantAudit(t, "admin-a", "account.totp.enable", "town-a")
	if code := f.loginCode(t, "admin-a", fixturePassword, ""); code != http.StatusUnauthorized {
		t.Errorf("sign-in without a code after set-up: %d", code)
	}
	if code := f.loginCode(t, "admin-a", fixturePassword, wrongCode(t, secret)); code != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong code: %d", code)
	}
	used := codeNow(t, secret)
	f.login(t, "admin-a", fixturePassword, used)
	// The same code cannot sign in twice (seen over a shoulder, in a log).
	if code, raw := f.call(t, "", http.MethodPost, "/v1/login", map[string]string{"username": "admin-a", "password": fixturePassword, "totp": used}); code != http.StatusUnauthorized || !strings.Contains(string(raw), "already used") {
		t.Errorf("sign-in again with a used code: %d %s", code, raw)
	}
	f.want(t, http.StatusConflict, "admin-a", http.MethodPost, "/v1/account/totp", nil)
	f.want(t, http.StatusConflict, "admin-a", http.MethodPost, "/v1/account/totp/confirm", map[string]string{"code": codeNow(t, secret)})

	// Turning it off takes the password and a code.
	f.want(t, http.StatusForbidden, "admin-a", http.MethodDelete, "/v1/account/totp", map[string]string{"password": "wrong password 123", "code": codeNow(t, secret)})
	f.want(t, http.StatusForbidden, "admin-a", http.MethodDelete, "/v1/account/totp", map[string]string{"password": fixturePassword, "code": wrongCode(t, secret)})
	f.wantRefusal(t, "admin-a", http.MethodDelete, "/v1/account/totp", http.StatusForbidden)
	f.want(t, http.StatusOK, "admin-a", http.MethodDelete, "/v1/account/totp", map[string]string{"password": fixturePassword, "code": codeNow(t, secret)})
	f.wantAudit(t, "admin-a", "account.totp.disable", "town-a")
	f.login(t, "admin-a", fixturePassword, "")
	f.want(t, http.StatusConflict, "admin-a", http.MethodDelete, "/v1/account/totp", map[string]string{"password": fixturePassword})

	// A set-up can be cancelled before it is confirmed.
	f.want(t, http.StatusOK, "auditor", http.MethodPost, "/v1/account/totp", nil)
	f.want(t, http.StatusOK, "auditor", http.MethodDelete, "/v1/account/totp", map[string]string{"password": fixturePassword})
	f.want(t, http.StatusConflict, "auditor", http.MethodPost, "/v1/account/totp/confirm", map[string]string{"code": "000000"})
}

func TestResetTOTP(t *testing.T) {
	f := newAcctFixture(t)
	m := f.want(t, http.StatusOK, "admin-b", http.MethodPost, "/v1/account/totp", nil)
	secret := m["secret"].(string)
	f.want(t, http.StatusOK, "admin-b", http.MethodPost, "/v1/account/totp/confirm", map[string]string{"code": codeNow(t, secret)})
	if code := f.loginCode(t, "admin-b", fixturePassword, ""); code != http.StatusUnauthorized {
		t.Fatalf("sign-in without a code: %d", code)
	}
	for _, who := range []string{"admin-a", "admin-b", "auditor"} {
		f.want(t, http.StatusForbidden, who, http.MethodDelete, "/v1/accounts/admin-b/totp", nil)
		f.wantRefusal(t, who, http.MethodDelete, "/v1/accounts/admin-b/totp", http.StatusForbidden)
	}
	f.want(t, http.StatusBadRequest, "operator", http.MethodDelete, "/v1/accounts/operator/totp", nil)
	m = f.want(t, http.StatusOK, "operator", http.MethodDelete, "/v1/accounts/admin-b/totp", nil)
	if m["totp_enabled"] != false {
		t.Errorf("reset answered %v", m)
	}
	f.wantAudit(t, "operator", "account.totp.reset", "town-b")
	f.login(t, "admin-b", fixturePassword, "")
}

func TestAPITokens(t *testing.T) {
	f := newAcctFixture(t)
	type created struct {
		tokenJSON
		Token  string `json:"token"`
		Role   string `json:"role"`
		Tenant string `json:"tenant"`
	}
	mk := func(who string, in map[string]string) created {
		t.Helper()
		code, raw := f.call(t, f.tokens[who], http.MethodPost, "/v1/tokens", in)
		if code != http.StatusCreated {
			t.Fatalf("token %v as %s: %d %s", in, who, code, raw)
		}
		var c created
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	script := mk("admin-a", map[string]string{"name": "nightly export", "ttl": "1h"})
	if !strings.HasPrefix(script.Token, "rmpt_") || script.Kind != store.TokenAutomation || script.Role != "tenant_admin" || script.Tenant != "town-a" ||
		script.Expires == nil || !script.Expires.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("created %+v", script)
	}
	d := f.wantAudit(t, "admin-a", "token.create", "town-a")
	if d != nil && (d["name"] != "nightly export" || d["token"] != nil) {
		t.Errorf("audit detail %v", d)
	}
	if def := mk("auditor", map[string]string{"name": "export"}); !def.Expires.Equal(f.clock.Now().Add(90 * 24 * time.Hour)) {
		t.Errorf("default lifetime: expires %v", def.Expires)
	}
	if long := mk("auditor", map[string]string{"name": "long", "ttl": "2y"}); !long.Expires.Equal(f.clock.Now().Add(730 * 24 * time.Hour)) {
		t.Errorf("2y: expires %v", long.Expires)
	}
	for _, in := range []map[string]string{
		{"name": "x", "ttl": "3y"}, {"name": "x", "ttl": "731d"}, {"name": "x", "ttl": "0d"}, {"name": "x", "ttl": "-1h"},
		{"name": "x", "ttl": "soon"}, {"name": "x", "ttl": "1s"}, {"name": ""}, {"name": "two\nlines"},
	} {
		f.want(t, http.StatusBadRequest, "admin-a", http.MethodPost, "/v1/tokens", in)
	}

	// The token acts with its account's role, never more.
	f.tokens["script"] = script.Token
	m := f.want(t, http.StatusOK, "script", http.MethodGet, "/v1/account", nil)
	if m["username"] != "admin-a" || m["role"] != "tenant_admin" || m["tenant"] != "town-a" {
		t.Errorf("whoami with the token: %v", m)
	}
	if tok, _ := m["token"].(map[string]any); tok["kind"] != "automation" || tok["current"] != true {
		t.Errorf("whoami token: %v", m["token"])
	}
	f.want(t, http.StatusCreated, "script", http.MethodPost, "/v1/tenants/town-a/enrolments", map[string]int{"ttl_seconds": 3600})
	f.want(t, http.StatusForbidden, "script", http.MethodPost, "/v1/tenants", map[string]string{"name": "town-c"})
	auditorTok := mk("auditor", map[string]string{"name": "read only"})
	f.tokens["auditor-script"] = auditorTok.Token
	f.want(t, http.StatusOK, "auditor-script", http.MethodGet, "/v1/audit", nil)
	f.want(t, http.StatusForbidden, "auditor-script", http.MethodPost, "/v1/tenants/town-a/enrolments", map[string]int{"ttl_seconds": 3600})
	// ... and may neither mint tokens nor touch the second factor.
	f.want(t, http.StatusForbidden, "script", http.MethodPost, "/v1/tokens", map[string]string{"name": "child"})
	f.want(t, http.StatusForbidden, "script", http.MethodPost, "/v1/account/totp", nil)

	// Listing shows no secret.
	code, raw := f.call(t, f.tokens["admin-a"], http.MethodGet, "/v1/tokens", nil)
	if code != http.StatusOK || strings.Contains(string(raw), script.Token[len(script.Token)-20:]) {
		t.Fatalf("list: %d %s", code, raw)
	}
	var list []tokenJSON
	_ = json.Unmarshal(raw, &list)
	kinds := map[store.TokenKind]int{}
	for _, tk := range list {
		kinds[tk.Kind]++
		if tk.Current && tk.Kind != store.TokenSession {
			t.Errorf("current token %+v", tk)
		}
		if tk.ID == script.ID && (tk.Name != "nightly export" || tk.LastUsed == nil) {
			t.Errorf("listed %+v", tk)
		}
	}
	if kinds[store.TokenSession] != 1 || kinds[store.TokenAutomation] != 1 {
		t.Errorf("admin-a's tokens: %+v", list)
	}
	f.want(t, http.StatusForbidden, "admin-b", http.MethodGet, "/v1/tokens?account=admin-a", nil)
	code, raw = f.call(t, f.tokens["operator"], http.MethodGet, "/v1/tokens?account=admin-a", nil)
	if code != http.StatusOK || !strings.Contains(string(raw), "nightly export") {
		t.Errorf("operator listing admin-a's tokens: %d %s", code, raw)
	}

	// Revocation: one's own, or any for an operator.
	path := fmt.Sprintf("/v1/tokens/%d", script.ID)
	f.want(t, http.StatusForbidden, "admin-b", http.MethodDelete, path, nil)
	f.wantRefusal(t, "admin-b", http.MethodDelete, path, http.StatusForbidden)
	f.want(t, http.StatusOK, "admin-a", http.MethodDelete, path, nil)
	f.wantAudit(t, "admin-a", "token.revoke", "town-a")
	if code, _ := f.as(t, "script", http.MethodGet, "/v1/tenants", nil); code != http.StatusUnauthorized {
		t.Errorf("a revoked token: %d, want 401", code)
	}
	f.want(t, http.StatusNotFound, "admin-a", http.MethodDelete, path, nil)
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodDelete, "/v1/tokens/x", nil)
	f.want(t, http.StatusOK, "operator", http.MethodDelete, fmt.Sprintf("/v1/tokens/%d", auditorTok.ID), nil)
	if f.works(t, auditorTok.Token) {
		t.Error("a token revoked by an operator still works")
	}
	f.wantAudit(t, "operator", "token.revoke", "")
	// Agents' tokens go with their agent.
	p, err := f.st.CheckToken(context.Background(), f.tokens["agent-a"])
	if err != nil {
		t.Fatal(err)
	}
	f.want(t, http.StatusBadRequest, "operator", http.MethodDelete, fmt.Sprintf("/v1/tokens/%d", p.TokenID), nil)
	f.want(t, http.StatusForbidden, "admin-a", http.MethodDelete, fmt.Sprintf("/v1/tokens/%d", p.TokenID), nil)

	// Expiry, on the store's clock.
	short := mk("admin-a", map[string]string{"name": "short", "ttl": "1h"})
	f.clock.Add(59 * time.Minute)
	if !f.works(t, short.Token) {
		t.Fatal("a token refused before it expires")
	}
	f.clock.Add(time.Minute)
	if code, _ := f.call(t, short.Token, http.MethodGet, "/v1/tenants", nil); code != http.StatusUnauthorized {
		t.Errorf("an expired token: %d, want 401", code)
	}
}

func TestParseTTL(t *testing.T) {
	day := 24 * time.Hour
	for in, want := range map[string]time.Duration{"": 90 * day, "90d": 90 * day, "2w": 14 * day, "1y": 365 * day, "36h": 36 * time.Hour, " 30m ": 30 * time.Minute} {
		if got, err := parseTTL(in); err != nil || got != want {
			t.Errorf("parseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "1.5d", "-1d", "0y", "x", "99999999999d"} {
		if _, err := parseTTL(in); err == nil {
			t.Errorf("parseTTL(%q) accepted", in)
		}
	}
}

// TestLoginThrottled: ten failed sign-ins for one account make the next
// ones wait (429 with Retry-After, audited), even with the right password;
// other accounts are not affected; the window passes and a success clears
// the count.
func TestLoginThrottled(t *testing.T) {
	f := newAcctFixture(t)
	for i := 0; i < loginMaxPerUser; i++ {
		if code := f.loginCode(t, "admin-b", "not the password", ""); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	code, raw := f.call(t, "", http.MethodPost, "/v1/login", map[string]string{"username": "admin-b", "password": fixturePassword})
	if code != http.StatusTooManyRequests || !strings.Contains(string(raw), "too many failed sign-ins") {
		t.Fatalf("after %d failures, the right password: %d %s", loginMaxPerUser, code, raw)
	}
	if code := f.loginCode(t, "ADMIN-B ", fixturePassword, ""); code != http.StatusTooManyRequests {
		t.Errorf("the same account spelt differently: %d", code)
	}
	f.login(t, "admin-a", fixturePassword, "") // another account signs in
	ev, err := f.st.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ev {
		found = found || e.Action == "api.refused" && strings.Contains(string(e.Detail), `"status":429`)
	}
	if !found {
		t.Error("the throttled sign-in is not in the audit trail")
	}
	f.clock.Add(loginWindow)
	f.login(t, "admin-b", fixturePassword, "")
	// A success cleared the count: nine more failures do not block.
	for i := 0; i < loginMaxPerUser-1; i++ {
		f.loginCode(t, "admin-b", "wrong", "")
	}
	f.login(t, "admin-b", fixturePassword, "")
}

// TestLoginLimiterByAddress: many accounts tried from one address block
// that address, not another one.
func TestLoginLimiterByAddress(t *testing.T) {
	l := newLoginLimiter()
	for i := 0; i < loginMaxPerAddr; i++ {
		l.failed(fmt.Sprintf("user%d", i), "192.0.2.7:4000")
	}
	if b, wait := l.blocked("someone", "192.0.2.7:5000"); !b || wait <= 0 || wait > loginWindow {
		t.Error("an address that failed 50 times is not blocked")
	}
	if b, _ := l.blocked("someone", "192.0.2.8:5000"); b {
		t.Error("another address is blocked")
	}
}

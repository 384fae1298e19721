package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/store"
)

// auditFixture is an API server over a fresh SQLite store, with a token for
// each kind of caller.
type auditFixture struct {
	url    string
	dbPath string
	tokens map[string]string // operator, auditor, auditor-a, admin-a, admin-b, agent-a
}

func newAuditFixture(t *testing.T) *auditFixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rempart.db")
	st, err := store.OpenSQLite(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &srv{st: st, log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: newMetrics()}
	hs := httptest.NewServer(s.routes(http.NotFoundHandler()))
	t.Cleanup(hs.Close)
	f := &auditFixture{url: hs.URL, dbPath: path, tokens: map[string]string{}}
	tenants := map[string]int64{}
	for _, name := range []string{"town-a", "town-b"} {
		tn, err := st.CreateTenant(ctx, store.NewTenant{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		tenants[name] = tn.ID
		s.audit(ctx, "account:op", "tenant.create", name, map[string]any{"from": "10.0.0.1:1234"})
	}
	accounts := []struct {
		who    string
		role   store.Role
		tenant int64
	}{
		{"operator", store.RoleOperator, 0},
		{"auditor", store.RoleAuditor, 0},
		{"auditor-a", store.RoleAuditor, tenants["town-a"]},
		{"admin-a", store.RoleTenantAdmin, tenants["town-a"]},
		{"admin-b", store.RoleTenantAdmin, tenants["town-b"]},
	}
	for _, a := range accounts {
		acc, err := st.CreateAccount(ctx, store.NewAccount{Username: a.who, Password: "a long enough password 123", Role: a.role, TenantID: a.tenant})
		if err != nil {
			t.Fatalf("account %s: %v", a.who, err)
		}
		tok, _, err := st.CreateAPIToken(ctx, store.NewAPIToken{AccountID: acc.ID, Name: "test", TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[a.who] = tok
	}
	enr, _, err := st.CreateEnrolment(ctx, tenants["town-a"], time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, agentTok, err := st.RedeemEnrolment(ctx, enr, "pc-1")
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["agent-a"] = agentTok
	return f
}

func (f *auditFixture) get(t *testing.T, who, query string) (int, auditListJSON) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.url+"/v1/audit"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok := f.tokens[who]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out auditListJSON
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("GET /v1/audit%s as %s: %v", query, who, err)
		}
	}
	return resp.StatusCode, out
}

func tenantsOf(l auditListJSON) map[string]int {
	m := map[string]int{}
	for _, r := range l.Records {
		m[r.Tenant]++
	}
	return m
}

func TestAuditPermissions(t *testing.T) {
	f := newAuditFixture(t)
	for _, who := range []string{"operator", "auditor"} {
		code, l := f.get(t, who, "")
		if code != 200 || !l.Chain.Intact || l.Chain.Records == 0 || len(l.Chain.Head) != 64 {
			t.Fatalf("%s: %d %+v", who, code, l.Chain)
		}
		if m := tenantsOf(l); m["town-a"] == 0 || m["town-b"] == 0 {
			t.Errorf("%s sees %v, want every tenant", who, m)
		}
		if code, l := f.get(t, who, "?tenant=town-b"); code != 200 || len(tenantsOf(l)) != 1 || tenantsOf(l)["town-b"] == 0 {
			t.Errorf("%s ?tenant=town-b: %d %v", who, code, tenantsOf(l))
		}
	}
	for _, who := range []string{"admin-a", "auditor-a"} {
		code, l := f.get(t, who, "")
		if m := tenantsOf(l); code != 200 || len(m) != 1 || m["town-a"] == 0 || !l.Chain.Intact {
			t.Errorf("%s: %d sees %v, want town-a only", who, code, m)
		}
		if code, _ := f.get(t, who, "?tenant=town-b"); code != http.StatusForbidden {
			t.Errorf("%s reading town-b: %d, want 403", who, code)
		}
		if code, _ := f.get(t, who, "?tenant=no-such"); code != http.StatusForbidden {
			t.Errorf("%s reading an unknown tenant: %d, want 403", who, code)
		}
	}
	if code, l := f.get(t, "admin-b", ""); code != 200 || tenantsOf(l)["town-a"] != 0 {
		t.Errorf("admin-b: %d sees %v", code, tenantsOf(l))
	}
	if code, _ := f.get(t, "agent-a", ""); code != http.StatusForbidden {
		t.Errorf("agent: %d, want 403", code)
	}
	if code, _ := f.get(t, "", ""); code != http.StatusUnauthorized {
		t.Errorf("anonymous: %d, want 401", code)
	}
	// Refusals are themselves in the trail, with the actor.
	_, l := f.get(t, "operator", "")
	refused := map[string]bool{}
	for _, r := range l.Records {
		if r.Action == "api.refused" {
			refused[r.Actor] = true
		}
	}
	if !refused["account:admin-a"] || !refused["agent:1"] || !refused["anonymous"] {
		t.Errorf("refusals in the trail: %v", refused)
	}
	for _, q := range []string{"?limit=0", "?limit=x", "?after=-1", "?after=x"} {
		if code, _ := f.get(t, "operator", q); code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, code)
		}
	}
}

func TestAuditPaging(t *testing.T) {
	f := newAuditFixture(t)
	_, all := f.get(t, "operator", "")
	var got []int64
	after := int64(0)
	for {
		code, l := f.get(t, "operator", "?limit=2&after="+itoa(after))
		if code != 200 {
			t.Fatal(code)
		}
		for _, r := range l.Records {
			got = append(got, r.ID)
		}
		if !l.More {
			break
		}
		after = l.Records[len(l.Records)-1].ID
	}
	if len(got) < len(all.Records) {
		t.Fatalf("paging by 2 read %d records, want at least %d", len(got), len(all.Records))
	}
	for i, id := range got {
		if id != int64(i+1) {
			t.Fatalf("paging: record %d has ID %d", i, id)
		}
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestAuditReportsABrokenChain(t *testing.T) {
	f := newAuditFixture(t)
	db, err := sql.Open("sqlite", "file:"+f.dbPath+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE audit SET actor = 'account:someone-else' WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	code, l := f.get(t, "operator", "")
	if code != 200 || l.Chain.Intact || l.Chain.Error == "" || l.Chain.Head != "" {
		t.Errorf("after tampering: %d %+v, want a broken chain reported", code, l.Chain)
	}
}

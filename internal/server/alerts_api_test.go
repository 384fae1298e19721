package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/notify"
	"github.com/rempart/rempart/internal/server/store"
)

// alertFixture is acctFixture with a running notifier and an infected
// snapshot's alert in town-a and a suspect one's in town-b.
type alertFixture struct {
	*acctFixture
	s              *srv
	alertA, alertB store.Alert
	clean          string
}

func newAlertFixture(t *testing.T) *alertFixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clk := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "rempart.db"), store.Options{
		Now: clk.Now, Logger: slog.New(slog.DiscardHandler),
		PasswordParams: store.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &srv{st: st, log: slog.New(slog.DiscardHandler), metrics: newMetrics()}
	s.startAlerts(ctx)
	hs := httptest.NewServer(s.routes(http.NotFoundHandler()))
	t.Cleanup(hs.Close)
	f := &alertFixture{acctFixture: &acctFixture{url: hs.URL, st: st, clock: clk, tokens: map[string]string{}}, s: s}
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
	agent, tok, err := st.RedeemEnrolment(ctx, enr, "pc-1")
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["agent-a"] = tok
	source := "agent:" + strconv.FormatInt(agent.ID, 10)
	f.clean = strings.Repeat("c", 64)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.RecordSnapshot(ctx, store.SnapshotRecord{TenantID: tenants["town-a"], Name: f.clean, Received: clk.Now().Add(-time.Hour), Writer: source}))
	f.alertA, _, err = st.OpenAlert(ctx, store.NewAlert{TenantID: tenants["town-a"], Snapshot: strings.Repeat("a", 64), Flag: store.FlagInfected,
		Source: source, CleanSnapshot: f.clean, CleanReceived: clk.Now().Add(-time.Hour)})
	must(err)
	f.alertB, _, err = st.OpenAlert(ctx, store.NewAlert{TenantID: tenants["town-b"], Snapshot: strings.Repeat("b", 64), Flag: store.FlagSuspect, Source: "agent:99"})
	must(err)
	return f
}

func (f *alertFixture) alerts(t *testing.T, who, query string, code int) []alertJSON {
	t.Helper()
	got, raw := f.call(t, f.tokens[who], http.MethodGet, "/v1/alerts"+query, nil)
	if got != code {
		t.Fatalf("GET /v1/alerts%s as %s: %d %s, want %d", query, who, got, raw, code)
	}
	var out []alertJSON
	if code == http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestAlertsAPI(t *testing.T) {
	f := newAlertFixture(t)
	idA, idB := strconv.FormatInt(f.alertA.ID, 10), strconv.FormatInt(f.alertB.ID, 10)

	// Who sees what.
	for who, want := range map[string]int{"operator": 2, "auditor": 2, "auditor-a": 1, "admin-a": 1, "admin-b": 1} {
		if got := f.alerts(t, who, "", http.StatusOK); len(got) != want {
			t.Errorf("%s sees %d alerts, want %d: %+v", who, len(got), want, got)
		}
	}
	if got := f.alerts(t, "operator", "?tenant=town-a", http.StatusOK); len(got) != 1 || got[0].ID != f.alertA.ID {
		t.Errorf("operator, tenant=town-a: %+v", got)
	}
	f.alerts(t, "operator", "?tenant=nowhere", http.StatusNotFound)
	f.alerts(t, "operator", "?state=bogus", http.StatusBadRequest)
	f.alerts(t, "admin-b", "?tenant=town-a", http.StatusForbidden)
	f.wantRefusal(t, "admin-b", http.MethodGet, "/v1/alerts", http.StatusForbidden)
	f.alerts(t, "agent-a", "", http.StatusForbidden)

	a := f.want(t, http.StatusOK, "auditor-a", http.MethodGet, "/v1/alerts/"+idA, nil)
	if a["verdict"] != "infected" || a["state"] != "open" || a["tenant"] != "town-a" || a["clean_snapshot"] != f.clean ||
		a["source_host"] != "pc-1" || a["clean_received"] == nil {
		t.Errorf("GET alert: %v", a)
	}
	f.want(t, http.StatusNotFound, "admin-b", http.MethodGet, "/v1/alerts/"+idA, nil)
	f.want(t, http.StatusNotFound, "operator", http.MethodGet, "/v1/alerts/999", nil)
	f.want(t, http.StatusBadRequest, "operator", http.MethodGet, "/v1/alerts/x", nil)

	// Closing: the tenant's admin or an operator, with a note, once.
	closePath := "/v1/alerts/" + idA + "/close"
	f.want(t, http.StatusForbidden, "auditor-a", http.MethodPost, closePath, map[string]string{"note": "seen"})
	f.want(t, http.StatusNotFound, "admin-b", http.MethodPost, closePath, map[string]string{"note": "seen"})
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodPost, closePath, map[string]string{"note": "  "})
	if code, _ := f.call(t, f.tokens["agent-a"], http.MethodPost, closePath, map[string]string{"note": "hidden"}); code != http.StatusForbidden {
		t.Errorf("an agent closing an alert: %d, want 403", code)
	}
	closed := f.want(t, http.StatusOK, "admin-a", http.MethodPost, closePath, map[string]string{"note": "PC reinstalled; files restored"})
	if closed["state"] != "closed" || closed["closed_by"] != "account:admin-a" || closed["close_note"] != "PC reinstalled; files restored" {
		t.Errorf("closed alert: %v", closed)
	}
	again := f.want(t, http.StatusConflict, "operator", http.MethodPost, closePath, map[string]string{"note": "twice"})
	if !strings.Contains(again["error"].(string), "already closed") {
		t.Errorf("closing twice: %v", again)
	}
	d := f.wantAudit(t, "admin-a", "sentinel.alert.close", "town-a")
	if d["note"] != "PC reinstalled; files restored" || d["alert_id"] != float64(f.alertA.ID) {
		t.Errorf("audit of the close: %v", d)
	}
	f.wantRefusal(t, "operator", http.MethodPost, closePath, http.StatusConflict)
	f.want(t, http.StatusOK, "operator", http.MethodPost, "/v1/alerts/"+idB+"/close", map[string]string{"note": "false alarm"})

	if got := f.alerts(t, "admin-a", "", http.StatusOK); len(got) != 0 {
		t.Errorf("open alerts after closing: %+v", got)
	}
	if got := f.alerts(t, "admin-a", "?state=closed", http.StatusOK); len(got) != 1 || got[0].Closed == nil {
		t.Errorf("closed alerts: %+v", got)
	}
	if got := f.alerts(t, "auditor", "?state=all", http.StatusOK); len(got) != 2 {
		t.Errorf("all alerts: %+v", got)
	}
}

func TestNotificationsAPI(t *testing.T) {
	f := newAlertFixture(t)
	secret := "the shared secret of town-a's SOC"
	password := "smtp password never shown"
	var mu sync.Mutex
	var bodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !notify.Verify(secret, b, r.Header.Get(notify.SignatureHeader)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		bodies = append(bodies, string(b))
	}))
	defer hook.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	path := "/v1/tenants/town-a/notifications"

	set := map[string]any{
		"webhook": map[string]any{"url": hook.URL + "/hook", "secret": secret},
		"syslog":  map[string]any{"network": "udp", "address": pc.LocalAddr().String()},
		"email":   map[string]any{"server": "127.0.0.1:1", "username": "u", "password": password, "from": "rempart@srv.example", "to": []string{"dsi@town-a.example"}},
	}
	f.want(t, http.StatusForbidden, "admin-b", http.MethodPut, path, set)
	f.want(t, http.StatusForbidden, "auditor-a", http.MethodPut, path, set)
	bad := f.want(t, http.StatusBadRequest, "admin-a", http.MethodPut, path, map[string]any{"webhook": map[string]any{"url": "ftp://x/"}})
	if !strings.Contains(bad["error"].(string), "http(s) URL") {
		t.Errorf("invalid URL: %v", bad)
	}
	view := f.want(t, http.StatusOK, "admin-a", http.MethodPut, path, set)
	if view["tenant"] != "town-a" || view["webhook"].(map[string]any)["secret_set"] != true || view["email"].(map[string]any)["password_set"] != true {
		t.Errorf("PUT answer: %v", view)
	}
	// Secrets are never returned, nor written to the audit trail.
	_, raw := f.call(t, f.tokens["auditor-a"], http.MethodGet, path, nil)
	if strings.Contains(string(raw), secret) || strings.Contains(string(raw), password) || !strings.Contains(string(raw), hook.URL) {
		t.Errorf("GET notifications: %s", raw)
	}
	f.wantAudit(t, "admin-a", "sentinel.notify.set", "town-a")
	for _, r := range f.audit(t) {
		if strings.Contains(string(r.Detail), secret) || strings.Contains(string(r.Detail), password) {
			t.Errorf("the audit trail holds a secret: %s %s", r.Action, r.Detail)
		}
	}
	// A partial change keeps the other channels and the secrets.
	f.want(t, http.StatusOK, "operator", http.MethodPut, path, map[string]any{"email": nil})
	view = f.want(t, http.StatusOK, "operator", http.MethodGet, path, nil)
	if view["email"] != nil || view["webhook"].(map[string]any)["secret_set"] != true || view["syslog"] == nil {
		t.Errorf("after turning e-mail off: %v", view)
	}

	// The test reports each channel.
	res := f.want(t, http.StatusOK, "admin-a", http.MethodPost, path+"/test", nil)
	results, _ := res["results"].([]any)
	if len(results) != 2 || res["failed"] != 0.0 {
		t.Fatalf("test: %v", res)
	}
	for _, r := range results {
		if m := r.(map[string]any); m["ok"] != true {
			t.Errorf("test of %v failed: %v", m["channel"], m["error"])
		}
	}
	buf := make([]byte, 4096)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, _, err := pc.ReadFrom(buf); err != nil || !strings.Contains(string(buf[:n]), " rempart ") || !strings.Contains(string(buf[:n]), "test") {
		t.Errorf("syslog test message: %q %v", buf[:n], err)
	}
	f.want(t, http.StatusConflict, "admin-b", http.MethodPost, "/v1/tenants/town-b/notifications/test", nil)
	f.want(t, http.StatusForbidden, "auditor-a", http.MethodPost, path+"/test", nil)

	// Closing an alert is notified too, in the background.
	f.want(t, http.StatusOK, "admin-a", http.MethodPost, "/v1/alerts/"+strconv.FormatInt(f.alertA.ID, 10)+"/close", map[string]string{"note": "handled"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(bodies)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || !strings.Contains(bodies[0], `"event":"test"`) || !strings.Contains(bodies[1], `"event":"alert.closed"`) ||
		!strings.Contains(bodies[1], `"note":"handled"`) {
		t.Errorf("webhook deliveries: %v", bodies)
	}
}

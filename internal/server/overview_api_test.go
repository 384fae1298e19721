package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rempart/rempart/internal/server/store"
)

// TestOverviewRoles: operators and server-wide auditors see every town;
// a town's admin and auditor see only theirs (nothing of another town in
// the answer); coordinators and machines are refused, and the refusal is
// in the audit trail.
func TestOverviewRoles(t *testing.T) {
	f := newAcctFixture(t)
	ctx := context.Background()
	tn, err := f.st.TenantByName(ctx, "town-a")
	planMust(t, err)
	if _, err := f.st.CreateAccount(ctx, store.NewAccount{Username: "dgs-a", Password: fixturePassword, Role: store.RoleCoordinator, TenantID: tn.ID}); err != nil {
		t.Fatal(err)
	}
	f.tokens["dgs-a"] = f.login(t, "dgs-a", fixturePassword, "")

	// town-a: a plan, pc-1 backed up 30 minutes ago, then a suspect snapshot.
	f.planCall(t, "admin-a", http.MethodPut, "/v1/tenants/town-a/plan", map[string]any{"base_version": 0, "yaml": planA}, http.StatusCreated)
	agents, err := f.st.ListAgents(ctx, tn.ID)
	planMust(t, err)
	src := "agent:" + itoa(agents[0].ID)
	now := f.clock.Now()
	clean, bad := strings.Repeat("1", 64), strings.Repeat("2", 64)
	planMust(t, f.st.RecordSnapshot(ctx, store.SnapshotRecord{TenantID: tn.ID, Name: clean, Received: now.Add(-30 * time.Minute), Writer: src}))
	planMust(t, f.st.SetSnapshotFlag(ctx, tn.ID, clean, store.FlagClean))
	planMust(t, f.st.RecordSnapshot(ctx, store.SnapshotRecord{TenantID: tn.ID, Name: bad, Received: now.Add(-10 * time.Minute), Writer: src}))
	planMust(t, f.st.SetSnapshotFlag(ctx, tn.ID, bad, store.FlagSuspect))
	if _, _, err := f.st.OpenAlert(ctx, store.NewAlert{TenantID: tn.ID, Snapshot: bad, Flag: store.FlagSuspect, Source: src, CleanSnapshot: clean}); err != nil {
		t.Fatal(err)
	}

	get := func(who string) (overviewJSON, string) {
		t.Helper()
		raw := f.planCall(t, who, http.MethodGet, "/v1/overview", nil, http.StatusOK)
		var o overviewJSON
		planMust(t, json.Unmarshal(raw, &o))
		return o, string(raw)
	}
	names := func(o overviewJSON) string {
		var n []string
		for _, tv := range o.Tenants {
			n = append(n, tv.Tenant)
		}
		return strings.Join(n, " ")
	}
	for _, who := range []string{"operator", "auditor"} {
		if o, _ := get(who); names(o) != "town-a town-b" {
			t.Errorf("%s sees %q, want both towns", who, names(o))
		}
	}
	for _, who := range []string{"admin-a", "auditor-a"} {
		if o, _ := get(who); names(o) != "town-a" {
			t.Errorf("%s sees %q, want town-a only", who, names(o))
		}
	}
	o, raw := get("admin-b")
	if names(o) != "town-b" || strings.Contains(raw, "town-a") || strings.Contains(raw, "pc-1") || strings.Contains(raw, bad) {
		t.Errorf("admin-b sees another town: %s", raw)
	}
	if b := o.Tenants[0]; b.Plan != nil || len(b.Sources) != 0 || len(b.Alerts) != 0 || b.Retention.Frozen {
		t.Errorf("town-b: %+v", b)
	}

	// What town-a's admin sees.
	o, raw = get("admin-a")
	a := o.Tenants[0]
	if a.Plan == nil || a.Plan.Version != 1 || a.Plan.Services != 2 || a.Plan.Waves != 2 || a.Plan.Errors != 0 || a.Plan.Warnings != 1 {
		t.Fatalf("town-a plan: %s", raw)
	}
	var got []string
	for _, s := range a.Sources {
		got = append(got, s.Service+":"+s.Host+":"+s.Status)
	}
	if strings.Join(got, " ") != "annuaire:pc-1:ok etat-civil:PC-1:ok etat-civil:fs02:missing" {
		t.Errorf("sources %v", got)
	}
	if s := a.Sources[0]; s.RPOSeconds != 3600 || s.AgeSeconds != 1800 || s.Latest == nil {
		t.Errorf("annuaire's source: %+v", s)
	}
	if len(a.Machines) != 1 || a.Machines[0].Host != "pc-1" || a.Machines[0].Snapshots != 2 || a.Machines[0].Verdict != "suspect" ||
		a.Machines[0].LatestClean == nil || !a.Machines[0].LatestClean.Equal(now.Add(-30*time.Minute)) {
		t.Errorf("machines %+v", a.Machines)
	}
	if len(a.Alerts) != 1 || a.Alerts[0].Verdict != "suspect" || a.Alerts[0].SourceHost != "pc-1" || !a.Retention.Frozen {
		t.Errorf("alerts %+v, retention %+v", a.Alerts, a.Retention)
	}

	// Drills: none yet, then a drill of annuaire, a request picked up by pc-1, a schedule.
	if d := a.Drills; len(d.Latest) != 0 || strings.Join(d.Never, " ") != "annuaire etat-civil" || d.Runner != "" || d.EveryDays != 0 {
		t.Errorf("drills before any: %+v", d)
	}
	f.planCall(t, "admin-a", http.MethodPost, "/v1/tenants/town-a/drills", testDrill("annuaire", "failed", "a file was damaged"), http.StatusCreated)
	f.planCall(t, "admin-a", http.MethodPost, "/v1/tenants/town-a/drill-requests", map[string]any{"all": true}, http.StatusCreated)
	f.planCall(t, "agent-a", http.MethodPost, "/v1/tenants/town-a/drill-requests/claim", map[string]any{}, http.StatusOK)
	f.planCall(t, "admin-a", http.MethodPut, "/v1/tenants/town-a/drill-schedule", map[string]any{"every_days": 30, "at": "02:30"}, http.StatusOK)
	o, _ = get("operator")
	if d := o.Tenants[0].Drills; len(d.Latest) != 1 || d.Latest[0].Service != "annuaire" || d.Latest[0].Result != "failed" ||
		strings.Join(d.Never, " ") != "etat-civil" || d.OpenRequests != 2 || d.Runner != "pc-1" || d.RunnerStale || d.EveryDays != 30 || d.Next == nil {
		t.Errorf("drills: %+v", d)
	}

	// Refused: coordinators, machines, and nobody.
	for _, who := range []string{"dgs-a", "agent-a"} {
		f.planCall(t, who, http.MethodGet, "/v1/overview", nil, http.StatusForbidden)
	}
	f.wantRefusal(t, "dgs-a", http.MethodGet, "/v1/overview", http.StatusForbidden)
	if code, _ := f.call(t, "", http.MethodGet, "/v1/overview", nil); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
}

// TestConsolePage: the console's page comes from the same build as the
// crisis room, at /console/, with the same strict headers; / leads to it.
func TestConsolePage(t *testing.T) {
	get := func(h http.Handler, path string) (int, http.Header, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "mairie.local:8443"
		h.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, rec.Header(), string(b)
	}
	app := fstest.MapFS{
		"index.html":                 {Data: []byte("<!doctype html><title>crisis</title>")},
		"console/index.html":         {Data: []byte("<!doctype html><title>console</title>")},
		"assets/console-B3xk9_aZ.js": {Data: []byte("console.log(1)")},
	}
	s := &srv{log: slog.New(slog.DiscardHandler), metrics: newMetrics(), webapp: newWebApp(app)}
	h := s.routes(http.NotFoundHandler())
	for _, p := range []string{"/console/", "/console/index.html"} {
		code, hdr, body := get(h, p)
		if code != 200 || !strings.Contains(body, "<title>console") || hdr.Get("Cache-Control") != "no-cache" {
			t.Fatalf("%s: %d %q %v", p, code, body, hdr)
		}
		csp := hdr.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") ||
			strings.Contains(csp, "https:") || hdr.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", p, hdr)
		}
	}
	if code, _, body := get(h, "/crisis/"); code != 200 || !strings.Contains(body, "<title>crisis") {
		t.Fatalf("/crisis/: %d %q", code, body)
	}
	if code, hdr, _ := get(h, "/crisis/assets/console-B3xk9_aZ.js"); code != 200 || !strings.Contains(hdr.Get("Cache-Control"), "immutable") {
		t.Fatalf("shared asset: %d %v", code, hdr)
	}
	for _, p := range []string{"/console/assets/console-B3xk9_aZ.js", "/console/nope", "/console/../index.html"} {
		if code, _, body := get(h, p); code == 200 && strings.Contains(body, "crisis") {
			t.Errorf("%s served the crisis room", p)
		} else if p != "/console/../index.html" && code != 404 {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
	if code, hdr, _ := get(h, "/"); code != http.StatusFound || hdr.Get("Location") != "/console/" {
		t.Fatalf("/: %d %v", code, hdr)
	}
	// A build without the console: a clear 503, the crisis room still served.
	old := fstest.MapFS{"index.html": app["index.html"]}
	s = &srv{log: slog.New(slog.DiscardHandler), metrics: newMetrics(), webapp: newWebApp(old)}
	h = s.routes(http.NotFoundHandler())
	if code, _, body := get(h, "/console/"); code != 503 || !strings.Contains(body, "console was not built") {
		t.Fatalf("no console: %d %q", code, body)
	}
	if code, _, _ := get(h, "/crisis/"); code != 200 {
		t.Fatalf("/crisis/ without the console: %d", code)
	}
}

package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/server/store"
)

const planA = `# town-a's plan
format: 1
title: Plan of town A
services:
  - id: annuaire
    name: Directory
    criticality: essential
    rto: 4h
    rpo: 1h
    sources: [{host: pc-1, path: /var/lib/samba}]
  - id: etat-civil
    name: Civil registry
    criticality: 1
    rto: 1d
    rpo: 1d
    sources: [{host: PC-1, path: /srv/ec}, {host: fs02, path: /srv/scans}]
    depends_on: [annuaire]
`

func (f *acctFixture) planCall(t *testing.T, who, method, path string, body any, code int) []byte {
	t.Helper()
	got, raw := f.call(t, f.tokens[who], method, path, body)
	if got != code {
		t.Fatalf("%s %s as %s: %d %s, want %d", method, path, who, got, raw, code)
	}
	return raw
}

func TestPlanAPIPermissions(t *testing.T) {
	f := newAcctFixture(t)
	ctx := context.Background()
	const pa, pb = "/v1/tenants/town-a/plan", "/v1/tenants/town-b/plan"

	// No plan yet: the answer says what to do.
	raw := f.planCall(t, "admin-a", http.MethodGet, pa, nil, http.StatusNotFound)
	if !strings.Contains(string(raw), "rempart plan apply -f plan.yaml --tenant town-a") {
		t.Errorf("no plan: %s", raw)
	}

	// town-a's admin saves the first version.
	var v1 planVersionJSON
	raw = f.planCall(t, "admin-a", http.MethodPut, pa, map[string]any{"base_version": 0, "yaml": planA, "note": "first"}, http.StatusCreated)
	planMust(t, json.Unmarshal(raw, &v1))
	if v1.Version != 1 || v1.CreatedBy != "account:admin-a" || v1.Services != 2 || len(v1.Changes.Added) != 2 || v1.Note != "first" {
		t.Fatalf("first version: %s", raw)
	}
	d := f.wantAudit(t, "admin-a", "plan.update", "town-a")
	if d["version"] != float64(1) || d["sha256"] != v1.SHA256 || d["note"] != "first" {
		t.Errorf("audit detail %v", d)
	}

	// Who may read town-a's plan, and who may change it.
	for _, who := range []string{"operator", "auditor", "auditor-a", "admin-a"} {
		for _, p := range []string{pa, pa + "/versions", pa + "/order"} {
			f.planCall(t, who, http.MethodGet, p, nil, http.StatusOK)
		}
	}
	for _, who := range []string{"admin-b", "agent-a"} {
		for _, p := range []string{pa, pa + "/versions", pa + "/order"} {
			raw := f.planCall(t, who, http.MethodGet, p, nil, http.StatusForbidden)
			if strings.Contains(string(raw), "Plan of town A") {
				t.Errorf("%s got town-a's plan: %s", who, raw)
			}
		}
	}
	f.wantRefusal(t, "admin-b", http.MethodGet, pa, http.StatusForbidden)
	for _, who := range []string{"auditor", "auditor-a", "admin-b", "agent-a"} {
		f.planCall(t, who, http.MethodPut, pa, map[string]any{"base_version": 1, "yaml": planA + "reviewed_by: " + who + "\n"}, http.StatusForbidden)
	}
	f.wantRefusal(t, "auditor-a", http.MethodPut, pa, http.StatusForbidden)
	f.wantRefusal(t, "admin-b", http.MethodPut, pa, http.StatusForbidden)
	// A town admin cannot tell whether another tenant exists.
	f.planCall(t, "admin-a", http.MethodGet, "/v1/tenants/nowhere/plan", nil, http.StatusForbidden)
	f.planCall(t, "operator", http.MethodGet, "/v1/tenants/nowhere/plan", nil, http.StatusNotFound)
	// town-b's admin has its own plan, which town-a's admin cannot read.
	f.planCall(t, "admin-b", http.MethodPut, pb, map[string]any{"base_version": 0, "plan": map[string]any{"format": 1, "services": []any{}}}, http.StatusCreated)
	f.planCall(t, "admin-a", http.MethodGet, pb, nil, http.StatusForbidden)

	// The operator saves version 2 from version 1.
	changed := strings.Replace(planA, "rto: 4h", "rto: 2h", 1) + "reviewed_at: 2026-12-01\n"
	var v2 planVersionJSON
	raw = f.planCall(t, "operator", http.MethodPut, pa, map[string]any{"base_version": 1, "yaml": changed}, http.StatusCreated)
	planMust(t, json.Unmarshal(raw, &v2))
	if v2.Version != 2 || len(v2.Changes.Changed) != 1 || v2.Changes.Changed[0].ID != "annuaire" || v2.Changes.Plan[0] != "reviewed_at" {
		t.Fatalf("second version: %s", raw)
	}
	// A change made from version 1 is now refused, and nothing is saved.
	raw = f.planCall(t, "admin-a", http.MethodPut, pa, map[string]any{"base_version": 1, "yaml": planA}, http.StatusConflict)
	if !strings.Contains(string(raw), "version 2 was saved by account:operator") {
		t.Errorf("conflict: %s", raw)
	}
	f.wantRefusal(t, "admin-a", http.MethodPut, pa, http.StatusConflict)
	// Applying the current plan again saves nothing.
	raw = f.planCall(t, "admin-a", http.MethodPut, pa, map[string]any{"base_version": 2, "yaml": changed}, http.StatusOK)
	if !strings.Contains(string(raw), `"unchanged":true`) {
		t.Errorf("same plan again: %s", raw)
	}
	// Bad requests.
	raw = f.planCall(t, "admin-a", http.MethodPut, pa, map[string]any{"base_version": 2, "yaml": planA + "    colour: red\n"}, http.StatusBadRequest)
	if !strings.Contains(string(raw), `line 18: unknown field \"colour\" in a service`) {
		t.Errorf("unknown field: %s", raw)
	}
	f.planCall(t, "admin-a", http.MethodPut, pa, map[string]any{"yaml": planA}, http.StatusBadRequest)
	f.planCall(t, "admin-a", http.MethodPut, pa, map[string]any{"base_version": 2}, http.StatusBadRequest)
	f.planCall(t, "admin-a", http.MethodGet, pa+"?version=x", nil, http.StatusBadRequest)
	f.planCall(t, "admin-a", http.MethodGet, pa+"?version=9", nil, http.StatusNotFound)

	// Every successful write is in the audit trail, once.
	writes := 0
	for _, r := range f.audit(t) {
		if r.Action == "plan.update" {
			writes++
		}
	}
	if writes != 3 {
		t.Errorf("%d plan.update events, want 3 (two for town-a, one for town-b)", writes)
	}

	// Versions are kept: version 1 is still the file as applied.
	var got planVersionJSON
	planMust(t, json.Unmarshal(f.planCall(t, "auditor-a", http.MethodGet, pa+"?version=1", nil, http.StatusOK), &got))
	if got.YAML != planA || got.Plan.Services[0].RTO != continuity.Duration(4*time.Hour) {
		t.Errorf("version 1: %+v", got)
	}
	planMust(t, json.Unmarshal(f.planCall(t, "auditor-a", http.MethodGet, pa+"?version=1&format=canonical", nil, http.StatusOK), &got))
	if !strings.HasPrefix(got.YAML, "# Continuity plan of town-a, version 1, saved ") {
		t.Errorf("canonical export: %s", got.YAML)
	}
	if p, err := continuity.Decode([]byte(got.YAML)); err != nil || continuity.Compare(got.Plan, p).Empty() == false {
		t.Errorf("canonical export does not give the plan back: %v", err)
	}
	var hist []planVersionJSON
	planMust(t, json.Unmarshal(f.planCall(t, "admin-a", http.MethodGet, pa+"/versions", nil, http.StatusOK), &hist))
	if len(hist) != 2 || hist[0].Version != 2 || hist[1].Version != 1 || hist[0].Plan != nil || len(hist[1].Changes.Added) != 2 {
		t.Errorf("history: %+v", hist)
	}

	// The recovery order, with the latest clean snapshot of each machine.
	tn, err := f.st.TenantByName(ctx, "town-a")
	planMust(t, err)
	agents, err := f.st.ListAgents(ctx, tn.ID)
	planMust(t, err)
	src := "agent:" + itoa(agents[0].ID)
	now := f.clock.Now()
	planMust(t, f.st.RecordSnapshot(ctx, store.SnapshotRecord{TenantID: tn.ID, Name: strings.Repeat("1", 64), Received: now.Add(-3 * time.Hour), Writer: src}))
	var order planOrderJSON
	planMust(t, json.Unmarshal(f.planCall(t, "admin-a", http.MethodGet, pa+"/order", nil, http.StatusOK), &order))
	var kinds []string
	for _, p := range order.Problems {
		kinds = append(kinds, p.Kind+":"+p.Service)
	}
	if order.Version != 2 || len(order.Waves) != 2 || order.Waves[0].Services[0].ID != "annuaire" ||
		strings.Join(kinds, " ") != "snapshot_older_than_rpo:annuaire no_snapshot:etat-civil" {
		t.Errorf("order: %+v, problems %v", order, kinds)
	}
}

func planMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

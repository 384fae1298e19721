package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/drill"
)

func testDrill(service, result string, reasons ...string) drill.Record {
	t0 := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	return drill.Record{Service: service, ServiceName: "Payroll", RTO: continuity.Duration(4 * time.Hour), Result: result, Reasons: reasons,
		Sources: []drill.SourceResult{{Host: "pc-1", Path: "/srv/paie", Snapshot: strings.Repeat("c", 64), Files: 2, Bytes: 10}},
		Files:   2, Bytes: 10, Digest: "sha256:" + strings.Repeat("0", 64), RestoreSeconds: 1.5, RecoverySeconds: 1.5,
		Started: t0, Finished: t0.Add(2 * time.Second), RanBy: "root@pc-1", Host: "pc-1"}
}

// TestDrillsAPI: the tenant's agent and admin (and operators) record
// drills, nobody else; the tenant's admin and auditors, server-wide
// auditors and operators read them, not another town's admin nor an
// agent; the server sets who sent it; a failed drill opens a drill alert
// (audited) that does not freeze retention; every record is audited.
func TestDrillsAPI(t *testing.T) {
	f := newAlertFixture(t)
	path := "/v1/tenants/town-a/drills"

	// Who may record.
	passed := testDrill("paie", drill.Passed)
	passed.RecordedBy, passed.ID = "account:someone-else", 77 // the server's to set
	out := f.want(t, http.StatusCreated, "agent-a", http.MethodPost, path, passed)
	agentID := out["id"].(float64)
	if out["recorded_by"] == "account:someone-else" || !strings.HasPrefix(out["recorded_by"].(string), "agent:") || out["tenant"] != "town-a" ||
		out["alert_id"] != nil || out["result"] != "passed" || out["sha256"] == "" || agentID == 77 {
		t.Errorf("recorded by the agent: %v", out)
	}
	d := auditBy(t, f, out["recorded_by"].(string), "drill.record", "town-a")
	if d["service"] != "paie" || d["result"] != "passed" || d["drill_id"] != agentID {
		t.Errorf("audit of the record: %v", d)
	}
	f.want(t, http.StatusCreated, "admin-a", http.MethodPost, path, testDrill("eau", drill.Passed))
	f.want(t, http.StatusCreated, "operator", http.MethodPost, path, testDrill("eau", drill.Passed))
	for _, who := range []string{"admin-b", "auditor", "auditor-a"} {
		f.want(t, http.StatusForbidden, who, http.MethodPost, path, testDrill("eau", drill.Passed))
	}
	f.want(t, http.StatusForbidden, "agent-a", http.MethodPost, "/v1/tenants/town-b/drills", testDrill("eau", drill.Passed))
	f.want(t, http.StatusForbidden, "agent-a", http.MethodPost, "/v1/tenants/nowhere/drills", testDrill("eau", drill.Passed))
	if code, _ := f.call(t, "", http.MethodPost, path, testDrill("eau", drill.Passed)); code != http.StatusUnauthorized {
		t.Errorf("anonymous record: %d", code)
	}
	// Malformed records are refused.
	bad := testDrill("Paie!", drill.Passed)
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodPost, path, bad)
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodPost, path, testDrill("paie", drill.Failed)) // no reason
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodPost, path, map[string]any{"service": "paie", "colour": "blue"})
	// An agent still cannot use the rest of the administration API.
	f.want(t, http.StatusForbidden, "agent-a", http.MethodGet, path, nil)

	// A failed drill opens a drill alert that does not freeze retention.
	failed := f.want(t, http.StatusCreated, "agent-a", http.MethodPost, path,
		testDrill("paie", drill.Failed, "pc-1:/srv/paie: 1 file(s) not restored intact from snapshot cccccccc: /srv/paie/2026-11.csv"))
	alertID := failed["alert_id"].(float64)
	if alertID == 0 {
		t.Fatalf("failed drill without an alert: %v", failed)
	}
	a := f.want(t, http.StatusOK, "admin-a", http.MethodGet, "/v1/alerts/"+strconv.Itoa(int(alertID)), nil)
	if a["kind"] != "drill" || a["verdict"] != "failed" || a["service"] != "paie" || a["drill_id"] != failed["id"] ||
		!strings.Contains(a["detail"].(string), "/srv/paie/2026-11.csv") || a["state"] != "open" {
		t.Errorf("drill alert: %v", a)
	}
	if al := auditBy(t, f, "server", "drill.alert.open", "town-a"); al["alert_id"] != alertID {
		t.Errorf("audit of the alert: %v", al)
	}
	tn, err := f.st.TenantByName(t.Context(), "town-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CloseAlert(t.Context(), f.alertA.ID, "account:admin-a", "done"); err != nil {
		t.Fatal(err)
	}
	if frozen, err := f.st.HasOpenAlert(t.Context(), tn.ID); err != nil || frozen {
		t.Errorf("a drill alert freezes retention: %v %v", frozen, err)
	}
	slow := f.want(t, http.StatusCreated, "admin-a", http.MethodPost, path, testDrill("eau", drill.Slow, "the recovery took 5h, more than the RTO of 4h"))
	if slow["alert_id"] == nil {
		t.Errorf("slow drill without an alert: %v", slow)
	}

	// Who may read.
	for who, code := range map[string]int{"operator": 200, "auditor": 200, "auditor-a": 200, "admin-a": 200, "admin-b": 403} {
		c, raw := f.call(t, f.tokens[who], http.MethodGet, path, nil)
		if c != code {
			t.Errorf("%s lists drills: %d %s, want %d", who, c, raw, code)
			continue
		}
		if code == 200 {
			var list []map[string]any
			if err := json.Unmarshal(raw, &list); err != nil || len(list) != 5 || list[0]["service"] != "eau" {
				t.Errorf("%s lists %d drills: %s", who, len(list), raw)
			}
		}
	}
	c, raw := f.call(t, f.tokens["admin-a"], http.MethodGet, path+"?service=paie&limit=1", nil)
	if c != 200 || !strings.Contains(string(raw), `"result":"failed"`) || strings.Count(string(raw), `"service":`) != 1 {
		t.Errorf("filtered list: %d %s", c, raw)
	}
	id := strconv.Itoa(int(failed["id"].(float64)))
	got := f.want(t, http.StatusOK, "auditor-a", http.MethodGet, path+"/"+id, nil)
	if got["result"] != "failed" || got["alert_id"] != alertID || got["ran_by"] != "root@pc-1" || got["digest"] == "" {
		t.Errorf("show: %v", got)
	}
	f.want(t, http.StatusForbidden, "admin-b", http.MethodGet, path+"/"+id, nil)
	f.want(t, http.StatusNotFound, "admin-b", http.MethodGet, "/v1/tenants/town-b/drills/"+id, nil)
	f.want(t, http.StatusBadRequest, "admin-a", http.MethodGet, path+"/x", nil)

	// Closing the drill alert is audited as such.
	f.want(t, http.StatusOK, "admin-a", http.MethodPost, "/v1/alerts/"+strconv.Itoa(int(alertID))+"/close", map[string]string{"note": "pack repaired, drill passed"})
	if cl := f.wantAudit(t, "admin-a", "drill.alert.close", "town-a"); cl["alert_id"] != alertID {
		t.Errorf("audit of the close: %v", cl)
	}
}

// auditBy is wantAudit for any actor (an agent, the server).
func auditBy(t *testing.T, f *alertFixture, actor, action, tenant string) map[string]any {
	t.Helper()
	for _, r := range f.audit(t) {
		if r.Action == action && r.Actor == actor && r.Tenant == tenant {
			var d map[string]any
			_ = json.Unmarshal(r.Detail, &d)
			return d
		}
	}
	t.Errorf("no %s by %s (tenant %q) in the audit trail", action, actor, tenant)
	return nil
}

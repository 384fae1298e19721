package server

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/drill"
	"github.com/rempart/rempart/internal/evidence"
)

// TestEvidenceAPI: auditors, operators and the tenant's admin read the
// evidence report, as CSV (one row per service) or PDF; another town's
// admin and an agent are refused, and the refusal audited; operators and
// server-wide auditors read every tenant in one CSV.
func TestEvidenceAPI(t *testing.T) {
	f := newAcctFixture(t)
	const pa = "/v1/tenants/town-a/evidence"

	// No plan yet: the report says so.
	rows := evidenceRows(t, f.planCall(t, "auditor-a", http.MethodGet, pa+".csv", nil, http.StatusOK))
	if len(rows) != 2 || rows[1][0] != "town-a" || !strings.Contains(strings.Join(rows[1], ","), "no_plan") {
		t.Errorf("no plan: %q", rows)
	}
	f.planCall(t, "admin-a", http.MethodPut, "/v1/tenants/town-a/plan", map[string]any{"base_version": 0, "yaml": planA}, http.StatusCreated)
	f.planCall(t, "admin-a", http.MethodPost, "/v1/tenants/town-a/drills", testDrill("etat-civil", drill.Passed), http.StatusCreated)
	f.planCall(t, "admin-a", http.MethodPost, "/v1/tenants/town-a/drills", testDrill("annuaire", drill.Failed, "a file was damaged"), http.StatusCreated)

	for _, who := range []string{"operator", "auditor", "auditor-a", "admin-a"} {
		rows = evidenceRows(t, f.planCall(t, who, http.MethodGet, pa+".csv", nil, http.StatusOK))
		if len(rows) != 1+2 {
			t.Fatalf("%s: %d rows, want a header and one per service: %q", who, len(rows), rows)
		}
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	an, ec := rows[1], rows[2]
	if an[col["service"]] != "annuaire" || an[col["last_drill_result"]] != "failed" || an[col["drill_alerts"]] != "1" ||
		ec[col["service"]] != "etat-civil" || ec[col["drills_passed"]] != "1" || ec[col["last_restore_vs_rto"]] != "within" ||
		ec[col["plan_version"]] != "1" || ec[col["backup_status"]] != "missing" {
		t.Errorf("evidence rows: %q", rows)
	}
	// A period before the drills: none.
	rows = evidenceRows(t, f.planCall(t, "auditor", http.MethodGet, pa+".csv?from=2020-01-01&to=2020-12-31", nil, http.StatusOK))
	if rows[1][col["drills"]] != "0" || rows[1][col["period_to"]] != "2020-12-31T23:59:59Z" || rows[1][col["plan_versions_in_period"]] != "0" {
		t.Errorf("2020: %q", rows)
	}
	f.planCall(t, "auditor", http.MethodGet, pa+".csv?from=2021-01-01&to=2020-01-01", nil, http.StatusBadRequest)
	f.planCall(t, "auditor", http.MethodGet, pa+".csv?from=yesterday", nil, http.StatusBadRequest)
	f.planCall(t, "auditor", http.MethodGet, pa+".pdf?lang=de", nil, http.StatusBadRequest)

	// Another town's admin, an agent: refused, and audited.
	for _, who := range []string{"admin-b", "agent-a"} {
		for _, ext := range []string{".csv", ".pdf"} {
			raw := f.planCall(t, who, http.MethodGet, pa+ext, nil, http.StatusForbidden)
			if bytes.Contains(raw, []byte("etat-civil")) || bytes.HasPrefix(raw, []byte("%PDF")) {
				t.Errorf("%s got town-a's evidence", who)
			}
		}
	}
	f.wantRefusal(t, "admin-b", http.MethodGet, pa+".pdf", http.StatusForbidden)

	// Every tenant: operators and server-wide auditors only.
	rows = evidenceRows(t, f.planCall(t, "auditor", http.MethodGet, "/v1/evidence.csv", nil, http.StatusOK))
	tenants := map[string]int{}
	for _, r := range rows[1:] {
		tenants[r[0]]++
	}
	if tenants["town-a"] != 2 || tenants["town-b"] != 1 {
		t.Errorf("every tenant: %v", tenants)
	}
	for _, who := range []string{"admin-a", "auditor-a", "agent-a"} {
		f.planCall(t, who, http.MethodGet, "/v1/evidence.csv", nil, http.StatusForbidden)
	}
	f.wantRefusal(t, "admin-a", http.MethodGet, "/v1/evidence.csv", http.StatusForbidden)

	// The PDF, in English.
	pdf := f.planCall(t, "auditor-a", http.MethodGet, pa+".pdf?lang=en", nil, http.StatusOK)
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext is not installed (Debian: poppler-utils)")
	}
	file := filepath.Join(t.TempDir(), "evidence.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", "-enc", "UTF-8", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	within, _ := evidence.RestoreWords("en")
	for _, want := range []string{"NIS2 evidence report", "Civil registry (etat-civil)", "Directory (annuaire)", "1.5 s / 1d: " + within, "page 1 / ", "town-a"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the PDF has no %q:\n%s", want, out)
		}
	}
}

func evidenceRows(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) < 2 || rows[0][0] != "tenant" {
		t.Fatalf("not the evidence CSV: %v\n%s", err, b)
	}
	return rows
}

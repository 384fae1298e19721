package server

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunbookAPI(t *testing.T) {
	f := newAcctFixture(t)
	const pa = "/v1/tenants/town-a/runbook.pdf"

	// No plan yet: the answer says what to do.
	raw := f.planCall(t, "admin-a", http.MethodGet, pa, nil, http.StatusNotFound)
	if !strings.Contains(string(raw), "rempart plan apply -f plan.yaml --tenant town-a") {
		t.Errorf("no plan: %s", raw)
	}
	f.planCall(t, "admin-a", http.MethodPut, "/v1/tenants/town-a/plan", map[string]any{"base_version": 0, "yaml": planA}, http.StatusCreated)

	// Those who may read the plan may print it.
	var pdf []byte
	for _, who := range []string{"operator", "auditor", "auditor-a", "admin-a"} {
		pdf = f.planCall(t, who, http.MethodGet, pa, nil, http.StatusOK)
		if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Fatalf("%s: not a PDF: %.40q", who, pdf)
		}
	}
	// Another town, an agent: refused, and the refusal audited.
	for _, who := range []string{"admin-b", "agent-a"} {
		raw := f.planCall(t, who, http.MethodGet, pa, nil, http.StatusForbidden)
		if bytes.HasPrefix(raw, []byte("%PDF-")) || strings.Contains(string(raw), "Plan of town A") {
			t.Errorf("%s got town-a's runbook", who)
		}
	}
	f.wantRefusal(t, "admin-b", http.MethodGet, pa, http.StatusForbidden)
	f.planCall(t, "admin-a", http.MethodGet, pa+"?lang=de", nil, http.StatusBadRequest)
	f.planCall(t, "admin-a", http.MethodGet, pa+"?version=7", nil, http.StatusNotFound)

	// Markdown: the same content, in English on request.
	md := string(f.planCall(t, "auditor-a", http.MethodGet, "/v1/tenants/town-a/runbook.md?lang=en", nil, http.StatusOK))
	for _, want := range []string{"# Recovery runbook — Plan of town A", "| 1 | Directory (annuaire) |", "| 2 | Civil registry (etat-civil) |", "/crisis/"} {
		if !strings.Contains(md, want) {
			t.Errorf("runbook.md has no %q:\n%s", want, md)
		}
	}

	// The PDF's text: the recovery order, the crisis room.
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext is not installed (Debian: poppler-utils)")
	}
	file := filepath.Join(t.TempDir(), "runbook.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", file, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	text := string(out)
	a, b := strings.Index(text, "Directory (annuaire)"), strings.Index(text, "Civil registry (etat-civil)")
	if a < 0 || b < a || !strings.Contains(text, "Ordre de reprise") || !strings.Contains(text, "/crisis/") || !strings.Contains(text, "page 1 / ") {
		t.Errorf("runbook text:\n%s", text)
	}
}

package e2e

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEvidenceEndToEnd: a town's file server backs up its shares, the
// plan names them, the agent runs a drill; the town's admin exports the
// NIS2 evidence report as CSV (one row per service, the drill and its
// restore time against the RTO) and as PDF (the services, the drill's
// date, the RTO comparison, page numbers); an auditor of the whole server
// exports every town; another town's admin is refused.
func TestEvidenceEndToEnd(t *testing.T) {
	op := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	srv := startServer(t, op, filepath.Join(t.TempDir(), "data"))
	op.with("REMPART_LOGIN_PASSWORD", adminPassword).ok("login", srv.url, "--user", "admin", "--ca-fingerprint", srv.fp)
	op.ok("tenant", "create", "mairie-a")
	op.ok("tenant", "create", "mairie-b")
	var dsiAcct, otherAcct accountCreatedJSON
	op.okJSON(&dsiAcct, "account", "create", "dsi@mairie-a.fr", "--role", "tenant-admin", "--tenant", "mairie-a")
	op.okJSON(&otherAcct, "account", "create", "dsi@mairie-b.fr", "--role", "tenant-admin", "--tenant", "mairie-b")
	dsi := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	dsi.with("REMPART_LOGIN_PASSWORD", dsiAcct.Password).ok("login", srv.url, "--user", "dsi@mairie-a.fr", "--ca-fingerprint", srv.fp)
	other := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	other.with("REMPART_LOGIN_PASSWORD", otherAcct.Password).ok("login", srv.url, "--user", "dsi@mairie-b.fr", "--ca-fingerprint", srv.fp)

	// An agent backs up the shares.
	var enrol struct {
		Token string `json:"token"`
	}
	dsi.okJSON(&enrol, "agent", "enroll", "--tenant", "mairie-a")
	agent := newEnv(t).with("REMPART_REPO", srv.url+"/mairie-a")
	agent.ok("agent", "join", srv.url, enrol.Token, "--ca-fingerprint", srv.fp, "--host", "fs01")
	agent.initRepo()
	shares := filepath.Join(agent.home, "partages")
	must(t, os.MkdirAll(shares, 0o755))
	must(t, os.WriteFile(filepath.Join(shares, "deliberation.txt"), []byte("Délibération du conseil municipal\n"), 0o644))
	agent.backup(shares)

	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	must(t, os.WriteFile(plan, []byte(`format: 1
title: Mairie A
reviewed_at: "2026-01-15"
reviewed_by: DGS
services:
  - id: fichiers
    name: Serveur de fichiers
    criticality: important
    rto: 2d
    rpo: 24h
    sources:
      - {host: fs01, path: `+shares+`}
  - id: site-web
    name: Site web
    criticality: deferrable
    rto: 7d
    rpo: 7d
`), 0o644))
	dsi.ok("plan", "apply", "-f", plan)
	agent.ok("drill", "run", "fichiers", "--scratch", t.TempDir())
	today := time.Now().UTC().Format(time.DateOnly)

	// CSV: one row per service.
	csvFile := filepath.Join(dir, "evidence.csv")
	r := dsi.ok("evidence", "export", "--format", "csv", "-o", csvFile)
	mustContain(t, "evidence export csv", r.stdout, "Wrote the evidence report of mairie-a (csv) to "+csvFile)
	b, err := os.ReadFile(csvFile)
	must(t, err)
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	must(t, err)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want a header and one per service:\n%s", len(rows), b)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	f, w := rows[1], rows[2]
	for k, want := range map[string]string{"tenant": "mairie-a", "service": "fichiers", "rto": "2d", "drills": "1", "drills_passed": "1",
		"last_drill_result": "passed", "last_restore_vs_rto": "within", "backup_status": "ok", "plan_version": "1",
		"plan_reviewed_at": "2026-01-15", "plan_reviewed_by": "DGS", "sources": "fs01:" + shares} {
		if f[col[k]] != want {
			t.Errorf("fichiers: %s = %q, want %q", k, f[col[k]], want)
		}
	}
	if !strings.HasPrefix(f[col["last_drill"]], today) || len(f[col["last_drill_evidence_sha256"]]) != 64 || w[col["service"]] != "site-web" || w[col["drills"]] != "0" {
		t.Errorf("rows: %q", rows)
	}
	// A period before the drill has none.
	r = dsi.ok("evidence", "export", "--format", "csv", "--from", "2020-01-01", "--to", "2020-12-31", "-o", "-")
	mustContain(t, "evidence export of 2020", r.stdout, "2020-12-31T23:59:59Z")
	if rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll(); err != nil || rows[1][col["drills"]] != "0" {
		t.Errorf("2020: %v %q", err, rows)
	}

	// PDF: the services, the drill's date, the RTO comparison, page numbers.
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext is not installed (Debian: apt-get install poppler-utils; scripts/test.sh installs it)")
	}
	pdfFile := filepath.Join(dir, "evidence.pdf")
	dsi.ok("evidence", "export", "--format", "pdf", "--lang", "en", "-o", pdfFile)
	out, err := exec.Command(pdftotext, "-layout", "-enc", "UTF-8", pdfFile, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := string(out)
	pages := strings.Count(text, "\f")
	mustContain(t, "evidence PDF", text, "NIS2 evidence report", "mairie-a", "Serveur de fichiers (fichiers)", "Site web (site-web)",
		today, "/ 2d: within RTO", "Restore tests documented", "2026-01-15", "page 1 / ")
	if !strings.Contains(text, "page "+strconv.Itoa(pages)+" / "+strconv.Itoa(pages)) {
		t.Errorf("no last page number %d / %d", pages, pages)
	}
	r = dsi.ok("evidence", "export", "--format", "pdf", "-o", "-")
	if !strings.HasPrefix(r.stdout, "%PDF-") {
		t.Error("the French PDF is not a PDF")
	}

	// The operator: every town in one CSV; a PDF needs a town.
	r = op.ok("evidence", "export", "--format", "csv", "-o", "-")
	if rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll(); err != nil || len(rows) != 4 || rows[3][0] != "mairie-b" {
		t.Errorf("every town: %v\n%s", err, r.stdout)
	}
	r = op.expect(2, "evidence", "export", "--format", "pdf")
	mustContain(t, "evidence export pdf without a town", r.stderr, "--tenant")

	// Another town's admin is refused; bad flags are usage errors.
	r = other.expect(1, "evidence", "export", "--tenant", "mairie-a", "--format", "csv", "-o", filepath.Join(dir, "other.csv"))
	mustContain(t, "evidence export of another town", r.stderr, "403", "access denied")
	if _, err := os.Stat(filepath.Join(dir, "other.csv")); err == nil {
		t.Error("evidence was written for another town")
	}
	r = dsi.expect(2, "evidence", "export", "--format", "xls")
	mustContain(t, "evidence export --format xls", r.stderr, "pdf or csv")
	dsi.expect(2, "evidence", "export", "--from", "last year")
}

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestRunbookEndToEnd: a town admin applies the small town's plan and
// exports the printable runbook; pdftotext finds the recovery order, the
// crisis room's address, the CA fingerprint the server printed, the page
// numbers and French accents intact. Another town's admin cannot export it.
func TestRunbookEndToEnd(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext is not installed (Debian: apt-get install poppler-utils; scripts/test.sh installs it)")
	}
	_, srv, dsi, other := twoTowns(t)

	// No plan yet.
	r := dsi.expect(1, "runbook", "export", "--format", "pdf")
	mustContain(t, "runbook export without a plan", r.stderr, "no continuity plan yet")

	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	must(t, os.WriteFile(plan, []byte(dsi.ok("plan", "example").stdout), 0o644))
	dsi.ok("plan", "apply", "-f", plan)

	out := filepath.Join(dir, "f.pdf")
	r = dsi.ok("runbook", "export", "--format", "pdf", "-o", out)
	mustContain(t, "runbook export", r.stdout, "Wrote the runbook of mairie-a (plan version 1, pdf, fr)", out)
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("runbook file: %v %v", fi, err)
	}
	b, err := exec.Command(pdftotext, "-layout", "-enc", "UTF-8", out, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, b)
	}
	text := string(b)
	pages := strings.Count(text, "\f")
	mustContain(t, "runbook text", text, "Runbook de reprise", "La première heure", "Ordre de reprise", "Vague 1, en parallèle",
		"différable", "page 1 / ", srv.url+"/crisis/", "Main courante")
	if !strings.Contains(text, "page "+strconv.Itoa(pages)+" / "+strconv.Itoa(pages)) {
		t.Errorf("no last page number %d / %d", pages, pages)
	}
	if !strings.Contains(strings.Join(strings.Fields(text), ""), srv.fp) {
		t.Errorf("the runbook has no CA fingerprint %s", srv.fp)
	}
	order := regexp.MustCompile(`(?s)Ordre de reprise\s*\n.*?Problèmes`).FindString(text)
	last := -1
	for _, id := range []string{"eau", "annuaire", "site-web", "etat-civil", "messagerie", "fichiers", "paie"} {
		i := strings.Index(order, "("+id+")")
		if i < last || i < 0 {
			t.Errorf("recovery order: %s misplaced:\n%s", id, order)
		}
		last = i
	}

	// English, Markdown, on standard output.
	r = dsi.ok("runbook", "export", "--format", "md", "--lang", "en", "-o", "-")
	mustContain(t, "runbook export --format md", r.stdout, "# Recovery runbook", "## The first hour", srv.fp, "| 7 | Payroll (paie) |")

	// Another town's admin is refused.
	r = other.expect(1, "runbook", "export", "--tenant", "mairie-a", "-o", filepath.Join(dir, "other.pdf"))
	mustContain(t, "runbook export of another town", r.stderr, "403", "access denied")
	if _, err := os.Stat(filepath.Join(dir, "other.pdf")); err == nil {
		t.Error("a runbook was written for another town")
	}
	r = dsi.expect(2, "runbook", "export", "--lang", "de")
	mustContain(t, "runbook export --lang de", r.stderr, "fr (French) or en (English)")
}

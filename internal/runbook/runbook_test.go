package runbook

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/continuity"
)

const testFP = "3F:A2:19:C4:5B:77:00:E1:9D:2C:44:81:6A:F0:0B:12:99:3E:D4:7A:C5:01:88:6F:2B:E3:10:57:AB:CD:EF:01"

func examplePlan(t *testing.T) *continuity.Plan {
	t.Helper()
	p, err := continuity.Decode(continuity.Example)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func exampleInput(t *testing.T, lang string) Input {
	p := examplePlan(t)
	now := time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)
	snaps := []continuity.Snapshot{
		{Host: "fs01", Latest: now.Add(-2 * time.Hour)},
		{Host: "scada01", Latest: now.Add(-5 * time.Hour)}, // older than eau's RPO of 1h
	}
	return Input{Tenant: "mairie-a", Plan: p, Version: 3, Saved: now.Add(-24 * time.Hour), SavedBy: "account:dsi@mairie-a.fr",
		Analysis: continuity.Analyse(p, snaps, now), Generated: now, Lang: lang, Location: time.UTC,
		Server: Server{URL: "https://rempart.mairie.local:8443", CrisisURL: "https://rempart.mairie.local:8443/crisis/", CAFingerprint: testFP}}
}

// pdfText extracts the text of a PDF with pdftotext (poppler-utils).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext is not installed (Debian: apt-get install poppler-utils; scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "runbook.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", "-enc", "UTF-8", in, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

// squash drops every space, so that a fingerprint broken over lines can
// be found.
func squash(s string) string { return strings.Join(strings.Fields(s), "") }

func TestPDFFrench(t *testing.T) {
	in := exampleInput(t, "fr")
	pdf, err := PDF(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", pdf[:min(len(pdf), 20)])
	}
	text := pdfText(t, pdf)
	if os.Getenv("RUNBOOK_DUMP") != "" {
		_ = os.WriteFile(os.Getenv("RUNBOOK_DUMP"), pdf, 0o644)
		t.Logf("pdftotext:\n%s", text)
	}
	pages := strings.Count(text, "\f")
	if pages < 8 {
		t.Errorf("%d pages", pages)
	}
	n := strconv.Itoa(pages)
	for i := 1; i <= pages; i++ {
		if want := "page " + strconv.Itoa(i) + " / " + n; !strings.Contains(text, want) {
			t.Errorf("no %q", want)
		}
	}
	// Every page: the town, the plan's version and the date.
	for i, page := range strings.Split(strings.TrimSuffix(text, "\f"), "\f") {
		for _, want := range []string{"Mairie de Valbonne-sur-Lys", "plan version 3", "2026-12-05 10:30 UTC"} {
			if !strings.Contains(page, want) {
				t.Errorf("page %d: no %q", i+1, want)
			}
		}
	}
	for _, want := range []string{
		"Runbook de reprise", "Gardez un exemplaire imprimé hors ligne", "La première heure",
		"débranchez du réseau les machines touchées", "sans les éteindre", "Ouvrir la main courante",
		"cert.ssi.gouv.fr", "CNIL dans les 72 heures", "alerte précoce à l'ANSSI dans les 24 heures",
		"Annuaire de crise", "Claire Martin", "+33 4 00 00 00 99",
		"https://rempart.mairie.local:8443/crisis/", "https://rempart.mairie.local:8443/ca.crt",
		"safe of the town hall, office 12", "Ordre de reprise", "Vague 1, en parallèle", "Vague 3, après la vague 2",
		"Civil registry (état civil)", "essentiel", "différable", "Procédure dégradée", "Karim Benali",
		"PLUS ANCIENNE QUE LE RPO", "AUCUNE SAUVEGARDE", "Main courante",
	} {
		if !strings.Contains(squash(text), squash(want)) { // words may be wrapped
			t.Errorf("the runbook has no %q", want)
		}
	}
	if !strings.Contains(squash(text), testFP) {
		t.Errorf("the runbook has no CA fingerprint %s", testFP)
	}
	// The recovery order: the services in wave order, on the order page.
	order := regexp.MustCompile(`(?s)Ordre de reprise\s*\n.*?Problèmes`).FindString(text)
	var seen []string
	for _, id := range []string{"eau", "annuaire", "site-web", "etat-civil", "messagerie", "fichiers", "paie"} {
		i := strings.Index(order, "("+id+")")
		if i < 0 {
			t.Errorf("the recovery order has no %s:\n%s", id, order)
			continue
		}
		seen = append(seen, id)
		if len(seen) > 1 && i < strings.Index(order, "("+seen[len(seen)-2]+")") {
			t.Errorf("%s before %s in the recovery order", id, seen[len(seen)-2])
		}
	}
	// Problems are named: eau's backup is older than its RPO.
	if !strings.Contains(squash(text), squash("eau) : la dernière sauvegarde de scada01:/opt/supervision")) {
		t.Errorf("the stale backup of eau is not flagged")
	}
}

func TestPDFEnglishAndNoKeysLocation(t *testing.T) {
	in := exampleInput(t, "en")
	in.Plan.RecoveryKeysLocation = ""
	in.Plan.Services = append(in.Plan.Services, continuity.Service{ID: "a", Name: "Loop A", Criticality: 3, RTO: continuity.Duration(time.Hour), RPO: continuity.Duration(time.Hour), DependsOn: []string{"b"}},
		continuity.Service{ID: "b", Name: "Loop B — œuvre", Criticality: 3, RTO: continuity.Duration(time.Hour), RPO: continuity.Duration(time.Hour), DependsOn: []string{"a"}})
	in.Analysis = continuity.Analyse(in.Plan, nil, in.Generated)
	pdf, err := PDF(in)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"Recovery runbook", "The first hour", "Keep a printed copy offline", "Wave 2, after wave 1, in parallel",
		"ERROR: dependency cycle: a -> b -> a", "The plan does not say where the recovery keys are kept", "Loop B — œuvre",
		"Cannot be placed in the order (dependency cycle): Loop A (a), Loop B — œuvre (b)", "page 1 / "} {
		if !strings.Contains(squash(text), squash(want)) {
			t.Errorf("the runbook has no %q", want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	out, err := Markdown(exampleInput(t, "fr"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"# Runbook de reprise", "## La première heure", "1. [ ] Isoler", testFP, "| 7 | Payroll (paie) |", "## 7. Payroll (paie)"} {
		if !strings.Contains(s, want) {
			t.Errorf("the Markdown runbook has no %q", want)
		}
	}
}

func TestParseLang(t *testing.T) {
	for in, want := range map[string]string{"": "fr", "FR": "fr", "en": "en"} {
		if got, err := ParseLang(in); err != nil || got != want {
			t.Errorf("ParseLang(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseLang("de"); err == nil {
		t.Error("de accepted")
	}
}

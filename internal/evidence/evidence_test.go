package evidence

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

	"github.com/rempart/rempart/internal/continuity"
)

const testPlan = `format: 1
title: Plan de la mairie A
reviewed_at: "2026-03-01"
reviewed_by: DGS
services:
  - id: annuaire
    name: Annuaire
    criticality: vital
    rto: 4h
    rpo: 24h
    sources:
      - {host: dc01, path: /srv/ldap}
  - id: etat-civil
    name: État civil
    criticality: essential
    rto: 1m
    rpo: 24h
    depends_on: [annuaire]
    sources:
      - {host: fs01, path: /srv/etat-civil}
  - id: site-web
    name: Site web, "vitrine"
    criticality: deferrable
    rto: 2d
    rpo: 7d
`

var (
	from = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to   = time.Date(2026, 6, 30, 23, 59, 59, 0, time.UTC)
)

func testInput(t *testing.T) Input {
	t.Helper()
	p, err := continuity.Decode([]byte(testPlan))
	if err != nil {
		t.Fatal(err)
	}
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 10, 0, 0, 0, time.UTC) }
	snaps := []continuity.Snapshot{{Host: "dc01", Latest: to.Add(-2 * time.Hour)}, {Host: "fs01", Latest: to.Add(-72 * time.Hour)}}
	return Input{
		Tenant: "mairie-a", From: from, To: to, Generated: day(7, 2),
		Plan: p, Current: PlanVersion{Version: 3, Saved: day(3, 2), SavedBy: "account:dsi"},
		Versions: []PlanVersion{
			{Version: 1, Saved: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC), SavedBy: "account:dsi"}, // before
			{Version: 2, Saved: day(2, 1), SavedBy: "account:dsi", Note: "ajout du site web"},
			{Version: 3, Saved: day(3, 2), SavedBy: "account:dsi", ReviewedAt: "2026-03-01"},
		},
		Analysis: continuity.Analyse(p, snaps, to),
		Drills: []Drill{
			{ID: 1, Service: "etat-civil", Result: DrillPassed, Started: time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC), RecoverySeconds: 30, SHA256: "aa"}, // before
			{ID: 2, Service: "etat-civil", Result: DrillFailed, Started: day(2, 10), RecoverySeconds: 20, SHA256: "bb", Digest: "d2"},
			{ID: 3, Service: "etat-civil", Result: DrillSlow, Started: day(4, 15), RecoverySeconds: 95, SHA256: "cc", Digest: "d3"},
			{ID: 4, Service: "annuaire", Result: DrillPassed, Started: day(5, 20), RecoverySeconds: 12.5, SHA256: "dd", Digest: "d4"},
			{ID: 5, Service: "annuaire", Result: DrillFailed, Started: time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC), SHA256: "ee"}, // after
		},
		Alerts: []Alert{
			{ID: 1, Kind: AlertSentinel, Host: "fs01", Opened: day(3, 1), Closed: day(3, 2)},
			{ID: 2, Kind: AlertSentinel, Host: "fs01", Opened: day(6, 1)},                                                                                           // still open
			{ID: 3, Kind: AlertDrill, Service: "etat-civil", Opened: day(2, 10)},                                                                                    // open
			{ID: 4, Kind: AlertSentinel, Host: "dc01", Opened: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Closed: day(1, 5)},                                     // overlaps the start
			{ID: 5, Kind: AlertSentinel, Host: "dc01", Opened: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Closed: time.Date(2025, 12, 22, 0, 0, 0, 0, time.UTC)}, // closed before
			{ID: 6, Kind: AlertSentinel, Host: "pc-accueil", Opened: day(4, 1)},                                                                                     // not in the plan
			{ID: 7, Kind: AlertDrill, Service: "annuaire", Opened: time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)},                                                     // after
		},
		Rooms:     []time.Time{day(3, 5), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)},
		Retention: Retention{Policy: "keep 7 daily", LockDays: 30, Immutable: true},
	}
}

func TestBuild(t *testing.T) {
	r, err := Build(testInput(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Services) != 3 {
		t.Fatalf("services: %+v", r.Services)
	}
	an, ec, web := r.Services[0], r.Services[1], r.Services[2]
	if an.ID != "annuaire" || an.Position != 1 || ec.Position == 0 {
		t.Errorf("order: %+v %+v", an, ec)
	}
	// Drills: the period's only; the last passed one may be older.
	if ec.Drills.Count != 2 || ec.Drills.Failed != 1 || ec.Drills.Slow != 1 || ec.Drills.Last.ID != 3 ||
		!ec.Drills.LastPassed.Equal(time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("etat-civil drills: %+v", ec.Drills)
	}
	if Restore(ec.Drills.Last, ec.RTO) != "over" || Restore(an.Drills.Last, an.RTO) != "within" || Restore(nil, an.RTO) != "" {
		t.Errorf("restore vs RTO")
	}
	if an.Drills.Count != 1 || an.Drills.Last.ID != 4 || web.Drills.Count != 0 || web.Drills.Last != nil {
		t.Errorf("drills: %+v %+v", an.Drills, web.Drills)
	}
	// Backups: against each RPO, at the end of the period.
	if an.Backup != "ok" || ec.Backup != "stale" || web.Backup != "none" || ec.Sources[0].Status != "stale" {
		t.Errorf("backups: %s %s %s", an.Backup, ec.Backup, web.Backup)
	}
	// Alerts overlapping the period, by service.
	if ec.Alerts != (AlertCount{Sentinel: 2, SentinelClosed: 1, Drill: 1}) || ec.Alerts.Open() != 2 {
		t.Errorf("etat-civil alerts: %+v", ec.Alerts)
	}
	if an.Alerts != (AlertCount{Sentinel: 1, SentinelClosed: 1}) {
		t.Errorf("annuaire alerts: %+v", an.Alerts)
	}
	if r.OtherAlerts != (AlertCount{Sentinel: 1}) {
		t.Errorf("other alerts: %+v", r.OtherAlerts)
	}
	// The plan: versions of the period, review.
	if r.Plan == nil || len(r.Plan.InPeriod) != 2 || r.Plan.InPeriod[0].Version != 3 || r.Plan.Current.ReviewedBy != "DGS" {
		t.Errorf("plan: %+v", r.Plan)
	}
	s := r.Summary
	if s.Sources != 2 || s.SourcesOK != 1 || s.SourcesStale != 1 || s.ServicesWithoutSource != 1 || s.Drills != 3 ||
		s.ServicesDrilled != 2 || s.RestoresWithinRTO != 1 || s.RestoresOverRTO != 1 || s.VersionsInPeriod != 2 {
		t.Errorf("summary: %+v", s)
	}
	if r.CrisisRooms != 1 {
		t.Errorf("crisis rooms: %d", r.CrisisRooms)
	}

	in := testInput(t)
	in.To = from.Add(-time.Hour)
	if _, err := Build(in); err == nil {
		t.Error("a period ending before it starts was accepted")
	}
}

func TestBuildNoPlan(t *testing.T) {
	in := testInput(t)
	in.Plan, in.Analysis = nil, nil
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Plan != nil || len(r.Services) != 0 || r.OtherAlerts.Total() != 5 {
		t.Errorf("no plan: %+v", r)
	}
	b, err := CSV(r)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][0] != "mairie-a" || !strings.Contains(strings.Join(rows[1], ","), "no_plan") {
		t.Errorf("CSV without a plan: %v %q", err, rows)
	}
	if _, err := PDF(r, "en", time.UTC); err != nil {
		t.Fatal(err)
	}
}

func TestCSV(t *testing.T) {
	r, err := Build(testInput(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := CSV(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("\r\n")) || !bytes.Contains(b, []byte(`"Site web, ""vitrine"""`)) {
		t.Errorf("not RFC 4180:\n%s", b)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+3 {
		t.Fatalf("%d rows, want a header and one per service", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	ec := rows[2]
	for k, want := range map[string]string{
		"service": "etat-civil", "service_name": "État civil", "rto": "1m", "rpo": "1d", "drills": "2", "drills_failed": "1",
		"last_drill_result": "slow", "last_restore_seconds": "95.0", "last_restore_vs_rto": "over",
		"last_passed_drill": "2025-12-01T09:00:00Z", "last_drill_evidence_sha256": "cc", "backup_status": "stale",
		"sentinel_alerts": "2", "sentinel_alerts_closed": "1", "drill_alerts": "1", "plan_version": "3", "plan_reviewed_at": "2026-03-01",
		"plan_versions_in_period": "2", "lock_days": "30", "storage_immutable": "true", "crisis_rooms": "1", "sources": "fs01:/srv/etat-civil",
		"period_from": "2026-01-01T00:00:00Z",
	} {
		if got := ec[col[k]]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if rows[1][col["last_restore_vs_rto"]] != "within" || rows[3][col["last_drill"]] != "" {
		t.Errorf("rows: %q", rows)
	}
	// Every tenant in one file.
	r2 := *r
	r2.Tenant = "mairie-b"
	b, err = CSV(r, &r2)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll(); err != nil || len(rows) != 7 || rows[6][0] != "mairie-b" {
		t.Errorf("two tenants: %v %d rows", err, len(rows))
	}
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
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
	return string(out)
}

func TestPDF(t *testing.T) {
	in := testInput(t)
	// Many drills: the report runs over several pages.
	for i := range 60 {
		in.Drills = append(in.Drills, Drill{ID: int64(100 + i), Service: "annuaire", Result: DrillPassed,
			Started: time.Date(2026, 5, 1, 0, i, 0, 0, time.UTC), RecoverySeconds: 10, SHA256: "ff"})
	}
	in.Schedule = &Schedule{EveryDays: 30, At: "02:30", TimeZone: "Europe/Paris", Next: time.Date(2026, 7, 5, 0, 30, 0, 0, time.UTC)}
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"fr", "en"} {
		b, err := PDF(r, lang, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("%PDF-")) {
			t.Fatalf("not a PDF")
		}
		text := pdfText(t, b)
		pages := strings.Count(text, "\f")
		if pages < 2 {
			t.Errorf("%s: %d page(s)", lang, pages)
		}
		within, over := RestoreWords(lang)
		want := []string{"Annuaire (annuaire)", "État civil (etat-civil)", "2026-04-15 10:00 UTC", "2026-05-20", "1m35s / 1m" + texts[lang].colon + over,
			"12.5 s / 4h" + texts[lang].colon + within, "2026-01-01", "2026-06-30", "mairie-a", "page 1 / ", "21(2)(c)"}
		if lang == "fr" {
			want = append(want, "Rapport de preuves NIS2", "Gestion des sauvegardes", "Tests de restauration documentés", "généré le 2026-07-02",
				"tous les 30 jours", "2026-07-05 00:30")
		} else {
			want = append(want, "NIS2 evidence report", "Backup management", "Restore tests documented", "Crisis management",
				"every 30 days", "2026-07-05 00:30")
		}
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: the PDF text has no %q", lang, w)
			}
		}
		last := "page " + strconv.Itoa(pages) + " / " + strconv.Itoa(pages)
		if !strings.Contains(text, last) || strings.Count(text, "mairie-a") < pages {
			t.Errorf("%s: no %q, or not the town on every page:\n%s", lang, last, text)
		}
	}
}

func TestDefuseFormula(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"Payroll":           "Payroll",
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+33 1 23":          "'+33 1 23",
		"@SUM(A1)":          "'@SUM(A1)",
		"-cmd":              "'-cmd",
		"\tx":               "'\tx",
		"-12":               "-12",
		"-3.5":              "-3.5",
		"2026-12-05":        "2026-12-05",
	} {
		if got := defuseFormula(in); got != want {
			t.Errorf("defuseFormula(%q) = %q, want %q", in, got, want)
		}
	}
}

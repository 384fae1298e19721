package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// planOrderJSON is what `rempart plan order --json` prints (the parts
// checked here).
type planOrderJSON struct {
	Tenant  string `json:"tenant"`
	Version int64  `json:"version"`
	Waves   []struct {
		Number   int `json:"number"`
		Services []struct {
			Position int    `json:"position"`
			ID       string `json:"id"`
		} `json:"services"`
	} `json:"waves"`
	Sources []struct {
		Service string `json:"service"`
		Status  string `json:"status"`
	} `json:"sources"`
	Problems []struct {
		Kind     string `json:"kind"`
		Severity string `json:"severity"`
		Service  string `json:"service"`
		Message  string `json:"message"`
	} `json:"problems"`
}

// TestPlanEndToEnd: a town admin applies the small town's plan from the
// documentation, sees the recovery order with the backups the server
// holds, changes the plan, exports it and reads its history; another
// town's admin cannot read it; every change is in the audit trail.
func TestPlanEndToEnd(t *testing.T) {
	op, srv, dsi, other := twoTowns(t)

	// The file server fs01 backs up into mairie-a.
	agent := joinAgent(t, dsi, srv, "mairie-a", "fs01")
	shares := filepath.Join(agent.home, "partages")
	must(t, os.MkdirAll(shares, 0o755))
	must(t, os.WriteFile(filepath.Join(shares, "deliberation.txt"), []byte("Délibération du conseil municipal\n"), 0o644))
	agent.backup(shares)

	// The example of the documentation, from the binary.
	example := []byte(dsi.ok("plan", "example").stdout)
	mustContain(t, "plan example", string(example), "format: 1", "id: etat-civil")

	// No plan yet.
	r := dsi.expect(1, "plan", "order")
	mustContain(t, "plan order without a plan", r.stderr, "no continuity plan yet", "rempart plan apply -f plan.yaml --tenant mairie-a")

	// A mistake in the file is found before anything is sent.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	must(t, os.WriteFile(bad, []byte(strings.Replace(string(example), "    rpo: 1h\n", "    rpo: 1h\n    colour: blue\n", 1)), 0o644))
	r = dsi.expect(1, "plan", "apply", "-f", bad)
	mustContain(t, "plan apply with an unknown field", r.stderr, `unknown field "colour" in a service`, "line ", "nothing was sent")
	t.Logf("plan apply of a file with a mistake:\n%s", r.stderr)

	// Dry run, then apply. The town admin's own tenant is the default.
	plan := filepath.Join(dir, "plan.yaml")
	must(t, os.WriteFile(plan, example, 0o644))
	r = dsi.ok("plan", "apply", "-f", plan, "--dry-run")
	mustContain(t, "plan apply --dry-run", r.stdout, "mairie-a has no plan yet", "+ added    eau (Drinking water supervision)",
		"(7 added, 0 changed, 0 removed)", "Dry run: nothing was saved")
	r = dsi.expect(0, "plan", "history")
	mustContain(t, "plan history before apply", r.stdout, "no plan yet")
	r = dsi.ok("plan", "apply", "-f", plan, "--note", "first version, reviewed with the DGS")
	mustContain(t, "plan apply", r.stdout, "Saved version 1 of the plan of mairie-a", "rempart plan order")
	t.Logf("plan apply:\n%s", r.stdout)

	// The recovery order: in waves, with fs01's snapshot, the other
	// machines' backups missing.
	r = dsi.ok("plan", "order")
	mustContain(t, "plan order", r.stdout, "Recovery order of mairie-a (plan version 1", "Wave 1, in parallel:",
		"Wave 3, after wave 2:", "fs01:/srv/partages  latest ", " ok", "app01:/srv/etat-civil  no snapshot  MISSING",
		"warning  etat-civil (Civil registry (état civil)): no snapshot of app01:/srv/etat-civil")
	t.Logf("plan order:\n%s", r.stdout)
	var order planOrderJSON
	op.okJSON(&order, "plan", "order", "--tenant", "mairie-a")
	var ids []string
	for _, w := range order.Waves {
		for _, s := range w.Services {
			ids = append(ids, s.ID)
		}
		ids = append(ids, "|")
	}
	if got := strings.Join(ids, " "); got != "eau annuaire site-web | etat-civil messagerie fichiers | paie |" {
		t.Errorf("recovery order %q", got)
	}
	for _, p := range order.Problems {
		if p.Kind != "no_snapshot" || p.Severity != "warning" || p.Service == "fichiers" {
			t.Errorf("unexpected problem %+v", p)
		}
	}

	// Another town's admin cannot read it.
	r = other.expect(1, "plan", "order", "--tenant", "mairie-a")
	mustContain(t, "plan order of another town", r.stderr, "403", "access denied")
	other.expect(1, "plan", "export", "--tenant", "mairie-a")

	// Version 2: the website goes, payroll gets a shorter RTO, and a
	// dependency cycle slips in: applying shows it, order fails on it.
	v2 := strings.Replace(string(example), "    rto: 3d\n    rpo: 24h\n", "    rto: 2d\n    rpo: 24h\n", 1)
	start := strings.Index(v2, "  - id: site-web")
	end := strings.Index(v2, "  - id: messagerie")
	v2 = v2[:start] + v2[end:]
	v2 = strings.Replace(v2, "    depends_on: [annuaire]\n    fallback: Work on paper", "    depends_on: [annuaire, paie]\n    fallback: Work on paper", 1)
	must(t, os.WriteFile(plan, []byte(v2), 0o644))
	r = dsi.ok("plan", "apply", "-f", plan)
	mustContain(t, "plan apply v2", r.stdout, "Changes to the plan of mairie-a (version 1", "~ changed  fichiers (File server (shared folders)): depends_on",
		"~ changed  paie (Payroll): rto", "- removed  site-web", "ERROR    dependency cycle: fichiers → paie → fichiers", "Saved version 2")
	t.Logf("plan apply v2:\n%s", r.stdout)
	r = dsi.expect(1, "plan", "order")
	mustContain(t, "plan order with a cycle", r.stdout, "Cannot be placed (dependency cycle): fichiers, paie", "fichiers: fs01:/srv/partages  latest ")
	mustContain(t, "plan order with a cycle", r.stderr, "1 error(s)")
	t.Logf("plan order with a cycle:\n%s%s", r.stdout, r.stderr)

	// Export: the file as applied, each version; a canonical export
	// applies back as the same plan (nothing saved).
	r = dsi.ok("plan", "export")
	if r.stdout != v2 {
		t.Errorf("plan export is not the file as applied:\n%s", r.stdout)
	}
	r = dsi.ok("plan", "export", "--version", "1")
	if r.stdout != string(example) {
		t.Errorf("plan export --version 1 is not the first file:\n%s", r.stdout)
	}
	canon := filepath.Join(dir, "canonical.yaml")
	r = dsi.ok("plan", "export", "--canonical", "-o", canon)
	mustContain(t, "plan export -o", r.stdout, "Wrote version 2 of the plan of mairie-a")
	data, err := os.ReadFile(canon)
	must(t, err)
	mustContain(t, "canonical export", string(data), "# Continuity plan of mairie-a, version 2", "criticality: vital", "rto: 2d")
	r = dsi.ok("plan", "apply", "-f", canon)
	mustContain(t, "apply the canonical export", r.stdout, "no change to any service", "Nothing saved: version 2 is already this plan")

	// History: both versions, who, the note and the changes.
	r = dsi.ok("plan", "history")
	mustContain(t, "plan history", r.stdout, "VERSION", "account:dsi@mairie-a.fr", "note: first version, reviewed with the DGS",
		"~fichiers ~paie -site-web", "2026-11-30")
	t.Logf("plan history:\n%s", r.stdout)
	var hist []struct {
		Version int64 `json:"version"`
	}
	dsi.okJSON(&hist, "plan", "history")
	if len(hist) != 2 || hist[0].Version != 2 {
		t.Errorf("plan history --json: %+v", hist)
	}

	// The audit trail has both changes.
	r = op.ok("audit", "--tenant", "mairie-a")
	if n := strings.Count(r.stdout, "plan.update"); n != 2 {
		t.Errorf("%d plan.update records in the audit trail, want 2:\n%s", n, r.stdout)
	}
}

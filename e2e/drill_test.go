package e2e

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// drillJSON is what `rempart drill run --json` and `drill list --json`
// print (the parts checked here).
type drillJSON struct {
	ID         int64  `json:"id"`
	Tenant     string `json:"tenant"`
	Service    string `json:"service"`
	Result     string `json:"result"`
	Reasons    []string
	Files      uint64 `json:"files"`
	Bytes      uint64 `json:"bytes"`
	Damaged    int    `json:"damaged"`
	Digest     string `json:"digest"`
	RecordedBy string `json:"recorded_by"`
	RanBy      string `json:"ran_by"`
	AlertID    int64  `json:"alert_id"`
	Scratch    string `json:"scratch"`
	Sources    []struct {
		Snapshot string `json:"snapshot"`
		Damaged  []struct {
			Path   string `json:"path"`
			Reason string `json:"reason"`
		} `json:"damaged"`
	} `json:"sources"`
	Health *struct {
		Ran      bool   `json:"ran"`
		ExitCode int    `json:"exit_code"`
		Output   string `json:"output"`
	} `json:"health_check"`
}

// TestDrillEndToEnd: a town's file server (an agent enrolled as fs01)
// backs up its shares; the plan names them with a health check; the agent
// runs `rempart drill run fichiers` against the server's repository: it
// passes, is recorded with the agent as its sender and listed for the
// town's admin. A byte flipped in a pack on the server makes the next
// drill fail, naming the damaged file, and opens an alert that the admin
// sees in `rempart alert list` and that does not freeze retention.
func TestDrillEndToEnd(t *testing.T) {
	op := adminShell(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, op, data)
	op.login(srv, "admin", adminPassword)
	op.ok("tenant", "create", "mairie-a")
	dsi := tenantAdmin(t, op, srv, "mairie-a", "dsi@mairie-a.fr")

	agent := joinAgent(t, dsi, srv, "mairie-a", "fs01")
	shares := filepath.Join(agent.home, "partages")
	must(t, os.MkdirAll(filepath.Join(shares, "conseil"), 0o755))
	delib := []byte("Délibération du conseil municipal\n")
	must(t, os.WriteFile(filepath.Join(shares, "conseil", "deliberation.txt"), delib, 0o644))
	big := make([]byte, 1<<20) // incompressible: a pack of its own size
	rng := rand.New(rand.NewPCG(6, 6))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	must(t, os.WriteFile(filepath.Join(shares, "arretes.txt"), big, 0o644))
	agent.backup(shares)

	// The plan: the file server's shares, with a health check that opens
	// the restored data.
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	must(t, os.WriteFile(plan, []byte(`format: 1
title: Mairie A
services:
  - id: fichiers
    name: File server
    criticality: important
    rto: 2d
    rpo: 24h
    sources:
      - {host: fs01, path: `+shares+`}
    health_check: grep -c "conseil municipal" "$REMPART_DRILL_SOURCE/conseil/deliberation.txt" && test "$PWD" = "$REMPART_DRILL_DIR"
`), 0o644))
	dsi.ok("plan", "apply", "-f", plan)

	// A scratch folder inside the production folder is refused.
	r := agent.expect(2, "drill", "run", "fichiers", "--scratch", filepath.Join(shares, "tmp"))
	mustContain(t, "drill with a scratch folder inside a source", r.stderr, "unsafe scratch folder", "inside source fs01:"+shares)
	if _, err := os.Stat(filepath.Join(shares, "tmp")); !os.IsNotExist(err) {
		t.Errorf("the refused scratch folder was created: %v", err)
	}

	// The drill passes, and is recorded with the agent as its sender.
	scratch := t.TempDir()
	r = agent.ok("drill", "run", "fichiers", "--scratch", scratch)
	mustContain(t, "drill run", r.stdout, "Drill of fichiers (File server), RTO 2d:", "fs01:"+shares+"  snapshot ",
		"restored 2 files", "verified (sha256:", "health check ok (exit 0)", "| 1", "RTO 2d → PASSED", "Recorded as drill 1 of mairie-a.")
	t.Logf("drill run:\n%s", r.stdout)
	if entries, _ := os.ReadDir(scratch); len(entries) != 0 {
		t.Errorf("the scratch folder was not cleaned: %v", entries)
	}
	var list []drillJSON
	dsi.okJSON(&list, "drill", "list")
	if len(list) != 1 || list[0].Result != "passed" || list[0].Files != 2 || list[0].Bytes != uint64(len(big)+len(delib)) ||
		!strings.HasPrefix(list[0].RecordedBy, "agent:") || list[0].Tenant != "mairie-a" || !strings.HasPrefix(list[0].Digest, "sha256:") {
		t.Fatalf("drill list: %+v", list)
	}
	r = dsi.ok("drill", "list")
	mustContain(t, "drill list", r.stdout, "fichiers", "passed", "/ 2d", list[0].RecordedBy)
	r = dsi.ok("drill", "show", "1")
	mustContain(t, "drill show", r.stdout, "Drill 1 of mairie-a", "health check command: grep -c", "evidence SHA-256: ")

	// A byte flipped in the big file's pack, on the server.
	var packs []string
	must(t, filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > 100000 && strings.Contains(p, filepath.Join("repos", "mairie-a", "data")) {
			packs = append(packs, p)
		}
		return nil
	}))
	if len(packs) == 0 {
		_ = filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
			if err == nil {
				t.Logf("%s %d", p, fi.Size())
			}
			return nil
		})
		t.Fatal("no pack found in the server's storage")
	}
	for _, p := range packs {
		fi, err := os.Stat(p)
		must(t, err)
		b, err := os.ReadFile(p)
		must(t, err)
		b[len(b)/2] ^= 0x20
		must(t, os.Chmod(p, 0o600))
		must(t, os.WriteFile(p, b, fi.Mode().Perm()|0o600))
	}
	r = agent.expect(1, "--json", "drill", "run", "fichiers")
	var failed []drillJSON
	firstJSON(t, r, &failed)
	if len(failed) != 1 || failed[0].Result != "failed" || failed[0].Damaged == 0 || failed[0].AlertID == 0 || failed[0].ID != 2 {
		t.Fatalf("drill of a damaged repository: %+v\n%s", failed, r)
	}
	named := false
	for _, d := range failed[0].Sources[0].Damaged {
		named = named || d.Path == filepath.Join(shares, "arretes.txt")
	}
	if !named || !strings.Contains(strings.Join(failed[0].Reasons, " "), "not restored intact") || failed[0].Health.Ran {
		t.Errorf("the report does not name the damaged file: %+v", failed[0])
	}
	r = agent.expect(1, "drill", "run", "fichiers")
	mustContain(t, "drill run of a damaged repository", r.stdout, "DAMAGED "+filepath.Join(shares, "arretes.txt")+": ",
		"health check not run", "RTO 2d → FAILED", "alert 2 opened")
	mustContain(t, "drill run of a damaged repository", r.stderr, "1 of 1 drill(s) failed")
	t.Logf("drill run of a damaged repository:\n%s%s", r.stdout, r.stderr)

	// The alert is in the town admin's list, of kind drill, and does not
	// freeze retention.
	r = dsi.ok("alert", "list")
	mustContain(t, "alert list", r.stdout, "mairie-a", "failed", "drill:2")
	if strings.Contains(r.stdout, "expires nothing") {
		t.Errorf("a drill alert is said to freeze retention:\n%s", r.stdout)
	}
	t.Logf("alert list:\n%s", r.stdout)
	r = dsi.ok("alert", "show", "1")
	mustContain(t, "alert show", r.stdout, "fichiers", "arretes.txt")
	r = op.ok("audit", "--tenant", "mairie-a")
	mustContain(t, "audit", r.stdout, "drill.record", "drill.alert.open")
}

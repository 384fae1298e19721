package e2e

import (
	"testing"
)

type retentionJSON struct {
	Tenant   string            `json:"tenant"`
	Policy   map[string]string `json:"policy"`
	Pending  map[string]string `json:"pending"`
	LockDays int               `json:"lock_days"`
	Change   *struct {
		Pending bool `json:"pending"`
	} `json:"change"`
}

type gcJSON struct {
	DryRun           bool `json:"dry_run"`
	SnapshotsKept    int  `json:"snapshots_kept"`
	SnapshotsDeleted int  `json:"snapshots_deleted"`
	PacksDeleted     int  `json:"packs_deleted"`
	Snapshots        []struct {
		Keep    bool     `json:"keep"`
		Reasons []string `json:"reasons"`
	} `json:"snapshots"`
}

// checkRetentionCLI drives retention from the command line on a tenant that
// holds two snapshots (the clock-driven expiry is tested in
// internal/server/repoapi): a looser policy waits, a lock only grows, a
// clean-up keeps what the policy keeps, and the agent can do none of it.
func checkRetentionCLI(t *testing.T, admin, agent *env) {
	t.Helper()
	var r retentionJSON
	admin.okJSON(&r, "tenant", "retention", "mairie-a", "--keep-all", "14d", "--daily", "90d", "--lock-days", "30")
	if r.LockDays != 30 || r.Change == nil || !r.Change.Pending || r.Pending["keep_all"] != "14d" || len(r.Policy) != 0 {
		t.Errorf("retention with snapshots stored: %+v; want the looser policy pending and a 30-day lock", r)
	}
	res := admin.expect(1, "tenant", "retention", "mairie-a", "--lock-days", "7")
	mustContain(t, "shortening the lock", res.stderr, "never be shortened")
	res = admin.ok("tenant", "retention", "mairie-a")
	mustContain(t, "retention", res.stdout, "keep everything", "Pending:", "30 days", "folder")

	var g gcJSON
	admin.okJSON(&g, "tenant", "gc", "mairie-a", "--dry-run")
	if !g.DryRun || g.SnapshotsKept != 2 || g.SnapshotsDeleted != 0 || g.PacksDeleted != 0 || len(g.Snapshots) != 2 || !g.Snapshots[0].Keep {
		t.Errorf("gc --dry-run: %+v", g)
	}
	admin.okJSON(&g, "tenant", "gc", "mairie-a")
	if g.DryRun || g.SnapshotsDeleted != 0 {
		t.Errorf("gc: %+v", g)
	}
	if n := len(agent.snapshots()); n != 2 {
		t.Errorf("after gc: %d snapshots, want 2", n)
	}
	for _, args := range [][]string{{"tenant", "gc", "mairie-a"}, {"tenant", "retention", "mairie-a", "--keep-all", "1h"}} {
		if res := agent.run(args...); res.code == 0 {
			t.Errorf("an agent could run %v\n%s", args, res)
		}
	}
	var a auditJSON
	admin.okJSON(&a, "audit", "--tenant", "mairie-a")
	seen := map[string]bool{}
	for _, rec := range a.Records {
		seen[rec.Action] = true
	}
	for _, action := range []string{"retention.policy.scheduled", "retention.lock.set", "retention.lock.refused"} {
		if !seen[action] {
			t.Errorf("audit trail lacks %s", action)
		}
	}
}

package e2e

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
)

type auditJSON struct {
	Records []struct {
		ID     int64          `json:"id"`
		Actor  string         `json:"actor"`
		Action string         `json:"action"`
		Tenant string         `json:"tenant"`
		Detail map[string]any `json:"detail"`
		Hash   string         `json:"hash"`
	} `json:"records"`
	Chain struct {
		Intact  bool   `json:"intact"`
		Records int64  `json:"records"`
		Head    string `json:"head"`
	} `json:"chain"`
}

// checkAuditAfterRefusedForget: the agent's refused forget is in the audit
// trail with the agent as actor; the chain is intact; the agent itself
// cannot read the trail.
func checkAuditAfterRefusedForget(t *testing.T, admin, agent *env, agentID int64) {
	t.Helper()
	var a auditJSON
	admin.okJSON(&a, "audit")
	if !a.Chain.Intact || a.Chain.Records == 0 || len(a.Chain.Head) != 64 {
		t.Errorf("audit --json: chain %+v, want intact with a head", a.Chain)
	}
	actor := fmt.Sprintf("agent:%d", agentID)
	found := false
	for _, r := range a.Records {
		if r.Actor == actor && r.Action == "repo.delete.refused" && r.Tenant == "mairie-a" {
			found = true
		}
	}
	if !found {
		t.Errorf("audit --json does not list the refused delete by %s:\n%+v", actor, a.Records)
	}
	var own auditJSON
	admin.okJSON(&own, "audit", "--tenant", "mairie-a", "--limit", "3")
	if len(own.Records) == 0 || len(own.Records) > 3 {
		t.Errorf("audit --tenant mairie-a --limit 3: %d records", len(own.Records))
	}
	for _, r := range own.Records {
		if r.Tenant != "mairie-a" {
			t.Errorf("audit --tenant mairie-a lists a record of %q", r.Tenant)
		}
	}

	r := admin.ok("audit")
	mustContain(t, "audit", r.stdout, "chain intact", actor, "repo.delete.refused", "from 127.0.0.1:")
	r = admin.ok("audit", "--csv", "--limit", "0")
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil || len(rows) < 2 || strings.Join(rows[0], ",") != "id,time,actor,action,tenant,from,detail,hash" {
		t.Errorf("audit --csv: %v\n%s", err, r)
	} else if int64(len(rows)-1) < a.Chain.Records {
		t.Errorf("audit --csv --limit 0: %d rows, want every one of the %d records", len(rows)-1, a.Chain.Records)
	}
	mustContain(t, "audit --csv stderr", r.stderr, "chain intact")

	r = agent.run("audit")
	if r.code == 0 {
		t.Errorf("an agent machine could read the audit trail\n%s", r)
	}
}

package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/continuity"
)

func TestPlanCheck(t *testing.T) {
	f := newAcctFixture(t)
	const pa = "/v1/tenants/town-a/plan"
	check := func(who, yaml string, code int) planCheckJSON {
		t.Helper()
		var out planCheckJSON
		raw := f.planCall(t, who, http.MethodPost, pa+"/check", map[string]any{"yaml": yaml}, code)
		if code == http.StatusOK {
			planMust(t, json.Unmarshal(raw, &out))
		}
		return out
	}

	// No plan yet: a valid draft has its order, everything is added.
	c := check("admin-a", planA, http.StatusOK)
	if !c.Valid || len(c.Errors) != 0 || c.CurrentVersion != 0 || c.Analysis == nil || len(c.Waves) != 2 ||
		c.Waves[0].Services[0].ID != "annuaire" || len(c.Changes.Added) != 2 || len(c.Plan.Services) != 2 {
		t.Fatalf("valid draft: %+v", c)
	}
	// Nothing was saved.
	f.planCall(t, "admin-a", http.MethodGet, pa, nil, http.StatusNotFound)

	// Errors carry their line: a misspelt field, a missing RTO, bad YAML.
	c = check("admin-a", planA+"    colour: red\n", http.StatusOK)
	if c.Valid || c.Analysis != nil || len(c.Errors) != 1 || c.Errors[0].Line != 18 || !strings.Contains(c.Errors[0].Message, `unknown field "colour"`) {
		t.Errorf("unknown field: %+v", c)
	}
	c = check("admin-a", strings.Replace(planA, "    rto: 1d\n", "", 1), http.StatusOK)
	if c.Valid || len(c.Errors) != 1 || c.Errors[0].Line != 11 || !strings.Contains(c.Errors[0].Message, "rto") {
		t.Errorf("missing rto: %+v", c)
	}
	c = check("admin-a", "format: 1\nservices:\n  - id: [x\n", http.StatusOK)
	if c.Valid || len(c.Errors) != 1 || c.Errors[0].Line == 0 {
		t.Errorf("bad YAML: %+v", c)
	}
	c = check("admin-a", "", http.StatusOK)
	if c.Valid || len(c.Errors) != 1 || c.Errors[0].Line != 0 {
		t.Errorf("empty: %+v", c)
	}

	// Against the saved version: what would change, and the problems.
	f.planCall(t, "admin-a", http.MethodPut, pa, map[string]any{"base_version": 0, "yaml": planA}, http.StatusCreated)
	draft := planA + `  - id: paie
    name: Payroll
    criticality: essential
    rto: 3d
    rpo: 1d
    depends_on: [annuaire, missing]
`
	c = check("admin-a", draft, http.StatusOK)
	var kinds []string
	for _, p := range c.Problems {
		kinds = append(kinds, p.Kind+":"+p.Service)
	}
	if !c.Valid || c.CurrentVersion != 1 || strings.Join(c.Changes.Added, ",") != "paie" || len(c.Changes.Changed) != 0 ||
		!strings.Contains(strings.Join(kinds, " "), "unknown_dependency:paie") {
		t.Errorf("draft with a new service: %+v, problems %v", c, kinds)
	}

	// Who may check: whoever may read the plan; nobody else, and no
	// tenant is revealed.
	for _, who := range []string{"operator", "auditor", "auditor-a"} {
		check(who, planA, http.StatusOK)
	}
	for _, who := range []string{"admin-b", "agent-a"} {
		f.planCall(t, who, http.MethodPost, pa+"/check", map[string]any{"yaml": planA}, http.StatusForbidden)
	}
	f.planCall(t, "admin-a", http.MethodPost, "/v1/tenants/nowhere/plan/check", map[string]any{"yaml": planA}, http.StatusForbidden)
	f.planCall(t, "admin-a", http.MethodPost, pa+"/check", map[string]any{"yaml": planA, "base_version": 1}, http.StatusBadRequest)
	// Still version 1.
	var v planVersionJSON
	planMust(t, json.Unmarshal(f.planCall(t, "admin-a", http.MethodGet, pa, nil, http.StatusOK), &v))
	if v.Version != 1 {
		t.Errorf("a check saved a version: %+v", v)
	}

	// The example is the one `rempart plan example` prints, and it is valid.
	var ex struct {
		YAML string `json:"yaml"`
	}
	planMust(t, json.Unmarshal(f.planCall(t, "auditor-a", http.MethodGet, "/v1/plan/example", nil, http.StatusOK), &ex))
	if ex.YAML != string(continuity.Example) {
		t.Errorf("example: %.80q", ex.YAML)
	}
	if c := check("admin-a", ex.YAML, http.StatusOK); !c.Valid {
		t.Errorf("the example does not check: %+v", c.Errors)
	}
}

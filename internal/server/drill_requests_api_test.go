package server

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Paris on any machine

	"github.com/rempart/rempart/internal/drill"
)

// requestsOf is GET drill-requests as who.
func requestsOf(t *testing.T, f *alertFixture, who, tenant string) (reqs []map[string]any, runners []map[string]any, sched map[string]any) {
	t.Helper()
	raw := f.planCall(t, who, http.MethodGet, "/v1/tenants/"+tenant+"/drill-requests", nil, http.StatusOK)
	var out struct {
		Requests []map[string]any `json:"requests"`
		Runners  []map[string]any `json:"runners"`
		Schedule map[string]any   `json:"schedule"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("drill-requests: %v: %s", err, raw)
	}
	return out.Requests, out.Runners, out.Schedule
}

func requestsFrom(t *testing.T, raw []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return out
}

// TestDrillRequestsAPI: the tenant's admin and operators request drills
// of the plan's services (every one in recovery order), auditors and
// other towns cannot; the town's machine claims them (its enrolled host
// name recorded), reports progress, and answers with the drill's record,
// which marks the request done; a request the machine cannot run fails
// with a drill alert; a cancelled request tells the machine to stop; a
// silent machine's request fails when its lease runs out. Every step is
// audited.
func TestDrillRequestsAPI(t *testing.T) {
	f := newAlertFixture(t)
	const pr = "/v1/tenants/town-a/drill-requests"

	// No plan yet: nothing to drill.
	f.planCall(t, "admin-a", http.MethodPost, pr, map[string]any{"all": true}, http.StatusConflict)
	f.planCall(t, "admin-a", http.MethodPut, "/v1/tenants/town-a/plan", map[string]any{"base_version": 0, "yaml": planA}, http.StatusCreated)

	// Who may request.
	for _, who := range []string{"auditor", "auditor-a", "admin-b", "agent-a"} {
		f.planCall(t, who, http.MethodPost, pr, map[string]any{"all": true}, http.StatusForbidden)
	}
	f.planCall(t, "admin-a", http.MethodPost, pr, map[string]any{}, http.StatusBadRequest)
	if raw := f.planCall(t, "admin-a", http.MethodPost, pr, map[string]any{"services": []string{"paie"}}, http.StatusBadRequest); !strings.Contains(string(raw), "annuaire, etat-civil") {
		t.Errorf("unknown service: %s", raw)
	}
	all := requestsFrom(t, f.planCall(t, "admin-a", http.MethodPost, pr, map[string]any{"all": true}, http.StatusCreated))
	if len(all) != 2 || all[0]["service"] != "annuaire" || all[1]["service"] != "etat-civil" || all[0]["state"] != "queued" ||
		all[0]["requested_by"] != "account:admin-a" || all[0]["created"] != true {
		t.Fatalf("request all (recovery order: annuaire first): %v", all)
	}
	if d := f.wantAudit(t, "admin-a", "drill.request", "town-a"); len(d["request_ids"].([]any)) != 2 {
		t.Errorf("audit of the request: %v", d)
	}
	again := requestsFrom(t, f.planCall(t, "operator", http.MethodPost, pr, map[string]any{"services": []string{"etat-civil"}}, http.StatusCreated))
	if again[0]["id"] != all[1]["id"] || again[0]["created"] != false {
		t.Errorf("a second request of an open one: %v", again)
	}
	reqs, runners, sched := requestsOf(t, f, "auditor-a", "town-a")
	if len(reqs) != 2 || len(runners) != 0 || sched["every_days"] != 0.0 || sched["time_zone"] == "" {
		t.Errorf("list: %v %v %v", reqs, runners, sched)
	}
	for _, who := range []string{"admin-b", "agent-a"} {
		f.planCall(t, who, http.MethodGet, pr, nil, http.StatusForbidden)
	}

	// The machine claims the oldest: its enrolled host name, not what it says.
	f.planCall(t, "admin-b", http.MethodPost, pr+"/claim", map[string]string{"host": "x"}, http.StatusForbidden)
	f.planCall(t, "agent-a", http.MethodPost, "/v1/tenants/town-b/drill-requests/claim", map[string]string{"host": "x"}, http.StatusForbidden)
	var c1 map[string]any
	_ = json.Unmarshal(f.planCall(t, "agent-a", http.MethodPost, pr+"/claim", map[string]string{"host": "liar"}, http.StatusOK), &c1)
	if c1["id"] != all[0]["id"] || c1["state"] != "running" || c1["host"] != "pc-1" || !strings.HasPrefix(c1["claimed_by"].(string), "agent:") {
		t.Fatalf("claim: %v", c1)
	}
	agent := c1["claimed_by"].(string)
	id1 := strconv.Itoa(int(c1["id"].(float64)))
	if d := auditBy(t, f, agent, "drill.request.claim", "town-a"); d["service"] != "annuaire" {
		t.Errorf("audit of the claim: %v", d)
	}
	_, runners, _ = requestsOf(t, f, "admin-a", "town-a")
	if len(runners) != 1 || runners[0]["host"] != "pc-1" || runners[0]["stale"] != false {
		t.Errorf("runners: %v", runners)
	}

	// Progress: only from its claimer.
	f.planCall(t, "admin-a", http.MethodPost, pr+"/"+id1+"/progress", map[string]any{"phase": "x"}, http.StatusConflict)
	p := f.want(t, http.StatusOK, "agent-a", http.MethodPost, pr+"/"+id1+"/progress", map[string]any{"phase": "restoring", "done": 5, "total": 10})
	if pg, _ := p["progress"].(map[string]any); pg["phase"] != "restoring" || pg["done"] != 5.0 || pg["total"] != 10.0 {
		t.Errorf("progress: %v", p)
	}
	f.planCall(t, "agent-a", http.MethodPost, pr+"/abc/progress", map[string]any{"phase": "x"}, http.StatusBadRequest)
	f.planCall(t, "agent-a", http.MethodPost, pr+"/999/progress", map[string]any{"phase": "x"}, http.StatusNotFound)

	// The drill answers it: done, with the drill and its result.
	f.planCall(t, "admin-a", http.MethodPost, "/v1/tenants/town-a/drills?request="+id1, testDrill("annuaire", drill.Passed), http.StatusConflict)
	f.planCall(t, "agent-a", http.MethodPost, "/v1/tenants/town-a/drills?request=x", testDrill("annuaire", drill.Passed), http.StatusBadRequest)
	rec := f.want(t, http.StatusCreated, "agent-a", http.MethodPost, "/v1/tenants/town-a/drills?request="+id1, testDrill("annuaire", drill.Passed))
	reqs, _, _ = requestsOf(t, f, "admin-a", "town-a")
	var done map[string]any
	for _, q := range reqs {
		if q["id"] == c1["id"] {
			done = q
		}
	}
	if done["state"] != "done" || done["drill_id"] != rec["id"] || done["result"] != "passed" || done["finished"] == nil {
		t.Errorf("answered request: %v", done)
	}
	if reqs[0]["state"] != "queued" {
		t.Errorf("open requests come first: %v", reqs)
	}
	f.planCall(t, "agent-a", http.MethodPost, pr+"/"+id1+"/progress", map[string]any{"phase": "x"}, http.StatusConflict)

	// A request the machine cannot run fails with an alert.
	var c2 map[string]any
	_ = json.Unmarshal(f.planCall(t, "agent-a", http.MethodPost, pr+"/claim", map[string]string{}, http.StatusOK), &c2)
	id2 := strconv.Itoa(int(c2["id"].(float64)))
	f.planCall(t, "agent-a", http.MethodPost, pr+"/"+id2+"/fail", map[string]string{"error": ""}, http.StatusBadRequest)
	failed := f.want(t, http.StatusOK, "agent-a", http.MethodPost, pr+"/"+id2+"/fail", map[string]string{"error": "cannot open the repository: wrong passphrase"})
	if failed["state"] != "failed" || failed["alert_id"] == 0.0 {
		t.Fatalf("failed request: %v", failed)
	}
	a := f.want(t, http.StatusOK, "admin-a", http.MethodGet, "/v1/alerts/"+strconv.Itoa(int(failed["alert_id"].(float64))), nil)
	if a["kind"] != "drill" || a["service"] != "etat-civil" || a["request_id"] != c2["id"] || !strings.Contains(a["detail"].(string), "wrong passphrase") {
		t.Errorf("alert of the failed request: %v", a)
	}
	if d := auditBy(t, f, agent, "drill.request.fail", "town-a"); d["error"] != "cannot open the repository: wrong passphrase" {
		t.Errorf("audit of the failure: %v", d)
	}
	if code, _ := f.call(t, f.tokens["agent-a"], http.MethodPost, pr+"/claim", map[string]string{}); code != http.StatusNoContent {
		t.Errorf("claim with nothing queued: %d", code)
	}

	// Cancel: the machine is told to stop at its next report.
	q := requestsFrom(t, f.planCall(t, "admin-a", http.MethodPost, pr, map[string]any{"services": []string{"annuaire"}}, http.StatusCreated))
	idq := strconv.Itoa(int(q[0]["id"].(float64)))
	f.planCall(t, "agent-a", http.MethodPost, pr+"/claim", map[string]string{}, http.StatusOK)
	f.planCall(t, "auditor-a", http.MethodPost, pr+"/"+idq+"/cancel", nil, http.StatusForbidden)
	if c := f.want(t, http.StatusOK, "admin-a", http.MethodPost, pr+"/"+idq+"/cancel", nil); c["state"] != "cancelled" || c["cancelled_by"] != "account:admin-a" {
		t.Errorf("cancel: %v", c)
	}
	f.wantAudit(t, "admin-a", "drill.request.cancel", "town-a")
	stop := f.want(t, http.StatusConflict, "agent-a", http.MethodPost, pr+"/"+idq+"/progress", map[string]any{"phase": "restoring"})
	if stop["state"] != "cancelled" || !strings.Contains(stop["error"].(string), "cancelled by account:admin-a") {
		t.Errorf("progress of a cancelled request: %v", stop)
	}
	f.planCall(t, "admin-a", http.MethodPost, pr+"/"+idq+"/cancel", nil, http.StatusConflict)

	// A silent machine: its request fails when the lease runs out.
	q = requestsFrom(t, f.planCall(t, "admin-a", http.MethodPost, pr, map[string]any{"services": []string{"annuaire"}}, http.StatusCreated))
	f.planCall(t, "agent-a", http.MethodPost, pr+"/claim", map[string]string{}, http.StatusOK)
	f.clock.Add(drillLease + time.Second)
	f.s.runDrillSchedules(t.Context(), f.clock.Now())
	reqs, _, _ = requestsOf(t, f, "admin-a", "town-a")
	if reqs[0]["id"] != q[0]["id"] || reqs[0]["state"] != "failed" || !strings.Contains(reqs[0]["error"].(string), "no news from pc-1") {
		t.Errorf("silent machine: %v", reqs[0])
	}
	if d := auditBy(t, f, "server", "drill.request.fail", "town-a"); d == nil {
		t.Error("expiry not audited")
	}
	f.clock.Add(runnerStale)
	_, runners, _ = requestsOf(t, f, "admin-a", "town-a")
	if runners[0]["stale"] != true {
		t.Errorf("runner not heard from for 15 min: %v", runners)
	}
}

// TestDrillScheduleAPI: the tenant's admin sets the schedule (others
// read it); when it is due the server queues a request per service of
// the plan, once, audited, and moves it on by its period.
func TestDrillScheduleAPI(t *testing.T) {
	f := newAlertFixture(t)
	loc := time.FixedZone("CET", 3600)
	f.s.loc = loc
	const ps = "/v1/tenants/town-a/drill-schedule"
	f.planCall(t, "admin-a", http.MethodPut, "/v1/tenants/town-a/plan", map[string]any{"base_version": 0, "yaml": planA}, http.StatusCreated)

	for _, bad := range []map[string]any{{"at": "02:30"}, {"every_days": 400, "at": "02:30"}, {"every_days": 30, "at": "2h30"}, {"every_days": 30}} {
		f.planCall(t, "admin-a", http.MethodPut, ps, bad, http.StatusBadRequest)
	}
	for _, who := range []string{"auditor-a", "admin-b"} {
		f.planCall(t, who, http.MethodPut, ps, map[string]any{"every_days": 30, "at": "02:30"}, http.StatusForbidden)
	}
	sc := f.want(t, http.StatusOK, "admin-a", http.MethodPut, ps, map[string]any{"every_days": 30, "at": "02:30"})
	next, err := time.Parse(time.RFC3339, sc["next"].(string))
	if err != nil || sc["every_days"] != 30.0 || sc["time_zone"] != "CET" || sc["updated_by"] != "account:admin-a" {
		t.Fatalf("schedule: %v", sc)
	}
	if n := next.In(loc); n.Hour() != 2 || n.Minute() != 30 || !next.After(f.clock.Now()) || next.Sub(f.clock.Now()) > 24*time.Hour {
		t.Errorf("next run %v (now %v)", n, f.clock.Now())
	}
	f.wantAudit(t, "admin-a", "drill.schedule.set", "town-a")
	if got := f.want(t, http.StatusOK, "auditor-a", http.MethodGet, ps, nil); got["next"] != sc["next"] {
		t.Errorf("read by the auditor: %v", got)
	}

	// Not due yet: nothing queued.
	f.s.runDrillSchedules(t.Context(), f.clock.Now())
	if reqs, _, _ := requestsOf(t, f, "admin-a", "town-a"); len(reqs) != 0 {
		t.Fatalf("queued before due: %v", reqs)
	}
	// Due: one request per service, by the schedule; once.
	f.clock.Add(next.Sub(f.clock.Now()) + time.Second)
	f.s.runDrillSchedules(t.Context(), f.clock.Now())
	f.s.runDrillSchedules(t.Context(), f.clock.Now())
	reqs, _, sched := requestsOf(t, f, "admin-a", "town-a")
	if len(reqs) != 2 || reqs[0]["requested_by"] != "schedule" {
		t.Fatalf("scheduled requests: %v", reqs)
	}
	if d := auditBy(t, f, "schedule", "drill.schedule.run", "town-a"); len(d["request_ids"].([]any)) != 2 {
		t.Errorf("audit of the run: %v", d)
	}
	n2, _ := time.Parse(time.RFC3339, sched["next"].(string))
	if n2.Sub(next) != 30*24*time.Hour || sched["last_run"] == nil {
		t.Errorf("moved on to %v from %v: %v", n2, next, sched)
	}

	// Off.
	off := f.want(t, http.StatusOK, "admin-a", http.MethodPut, ps, map[string]any{"every_days": 0})
	if off["every_days"] != 0.0 || off["next"] != nil {
		t.Errorf("off: %v", off)
	}
}

// TestNextDrillRun: the next HH:MM strictly after a time, in the zone,
// across days and a DST change; after an outage, no burst of runs.
func TestNextDrillRun(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, paris)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct{ from, hhmm, want string }{
		{"2026-12-05 01:00", "02:30", "2026-12-05 02:30"},
		{"2026-12-05 02:30", "02:30", "2026-12-06 02:30"},
		{"2026-12-05 23:59", "00:00", "2026-12-06 00:00"},
		{"2027-03-27 12:00", "03:30", "2027-03-28 03:30"}, // spring forward at 02:00
	} {
		if got := nextDrillRun(at(tc.from), tc.hhmm, paris); !got.Equal(at(tc.want)) {
			t.Errorf("next %s after %s = %v, want %s", tc.hhmm, tc.from, got.In(paris), tc.want)
		}
	}
	// 30 days after 2027-03-01 02:30 is 2027-03-31 02:30 local (a DST change between: not 30×24 h).
	if got := followingDrillRun(at("2027-03-01 02:30"), at("2027-03-01 02:31"), 30, "02:30", paris); !got.Equal(at("2027-03-31 02:30")) {
		t.Errorf("following = %v", got.In(paris))
	}
	// Server down for two months: the next one is the next 02:30 after now.
	if got := followingDrillRun(at("2027-01-01 02:30"), at("2027-03-10 10:00"), 30, "02:30", paris); !got.Equal(at("2027-03-11 02:30")) {
		t.Errorf("after an outage = %v", got.In(paris))
	}
}

// TestZoneName: what people read next to a schedule's time.
func TestZoneName(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{paris, "Europe/Paris"},
		{time.FixedZone("UTC", 0), "UTC"},
		{time.FixedZone("CET", 3600), "CET"},
	} {
		if got := zoneName(tc.loc); got != tc.want {
			t.Errorf("zoneName(%v) = %q, want %q", tc.loc, got, tc.want)
		}
	}
}

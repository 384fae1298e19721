package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// drillRequestJSON is a drill request as `rempart drill request --json`
// and `drill requests --json` print it (the parts checked here).
type drillRequestJSON struct {
	ID          int64  `json:"id"`
	Tenant      string `json:"tenant"`
	Service     string `json:"service"`
	State       string `json:"state"`
	RequestedBy string `json:"requested_by"`
	ClaimedBy   string `json:"claimed_by"`
	Host        string `json:"host"`
	Progress    *struct {
		Phase string `json:"phase"`
	} `json:"progress"`
	DrillID     int64  `json:"drill_id"`
	Result      string `json:"result"`
	Error       string `json:"error"`
	CancelledBy string `json:"cancelled_by"`
}

type drillRequestsJSON struct {
	Requests []drillRequestJSON `json:"requests"`
	Runners  []struct {
		Actor string `json:"actor"`
		Host  string `json:"host"`
	} `json:"runners"`
	Schedule drillScheduleJSON `json:"schedule"`
}

type drillScheduleJSON struct {
	EveryDays int     `json:"every_days"`
	At        string  `json:"at"`
	Next      *string `json:"next"`
	UpdatedBy string  `json:"updated_by"`
}

// drillTown is a server with a town (mairie-a), its admin, and its file
// server fs01 enrolled, backed up, with a plan of three services:
// fichiers (the shares, a health check that reads them), archives (a
// folder never backed up) and lent (the shares, a health check that takes
// a minute: a drill that is still running when the test acts).
type drillTown struct {
	op, dsi, agent *env
	srv            *testServer
	shares         string
}

func newDrillTown(t *testing.T) *drillTown {
	t.Helper()
	op := adminShell(t)
	srv := startServer(t, op, filepath.Join(t.TempDir(), "data"))
	op.login(srv, "admin", adminPassword)
	op.ok("tenant", "create", "mairie-a")
	dsi := tenantAdmin(t, op, srv, "mairie-a", "dsi@mairie-a.fr")
	agent := joinAgent(t, dsi, srv, "mairie-a", "fs01")
	shares := filepath.Join(agent.home, "partages")
	must(t, os.MkdirAll(filepath.Join(shares, "conseil"), 0o755))
	must(t, os.WriteFile(filepath.Join(shares, "conseil", "deliberation.txt"), []byte("Délibération du conseil municipal\n"), 0o644))
	agent.backup(shares)
	plan := filepath.Join(t.TempDir(), "plan.yaml")
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
    health_check: grep -c "conseil municipal" "$REMPART_DRILL_SOURCE/conseil/deliberation.txt"
  - id: archives
    name: Archives
    criticality: deferrable
    rto: 7d
    rpo: 7d
    sources:
      - {host: fs01, path: /srv/archives-never-backed-up}
  - id: lent
    name: Slow check
    criticality: deferrable
    rto: 7d
    rpo: 7d
    sources:
      - {host: fs01, path: `+shares+`}
    health_check: sleep 60
`), 0o644))
	dsi.ok("plan", "apply", "-f", plan)
	return &drillTown{op: op, dsi: dsi, agent: agent, srv: srv, shares: shares}
}

// request has the town's admin request drills and returns the requests.
func (d *drillTown) request(t *testing.T, services ...string) []drillRequestJSON {
	t.Helper()
	var reqs []drillRequestJSON
	d.dsi.okJSON(&reqs, append([]string{"drill", "request"}, services...)...)
	if len(reqs) != len(services) {
		t.Fatalf("drill request %v: %+v", services, reqs)
	}
	for i, r := range reqs {
		if r.ID == 0 || r.Service != services[i] || r.Tenant != "mairie-a" {
			t.Fatalf("drill request %v: %+v", services, reqs)
		}
	}
	return reqs
}

// requests lists the town's requests, runners and schedule.
func (d *drillTown) requests(t *testing.T) drillRequestsJSON {
	t.Helper()
	var out drillRequestsJSON
	d.dsi.okJSON(&out, "drill", "requests")
	return out
}

// find returns request id as the server shows it now.
func (d *drillTown) find(t *testing.T, id int64) drillRequestJSON {
	t.Helper()
	for _, r := range d.requests(t).Requests {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("request %d is not in `drill requests`", id)
	return drillRequestJSON{}
}

// waitRequest polls (for at most a minute) until request id satisfies
// cond, and returns it.
func (d *drillTown) waitRequest(t *testing.T, id int64, what string, cond func(drillRequestJSON) bool) drillRequestJSON {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r := d.find(t, id)
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("request %d: timed out waiting until %s; now %+v", id, what, r)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestDrillRequested: the town's admin requests drills; the file server
// runs them with `rempart drill run --requested` and records them; the
// requests then point at the drills. A service whose source was never
// backed up gives a failed drill with its alert; a wrong passphrase fails
// the request with the reason and a non-zero exit; a cancelled request is
// not run; the schedule is set, shown and turned off.
func TestDrillRequested(t *testing.T) {
	d := newDrillTown(t)
	dsi, agent := d.dsi, d.agent
	scratch := t.TempDir()

	// A request, while no machine has ever asked: the admin is told what
	// to set up.
	r := dsi.ok("drill", "request", "fichiers")
	mustContain(t, "drill request", r.stdout, "fichiers", "queued", "No machine of mairie-a picks up requested drills yet",
		"rempart drill run --requested --watch --repo "+d.srv.url+"/mairie-a")
	first := d.requests(t).Requests
	if len(first) != 1 || first[0].State != "queued" || first[0].Service != "fichiers" || !strings.Contains(first[0].RequestedBy, "dsi@mairie-a.fr") {
		t.Fatalf("drill requests after one request: %+v", first)
	}
	// Asking again while it is open gives the same request.
	if again := d.request(t, "fichiers"); again[0].ID != first[0].ID {
		t.Errorf("a second request of fichiers while one is queued made request %d, not %d", again[0].ID, first[0].ID)
	}
	r = dsi.ok("drill", "request", "fichiers")
	mustContain(t, "drill request of a service with an open request", r.stdout, "fichiers already had an open request (queued)")
	r = dsi.ok("drill", "requests")
	mustContain(t, "drill requests", r.stdout, "fichiers", "queued", "dsi@mairie-a.fr", "No drill schedule for mairie-a")

	// The machine picks it up, runs it as `drill run fichiers` would, and
	// records it against the request.
	r = agent.ok("drill", "run", "--requested", "--scratch", scratch)
	mustContain(t, "drill run --requested", r.stdout, "request "+strconv.FormatInt(first[0].ID, 10)+": drill of fichiers",
		"Drill of fichiers (File server), RTO 2d:", "health check ok (exit 0)", "RTO 2d → PASSED", "Recorded as drill 1 of mairie-a.")
	t.Logf("drill run --requested:\n%s%s", r.stdout, r.stderr)
	if entries, _ := os.ReadDir(scratch); len(entries) != 0 {
		t.Errorf("the scratch folder was not cleaned: %v", entries)
	}
	state := d.requests(t)
	done := state.Requests[0]
	if done.ID != first[0].ID || done.State != "done" || done.DrillID != 1 || done.Result != "passed" || done.Host != "fs01" ||
		!strings.HasPrefix(done.ClaimedBy, "agent:") {
		t.Fatalf("the request after its drill: %+v", done)
	}
	if len(state.Runners) != 1 || state.Runners[0].Host != "fs01" || !strings.HasPrefix(state.Runners[0].Actor, "agent:") {
		t.Errorf("runners: %+v", state.Runners)
	}
	var drills []drillJSON
	dsi.okJSON(&drills, "drill", "list")
	if len(drills) != 1 || drills[0].ID != 1 || drills[0].Result != "passed" || drills[0].Service != "fichiers" {
		t.Errorf("drill list: %+v", drills)
	}
	r = dsi.ok("drill", "requests")
	mustContain(t, "drill requests after the drill", r.stdout, "done", "drill 1 passed", "fs01", "Machines that pick up the requested drills of mairie-a")
	// Nothing left.
	r = agent.ok("drill", "run", "--requested")
	mustContain(t, "drill run --requested once done", r.stdout, "No drill requested for mairie-a.")
	r = agent.ok("-q", "drill", "run", "--requested")
	if r.stdout != "" {
		t.Errorf("-q with nothing requested printed %q", r.stdout)
	}
	var none []drillJSON
	agent.okJSON(&none, "drill", "run", "--requested")
	if none == nil || len(none) != 0 {
		t.Errorf("drill run --requested --json with nothing requested: %+v", none)
	}

	// A service whose source was never backed up: the drill runs, fails,
	// is recorded with its alert; the command exits 1. --json gives the
	// records.
	arch := d.request(t, "archives")[0]
	r = agent.expect(1, "--json", "drill", "run", "--requested", "--scratch", scratch)
	var recs []drillJSON
	firstJSON(t, r, &recs)
	if len(recs) != 1 || recs[0].Service != "archives" || recs[0].Result != "failed" || recs[0].AlertID == 0 || recs[0].ID != 2 {
		t.Fatalf("drill run --requested --json of a service never backed up: %+v\n%s", recs, r)
	}
	if got := d.find(t, arch.ID); got.State != "done" || got.Result != "failed" || got.DrillID != 2 {
		t.Errorf("request of archives: %+v", got)
	}
	r = dsi.ok("alert", "list")
	mustContain(t, "alert list after a failed requested drill", r.stdout, "drill:2")

	// A wrong passphrase: the request fails with the reason, the command
	// exits with the wrong-passphrase status.
	wrong := d.request(t, "fichiers")[0]
	r = agent.with("REMPART_PASSWORD", "not the passphrase").run("drill", "run", "--requested", "--scratch", scratch)
	if r.code != 12 {
		t.Errorf("drill run --requested with a wrong passphrase: expected exit 12\n%s", r)
	}
	mustContain(t, "drill run --requested with a wrong passphrase", r.stderr, "wrong passphrase")
	got := d.find(t, wrong.ID)
	if got.State != "failed" || !strings.Contains(got.Error, "wrong passphrase") || !strings.Contains(got.Error, "fs01") {
		t.Errorf("request run with a wrong passphrase: %+v", got)
	}
	r = dsi.ok("drill", "requests")
	mustContain(t, "drill requests after a failed request", r.stdout, "failed", "wrong passphrase")

	// A queued request cancelled is not run.
	c := d.request(t, "fichiers")[0]
	r = dsi.ok("drill", "cancel", strconv.FormatInt(c.ID, 10))
	mustContain(t, "drill cancel", r.stdout, "cancelled")
	if got := d.find(t, c.ID); got.State != "cancelled" || !strings.Contains(got.CancelledBy, "dsi@mairie-a.fr") {
		t.Errorf("cancelled request: %+v", got)
	}
	r = agent.ok("drill", "run", "--requested")
	mustContain(t, "drill run --requested after a cancel", r.stdout, "No drill requested for mairie-a.")
	r = dsi.expect(1, "drill", "cancel", strconv.FormatInt(c.ID, 10))
	mustContain(t, "second cancel", r.stderr, "drill requests")

	// Usage errors.
	dsi.expect(2, "drill", "request")
	dsi.expect(2, "drill", "request", "fichiers", "--all")
	agent.expect(2, "drill", "run", "--requested", "fichiers")
	agent.expect(2, "drill", "run", "--watch")
	agent.expect(2, "drill", "run", "--requested", "--interval", "10ms", "--watch")

	// The schedule: off, set, shown, off again.
	var sc drillScheduleJSON
	dsi.okJSON(&sc, "drill", "schedule")
	if sc.EveryDays != 0 {
		t.Errorf("schedule by default: %+v", sc)
	}
	r = dsi.ok("drill", "schedule")
	mustContain(t, "drill schedule (off)", r.stdout, "No drill schedule for mairie-a", "--every 30d --at 02:30")
	dsi.expect(2, "drill", "schedule", "--every", "400")
	dsi.expect(2, "drill", "schedule", "--every", "0d")
	dsi.expect(2, "drill", "schedule", "--every", "30d", "--at", "25:00")
	dsi.expect(2, "drill", "schedule", "--off", "--every", "30d")
	dsi.expect(2, "drill", "schedule", "--at", "03:00") // off: how often?
	r = dsi.ok("drill", "schedule", "--every", "30d", "--at", "02:30")
	mustContain(t, "drill schedule --every", r.stdout, "every 30 days at 02:30", "next:", "dsi@mairie-a.fr")
	dsi.okJSON(&sc, "drill", "schedule")
	if sc.EveryDays != 30 || sc.At != "02:30" || sc.Next == nil || *sc.Next == "" || !strings.Contains(sc.UpdatedBy, "dsi@mairie-a.fr") {
		t.Errorf("schedule after --every 30d --at 02:30: %+v", sc)
	}
	// --every alone keeps the time; plain days are days.
	dsi.ok("drill", "schedule", "--every", "7")
	sc = drillScheduleJSON{}
	dsi.okJSON(&sc, "drill", "schedule")
	if sc.EveryDays != 7 || sc.At != "02:30" {
		t.Errorf("schedule after --every 7: %+v", sc)
	}
	if got := d.requests(t).Schedule; got.EveryDays != 7 {
		t.Errorf("drill requests --json: schedule %+v", got)
	}
	r = dsi.ok("drill", "requests")
	mustContain(t, "drill requests with a schedule", r.stdout, "every 7 days at 02:30")
	r = dsi.ok("drill", "schedule", "--off")
	mustContain(t, "drill schedule --off", r.stdout, "turned off")
	var offSc drillScheduleJSON
	dsi.okJSON(&offSc, "drill", "schedule")
	if offSc.EveryDays != 0 || offSc.Next != nil {
		t.Errorf("schedule after --off: %+v", offSc)
	}
	r = d.op.ok("audit", "--tenant", "mairie-a")
	mustContain(t, "audit", r.stdout, "drill.request", "drill.request.cancel", "drill.request.fail", "drill.schedule.set")
}

// background is a rempart process left running, its output kept.
type background struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (b *background) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.Write(p)
}

func (b *background) output() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String()
}

// startBackground starts rempart with e's environment; the test's end
// kills it if it still runs.
func (e *env) startBackground(args ...string) *background {
	e.t.Helper()
	b := &background{done: make(chan struct{})}
	b.cmd = exec.Command(bin, args...)
	b.cmd.Env = e.environ()
	b.cmd.Dir = e.home
	b.cmd.Stdout, b.cmd.Stderr = b, b
	if err := b.cmd.Start(); err != nil {
		e.t.Fatalf("cannot start rempart %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// waitOutput polls until the process printed want (at most a minute).
func (b *background) waitOutput(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(b.output(), want) {
		select {
		case <-b.done:
			t.Fatalf("the process ended without printing %q:\n%s", want, b.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %q in:\n%s", want, b.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns the exit code.
func (b *background) stop(t *testing.T) int {
	t.Helper()
	must(t, b.cmd.Process.Signal(syscall.SIGTERM))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case <-b.done:
	case <-ctx.Done():
		t.Fatalf("rempart did not stop within a minute of SIGTERM:\n%s", b.output())
	}
	var ee *exec.ExitError
	switch {
	case b.err == nil:
		return 0
	case errors.As(b.err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("rempart: %v", b.err)
	return -1
}

// TestDrillRequestedWatch: `rempart drill run --requested --watch` waits
// for requests: it picks up one made after it started, and `drill request
// --wait` follows another to its result; a running drill cancelled on the
// server stops and the runner goes on; SIGTERM during a drill fails its
// request with "stopped on fs01" and the runner exits cleanly.
func TestDrillRequestedWatch(t *testing.T) {
	d := newDrillTown(t)
	dsi := d.dsi
	scratch := t.TempDir()
	w := d.agent.startBackground("drill", "run", "--requested", "--watch", "--interval", "1s", "--scratch", scratch)
	w.waitOutput(t, "Waiting for drill requests of mairie-a")

	// A request made after it started.
	req := d.request(t, "fichiers")[0]
	got := d.waitRequest(t, req.ID, "done", func(r drillRequestJSON) bool { return r.State == "done" || r.State == "failed" })
	if got.State != "done" || got.Result != "passed" || got.DrillID == 0 || got.Host != "fs01" {
		t.Fatalf("request picked up by --watch: %+v\n%s", got, w.output())
	}
	w.waitOutput(t, "Recorded as drill 1 of mairie-a.")
	mustContain(t, "drill run --requested --watch", w.output(), "request "+strconv.FormatInt(req.ID, 10)+": drill of fichiers", "PASSED")

	// The admin waits for the result.
	r := dsi.ok("drill", "request", "fichiers", "--wait")
	mustContain(t, "drill request --wait", r.stdout, "Machines that pick up the requested drills of mairie-a", "fs01", "drill 2 passed")
	mustContain(t, "drill request --wait (progress)", r.stderr, "done: drill 2 PASSED")

	// A running drill cancelled on the server: the runner stops it at its
	// next progress report, records nothing, and goes on.
	slow := d.request(t, "lent")[0]
	d.waitRequest(t, slow.ID, "its health check runs", func(r drillRequestJSON) bool {
		return r.State == "running" && r.Progress != nil && r.Progress.Phase == "health check"
	})
	dsi.ok("drill", "cancel", strconv.FormatInt(slow.ID, 10))
	w.waitOutput(t, "The drill of lent was cancelled on the server (request "+strconv.FormatInt(slow.ID, 10)+"); going on.")
	if got := d.find(t, slow.ID); got.State != "cancelled" || got.DrillID != 0 {
		t.Errorf("cancelled running request: %+v", got)
	}
	next := d.request(t, "fichiers")[0]
	if got := d.waitRequest(t, next.ID, "done", func(r drillRequestJSON) bool { return finalRequest(r.State) }); got.Result != "passed" {
		t.Errorf("request after a cancelled one: %+v\n%s", got, w.output())
	}

	// SIGTERM during a drill.
	slow = d.request(t, "lent")[0]
	d.waitRequest(t, slow.ID, "its health check runs", func(r drillRequestJSON) bool {
		return r.State == "running" && r.Progress != nil && r.Progress.Phase == "health check"
	})
	if code := w.stop(t); code != 0 {
		t.Errorf("drill run --requested --watch stopped by SIGTERM: exit %d\n%s", code, w.output())
	}
	mustContain(t, "drill run --requested --watch stopped", w.output(), "Stopped during the drill of lent", "stopped on fs01")
	if got := d.find(t, slow.ID); got.State != "failed" || got.Error != "stopped on fs01" {
		t.Errorf("request whose runner was stopped: %+v", got)
	}
	if entries, _ := os.ReadDir(scratch); len(entries) != 0 {
		t.Errorf("the scratch folder was not cleaned: %v", entries)
	}
	var drills []drillJSON
	dsi.okJSON(&drills, "drill", "list")
	if len(drills) != 3 {
		t.Errorf("drills recorded: %d, want 3 (the cancelled and stopped ones are not)", len(drills))
	}
	t.Logf("drill run --requested --watch:\n%s", w.output())
}

func finalRequest(state string) bool {
	return state == "done" || state == "failed" || state == "cancelled"
}

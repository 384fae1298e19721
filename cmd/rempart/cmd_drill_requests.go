package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/rempart/rempart/internal/clientconf"
	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/drill"
	"github.com/rempart/rempart/internal/ui"
)

// Drills requested on the server (docs/drills.md, "Drills requested from
// the console, and the schedule"): a person or the tenant's schedule asks
// for a drill; a machine of the town that holds the passphrase claims the
// request (`rempart drill run --requested`), runs the drill, reports its
// progress and records it.

// drillRequestOut mirrors a drill request of the server
// (internal/server/drill_requests_api.go).
type drillRequestOut struct {
	ID          int64             `json:"id"`
	Tenant      string            `json:"tenant"`
	Service     string            `json:"service"`
	State       string            `json:"state"` // queued, running, done, failed, cancelled
	Requested   time.Time         `json:"requested"`
	RequestedBy string            `json:"requested_by"`
	Claimed     *time.Time        `json:"claimed"`
	ClaimedBy   string            `json:"claimed_by"`
	Host        string            `json:"host"`
	Progress    *drillProgressOut `json:"progress"`
	Finished    *time.Time        `json:"finished"`
	DrillID     int64             `json:"drill_id"`
	Result      string            `json:"result"` // the drill's: passed, failed, slow
	Error       string            `json:"error"`
	CancelledBy string            `json:"cancelled_by"`
	AlertID     int64             `json:"alert_id,omitempty"`
	// Created is false, in the answer to a request, for a service that
	// already had an open request (that one is given).
	Created *bool `json:"created,omitempty"`
}

// drillProgressOut is how far a running drill got, as its machine said.
type drillProgressOut struct {
	Phase   string    `json:"phase"`
	Done    uint64    `json:"done"`
	Total   uint64    `json:"total"`
	Updated time.Time `json:"updated"`
}

// drillRunnerOut is a machine that picks requests up.
type drillRunnerOut struct {
	Actor    string    `json:"actor"`
	Host     string    `json:"host"`
	LastSeen time.Time `json:"last_seen"`
	Stale    bool      `json:"stale"` // not heard from for 15 minutes
}

// drillScheduleOut is a tenant's drill schedule (every_days 0: off).
type drillScheduleOut struct {
	EveryDays int        `json:"every_days"`
	At        string     `json:"at"`
	TimeZone  string     `json:"time_zone"`
	Next      *time.Time `json:"next"`
	LastRun   *time.Time `json:"last_run"`
	UpdatedBy string     `json:"updated_by"`
	Updated   *time.Time `json:"updated"`
}

// drillRequestsOut mirrors GET /v1/tenants/{t}/drill-requests.
type drillRequestsOut struct {
	Requests []drillRequestOut `json:"requests"`
	Runners  []drillRunnerOut  `json:"runners"`
	Schedule drillScheduleOut  `json:"schedule"`
}

const (
	// progressEvery is how often a running drill reports to the server
	// (and at each change of phase); the server gives up on a request
	// with no news for 5 minutes.
	progressEvery = 10 * time.Second
	// runnerQuiet is how long without news from any machine before a
	// town is told that nothing picks its requests up (as the console).
	runnerQuiet = 15 * time.Minute
)

func finalState(s string) bool { return s == "done" || s == "failed" || s == "cancelled" }

func (d *drillServer) tenantPath(rest string) string {
	return "/v1/tenants/" + url.PathEscape(d.tenant) + rest
}

// callStatus calls the tenant's server (callStatus); a server that does
// not know the drill requests' paths is said to be too old.
func (d *drillServer) callStatus(ctx context.Context, method, path string, in, out any) (int, error) {
	status, err := callStatus(ctx, d.sv, d.token, method, path, in, out)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && strings.Contains(ae.Msg, "page not found") {
		ae.Msg += " (this server does not take drill requests yet: it runs an older Rempart than this program; upgrade it)"
	}
	return status, err
}

func isStatus(err error, status ...int) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	for _, s := range status {
		if ae.Status == s {
			return true
		}
	}
	return false
}

// drillAdminServer is the server, session and tenant of the commands a
// person runs (request, requests, cancel, schedule): the admin session of
// --repo's server and its tenant, or of the server signed in to, with
// --tenant or the account's tenant.
func drillAdminServer() (*drillServer, error) {
	if drillTenant == "" && serverFlag == "" && isRemote(g.repo) {
		u, err := url.Parse(g.repo)
		if err != nil {
			return nil, usagef("repository address %q: %v", g.repo, err)
		}
		st, err := clientconf.Load()
		if err != nil {
			return nil, err
		}
		sv := st.Server(g.repo)
		if sv == nil || !sv.Admin.Valid(time.Now()) {
			base := u.Scheme + "://" + u.Host
			return nil, fmt.Errorf("not signed in to %s (or the session expired): drill requests and the schedule are for the town's admin, operators and auditors, not for a machine's agent token: run `rempart login %s --user NAME`", base, base)
		}
		return &drillServer{sv: sv, token: sv.Admin.Token, tenant: strings.Trim(u.Path, "/")}, nil
	}
	return signedInDrillServer()
}

// ago says how long ago t was, in words.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

// ---------------------------------------------------------------------
// drill run --requested

// errStopped: a signal stopped `drill run --requested`.
var errStopped = errors.New("stopped")

// requestRunner runs the requested drills of one tenant from this
// machine; the repository is opened once, when the first request comes.
type requestRunner struct {
	x      *drillRun
	host   string // the name it claims with: as enrolled, else the system's
	watch  bool
	s      *session
	loads  int // index loads: after the first, packs a prune removed are marked gone
	taken  int // requests claimed
	bad    int // drills that did not pass, requests that could not run
	record []drillOut
}

func runRequested(ctx context.Context, x *drillRun, watch bool, interval time.Duration) error {
	if _, err := repoPath(); err != nil {
		return err
	}
	ds, err := resolveDrillServer()
	if err != nil {
		return err
	}
	if ds == nil {
		return usagef("--requested runs the drills requested on a server: give --repo https://HOST:PORT/TENANT (or --tenant NAME when signed in, with a copy of the repository as --repo)")
	}
	x.ds = ds
	rr := &requestRunner{x: x, host: ds.agentHost, watch: watch, record: []drillOut{}}
	if rr.host == "" {
		rr.host, _ = os.Hostname()
	}
	defer func() {
		if rr.s != nil {
			rr.s.Close()
		}
	}()
	if watch && !g.json {
		fmt.Printf("Waiting for drill requests of %s on %s as %s (asking every %s; Ctrl-C to stop).\n", ds.tenant, ds.sv.URL, rr.host, interval)
	}
	var lastErr string
loop:
	for ctx.Err() == nil {
		req, err := rr.claim(ctx)
		switch {
		case ctx.Err() != nil:
			break loop
		case err != nil && (!watch || isStatus(err, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound)):
			if rr.taken > 0 {
				_ = rr.finish()
			}
			return fmt.Errorf("cannot ask %s for requested drills of %s: %w", ds.sv.URL, ds.tenant, err)
		case err != nil:
			if err.Error() != lastErr {
				fmt.Fprintf(os.Stderr, "warning: cannot ask %s for requested drills: %v; trying again every %s\n", ds.sv.URL, err, interval)
				lastErr = err.Error()
			}
		case req != nil:
			lastErr = ""
			if err := rr.handle(ctx, *req); err != nil {
				if errors.Is(err, errStopped) {
					break loop
				}
				_ = rr.finish()
				return err
			}
			continue // the next one at once
		case !watch:
			if rr.taken == 0 {
				say("No drill requested for %s.", ds.tenant)
			}
			return rr.finish()
		default:
			lastErr = ""
		}
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
	// Stopped by a signal.
	if watch {
		if !g.json {
			fmt.Fprintf(os.Stderr, "Stopped: %s no longer picks up the drills requested for %s.\n", rr.host, ds.tenant)
		}
		return nil
	}
	_ = rr.finish()
	return withCode(exitError, errors.New("stopped before every requested drill was run; the others wait for the next run"))
}

// finish prints the records (--json without --watch) and says how it went.
func (rr *requestRunner) finish() error {
	if g.json && !rr.watch {
		if err := printJSON(rr.record); err != nil {
			return err
		}
	}
	if rr.bad > 0 {
		return withCode(exitError, fmt.Errorf("%d of %d requested drill(s) failed, were slower than the RTO or could not run", rr.bad, rr.taken))
	}
	return nil
}

// claim takes the oldest queued request of the tenant (nil: none).
func (rr *requestRunner) claim(ctx context.Context) (*drillRequestOut, error) {
	var req drillRequestOut
	status, err := rr.x.ds.callStatus(ctx, http.MethodPost, rr.x.ds.tenantPath("/drill-requests/claim"), map[string]string{"host": rr.host}, &req)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNoContent || req.ID == 0 {
		return nil, nil
	}
	return &req, nil
}

// fail tells the server that the request could not run, and why (and
// says it on stderr when announce).
func (rr *requestRunner) fail(req drillRequestOut, msg string, announce bool) {
	rr.bad++
	if announce {
		fmt.Fprintf(os.Stderr, "rempart: the requested drill of %s (request %d) could not run: %s\n", req.Service, req.ID, msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := rr.x.ds.callStatus(ctx, http.MethodPost, rr.x.ds.tenantPath("/drill-requests/"+strconv.FormatInt(req.ID, 10)+"/fail"), map[string]string{"error": msg}, nil)
	switch {
	case isStatus(err, http.StatusConflict):
		fmt.Fprintf(os.Stderr, "  (request %d was no longer running on the server: cancelled or expired)\n", req.ID)
	case err != nil:
		fmt.Fprintf(os.Stderr, "warning: the server could not be told (%v); the request fails by itself after 5 minutes without news\n", err)
	}
}

// handle runs one claimed request. It returns errStopped after a signal,
// or an error that ends the command (the repository cannot be opened);
// what only concerns this request is reported to the server.
func (rr *requestRunner) handle(ctx context.Context, req drillRequestOut) error {
	x := rr.x
	rr.taken++
	if !g.json && (rr.watch || !g.quiet) {
		fmt.Printf("%s  request %d: drill of %s, requested by %s on %s\n", time.Now().Format("2006-01-02 15:04:05"), req.ID, req.Service,
			req.RequestedBy, localTime(req.Requested))
	}
	// The drill's own context: a signal, or the server saying the request
	// is no longer running (cancelled, expired), ends it.
	dctx, cancelDrill := context.WithCancel(ctx)
	defer cancelDrill()
	prog := &drill.Progress{}
	var cancelled atomic.Bool
	rep := rr.startReports(dctx, req.ID, prog, func() { cancelled.Store(true); cancelDrill() })
	defer rep.stop()

	// outcome decides what an interruption or an error means.
	outcome := func(msg string) error {
		rep.stop()
		switch {
		case ctx.Err() != nil:
			rr.fail(req, "stopped on "+rr.host, false)
			if !g.json {
				fmt.Fprintf(os.Stderr, "Stopped during the drill of %s: its request %d failed (\"stopped on %s\").\n", req.Service, req.ID, rr.host)
			}
			return errStopped
		case cancelled.Load():
			rr.taken-- // not run: nothing failed
			if !g.json {
				fmt.Printf("The drill of %s was cancelled on the server (request %d); going on.\n", req.Service, req.ID)
			}
			return nil
		case msg != "":
			rr.fail(req, msg, true)
		}
		return nil
	}
	// The plan's current version, and the service in it.
	var plan drillServicesOut
	if err := x.ds.call(dctx, http.MethodGet, x.ds.tenantPath("/drill-services"), nil, &plan); err != nil {
		return outcome("cannot read the plan of " + x.ds.tenant + ": " + err.Error())
	}
	var sv continuity.Service
	found := false
	for _, s := range plan.Services {
		if s.ID == req.Service {
			sv, found = s, true
		}
	}
	if !found {
		var ids []string
		for _, s := range plan.Services {
			ids = append(ids, s.ID)
		}
		return outcome(fmt.Sprintf("service %q is no longer in the plan of %s (version %d: %s): nothing to drill", req.Service, x.ds.tenant, plan.Version, strings.Join(ids, ", ")))
	}
	if x.scratch != "" {
		if err := drill.CheckScratchParent(x.scratch, sv.Sources); err != nil {
			return outcome(fmt.Sprintf("the scratch folder on %s: %v", rr.host, err))
		}
	}

	// The repository, opened once for every request of this run.
	if rr.s == nil {
		s, err := openRepo(ctx, noLock, "drill", false)
		if err != nil {
			if ctx.Err() != nil {
				return outcome("")
			}
			_ = outcome("cannot open the repository on " + rr.host + ": " + err.Error())
			return err
		}
		rr.s, x.r = s, s.r
	}
	lock, err := x.r.Lock(dctx, false, "drill")
	if err != nil && cannotWrite(err) {
		fmt.Fprintf(os.Stderr, "warning: cannot write a lock in the repository (%v); going on without one\n", err)
		lock, err = nil, nil
	}
	if err != nil {
		return outcome("the repository: " + err.Error())
	}
	defer lock.Unlock()
	problems, err := x.r.LoadIndex(dctx)
	if err == nil {
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "warning: index file %s cannot be read (%v); run `rempart check`\n", short8(p.Name), p.Err)
		}
		if rr.loads > 0 {
			// Packs a prune removed since the last request.
			_, err = x.r.MarkAbsentPacks(dctx)
		}
		rr.loads++
	}
	if err == nil {
		err = x.loadSnapshots(dctx)
	}
	if err != nil {
		return outcome("reading the repository: " + err.Error())
	}

	rec, err := x.run(dctx, sv, plan.Version, prog)
	// No progress report once the record goes: the request is done then,
	// and a report would be refused as if it had been cancelled.
	rep.stop()
	if ctx.Err() != nil || cancelled.Load() {
		return outcome("")
	}
	if err != nil {
		return outcome(fmt.Sprintf("the drill could not start on %s: %v", rr.host, err))
	}
	out, recordErr := x.record(ctx, sv, rec, req.ID)
	if ctx.Err() != nil {
		return outcome("")
	}
	switch {
	case isStatus(recordErr, http.StatusConflict):
		fmt.Fprintf(os.Stderr, "Request %d is no longer running on the server (cancelled, or expired after 5 minutes without news): the drill of %s was not recorded.\n", req.ID, req.Service)
		if out.Result != drill.Passed {
			rr.bad++
		}
		return nil
	case recordErr != nil:
		rr.fail(req, fmt.Sprintf("the drill ran on %s (%s) but could not be recorded: %v", rr.host, out.Result, recordErr), true)
		return nil
	}
	if out.Result != drill.Passed {
		rr.bad++
	}
	rr.record = append(rr.record, out)
	if g.json && rr.watch {
		return json.NewEncoder(os.Stdout).Encode(out)
	}
	return nil
}

// progressReports posts a running drill's progress to the server.
type progressReports struct {
	once sync.Once
	quit chan struct{}
	done chan struct{}
}

func (p *progressReports) stop() {
	p.once.Do(func() { close(p.quit) })
	<-p.done
}

// startReports posts the progress of request id every progressEvery and
// at each change of phase, until stopped; a 409 answer (the request was
// cancelled or expired on the server) calls cancelled and stops.
func (rr *requestRunner) startReports(ctx context.Context, id int64, prog *drill.Progress, cancelled func()) *progressReports {
	p := &progressReports{quit: make(chan struct{}), done: make(chan struct{})}
	path := rr.x.ds.tenantPath("/drill-requests/" + strconv.FormatInt(id, 10) + "/progress")
	go func() {
		defer close(p.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last time.Time
		lastPhase := "\x00"
		warned := false
		for {
			phase := prog.Phase()
			if phase == "" {
				phase = "starting"
			}
			if phase != lastPhase || time.Since(last) >= progressEvery {
				done, total := prog.Restore.BytesDone.Load(), prog.Restore.BytesTotal.Load()
				switch {
				case strings.HasPrefix(phase, "verifying"):
					done = min(prog.VerifiedBytes.Load(), total)
				case phase == "health check" || phase == "done":
					done = total
				}
				lastPhase, last = phase, time.Now()
				_, err := rr.x.ds.callStatus(ctx, http.MethodPost, path, map[string]any{"phase": phase, "done": done, "total": total}, nil)
				switch {
				case isStatus(err, http.StatusConflict):
					cancelled()
					return
				case err != nil && ctx.Err() == nil && !warned:
					fmt.Fprintf(os.Stderr, "warning: cannot report the drill's progress to the server: %v (it fails the request after 5 minutes without news)\n", err)
					warned = true
				}
			}
			select {
			case <-p.quit:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// ---------------------------------------------------------------------
// drill request, requests, cancel, schedule

func newDrillRequest() *cobra.Command {
	var all, wait bool
	cmd := &cobra.Command{
		Use:   "request SERVICE... | --all [--wait]",
		Short: "Ask a machine of the town to run restore drills (as the console's \"Run a drill\")",
		Long: `Queue a restore drill of the named services (their IDs in the plan), or of
every service with --all. The server cannot run a drill itself (it cannot
read the backups): a machine of the town that holds the passphrase picks the
request up, runs the drill, reports its progress and records it; the
request then points at the drill and its evidence.

That machine runs ` + "`rempart drill run --requested --watch`" + ` as a service, or
` + "`rempart drill run --requested`" + ` from cron (docs/drills.md). The command says
when no machine of the town has asked for requests lately.

A service has at most one open request: asking again while one is queued or
running gives that one. --wait follows the requests until each is done,
failed or cancelled, and shows the results: exit status 1 when a drill
failed, was slower than the RTO, or could not run. Ctrl-C stops waiting, not
the drills.

The town's admin and operators may request drills; ` + "`rempart drill requests`" + `
lists them, ` + "`rempart drill cancel ID`" + ` cancels one.`,
		Example: `  rempart drill request paie --tenant mairie-a
  rempart drill request --all --wait
  rempart drill request etat-civil eau --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usagef("name the services to drill (their IDs in the plan: `rempart plan order`), or give --all")
			}
			ctx := cmd.Context()
			ds, err := drillAdminServer()
			if err != nil {
				return err
			}
			body := map[string]any{"services": args}
			if all {
				body = map[string]any{"all": true}
			}
			var reqs []drillRequestOut
			if _, err := ds.callStatus(ctx, http.MethodPost, ds.tenantPath("/drill-requests"), body, &reqs); err != nil {
				return err
			}
			var state drillRequestsOut
			if _, err := ds.callStatus(ctx, http.MethodGet, ds.tenantPath("/drill-requests?limit=1"), nil, &state); err != nil {
				return err
			}
			if !wait {
				if g.json {
					return printJSON(reqs)
				}
				printRequestTable(reqs)
				for _, r := range reqs {
					if r.Created != nil && !*r.Created {
						say("Request %d: %s already had an open request (%s), which goes on.", r.ID, r.Service, r.State)
					}
				}
				if !g.quiet {
					fmt.Println()
					printRunners(ds, state.Runners)
					fmt.Printf("Follow them with `rempart drill requests%s`, or wait for the results with --wait.\n", tenantFlag(ds))
				}
				return nil
			}
			if !g.json && !g.quiet {
				printRequestTable(reqs)
				fmt.Println()
				printRunners(ds, state.Runners)
			}
			final, err := waitRequests(ctx, ds, reqs)
			if err != nil {
				return err
			}
			if g.json {
				if err := printJSON(final); err != nil {
					return err
				}
			} else {
				fmt.Println()
				printRequestTable(final)
			}
			bad := 0
			for _, r := range final {
				if r.State != "done" || r.Result != drill.Passed {
					bad++
				}
			}
			if bad > 0 {
				return withCode(exitError, fmt.Errorf("%d of %d requested drill(s) did not pass (details: `rempart drill show ID`%s)", bad, len(final), tenantFlag(ds)))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "request a drill of every service of the plan")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every request is done, failed or cancelled, and show the results")
	return cmd
}

// tenantFlag is " --tenant T", to repeat in a hint.
func tenantFlag(ds *drillServer) string {
	if drillTenant != "" {
		return " --tenant " + ds.tenant
	}
	return ""
}

// waitRequests follows requests until each is in a final state, saying
// what changes on stderr.
func waitRequests(ctx context.Context, ds *drillServer, reqs []drillRequestOut) ([]drillRequestOut, error) {
	cur := map[int64]drillRequestOut{}
	for _, r := range reqs {
		cur[r.ID] = r
	}
	// What was shown already: the table shows the states at the start.
	seen := map[int64]string{}
	for _, r := range reqs {
		seen[r.ID] = r.State
	}
	limit := 200 + len(reqs)
	for {
		open := 0
		for _, r := range reqs {
			c := cur[r.ID]
			what := c.State
			if c.Progress != nil && c.State == "running" {
				what += " " + c.Progress.Phase
			}
			if seen[c.ID] != what && !g.json && !g.quiet {
				fmt.Fprintf(os.Stderr, "%s  request %d (%s): %s\n", time.Now().Format("15:04:05"), c.ID, c.Service, stateWords(c))
			}
			seen[c.ID] = what
			if !finalState(c.State) {
				open++
			}
		}
		if open == 0 {
			out := make([]drillRequestOut, 0, len(reqs))
			for _, r := range reqs {
				out = append(out, cur[r.ID])
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, withCode(exitError, fmt.Errorf("stopped waiting; the requests go on: `rempart drill requests%s`", tenantFlag(ds)))
		case <-time.After(2 * time.Second):
		}
		var state drillRequestsOut
		if _, err := ds.callStatus(ctx, http.MethodGet, ds.tenantPath("/drill-requests?limit="+strconv.Itoa(limit)), nil, &state); err != nil {
			if ctx.Err() != nil {
				continue
			}
			return nil, err
		}
		for _, r := range state.Requests {
			if _, ok := cur[r.ID]; ok {
				cur[r.ID] = r
			}
		}
	}
}

// stateWords is a request's state for people.
func stateWords(r drillRequestOut) string {
	switch r.State {
	case "queued":
		return "queued, waiting for a machine of the town"
	case "running":
		s := "running on " + orDefault(r.Host, "?")
		if p := r.Progress; p != nil && p.Phase != "" {
			s += ": " + p.Phase
			if p.Total > 0 {
				s += fmt.Sprintf(" %.0f%%", 100*float64(p.Done)/float64(p.Total))
			}
		}
		return s
	case "done":
		s := fmt.Sprintf("done: drill %d %s", r.DrillID, strings.ToUpper(r.Result))
		if r.AlertID != 0 {
			s += fmt.Sprintf(", alert %d", r.AlertID)
		}
		return s
	case "failed":
		return "FAILED: " + r.Error
	case "cancelled":
		return "cancelled by " + orDefault(r.CancelledBy, "?")
	}
	return r.State
}

// printRequestTable shows requests, one a line.
func printRequestTable(list []drillRequestOut) {
	fmt.Printf("%-5s %-14s %-12s %-16s %-24s %-16s %s\n", "ID", "SERVICE", "STATE", "REQUESTED", "BY", "MACHINE", "RESULT")
	for _, r := range list {
		state := r.State
		result := "-"
		switch r.State {
		case "running":
			if p := r.Progress; p != nil {
				if p.Total > 0 {
					state += fmt.Sprintf(" %.0f%%", 100*float64(p.Done)/float64(p.Total))
				}
				result = p.Phase
				if !p.Updated.IsZero() {
					result += " (" + ago(p.Updated) + ")"
				}
			}
		case "done":
			result = fmt.Sprintf("drill %d %s", r.DrillID, r.Result)
			if r.AlertID != 0 {
				result += fmt.Sprintf(", alert %d", r.AlertID)
			}
		case "failed":
			result = r.Error
			if r.AlertID != 0 {
				result += fmt.Sprintf(" (alert %d)", r.AlertID)
			}
		case "cancelled":
			result = "cancelled by " + orDefault(r.CancelledBy, "?")
		}
		fmt.Printf("%-5d %-14s %-12s %-16s %-24s %-16s %s\n", r.ID, r.Service, state, localTime(r.Requested), r.RequestedBy, orDefault(r.Host, "-"), result)
	}
}

// printRunners says which machines pick up the tenant's requests, or what
// to set up when none does.
func printRunners(ds *drillServer, runners []drillRunnerOut) {
	setUp := fmt.Sprintf("on the machine that holds the passphrase run `rempart drill run --requested --watch --repo %s/%s` (docs/drills.md)", ds.sv.URL, ds.tenant)
	if len(runners) == 0 {
		fmt.Printf("No machine of %s picks up requested drills yet: %s.\n", ds.tenant, setUp)
		return
	}
	sort.Slice(runners, func(i, j int) bool { return runners[i].LastSeen.After(runners[j].LastSeen) })
	fmt.Printf("Machines that pick up the requested drills of %s:\n", ds.tenant)
	for _, r := range runners {
		quiet := ""
		if r.Stale {
			quiet = ", not heard from since"
		}
		fmt.Printf("  %-16s %-14s last asked %s (%s%s)\n", r.Host, r.Actor, localTime(r.LastSeen), ago(r.LastSeen), quiet)
	}
	if runners[0].Stale || time.Since(runners[0].LastSeen) > runnerQuiet {
		fmt.Printf("None has asked for %s: requests wait until one does; check that `rempart drill run --requested --watch` still runs there, or %s.\n",
			ui.Duration(runnerQuiet), setUp)
	}
}

// printSchedule shows a tenant's schedule.
func printSchedule(tenant string, sc drillScheduleOut) {
	if sc.EveryDays == 0 {
		fmt.Printf("No drill schedule for %s: drills run when requested (`rempart drill request`) or from cron.\n", tenant)
		fmt.Printf("Set one with `rempart drill schedule --every 30d --at 02:30`.\n")
		return
	}
	loc := time.Local
	if sc.TimeZone != "" {
		if l, err := time.LoadLocation(sc.TimeZone); err == nil {
			loc = l
		}
	}
	tz := ""
	switch {
	case strings.Contains(sc.TimeZone, "("): // "CET (UTC+01:00)"
		tz = " " + sc.TimeZone
	case sc.TimeZone != "":
		tz = " (" + sc.TimeZone + ")"
	}
	every := fmt.Sprintf("every %d days", sc.EveryDays)
	if sc.EveryDays == 1 {
		every = "every day"
	}
	fmt.Printf("Drill schedule of %s: every service, %s at %s%s.\n", tenant, every, sc.At, tz)
	if sc.Next != nil {
		fmt.Printf("  next: %s\n", sc.Next.In(loc).Format("2006-01-02 15:04"))
	}
	if sc.LastRun != nil {
		fmt.Printf("  last: %s\n", sc.LastRun.In(loc).Format("2006-01-02 15:04"))
	}
	if sc.UpdatedBy != "" {
		when := ""
		if sc.Updated != nil {
			when = " on " + localTime(*sc.Updated)
		}
		fmt.Printf("  set by %s%s\n", sc.UpdatedBy, when)
	}
}

func newDrillRequests() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "requests [--tenant NAME] [--limit N]",
		Short: "List the drills requested on the server, the machines that run them, and the schedule",
		Long: `List a tenant's drill requests, newest first: the service, the state (queued,
running with its progress, done, failed, cancelled), when and by whom it was
requested (an account, or "schedule"), the machine that took it, and the
result: the drill's ID and result (` + "`rempart drill show ID`" + `), or why it could
not run. A request with no news from its machine for 5 minutes fails.

Then the machines that pick requests up and when each last asked (none, or
none heard from for 15 minutes: requests wait; the command says what to set
up), and the tenant's schedule.

Operators, auditors and the tenant's admin and auditors may read them.`,
		Example: `  rempart drill requests --tenant mairie-a
  rempart drill requests --limit 10 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit %d: give a positive number", limit)
			}
			ds, err := drillAdminServer()
			if err != nil {
				return err
			}
			path := ds.tenantPath("/drill-requests")
			if limit > 0 {
				path += "?limit=" + strconv.Itoa(limit)
			}
			var out drillRequestsOut
			if _, err := ds.callStatus(cmd.Context(), http.MethodGet, path, nil, &out); err != nil {
				return err
			}
			if g.json {
				if out.Requests == nil {
					out.Requests = []drillRequestOut{}
				}
				if out.Runners == nil {
					out.Runners = []drillRunnerOut{}
				}
				return printJSON(out)
			}
			if len(out.Requests) == 0 {
				fmt.Printf("No drill requested for %s yet: request one with `rempart drill request SERVICE%s` or from the console.\n", ds.tenant, tenantFlag(ds))
			} else {
				printRequestTable(out.Requests)
			}
			fmt.Println()
			printRunners(ds, out.Runners)
			fmt.Println()
			printSchedule(ds.tenant, out.Schedule)
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many requests (default 50)")
	return cmd
}

func newDrillCancel() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID [--tenant NAME]",
		Short: "Cancel a queued or running drill request",
		Long: `Cancel a drill request (its ID in ` + "`rempart drill requests`" + `) that is queued or
running. A queued request is no longer picked up; the machine running a
drill stops it at its next progress report (within about 10 seconds) and
records nothing. The town's admin and operators may cancel; it is written
to the audit trail.`,
		Example: `  rempart drill cancel 7 --tenant mairie-a`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usagef("request ID %q: use a number shown by `rempart drill requests`", args[0])
			}
			ds, err := drillAdminServer()
			if err != nil {
				return err
			}
			var r drillRequestOut
			if _, err := ds.callStatus(cmd.Context(), http.MethodPost, ds.tenantPath("/drill-requests/"+strconv.FormatInt(id, 10)+"/cancel"), nil, &r); err != nil {
				if isStatus(err, http.StatusConflict) {
					return fmt.Errorf("%w (only a queued or running request can be cancelled: see `rempart drill requests%s`)", err, tenantFlag(ds))
				}
				return err
			}
			if g.json {
				return printJSON(r)
			}
			what := fmt.Sprintf("Request %d", id)
			if r.Service != "" {
				what += " (drill of " + r.Service + ")"
			}
			say("%s cancelled. A machine running it stops at its next progress report.", what)
			return nil
		},
	}
}

var everyRE = regexp.MustCompile(`^\s*([0-9]+)\s*(d|days?)?\s*$`)

// parseEvery reads --every: N days ("30d", "30").
func parseEvery(s string) (int, error) {
	m := everyRE.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return 0, usagef("--every %q: give a number of days, e.g. 30d or 30", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 || n > 365 {
		return 0, usagef("--every %q: from 1 to 365 days", s)
	}
	return n, nil
}

// parseAt reads --at HH:MM.
func parseAt(s string) (string, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		if t, err = time.Parse("15:04", "0"+strings.TrimSpace(s)); err != nil {
			return "", usagef("--at %q: give a time of day as HH:MM, e.g. 02:30", s)
		}
	}
	return t.Format("15:04"), nil
}

func newDrillSchedule() *cobra.Command {
	var every, at string
	var off bool
	cmd := &cobra.Command{
		Use:   "schedule [--every N --at HH:MM | --off] [--tenant NAME]",
		Short: "Show or set the tenant's drill schedule: every service drilled every N days",
		Long: `Without options, show the tenant's drill schedule. With --every N (days, 1 to
365: "30d" or "30") and --at HH:MM (the server's time zone; default: the
current schedule's time, else 02:30), set it: every N days at that time, the
server queues a drill request for each service of the plan that has none
open (requested by "schedule"), and a machine of the town that runs
` + "`rempart drill run --requested --watch`" + ` (or from cron) picks them up. --off
stops it. Off by default.

The town's admin and operators may set it; it is written to the audit trail.
Without a server, schedule ` + "`rempart drill run --all`" + ` from cron instead
(docs/drills.md).`,
		Example: `  rempart drill schedule --tenant mairie-a
  rempart drill schedule --every 30d --at 02:30
  rempart drill schedule --off`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			set := every != "" || cmd.Flags().Changed("at")
			if off && set {
				return usagef("--off turns the schedule off: leave out --every and --at")
			}
			ctx := cmd.Context()
			ds, err := drillAdminServer()
			if err != nil {
				return err
			}
			path := ds.tenantPath("/drill-schedule")
			var cur drillScheduleOut
			if !off {
				if _, err := ds.callStatus(ctx, http.MethodGet, path, nil, &cur); err != nil {
					return err
				}
			}
			if !off && !set {
				if g.json {
					return printJSON(cur)
				}
				printSchedule(ds.tenant, cur)
				return nil
			}
			body := map[string]any{"every_days": 0}
			if !off {
				days := cur.EveryDays
				if every != "" {
					if days, err = parseEvery(every); err != nil {
						return err
					}
				} else if days == 0 {
					return usagef("the schedule of %s is off: say how often with --every N (days), e.g. --every 30d --at %s", ds.tenant, orDefault(at, "02:30"))
				}
				when := orDefault(cur.At, "02:30")
				if cmd.Flags().Changed("at") {
					if when, err = parseAt(at); err != nil {
						return err
					}
				}
				body = map[string]any{"every_days": days, "at": when}
			}
			var out drillScheduleOut
			if _, err := ds.callStatus(ctx, http.MethodPut, path, body, &out); err != nil {
				return err
			}
			if out.EveryDays == 0 && !off {
				// An answer without the schedule: read it back.
				if _, err := ds.callStatus(ctx, http.MethodGet, path, nil, &out); err != nil {
					return err
				}
			}
			if g.json {
				return printJSON(out)
			}
			if off {
				say("Drill schedule of %s turned off: drills run when requested (`rempart drill request`).", ds.tenant)
				return nil
			}
			printSchedule(ds.tenant, out)
			if !g.quiet {
				var state drillRequestsOut
				if _, err := ds.callStatus(ctx, http.MethodGet, ds.tenantPath("/drill-requests?limit=1"), nil, &state); err == nil {
					printRunners(ds, state.Runners)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&every, "every", "", "drill every service every N days (1 to 365), e.g. 30d")
	cmd.Flags().StringVar(&at, "at", "", "at this time of day, HH:MM in the server's time zone (default 02:30)")
	cmd.Flags().BoolVar(&off, "off", false, "turn the schedule off")
	return cmd
}

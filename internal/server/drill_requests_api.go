package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/server/notify"
	"github.com/rempart/rempart/internal/server/store"
)

// Drill requests and the drill schedule (docs/drills.md). The server
// cannot run a drill: it cannot read the backups. It queues requests
// (from a person, or from the tenant's schedule), which a machine of the
// tenant that holds the passphrase claims (`rempart drill run
// --requested`), keeps alive with progress reports and answers with the
// drill's record. A request with no news for drillLease fails, and so
// does one the machine reports it could not run: both open a drill alert.

// drillLease is how long a claimed request may go without news.
const drillLease = 5 * time.Minute

// runnerStale is how long after its last call a runner is no longer
// counted on (the console warns).
const runnerStale = 15 * time.Minute

func (s *srv) drillRequestRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/tenants/{name}/drill-requests", s.authed(s.requestDrills))
	mux.HandleFunc("GET /v1/tenants/{name}/drill-requests", s.authed(s.listDrillRequests))
	mux.HandleFunc("POST /v1/tenants/{name}/drill-requests/claim", s.authedOrAgent(s.claimDrillRequest))
	mux.HandleFunc("POST /v1/tenants/{name}/drill-requests/{id}/progress", s.authedOrAgent(s.drillProgress))
	mux.HandleFunc("POST /v1/tenants/{name}/drill-requests/{id}/fail", s.authedOrAgent(s.failDrillRequest))
	mux.HandleFunc("POST /v1/tenants/{name}/drill-requests/{id}/cancel", s.authed(s.cancelDrillRequest))
	mux.HandleFunc("GET /v1/tenants/{name}/drill-schedule", s.authed(s.getDrillSchedule))
	mux.HandleFunc("PUT /v1/tenants/{name}/drill-schedule", s.authed(s.setDrillSchedule))
}

// drillRequestJSON is a request as the API shows it.
type drillRequestJSON struct {
	ID          int64         `json:"id"`
	Tenant      string        `json:"tenant"`
	Service     string        `json:"service"`
	State       string        `json:"state"`
	Requested   time.Time     `json:"requested"`
	RequestedBy string        `json:"requested_by"`
	Claimed     *time.Time    `json:"claimed"`
	ClaimedBy   string        `json:"claimed_by"`
	Host        string        `json:"host"`
	Progress    *progressJSON `json:"progress"`
	Finished    *time.Time    `json:"finished"`
	DrillID     int64         `json:"drill_id"`
	Result      string        `json:"result"`
	Error       string        `json:"error"`
	CancelledBy string        `json:"cancelled_by"`
	AlertID     int64         `json:"alert_id"`
	Created     *bool         `json:"created,omitempty"` // POST: false when the service already had an open request
}

type progressJSON struct {
	Phase   string    `json:"phase"`
	Done    int64     `json:"done"`
	Total   int64     `json:"total"`
	Updated time.Time `json:"updated"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func requestJSON(tenant string, r store.DrillRequest) drillRequestJSON {
	j := drillRequestJSON{ID: r.ID, Tenant: tenant, Service: r.Service, State: r.State, Requested: r.Requested, RequestedBy: r.RequestedBy,
		Claimed: timePtr(r.Claimed), ClaimedBy: r.ClaimedBy, Host: r.Host, Finished: timePtr(r.Finished), DrillID: r.DrillID,
		Result: r.DrillResult, Error: r.Error, CancelledBy: r.CancelledBy, AlertID: r.AlertID}
	if !r.ProgressAt.IsZero() {
		j.Progress = &progressJSON{Phase: r.Phase, Done: r.Done, Total: r.Total, Updated: r.ProgressAt}
	}
	return j
}

// requestID parses the {id} of the path; otherwise it has answered.
func (s *srv) requestID(w http.ResponseWriter, r *http.Request, c caller, tenant string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.refuse(r, c, tenant, http.StatusBadRequest, w, fmt.Sprintf("invalid drill request ID %q: use a number shown by `rempart drill requests`", r.PathValue("id")))
		return 0, false
	}
	return id, true
}

func (s *srv) requestDrills(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	var in struct {
		Services []string `json:"services"`
		All      bool     `json:"all"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	if in.All == (len(in.Services) > 0) {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, `say which services to drill ({"services":["paie"]}) or every one ({"all":true})`)
		return
	}
	v, err := s.st.PlanVersion(r.Context(), t.ID, 0)
	if errors.Is(err, store.ErrNotFound) {
		s.refuse(r, c, t.Name, http.StatusConflict, w, fmt.Sprintf("%s has no continuity plan yet: a drill restores the services of the plan; write the plan first", t.Name))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	p, err := decodePlan(t.Name, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var services []string
	if in.All {
		for _, sv := range p.InRecoveryOrder() {
			services = append(services, sv.ID)
		}
		if len(services) == 0 {
			s.refuse(r, c, t.Name, http.StatusConflict, w, "the plan has no service to drill")
			return
		}
	} else {
		seen := map[string]bool{}
		for _, id := range in.Services {
			if _, ok := p.Service(id); !ok {
				var ids []string
				for _, sv := range p.Services {
					ids = append(ids, sv.ID)
				}
				s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("no service %q in the plan of %s (its services: %s)", id, t.Name, strings.Join(ids, ", ")))
				return
			}
			if !seen[id] {
				services, seen[id] = append(services, id), true
			}
		}
	}
	reqs, created, err := s.st.RequestDrills(r.Context(), t.ID, services, c.actor)
	if errors.Is(err, store.ErrInvalid) {
		s.refuse(r, c, t.Name, http.StatusConflict, w, "too many drill requests are waiting: "+err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]drillRequestJSON, 0, len(reqs))
	var ids []int64
	for i, q := range reqs {
		j := requestJSON(t.Name, q)
		j.Created = &created[i]
		out = append(out, j)
		if created[i] {
			ids = append(ids, q.ID)
		}
	}
	s.audit(r.Context(), c.actor, "drill.request", t.Name, map[string]any{"services": services, "request_ids": ids, "plan_version": v.Version, "from": c.remote})
	writeJSON(w, http.StatusCreated, out)
}

// runnerJSON is a machine that picks up requests.
type runnerJSON struct {
	Actor    string    `json:"actor"`
	Host     string    `json:"host"`
	LastSeen time.Time `json:"last_seen"`
	Stale    bool      `json:"stale"` // not heard from for runnerStale
}

func (s *srv) listDrillRequests(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.readDrillsOf(w, r, c)
	if !ok {
		return
	}
	limit := 0
	if raw := r.URL.Query().Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n <= 0 || n > 1000 {
			s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("limit=%q: use a number from 1 to 1000", raw))
			return
		}
		limit = n
	}
	s.expireDrillRequests(r.Context())
	reqs, err := s.st.DrillRequests(r.Context(), t.ID, limit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	runners, err := s.st.DrillRunners(r.Context(), t.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	sched, err := s.scheduleJSON(r.Context(), t)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := struct {
		Requests []drillRequestJSON `json:"requests"`
		Runners  []runnerJSON       `json:"runners"`
		Schedule scheduleJSON       `json:"schedule"`
	}{Requests: []drillRequestJSON{}, Runners: []runnerJSON{}, Schedule: sched}
	for _, q := range reqs {
		out.Requests = append(out.Requests, requestJSON(t.Name, q))
	}
	now := s.st.Now()
	for _, rn := range runners {
		out.Runners = append(out.Runners, runnerJSON{Actor: rn.Actor, Host: rn.Host, LastSeen: rn.LastSeen, Stale: now.Sub(rn.LastSeen) > runnerStale})
	}
	writeJSON(w, http.StatusOK, out)
}

// runnerHost is the name a request's runner goes by: an agent's enrolled
// host name (what the plan's sources name), else what the caller says.
func (s *srv) runnerHost(ctx context.Context, c caller, said string) (string, error) {
	if c.Role == store.RoleAgent {
		agents, err := s.st.ListAgents(ctx, c.TenantID)
		if err != nil {
			return "", err
		}
		for _, a := range agents {
			if a.ID == c.AgentID {
				return a.Host, nil
			}
		}
	}
	return strings.TrimSpace(said), nil
}

func (s *srv) claimDrillRequest(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.agentOr(w, r, c, s.manageTenant)
	if !ok {
		return
	}
	var in struct {
		Host string `json:"host"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	host, err := s.runnerHost(r.Context(), c, in.Host)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if host == "" || len(host) > 255 {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, `say which machine claims the request: {"host":"fs01"}`)
		return
	}
	s.expireDrillRequests(r.Context())
	q, ok, err := s.st.ClaimDrillRequest(r.Context(), t.ID, c.actor, host, drillLease)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.audit(r.Context(), c.actor, "drill.request.claim", t.Name, map[string]any{"request_id": q.ID, "service": q.Service, "host": host, "from": c.remote})
	writeJSON(w, http.StatusOK, requestJSON(t.Name, q))
}

// runningRequest answers a store error about a request the caller should
// be running; it returns false when it has answered.
func (s *srv) runningRequest(w http.ResponseWriter, r *http.Request, c caller, t store.Tenant, id int64, q store.DrillRequest, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s has no drill request %d", t.Name, id))
	case errors.Is(err, store.ErrConflict) && q.ClaimedBy != c.actor:
		s.refuse(r, c, t.Name, http.StatusConflict, w, fmt.Sprintf("drill request %d was not claimed by you: claim one with POST .../drill-requests/claim", id))
	case errors.Is(err, store.ErrConflict):
		why := "it is " + q.State
		switch {
		case q.State == store.RequestCancelled:
			why = "it was cancelled by " + q.CancelledBy
		case q.State == store.RequestFailed:
			why = "it failed: " + q.Error
		}
		writeJSON(w, http.StatusConflict, map[string]any{"error": fmt.Sprintf("drill request %d is no longer running (%s): stop the drill", id, why), "state": q.State})
	case errors.Is(err, store.ErrInvalid):
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, err.Error())
	default:
		s.internal(w, r, err)
	}
	return false
}

// runnerCall resolves what a runner's call on one request needs: the
// tenant (its own for an agent), the request's ID and the body (into
// in); ok is false when it has answered.
func (s *srv) runnerCall(w http.ResponseWriter, r *http.Request, c caller, in any) (t store.Tenant, id int64, ok bool) {
	if t, ok = s.agentOr(w, r, c, s.manageTenant); !ok {
		return
	}
	if id, ok = s.requestID(w, r, c, t.Name); !ok {
		return
	}
	return t, id, s.readJSON(w, r, c, in)
}

func (s *srv) drillProgress(w http.ResponseWriter, r *http.Request, c caller) {
	var in struct {
		Phase string `json:"phase"`
		Done  int64  `json:"done"`
		Total int64  `json:"total"`
	}
	t, id, ok := s.runnerCall(w, r, c, &in)
	if !ok {
		return
	}
	q, err := s.st.ReportDrillProgress(r.Context(), t.ID, id, c.actor, in.Phase, in.Done, in.Total, drillLease)
	if !s.runningRequest(w, r, c, t, id, q, err) {
		return
	}
	writeJSON(w, http.StatusOK, requestJSON(t.Name, q))
}

func (s *srv) failDrillRequest(w http.ResponseWriter, r *http.Request, c caller) {
	var in struct {
		Error string `json:"error"`
	}
	t, id, ok := s.runnerCall(w, r, c, &in)
	if !ok {
		return
	}
	q, a, err := s.st.FailDrillRequest(r.Context(), t.ID, id, c.actor, in.Error)
	if !s.runningRequest(w, r, c, t, id, q, err) {
		return
	}
	s.requestFailed(r.Context(), t.Name, c.actor, q, a)
	writeJSON(w, http.StatusOK, requestJSON(t.Name, q))
}

// requestFailed audits, logs and notifies a request that failed (its
// alert a is open).
func (s *srv) requestFailed(ctx context.Context, tenant, actor string, q store.DrillRequest, a *store.Alert) {
	s.audit(ctx, actor, "drill.request.fail", tenant, map[string]any{"request_id": q.ID, "service": q.Service, "host": q.Host, "error": q.Error, "alert_id": q.AlertID})
	s.log.WarnContext(ctx, "DRILL ALERT: a requested drill could not run", "tenant", tenant, "request", q.ID, "service", q.Service, "host", q.Host, "error", q.Error)
	if a == nil {
		return
	}
	s.audit(ctx, "server", "drill.alert.open", tenant, map[string]any{"alert_id": a.ID, "request_id": q.ID, "service": q.Service, "result": "failed", "reasons": []string{q.Error}})
	if s.notify != nil {
		ev := s.notify.NewEvent(notify.KindDrillAlert, tenant)
		opened := a.Opened
		ev.AlertID, ev.RequestID, ev.Service, ev.Result, ev.Reasons, ev.Source, ev.Received = a.ID, q.ID, q.Service, "failed", []string{q.Error}, actor, &opened
		s.notify.Enqueue(ctx, ev)
	}
}

// expireDrillRequests fails the requests whose machine went silent.
func (s *srv) expireDrillRequests(ctx context.Context) {
	expired, err := s.st.ExpireDrillRequests(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "cannot expire silent drill requests", "err", err)
	}
	for _, q := range expired {
		t, err := s.st.TenantByID(ctx, q.TenantID)
		if err != nil {
			s.log.ErrorContext(ctx, "drill request of an unknown tenant", "request", q.ID, "err", err)
			continue
		}
		var a *store.Alert
		if al, err := s.st.Alert(ctx, q.AlertID); err == nil {
			a = &al
		}
		s.requestFailed(ctx, t.Name, "server", q, a)
	}
}

func (s *srv) cancelDrillRequest(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	id, ok := s.requestID(w, r, c, t.Name)
	if !ok {
		return
	}
	q, err := s.st.CancelDrillRequest(r.Context(), t.ID, id, c.actor)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s has no drill request %d", t.Name, id))
		return
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, fmt.Sprintf("drill request %d has already ended (%s): nothing to cancel", id, q.State))
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "drill.request.cancel", t.Name, map[string]any{"request_id": id, "service": q.Service, "was_running_on": q.Host, "from": c.remote})
	writeJSON(w, http.StatusOK, requestJSON(t.Name, q))
}

// scheduleJSON is a tenant's drill schedule (every_days 0: none).
type scheduleJSON struct {
	EveryDays int        `json:"every_days"`
	At        string     `json:"at"`
	TimeZone  string     `json:"time_zone"`
	Next      *time.Time `json:"next"`
	LastRun   *time.Time `json:"last_run"`
	UpdatedBy string     `json:"updated_by"`
	Updated   *time.Time `json:"updated"`
}

func (s *srv) scheduleJSON(ctx context.Context, t store.Tenant) (scheduleJSON, error) {
	out := scheduleJSON{TimeZone: zoneName(s.zone())}
	d, err := s.st.DrillScheduleOf(ctx, t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.EveryDays, out.At, out.Next, out.LastRun, out.UpdatedBy, out.Updated = d.EveryDays, d.At, timePtr(d.Next), timePtr(d.LastRun), d.UpdatedBy, timePtr(d.Updated)
	return out, nil
}

// zone is the time zone schedules are read in: the server's.
func (s *srv) zone() *time.Location {
	if s.loc != nil {
		return s.loc
	}
	return time.Local
}

// zoneName names loc for people: its IANA name when known, else its
// abbreviation and offset now.
func zoneName(loc *time.Location) string {
	if n := loc.String(); n != "Local" && n != "" {
		return n
	}
	name, off := time.Now().In(loc).Zone()
	if off == 0 && (name == "UTC" || name == "GMT") {
		return name
	}
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	utc := fmt.Sprintf("UTC%c%02d:%02d", sign, off/3600, off%3600/60)
	if name == "" || name[0] == '+' || name[0] == '-' { // a zone with no abbreviation
		return utc
	}
	return name + " (" + utc + ")"
}

// nextDrillRun is the first time of day at (HH:MM in loc) strictly after
// from.
func nextDrillRun(from time.Time, at string, loc *time.Location) time.Time {
	h, _ := strconv.Atoi(at[:2])
	m, _ := strconv.Atoi(at[3:])
	f := from.In(loc)
	next := time.Date(f.Year(), f.Month(), f.Day(), h, m, 0, 0, loc)
	for !next.After(from) {
		f = f.AddDate(0, 0, 1)
		next = time.Date(f.Year(), f.Month(), f.Day(), h, m, 0, 0, loc)
	}
	return next.UTC()
}

// followingDrillRun is the run every days after the one due at was, at
// the same time of day; when the server was down past it, the next one
// after now (no burst of runs).
func followingDrillRun(was, now time.Time, every int, at string, loc *time.Location) time.Time {
	w := was.In(loc)
	h, _ := strconv.Atoi(at[:2])
	m, _ := strconv.Atoi(at[3:])
	next := time.Date(w.Year(), w.Month(), w.Day()+every, h, m, 0, 0, loc)
	if !next.After(now) {
		return nextDrillRun(now, at, loc)
	}
	return next.UTC()
}

func (s *srv) getDrillSchedule(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.readDrillsOf(w, r, c)
	if !ok {
		return
	}
	out, err := s.scheduleJSON(r.Context(), t)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *srv) setDrillSchedule(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	var in struct {
		EveryDays *int   `json:"every_days"`
		At        string `json:"at"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	switch {
	case in.EveryDays == nil || *in.EveryDays < 0 || *in.EveryDays > 365:
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, `every_days: a number of days from 1 to 365, or 0 to stop scheduling drills ({"every_days":30,"at":"02:30"})`)
		return
	case *in.EveryDays > 0 && !store.ValidScheduleTime(in.At):
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("at=%q: a time of day as HH:MM (00:00 to 23:59, server time), e.g. 02:30", in.At))
		return
	}
	d := store.DrillSchedule{TenantID: t.ID, EveryDays: *in.EveryDays, At: in.At, UpdatedBy: c.actor}
	if d.EveryDays > 0 {
		d.Next = nextDrillRun(s.st.Now(), d.At, s.zone())
	} else {
		d.At = ""
	}
	if _, err := s.st.SetDrillSchedule(r.Context(), d); err != nil {
		s.internal(w, r, err)
		return
	}
	out, err := s.scheduleJSON(r.Context(), t)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "drill.schedule.set", t.Name, map[string]any{"every_days": d.EveryDays, "at": d.At, "time_zone": out.TimeZone, "next": out.Next, "from": c.remote})
	writeJSON(w, http.StatusOK, out)
}

// runDrillSchedules queues the drills of every schedule that is due at
// now (one request per service of the tenant's current plan that has
// none open) and moves each schedule on. It also fails the requests
// whose machine went silent.
func (s *srv) runDrillSchedules(ctx context.Context, now time.Time) {
	s.expireDrillRequests(ctx)
	due, err := s.st.DueDrillSchedules(ctx, now)
	if err != nil {
		s.log.ErrorContext(ctx, "cannot read the drill schedules", "err", err)
		return
	}
	for _, d := range due {
		t, err := s.st.TenantByID(ctx, d.TenantID)
		if err != nil {
			s.log.ErrorContext(ctx, "drill schedule of an unknown tenant", "tenant_id", d.TenantID, "err", err)
			continue
		}
		next := followingDrillRun(d.Next, now, d.EveryDays, d.At, s.zone())
		if err := s.st.MarkDrillScheduleRun(ctx, d.TenantID, d.Next, now, next); err != nil {
			if !errors.Is(err, store.ErrConflict) {
				s.log.ErrorContext(ctx, "cannot move the drill schedule on", "tenant", t.Name, "err", err)
			}
			continue // changed meanwhile: its new time holds
		}
		detail := map[string]any{"every_days": d.EveryDays, "at": d.At, "due": d.Next, "next": next}
		var services []string
		v, err := s.st.PlanVersion(ctx, t.ID, 0)
		if err == nil {
			if pl, perr := decodePlan(t.Name, v); perr == nil {
				for _, sv := range pl.InRecoveryOrder() {
					services = append(services, sv.ID)
				}
			} else {
				err = perr
			}
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			detail["skipped"] = "no continuity plan"
		case err != nil:
			s.log.ErrorContext(ctx, "scheduled drills: cannot read the plan", "tenant", t.Name, "err", err)
			detail["skipped"] = "the plan could not be read"
		case len(services) == 0:
			detail["skipped"] = "the plan has no service"
		default:
			reqs, created, err := s.st.RequestDrills(ctx, t.ID, services, store.RequestedBySchedule)
			if err != nil {
				s.log.ErrorContext(ctx, "scheduled drills: cannot queue them", "tenant", t.Name, "err", err)
				detail["skipped"] = err.Error()
				break
			}
			var ids []int64
			for i, q := range reqs {
				if created[i] {
					ids = append(ids, q.ID)
				}
			}
			detail["services"], detail["request_ids"], detail["plan_version"] = services, ids, v.Version
		}
		s.audit(ctx, store.RequestedBySchedule, "drill.schedule.run", t.Name, detail)
		s.log.InfoContext(ctx, "scheduled drills queued", "tenant", t.Name, "services", len(services), "next", next)
	}
}

// drillLoop runs the schedules and the request leases every minute until
// ctx ends.
func (s *srv) drillLoop(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		s.runDrillSchedules(ctx, s.st.Now())
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

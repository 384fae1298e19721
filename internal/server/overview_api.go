package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/server/store"
)

// GET /v1/overview: what the web console's first screen shows for each
// tenant the caller may read (operators and server-wide auditors: every
// tenant; tenant admins and tenant auditors: their own): the machines and
// their latest snapshots with Sentinel's verdicts, the plan's sources
// against their RPO and its problems, the open alerts, and whether
// retention is frozen. Read-only; as for every read, only a refusal goes
// to the audit trail. The console computes each town's status from it
// (web/src/console/status.ts).

// overviewJSON is the answer of GET /v1/overview.
type overviewJSON struct {
	At      time.Time            `json:"at"`
	Tenants []tenantOverviewJSON `json:"tenants"`
}

// tenantOverviewJSON is one tenant's protection at a glance.
type tenantOverviewJSON struct {
	Tenant    string                `json:"tenant"`
	Plan      *overviewPlanJSON     `json:"plan"` // null: no plan yet
	Sources   []overviewSourceJSON  `json:"sources"`
	Machines  []overviewMachineJSON `json:"machines"`
	Alerts    []alertJSON           `json:"alerts"` // open alerts, newest first
	Retention overviewRetentionJSON `json:"retention"`
	Drills    overviewDrillsJSON    `json:"drills"`
}

// overviewDrillsJSON is a tenant's restore drills at a glance: the latest
// drill of each service of the plan, what is waiting, the schedule and
// the machine that picks requests up.
type overviewDrillsJSON struct {
	Latest       []overviewDrillJSON `json:"latest"` // one per service of the plan that has been drilled
	Never        []string            `json:"never"`  // the plan's services never drilled
	OpenRequests int                 `json:"open_requests"`
	EveryDays    int                 `json:"every_days"` // the schedule (0: none)
	Next         *time.Time          `json:"next,omitempty"`
	Runner       string              `json:"runner,omitempty"` // the machine most recently seen picking requests up
	RunnerSeen   *time.Time          `json:"runner_seen,omitempty"`
	RunnerStale  bool                `json:"runner_stale,omitempty"`
}

type overviewDrillJSON struct {
	Service  string    `json:"service"`
	ID       int64     `json:"id"`
	Result   string    `json:"result"`
	Finished time.Time `json:"finished"`
}

func (s *srv) drillsOverview(ctx context.Context, t store.Tenant, services []string, now time.Time) (overviewDrillsJSON, error) {
	o := overviewDrillsJSON{Latest: []overviewDrillJSON{}, Never: []string{}}
	drills, err := s.st.LatestDrills(ctx, t.ID)
	if err != nil {
		return o, err
	}
	latest := map[string]store.DrillOutcome{}
	for _, d := range drills {
		latest[d.Service] = d
	}
	for _, sv := range services {
		if d, ok := latest[sv]; ok {
			o.Latest = append(o.Latest, overviewDrillJSON{Service: sv, ID: d.ID, Result: d.Result, Finished: d.Finished.UTC()})
		} else {
			o.Never = append(o.Never, sv)
		}
	}
	reqs, err := s.st.DrillRequests(ctx, t.ID, 1)
	if err != nil {
		return o, err
	}
	for _, q := range reqs {
		if q.Open() {
			o.OpenRequests++
		}
	}
	if sc, err := s.st.DrillScheduleOf(ctx, t.ID); err == nil {
		o.EveryDays, o.Next = sc.EveryDays, timePtr(sc.Next)
	} else if !errors.Is(err, store.ErrNotFound) {
		return o, err
	}
	runners, err := s.st.DrillRunners(ctx, t.ID)
	if err != nil {
		return o, err
	}
	if len(runners) > 0 {
		o.Runner, o.RunnerSeen, o.RunnerStale = runners[0].Host, timePtr(runners[0].LastSeen), now.Sub(runners[0].LastSeen) > runnerStale
	}
	return o, nil
}

// overviewPlanJSON is the latest version of the plan and its problems.
type overviewPlanJSON struct {
	Version    int64                `json:"version"`
	Saved      time.Time            `json:"saved"`
	Services   int                  `json:"services"`
	Waves      int                  `json:"waves"`
	ReviewedAt string               `json:"reviewed_at,omitempty"`
	Errors     int                  `json:"errors"`
	Warnings   int                  `json:"warnings"`
	Problems   []continuity.Problem `json:"problems"`
}

// overviewSourceJSON is a source of a service of the plan and its latest
// clean snapshot, measured against the service's RPO.
type overviewSourceJSON struct {
	Service    string     `json:"service"`
	Host       string     `json:"host"`
	Path       string     `json:"path"`
	Latest     *time.Time `json:"latest,omitempty"`
	AgeSeconds int64      `json:"age_seconds"`
	RPOSeconds int64      `json:"rpo_seconds"`
	Status     string     `json:"status"` // ok, stale or missing
}

// overviewMachineJSON is an enrolled machine and its snapshots as the
// server records them (it cannot read them).
type overviewMachineJSON struct {
	AgentID   int64      `json:"agent_id"`
	Host      string     `json:"host"`
	Revoked   bool       `json:"revoked,omitempty"`
	Snapshots int        `json:"snapshots"`
	Latest    *time.Time `json:"latest,omitempty"`
	// Verdict is Sentinel's on the latest snapshot: clean, suspect,
	// infected, or none (not assessed).
	Verdict     string     `json:"verdict,omitempty"`
	LatestClean *time.Time `json:"latest_clean,omitempty"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// overviewRetentionJSON: while a Sentinel alert is open the tenant's
// retention expires nothing (frozen).
type overviewRetentionJSON struct {
	Frozen    bool `json:"frozen"`
	LockDays  int  `json:"lock_days"`
	Immutable bool `json:"storage_immutable"`
}

func (s *srv) overview(w http.ResponseWriter, r *http.Request, c caller) {
	all := readsAllAlerts(c)
	if !all && (c.TenantID == 0 || (c.Role != store.RoleTenantAdmin && c.Role != store.RoleAuditor)) {
		s.refuse(r, c, "", http.StatusForbidden, w, "access denied: only an operator, an auditor or a tenant admin may read the overview")
		return
	}
	tenants, err := s.st.ListTenants(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	now := s.now()
	out := overviewJSON{At: now.UTC(), Tenants: []tenantOverviewJSON{}}
	for _, t := range tenants {
		if !all && t.ID != c.TenantID {
			continue
		}
		o, err := s.tenantOverview(r, t, now)
		if err != nil {
			s.internal(w, r, fmt.Errorf("overview of %s: %w", t.Name, err))
			return
		}
		out.Tenants = append(out.Tenants, o)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *srv) tenantOverview(r *http.Request, t store.Tenant, now time.Time) (tenantOverviewJSON, error) {
	ctx := r.Context()
	o := tenantOverviewJSON{Tenant: t.Name, Sources: []overviewSourceJSON{}, Machines: []overviewMachineJSON{}, Alerts: []alertJSON{},
		Retention: overviewRetentionJSON{LockDays: t.Lock.Days}, Drills: overviewDrillsJSON{Latest: []overviewDrillJSON{}, Never: []string{}}}
	if s.ret != nil && s.ret.Storage != nil {
		o.Retention.Immutable = s.ret.Storage.Immutable()
	}

	// Machines and their snapshots.
	agents, err := s.st.ListAgents(ctx, t.ID)
	if err != nil {
		return o, err
	}
	snaps, err := s.st.Snapshots(ctx, t.ID, false)
	if err != nil {
		return o, err
	}
	flags, err := s.st.SnapshotFlags(ctx, t.ID)
	if err != nil {
		return o, err
	}
	bySource := map[string]*overviewMachineJSON{}
	for _, a := range agents {
		o.Machines = append(o.Machines, overviewMachineJSON{AgentID: a.ID, Host: a.Host, Revoked: !a.Revoked.IsZero()})
	}
	for i := range o.Machines {
		bySource["agent:"+strconv.FormatInt(o.Machines[i].AgentID, 10)] = &o.Machines[i]
	}
	for _, sn := range snaps { // oldest first
		m := bySource[sn.Writer]
		if m == nil {
			continue
		}
		rec, flag := sn.Received.UTC(), flags[sn.Name]
		m.Snapshots++
		m.Latest, m.Verdict = &rec, verdictOf(flag)
		if flag == store.FlagNone || flag == store.FlagClean {
			m.LatestClean = &rec
		}
		if !sn.LockUntil.IsZero() && (m.LockedUntil == nil || sn.LockUntil.After(*m.LockedUntil)) {
			lock := sn.LockUntil.UTC()
			m.LockedUntil = &lock
		}
	}

	// Open alerts; a Sentinel one freezes retention.
	alerts, err := s.st.Alerts(ctx, store.AlertFilter{TenantID: t.ID, State: store.AlertsOpen})
	if err != nil {
		return o, err
	}
	h := hosts{}
	for _, a := range alerts {
		o.Alerts = append(o.Alerts, s.toAlertJSON(ctx, h, a))
	}
	frozen, err := s.st.HasOpenAlert(ctx, t.ID)
	if err != nil {
		return o, err
	}
	o.Retention.Frozen = frozen

	// The plan's sources against their RPO.
	v, err := s.st.PlanVersion(ctx, t.ID, 0)
	if errors.Is(err, store.ErrNotFound) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	p, err := decodePlan(t.Name, v)
	if err != nil {
		return o, err
	}
	an, err := s.planAnalysis(r, t, p, now)
	if err != nil {
		return o, err
	}
	rpo := map[string]continuity.Duration{}
	for _, sv := range p.Services {
		rpo[sv.ID] = sv.RPO
	}
	var ids []string
	for _, sv := range p.InRecoveryOrder() {
		ids = append(ids, sv.ID)
	}
	if o.Drills, err = s.drillsOverview(ctx, t, ids, now); err != nil {
		return o, err
	}
	o.Plan = &overviewPlanJSON{Version: v.Version, Saved: v.Created.UTC(), Services: len(p.Services), Waves: len(an.Waves),
		ReviewedAt: p.ReviewedAt, Errors: an.Errors(), Problems: an.Problems}
	o.Plan.Warnings = len(an.Problems) - o.Plan.Errors
	for _, st := range an.Sources {
		j := overviewSourceJSON{Service: st.Service, Host: st.Source.Host, Path: st.Source.Path, Status: st.Status,
			AgeSeconds: int64(time.Duration(st.Age) / time.Second), RPOSeconds: int64(time.Duration(rpo[st.Service]) / time.Second)}
		if !st.Latest.IsZero() {
			l := st.Latest.UTC()
			j.Latest = &l
		}
		o.Sources = append(o.Sources, j)
	}
	return o, nil
}

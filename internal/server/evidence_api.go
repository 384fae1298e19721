package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/drill"
	"github.com/rempart/rempart/internal/evidence"
	"github.com/rempart/rempart/internal/server/retention"
	"github.com/rempart/rempart/internal/server/store"
)

// The NIS2 evidence report (docs/evidence.md): for a tenant and a period
// (?from=&to=, by default the last 12 months), the facts the server
// records about its backups, drills, plan, alerts, retention and crisis
// rooms, as PDF or CSV. Read-only: auditors, operators and the tenant's
// admin read it; anyone else is refused (and the refusal audited).
// Operators and server-wide auditors also get every tenant in one CSV.

func (s *srv) evidenceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/tenants/{name}/evidence.pdf", s.authed(func(w http.ResponseWriter, r *http.Request, c caller) {
		s.getEvidence(w, r, c, "pdf")
	}))
	mux.HandleFunc("GET /v1/tenants/{name}/evidence.csv", s.authed(func(w http.ResponseWriter, r *http.Request, c caller) {
		s.getEvidence(w, r, c, "csv")
	}))
	mux.HandleFunc("GET /v1/evidence.csv", s.authed(s.getAllEvidence))
}

// evidencePeriod reads ?from= and ?to= (YYYY-MM-DD, a whole day in UTC,
// or RFC 3339); to defaults to now, from to 12 months before to.
func evidencePeriod(r *http.Request, now time.Time) (from, to time.Time, err error) {
	parse := func(name string, end bool) (time.Time, error) {
		v := strings.TrimSpace(r.URL.Query().Get(name))
		if v == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			if end {
				t = t.Add(24*time.Hour - time.Second)
			}
			return t, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("%s=%q: give a date (YYYY-MM-DD) or a time (RFC 3339)", name, v)
	}
	if to, err = parse("to", true); err != nil {
		return
	}
	if from, err = parse("from", false); err != nil {
		return
	}
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = to.AddDate(-1, 0, 0)
	}
	if to.Before(from) {
		err = fmt.Errorf("the period ends (%s) before it starts (%s)", to.UTC().Format(time.DateOnly), from.UTC().Format(time.DateOnly))
	}
	return from.UTC(), to.UTC(), err
}

// mayReadEvidence: operators, auditors (server-wide or of the tenant) and
// the tenant's admin.
func mayReadEvidence(c caller) bool {
	return c.Role == store.RoleOperator || c.Role == store.RoleAuditor || c.Role == store.RoleTenantAdmin
}

func (s *srv) getEvidence(w http.ResponseWriter, r *http.Request, c caller, format string) {
	if !mayReadEvidence(c) {
		s.refuse(r, c, r.PathValue("name"), http.StatusForbidden, w, "access denied: only an auditor, an operator or the tenant's admin may read the evidence report")
		return
	}
	t, ok := s.viewTenant(w, r, c)
	if !ok {
		return
	}
	lang, err := runbookLang(r)
	if err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, err.Error())
		return
	}
	now := s.now()
	from, to, err := evidencePeriod(r, now)
	if err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, err.Error())
		return
	}
	rep, err := s.evidenceReport(r, t, from, to, now)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	var out []byte
	ctype := "text/csv; charset=utf-8; header=present"
	if format == "pdf" {
		out, err = evidence.PDF(rep, lang, nil)
		ctype = "application/pdf"
	} else {
		out, err = evidence.CSV(rep)
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "evidence exported", "actor", c.actor, "tenant", t.Name, "format", format, "lang", lang,
		"from", from, "to", to, "bytes", len(out), "remote", c.remote)
	name := fmt.Sprintf("evidence-%s-%s-%s.%s", t.Name, from.Format("20060102"), to.Format("20060102"), format)
	if format == "pdf" {
		name = fmt.Sprintf("evidence-%s-%s-%s-%s.pdf", t.Name, from.Format("20060102"), to.Format("20060102"), lang)
	}
	writeEvidence(w, ctype, name, out)
}

func writeEvidence(w http.ResponseWriter, ctype, name string, out []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
}

// getAllEvidence is GET /v1/evidence.csv: every tenant, one CSV.
func (s *srv) getAllEvidence(w http.ResponseWriter, r *http.Request, c caller) {
	if !readsAllAlerts(c) {
		s.refuse(r, c, "", http.StatusForbidden, w, "access denied: only an operator or a server-wide auditor may read every tenant's evidence; read your own with GET /v1/tenants/NAME/evidence.csv")
		return
	}
	now := s.now()
	from, to, err := evidencePeriod(r, now)
	if err != nil {
		s.refuse(r, c, "", http.StatusBadRequest, w, err.Error())
		return
	}
	tenants, err := s.st.ListTenants(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	reps := make([]*evidence.Report, 0, len(tenants))
	for _, t := range tenants {
		rep, err := s.evidenceReport(r, t, from, to, now)
		if err != nil {
			s.internal(w, r, fmt.Errorf("evidence of %s: %w", t.Name, err))
			return
		}
		reps = append(reps, rep)
	}
	out, err := evidence.CSV(reps...)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "evidence exported", "actor", c.actor, "tenants", len(tenants), "format", "csv",
		"from", from, "to", to, "bytes", len(out), "remote", c.remote)
	writeEvidence(w, "text/csv; charset=utf-8; header=present",
		fmt.Sprintf("evidence-all-%s-%s.csv", from.Format("20060102"), to.Format("20060102")), out)
}

// evidenceReport gathers what the server records about tenant t and
// computes its report for [from, to]. Backups are measured at the end of
// the period (or now, if it ends later).
func (s *srv) evidenceReport(r *http.Request, t store.Tenant, from, to, now time.Time) (*evidence.Report, error) {
	ctx := r.Context()
	in := evidence.Input{Tenant: t.Name, From: from, To: to, Generated: now,
		Retention: evidence.Retention{LockDays: t.Lock.Days}}
	if pol, err := retention.ParsePolicy(t.Retention); err == nil {
		in.Retention.Policy = pol.String()
	}
	if s.ret != nil && s.ret.Storage != nil {
		in.Retention.Immutable = s.ret.Storage.Immutable()
	}
	frozen, err := s.st.HasOpenAlert(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	in.Retention.Frozen = frozen
	if sc, err := s.st.DrillScheduleOf(ctx, t.ID); err == nil {
		in.Schedule = &evidence.Schedule{EveryDays: sc.EveryDays, At: sc.At, TimeZone: zoneName(s.zone()), Next: sc.Next}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}

	// The plan: its current version and every version's review.
	versions, err := s.st.PlanVersions(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	for i, v := range versions { // newest first
		p, err := decodePlan(t.Name, v)
		if err != nil {
			return nil, err
		}
		pv := evidence.PlanVersion{Version: v.Version, Saved: v.Created, SavedBy: v.CreatedBy, Note: v.Note,
			ReviewedAt: p.ReviewedAt, ReviewedBy: p.ReviewedBy}
		in.Versions = append(in.Versions, pv)
		if i == 0 {
			in.Plan, in.Current = p, pv
		}
	}
	if in.Plan != nil {
		at := to
		if now.Before(at) {
			at = now
		}
		if in.Analysis, err = s.planAnalysis(r, t, in.Plan, at); err != nil {
			return nil, err
		}
	}

	// Drills, with what their evidence says.
	// The newest 10,000 that started by the end of the period: a report of
	// an earlier period is not cut short by the drills run since.
	drills, err := s.st.Drills(ctx, store.DrillFilter{TenantID: t.ID, Until: to, Limit: 10000})
	if err != nil {
		return nil, err
	}
	service := map[int64]string{}
	for _, d := range drills {
		service[d.ID] = d.Service
		var rec drill.Record
		_ = json.Unmarshal(d.Evidence, &rec) // the store keeps what was sent; an unreadable record still counts
		in.Drills = append(in.Drills, evidence.Drill{ID: d.ID, Service: d.Service, Result: d.Result, Started: d.Started,
			RecoverySeconds: rec.RecoverySeconds, RTO: rec.RTO, Digest: rec.Digest, SHA256: d.SHA256, RanBy: d.RanBy, Host: d.Host})
	}

	// Alerts: a Sentinel alert concerns a machine, a drill alert a service.
	alerts, err := s.st.Alerts(ctx, store.AlertFilter{TenantID: t.ID, State: store.AlertsAll})
	if err != nil {
		return nil, err
	}
	agents, err := s.st.ListAgents(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	host := map[string]string{}
	for _, a := range agents {
		host["agent:"+strconv.FormatInt(a.ID, 10)] = a.Host
	}
	for _, a := range alerts {
		e := evidence.Alert{ID: a.ID, Kind: a.Kind, Opened: a.Opened, Closed: a.Closed}
		if a.Kind == store.AlertDrill {
			id, _ := strconv.ParseInt(strings.TrimPrefix(a.Snapshot, "drill:"), 10, 64)
			e.Service = service[id]
		} else {
			e.Host = host[a.Source]
		}
		in.Alerts = append(in.Alerts, e)
	}

	// Crisis rooms: counted, never read.
	rooms, err := s.st.Crisis().ListRooms(ctx, t.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	for _, room := range rooms {
		in.Rooms = append(in.Rooms, room.CreatedAt)
	}
	return evidence.Build(in)
}

package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/server/store"
)

// Continuity plans (docs/continuity.md): every version of a tenant's plan
// is kept; operators and the tenant's admin save new versions (audited),
// those who may read the tenant's settings read them and the recovery
// order, computed with the latest clean snapshot of each machine.

// maxPlanBody bounds PUT /v1/tenants/{t}/plan (a plan file is at most
// continuity.MaxFileSize, and travels as a JSON string).
const maxPlanBody = 3 * continuity.MaxFileSize

func (s *srv) planRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/tenants/{name}/plan", s.authed(s.getPlan))
	mux.HandleFunc("PUT /v1/tenants/{name}/plan", s.authed(s.putPlan))
	mux.HandleFunc("GET /v1/tenants/{name}/plan/versions", s.authed(s.listPlanVersions))
	mux.HandleFunc("GET /v1/tenants/{name}/plan/order", s.authed(s.planOrder))
	s.planCheckRoutes(mux) // drafts checked without saving (plan_check_api.go)
}

// planVersionJSON is a version of a plan as the API shows it.
type planVersionJSON struct {
	Tenant    string    `json:"tenant"`
	Version   int64     `json:"version"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
	Note      string    `json:"note,omitempty"`
	SHA256    string    `json:"sha256"`
	Services  int       `json:"services"`
	// ReviewedAt and ReviewedBy are the plan's own review fields.
	ReviewedAt string           `json:"reviewed_at,omitempty"`
	ReviewedBy string           `json:"reviewed_by,omitempty"`
	Plan       *continuity.Plan `json:"plan,omitempty"`
	// YAML is the file as applied (comments kept), or the canonical
	// export of a version saved as JSON (or when ?format=canonical).
	YAML string `json:"yaml,omitempty"`
	// Changes are what this version changed from the one before (from
	// the base version, in the answer of PUT).
	Changes *continuity.Diff `json:"changes,omitempty"`
	// Unchanged: PUT saved nothing, the plan is the current version's.
	Unchanged bool `json:"unchanged,omitempty"`
}

func (s *srv) planJSON(tenant string, v store.PlanVersion) (planVersionJSON, *continuity.Plan, error) {
	p, err := decodePlan(tenant, v)
	if err != nil {
		return planVersionJSON{}, nil, err
	}
	return planVersionOut(tenant, v, p), p, nil
}

// decodePlan reads the plan of a stored version (canonical JSON, as saved).
func decodePlan(tenant string, v store.PlanVersion) (*continuity.Plan, error) {
	var p continuity.Plan
	if err := json.Unmarshal(v.Plan, &p); err != nil {
		return nil, fmt.Errorf("plan %s version %d: %w", tenant, v.Version, err)
	}
	return &p, nil
}

// planVersionOut is a stored version as the API shows it, given its
// decoded plan (the plan itself and the YAML are left to the caller).
func planVersionOut(tenant string, v store.PlanVersion, p *continuity.Plan) planVersionJSON {
	return planVersionJSON{Tenant: tenant, Version: v.Version, Created: v.Created, CreatedBy: v.CreatedBy, Note: v.Note,
		SHA256: v.SHA256, Services: len(p.Services), ReviewedAt: p.ReviewedAt, ReviewedBy: p.ReviewedBy}
}

// planVersionParam reads ?version=N (0: the latest); on failure it has
// answered.
func (s *srv) planVersionParam(w http.ResponseWriter, r *http.Request, c caller, t store.Tenant) (int64, bool) {
	raw := r.URL.Query().Get("version")
	if raw == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("invalid plan version %q: use a number shown by `rempart plan history`", raw))
		return 0, false
	}
	return n, true
}

// loadPlan returns the version asked for (?version=, else the latest)
// and its decoded plan; on failure it has answered.
func (s *srv) loadPlan(w http.ResponseWriter, r *http.Request, c caller, t store.Tenant) (store.PlanVersion, *continuity.Plan, bool) {
	n, ok := s.planVersionParam(w, r, c, t)
	if !ok {
		return store.PlanVersion{}, nil, false
	}
	v, err := s.st.PlanVersion(r.Context(), t.ID, n)
	switch {
	case errors.Is(err, store.ErrNotFound) && n == 0:
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s has no continuity plan yet: start from the example (`rempart plan example > plan.yaml`, explained in docs/continuity.md), then run `rempart plan apply -f plan.yaml --tenant %s`", t.Name, t.Name))
		return v, nil, false
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s has no plan version %d: see `rempart plan history --tenant %s`", t.Name, n, t.Name))
		return v, nil, false
	case err != nil:
		s.internal(w, r, err)
		return v, nil, false
	}
	p, err := decodePlan(t.Name, v)
	if err != nil {
		s.internal(w, r, err)
		return v, nil, false
	}
	return v, p, true
}

// viewPlan is the tenant in the path and the version of its plan asked
// for, to whoever may read the tenant's settings; on failure it has
// answered.
func (s *srv) viewPlan(w http.ResponseWriter, r *http.Request, c caller) (store.Tenant, store.PlanVersion, *continuity.Plan, bool) {
	t, ok := s.viewTenant(w, r, c)
	if !ok {
		return t, store.PlanVersion{}, nil, false
	}
	v, p, ok := s.loadPlan(w, r, c, t)
	return t, v, p, ok
}

// planAnalysis is the recovery order of plan p of tenant t as of now,
// measured against each machine's latest clean snapshot: what the order
// endpoint, the runbook and the overview all show, so they agree.
func (s *srv) planAnalysis(r *http.Request, t store.Tenant, p *continuity.Plan, now time.Time) (*continuity.Analysis, error) {
	snaps, err := s.latestSnapshots(r, t, now)
	if err != nil {
		return nil, err
	}
	return continuity.Analyse(p, snaps, now), nil
}

// now is the server's clock: the retention's when it has one (tests set
// it), so that ages and deadlines agree with what retention does.
func (s *srv) now() time.Time {
	if s.ret != nil && s.ret.Now != nil {
		return s.ret.Now()
	}
	if s.st != nil {
		return s.st.Now()
	}
	return time.Now()
}

func (s *srv) getPlan(w http.ResponseWriter, r *http.Request, c caller) {
	t, v, p, ok := s.viewPlan(w, r, c)
	if !ok {
		return
	}
	out := planVersionOut(t.Name, v, p)
	out.Plan, out.YAML = p, v.Source
	if out.YAML == "" || r.URL.Query().Get("format") == "canonical" {
		header := fmt.Sprintf("Continuity plan of %s, version %d, saved %s by %s.\nApply a changed copy with: rempart plan apply -f FILE --tenant %s",
			t.Name, v.Version, v.Created.UTC().Format("2006-01-02 15:04 UTC"), v.CreatedBy, t.Name)
		b, err := continuity.Encode(p, header)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out.YAML = string(b)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *srv) listPlanVersions(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.viewTenant(w, r, c)
	if !ok {
		return
	}
	list, err := s.st.PlanVersions(r.Context(), t.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]planVersionJSON, len(list))
	plans := make([]*continuity.Plan, len(list))
	for i, v := range list {
		if out[i], plans[i], err = s.planJSON(t.Name, v); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	for i := range out { // newest first: the previous version is next
		var prev *continuity.Plan
		if i+1 < len(plans) {
			prev = plans[i+1]
		}
		d := continuity.Compare(prev, plans[i])
		out[i].Changes = &d
	}
	writeJSON(w, http.StatusOK, out)
}

// putPlan saves a new version if base_version is still the latest.
func (s *srv) putPlan(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	var in struct {
		BaseVersion *int64          `json:"base_version"`
		YAML        string          `json:"yaml"`
		Plan        json.RawMessage `json:"plan"`
		Note        string          `json:"note"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPlanBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("the request body is not the expected JSON: %v", err))
		return
	}
	hasPlan := len(bytes.TrimSpace(in.Plan)) > 0 && string(bytes.TrimSpace(in.Plan)) != "null"
	switch {
	case in.BaseVersion == nil || *in.BaseVersion < 0:
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, "base_version is required: the version your change starts from (0 when the tenant has no plan yet), so that a change made meanwhile is never overwritten")
		return
	case (in.YAML == "") == !hasPlan:
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, "give the plan once: as a YAML file in yaml, or as JSON in plan")
		return
	case len(in.Note) > 1000 || strings.ContainsFunc(in.Note, func(r rune) bool { return r < ' ' }):
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, "the note is one line of at most 1000 bytes")
		return
	}
	var p *continuity.Plan
	var err error
	if in.YAML != "" {
		p, err = continuity.Decode([]byte(in.YAML))
	} else {
		p, err = continuity.ParseJSON(in.Plan)
	}
	if err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, err.Error())
		return
	}
	canon, err := p.MarshalCanonical()
	if err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, err.Error())
		return
	}
	var prev *continuity.Plan
	cur, err := s.st.PlanVersion(r.Context(), t.ID, 0)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.internal(w, r, err)
		return
	default:
		// The same plan (comments and layout aside) is not a new version.
		if cur.Version == *in.BaseVersion && bytes.Equal(cur.Plan, canon) {
			out, p, err := s.planJSON(t.Name, cur)
			if err != nil {
				s.internal(w, r, err)
				return
			}
			out.Plan, out.Unchanged, out.Changes = p, true, &continuity.Diff{Added: []string{}, Removed: []string{}, Changed: []continuity.Change{}}
			writeJSON(w, http.StatusOK, out)
			return
		}
		if _, prev, err = s.planJSON(t.Name, cur); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	v, err := s.st.SavePlanVersion(r.Context(), store.NewPlanVersion{TenantID: t.ID, Base: *in.BaseVersion, CreatedBy: c.actor,
		Note: in.Note, Plan: canon, Source: in.YAML})
	switch {
	case errors.Is(err, store.ErrConflict):
		latest, lerr := s.st.PlanVersion(r.Context(), t.ID, 0)
		msg := fmt.Sprintf("the plan of %s changed meanwhile: your change starts from version %d", t.Name, *in.BaseVersion)
		if lerr == nil {
			msg += fmt.Sprintf(", but version %d was saved by %s at %s", latest.Version, latest.CreatedBy, latest.Created.UTC().Format("2006-01-02 15:04 UTC"))
		}
		msg += ". Nothing was saved: look at the latest version (`rempart plan export`), merge your change into it and apply again"
		s.refuse(r, c, t.Name, http.StatusConflict, w, msg)
		return
	case errors.Is(err, store.ErrInvalid):
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, "the plan is too large (2 MiB at most)")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	d := continuity.Compare(prev, p)
	s.audit(r.Context(), c.actor, "plan.update", t.Name, map[string]any{
		"version": v.Version, "base_version": *in.BaseVersion, "sha256": v.SHA256, "services": len(p.Services),
		"added": d.Added, "removed": d.Removed, "changed": d.Changed, "plan_fields": d.Plan, "note": v.Note, "from": c.remote,
	})
	out, _, err := s.planJSON(t.Name, v)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out.Plan, out.Changes = p, &d
	writeJSON(w, http.StatusCreated, out)
}

// planOrderJSON is the recovery order of a version of the plan.
type planOrderJSON struct {
	Tenant  string `json:"tenant"`
	Version int64  `json:"version"`
	*continuity.Analysis
}

func (s *srv) planOrder(w http.ResponseWriter, r *http.Request, c caller) {
	t, v, p, ok := s.viewPlan(w, r, c)
	if !ok {
		return
	}
	an, err := s.planAnalysis(r, t, p, s.now())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, planOrderJSON{Tenant: t.Name, Version: v.Version, Analysis: an})
}

// latestSnapshots is, for each machine (agent) of the tenant, its latest
// snapshot still stored that Sentinel did not flag suspect or infected:
// the restore point a recovery would use. The server cannot read which
// folders a snapshot holds, so the path is left empty (every path of the
// host).
func (s *srv) latestSnapshots(r *http.Request, t store.Tenant, now time.Time) ([]continuity.Snapshot, error) {
	agents, err := s.st.ListAgents(r.Context(), t.ID)
	if err != nil {
		return nil, err
	}
	out := []continuity.Snapshot{}
	for _, a := range agents {
		rec, err := s.st.LastCleanSnapshot(r.Context(), t.ID, "agent:"+strconv.FormatInt(a.ID, 10), now.Add(time.Minute)) // received up to now
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, continuity.Snapshot{Host: a.Host, Latest: rec.Received})
	}
	return out, nil
}

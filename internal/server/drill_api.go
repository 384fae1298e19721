package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/drill"
	"github.com/rempart/rempart/internal/server/notify"
	"github.com/rempart/rempart/internal/server/store"
)

// Restore drills (docs/drills.md): a town runs a drill where its
// passphrase is (`rempart drill run`) and sends the evidence here. The
// server keeps every record with who sent it; a failed or slow drill opens
// an alert of kind drill (it does not freeze retention: only Sentinel
// alerts do), audited and notified like the others.

// maxDrillBody bounds POST /v1/tenants/{t}/drills.
const maxDrillBody = 2 << 20

func (s *srv) drillRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/tenants/{name}/drills", s.authedOrAgent(s.recordDrill))
	mux.HandleFunc("GET /v1/tenants/{name}/drills", s.authed(s.listDrills))
	mux.HandleFunc("GET /v1/tenants/{name}/drills/{id}", s.authed(s.getDrill))
	mux.HandleFunc("GET /v1/tenants/{name}/drill-services", s.authedOrAgent(s.drillServices))
}

// drillServicesOut is what a drill needs of the plan: the latest
// version's services with their RTO, sources and health check (no
// contacts, no fallback: an agent reads it).
type drillServicesOut struct {
	Tenant   string            `json:"tenant"`
	Version  int64             `json:"version"`
	Services []drillServiceOut `json:"services"`
}

type drillServiceOut struct {
	ID          string                 `json:"id"`
	Name        string                 `json:"name"`
	Criticality continuity.Criticality `json:"criticality"`
	RTO         continuity.Duration    `json:"rto"`
	RPO         continuity.Duration    `json:"rpo"`
	Sources     []continuity.Source    `json:"sources"`
	HealthCheck string                 `json:"health_check,omitempty"`
}

// drillServices serves GET /v1/tenants/{t}/drill-services: the tenant's
// agents (which run drills where the passphrase is) and whoever may
// record or read its drills.
func (s *srv) drillServices(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.agentOr(w, r, c, s.readDrillsOf)
	if !ok {
		return
	}
	v, err := s.st.PlanVersion(r.Context(), t.ID, 0)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s has no continuity plan yet: a drill restores the services of the plan (`rempart plan apply -f plan.yaml --tenant %s`)", t.Name, t.Name))
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
	out := drillServicesOut{Tenant: t.Name, Version: v.Version, Services: []drillServiceOut{}}
	for _, sv := range p.Services {
		out.Services = append(out.Services, drillServiceOut{ID: sv.ID, Name: sv.Name, Criticality: sv.Criticality, RTO: sv.RTO, RPO: sv.RPO,
			Sources: sv.Sources, HealthCheck: sv.HealthCheck})
	}
	writeJSON(w, http.StatusOK, out)
}

// agentTenant is the tenant in the path if it is the agent's own;
// otherwise it has answered 403.
func (s *srv) agentTenant(w http.ResponseWriter, r *http.Request, c caller) (store.Tenant, bool) {
	name := r.PathValue("name")
	tn, err := s.st.TenantByName(r.Context(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, err)
		return tn, false
	}
	if err != nil || tn.ID != c.TenantID {
		s.refuse(r, c, name, http.StatusForbidden, w, fmt.Sprintf("access denied to tenant %q: a machine sees its own tenant's drills only", name))
		return tn, false
	}
	return tn, true
}

// agentOr resolves the tenant in the path for the drill calls agents may
// make: an agent gets its own tenant only (agentTenant), anyone else goes
// through check, which says who may.
func (s *srv) agentOr(w http.ResponseWriter, r *http.Request, c caller,
	check func(http.ResponseWriter, *http.Request, caller) (store.Tenant, bool)) (store.Tenant, bool) {
	if c.Role == store.RoleAgent {
		return s.agentTenant(w, r, c)
	}
	return check(w, r, c)
}

// authedOrAgent is authed that also lets agents through: recording a
// drill is the one administration call a backed-up machine makes, and
// only for its own tenant (the handler checks).
func (s *srv) authedOrAgent(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearer(w, r, "not signed in: run `rempart login URL --user NAME`, or `rempart agent join` on a backed-up machine")
		if !ok {
			return
		}
		h(w, r, c)
	}
}

// drillOut is a drill as the API shows it: the record as sent, with what
// the server adds (its ID, tenant, who sent it, when, the alert).
type drillOut struct {
	*drill.Record
	SHA256 string `json:"sha256"`
}

func (s *srv) drillJSON(tenant string, d store.Drill) (drillOut, error) {
	var rec drill.Record
	if err := json.Unmarshal(d.Evidence, &rec); err != nil {
		return drillOut{}, fmt.Errorf("drill %d: %w", d.ID, err)
	}
	rec.ID, rec.Tenant, rec.RecordedBy, rec.Recorded, rec.AlertID = d.ID, tenant, d.RecordedBy, d.Recorded, d.AlertID
	return drillOut{Record: &rec, SHA256: d.SHA256}, nil
}

// readDrills: operators, server-wide auditors, the tenant's admin and
// auditors.
func (s *srv) readDrillsOf(w http.ResponseWriter, r *http.Request, c caller) (store.Tenant, bool) {
	if c.Role != store.RoleOperator && c.Role != store.RoleAuditor && c.Role != store.RoleTenantAdmin {
		s.refuse(r, c, r.PathValue("name"), http.StatusForbidden, w, "access denied: only an operator, an auditor or the tenant's admin may read drills")
		return store.Tenant{}, false
	}
	return s.viewTenant(w, r, c)
}

func (s *srv) recordDrill(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.agentOr(w, r, c, s.manageTenant)
	if !ok {
		return
	}
	var rec drill.Record
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDrillBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("the request body is not a drill record: %v", err))
		return
	}
	var requestID int64
	if raw := r.URL.Query().Get("request"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 {
			s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("request=%q: the ID of the drill request this drill answers", raw))
			return
		}
		requestID = n
	}
	// What the server sets is never taken from the client.
	rec.ID, rec.Tenant, rec.RecordedBy, rec.AlertID, rec.Recorded = 0, "", "", 0, time.Time{}
	if err := rec.Check(); err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, err.Error())
		return
	}
	evidence, err := json.Marshal(&rec)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	alert := rec.Result != drill.Passed
	d, a, err := s.st.RecordDrill(r.Context(), store.NewDrill{TenantID: t.ID, Service: rec.Service, Result: rec.Result,
		Started: rec.Started, Finished: rec.Finished, RecordedBy: c.actor, RanBy: rec.RanBy, Host: rec.Host, Evidence: evidence,
		Alert: alert, AlertDetail: rec.Summary(), RequestID: requestID})
	switch {
	case requestID != 0 && errors.Is(err, store.ErrNotFound):
		s.refuse(r, c, t.Name, http.StatusNotFound, w, fmt.Sprintf("%s has no drill request %d", t.Name, requestID))
		return
	case errors.Is(err, store.ErrConflict):
		s.refuse(r, c, t.Name, http.StatusConflict, w, fmt.Sprintf("drill request %d was not claimed by you: record the drill without ?request=", requestID))
		return
	case errors.Is(err, store.ErrInvalid):
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, "invalid drill record: "+err.Error())
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "drill.record", t.Name, map[string]any{
		"drill_id": d.ID, "service": rec.Service, "result": rec.Result, "reasons": rec.Reasons, "ran_by": rec.RanBy, "host": rec.Host,
		"files": rec.Files, "bytes": rec.Bytes, "digest": rec.Digest, "recovery_seconds": rec.RecoverySeconds, "rto": rec.RTO.String(),
		"sha256": d.SHA256, "alert_id": d.AlertID, "request_id": requestID, "from": c.remote,
	})
	if a != nil {
		s.log.WarnContext(r.Context(), "DRILL ALERT: a restore drill "+rec.Result, "tenant", t.Name, "alert", a.ID, "drill", d.ID,
			"service", rec.Service, "reasons", strings.Join(rec.Reasons, "; "))
		s.audit(r.Context(), "server", "drill.alert.open", t.Name, map[string]any{
			"alert_id": a.ID, "drill_id": d.ID, "service": rec.Service, "result": rec.Result, "reasons": rec.Reasons,
		})
		if s.notify != nil {
			ev := s.notify.NewEvent(notify.KindDrillAlert, t.Name)
			opened := a.Opened
			ev.AlertID, ev.DrillID, ev.Service, ev.Result, ev.Reasons, ev.Source, ev.Received = a.ID, d.ID, rec.Service, rec.Result, rec.Reasons, c.actor, &opened
			s.notify.Enqueue(r.Context(), ev)
		}
	}
	out, err := s.drillJSON(t.Name, d)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *srv) listDrills(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.readDrillsOf(w, r, c)
	if !ok {
		return
	}
	q := r.URL.Query()
	f := store.DrillFilter{TenantID: t.ID, Service: q.Get("service")}
	if raw := q.Get("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n <= 0 || n > 10000 {
			s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("limit=%q: use a number from 1 to 10000", raw))
			return
		}
		f.Limit = n
	}
	list, err := s.st.Drills(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]drillOut, 0, len(list))
	for _, d := range list {
		j, err := s.drillJSON(t.Name, d)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *srv) getDrill(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.readDrillsOf(w, r, c)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("invalid drill ID %q: use a number shown by `rempart drill list`", r.PathValue("id")))
		return
	}
	d, err := s.st.Drill(r.Context(), t.ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s has no drill %d: see `rempart drill list --tenant %s`", t.Name, id, t.Name))
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	out, err := s.drillJSON(t.Name, d)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// drillAlertJSON completes a drill alert with its drill's service and
// result.
func (s *srv) drillAlertJSON(ctx context.Context, j *alertJSON, a store.Alert) {
	j.Detail, j.Verdict = a.Detail, "failed"
	if rest, ok := strings.CutPrefix(a.Snapshot, store.DrillRequestAlertPrefix); ok {
		if id, err := strconv.ParseInt(rest, 10, 64); err == nil {
			j.RequestID = id
			if q, err := s.st.DrillRequest(ctx, a.TenantID, id); err == nil {
				j.Service = q.Service
			}
		}
		return
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(a.Snapshot, "drill:"), 10, 64)
	if err != nil {
		return
	}
	j.DrillID = id
	if d, err := s.st.Drill(ctx, a.TenantID, id); err == nil {
		j.Service, j.Verdict = d.Service, d.Result
	}
}

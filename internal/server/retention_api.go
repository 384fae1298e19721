package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rempart/rempart/internal/server/retention"
	"github.com/rempart/rempart/internal/server/storage"
	"github.com/rempart/rempart/internal/server/store"
)

// retentionJSON is a tenant's retention as the API shows it.
type retentionJSON struct {
	Tenant     string           `json:"tenant"`
	Policy     retention.Policy `json:"policy"`
	PolicyText string           `json:"policy_text"`
	// Pending is a looser policy waiting for PendingAt.
	Pending     *retention.Policy `json:"pending,omitempty"`
	PendingText string            `json:"pending_text,omitempty"`
	PendingAt   *time.Time        `json:"pending_at,omitempty"`
	LockDays    int               `json:"lock_days"`
	// Immutable: the storage itself enforces locks (S3 Object Lock).
	Immutable bool                    `json:"storage_immutable"`
	LastGC    *store.GCRun            `json:"last_collection,omitempty"`
	Change    *retention.PolicyChange `json:"change,omitempty"`
	// OpenAlerts counts open Sentinel alerts: while there is one, the
	// collection expires no snapshot (see GET /v1/alerts).
	OpenAlerts int `json:"open_alerts"`
}

// viewTenant returns the tenant in the path if c may read its settings:
// operators and auditors of every tenant, tenant admins and auditors of
// their own.
func (s *srv) viewTenant(w http.ResponseWriter, r *http.Request, c caller) (store.Tenant, bool) {
	name := r.PathValue("name")
	t, err := s.st.TenantByName(r.Context(), name)
	all := c.Role == store.RoleOperator || (c.Role == store.RoleAuditor && c.TenantID == 0)
	switch {
	case errors.Is(err, store.ErrNotFound) && all:
		s.refuse(r, c, name, http.StatusNotFound, w, fmt.Sprintf("no tenant named %q: see `rempart tenant list`", name))
		return t, false
	case errors.Is(err, store.ErrNotFound):
		s.refuse(r, c, name, http.StatusForbidden, w, fmt.Sprintf("access denied to tenant %q", name))
		return t, false
	case err != nil:
		s.internal(w, r, err)
		return t, false
	case all || t.ID == c.TenantID:
		return t, true
	}
	s.refuse(r, c, name, http.StatusForbidden, w, fmt.Sprintf("access denied to tenant %q", name))
	return t, false
}

func (s *srv) retentionView(r *http.Request, t store.Tenant) (retentionJSON, error) {
	p, err := retention.ParsePolicy(t.Retention)
	if err != nil {
		return retentionJSON{}, err
	}
	out := retentionJSON{Tenant: t.Name, Policy: p, PolicyText: p.String(), LockDays: t.Lock.Days, Immutable: s.ret.Storage.Immutable()}
	if t.RetentionPending != nil {
		pending, err := retention.ParsePolicy(t.RetentionPending)
		if err != nil {
			return retentionJSON{}, err
		}
		at := t.RetentionPendingAt
		out.Pending, out.PendingText, out.PendingAt = &pending, pending.String(), &at
	}
	alerts, err := s.st.OpenAlerts(r.Context(), t.ID)
	if err != nil {
		return retentionJSON{}, err
	}
	out.OpenAlerts = len(alerts)
	if run, err := s.st.LastGCRun(r.Context(), t.ID); err == nil {
		out.LastGC = &run
	} else if !errors.Is(err, store.ErrNotFound) {
		return retentionJSON{}, err
	}
	return out, nil
}

func (s *srv) getRetention(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.viewTenant(w, r, c)
	if !ok {
		return
	}
	out, err := s.retentionView(r, t)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// setRetention changes the policy and/or the lock. A looser policy waits
// (retention.Service.SetPolicy); a shorter lock is refused.
func (s *srv) setRetention(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	var in struct {
		Policy   json.RawMessage `json:"policy"`
		LockDays *int            `json:"lock_days"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	if in.Policy == nil && in.LockDays == nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, "nothing to change: give a policy, lock_days, or both")
		return
	}
	var change *retention.PolicyChange
	if in.Policy != nil {
		p, err := retention.ParsePolicy(in.Policy)
		if err != nil {
			s.refuse(r, c, t.Name, http.StatusBadRequest, w, err.Error())
			return
		}
		ch, err := s.ret.SetPolicy(r.Context(), c.actor, t, p)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		change = &ch
	}
	if in.LockDays != nil {
		err := s.ret.SetLockDays(r.Context(), c.actor, t, *in.LockDays)
		switch {
		case errors.Is(err, store.ErrLocked):
			s.refuse(r, c, t.Name, http.StatusConflict, w, fmt.Sprintf("the lock of %s is %d days and can never be shortened (asked: %d days)", t.Name, t.Lock.Days, *in.LockDays))
			return
		case errors.Is(err, store.ErrInvalid):
			s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("invalid lock of %d days: use 0 to 36500", *in.LockDays))
			return
		case err != nil:
			s.internal(w, r, err)
			return
		}
	}
	t, err := s.st.TenantByName(r.Context(), t.Name)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out, err := s.retentionView(r, t)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out.Change = change
	writeJSON(w, http.StatusOK, out)
}

// collect runs the tenant's retention now (or shows what it would do).
func (s *srv) collect(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	var in struct {
		DryRun bool `json:"dry_run"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	rep, err := s.ret.Collect(r.Context(), c.actor, t.Name, in.DryRun)
	if err != nil {
		s.log.ErrorContext(r.Context(), "collection failed", "tenant", t.Name, "err", err)
		writeJSON(w, http.StatusInternalServerError, struct {
			retention.Report
			Error string `json:"error"`
		}{rep, err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// startRetention sets up s.ret on the given storage and returns how often
// it collects.
func (s *srv) startRetention(ctx context.Context, cfg Config, st storage.Storage) (time.Duration, error) {
	every, grace, loosen, loc, err := cfg.Retention.parse()
	if err != nil {
		return 0, err
	}
	s.ret = &retention.Service{
		Store: s.st, Storage: st, Now: cfg.Now, Location: loc,
		Grace: grace, LoosenDelay: loosen, Audit: s.audit, Log: s.log,
	}
	s.startAlerts(ctx) // notifications of Sentinel alerts (alerts_api.go)
	s.log.InfoContext(ctx, "retention", "collect_every", every, "grace", grace, "loosen_delay", loosen, "timezone", loc.String(), "storage_immutable", st.Immutable())
	return every, nil
}

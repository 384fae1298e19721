package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/server/notify"
	"github.com/rempart/rempart/internal/server/store"
)

// Sentinel alerts (docs/server.md, "Sentinel alerts"): a snapshot whose
// plain header says suspect or infected opens an alert (retention.Service
// .Committed); while a tenant has an open alert its retention expires
// nothing. People see alerts here and by the tenant's notification
// channels; closing one is an audited admin action.

// maxSettingsBody bounds PUT /v1/tenants/{t}/notifications (two CA
// certificates fit).
const maxSettingsBody = 256 << 10

// alertJSON is an alert as the API shows it.
type alertJSON struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"` // sentinel or drill (a failed or slow restore drill)
	Tenant     string    `json:"tenant"`
	State      string    `json:"state"`   // open or closed
	Verdict    string    `json:"verdict"` // suspect or infected; for a drill: failed or slow
	Snapshot   string    `json:"snapshot"`
	Source     string    `json:"source"` // who sent the snapshot ("agent:12")
	SourceHost string    `json:"source_host,omitempty"`
	Opened     time.Time `json:"opened"` // when the server received the snapshot and opened the alert
	// CleanSnapshot is the last clean snapshot of the same source before
	// the alert's: the restore point, frozen like every other snapshot of
	// the tenant while the alert is open.
	CleanSnapshot string     `json:"clean_snapshot,omitempty"`
	CleanReceived *time.Time `json:"clean_received,omitempty"`
	Closed        *time.Time `json:"closed,omitempty"`
	ClosedBy      string     `json:"closed_by,omitempty"`
	CloseNote     string     `json:"close_note,omitempty"`
	// For a drill alert: the drill, its service and why it failed.
	DrillID int64 `json:"drill_id,omitempty"`
	// RequestID: the drill request that could not run (its alert).
	RequestID int64  `json:"request_id,omitempty"`
	Service   string `json:"service,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

func verdictOf(flag int) string {
	switch flag {
	case store.FlagSuspect:
		return "suspect"
	case store.FlagInfected:
		return "infected"
	case store.FlagClean:
		return "clean"
	}
	return "none"
}

// hosts maps "agent:ID" to the host names agents enrolled with, per
// tenant, for one request.
type hosts map[int64]map[string]string

func (s *srv) hostOf(ctx context.Context, h hosts, tenantID int64, source string) string {
	if _, ok := h[tenantID]; !ok {
		m := map[string]string{}
		if agents, err := s.st.ListAgents(ctx, tenantID); err == nil {
			for _, a := range agents {
				m["agent:"+strconv.FormatInt(a.ID, 10)] = a.Host
			}
		}
		h[tenantID] = m
	}
	return h[tenantID][source]
}

func (s *srv) toAlertJSON(ctx context.Context, h hosts, a store.Alert) alertJSON {
	j := alertJSON{ID: a.ID, Tenant: a.Tenant, State: "open", Verdict: verdictOf(a.Flag), Snapshot: a.Snapshot,
		Source: a.Source, SourceHost: s.hostOf(ctx, h, a.TenantID, a.Source), Opened: a.Opened, CleanSnapshot: a.CleanSnapshot}
	if !a.CleanReceived.IsZero() {
		t := a.CleanReceived
		j.CleanReceived = &t
	}
	if !a.IsOpen() {
		t := a.Closed
		j.State, j.Closed, j.ClosedBy, j.CloseNote = "closed", &t, a.ClosedBy, a.CloseNote
	}
	j.Kind = a.Kind
	if a.Kind == store.AlertDrill {
		s.drillAlertJSON(ctx, &j, a)
	}
	return j
}

// readsAllAlerts: operators and server-wide auditors see every tenant's
// alerts; tenant admins and tenant auditors their own tenant's.
func readsAllAlerts(c caller) bool {
	return c.Role == store.RoleOperator || (c.Role == store.RoleAuditor && c.TenantID == 0)
}

func mayReadAlert(c caller, a store.Alert) bool {
	return readsAllAlerts(c) || ((c.Role == store.RoleTenantAdmin || c.Role == store.RoleAuditor) && c.TenantID == a.TenantID)
}

// listAlerts serves GET /v1/alerts?tenant=NAME&state=open|closed|all.
func (s *srv) listAlerts(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.URL.Query()
	f := store.AlertFilter{}
	switch q.Get("state") {
	case "", "open":
		f.State = store.AlertsOpen
	case "closed":
		f.State = store.AlertsClosed
	case "all":
		f.State = store.AlertsAll
	default:
		s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("state=%q: use open (the default), closed or all", q.Get("state")))
		return
	}
	name := q.Get("tenant")
	if !readsAllAlerts(c) {
		if c.Role != store.RoleTenantAdmin && c.Role != store.RoleAuditor {
			s.refuse(r, c, name, http.StatusForbidden, w, "access denied: only an operator, an auditor or a tenant admin may read alerts")
			return
		}
		own, err := s.tenantName(r.Context(), c.TenantID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if name != "" && name != own {
			s.refuse(r, c, name, http.StatusForbidden, w, fmt.Sprintf("access denied to the alerts of tenant %q: you may read only your tenant's (%s)", name, own))
			return
		}
		f.TenantID = c.TenantID
	} else if name != "" {
		t, err := s.st.TenantByName(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			s.refuse(r, c, name, http.StatusNotFound, w, fmt.Sprintf("no tenant named %q: see `rempart tenant list`", name))
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		f.TenantID = t.ID
	}
	list, err := s.st.Alerts(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	h := hosts{}
	out := make([]alertJSON, 0, len(list))
	for _, a := range list {
		out = append(out, s.toAlertJSON(r.Context(), h, a))
	}
	writeJSON(w, http.StatusOK, out)
}

// alertInPath returns the alert named in the path if c may read it;
// otherwise it has answered (404 for an alert c may not see: whether it
// exists is not told).
func (s *srv) alertInPath(w http.ResponseWriter, r *http.Request, c caller) (store.Alert, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("invalid alert ID %q: use the number shown by `rempart alert list`", r.PathValue("id")))
		return store.Alert{}, false
	}
	a, err := s.st.Alert(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.internal(w, r, err)
		return a, false
	case mayReadAlert(c, a):
		return a, true
	}
	s.refuse(r, c, "", http.StatusNotFound, w, fmt.Sprintf("no alert %d that you may see: see `rempart alert list --all`", id))
	return store.Alert{}, false
}

func (s *srv) getAlert(w http.ResponseWriter, r *http.Request, c caller) {
	a, ok := s.alertInPath(w, r, c)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.toAlertJSON(r.Context(), hosts{}, a))
}

// closeAlert serves POST /v1/alerts/{id}/close {note}: an operator or the
// tenant's admin, with a note saying what was done; audited; once.
func (s *srv) closeAlert(w http.ResponseWriter, r *http.Request, c caller) {
	a, ok := s.alertInPath(w, r, c)
	if !ok {
		return
	}
	if c.Role != store.RoleOperator && (c.Role != store.RoleTenantAdmin || c.TenantID != a.TenantID) {
		s.refuse(r, c, a.Tenant, http.StatusForbidden, w, fmt.Sprintf("access denied: only an operator or the admin of tenant %s may close its alerts", a.Tenant))
		return
	}
	var in struct {
		Note string `json:"note"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	note := strings.TrimSpace(in.Note)
	if note == "" || len(note) > 4000 {
		s.refuse(r, c, a.Tenant, http.StatusBadRequest, w, "say what was done in a note of 1 to 4000 characters (e.g. \"PC reinstalled, files restored from the clean snapshot\"): it goes to the audit trail")
		return
	}
	closed, err := s.st.CloseAlert(r.Context(), a.ID, c.actor, note)
	switch {
	case errors.Is(err, store.ErrAlreadyClosed):
		s.refuse(r, c, a.Tenant, http.StatusConflict, w, fmt.Sprintf("alert %d was already closed on %s by %s", a.ID,
			closed.Closed.Format("2006-01-02 15:04 MST"), closed.ClosedBy))
		return
	case errors.Is(err, store.ErrInvalid):
		s.refuse(r, c, a.Tenant, http.StatusBadRequest, w, "the note must be valid text of at most 4000 characters")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	open, err := s.st.HasOpenAlert(r.Context(), a.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if a.Kind == store.AlertDrill { // no retention to speak of, no Sentinel notification
		s.audit(r.Context(), c.actor, "drill.alert.close", a.Tenant, map[string]any{"alert_id": a.ID, "drill": a.Snapshot, "note": note, "from": c.remote})
		writeJSON(w, http.StatusOK, s.toAlertJSON(r.Context(), hosts{}, closed))
		return
	}
	s.audit(r.Context(), c.actor, "sentinel.alert.close", a.Tenant, map[string]any{
		"alert_id": a.ID, "snapshot": a.Snapshot, "verdict": verdictOf(a.Flag), "note": note,
		"other_alerts_open": open, "from": c.remote,
	})
	s.log.InfoContext(r.Context(), "sentinel alert closed", "alert", a.ID, "tenant", a.Tenant, "by", c.actor, "retention_frozen", open)
	if s.notify != nil {
		ev := s.alertEvent(r.Context(), notify.KindAlertClosed, closed)
		ev.ClosedBy, ev.Note = closed.ClosedBy, closed.CloseNote
		s.notify.Enqueue(r.Context(), ev)
	}
	writeJSON(w, http.StatusOK, s.toAlertJSON(r.Context(), hosts{}, closed))
}

// startAlerts starts the notifier and connects it to retention.
func (s *srv) startAlerts(ctx context.Context) {
	o := notify.Options{Load: s.loadNotifySettings, Audit: s.audit, Log: s.log}
	if s.ret != nil && s.ret.Now != nil {
		o.Now = s.ret.Now
	}
	s.notify = notify.New(o)
	go s.notify.Run(ctx, 2)
	if s.ret != nil {
		s.ret.Notify = func(ctx context.Context, a store.Alert) {
			s.notify.Enqueue(ctx, s.alertEvent(ctx, notify.KindAlertOpen, a))
		}
	}
}

// alertEvent describes an alert for the notifications.
func (s *srv) alertEvent(ctx context.Context, kind string, a store.Alert) notify.Event {
	ev := s.notify.NewEvent(kind, a.Tenant)
	opened := a.Opened
	ev.AlertID, ev.Snapshot, ev.Verdict, ev.Source, ev.Received = a.ID, a.Snapshot, verdictOf(a.Flag), a.Source, &opened
	ev.SourceHost = s.hostOf(ctx, hosts{}, a.TenantID, a.Source)
	if a.CleanSnapshot != "" {
		clean := a.CleanReceived
		ev.CleanSnapshot, ev.CleanReceived = a.CleanSnapshot, &clean
	}
	return ev
}

func (s *srv) loadNotifySettings(ctx context.Context, tenant string) (notify.Settings, error) {
	t, err := s.st.TenantByName(ctx, tenant)
	if err != nil {
		return notify.Settings{}, err
	}
	return s.tenantNotifySettings(ctx, t)
}

func (s *srv) tenantNotifySettings(ctx context.Context, t store.Tenant) (notify.Settings, error) {
	raw, err := s.st.NotificationSettings(ctx, t.ID)
	if err != nil {
		return notify.Settings{}, err
	}
	return notify.Parse(raw)
}

// notificationsJSON is a tenant's settings as the API shows them: secrets
// masked.
type notificationsJSON struct {
	Tenant string `json:"tenant"`
	notify.View
}

func (s *srv) getNotifications(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.viewTenant(w, r, c)
	if !ok {
		return
	}
	set, err := s.tenantNotifySettings(r.Context(), t)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, notificationsJSON{Tenant: t.Name, View: set.View()})
}

// setNotifications serves PUT /v1/tenants/{t}/notifications: channels not
// named stay, null turns one off, an object replaces one (its secrets kept
// when absent); see notify.Update.
func (s *srv) setNotifications(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	if err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("the request body could not be read (at most %d KiB): %v", maxSettingsBody>>10, err))
		return
	}
	cur, err := s.tenantNotifySettings(r.Context(), t)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	next, err := notify.Update(cur, body)
	if errors.Is(err, notify.ErrInvalid) {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.st.SetNotificationSettings(r.Context(), t.ID, next.JSON()); err != nil {
		s.internal(w, r, err)
		return
	}
	view := next.View()
	var shown map[string]any // the masked view: never a secret in the trail
	if b, err := json.Marshal(view); err == nil {
		_ = json.Unmarshal(b, &shown)
	}
	if shown == nil {
		shown = map[string]any{}
	}
	shown["from"] = c.remote
	s.audit(r.Context(), c.actor, "sentinel.notify.set", t.Name, shown)
	writeJSON(w, http.StatusOK, notificationsJSON{Tenant: t.Name, View: view})
}

// testNotifications sends a test message to each configured channel now
// and reports each.
func (s *srv) testNotifications(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	set, err := s.tenantNotifySettings(r.Context(), t)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if set.Empty() {
		s.refuse(r, c, t.Name, http.StatusConflict, w, fmt.Sprintf("tenant %s has no notification channel: set one first, e.g. `rempart tenant notify %s --webhook URL`", t.Name, t.Name))
		return
	}
	if s.notify == nil {
		writeError(w, http.StatusServiceUnavailable, "notifications are not running on this server")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	defer cancel()
	results := s.notify.Send(ctx, set, s.notify.NewEvent(notify.KindTest, t.Name), false)
	failed := 0
	for _, res := range results {
		if !res.OK {
			failed++
		}
	}
	s.audit(r.Context(), c.actor, "sentinel.notify.test", t.Name, map[string]any{"results": results, "from": c.remote})
	writeJSON(w, http.StatusOK, map[string]any{"tenant": t.Name, "results": results, "failed": failed})
}

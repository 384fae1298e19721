package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/server/notify"
	"github.com/rempart/rempart/internal/server/repoapi"
	"github.com/rempart/rempart/internal/server/retention"
	"github.com/rempart/rempart/internal/server/store"
)

// sessionTTL is how long a token from /v1/login lasts.
const sessionTTL = 12 * time.Hour

// maxJSONBody bounds the administration API's request bodies.
const maxJSONBody = 64 << 10

// srv holds what the handlers share.
type srv struct {
	st      *store.Store
	log     *slog.Logger
	metrics *metrics
	ret     *retention.Service
	notify  *notify.Notifier // Sentinel alerts' notifications (alerts_api.go)
	crisis  http.Handler     // the crisis room relay, /v1/crisis/ (crisis.go); nil: 503
	webapp  http.Handler     // the web app, /crisis/ (crisis.go); nil: 503
	caPEM   []byte           // the local CA's certificate, served at /ca.crt
	facts   serverFacts      // public URL, crisis room, CA fingerprint: what the runbook prints (runbook_api.go)
	logins  *loginLimiter    // sign-in throttling (loginlimit.go); nil: none
	totp    totpSeen         // one-time codes already used to sign in
	loc     *time.Location   // the time zone of drill schedules; nil: the server's (drill_requests_api.go)
}

// routes builds the server's handler. The repository API is dispatched
// before the mux, which would clean paths that repoapi checks itself.
func (s *srv) routes(repos http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /metrics", s.metrics.serve)
	mux.HandleFunc("GET /ca.crt", s.serveCA)
	mux.HandleFunc("POST /v1/login", s.login)
	mux.HandleFunc("GET /v1/tenants", s.authed(s.listTenants))
	mux.HandleFunc("POST /v1/tenants", s.authed(s.createTenant))
	mux.HandleFunc("POST /v1/tenants/{name}/enrolments", s.authed(s.createEnrolment))
	mux.HandleFunc("GET /v1/tenants/{name}/agents", s.authed(s.listAgents))
	mux.HandleFunc("POST /v1/enrol", s.enrol)
	mux.HandleFunc("DELETE /v1/agents/{id}", s.authed(s.revokeAgent))
	mux.HandleFunc("GET /v1/audit", s.authed(s.listAudit))
	mux.HandleFunc("GET /v1/accounts", s.authed(s.listAccounts))
	mux.HandleFunc("POST /v1/accounts", s.authed(s.createAccount))
	mux.HandleFunc("POST /v1/accounts/{username}/disable", s.authed(s.disableAccount))
	mux.HandleFunc("POST /v1/accounts/{username}/enable", s.authed(s.enableAccount))
	mux.HandleFunc("POST /v1/accounts/{username}/password", s.authed(s.resetPassword))
	mux.HandleFunc("DELETE /v1/accounts/{username}/totp", s.authed(s.resetTOTP))
	mux.HandleFunc("GET /v1/account", s.authed(s.whoami))
	mux.HandleFunc("POST /v1/account/password", s.authed(s.changeOwnPassword))
	mux.HandleFunc("POST /v1/account/totp", s.authed(s.beginTOTP))
	mux.HandleFunc("POST /v1/account/totp/confirm", s.authed(s.confirmTOTP))
	mux.HandleFunc("DELETE /v1/account/totp", s.authed(s.disableOwnTOTP))
	mux.HandleFunc("GET /v1/tokens", s.authed(s.listTokens))
	mux.HandleFunc("POST /v1/tokens", s.authed(s.createToken))
	mux.HandleFunc("DELETE /v1/tokens/{id}", s.authed(s.revokeToken))
	mux.HandleFunc("GET /v1/tenants/{name}/retention", s.authed(s.getRetention))
	mux.HandleFunc("PUT /v1/tenants/{name}/retention", s.authed(s.setRetention))
	mux.HandleFunc("POST /v1/tenants/{name}/gc", s.authed(s.collect))
	mux.HandleFunc("GET /v1/alerts", s.authed(s.listAlerts))
	mux.HandleFunc("GET /v1/alerts/{id}", s.authed(s.getAlert))
	mux.HandleFunc("POST /v1/alerts/{id}/close", s.authed(s.closeAlert))
	mux.HandleFunc("GET /v1/tenants/{name}/notifications", s.authed(s.getNotifications))
	mux.HandleFunc("PUT /v1/tenants/{name}/notifications", s.authed(s.setNotifications))
	mux.HandleFunc("POST /v1/tenants/{name}/notifications/test", s.authed(s.testNotifications))
	s.planRoutes(mux)                                        // continuity plans (plan_api.go)
	s.runbookRoutes(mux)                                     // the printable runbook (runbook_api.go)
	s.drillRoutes(mux)                                       // restore drills (drill_api.go)
	s.drillRequestRoutes(mux)                                // drills requested and scheduled (drill_requests_api.go)
	s.evidenceRoutes(mux)                                    // the NIS2 evidence report (evidence_api.go)
	mux.HandleFunc("GET /v1/overview", s.authed(s.overview)) // the web console's first screen (overview_api.go)
	if s.crisis != nil {
		mux.Handle("/v1/crisis/", s.crisis)
	} else {
		mux.HandleFunc("/v1/crisis/", func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusServiceUnavailable, "the crisis room relay is not running on this server")
		})
	}
	webapp := s.webapp
	if webapp == nil {
		webapp = newWebApp(nil)
	}
	mux.Handle("/crisis/", webapp)
	mux.Handle("/console/", webapp) // the web console, same build (crisis.go)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusFound)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s.metrics.wrap(func(w http.ResponseWriter, r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, repoapi.Prefix) {
			repos.ServeHTTP(w, r)
			return "/v1/repos"
		}
		mux.ServeHTTP(w, r)
		if r.Pattern == "" || r.Pattern == "/" {
			return "other"
		}
		return r.Pattern
	})
}

// caller is who sent an administration request.
type caller struct {
	store.Principal
	actor  string // for the audit trail
	remote string
}

// authed checks the bearer token; agents never reach the administration
// API (least privilege: an agent can only use its tenant's repository).
func (s *srv) authed(h func(http.ResponseWriter, *http.Request, caller)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.bearer(w, r, "not signed in: run `rempart login URL --user NAME` first")
		if !ok {
			return
		}
		if c.Role == store.RoleAgent {
			s.refuse(r, c, "", http.StatusForbidden, w, "access denied: a backed-up machine (agent) may only use its own repository, not administer the server")
			return
		}
		h(w, r, c)
	}
}

// bearer is who the request's bearer token belongs to; on failure it has
// answered (401, or 503 if the store cannot check), saying notSignedIn
// when there is no token at all. It lets agents through: the caller
// decides whether they may go on (authed, authedOrAgent).
func (s *srv) bearer(w http.ResponseWriter, r *http.Request, notSignedIn string) (caller, bool) {
	c := caller{actor: "anonymous", remote: r.RemoteAddr}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(tok) == "" {
		s.refuse(r, c, "", http.StatusUnauthorized, w, notSignedIn)
		return c, false
	}
	p, err := s.st.CheckToken(r.Context(), strings.TrimSpace(tok))
	switch {
	case errors.Is(err, store.ErrInvalidToken), errors.Is(err, store.ErrTokenExpired):
		s.refuse(r, c, "", http.StatusUnauthorized, w, "your session is invalid or has expired: sign in again with `rempart login`")
		return c, false
	case err != nil:
		s.log.ErrorContext(r.Context(), "checking a token", "err", err)
		writeError(w, http.StatusServiceUnavailable, "the server cannot check credentials right now; try again later")
		return c, false
	}
	c.Principal = p
	if p.AgentID != 0 {
		c.actor = "agent:" + strconv.FormatInt(p.AgentID, 10)
	} else {
		c.actor = "account:" + p.Username
	}
	return c, true
}

// audit appends an event; a failure is logged, never shown to the client.
func (s *srv) audit(ctx context.Context, actor, action, tenant string, detail map[string]any) {
	var raw json.RawMessage
	if detail != nil {
		b, err := json.Marshal(detail)
		if err == nil {
			raw = b
		}
	}
	if _, err := s.st.AppendAudit(context.WithoutCancel(ctx), store.AuditEvent{Actor: actor, Action: action, Tenant: tenant, Detail: raw}); err != nil {
		s.log.ErrorContext(ctx, "cannot write to the audit trail", "action", action, "err", err)
	}
}

// repoAudit receives the repository API's refusals.
func (s *srv) repoAudit(ctx context.Context, p repoapi.Principal, action, detail string) {
	actor := p.ID
	if actor == "" {
		actor = "anonymous"
	}
	s.audit(ctx, actor, action, p.Tenant, map[string]any{"detail": detail})
}

// refuse answers an error and writes the refusal to the audit trail.
func (s *srv) refuse(r *http.Request, c caller, tenant string, code int, w http.ResponseWriter, msg string) {
	s.audit(r.Context(), c.actor, "api.refused", tenant, map[string]any{
		"method": r.Method, "path": r.URL.Path, "status": code, "reason": msg, "from": c.remote,
	})
	s.log.WarnContext(r.Context(), "request refused", "actor", c.actor, "method", r.Method, "path", r.URL.Path, "status", code, "reason", msg)
	writeError(w, code, msg)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// readJSON decodes a small JSON body; on failure it has answered 400.
func (s *srv) readJSON(w http.ResponseWriter, r *http.Request, c caller, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("the request body is not the expected JSON: %v", err))
		return false
	}
	return true
}

// tenantName returns the name of a tenant ID ("" for none).
func (s *srv) tenantName(ctx context.Context, id int64) (string, error) {
	if id == 0 {
		return "", nil
	}
	list, err := s.st.ListTenants(ctx)
	if err != nil {
		return "", fmt.Errorf("list tenants: %w", err)
	}
	for _, t := range list {
		if t.ID == id {
			return t.Name, nil
		}
	}
	return "", fmt.Errorf("tenant %d: %w", id, store.ErrNotFound)
}

func (s *srv) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error on the server (see its log)")
}

func (s *srv) login(w http.ResponseWriter, r *http.Request) {
	c := caller{actor: "anonymous", remote: r.RemoteAddr}
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		TOTP     string `json:"totp"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	user := strings.ToLower(strings.TrimSpace(in.Username))
	c.actor = "account:" + user
	if s.logins != nil {
		if blocked, wait := s.logins.blocked(user, r.RemoteAddr); blocked {
			wait = max(wait.Round(time.Minute), time.Minute)
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
			s.refuse(r, c, "", http.StatusTooManyRequests, w,
				fmt.Sprintf("too many failed sign-ins for this account or from this address: wait %s, then try again (an operator can reset a forgotten password with `rempart account password`)", wait))
			return
		}
	}
	a, err := s.st.Authenticate(r.Context(), in.Username, in.Password)
	switch {
	case errors.Is(err, store.ErrInvalidCredentials), errors.Is(err, store.ErrAccountDisabled):
		s.loginFailed(user, r.RemoteAddr)
		s.refuse(r, c, "", http.StatusUnauthorized, w, "wrong user name or password (or the account is disabled)")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	if a.TOTPSecret != "" {
		step, ok := totpStep(a.TOTPSecret, in.TOTP, time.Now())
		if !ok {
			s.loginFailed(user, r.RemoteAddr)
			s.refuse(r, c, "", http.StatusUnauthorized, w, "this account needs a valid one-time code: pass --totp CODE from its authenticator app")
			return
		}
		if !s.totp.use(a.ID, step) {
			s.loginFailed(user, r.RemoteAddr)
			s.refuse(r, c, "", http.StatusUnauthorized, w, "this one-time code was already used to sign in: wait for the next one (30 seconds) and try again")
			return
		}
	}
	if s.logins != nil {
		s.logins.succeeded(user)
	}
	tenant, err := s.tenantName(r.Context(), a.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	tok, t, err := s.st.CreateAPIToken(r.Context(), store.NewAPIToken{AccountID: a.ID, Name: "login from " + r.RemoteAddr, TTL: sessionTTL})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.st.RecordLogin(r.Context(), a.ID); err != nil {
		s.log.WarnContext(r.Context(), "cannot record the sign-in time", "account", a.Username, "err", err)
	}
	s.audit(r.Context(), c.actor, "account.login", tenant, map[string]any{"from": c.remote, "token_id": t.ID})
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires": t.Expires, "role": a.Role, "tenant": tenant})
}

type tenantJSON struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

func (s *srv) listTenants(w http.ResponseWriter, r *http.Request, c caller) {
	list, err := s.st.ListTenants(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := []tenantJSON{}
	for _, t := range list {
		all := c.Role == store.RoleOperator || (c.Role == store.RoleAuditor && c.TenantID == 0)
		if all || t.ID == c.TenantID {
			out = append(out, tenantJSON{t.ID, t.Name, t.Created})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *srv) createTenant(w http.ResponseWriter, r *http.Request, c caller) {
	if c.Role != store.RoleOperator {
		s.refuse(r, c, "", http.StatusForbidden, w, "access denied: only an operator may create tenants")
		return
	}
	var in struct {
		Name string `json:"name"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	t, err := s.st.CreateTenant(r.Context(), store.NewTenant{Name: in.Name})
	switch {
	case errors.Is(err, store.ErrExists):
		s.refuse(r, c, in.Name, http.StatusConflict, w, fmt.Sprintf("tenant %q already exists", in.Name))
		return
	case errors.Is(err, store.ErrInvalid):
		s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("invalid tenant name %q: use lower-case letters, digits, '.', '_' and '-' (e.g. mairie-a)", in.Name))
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "tenant.create", t.Name, map[string]any{"id": t.ID, "from": c.remote})
	writeJSON(w, http.StatusCreated, tenantJSON{t.ID, t.Name, t.Created})
}

// manageTenant returns the tenant named in the path if c may manage it
// (operators: all; tenant admins: their own); otherwise it has answered.
func (s *srv) manageTenant(w http.ResponseWriter, r *http.Request, c caller) (store.Tenant, bool) {
	name := r.PathValue("name")
	t, err := s.st.TenantByName(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		if c.Role == store.RoleOperator {
			s.refuse(r, c, name, http.StatusNotFound, w, fmt.Sprintf("no tenant named %q: see `rempart tenant list`", name))
		} else { // do not tell others which tenants exist
			s.refuse(r, c, name, http.StatusForbidden, w, fmt.Sprintf("access denied to tenant %q", name))
		}
		return t, false
	}
	if err != nil {
		s.internal(w, r, err)
		return t, false
	}
	if c.Role == store.RoleOperator || (c.Role == store.RoleTenantAdmin && c.TenantID == t.ID) {
		return t, true
	}
	s.refuse(r, c, name, http.StatusForbidden, w, fmt.Sprintf("access denied to tenant %q: only an operator or that tenant's admin may manage it", name))
	return t, false
}

func (s *srv) createEnrolment(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	var in struct {
		TTLSeconds int64 `json:"ttl_seconds"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	ttl := time.Duration(in.TTLSeconds) * time.Second
	if in.TTLSeconds == 0 {
		ttl = 24 * time.Hour
	}
	tok, e, err := s.st.CreateEnrolment(r.Context(), t.ID, ttl)
	if errors.Is(err, store.ErrInvalid) {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("enrolment lifetime %v: choose between %v and %v", ttl, store.MinEnrolmentTTL, store.MaxEnrolmentTTL))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "enrolment.create", t.Name, map[string]any{"id": e.ID, "expires": e.Expires, "from": c.remote})
	writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires": e.Expires})
}

func (s *srv) enrol(w http.ResponseWriter, r *http.Request) {
	c := caller{actor: "anonymous", remote: r.RemoteAddr}
	var in struct {
		Token string `json:"token"`
		Host  string `json:"host"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	a, tok, err := s.st.RedeemEnrolment(r.Context(), strings.TrimSpace(in.Token), in.Host)
	switch {
	case errors.Is(err, store.ErrTokenUsed):
		s.refuse(r, c, "", http.StatusUnauthorized, w, "this enrolment token has already been used: ask for a new one (`rempart agent enroll --tenant NAME`)")
		return
	case errors.Is(err, store.ErrTokenExpired):
		s.refuse(r, c, "", http.StatusUnauthorized, w, "this enrolment token has expired: ask for a new one (`rempart agent enroll --tenant NAME`)")
		return
	case errors.Is(err, store.ErrInvalidToken):
		s.refuse(r, c, "", http.StatusUnauthorized, w, "this enrolment token is not valid: check that it was copied whole")
		return
	case errors.Is(err, store.ErrInvalid):
		s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("invalid host name %q", in.Host))
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	tenant, err := s.tenantName(r.Context(), a.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), "agent:"+strconv.FormatInt(a.ID, 10), "agent.enrol", tenant, map[string]any{"host": a.Host, "from": c.remote})
	writeJSON(w, http.StatusCreated, map[string]any{"agent_id": a.ID, "tenant": tenant, "token": tok})
}

type agentJSON struct {
	ID      int64      `json:"id"`
	Tenant  string     `json:"tenant"`
	Host    string     `json:"host"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

func toAgentJSON(a store.Agent, tenant string) agentJSON {
	j := agentJSON{ID: a.ID, Tenant: tenant, Host: a.Host, Created: a.Created}
	if !a.Revoked.IsZero() {
		j.Revoked = &a.Revoked
	}
	return j
}

func (s *srv) listAgents(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.manageTenant(w, r, c)
	if !ok {
		return
	}
	list, err := s.st.ListAgents(r.Context(), t.ID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := []agentJSON{}
	for _, a := range list {
		out = append(out, toAgentJSON(a, t.Name))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *srv) revokeAgent(w http.ResponseWriter, r *http.Request, c caller) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("invalid agent ID %q: use the number shown by `rempart agent list`", r.PathValue("id")))
		return
	}
	if c.Role != store.RoleOperator && c.Role != store.RoleTenantAdmin {
		s.refuse(r, c, "", http.StatusForbidden, w, "access denied: only an operator or a tenant admin may revoke agents")
		return
	}
	tenants, err := s.st.ListTenants(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	for _, t := range tenants {
		if c.Role == store.RoleTenantAdmin && t.ID != c.TenantID {
			continue
		}
		agents, err := s.st.ListAgents(r.Context(), t.ID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		for _, a := range agents {
			if a.ID != id {
				continue
			}
			if err := s.st.RevokeAgent(r.Context(), id); err != nil {
				s.internal(w, r, err)
				return
			}
			s.audit(r.Context(), c.actor, "agent.revoke", t.Name, map[string]any{"agent_id": id, "host": a.Host, "from": c.remote})
			if a.Revoked.IsZero() {
				a.Revoked = time.Now().UTC()
			}
			writeJSON(w, http.StatusOK, toAgentJSON(a, t.Name))
			return
		}
	}
	s.refuse(r, c, "", http.StatusNotFound, w, fmt.Sprintf("no agent %d that you may manage: see `rempart agent list --tenant NAME`", id))
}

// serveCA hands out the local CA's certificate (public), so that phones
// and laptops of the crisis cell can install it once and then reach the
// crisis room without a certificate warning. The fingerprint printed at
// start says whether the file is the right one.
func (s *srv) serveCA(w http.ResponseWriter, _ *http.Request) {
	if len(s.caPEM) == 0 {
		writeError(w, http.StatusNotFound, "this server has no local CA certificate to hand out")
		return
	}
	w.Header().Set("Content-Type", "application/x-x509-ca-cert")
	w.Header().Set("Content-Disposition", `attachment; filename="rempart-ca.crt"`)
	_, _ = w.Write(s.caPEM)
}

func (s *srv) loginFailed(user, remote string) {
	if s.logins != nil {
		s.logins.failed(user, remote)
	}
}

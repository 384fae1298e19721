package server

// Account management: who may sign in and what they may do.
//
// Roles, least privilege first: an auditor reads the audit trail (of one
// tenant, or of all); a tenant admin manages one tenant (its machines, and
// its own tenant admins and auditors); a coordinator creates and runs
// crisis rooms (of one tenant, or of any); an operator runs the server. Every
// change is written to the audit trail with s.audit and every refusal with
// s.refuse, as in api.go. Secrets (passwords, second-factor secrets,
// tokens) are returned once, when they are made, and never logged or
// written to the trail.
//
// Two self-service actions need a session from a sign-in with a password,
// not an automation token: making tokens (a leaked token could otherwise
// mint itself a successor and outlive its revocation) and changing the
// second factor (a leaked token could otherwise lock its owner out).

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rempart/rempart/internal/server/store"
)

// Lifetimes of automation tokens. Two years bounds the damage of a token
// forgotten in a script; 90 days by default makes renewing them a habit.
const (
	defaultTokenTTL = 90 * 24 * time.Hour
	maxTokenTTL     = 2 * 365 * 24 * time.Hour
	minTokenTTL     = time.Minute
)

// accountJSON is an account as the API shows it: never its password hash
// or second-factor secret.
type accountJSON struct {
	Username    string     `json:"username"`
	Role        store.Role `json:"role"`
	Tenant      string     `json:"tenant,omitempty"`
	TOTPEnabled bool       `json:"totp_enabled"`
	TOTPPending bool       `json:"totp_pending,omitempty"`
	Disabled    bool       `json:"disabled"`
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
	Created     time.Time  `json:"created"`
	LastLogin   *time.Time `json:"last_login,omitempty"` // its last sign-in (absent: never, or before this was recorded)
}

func toAccountJSON(a store.Account, tenant string) accountJSON {
	j := accountJSON{Username: a.Username, Role: a.Role, Tenant: tenant, TOTPEnabled: a.TOTPSecret != "",
		TOTPPending: a.TOTPPending != "", Disabled: !a.Disabled.IsZero(), Created: a.Created}
	if j.Disabled {
		j.DisabledAt = &a.Disabled
	}
	if !a.LastLogin.IsZero() {
		j.LastLogin = &a.LastLogin
	}
	return j
}

// tokenJSON describes an API token, never its secret.
type tokenJSON struct {
	ID       int64           `json:"id"`
	Account  string          `json:"account,omitempty"`
	Name     string          `json:"name"`
	Kind     store.TokenKind `json:"kind"`
	Created  time.Time       `json:"created"`
	Expires  *time.Time      `json:"expires,omitempty"`
	LastUsed *time.Time      `json:"last_used,omitempty"`
	Current  bool            `json:"current,omitempty"` // the token of this request
}

func toTokenJSON(t store.APIToken, account string, current int64) tokenJSON {
	j := tokenJSON{ID: t.ID, Account: account, Name: t.Name, Kind: t.Kind, Created: t.Created, Current: t.ID == current}
	if !t.Expires.IsZero() {
		j.Expires = &t.Expires
	}
	if !t.LastUsed.IsZero() {
		j.LastUsed = &t.LastUsed
	}
	return j
}

// generatePassword draws a password for an account made or reset by
// someone else: 144 random bits, URL-safe base64 (24 characters).
func generatePassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("draw a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tenantNames maps tenant IDs to names.
func (s *srv) tenantNames(r *http.Request) (map[int64]string, error) {
	list, err := s.st.ListTenants(r.Context())
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	m := make(map[int64]string, len(list))
	for _, t := range list {
		m[t.ID] = t.Name
	}
	return m, nil
}

// mayManage reports whether c may disable a or reset its password:
// operators may manage every account, tenant admins the accounts of their
// own tenant (which are never operators).
func mayManage(c caller, a store.Account) bool {
	switch c.Role {
	case store.RoleOperator:
		return true
	case store.RoleTenantAdmin:
		return a.Role != store.RoleOperator && a.TenantID != 0 && a.TenantID == c.TenantID
	}
	return false
}

// managedAccount returns the account named in the path with its tenant's
// name if c may manage it; otherwise it has answered. Only operators learn
// whether a name they may not manage exists.
func (s *srv) managedAccount(w http.ResponseWriter, r *http.Request, c caller, what string) (store.Account, string, bool) {
	name := r.PathValue("username")
	if c.Role != store.RoleOperator && c.Role != store.RoleTenantAdmin {
		s.refuse(r, c, "", http.StatusForbidden, w, fmt.Sprintf("access denied: only an operator or a tenant admin may %s", what))
		return store.Account{}, "", false
	}
	a, err := s.st.AccountByName(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		if c.Role == store.RoleOperator {
			s.refuse(r, c, "", http.StatusNotFound, w, fmt.Sprintf("no account named %q: see `rempart account list`", name))
		} else {
			s.refuse(r, c, "", http.StatusForbidden, w, fmt.Sprintf("access denied to account %q: a tenant admin manages only the accounts of their tenant", name))
		}
		return store.Account{}, "", false
	}
	if err != nil {
		s.internal(w, r, err)
		return store.Account{}, "", false
	}
	tenant, err := s.tenantName(r.Context(), a.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return store.Account{}, "", false
	}
	if !mayManage(c, a) {
		s.refuse(r, c, tenant, http.StatusForbidden, w, fmt.Sprintf("access denied to account %q: a tenant admin manages only the accounts of their tenant", a.Username))
		return store.Account{}, "", false
	}
	return a, tenant, true
}

// needSession refuses automation tokens (see the top of this file).
func (s *srv) needSession(w http.ResponseWriter, r *http.Request, c caller, what string) bool {
	if c.TokenKind == store.TokenSession {
		return true
	}
	s.refuse(r, c, "", http.StatusForbidden, w, fmt.Sprintf("access denied: an API token may not %s; sign in with your password (`rempart login URL --user NAME`) and try again", what))
	return false
}

// parseRole accepts the API's spelling and the command line's
// ("tenant-admin").
func parseRole(s string) (store.Role, bool) {
	r := store.Role(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	switch r {
	case store.RoleOperator, store.RoleTenantAdmin, store.RoleAuditor, store.RoleCoordinator:
		return r, true
	}
	return "", false
}

func (s *srv) createAccount(w http.ResponseWriter, r *http.Request, c caller) {
	if c.Role != store.RoleOperator && c.Role != store.RoleTenantAdmin {
		s.refuse(r, c, "", http.StatusForbidden, w, "access denied: only an operator or a tenant admin may create accounts")
		return
	}
	var in struct {
		Username string `json:"username"`
		Role     string `json:"role"`
		Tenant   string `json:"tenant"`
		Password string `json:"password"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	role, ok := parseRole(in.Role)
	if !ok {
		s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("unknown role %q: use operator, tenant_admin, auditor or coordinator", in.Role))
		return
	}
	tenant := strings.TrimSpace(in.Tenant)
	if c.Role == store.RoleTenantAdmin {
		own, err := s.tenantName(r.Context(), c.TenantID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		switch {
		case role == store.RoleOperator:
			s.refuse(r, c, own, http.StatusForbidden, w, "access denied: only an operator may create operators")
			return
		case tenant == "":
			// A tenant admin can only mean their own tenant: a server-wide
			// auditor would see the other tenants.
			tenant = own
		case tenant != own:
			s.refuse(r, c, tenant, http.StatusForbidden, w, fmt.Sprintf("access denied: a tenant admin may create accounts only in their own tenant (%s)", own))
			return
		}
	}
	var tenantID int64
	switch {
	case tenant != "" && role == store.RoleOperator:
		s.refuse(r, c, tenant, http.StatusBadRequest, w, "an operator belongs to no tenant: leave out the tenant")
		return
	case tenant != "":
		t, err := s.st.TenantByName(r.Context(), tenant)
		if errors.Is(err, store.ErrNotFound) {
			s.refuse(r, c, tenant, http.StatusNotFound, w, fmt.Sprintf("no tenant named %q: see `rempart tenant list`", tenant))
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		tenantID = t.ID
	case role == store.RoleTenantAdmin:
		s.refuse(r, c, "", http.StatusBadRequest, w, "a tenant admin needs a tenant: give its name (--tenant NAME)")
		return
	}
	password, generated := in.Password, ""
	if password == "" {
		var err error
		if password, err = generatePassword(); err != nil {
			s.internal(w, r, err)
			return
		}
		generated = password
	} else if utf8.RuneCountInString(password) < store.MinPasswordLen {
		s.refuse(r, c, tenant, http.StatusBadRequest, w, fmt.Sprintf("password too short: use at least %d characters, or leave it out to have one generated", store.MinPasswordLen))
		return
	}
	a, err := s.st.CreateAccount(r.Context(), store.NewAccount{Username: in.Username, Password: password, Role: role, TenantID: tenantID})
	switch {
	case errors.Is(err, store.ErrExists):
		s.refuse(r, c, tenant, http.StatusConflict, w, fmt.Sprintf("an account named %q already exists", strings.ToLower(strings.TrimSpace(in.Username))))
		return
	case errors.Is(err, store.ErrInvalid):
		s.refuse(r, c, tenant, http.StatusBadRequest, w, fmt.Sprintf("invalid user name %q: use up to 64 lower-case letters, digits, '.', '_', '@' and '-' (e.g. dsi@mairie-a.fr)", in.Username))
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "account.create", tenant, map[string]any{
		"username": a.Username, "role": a.Role, "password_generated": generated != "", "from": c.remote,
	})
	writeJSON(w, http.StatusCreated, struct {
		accountJSON
		Password string `json:"password,omitempty"` // generated: shown this once
	}{toAccountJSON(a, tenant), generated})
}

func (s *srv) listAccounts(w http.ResponseWriter, r *http.Request, c caller) {
	f := store.AccountFilter{}
	switch c.Role {
	case store.RoleOperator:
		if name := r.URL.Query().Get("tenant"); name != "" {
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
	case store.RoleTenantAdmin:
		f.TenantID = c.TenantID
		own, err := s.tenantName(r.Context(), c.TenantID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if name := r.URL.Query().Get("tenant"); name != "" && name != own {
			s.refuse(r, c, name, http.StatusForbidden, w, fmt.Sprintf("access denied to the accounts of tenant %q: you may list only your tenant's (%s)", name, own))
			return
		}
	default:
		s.refuse(r, c, "", http.StatusForbidden, w, "access denied: only an operator or a tenant admin may list accounts")
		return
	}
	list, err := s.st.ListAccounts(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	names, err := s.tenantNames(r)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]accountJSON, 0, len(list))
	for _, a := range list {
		out = append(out, toAccountJSON(a, names[a.TenantID]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *srv) disableAccount(w http.ResponseWriter, r *http.Request, c caller) {
	a, tenant, ok := s.managedAccount(w, r, c, "disable accounts")
	if !ok {
		return
	}
	err := s.st.DisableAccount(r.Context(), a.ID)
	if errors.Is(err, store.ErrLastOperator) {
		s.refuse(r, c, tenant, http.StatusConflict, w, fmt.Sprintf("%s is the last enabled operator: create another operator first (`rempart account create NAME --role operator`)", a.Username))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "account.disable", tenant, map[string]any{"username": a.Username, "role": a.Role, "from": c.remote})
	if a.Disabled.IsZero() {
		a.Disabled = time.Now().UTC()
	}
	writeJSON(w, http.StatusOK, toAccountJSON(a, tenant))
}

// whoami serves GET /v1/account: who the token belongs to, and the token's
// own lifetime (what `rempart login --token` records).
func (s *srv) whoami(w http.ResponseWriter, r *http.Request, c caller) {
	a, err := s.st.Account(r.Context(), c.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	tenant, err := s.tenantName(r.Context(), a.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	t, err := s.st.APITokenByID(r.Context(), c.TokenID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		accountJSON
		Token tokenJSON `json:"token"`
	}{toAccountJSON(a, tenant), toTokenJSON(t, "", c.TokenID)})
}

func (s *srv) changeOwnPassword(w http.ResponseWriter, r *http.Request, c caller) {
	var in struct {
		OldPassword string `json:"old_password"`
		NewPassword string `json:"new_password"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	tenant, err := s.tenantName(r.Context(), c.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if utf8.RuneCountInString(in.NewPassword) < store.MinPasswordLen {
		s.refuse(r, c, tenant, http.StatusBadRequest, w, fmt.Sprintf("new password too short: use at least %d characters", store.MinPasswordLen))
		return
	}
	_, err = s.st.Authenticate(r.Context(), c.Username, in.OldPassword)
	switch {
	case errors.Is(err, store.ErrInvalidCredentials), errors.Is(err, store.ErrAccountDisabled):
		s.refuse(r, c, tenant, http.StatusForbidden, w, "the current password is wrong: nothing was changed")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	if in.NewPassword == in.OldPassword {
		s.refuse(r, c, tenant, http.StatusBadRequest, w, "the new password is the same as the current one: choose another")
		return
	}
	if err := s.st.SetPassword(r.Context(), c.AccountID, in.NewPassword); err != nil {
		s.internal(w, r, err)
		return
	}
	// Whoever knew the old password may hold a session: end every token
	// but the one making this change.
	n, err := s.st.RevokeAccountTokens(r.Context(), c.AccountID, c.TokenID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "account.password.change", tenant, map[string]any{"username": c.Username, "tokens_revoked": n, "from": c.remote})
	writeJSON(w, http.StatusOK, map[string]any{"username": c.Username, "tokens_revoked": n})
}

// enableAccount enables a disabled account again, with a new generated
// password (shown once): whoever held the old one when it was disabled
// does not get back in with it.
func (s *srv) enableAccount(w http.ResponseWriter, r *http.Request, c caller) {
	a, tenant, ok := s.managedAccount(w, r, c, "enable accounts")
	if !ok {
		return
	}
	password, err := generatePassword()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	err = s.st.EnableAccount(r.Context(), a.ID, password)
	if errors.Is(err, store.ErrConflict) {
		writeError(w, http.StatusConflict, fmt.Sprintf("%s is not disabled: nothing to enable", a.Username))
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "account.enable", tenant, map[string]any{"username": a.Username, "role": a.Role, "from": c.remote})
	a.Disabled = time.Time{}
	out := toAccountJSON(a, tenant)
	writeJSON(w, http.StatusOK, struct {
		accountJSON
		Password string `json:"password"`
	}{out, password})
}

func (s *srv) resetPassword(w http.ResponseWriter, r *http.Request, c caller) {
	a, tenant, ok := s.managedAccount(w, r, c, "reset passwords")
	if !ok {
		return
	}
	if a.ID == c.AccountID {
		s.refuse(r, c, tenant, http.StatusBadRequest, w, "to change your own password give the current one: `rempart account password`")
		return
	}
	password, err := generatePassword()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.st.SetPassword(r.Context(), a.ID, password); err != nil {
		s.internal(w, r, err)
		return
	}
	n, err := s.st.RevokeAccountTokens(r.Context(), a.ID, 0)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "account.password.reset", tenant, map[string]any{"username": a.Username, "tokens_revoked": n, "from": c.remote})
	writeJSON(w, http.StatusOK, map[string]any{"username": a.Username, "password": password, "tokens_revoked": n})
}

// beginTOTP serves POST /v1/account/totp: a new secret, kept pending until
// confirmTOTP sees a code made from it.
func (s *srv) beginTOTP(w http.ResponseWriter, r *http.Request, c caller) {
	if !s.needSession(w, r, c, "change the second factor") {
		return
	}
	a, tenant, ok := s.self(w, r, c)
	if !ok {
		return
	}
	if a.TOTPSecret != "" {
		s.refuse(r, c, tenant, http.StatusConflict, w, "the second factor is already on: turn it off first (`rempart account totp disable`)")
		return
	}
	secret, err := newTOTPSecret()
	if err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.st.SetPendingTOTP(r.Context(), a.ID, secret); err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "account.totp.begin", tenant, map[string]any{"username": a.Username, "from": c.remote})
	writeJSON(w, http.StatusOK, map[string]any{
		"secret": secret, "otpauth_uri": otpauthURI(a.Username, secret), "issuer": totpIssuer, "account": a.Username,
	})
}

func (s *srv) confirmTOTP(w http.ResponseWriter, r *http.Request, c caller) {
	if !s.needSession(w, r, c, "change the second factor") {
		return
	}
	var in struct {
		Code string `json:"code"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	a, tenant, ok := s.self(w, r, c)
	if !ok {
		return
	}
	switch {
	case a.TOTPSecret != "":
		s.refuse(r, c, tenant, http.StatusConflict, w, "the second factor is already on")
		return
	case a.TOTPPending == "":
		s.refuse(r, c, tenant, http.StatusConflict, w, "no second factor is being set up: start with `rempart account totp enable`")
		return
	case !validTOTP(a.TOTPPending, in.Code, time.Now()):
		s.refuse(r, c, tenant, http.StatusBadRequest, w, "the code does not match the new secret: nothing was changed. Check that the secret was entered whole and that the device's clock is right, then give a fresh code")
		return
	}
	err := s.st.ActivateTOTP(r.Context(), a.ID, a.TOTPPending)
	if errors.Is(err, store.ErrInvalid) {
		s.refuse(r, c, tenant, http.StatusConflict, w, "another set-up of the second factor started meanwhile: confirm that one, or start again")
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "account.totp.enable", tenant, map[string]any{"username": a.Username, "from": c.remote})
	writeJSON(w, http.StatusOK, map[string]any{"username": a.Username, "totp_enabled": true})
}

// disableOwnTOTP serves DELETE /v1/account/totp: with the password and a
// current code, so that a session left open cannot remove the factor. It
// also cancels a set-up in progress.
func (s *srv) disableOwnTOTP(w http.ResponseWriter, r *http.Request, c caller) {
	if !s.needSession(w, r, c, "change the second factor") {
		return
	}
	var in struct {
		Password string `json:"password"`
		Code     string `json:"code"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	a, tenant, ok := s.self(w, r, c)
	if !ok {
		return
	}
	if a.TOTPSecret == "" && a.TOTPPending == "" {
		s.refuse(r, c, tenant, http.StatusConflict, w, "the second factor is not on")
		return
	}
	_, err := s.st.Authenticate(r.Context(), c.Username, in.Password)
	switch {
	case errors.Is(err, store.ErrInvalidCredentials), errors.Is(err, store.ErrAccountDisabled):
		s.refuse(r, c, tenant, http.StatusForbidden, w, "wrong password: the second factor stays on")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	if a.TOTPSecret != "" && !validTOTP(a.TOTPSecret, in.Code, time.Now()) {
		s.refuse(r, c, tenant, http.StatusForbidden, w, "wrong one-time code: the second factor stays on (give a current code with --code)")
		return
	}
	if err := s.st.SetTOTP(r.Context(), a.ID, ""); err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "account.totp.disable", tenant, map[string]any{"username": a.Username, "was_enabled": a.TOTPSecret != "", "from": c.remote})
	writeJSON(w, http.StatusOK, map[string]any{"username": a.Username, "totp_enabled": false})
}

// resetTOTP serves DELETE /v1/accounts/{username}/totp: an operator turns
// off the second factor of someone who lost their device.
func (s *srv) resetTOTP(w http.ResponseWriter, r *http.Request, c caller) {
	if c.Role != store.RoleOperator {
		s.refuse(r, c, "", http.StatusForbidden, w, "access denied: only an operator may reset another account's second factor")
		return
	}
	a, tenant, ok := s.managedAccount(w, r, c, "reset a second factor")
	if !ok {
		return
	}
	if a.ID == c.AccountID {
		s.refuse(r, c, tenant, http.StatusBadRequest, w, "to turn off your own second factor give your password and a code: `rempart account totp disable`")
		return
	}
	if err := s.st.SetTOTP(r.Context(), a.ID, ""); err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "account.totp.reset", tenant, map[string]any{"username": a.Username, "was_enabled": a.TOTPSecret != "", "from": c.remote})
	a.TOTPSecret, a.TOTPPending = "", ""
	writeJSON(w, http.StatusOK, toAccountJSON(a, tenant))
}

// self returns the caller's account and tenant name.
func (s *srv) self(w http.ResponseWriter, r *http.Request, c caller) (store.Account, string, bool) {
	a, err := s.st.Account(r.Context(), c.AccountID)
	if err != nil {
		s.internal(w, r, err)
		return store.Account{}, "", false
	}
	tenant, err := s.tenantName(r.Context(), a.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return store.Account{}, "", false
	}
	return a, tenant, true
}

// parseTTL reads a token lifetime: a Go duration ("12h", "30m") or a
// number of days, weeks or years ("90d", "12w", "1y"; a year is 365 days).
func parseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return defaultTokenTTL, nil
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}[s[len(s)-1]]
	if unit != 0 {
		n, err := strconv.ParseInt(s[:len(s)-1], 10, 32)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("lifetime %q: write a whole number before d, w or y (e.g. 90d)", s)
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("lifetime %q: write e.g. 90d, 12w, 1y or 36h", s)
	}
	return d, nil
}

func (s *srv) createToken(w http.ResponseWriter, r *http.Request, c caller) {
	if !s.needSession(w, r, c, "create other tokens") {
		return
	}
	var in struct {
		Name string `json:"name"`
		TTL  string `json:"ttl"`
	}
	if !s.readJSON(w, r, c, &in) {
		return
	}
	tenant, err := s.tenantName(r.Context(), c.TenantID)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 200 || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		s.refuse(r, c, tenant, http.StatusBadRequest, w, "give the token a name of 1 to 200 characters saying what uses it (e.g. nightly-audit-export)")
		return
	}
	ttl, err := parseTTL(in.TTL)
	if err != nil {
		s.refuse(r, c, tenant, http.StatusBadRequest, w, err.Error())
		return
	}
	if ttl < minTokenTTL || ttl > maxTokenTTL {
		s.refuse(r, c, tenant, http.StatusBadRequest, w, fmt.Sprintf("lifetime %s: choose between 1 minute and 2 years (730d)", in.TTL))
		return
	}
	tok, t, err := s.st.CreateAPIToken(r.Context(), store.NewAPIToken{AccountID: c.AccountID, Kind: store.TokenAutomation, Name: name, TTL: ttl})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "token.create", tenant, map[string]any{"token_id": t.ID, "name": t.Name, "expires": t.Expires, "from": c.remote})
	writeJSON(w, http.StatusCreated, struct {
		tokenJSON
		Token  string     `json:"token"` // shown this once
		Role   store.Role `json:"role"`
		Tenant string     `json:"tenant,omitempty"`
	}{toTokenJSON(t, c.Username, 0), tok, c.Role, tenant})
}

// listTokens serves GET /v1/tokens: the caller's own tokens; an operator
// may ask for another account's with ?account=NAME.
func (s *srv) listTokens(w http.ResponseWriter, r *http.Request, c caller) {
	owner, ownerName := c.AccountID, c.Username
	if name := r.URL.Query().Get("account"); name != "" && !strings.EqualFold(name, c.Username) {
		if c.Role != store.RoleOperator {
			s.refuse(r, c, "", http.StatusForbidden, w, "access denied: you may list only your own tokens")
			return
		}
		a, err := s.st.AccountByName(r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			s.refuse(r, c, "", http.StatusNotFound, w, fmt.Sprintf("no account named %q: see `rempart account list`", name))
			return
		}
		if err != nil {
			s.internal(w, r, err)
			return
		}
		owner, ownerName = a.ID, a.Username
	}
	list, err := s.st.ListAPITokens(r.Context(), owner, 0)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]tokenJSON, 0, len(list))
	for _, t := range list {
		out = append(out, toTokenJSON(t, ownerName, c.TokenID))
	}
	writeJSON(w, http.StatusOK, out)
}

// revokeToken serves DELETE /v1/tokens/{id}: one's own token, or any
// account's for an operator. Agents' tokens go with their agent
// (DELETE /v1/agents/{id}).
func (s *srv) revokeToken(w http.ResponseWriter, r *http.Request, c caller) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("invalid token ID %q: use the number shown by `rempart token list`", r.PathValue("id")))
		return
	}
	t, err := s.st.APITokenByID(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.refuse(r, c, "", http.StatusNotFound, w, fmt.Sprintf("no token %d: see `rempart token list`", id))
		return
	case err != nil:
		s.internal(w, r, err)
		return
	case t.AccountID != c.AccountID && c.Role != store.RoleOperator:
		s.refuse(r, c, "", http.StatusForbidden, w, fmt.Sprintf("access denied: token %d is not yours", id))
		return
	case t.AgentID != 0:
		s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("token %d belongs to agent %d: revoke the agent with `rempart agent revoke %d`", id, t.AgentID, t.AgentID))
		return
	}
	owner := c.Username
	tenant := ""
	if t.AccountID != c.AccountID {
		a, err := s.st.Account(r.Context(), t.AccountID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		owner = a.Username
		if tenant, err = s.tenantName(r.Context(), a.TenantID); err != nil {
			s.internal(w, r, err)
			return
		}
	} else if tenant, err = s.tenantName(r.Context(), c.TenantID); err != nil {
		s.internal(w, r, err)
		return
	}
	if err := s.st.DeleteAPIToken(r.Context(), id); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, err)
		return
	}
	s.audit(r.Context(), c.actor, "token.revoke", tenant, map[string]any{"token_id": id, "name": t.Name, "kind": t.Kind, "account": owner, "from": c.remote})
	writeJSON(w, http.StatusOK, toTokenJSON(t, owner, c.TokenID))
}

package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rempart/rempart/internal/server/store"
)

// auditRecordJSON is one record of GET /v1/audit.
type auditRecordJSON struct {
	ID       int64           `json:"id"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Tenant   string          `json:"tenant,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// auditChainJSON is the result of verifying the whole chain.
type auditChainJSON struct {
	Intact  bool   `json:"intact"`
	Records int64  `json:"records"`        // length of the verified chain
	Head    string `json:"head,omitempty"` // hash of its newest record
	Error   string `json:"error,omitempty"`
}

// auditListJSON is the answer of GET /v1/audit.
type auditListJSON struct {
	Records []auditRecordJSON `json:"records"`
	Chain   auditChainJSON    `json:"chain"`
	// More is true when Limit records were returned: ask again with
	// after=the last ID for the next ones.
	More bool `json:"more"`
}

// maxAuditPage is the largest page of GET /v1/audit (the store's maximum).
const maxAuditPage = 1000

// listAudit serves GET /v1/audit?tenant=NAME&after=ID&limit=N. Operators and
// server-wide auditors read every record; tenant admins and tenant auditors
// only their tenant's. The whole chain is verified on every call.
func (s *srv) listAudit(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.URL.Query()
	f := store.AuditFilter{Tenant: q.Get("tenant"), Limit: maxAuditPage}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("after=%q: give the ID of the last record already read (0 or more)", v))
			return
		}
		f.AfterID = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.refuse(r, c, "", http.StatusBadRequest, w, fmt.Sprintf("limit=%q: give a number of records from 1 to %d", v, maxAuditPage))
			return
		}
		f.Limit = min(n, maxAuditPage)
	}
	all := c.Role == store.RoleOperator || (c.Role == store.RoleAuditor && c.TenantID == 0)
	if !all {
		if c.Role != store.RoleTenantAdmin && c.Role != store.RoleAuditor {
			s.refuse(r, c, f.Tenant, http.StatusForbidden, w, "access denied: only an operator, an auditor or a tenant admin may read the audit trail")
			return
		}
		own, err := s.tenantName(r.Context(), c.TenantID)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		if f.Tenant != "" && f.Tenant != own {
			s.refuse(r, c, f.Tenant, http.StatusForbidden, w, fmt.Sprintf("access denied to the audit trail of tenant %q: you may read only your tenant's (%s)", f.Tenant, own))
			return
		}
		f.Tenant = own
	}
	list, err := s.st.ListAudit(r.Context(), f)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := auditListJSON{Records: make([]auditRecordJSON, 0, len(list)), More: len(list) == f.Limit}
	for _, a := range list {
		rec := auditRecordJSON{ID: a.ID, Time: a.Time, Actor: a.Actor, Action: a.Action, Tenant: a.Tenant, PrevHash: a.PrevHash, Hash: a.Hash}
		if len(a.Detail) > 0 && json.Valid(a.Detail) {
			rec.Detail = a.Detail
		}
		out.Records = append(out.Records, rec)
	}
	head, err := s.st.VerifyAuditChain(r.Context())
	switch {
	case errors.Is(err, store.ErrAuditChainBroken):
		out.Chain = auditChainJSON{Error: err.Error()}
		s.log.ErrorContext(r.Context(), "THE AUDIT TRAIL HAS BEEN TAMPERED WITH", "err", err)
	case err != nil:
		s.internal(w, r, err)
		return
	default:
		out.Chain = auditChainJSON{Intact: true, Records: head.ID, Head: head.Hash}
	}
	writeJSON(w, http.StatusOK, out)
}

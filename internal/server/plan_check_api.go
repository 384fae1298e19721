package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/server/store"
)

// Checking a plan without saving it (the console's live preview, the
// equivalent of `rempart plan apply --dry-run`): the file is decoded and
// validated as PUT would, and the answer gives every problem with its
// line, or the recovery order, the problems and what would change from
// the current version. Nothing is saved or audited: whoever may read the
// tenant's plan may check a draft of it.

func (s *srv) planCheckRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/tenants/{name}/plan/check", s.authed(s.checkPlan))
	mux.HandleFunc("GET /v1/plan/example", s.authed(s.planExample))
}

// planCheckError is one reason the file cannot be saved; Line is its
// line in the file when known (0: the whole file).
type planCheckError struct {
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// planCheckJSON answers POST /v1/tenants/{t}/plan/check.
type planCheckJSON struct {
	Tenant string `json:"tenant"`
	// Valid: the file would be saved by PUT (Errors is empty).
	Valid  bool             `json:"valid"`
	Errors []planCheckError `json:"errors"`
	// CurrentVersion is the latest saved version (0: none yet).
	CurrentVersion int64            `json:"current_version"`
	Plan           *continuity.Plan `json:"plan,omitempty"`
	// Changes from the current version, when valid.
	Changes *continuity.Diff `json:"changes,omitempty"`
	// The recovery order, sources and problems, when valid.
	*continuity.Analysis
}

var lineRE = regexp.MustCompile(`\bline (\d+)\b`)

// checkErrors splits a decoding error into its problems, each with the
// line it names.
func checkErrors(err error) []planCheckError {
	msgs := []string{err.Error()}
	var ve *continuity.ValidationError
	if errors.As(err, &ve) && len(ve.Problems) > 0 {
		msgs = ve.Problems
	}
	out := make([]planCheckError, 0, len(msgs))
	for _, m := range msgs {
		e := planCheckError{Message: m}
		if sub := lineRE.FindStringSubmatch(m); sub != nil {
			e.Line, _ = strconv.Atoi(sub[1])
		}
		out = append(out, e)
	}
	return out
}

func (s *srv) checkPlan(w http.ResponseWriter, r *http.Request, c caller) {
	t, ok := s.viewTenant(w, r, c)
	if !ok {
		return
	}
	var in struct {
		YAML string `json:"yaml"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPlanBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, fmt.Sprintf("the request body is not the expected JSON ({\"yaml\": \"...\"}): %v", err))
		return
	}
	out := planCheckJSON{Tenant: t.Name, Errors: []planCheckError{}}
	var prev *continuity.Plan
	cur, err := s.st.PlanVersion(r.Context(), t.ID, 0)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.internal(w, r, err)
		return
	default:
		if prev, err = decodePlan(t.Name, cur); err != nil {
			s.internal(w, r, err)
			return
		}
		out.CurrentVersion = cur.Version
	}
	p, err := continuity.Decode([]byte(in.YAML))
	if err != nil {
		out.Errors = checkErrors(err)
		writeJSON(w, http.StatusOK, out)
		return
	}
	an, err := s.planAnalysis(r, t, p, s.now())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	d := continuity.Compare(prev, p)
	out.Valid, out.Plan, out.Changes, out.Analysis = true, p, &d, an
	writeJSON(w, http.StatusOK, out)
}

// planExample serves GET /v1/plan/example: the example plan of
// `rempart plan example`, to start from.
func (s *srv) planExample(w http.ResponseWriter, r *http.Request, c caller) {
	writeJSON(w, http.StatusOK, map[string]string{"yaml": string(continuity.Example)})
}

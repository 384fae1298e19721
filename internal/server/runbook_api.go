package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/rempart/rempart/internal/runbook"
)

// The printable runbook (docs/continuity.md): a tenant's plan with its
// recovery order, the backups the server holds, the crisis room's address
// and the CA's fingerprint, as PDF or Markdown. Whoever may read the plan
// may print it.

// serverFacts are the public facts a runbook prints about this server.
type serverFacts struct {
	URL           string // https://HOST:PORT
	CrisisURL     string // https://HOST:PORT/crisis/
	CAFingerprint string // the local CA's SHA-256 fingerprint
}

func (s *srv) runbookRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/tenants/{name}/runbook.pdf", s.authed(func(w http.ResponseWriter, r *http.Request, c caller) {
		s.getRunbook(w, r, c, "pdf")
	}))
	mux.HandleFunc("GET /v1/tenants/{name}/runbook.md", s.authed(func(w http.ResponseWriter, r *http.Request, c caller) {
		s.getRunbook(w, r, c, "md")
	}))
}

// runbookLang is ?lang=, else the browser's first language if the runbook
// is written in it, else French.
func runbookLang(r *http.Request) (string, error) {
	if l := r.URL.Query().Get("lang"); l != "" {
		return runbook.ParseLang(l)
	}
	for _, tag := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ = strings.Cut(strings.TrimSpace(tag), ";")
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if base == "fr" || base == "en" {
			return base, nil
		}
		if base != "" {
			break
		}
	}
	return "fr", nil
}

func (s *srv) getRunbook(w http.ResponseWriter, r *http.Request, c caller, format string) {
	t, ok := s.viewTenant(w, r, c)
	if !ok {
		return
	}
	lang, err := runbookLang(r)
	if err != nil {
		s.refuse(r, c, t.Name, http.StatusBadRequest, w, err.Error())
		return
	}
	v, p, ok := s.loadPlan(w, r, c, t)
	if !ok {
		return
	}
	now := s.now()
	an, err := s.planAnalysis(r, t, p, now)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	facts := s.facts
	if facts.URL == "" && r.Host != "" { // a server started without Run (tests)
		facts.URL = "https://" + r.Host
		facts.CrisisURL = facts.URL + "/crisis/"
	}
	in := runbook.Input{Tenant: t.Name, Plan: p, Version: v.Version, Saved: v.Created, SavedBy: v.CreatedBy,
		Analysis: an, Generated: now, Lang: lang,
		Server: runbook.Server{URL: facts.URL, CrisisURL: facts.CrisisURL, CAFingerprint: facts.CAFingerprint}}
	var out []byte
	ctype := "application/pdf"
	if format == "md" {
		out, err = runbook.Markdown(in)
		ctype = "text/markdown; charset=utf-8"
	} else {
		out, err = runbook.PDF(in)
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	// Reads are not written to the audit trail (only changes and
	// refusals are); the log keeps who printed which version.
	s.log.InfoContext(r.Context(), "runbook exported", "actor", c.actor, "tenant", t.Name, "version", v.Version,
		"format", format, "lang", lang, "bytes", len(out), "from", c.remote)
	name := fmt.Sprintf("runbook-%s-v%d-%s.%s", t.Name, v.Version, lang, format)
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Cache-Control", "no-store") // names and phone numbers
	w.Header().Set("X-Rempart-Plan-Version", fmt.Sprint(v.Version))
	_, _ = w.Write(out)
}

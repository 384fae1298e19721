package repoapi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/pki"
	"github.com/rempart/rempart/internal/server/repoapi"
	"github.com/rempart/rempart/internal/server/retention"
	"github.com/rempart/rempart/internal/server/storage"
	"github.com/rempart/rempart/internal/server/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type auditRecord struct {
	Principal repoapi.Principal
	Action    string
	Detail    string
}

// env is a running HTTPS server with the repository API over a folder.
type env struct {
	t       *testing.T
	clock   *clock
	st      *store.Store
	root    string // storage folder
	srv     *httptest.Server
	client  *http.Client
	base    string // https://127.0.0.1:port
	auditMu sync.Mutex
	audits  []auditRecord
	// ret is the server's retention over the same storage and clock.
	ret *retention.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the folder storage wrapped by wrap (when set).
func newEnvWith(t *testing.T, wrap func(storage.Storage) storage.Storage) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, clock: &clock{t: time.Now().UTC()}, root: filepath.Join(t.TempDir(), "repos")}
	quiet := slog.New(slog.DiscardHandler)
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "rempart.db"), store.Options{
		Now: e.clock.Now, Logger: quiet, PasswordParams: store.PasswordParams{Memory: 1024, Iterations: 1, Parallelism: 1}})
	must(t, err)
	t.Cleanup(func() { st.Close() })
	e.st = st
	folder, err := storage.NewFolder(e.root)
	must(t, err)
	var storage storage.Storage = folder
	if wrap != nil {
		storage = wrap(folder)
	}
	e.ret = &retention.Service{Store: st, Storage: storage, Now: e.clock.Now, Location: time.UTC, LoosenDelay: -1, Log: quiet,
		Audit: func(_ context.Context, actor, action, tenant string, _ map[string]any) {
			e.auditMu.Lock()
			e.audits = append(e.audits, auditRecord{repoapi.Principal{ID: actor, Tenant: tenant}, action, ""})
			e.auditMu.Unlock()
		}}
	h, err := repoapi.New(repoapi.Options{
		Storage:   storage,
		Auth:      &repoapi.StoreAuthorizer{Store: st},
		Retention: e.ret,
		Logger:    quiet,
		Audit: func(_ context.Context, p repoapi.Principal, action, detail string) {
			e.auditMu.Lock()
			e.audits = append(e.audits, auditRecord{p, action, detail})
			e.auditMu.Unlock()
		},
	})
	must(t, err)
	bundle, err := pki.Ensure(ctx, filepath.Join(t.TempDir(), "pki"), pki.Options{Logger: quiet})
	must(t, err)
	e.srv = httptest.NewUnstartedServer(h)
	e.srv.TLS = bundle.TLSConfig()
	// httptest adds its own certificate when Certificates is empty, and a
	// client dialling an IP address sends no SNI: serve the bundle's.
	cert, err := e.srv.TLS.GetCertificate(nil)
	must(t, err)
	e.srv.TLS.Certificates = []tls.Certificate{*cert}
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	tlsConf, err := pki.ClientTLSConfig(bundle.Fingerprint(), bundle.CAPEM(), "127.0.0.1")
	must(t, err)
	e.client = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: time.Minute}
	t.Cleanup(e.client.CloseIdleConnections)
	e.base = e.srv.URL
	return e
}

// tenant creates a tenant and an agent in it, returning the agent's token.
func (e *env) tenant(name string) (store.Tenant, string) {
	e.t.Helper()
	ctx := context.Background()
	tn, err := e.st.CreateTenant(ctx, store.NewTenant{Name: name})
	must(e.t, err)
	enrol, _, err := e.st.CreateEnrolment(ctx, tn.ID, time.Hour)
	must(e.t, err)
	_, tok, err := e.st.RedeemEnrolment(ctx, enrol, "srv-"+name)
	must(e.t, err)
	return tn, tok
}

// agent adds another agent to a tenant.
func (e *env) agent(tn store.Tenant, host string) (store.Agent, string) {
	e.t.Helper()
	ctx := context.Background()
	enrol, _, err := e.st.CreateEnrolment(ctx, tn.ID, time.Hour)
	must(e.t, err)
	ag, tok, err := e.st.RedeemEnrolment(ctx, enrol, host)
	must(e.t, err)
	return ag, tok
}

// account creates an account with a token.
func (e *env) account(user string, role store.Role, tenantID int64, ttl time.Duration) string {
	e.t.Helper()
	ctx := context.Background()
	acc, err := e.st.CreateAccount(ctx, store.NewAccount{Username: user, Password: "un mot de passe assez long", Role: role, TenantID: tenantID})
	must(e.t, err)
	tok, _, err := e.st.CreateAPIToken(ctx, store.NewAPIToken{AccountID: acc.ID, Name: "test", TTL: ttl})
	must(e.t, err)
	return tok
}

type resp struct {
	code int
	body string
	hdr  http.Header
}

// do sends one request with a token; path is used raw.
func (e *env) do(token, method, path string, body []byte, hdr ...string) resp {
	e.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, e.base+"/", nil)
	must(e.t, err)
	req.URL.Opaque = "//" + req.URL.Host + path // send path bytes as they are
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	must(e.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(e.t, err)
	return resp{res.StatusCode, string(b), res.Header}
}

func (e *env) auditCount() int {
	e.auditMu.Lock()
	defer e.auditMu.Unlock()
	return len(e.audits)
}

func (e *env) lastAudit() auditRecord {
	e.auditMu.Lock()
	defer e.auditMu.Unlock()
	if len(e.audits) == 0 {
		return auditRecord{}
	}
	return e.audits[len(e.audits)-1]
}

// rawRequest writes bytes on a fresh TLS connection and returns the
// status line (or "" when the server closed without answering).
func (e *env) rawRequest(raw string, closeWrite bool) string {
	e.t.Helper()
	tr := e.client.Transport.(*http.Transport)
	conn, err := tls.Dial("tcp", strings.TrimPrefix(e.base, "https://"), tr.TLSClientConfig)
	must(e.t, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(conn, raw)
	must(e.t, err)
	if closeWrite {
		_ = conn.CloseWrite()
	}
	b, _ := io.ReadAll(conn)
	line, _, _ := strings.Cut(string(b), "\r\n")
	return line
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

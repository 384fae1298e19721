// Package server is the Rempart vault server (docs/server.md): one HTTPS
// listener serving the append-only repository API of every tenant, the
// administration API (sign-in, tenants, enrolment and revocation of agents),
// /healthz and /metrics. Every administrative action and every refusal is
// written to the store's audit trail.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/server/pki"
	"github.com/rempart/rempart/internal/server/repoapi"
	"github.com/rempart/rempart/internal/server/store"
)

// shutdownGrace is how long requests in flight may run after a stop signal.
const shutdownGrace = 15 * time.Second

// Run starts the server and serves until ctx is cancelled, then shuts down
// cleanly (requests in flight finish, the database is closed).
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	log := slog.Default()
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("server: data folder %s: %w", cfg.Data, err)
	}
	names := append([]string(nil), cfg.ExtraNames...)
	if host, _, err := net.SplitHostPort(cfg.Listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			names = append(names, host)
		}
	} else if err != nil {
		return fmt.Errorf("server: listen address %q: %w (use HOST:PORT, e.g. 0.0.0.0:8443)", cfg.Listen, err)
	}
	bundle, err := pki.Ensure(ctx, filepath.Join(cfg.Data, "ca"), pki.Options{ExtraNames: names, Logger: log})
	if err != nil {
		return fmt.Errorf("server: certificates: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	info := Info{CAFingerprint: bundle.Fingerprint().String(), DataDir: cfg.Data, Database: st.Dialect()}
	if info.AdminCreated, info.AdminPassword, err = firstAdmin(ctx, st, cfg.AdminPassword); err != nil {
		return err
	}
	files, err := openStorage(ctx, cfg)
	if err != nil {
		return err
	}
	s := &srv{st: st, log: log, metrics: newMetrics(), webapp: newWebApp(cfg.WebApp), caPEM: bundle.CAPEM(), logins: newLoginLimiter()}
	calls, err := startCalls(cfg, log)
	if err != nil {
		return err
	}
	defer calls.Close() // after the relay: its call sockets end first
	calls.info(&info)
	if calls != nil {
		s.metrics.calls = calls.sfu.Metrics
	}
	crisisRelay, err := s.newCrisis(cfg, calls.options())
	if err != nil {
		return err
	}
	defer crisisRelay.Close()
	s.crisis = crisisRelay
	gcEvery, err := s.startRetention(ctx, cfg, files)
	if err != nil {
		return err
	}
	repos, err := repoapi.New(repoapi.Options{
		Storage:   files,
		Auth:      &repoapi.StoreAuthorizer{Store: st},
		Audit:     s.repoAudit,
		Logger:    log,
		Retention: s.ret,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", cfg.Listen, err)
	}
	info.Addr = ln.Addr().String()
	info.URL = "https://" + publicAddr(ln.Addr().(*net.TCPAddr))
	info.CrisisURL = info.URL + "/crisis/"
	s.facts = serverFacts{URL: info.URL, CrisisURL: info.CrisisURL, CAFingerprint: info.CAFingerprint}
	hs := &http.Server{
		Handler:           s.routes(repos),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.audit(ctx, "system", "server.start", "", map[string]any{"url": info.URL, "ca_fingerprint": info.CAFingerprint})
	log.InfoContext(ctx, "server listening", "url", info.URL, "data", cfg.Data, "database", info.Database)
	if cfg.Ready != nil {
		cfg.Ready(info)
	}
	go s.ret.Loop(ctx, gcEvery)
	go s.drillLoop(ctx)
	renew := time.NewTicker(12 * time.Hour)
	defer renew.Stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(tls.NewListener(ln, bundle.TLSConfig())) }()
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("server: %w", err)
		case <-renew.C:
			if _, err := bundle.Renew(ctx); err != nil {
				log.ErrorContext(ctx, "cannot renew the server certificate", "err", err)
			}
		case <-ctx.Done():
			log.InfoContext(ctx, "stopping: letting requests in flight finish", "grace", shutdownGrace)
			crisisRelay.Close() // live connections are hijacked: Shutdown does not see them
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
			err := hs.Shutdown(sctx)
			cancel()
			s.audit(context.WithoutCancel(ctx), "system", "server.stop", "", nil)
			if err != nil {
				return fmt.Errorf("server: shutdown: %w", err)
			}
			return nil
		}
	}
}

// openStore opens PostgreSQL for a postgres:// DSN, else SQLite in the data
// folder.
func openStore(ctx context.Context, cfg Config) (*store.Store, error) {
	opts := store.Options{Logger: slog.Default()}
	if strings.HasPrefix(cfg.DB, "postgres://") || strings.HasPrefix(cfg.DB, "postgresql://") {
		st, err := store.OpenPostgres(ctx, cfg.DB, opts)
		if err != nil {
			return nil, fmt.Errorf("server: database: %w", err)
		}
		return st, nil
	}
	path := cfg.DB
	if path == "" {
		path = filepath.Join(cfg.Data, "rempart.db")
	}
	st, err := store.OpenSQLite(ctx, path, opts)
	if err != nil {
		return nil, fmt.Errorf("server: database: %w", err)
	}
	return st, nil
}

// firstAdmin creates the operator account "admin" unless it exists. It
// returns whether it was created, and the password when it was generated.
func firstAdmin(ctx context.Context, st *store.Store, password string) (bool, string, error) {
	generated := ""
	if password == "" {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return false, "", fmt.Errorf("server: generate admin password: %w", err)
		}
		password = base64.RawURLEncoding.EncodeToString(b)
		generated = password
	}
	_, err := st.CreateAccount(ctx, store.NewAccount{Username: "admin", Password: password, Role: store.RoleOperator})
	switch {
	case errors.Is(err, store.ErrExists):
		return false, "", nil
	case errors.Is(err, store.ErrInvalid):
		return false, "", fmt.Errorf("server: first start: cannot create the account admin: %w (REMPART_ADMIN_PASSWORD needs at least %d characters)", err, store.MinPasswordLen)
	case err != nil:
		return false, "", fmt.Errorf("server: first start: create the account admin: %w", err)
	}
	_, _ = st.AppendAudit(ctx, store.AuditEvent{Actor: "system", Action: "account.create", Detail: []byte(`{"username":"admin","role":"operator"}`)})
	return true, generated, nil
}

// publicAddr is the address to show in URLs: the machine's host name when
// listening on every interface.
func publicAddr(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() {
		if h, err := os.Hostname(); err == nil && h != "" {
			return net.JoinHostPort(h, fmt.Sprint(a.Port))
		}
	}
	return a.String()
}

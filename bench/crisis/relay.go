package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"

	"github.com/rempart/rempart/internal/crisis"
	"github.com/rempart/rempart/internal/server/store"
)

// benchAccounts stands for the server's platform sessions: one token, an
// operator. Room creation is the only call that needs it.
type benchAccounts struct{ token string }

func (a benchAccounts) Authenticate(_ context.Context, bearer string) (crisis.Principal, error) {
	if bearer != a.token {
		return crisis.Principal{}, crisis.ErrUnauthenticated
	}
	return crisis.Principal{Username: "bench", Role: "operator"}, nil
}

// localRelay is the relay started in this process: the server's SQLite
// store in a temporary folder, the crisis handler, and an HTTPS listener on
// 127.0.0.1 with a throwaway certificate.
type localRelay struct {
	srv     *httptest.Server
	handler *crisis.Handler
	st      *store.Store
	token   string
}

func startRelay(ctx context.Context, dir string) (*localRelay, error) {
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "rempart.db"), store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	h, err := crisis.New(crisis.Options{
		Store:    st.Crisis(),
		Accounts: benchAccounts{token: token},
		DataDir:  dir,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("starting the relay: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(crisis.Prefix, h)
	srv := httptest.NewUnstartedServer(mux)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.Close()
		_ = st.Close()
		return nil, err
	}
	srv.Listener = l
	srv.StartTLS()
	return &localRelay{srv: srv, handler: h, st: st, token: token}, nil
}

// pool trusts the relay's certificate only.
func (r *localRelay) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(r.srv.Certificate())
	return p
}

func (r *localRelay) close() {
	r.handler.Close()
	r.srv.Close()
	_ = r.st.Close()
}

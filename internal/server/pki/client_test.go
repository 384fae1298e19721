package pki

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveHTTPS serves a fixed page with the bundle on 127.0.0.1 and returns
// the address.
func serveHTTPS(t *testing.T, b *Bundle) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, "rempart vault")
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.DiscardHandler, slog.LevelError),
	}
	go func() { _ = srv.Serve(tls.NewListener(ln, b.TLSConfig())) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func get(t *testing.T, cfg *tls.Config, addr string) (string, error) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func newBundle(t *testing.T) *Bundle {
	t.Helper()
	b, err := Ensure(context.Background(), t.TempDir(), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPinnedClientConnects(t *testing.T) {
	b := newBundle(t)
	addr := serveHTTPS(t, b)

	for name, caPEM := range map[string][]byte{"with saved CA": b.CAPEM(), "fingerprint only": nil} {
		cfg, err := ClientTLSConfig(b.Fingerprint(), caPEM, "127.0.0.1")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, err := get(t, cfg, addr)
		if err != nil {
			t.Fatalf("%s: GET: %v", name, err)
		}
		if body != "rempart vault" {
			t.Fatalf("%s: body %q", name, body)
		}
	}

	// The system roots do not know the local CA.
	if _, err := get(t, &tls.Config{MinVersion: tls.VersionTLS12}, addr); err == nil {
		t.Fatal("a client with the system roots trusted the local CA")
	}
}

func TestWrongPinFails(t *testing.T) {
	b := newBundle(t)
	other := newBundle(t)
	addr := serveHTTPS(t, b)

	// The client trusts another server's CA.
	cfg, err := ClientTLSConfig(other.Fingerprint(), other.CAPEM(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = get(t, cfg, addr)
	var mm *MismatchError
	if !errors.Is(err, ErrFingerprintMismatch) || !errors.As(err, &mm) {
		t.Fatalf("GET with another CA pinned = %v, want a fingerprint mismatch", err)
	}
	if mm.Pinned != other.Fingerprint() || mm.Presented != b.Fingerprint() {
		t.Fatalf("mismatch reports pinned %s presented %s", mm.Pinned, mm.Presented)
	}
	msg := err.Error()
	for _, want := range []string{"not the trusted one", other.Fingerprint().String(), b.Fingerprint().String()} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}

	// A wrong fingerprint typed by the user.
	wrong := b.Fingerprint()
	wrong[31] ^= 1
	cfg, err = ClientTLSConfig(wrong, nil, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, cfg, addr); !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatalf("GET with a wrong fingerprint = %v, want a fingerprint mismatch", err)
	}

	// A saved CA file that is not the pinned one is refused at once.
	if _, err := ClientTLSConfig(b.Fingerprint(), other.CAPEM(), "127.0.0.1"); !errors.Is(err, ErrFingerprintMismatch) {
		t.Fatalf("ClientTLSConfig with a CA file of another fingerprint = %v", err)
	}
}

func TestPinnedClientChecksServerName(t *testing.T) {
	b := newBundle(t)
	addr := serveHTTPS(t, b)
	cfg, err := ClientTLSConfig(b.Fingerprint(), b.CAPEM(), "not-this-server.example")
	if err != nil {
		t.Fatal(err)
	}
	_, err = get(t, cfg, addr)
	if err == nil {
		t.Fatal("a certificate for another name was accepted")
	}
	if errors.Is(err, ErrFingerprintMismatch) || !strings.Contains(err.Error(), "not-this-server.example") {
		t.Fatalf("error %v should be about the name", err)
	}
}

func TestClientTLSConfigArguments(t *testing.T) {
	b := newBundle(t)
	if _, err := ClientTLSConfig(Fingerprint{}, nil, "127.0.0.1"); err == nil {
		t.Error("zero fingerprint accepted")
	}
	if _, err := ClientTLSConfig(b.Fingerprint(), nil, ""); err == nil {
		t.Error("empty server name accepted")
	}
	if _, err := ClientTLSConfig(b.Fingerprint(), []byte("not pem"), "127.0.0.1"); err == nil {
		t.Error("garbage CA accepted")
	}
	cfg, err := ClientTLSConfig(b.Fingerprint(), nil, "[::1]")
	if err != nil || cfg.ServerName != "::1" {
		t.Errorf("bracketed IPv6 server name: %v, %q", err, cfg.ServerName)
	}
}

func TestFetchCATrustOnFirstUse(t *testing.T) {
	b := newBundle(t)
	addr := serveHTTPS(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ca, err := FetchCA(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Fingerprint != b.Fingerprint() {
		t.Fatalf("fetched fingerprint %s, want %s", ca.Fingerprint, b.Fingerprint())
	}
	if string(ca.PEM) != string(b.CAPEM()) {
		t.Fatal("fetched PEM differs from the server's CA")
	}
	// The fetched CA, once accepted, is what the client pins.
	cfg, err := ClientTLSConfig(ca.Fingerprint, ca.PEM, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, cfg, addr); err != nil {
		t.Fatal(err)
	}

	if _, err := FetchCA(ctx, "no-port"); err == nil {
		t.Error("address without a port accepted")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := FetchCA(ctx, closed); err == nil {
		t.Error("FetchCA on a closed port succeeded")
	}
}

func TestFetchCARefusesChainWithoutCA(t *testing.T) {
	b := newBundle(t)
	cert, err := b.TLSConfig().GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	leafOnly := *cert
	leafOnly.Certificate = leafOnly.Certificate[:1]
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{leafOnly}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	_, err = FetchCA(context.Background(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "did not send its CA") {
		t.Fatalf("FetchCA against a leaf-only server = %v", err)
	}
	// With the fingerprint only, the client cannot find the CA either.
	cfg, err := ClientTLSConfig(b.Fingerprint(), nil, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err == nil {
		conn.Close()
		t.Fatal("fingerprint-only client accepted a chain without the CA")
	}
	var mm *MismatchError
	if !errors.As(err, &mm) || !mm.Presented.IsZero() || !strings.Contains(err.Error(), "no CA certificate") {
		t.Fatalf("error %v", err)
	}
	// With the saved CA it works.
	cfg, err = ClientTLSConfig(b.Fingerprint(), b.CAPEM(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	conn, err = tls.Dial("tcp", ln.Addr().String(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

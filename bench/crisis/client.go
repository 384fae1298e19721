package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// api talks to the relay over HTTPS as a browser would: JSON in, JSON out,
// a bearer token per call.
type api struct {
	base   string // https://127.0.0.1:PORT
	client *http.Client
}

// newAPI builds a client for base. With pool nil and insecure set, the
// server's certificate is not checked (a running server with its own CA).
// HTTP/2 stays off: the WebSocket upgrade needs HTTP/1.1.
func newAPI(base string, pool *x509.CertPool, insecure bool) *api {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12},
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
	return &api{base: strings.TrimRight(base, "/"), client: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

// call sends in (if not nil) as JSON and decodes the answer into out. A
// status other than want is an error that carries the server's message.
func (a *api) call(ctx context.Context, method, path, token string, in, out any, want ...int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	ok := false
	for _, w := range want {
		ok = ok || resp.StatusCode == w
	}
	if !ok {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: answer is not the expected JSON: %w", method, path, err)
		}
	}
	return nil
}

// dial opens a member's WebSocket and authenticates it.
func (a *api) dial(ctx context.Context, room, token string) (*websocket.Conn, error) {
	u := "wss" + strings.TrimPrefix(a.base, "https") + "/v1/crisis/rooms/" + room + "/ws"
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: a.client})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("websocket %s: %w", u, err)
	}
	c.SetReadLimit(1 << 20) // an event push carries a body of up to 256 KiB, JSON-escaped
	auth, _ := json.Marshal(map[string]string{"type": "auth", "token": token})
	if err := c.Write(ctx, websocket.MessageText, auth); err != nil {
		_ = c.CloseNow()
		return nil, fmt.Errorf("websocket auth: %w", err)
	}
	return c, nil
}

// push is a message the relay sends on the WebSocket.
type push struct {
	Type   string   `json:"type"`
	Pos    int64    `json:"pos"`
	Body   string   `json:"body"`
	Sig    string   `json:"sig"`
	Online []string `json:"online"`
}

// signedJSON is how a signed object goes into a request.
func signedJSON(s e2ee.Signed) map[string]string {
	return map[string]string{"body": s.Body, "sig": s.Sig}
}

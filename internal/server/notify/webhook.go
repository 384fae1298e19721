package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// SignatureHeader carries the body's HMAC-SHA256 under the shared secret:
// "sha256=" followed by 64 hex digits.
const SignatureHeader = "X-Rempart-Signature"

// Sign returns the signature header's value for body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header's value in constant time (for
// receivers written in Go, and tests).
func Verify(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// tlsConfig trusts caPEM only when given, else the system's CAs.
func tlsConfig(caPEM, serverName string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caPEM != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(caPEM)) {
			return nil, errors.New("the CA certificate is not a PEM certificate")
		}
		c.RootCAs = pool
	}
	return c, nil
}

// permanentError is a failure that retrying does not fix (4xx).
type permanentError struct{ error }

func (n *Notifier) webhook(ctx context.Context, w *Webhook, ev Event, retries int) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	u, err := url.Parse(w.URL)
	if err != nil {
		return fmt.Errorf("webhook URL: %w", err)
	}
	tc, err := tlsConfig(w.CAPEM, u.Hostname())
	if err != nil {
		return err
	}
	timeout := time.Duration(w.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = DefaultTimeout * time.Second
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: timeout}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: timeout,
		DisableKeepAlives:   true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		Timeout:   timeout,
		// A redirect is an answer like any other: never followed, so that
		// the message (and its signature) goes only where it was set to.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	wait := n.o.Backoff
	for attempt := 0; ; attempt++ {
		err = postOnce(ctx, client, w, body, ev)
		var perm permanentError
		if err == nil || errors.As(err, &perm) || attempt >= retries {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (then the server stopped)", err)
		case <-time.After(wait):
		}
		wait *= 2
	}
	if err != nil && retries > 0 {
		var perm permanentError
		if !errors.As(err, &perm) {
			return fmt.Errorf("%w (after %d attempts)", err, retries+1)
		}
	}
	return err
}

func postOnce(ctx context.Context, client *http.Client, w *Webhook, body []byte, ev Event) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return permanentError{fmt.Errorf("webhook request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rempart-server")
	req.Header.Set("X-Rempart-Event", ev.Kind)
	req.Header.Set("X-Rempart-Delivery", ev.ID)
	if w.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the whole URL, which may hold a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("POST %s: %w", redactURL(w.URL), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("POST %s: the receiver answered %s", redactURL(w.URL), resp.Status)
	}
	return permanentError{fmt.Errorf("POST %s: the receiver answered %s (not retried: check the URL and the receiver's settings)", redactURL(w.URL), resp.Status)}
}

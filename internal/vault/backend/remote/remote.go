// Package remote is a backend.Backend over HTTPS, against the append-only
// repository API of a Rempart server (docs/server.md): --repo
// https://HOST:PORT/TENANT. It never imports the server: the caller brings
// the HTTP client (with the pinned CA) and the token.
package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rempart/rempart/internal/vault/backend"
)

// Errors besides the backend's, for errors.Is.
var (
	// ErrForbidden means the server refused the operation for this client
	// (deleting a backup, another town's repository...).
	ErrForbidden = errors.New("refused by the backup server")
	// ErrUnauthorized means the token was refused (expired, revoked).
	ErrUnauthorized = errors.New("the backup server did not accept this machine's token")
	// ErrTooLarge means a file is above the server's size limit.
	ErrTooLarge = errors.New("file too large for the backup server")
)

// Retry policy: at most maxTries attempts, waiting firstBackoff, then
// twice as long each time (0.5+1+2+4 s, well under 30 s in all).
var (
	maxTries     = 5
	firstBackoff = 500 * time.Millisecond
)

var tenantRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Remote is one tenant's repository on a server.
type Remote struct {
	location string // https://host:port/tenant, for messages
	base     string // https://host:port/v1/repos/tenant/
	token    string
	client   *http.Client
	// gaveUp is set once a request has spent its whole retry budget: the
	// requests after it (a lock release, the next upload) try once and
	// fail fast, so that a command gives up within one budget, not one
	// per request. Any answer from the server clears it.
	gaveUp atomic.Bool
}

// New opens https://HOST:PORT/TENANT with token, through client (which
// carries the TLS settings, e.g. the pinned CA). Nothing is sent yet.
func New(baseURL, token string, client *http.Client) (*Remote, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("repository address %q: %w", baseURL, err)
	}
	tenant := strings.Trim(u.Path, "/")
	if u.Scheme != "https" || u.Host == "" || !tenantRe.MatchString(tenant) || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("repository address %q: use https://HOST:PORT/TENANT (the town's name on the server)", baseURL)
	}
	if token == "" {
		return nil, fmt.Errorf("repository %s: no token for this server; join it first with `rempart agent join` or `rempart login`", baseURL)
	}
	if client == nil {
		return nil, errors.New("remote: an HTTP client with the server's TLS settings is required")
	}
	loc := "https://" + u.Host + "/" + tenant
	return &Remote{location: loc, base: "https://" + u.Host + "/v1/repos/" + tenant + "/", token: token, client: client}, nil
}

// Location returns https://HOST:PORT/TENANT.
func (r *Remote) Location() string { return r.location }

// TempDir is "": packs are built in the system's temporary folder.
func (r *Remote) TempDir() string { return "" }

// Close drops idle connections.
func (r *Remote) Close() error {
	r.client.CloseIdleConnections()
	return nil
}

func (r *Remote) url(h backend.Handle) string {
	if h.Type == backend.Config {
		return r.base + "config"
	}
	return r.base + string(h.Type) + "/" + url.PathEscape(h.Name)
}

// transient reports whether a failed attempt may be retried.
func transient(resp *http.Response, err error) bool {
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return false
		}
		var ne net.Error
		return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
			errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
			(errors.As(err, &ne) && ne.Timeout())
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return true
	}
	return false
}

// do sends a request, retrying transient failures. body, when not nil,
// is rewound before each attempt. The caller closes the response body.
func (r *Remote) do(ctx context.Context, method string, h backend.Handle, target string, body io.ReadSeeker, size int64, hdr http.Header) (*http.Response, error) {
	wait := firstBackoff
	var lastErr error
	for try := 1; ; try++ {
		req, err := http.NewRequestWithContext(ctx, method, target, nil)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, h, err)
		}
		if body != nil {
			if _, err := body.Seek(0, io.SeekStart); err != nil {
				return nil, fmt.Errorf("%s: rewinding upload: %w", h, err)
			}
			req.Body = io.NopCloser(body)
			req.ContentLength = size
			req.GetBody = nil
		}
		for k, v := range hdr {
			req.Header[k] = v
		}
		req.Header.Set("Authorization", "Bearer "+r.token)
		resp, err := r.client.Do(req)
		if err == nil {
			r.gaveUp.Store(false)
		}
		if !transient(resp, err) {
			if err != nil {
				return nil, fmt.Errorf("%s %s on %s: %w", method, h, r.location, err)
			}
			return resp, nil
		}
		if err != nil {
			lastErr = err
		} else {
			lastErr = fmt.Errorf("server answered %s", resp.Status)
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
		}
		if try >= maxTries || r.gaveUp.Load() {
			r.gaveUp.Store(true)
			return nil, fmt.Errorf("%s %s: the backup server %s is unreachable or overloaded after %d tries: %w", method, h, r.location, try, lastErr)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}

// statusError turns a refusal into an error; it reads and closes the body.
func (r *Remote) statusError(resp *http.Response, h backend.Handle) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		msg = resp.Status
	}
	if resp.StatusCode == http.StatusConflict && h.Type == backend.Snapshot && strings.Contains(msg, "not stored") {
		return snapshotRefused(h, msg)
	}
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%s: %w", h, backend.ErrNotFound)
	case http.StatusConflict:
		return fmt.Errorf("%s: %w (server: %s)", h, backend.ErrExists, msg)
	case http.StatusInsufficientStorage:
		return fmt.Errorf("%s: %w: the backup server %s is full; ask its operator to add space", h, backend.ErrNoSpace, r.location)
	case http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%s: %w (server: %s)", h, ErrTooLarge, msg)
	case http.StatusUnauthorized:
		return fmt.Errorf("%w (%s): it may have expired or been revoked; join again with `rempart agent join` or sign in with `rempart login`", ErrUnauthorized, msg)
	case http.StatusForbidden:
		return fmt.Errorf("%s: %w: %s", h, ErrForbidden, msg)
	}
	return fmt.Errorf("%s: the backup server %s answered %s: %s", h, r.location, resp.Status, msg)
}

// packIDRe finds the pack IDs in a server's message.
var packIDRe = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

// snapshotRefused is the server's 409 to a snapshot that names packs it
// does not hold (docs/server.md: the atomic commit of a snapshot). A
// snapshot's name is the hash of its bytes, so this 409 can never mean
// "other content under the same name": it means the backup must run again.
// The server lists the missing packs in its message; they are passed on
// so that the client can say which one was collected.
func snapshotRefused(h backend.Handle, msg string) error {
	ids := packIDRe.FindAllString(msg, -1)
	var packs []string
	for _, id := range ids {
		if id != h.Name {
			packs = append(packs, id)
		}
	}
	if len(msg) > 1024 {
		msg = msg[:1024] + "..."
	}
	return fmt.Errorf("%s: %w", h, &backend.PacksMissingError{Packs: packs, Message: msg})
}

func ok(resp *http.Response, codes ...int) bool {
	for _, c := range codes {
		if resp.StatusCode == c {
			return true
		}
	}
	return false
}

func (r *Remote) put(ctx context.Context, h backend.Handle, body io.ReadSeeker, size int64) error {
	resp, err := r.do(ctx, http.MethodPut, h, r.url(h), body, size, http.Header{"Content-Type": {"application/octet-stream"}})
	if err != nil {
		return err
	}
	if !ok(resp, http.StatusOK, http.StatusCreated, http.StatusNoContent) {
		return r.statusError(resp, h)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.Body.Close()
}

// Save uploads data (retried on transient failures: uploads are
// idempotent).
func (r *Remote) Save(ctx context.Context, h backend.Handle, data []byte) error {
	return r.put(ctx, h, bytes.NewReader(data), int64(len(data)))
}

// SaveFile streams f as the upload, then closes and removes it.
func (r *Remote) SaveFile(ctx context.Context, h backend.Handle, f *os.File) error {
	defer os.Remove(f.Name())
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("saving %s: %w", h, err)
	}
	return r.put(ctx, h, f, st.Size())
}

// Load returns length bytes at offset (length 0: to the end).
func (r *Remote) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("reading %s: negative offset or length", h)
	}
	hdr := http.Header{}
	switch {
	case length > 0:
		hdr.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		hdr.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := r.do(ctx, http.MethodGet, h, r.url(h), nil, 0, hdr)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		resp.Body.Close()
		return nil, fmt.Errorf("reading %s at %d: beyond end of file (truncated?): %w", h, offset, io.ErrUnexpectedEOF)
	}
	if !ok(resp, http.StatusOK, http.StatusPartialContent) {
		return nil, r.statusError(resp, h)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && offset > 0 {
		return nil, fmt.Errorf("reading %s: the server ignored the byte range", h)
	}
	want := length
	if want == 0 {
		want = resp.ContentLength
	}
	var buf []byte
	if want >= 0 {
		buf = make([]byte, want)
		n, err := io.ReadFull(resp.Body, buf)
		if err != nil {
			return nil, fmt.Errorf("reading %s: got %d of %d bytes (file truncated or connection lost): %w", h, n, want, io.ErrUnexpectedEOF)
		}
	} else if buf, err = io.ReadAll(resp.Body); err != nil {
		return nil, fmt.Errorf("reading %s: %w", h, err)
	}
	return buf, nil
}

// Open streams a whole file.
func (r *Remote) Open(ctx context.Context, h backend.Handle) (io.ReadCloser, error) {
	resp, err := r.do(ctx, http.MethodGet, h, r.url(h), nil, 0, nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, r.statusError(resp, h)
	}
	return resp.Body, nil
}

// Stat asks for a file's size.
func (r *Remote) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	resp, err := r.do(ctx, http.MethodHead, h, r.url(h), nil, 0, nil)
	if err != nil {
		return backend.FileInfo{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return backend.FileInfo{}, r.statusError(resp, h)
	}
	resp.Body.Close()
	size, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %s: the server sent no size", h)
	}
	return backend.FileInfo{Name: h.Name, Size: size}, nil
}

// maxListing bounds a listing's JSON (about 10 million files).
const maxListing = 1 << 30

// List calls fn for each file of type t.
func (r *Remote) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	h := backend.Handle{Type: t}
	resp, err := r.do(ctx, http.MethodGet, h, r.base+string(t)+"/", nil, 0, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return r.statusError(resp, h)
	}
	defer resp.Body.Close()
	var list []struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxListing)).Decode(&list); err != nil {
		return fmt.Errorf("listing %s on %s: unreadable answer: %w", t, r.location, err)
	}
	for _, e := range list {
		if err := fn(backend.FileInfo{Name: e.Name, Size: e.Size}); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes a file; the server allows it only for this client's own
// locks, and answers ErrForbidden for anything else.
func (r *Remote) Remove(ctx context.Context, h backend.Handle) error {
	resp, err := r.do(ctx, http.MethodDelete, h, r.url(h), nil, 0, nil)
	if err != nil {
		return err
	}
	if !ok(resp, http.StatusOK, http.StatusNoContent) {
		return r.statusError(resp, h)
	}
	return resp.Body.Close()
}

var _ backend.Backend = (*Remote)(nil)

package remote

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/vault/backend"
)

func fastRetries(t *testing.T) {
	old, oldB := maxTries, firstBackoff
	maxTries, firstBackoff = 5, time.Millisecond
	t.Cleanup(func() { maxTries, firstBackoff = old, oldB })
}

func newRemote(t *testing.T, h http.Handler) (*Remote, *httptest.Server) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	r, err := New(srv.URL+"/pantin", "rmpt_token", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return r, srv
}

func TestNewChecksAddress(t *testing.T) {
	c := &http.Client{}
	for _, bad := range []string{"http://h/pantin", "https://h", "https://h/", "https://h/a/b", "https://h/Pantin", "https://u@h/pantin", "https://h/pantin?x=1", "::"} {
		if _, err := New(bad, "t", c); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
	if _, err := New("https://h:8443/pantin", "", c); err == nil {
		t.Error("empty token accepted")
	}
	r, err := New("https://h:8443/pantin/", "t", c)
	if err != nil || r.Location() != "https://h:8443/pantin" || r.TempDir() != "" {
		t.Fatalf("New: %v %+v", err, r)
	}
}

func TestStatusesBecomeClearErrors(t *testing.T) {
	fastRetries(t)
	var calls atomic.Int32
	r, _ := newRemote(t, http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		calls.Add(1)
		if q.Header.Get("Authorization") != "Bearer rmpt_token" {
			t.Errorf("no token sent")
		}
		code, err := strconv.Atoi(q.URL.Path[strings.LastIndexByte(q.URL.Path, '/')+1:])
		if err != nil {
			code = 400
		}
		http.Error(w, "server says no", code)
	}))
	ctx := context.Background()
	want := map[string]error{"404": backend.ErrNotFound, "409": backend.ErrExists, "413": ErrTooLarge, "507": backend.ErrNoSpace, "401": ErrUnauthorized, "403": ErrForbidden}
	for name, target := range want {
		err := r.Save(ctx, backend.Handle{Type: backend.Key, Name: name}, []byte("x"))
		if !errors.Is(err, target) {
			t.Errorf("%s: %v, want %v", name, err, target)
		}
	}
	calls.Store(0)
	err := r.Save(ctx, backend.Handle{Type: backend.Key, Name: "500"}, []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "server says no") || calls.Load() != 1 {
		t.Errorf("500: %v after %d calls (must not retry)", err, calls.Load())
	}
	if err := r.Remove(ctx, backend.Handle{Type: backend.Snapshot, Name: "403"}); !errors.Is(err, ErrForbidden) {
		t.Errorf("Remove: %v", err)
	}
}

func TestRetriesTransientFailures(t *testing.T) {
	fastRetries(t)
	var calls atomic.Int32
	var got atomic.Value
	r, _ := newRemote(t, http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		n := calls.Add(1)
		b, _ := io.ReadAll(q.Body)
		if n < 3 {
			http.Error(w, "busy", []int{502, 503}[n-1])
			return
		}
		if q.ContentLength != 11 {
			t.Errorf("Content-Length %d", q.ContentLength)
		}
		got.Store(string(b))
		w.WriteHeader(201)
	}))
	f, err := os.CreateTemp(t.TempDir(), "pack")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("pack bytes!")
	if err := r.SaveFile(context.Background(), backend.Handle{Type: backend.Pack, Name: "ab"}, f); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || got.Load() != "pack bytes!" {
		t.Errorf("%d calls, body %v", calls.Load(), got.Load())
	}
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("temporary file kept: %v", err)
	}

	// Always unavailable: a bounded number of tries, then a clear error.
	calls.Store(0)
	r2, _ := newRemote(t, http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		calls.Add(1)
		http.Error(w, "down", http.StatusGatewayTimeout)
	}))
	_, err = r2.Stat(context.Background(), backend.Handle{Type: backend.Config})
	if err == nil || calls.Load() != int32(maxTries) || !strings.Contains(err.Error(), "unreachable or overloaded") {
		t.Errorf("504: %v after %d calls", err, calls.Load())
	}

	// Connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r3, err := New("https://"+addr+"/pantin", "t", &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := r3.Load(context.Background(), backend.Handle{Type: backend.Config}, 0, 0); err == nil || !strings.Contains(err.Error(), "5 tries") {
		t.Errorf("refused: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("retries took %v", time.Since(start))
	}
}

func TestLoadRangesStatList(t *testing.T) {
	content := strings.NewReader("0123456789abcdef")
	r, _ := newRemote(t, http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		if q.URL.Path == "/v1/repos/pantin/data/" {
			_, _ = io.WriteString(w, `[{"name":"aa","size":16},{"name":"bb","size":3}]`)
			return
		}
		http.ServeContent(w, q, "", time.Time{}, content)
	}))
	ctx := context.Background()
	h := backend.Handle{Type: backend.Pack, Name: "aa"}
	for _, c := range []struct {
		off, n int64
		want   string
	}{{0, 0, "0123456789abcdef"}, {4, 3, "456"}, {10, 0, "abcdef"}, {15, 1, "f"}} {
		b, err := r.Load(ctx, h, c.off, c.n)
		if err != nil || string(b) != c.want {
			t.Errorf("Load(%d,%d) = %q %v", c.off, c.n, b, err)
		}
	}
	if _, err := r.Load(ctx, h, 20, 4); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Load past the end: %v", err)
	}
	if _, err := r.Load(ctx, h, 14, 4); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Load across the end: %v", err)
	}
	fi, err := r.Stat(ctx, h)
	if err != nil || fi.Size != 16 {
		t.Errorf("Stat = %+v %v", fi, err)
	}
	rc, err := r.Open(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "0123456789abcdef" {
		t.Errorf("Open read %q", b)
	}
	var names []string
	if err := r.List(ctx, backend.Pack, func(fi backend.FileInfo) error { names = append(names, fi.Name); return nil }); err != nil || strings.Join(names, ",") != "aa,bb" {
		t.Errorf("List = %v %v", names, err)
	}
}

// TestGivesUpOncePerCommand: once a request has spent its retries on an
// unreachable server, the next ones try once, so that a command fails within
// one retry budget; an answer from the server restores the retries.
func TestGivesUpOncePerCommand(t *testing.T) {
	fastRetries(t)
	var calls atomic.Int32
	down := atomic.Bool{}
	down.Store(true)
	r, srv := newRemote(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		calls.Add(1)
		if down.Load() {
			// Drop the connection: the client sees a transport error.
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("cannot hijack")
				return
			}
			c, _, _ := hj.Hijack()
			c.Close()
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	srv.Client().Transport.(*http.Transport).DisableKeepAlives = true
	ctx := context.Background()
	h := backend.Handle{Type: backend.Snapshot, Name: strings.Repeat("ab", 32)}
	if _, err := r.Stat(ctx, h); err == nil {
		t.Fatal("Stat on a dead server succeeded")
	}
	if got := calls.Load(); got != int32(maxTries) {
		t.Fatalf("first request: %d tries, want %d", got, maxTries)
	}
	calls.Store(0)
	if _, err := r.Stat(ctx, h); err == nil {
		t.Fatal("second Stat on a dead server succeeded")
	}
	if got := calls.Load(); got != 1 {
		t.Fatalf("request after giving up: %d tries, want 1", got)
	}
	down.Store(false)
	if _, err := r.Stat(ctx, h); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("Stat once the server is back: %v, want ErrNotFound", err)
	}
	down.Store(true)
	calls.Store(0)
	_, _ = r.Stat(ctx, h)
	// Go's transport may itself retry once on the idle connection the last
	// answer left open, hence at least maxTries.
	if got := calls.Load(); got < int32(maxTries) {
		t.Fatalf("after the server answered again: %d tries, want %d", got, maxTries)
	}
}

// TestSnapshotRefusedForMissingPacks: the server's 409 to a snapshot that
// names packs it no longer stores becomes ErrPacksMissing with those packs,
// not ErrExists (a snapshot's name is the hash of its bytes: "other
// content" cannot happen).
func TestSnapshotRefusedForMissingPacks(t *testing.T) {
	snap := strings.Repeat("ab", 32)
	p1, p2 := strings.Repeat("01", 32), strings.Repeat("c3", 32)
	r, _ := newRemote(t, http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		if strings.Contains(q.URL.Path, "/keys/") {
			http.Error(w, "keys/x already exists with other content; stored files are never replaced", http.StatusConflict)
			return
		}
		http.Error(w, "snapshots/"+snap+" names 2 pack(s) that are not stored (never uploaded, or collected by the server's retention while this backup ran); run the backup again: "+p1+" "+p2, http.StatusConflict)
	}))
	ctx := context.Background()
	err := r.Save(ctx, backend.Handle{Type: backend.Snapshot, Name: snap}, []byte("x"))
	var pm *backend.PacksMissingError
	if !errors.Is(err, backend.ErrPacksMissing) || errors.Is(err, backend.ErrExists) || !errors.As(err, &pm) {
		t.Fatalf("409 on a snapshot: %v, want ErrPacksMissing", err)
	}
	if strings.Join(pm.Packs, " ") != p1+" "+p2 {
		t.Errorf("packs %q, want %s and %s", pm.Packs, p1, p2)
	}
	if err := r.Save(ctx, backend.Handle{Type: backend.Key, Name: "x"}, []byte("x")); !errors.Is(err, backend.ErrExists) || errors.Is(err, backend.ErrPacksMissing) {
		t.Errorf("409 on a key file: %v, want ErrExists", err)
	}
}

package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/vault/backend"
)

// The conformance suite: what every Storage promises (storage.go), run
// against the folder and against S3 (s3_test.go), so that the layers above
// can rely on it whichever is configured.

func TestFolderConformance(t *testing.T) {
	testConformance(t, func(t *testing.T) Storage {
		s, err := NewFolder(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// name is a file name as the repository makes them: hex of a hash.
func name(content []byte) string {
	h := sha256.Sum256(content)
	return hex.EncodeToString(h[:])
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, s Storage, tenant string, f File, body []byte, opts PutOptions) {
	t.Helper()
	if err := s.Put(context.Background(), tenant, f, bytes.NewReader(body), opts); err != nil {
		t.Fatalf("put %s/%s: %v", f.Type, f.Name, err)
	}
}

func read(t *testing.T, s Storage, tenant string, f File) []byte {
	t.Helper()
	o, err := s.Open(context.Background(), tenant, f)
	if err != nil {
		t.Fatalf("open %s/%s: %v", f.Type, f.Name, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %s/%s: %v", f.Type, f.Name, err)
	}
	return b
}

func list(t *testing.T, s Storage, tenant string, ft backend.FileType) []string {
	t.Helper()
	var names []string
	err := s.List(context.Background(), tenant, ft, func(i Info) error {
		names = append(names, i.Name)
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", ft, err)
	}
	slices.Sort(names)
	return names
}

func testConformance(t *testing.T, open func(t *testing.T) Storage) {
	ctx := context.Background()

	t.Run("PutOpenSeek", func(t *testing.T) {
		s := open(t)
		body := randomBytes(t, 100_000)
		f := File{Type: backend.Pack, Name: name(body)}
		put(t, s, "mairie-a", f, body, PutOptions{})
		if got := read(t, s, "mairie-a", f); !bytes.Equal(got, body) {
			t.Fatal("read back other bytes than were put")
		}
		o, err := s.Open(ctx, "mairie-a", f)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		if o.Info().Size != int64(len(body)) || o.Info().Name != f.Name {
			t.Errorf("open info %+v, want size %d", o.Info(), len(body))
		}
		// A range, as the HTTP API serves it: seek, then read a part.
		if _, err := o.Seek(70_000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		part := make([]byte, 1000)
		if _, err := io.ReadFull(o, part); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(part, body[70_000:71_000]) {
			t.Error("range read after Seek differs")
		}
		if end, err := o.Seek(-10, io.SeekEnd); err != nil || end != int64(len(body))-10 {
			t.Fatalf("seek from end: %d, %v", end, err)
		}
		tail, err := io.ReadAll(o)
		if err != nil || !bytes.Equal(tail, body[len(body)-10:]) {
			t.Errorf("tail read %x, %v", tail, err)
		}
		info, err := s.Stat(ctx, "mairie-a", f)
		if err != nil || info.Size != int64(len(body)) || info.ModTime.IsZero() {
			t.Errorf("stat: %+v, %v", info, err)
		}
	})

	t.Run("LargeBody", func(t *testing.T) {
		// Larger than S3's in-memory spool: goes through a temporary file.
		s := open(t)
		body := randomBytes(t, spoolMemory+12345)
		f := File{Type: backend.Pack, Name: name(body)}
		put(t, s, "mairie-a", f, body, PutOptions{Verify: func() error { return nil }})
		if got := read(t, s, "mairie-a", f); !bytes.Equal(got, body) {
			t.Fatal("large body read back differs")
		}
	})

	t.Run("Config", func(t *testing.T) {
		s := open(t)
		f := File{Type: backend.Config}
		put(t, s, "mairie-a", f, []byte(`{"v":1}`), PutOptions{})
		if got := read(t, s, "mairie-a", f); string(got) != `{"v":1}` {
			t.Fatalf("config %q", got)
		}
		err := s.Put(ctx, "mairie-a", f, strings.NewReader(`{"v":2}`), PutOptions{})
		if !errors.Is(err, ErrExists) {
			t.Fatalf("second config put: %v, want ErrExists", err)
		}
		if got := read(t, s, "mairie-a", f); string(got) != `{"v":1}` {
			t.Fatalf("config replaced: %q", got)
		}
		if _, err := s.Stat(ctx, "mairie-b", f); !errors.Is(err, ErrNotFound) {
			t.Errorf("other tenant's config: %v, want ErrNotFound", err)
		}
	})

	t.Run("ExistingNameRefused", func(t *testing.T) {
		s := open(t)
		body := []byte("the original snapshot")
		f := File{Type: backend.Snapshot, Name: name(body)}
		put(t, s, "mairie-a", f, body, PutOptions{})
		err := s.Put(ctx, "mairie-a", f, strings.NewReader("something else, longer than the original"), PutOptions{Verify: func() error { return nil }})
		if !errors.Is(err, ErrExists) {
			t.Fatalf("put over an existing name: %v, want ErrExists", err)
		}
		if got := read(t, s, "mairie-a", f); !bytes.Equal(got, body) {
			t.Fatalf("existing file changed to %q", got)
		}
		if got := list(t, s, "mairie-a", backend.Snapshot); len(got) != 1 {
			t.Errorf("listed %v", got)
		}
	})

	t.Run("VerifyFailureLeavesNothing", func(t *testing.T) {
		s := open(t)
		errBad := errors.New("hash mismatch")
		body := randomBytes(t, 5000)
		f := File{Type: backend.Pack, Name: name(body)}
		readAll := false
		r := &eofSpy{r: bytes.NewReader(body), eof: &readAll}
		err := s.Put(ctx, "mairie-a", f, r, PutOptions{Verify: func() error {
			if !readAll {
				t.Error("Verify called before the body was read to its end")
			}
			return errBad
		}})
		if !errors.Is(err, errBad) {
			t.Fatalf("put: %v, want the Verify error", err)
		}
		if _, err := s.Stat(ctx, "mairie-a", f); !errors.Is(err, ErrNotFound) {
			t.Errorf("stat after failed verify: %v, want ErrNotFound", err)
		}
		if _, err := s.Open(ctx, "mairie-a", f); !errors.Is(err, ErrNotFound) {
			t.Errorf("open after failed verify: %v, want ErrNotFound", err)
		}
		if got := list(t, s, "mairie-a", backend.Pack); len(got) != 0 {
			t.Errorf("listed %v after failed verify", got)
		}
		// And the name is still free.
		put(t, s, "mairie-a", f, body, PutOptions{})
	})

	t.Run("List", func(t *testing.T) {
		s := open(t)
		if got := list(t, s, "nobody", backend.Pack); len(got) != 0 {
			t.Errorf("empty tenant lists %v", got)
		}
		var want []string
		for i := range 5 {
			body := []byte{byte(i), 'p'}
			want = append(want, name(body))
			put(t, s, "mairie-a", File{Type: backend.Pack, Name: name(body)}, body, PutOptions{})
		}
		slices.Sort(want)
		idx := []byte("an index")
		put(t, s, "mairie-a", File{Type: backend.Index, Name: name(idx)}, idx, PutOptions{})
		put(t, s, "mairie-b", File{Type: backend.Pack, Name: name([]byte("b"))}, []byte("b"), PutOptions{})
		put(t, s, "mairie-a", File{Type: backend.Config}, []byte("{}"), PutOptions{})
		if got := list(t, s, "mairie-a", backend.Pack); !slices.Equal(got, want) {
			t.Errorf("packs listed %v, want %v", got, want)
		}
		if got := list(t, s, "mairie-a", backend.Index); !slices.Equal(got, []string{name(idx)}) {
			t.Errorf("index listed %v", got)
		}
		var sizes []int64
		_ = s.List(ctx, "mairie-a", backend.Pack, func(i Info) error { sizes = append(sizes, i.Size); return nil })
		for _, n := range sizes {
			if n != 2 {
				t.Errorf("listed size %d, want 2", n)
			}
		}
		stop := errors.New("stop")
		calls := 0
		err := s.List(ctx, "mairie-a", backend.Pack, func(Info) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("callback error: %v after %d calls, want it returned after 1", err, calls)
		}
	})

	t.Run("LockReplaceWriter", func(t *testing.T) {
		s := open(t)
		f := File{Type: backend.Lock, Name: name([]byte("lock"))}
		put(t, s, "mairie-a", f, []byte("first"), PutOptions{Writer: "agent-1"})
		if info, err := s.Stat(ctx, "mairie-a", f); err != nil || info.Writer != "agent-1" {
			t.Fatalf("stat lock: %+v, %v", info, err)
		}
		if err := s.Put(ctx, "mairie-a", f, strings.NewReader("x"), PutOptions{Writer: "agent-2"}); !errors.Is(err, ErrExists) {
			t.Fatalf("lock put without Replace: %v, want ErrExists", err)
		}
		put(t, s, "mairie-a", f, []byte("second"), PutOptions{Replace: true, Writer: "agent-2"})
		if got := read(t, s, "mairie-a", f); string(got) != "second" {
			t.Errorf("replaced lock reads %q", got)
		}
		if info, err := s.Stat(ctx, "mairie-a", f); err != nil || info.Writer != "agent-2" {
			t.Errorf("stat replaced lock: %+v, %v", info, err)
		}
		// Locks are never retention-locked: they stay deletable.
		put(t, s, "mairie-a", f, []byte("third"), PutOptions{Replace: true, Writer: "agent-2", RetainUntil: time.Now().Add(time.Hour)})
		if err := s.Delete(ctx, "mairie-a", f); err != nil {
			t.Fatalf("delete lock: %v", err)
		}
		if got := list(t, s, "mairie-a", backend.Lock); len(got) != 0 {
			t.Errorf("locks after delete: %v", got)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		body := []byte("an old snapshot")
		f := File{Type: backend.Snapshot, Name: name(body)}
		put(t, s, "mairie-a", f, body, PutOptions{})
		if err := s.Delete(ctx, "mairie-a", f); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := s.Stat(ctx, "mairie-a", f); !errors.Is(err, ErrNotFound) {
			t.Errorf("stat after delete: %v", err)
		}
		if got := list(t, s, "mairie-a", backend.Snapshot); len(got) != 0 {
			t.Errorf("listed after delete: %v", got)
		}
		if err := s.Delete(ctx, "mairie-a", f); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v, want ErrNotFound", err)
		}
		// The name may be used again (a backup of the same content).
		put(t, s, "mairie-a", f, body, PutOptions{})
	})

	t.Run("RetainNeverFails", func(t *testing.T) {
		s := open(t)
		body := []byte("a snapshot to keep")
		f := File{Type: backend.Snapshot, Name: name(body)}
		put(t, s, "mairie-a", f, body, PutOptions{})
		if err := s.Retain(ctx, "mairie-a", f, time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("retain: %v", err)
		}
		if err := s.Retain(ctx, "mairie-a", f, time.Now().Add(-time.Minute)); err != nil {
			t.Fatalf("retain to the past: %v", err)
		}
	})

	t.Run("ContextCancelled", func(t *testing.T) {
		s := open(t)
		body := []byte("stored before")
		f := File{Type: backend.Pack, Name: name(body)}
		put(t, s, "mairie-a", f, body, PutOptions{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		other := []byte("never stored")
		g := File{Type: backend.Pack, Name: name(other)}
		if err := s.Put(cctx, "mairie-a", g, bytes.NewReader(other), PutOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("put: %v, want context.Canceled", err)
		}
		if _, err := s.Stat(ctx, "mairie-a", g); !errors.Is(err, ErrNotFound) {
			t.Errorf("a cancelled put left %s: %v", g.Name, err)
		}
		if _, err := s.Stat(cctx, "mairie-a", f); !errors.Is(err, context.Canceled) {
			t.Errorf("stat: %v, want context.Canceled", err)
		}
		if _, err := s.Open(cctx, "mairie-a", f); !errors.Is(err, context.Canceled) {
			t.Errorf("open: %v, want context.Canceled", err)
		}
		if err := s.List(cctx, "mairie-a", backend.Pack, func(Info) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("list: %v, want context.Canceled", err)
		}
		if err := s.Delete(cctx, "mairie-a", f); !errors.Is(err, context.Canceled) {
			t.Errorf("delete: %v, want context.Canceled", err)
		}
		if err := s.Retain(cctx, "mairie-a", f, time.Now().Add(time.Hour)); !errors.Is(err, context.Canceled) {
			t.Errorf("retain: %v, want context.Canceled", err)
		}
		if got := read(t, s, "mairie-a", f); !bytes.Equal(got, body) {
			t.Error("cancelled calls changed a stored file")
		}

		// Cancelled in the middle of the body: nothing stored.
		mctx, mcancel := context.WithCancel(ctx)
		defer mcancel()
		big := randomBytes(t, 3<<20)
		h := File{Type: backend.Pack, Name: name(big)}
		r := &cancelAfter{r: bytes.NewReader(big), n: 1 << 20, cancel: mcancel}
		if err := s.Put(mctx, "mairie-a", h, r, PutOptions{}); err == nil {
			t.Error("put cancelled mid-body succeeded")
		}
		if _, err := s.Stat(ctx, "mairie-a", h); !errors.Is(err, ErrNotFound) {
			t.Errorf("a put cancelled mid-body left %s: %v", h.Name, err)
		}
	})
}

// eofSpy records when its reader reached the end.
type eofSpy struct {
	r   io.Reader
	eof *bool
}

func (e *eofSpy) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if errors.Is(err, io.EOF) {
		*e.eof = true
	}
	return n, err
}

// cancelAfter cancels its context once n bytes were read, as a client
// that disconnects in the middle of an upload.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
	}
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

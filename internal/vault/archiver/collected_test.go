package archiver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/backend/remote"
	"github.com/rempart/rempart/internal/vault/checker"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// fakeServer is just enough of the repository API (docs/server.md) over a
// folder repository for the remote backend: list, read with ranges, stat,
// upload, delete, and the atomic commit of a snapshot, which refuses with
// 409 a snapshot naming a pack that is not stored. beforeCommit runs just
// before that verification: a test puts the server's garbage collection
// there, as if it had run while the backup uploaded.
type fakeServer struct {
	be           *local.Local
	mu           sync.Mutex
	beforeCommit func() error
}

func (s *fakeServer) ServeHTTP(w http.ResponseWriter, q *http.Request) {
	ctx := q.Context()
	rest, ok := strings.CutPrefix(q.URL.Path, "/v1/repos/town/")
	if !ok {
		http.NotFound(w, q)
		return
	}
	typ, name, _ := strings.Cut(rest, "/")
	h := backend.Handle{Type: backend.FileType(typ), Name: name}
	fail := func(err error) {
		switch {
		case errors.Is(err, backend.ErrNotFound):
			http.Error(w, err.Error(), http.StatusNotFound)
		case errors.Is(err, backend.ErrExists):
			http.Error(w, err.Error(), http.StatusConflict)
		default:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
	switch {
	case q.Method == http.MethodGet && name == "" && typ != "config":
		out := []map[string]any{}
		err := s.be.List(ctx, h.Type, func(fi backend.FileInfo) error {
			out = append(out, map[string]any{"name": fi.Name, "size": fi.Size})
			return nil
		})
		if err != nil {
			fail(err)
			return
		}
		_ = json.NewEncoder(w).Encode(out)
	case q.Method == http.MethodGet:
		var off, length int64
		if rg := q.Header.Get("Range"); rg != "" {
			a, b, _ := strings.Cut(strings.TrimPrefix(rg, "bytes="), "-")
			off, _ = strconv.ParseInt(a, 10, 64)
			if b != "" {
				end, _ := strconv.ParseInt(b, 10, 64)
				length = end - off + 1
			}
		}
		buf, err := s.be.Load(ctx, h, off, length)
		if err != nil {
			fail(err)
			return
		}
		if q.Header.Get("Range") != "" {
			w.WriteHeader(http.StatusPartialContent)
		}
		_, _ = w.Write(buf)
	case q.Method == http.MethodHead:
		fi, err := s.be.Stat(ctx, h)
		if err != nil {
			fail(err)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(fi.Size, 10))
	case q.Method == http.MethodPut:
		body, err := io.ReadAll(q.Body)
		if err != nil {
			fail(err)
			return
		}
		if h.Type == backend.Snapshot {
			s.commitSnapshot(w, q, h, body)
			return
		}
		if err := s.be.Save(ctx, h, body); err != nil {
			fail(err)
			return
		}
		w.WriteHeader(http.StatusCreated)
	case q.Method == http.MethodDelete:
		if err := s.be.Remove(ctx, h); err != nil {
			fail(err)
		}
	default:
		http.Error(w, "no", http.StatusMethodNotAllowed)
	}
}

// commitSnapshot stores a snapshot only if every pack it names is stored,
// answering like the real server otherwise.
func (s *fakeServer) commitSnapshot(w http.ResponseWriter, q *http.Request, h backend.Handle, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	packs, _, err := snapshot.ReadPacks(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if s.beforeCommit != nil {
		if err := s.beforeCommit(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	var missing []string
	for _, p := range packs {
		if _, err := s.be.Stat(q.Context(), backend.Handle{Type: backend.Pack, Name: p.String()}); err != nil {
			missing = append(missing, p.String())
		}
	}
	if len(missing) > 0 {
		http.Error(w, fmt.Sprintf("%s names %d pack(s) that are not stored (never uploaded, or collected by the server's retention while this backup ran); run the backup again: %s",
			h, len(missing), strings.Join(missing, " ")), http.StatusConflict)
		return
	}
	if err := s.be.Save(q.Context(), h, body); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// TestSnapshotRefusedBecausePackCollected: a backup deduplicates against a
// pack that the server's garbage collection deletes before the snapshot
// arrives; the server refuses the snapshot, the backup says so plainly,
// and running it again succeeds.
func TestSnapshotRefusedBecausePackCollected(t *testing.T) {
	ctx := context.Background()
	tr := vaulttest.NewRepo(t)
	be, err := local.Open(tr.Dir)
	if err != nil {
		t.Fatal(err)
	}
	fsrv := &fakeServer{be: be}
	srv := httptest.NewTLSServer(fsrv)
	t.Cleanup(srv.Close)
	session := func() *repo.Repository {
		t.Helper()
		rb, err := remote.New(srv.URL+"/town", "token", srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		r, err := repo.Open(ctx, rb, tr.Recovery)
		if err != nil {
			t.Fatal(err)
		}
		if problems, err := r.LoadIndex(ctx); err != nil || len(problems) > 0 {
			t.Fatalf("LoadIndex: %v %v", problems, err)
		}
		return r
	}

	rng := rand.New(rand.NewPCG(9, 99))
	src := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		vaulttest.MustWrite(t, filepath.Join(src, fmt.Sprint("f", i)), vaulttest.RandBytes(rng, 800<<10), 0o644)
	}
	want := vaulttest.Scan(t, src)
	a := vaulttest.Backup(t, session(), src).Snapshot
	backup := func() (*archiver.Result, error) {
		return archiver.Backup(ctx, session(), archiver.Options{Paths: []string{src}, Host: "testhost", Program: "test"})
	}

	// Retention drops A; its packs wait for the grace period. A backup
	// starts and reuses them; meanwhile the grace period ends and the
	// collection runs.
	if err := os.Remove(filepath.Join(tr.Dir, "snapshots", a.ID.String())); err != nil {
		t.Fatal(err)
	}
	var collected []string
	fsrv.beforeCommit = func() error {
		var err error
		collected, err = vaulttest.CollectGarbageErr(tr.Dir)
		return err
	}
	_, err = backup()
	fsrv.beforeCommit = nil
	if len(collected) == 0 {
		t.Fatal("the collection deleted nothing: bad test")
	}
	if !errors.Is(err, repo.ErrPackCollected) || !errors.Is(err, backend.ErrPacksMissing) {
		t.Fatalf("backup after its packs were collected: %v, want ErrPackCollected", err)
	}
	t.Logf("refused as expected: %v", err)
	named := false
	for _, p := range collected {
		if strings.Contains(err.Error(), "the server collected pack "+p[:8]) {
			named = true
		}
	}
	if !named || !strings.Contains(err.Error(), "while this backup ran (garbage collection); run the backup again") {
		t.Errorf("error %q does not name a collected pack (%q) and say to run the backup again", err, collected)
	}
	if entries, _ := os.ReadDir(filepath.Join(tr.Dir, "snapshots")); len(entries) != 0 {
		t.Errorf("a refused backup left %d snapshot file(s)", len(entries))
	}

	// Run again: the collected packs are seen as gone, their data stored anew.
	res, err := backup()
	if err != nil {
		t.Fatalf("backup run again: %v", err)
	}
	if res.Snapshot.Summary.BytesAdded < 3*800<<10 {
		t.Errorf("backup run again added %d bytes: it must store the collected data again", res.Snapshot.Summary.BytesAdded)
	}
	got := vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, session(), res.Snapshot), src))
	vaulttest.CompareTrees(t, want, got)
	rep, err := checker.Check(ctx, session(), checker.Options{ReadData: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.CollectedPacks != len(collected) {
		t.Errorf("check: ok %v, collected %d (want %d); problems %+v", rep.OK(), rep.CollectedPacks, len(collected), rep.Problems)
	}
	var ids []crypto.ID
	for _, p := range collected {
		id, _ := crypto.ParseID(p)
		ids = append(ids, id)
	}
	for _, p := range res.Snapshot.Packs {
		for _, c := range ids {
			if p == c {
				t.Errorf("the new snapshot names collected pack %s", c.Short())
			}
		}
	}
}

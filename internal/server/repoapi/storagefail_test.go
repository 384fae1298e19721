package repoapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rempart/rempart/internal/server/storage"
)

// brokenDisk reads the whole upload, then fails as a dying disk would.
type brokenDisk struct{ storage.Storage }

func (b brokenDisk) Put(ctx context.Context, tenant string, f storage.File, body io.Reader, opts storage.PutOptions) error {
	if _, err := io.Copy(io.Discard, body); err != nil {
		return err
	}
	return errors.New("write /srv/repos/x: input/output error")
}

// TestStorageFailureIsTheServers: when the server cannot store a complete,
// valid upload, it answers 500 (the client may retry later), not 400 as if
// the client had sent a broken request; nothing is stored.
func TestStorageFailureIsTheServers(t *testing.T) {
	e := newEnvWith(t, func(s storage.Storage) storage.Storage { return brokenDisk{s} })
	_, tok := e.tenant("mairie-io")
	body := []byte("some pack bytes")
	name := hashName(body)
	r := e.do(tok, http.MethodPut, "/v1/repos/mairie-io/data/"+name, body)
	if r.code != http.StatusInternalServerError {
		t.Fatalf("PUT on a failing disk: %d %s, want 500", r.code, r.body)
	}
	if strings.Contains(r.body, "input/output") {
		t.Errorf("the storage error leaks to the client: %s", r.body)
	}
	if g := e.do(tok, http.MethodGet, "/v1/repos/mairie-io/data/"+name, nil); g.code != http.StatusNotFound {
		t.Errorf("after a failed PUT, GET gives %d, want 404", g.code)
	}
}

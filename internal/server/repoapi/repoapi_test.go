package repoapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/store"
	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/backend/remote"
	"github.com/rempart/rempart/internal/vault/checker"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/restorer"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

const passphrase = "correct horse battery staple"

// makeTree writes a small tree with random, repeated and empty files.
func makeTree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shares")
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{
		"etat-civil/registre.odt": big,
		"etat-civil/copie.odt":    big,
		"rh/vide.txt":             nil,
	}
	for i := range 40 {
		files[fmt.Sprintf("courrier/%02d/lettre-%d.txt", i%5, i)] = []byte(strings.Repeat(fmt.Sprintf("lettre %d ", i), 100+i*37))
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, data, 0o640))
	}
	return dir
}

// sums maps each regular file under dir (relative) to its SHA-256 and mode.
func sums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, _ := d.Info()
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fmt.Sprintf("%x %v", sha256.Sum256(b), st.Mode())
		return nil
	}))
	return out
}

func equalSums(t *testing.T, want, got map[string]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%d files restored, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: restored %q, want %q", k, got[k], v)
		}
	}
}

// openRemote opens the tenant's repository as a new process would.
func openRemote(t *testing.T, e *env, tenant, token string) *repo.Repository {
	t.Helper()
	be, err := remote.New(e.base+"/"+tenant, token, e.client)
	must(t, err)
	r, err := repo.Open(context.Background(), be, passphrase)
	must(t, err)
	return r
}

func restoreAndCheck(t *testing.T, e *env, token, src string, want map[string]string) {
	t.Helper()
	ctx := context.Background()
	r := openRemote(t, e, "pantin", token)
	if problems, err := r.LoadIndex(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("LoadIndex: %v %v", problems, err)
	}
	sn, err := r.FindSnapshot(ctx, "latest")
	must(t, err)
	target := t.TempDir()
	if _, err := restorer.Restore(ctx, r, sn, restorer.Options{Target: target}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	equalSums(t, want, sums(t, filepath.Join(target, src)))
	rep, err := checker.Check(ctx, r, checker.Options{ReadData: true})
	must(t, err)
	if !rep.OK() {
		t.Fatalf("check: %+v", rep)
	}
}

// storedFiles maps every file in the storage folder to its SHA-256.
func storedFiles(t *testing.T, root string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = sha256.Sum256(b)
		return nil
	}))
	return out
}

func firstName(t *testing.T, e *env, tok, typ string) string {
	t.Helper()
	r := e.do(tok, "GET", "/v1/repos/pantin/"+typ+"/", nil)
	if r.code != 200 {
		t.Fatalf("list %s: %d %s", typ, r.code, r.body)
	}
	_, rest, ok := strings.Cut(r.body, `"name":"`)
	if !ok {
		t.Fatalf("list %s: no file in %s", typ, r.body)
	}
	return rest[:strings.IndexByte(rest, '"')]
}

func hashName(b []byte) string { return crypto.Hash(b).String() }

func TestRemoteRepositoryAndAttacks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	pantin, agentTok := e.tenant("pantin")
	_, otherTok := e.tenant("bobigny")

	// A real repository through the remote backend.
	start := time.Now()
	be, err := remote.New(e.base+"/pantin", agentTok, e.client)
	must(t, err)
	r, _, err := repo.Init(ctx, be, passphrase)
	must(t, err)
	src := makeTree(t)
	res, err := archiver.Backup(ctx, r, archiver.Options{Paths: []string{src}, Host: "testhost", Program: "test"})
	must(t, err)
	if len(res.Errors) > 0 {
		t.Fatalf("backup errors: %+v", res.Errors)
	}
	want := sums(t, src)
	restoreAndCheck(t, e, agentTok, src, want)
	t.Logf("init, backup, restore and check over HTTPS: %v", time.Since(start))
	before := storedFiles(t, e.root)

	// Bobigny has a file of its own.
	bobKey := []byte(`{"kind":"bobigny"}`)
	if c := e.do(otherTok, "PUT", "/v1/repos/bobigny/keys/"+hashName(bobKey), bobKey).code; c != 201 {
		t.Fatalf("bobigny key: %d", c)
	}

	packName := firstName(t, e, agentTok, "data")
	names := map[string]string{
		"data/" + packName: "", "snapshots/" + firstName(t, e, agentTok, "snapshots"): "",
		"index/" + firstName(t, e, agentTok, "index"): "", "keys/" + firstName(t, e, agentTok, "keys"): "", "config": "",
	}

	t.Run("delete is refused", func(t *testing.T) {
		for p := range names {
			n := e.auditCount()
			if r := e.do(agentTok, "DELETE", "/v1/repos/pantin/"+p, nil); r.code != 403 {
				t.Errorf("DELETE %s: %d %s", p, r.code, r.body)
			}
			if e.auditCount() != n+1 || e.lastAudit().Principal.Tenant != "pantin" || !strings.Contains(e.lastAudit().Detail, "403") {
				t.Errorf("DELETE %s not audited: %+v", p, e.lastAudit())
			}
		}
		// Even the tenant's admin cannot delete through this API.
		adm := e.account("dsi", store.RoleTenantAdmin, pantin.ID, time.Hour)
		if r := e.do(adm, "DELETE", "/v1/repos/pantin/data/"+packName, nil); r.code != 403 {
			t.Errorf("admin DELETE pack: %d", r.code)
		}
	})

	t.Run("overwrite is refused", func(t *testing.T) {
		other := []byte("ransomware was here")
		for p := range names {
			if r := e.do(agentTok, "PUT", "/v1/repos/pantin/"+p, other); r.code != 409 {
				t.Errorf("PUT other content on %s: %d %s", p, r.code, r.body)
			}
		}
		// The same bytes again is fine (an interrupted upload retried).
		old := e.do(agentTok, "GET", "/v1/repos/pantin/data/"+packName, nil)
		if r := e.do(agentTok, "PUT", "/v1/repos/pantin/data/"+packName, []byte(old.body)); r.code != 200 {
			t.Errorf("identical re-upload: %d %s", r.code, r.body)
		}
	})

	t.Run("name must be the hash", func(t *testing.T) {
		body := []byte("some bytes")
		wrong := hashName([]byte("other bytes"))
		for _, typ := range []string{"data", "index", "keys", "snapshots"} {
			if r := e.do(agentTok, "PUT", "/v1/repos/pantin/"+typ+"/"+wrong, body); r.code != 400 {
				t.Errorf("PUT %s with wrong name: %d %s", typ, r.code, r.body)
			}
			if r := e.do(agentTok, "GET", "/v1/repos/pantin/"+typ+"/"+wrong, nil); r.code != 404 {
				t.Errorf("GET %s after refused put: %d", typ, r.code)
			}
		}
	})

	t.Run("truncated upload stores nothing", func(t *testing.T) {
		full := bytes.Repeat([]byte("pack bytes "), 1000)
		name := hashName(full)
		for _, typ := range []string{"data", "keys", "snapshots"} {
			body := full
			if typ == "keys" {
				body = full[:2000]
				name = hashName(body)
			}
			raw := fmt.Sprintf("PUT /v1/repos/pantin/%s/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
				typ, name, agentTok, len(body), body[:len(body)/2])
			e.rawRequest(raw, true)
			if r := e.do(agentTok, "HEAD", "/v1/repos/pantin/"+typ+"/"+name, nil); r.code != 404 {
				t.Errorf("%s after truncated upload: %d", typ, r.code)
			}
		}
		must(t, filepath.WalkDir(e.root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
				t.Errorf("temporary file left: %s", p)
			}
			return err
		}))
	})

	t.Run("invalid paths", func(t *testing.T) {
		body := []byte("x")
		h := hashName(body)
		for _, p := range []string{
			"/v1/repos/pantin/data/../config", "/v1/repos/pantin/data/..", "/v1/repos/pantin/%2e%2e/%2e%2e/etc/passwd",
			"/v1/repos/pantin/keys/%2e%2e%2fconfig", "/v1/repos/pantin/keys/..%2f..%2fbobigny%2fconfig",
			"/v1/repos/../bobigny/config", "/v1/repos/%2e%2e/config", "/v1/repos/pantin//etc/passwd",
			"/v1/repos/pantin/keys//etc/passwd", "/v1/repos/pantin/tmp/" + h, "/v1/repos/pantin/data/" + strings.ToUpper(h),
			"/v1/repos/pantin/data/" + h[:63], "/v1/repos/pantin/data/" + h + "0", "/v1/repos/pantin/data/" + h + "/x",
			"/v1/repos/pantin/data/" + "ａ" + h[1:], "/v1/repos/pantin/data/%EF%BD%81" + h[1:], "/v1/repos/Pantin/config",
			"/v1/repos/pantin/locks/..", "/v1/repos/pantin/locks/short", "/v1/repos/pantin/config/", "/v1/repos/pantin",
			"/v1/repos/pantin/data/" + h + "%00", "/v1/repos/pantin/data/%2Ftmp%2F" + h,
		} {
			for _, m := range []string{"GET", "PUT", "DELETE"} {
				var b []byte
				if m == "PUT" {
					b = body
				}
				if r := e.do(agentTok, m, p, b); r.code != 400 {
					t.Errorf("%s %s: %d %s", m, p, r.code, r.body)
				}
			}
		}
		// Absolute paths outside the API.
		if line := e.rawRequest("GET /etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+agentTok+"\r\nConnection: close\r\n\r\n", false); !strings.Contains(line, " 400 ") {
			t.Errorf("GET /etc/passwd: %q", line)
		}
	})

	t.Run("other tenants", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/repos/bobigny/config"}, {"HEAD", "/v1/repos/bobigny/keys/" + hashName(bobKey)},
			{"GET", "/v1/repos/bobigny/keys/"}, {"GET", "/v1/repos/bobigny/data/"},
			{"PUT", "/v1/repos/bobigny/keys/" + hashName([]byte("{}"))}, {"PUT", "/v1/repos/bobigny/config"},
			{"DELETE", "/v1/repos/bobigny/locks/" + strings.Repeat("ab", 16)},
		} {
			var b []byte
			if c.method == "PUT" {
				b = []byte("{}")
			}
			if r := e.do(agentTok, c.method, c.path, b); r.code != 403 {
				t.Errorf("%s %s: %d %s", c.method, c.path, r.code, r.body)
			}
		}
		if r := e.do(otherTok, "GET", "/v1/repos/pantin/config", nil); r.code != 403 {
			t.Errorf("bobigny reads pantin: %d", r.code)
		}
		// Operators read every tenant and write none; auditors nothing.
		op := e.account("exploitant", store.RoleOperator, 0, time.Hour)
		if r := e.do(op, "GET", "/v1/repos/pantin/config", nil); r.code != 200 {
			t.Errorf("operator GET: %d", r.code)
		}
		if r := e.do(op, "PUT", "/v1/repos/pantin/keys/"+hashName(bobKey), bobKey); r.code != 403 {
			t.Errorf("operator PUT: %d", r.code)
		}
		aud := e.account("auditeur", store.RoleAuditor, 0, time.Hour)
		if r := e.do(aud, "GET", "/v1/repos/pantin/config", nil); r.code != 403 {
			t.Errorf("auditor GET: %d", r.code)
		}
	})

	t.Run("snapshot with missing packs", func(t *testing.T) {
		k, err := crypto.NewRandomKey()
		must(t, err)
		missing := crypto.Hash([]byte("no such pack"))
		existing, err := crypto.ParseID(packName)
		must(t, err)
		buf, err := snapshot.Encode(k, &snapshot.Snapshot{Time: time.Now(), Host: "evil", Paths: []string{"/"}, Program: "x"},
			snapshot.SortUnique([]crypto.ID{missing, existing}))
		must(t, err)
		r := e.do(agentTok, "PUT", "/v1/repos/pantin/snapshots/"+hashName(buf), buf)
		if r.code != 409 || !strings.Contains(r.body, missing.String()) || strings.Contains(r.body, packName) {
			t.Errorf("snapshot with a missing pack: %d %s", r.code, r.body)
		}
		junk := []byte("not a snapshot at all")
		if r := e.do(agentTok, "PUT", "/v1/repos/pantin/snapshots/"+hashName(junk), junk); r.code != 400 {
			t.Errorf("junk snapshot: %d %s", r.code, r.body)
		}
	})

	t.Run("huge bodies", func(t *testing.T) {
		big := make([]byte, 64<<10+1)
		if r := e.do(agentTok, "PUT", "/v1/repos/pantin/keys/"+hashName(big), big); r.code != 413 {
			t.Errorf("huge key: %d %s", r.code, r.body)
		}
		if r := e.do(agentTok, "PUT", "/v1/repos/pantin/locks/"+strings.Repeat("cd", 16), big); r.code != 413 {
			t.Errorf("huge lock: %d", r.code)
		}
		// Without a declared length (chunked), the limit still holds.
		req, err := http.NewRequestWithContext(ctx, "PUT", e.base+"/v1/repos/pantin/keys/"+hashName(big), io.MultiReader(bytes.NewReader(big)))
		must(t, err)
		req.Header.Set("Authorization", "Bearer "+agentTok)
		res, err := e.client.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode != 413 {
				t.Errorf("huge chunked key: %d", res.StatusCode)
			}
		}
		if r := e.do(agentTok, "HEAD", "/v1/repos/pantin/keys/"+hashName(big), nil); r.code != 404 {
			t.Errorf("huge key stored: %d", r.code)
		}
	})

	t.Run("malformed requests", func(t *testing.T) {
		p := "/v1/repos/pantin/data/" + packName
		for _, rg := range []string{"bytes=999999999-", "bytes=abc", "bytes=5-2", "lines=1-2"} {
			r := e.do(agentTok, "GET", p, nil, "Range", rg)
			if r.code != 416 && r.code != 200 { // an unknown unit is ignored, as RFC 9110 allows
				t.Errorf("Range %s: %d", rg, r.code)
			}
			if rg != "lines=1-2" && r.code != 416 {
				t.Errorf("Range %s: %d", rg, r.code)
			}
		}
		if r := e.do(agentTok, "GET", p, nil, "Range", "bytes=10-19"); r.code != 206 || len(r.body) != 10 {
			t.Errorf("good Range: %d %d bytes", r.code, len(r.body))
		}
		for _, m := range []string{"POST", "PATCH", "OPTIONS", "MKCOL"} {
			if r := e.do(agentTok, m, p, []byte("x")); r.code != 405 {
				t.Errorf("%s: %d", m, r.code)
			}
		}
		if r := e.do(agentTok, "PUT", "/v1/repos/pantin/data/", []byte("x")); r.code != 405 {
			t.Errorf("PUT on a listing: %d", r.code)
		}
		if r := e.do(agentTok, "PUT", "/v1/repos/pantin/locks/"+strings.Repeat("ef", 16), []byte("not json")); r.code != 400 {
			t.Errorf("lock not JSON: %d", r.code)
		}
	})

	t.Run("locks belong to their writer", func(t *testing.T) {
		_, tok2 := e.agent(pantin, "srv-pantin-2")
		p := "/v1/repos/pantin/locks/" + strings.Repeat("0a", 16)
		if r := e.do(tok2, "PUT", p, []byte(`{"pid":1}`)); r.code != 201 {
			t.Fatalf("lock: %d %s", r.code, r.body)
		}
		if r := e.do(tok2, "PUT", p, []byte(`{"pid":2}`)); r.code != 200 {
			t.Errorf("lock refresh by its writer: %d %s", r.code, r.body)
		}
		if r := e.do(agentTok, "PUT", p, []byte(`{"pid":3}`)); r.code != 409 {
			t.Errorf("lock overwrite by another agent: %d", r.code)
		}
		if r := e.do(agentTok, "DELETE", p, nil); r.code != 403 {
			t.Errorf("lock delete by another agent: %d", r.code)
		}
		if r := e.do(tok2, "GET", p, nil); r.code != 200 || r.body != `{"pid":2}` {
			t.Errorf("lock content: %d %q", r.code, r.body)
		}
		if r := e.do(tok2, "DELETE", p, nil); r.code != 204 {
			t.Errorf("lock delete by its writer: %d %s", r.code, r.body)
		}
	})

	t.Run("bad credentials", func(t *testing.T) {
		p := "/v1/repos/pantin/config"
		for name, tok := range map[string]string{"none": "", "garbage": "rmpt_nope", "other scheme": "x"} {
			if r := e.do(tok, "GET", p, nil); r.code != 401 {
				t.Errorf("%s: %d", name, r.code)
			}
		}
		n := e.auditCount()
		if r := e.do("", "GET", p, nil, "Authorization", "Basic YTpi"); r.code != 401 || e.auditCount() != n+1 {
			t.Errorf("basic auth: %d, audited %d", r.code, e.auditCount()-n)
		}
		adm := e.account("dsi-temp", store.RoleTenantAdmin, pantin.ID, time.Hour)
		if r := e.do(adm, "GET", p, nil); r.code != 200 {
			t.Fatalf("admin token: %d", r.code)
		}
		e.clock.Add(2 * time.Hour)
		if r := e.do(adm, "GET", p, nil); r.code != 401 {
			t.Errorf("expired token: %d", r.code)
		}
		ag, tok3 := e.agent(pantin, "srv-pantin-3")
		if r := e.do(tok3, "GET", p, nil); r.code != 200 {
			t.Fatalf("new agent: %d", r.code)
		}
		must(t, e.st.RevokeAgent(ctx, ag.ID))
		if r := e.do(tok3, "GET", p, nil); r.code != 401 {
			t.Errorf("revoked agent: %d", r.code)
		}
		// Through the remote backend, messages say what to do.
		be, err := remote.New(e.base+"/pantin", tok3, e.client)
		must(t, err)
		_, err = be.Stat(ctx, backend.Handle{Type: backend.Config})
		if err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Errorf("remote with revoked token: %v", err)
		}
	})

	// Nothing stored before the attacks changed or disappeared.
	after := storedFiles(t, e.root)
	for p, sum := range before {
		if strings.Contains(p, "/locks/") {
			continue
		}
		if after[p] != sum {
			t.Errorf("%s changed or disappeared", p)
		}
	}
	restoreAndCheck(t, e, agentTok, src, want)
}

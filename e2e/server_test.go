package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testServer is `rempart server` running as a subprocess.
type testServer struct {
	cmd  *exec.Cmd
	url  string
	fp   string
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func (s *testServer) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

var (
	listenRE = regexp.MustCompile(`listening on (https://\S+)`)
	fpRE     = regexp.MustCompile(`CA fingerprint \(SHA-256\): ([0-9A-F:]{95})`)
)

// startServer starts `rempart server` on a free port and waits until it
// prints its URL and CA fingerprint.
func startServer(t *testing.T, e *env, data string) *testServer {
	t.Helper()
	return startServerOn(t, e, data, "127.0.0.1:0")
}

// startServerOn starts `rempart server` listening on listen, with extra
// flags (e.g. --db) after the others.
func startServerOn(t *testing.T, e *env, data, listen string, extra ...string) *testServer {
	t.Helper()
	s := &testServer{done: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"server", "--listen", listen, "--data", data}, extra...)...)
	s.cmd.Env = append(e.environ(), "REMPART_ADMIN_PASSWORD="+adminPassword)
	s.cmd.Dir = e.home
	pr, pw := io.Pipe()
	s.cmd.Stdout = pw
	s.cmd.Stderr = pw
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("cannot start rempart server: %v", err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.mu.Lock()
			s.out.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		_ = s.cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	// The last line of the start-up message ends with "Stop with Ctrl-C.":
	// wait for it too, so that output() then holds the whole message.
	deadline := time.After(60 * time.Second)
	for done := false; s.url == "" || s.fp == "" || !done; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("rempart server exited before it was ready:\n%s", s.output())
			}
			if m := listenRE.FindStringSubmatch(l); m != nil {
				s.url = m[1]
			}
			if m := fpRE.FindStringSubmatch(l); m != nil {
				s.fp = m[1]
			}
			done = done || strings.Contains(l, "Stop with Ctrl-C")
		case <-deadline:
			t.Fatalf("rempart server did not print its URL and fingerprint within 60 s:\n%s", s.output())
		}
	}
	go func() { // keep draining
		for range lines {
		}
	}()
	return s
}

// stop sends SIGTERM and expects a clean exit.
func (s *testServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("rempart server did not stop within 30 s of SIGTERM:\n%s", s.output())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("rempart server exited %d after SIGTERM, want 0:\n%s", code, s.output())
	}
}

const adminPassword = "town hall admin password 42"

// TestServerEndToEnd: a town's IT manager starts a server, enrols a machine,
// backs it up and restores it over HTTPS; the machine cannot destroy
// backups.
func TestServerEndToEnd(t *testing.T) {
	admin := newEnv(t).with("REMPART_REPO", "")
	srv := startServer(t, admin, filepath.Join(t.TempDir(), "data"))
	mustContain(t, "server output", srv.output(), "admin", "REMPART_ADMIN_PASSWORD")
	if strings.Contains(srv.output(), adminPassword) {
		t.Errorf("the server prints the admin password it was given:\n%s", srv.output())
	}

	// The IT manager signs in, with no terminal: the fingerprint is required.
	r := admin.with("REMPART_LOGIN_PASSWORD", adminPassword).expect(2, "login", srv.url, "--user", "admin")
	mustContain(t, "login without --ca-fingerprint", r.stderr, "--ca-fingerprint")
	wrongFP := strings.Repeat("AB:", 31) + "AB"
	r = admin.with("REMPART_LOGIN_PASSWORD", adminPassword).run("login", srv.url, "--user", "admin", "--ca-fingerprint", wrongFP)
	if r.code == 0 {
		t.Fatalf("login accepted a wrong CA fingerprint\n%s", r)
	}
	mustContain(t, "login with a wrong fingerprint", r.stderr, "fingerprint", "refused")
	admin.with("REMPART_LOGIN_PASSWORD", "wrong password!!").expect(1, "login", srv.url, "--user", "admin", "--ca-fingerprint", srv.fp)
	admin.with("REMPART_LOGIN_PASSWORD", adminPassword).ok("login", srv.url, "--user", "admin", "--ca-fingerprint", srv.fp)
	if fi, err := os.Stat(filepath.Join(admin.home, ".config", "rempart", "servers.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("client state: %v, mode %v; want mode 0600", err, fi)
	}

	var tenant struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	admin.okJSON(&tenant, "tenant", "create", "mairie-a")
	if tenant.Name != "mairie-a" || tenant.ID == 0 {
		t.Fatalf("tenant create --json: %+v", tenant)
	}
	var tenants []map[string]any
	admin.okJSON(&tenants, "tenant", "list")
	if len(tenants) != 1 {
		t.Errorf("tenant list: %v", tenants)
	}
	var enrol struct {
		Token       string `json:"token"`
		JoinCommand string `json:"join_command"`
	}
	admin.okJSON(&enrol, "agent", "enroll", "--tenant", "mairie-a")
	if enrol.Token == "" || !strings.Contains(enrol.JoinCommand, srv.fp) {
		t.Fatalf("agent enroll --json: %+v", enrol)
	}

	// The machine to protect: another HOME, another machine.
	repoURL := srv.url + "/mairie-a"
	agent := newEnv(t).with("REMPART_REPO", repoURL)
	agent.expect(1, "agent", "join", srv.url, enrol.Token, "--ca-fingerprint", wrongFP)
	agent.ok("agent", "join", srv.url, enrol.Token, "--ca-fingerprint", srv.fp, "--host", "pc-accueil")
	r = newEnv(t).run("agent", "join", srv.url, enrol.Token, "--ca-fingerprint", srv.fp)
	if r.code == 0 {
		t.Errorf("an enrolment token was used twice\n%s", r)
	}
	mustContain(t, "second join", r.stderr, "already been used")
	var agents []struct {
		ID   int64  `json:"id"`
		Host string `json:"host"`
	}
	admin.okJSON(&agents, "agent", "list", "--tenant", "mairie-a")
	if len(agents) != 1 || agents[0].Host != "pc-accueil" {
		t.Errorf("agent list: %+v", agents)
	}

	// Back up, list, restore over HTTPS.
	src := filepath.Join(tempDir(t), "src")
	genUserTree(t, src, 7)
	want := takeManifest(t, src)
	agent.initRepo()
	b1 := agent.backup(src)
	if err := os.WriteFile(filepath.Join(src, "new-file.txt"), []byte("added on Tuesday\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want2 := takeManifest(t, src)
	b2 := agent.backup(src)
	snaps := agent.snapshots()
	if len(snaps) != 2 {
		t.Fatalf("snapshots over HTTPS: %+v, want 2", snaps)
	}
	agent.restoreAndCompare(b1.SnapshotID, src, want)
	agent.restoreAndCompare(b2.SnapshotID, src, want2)
	agent.ok("check")

	// The agent cannot destroy backups.
	r = agent.run("forget", "--keep-last", "1")
	if r.code == 0 {
		t.Errorf("forget succeeded for an agent\n%s", r)
	}
	mustContain(t, "forget as an agent", r.stderr, "not allowed")
	if n := len(agent.snapshots()); n != 2 {
		t.Errorf("after a refused forget: %d snapshots, want 2", n)
	}
	// ... nor administer the server.
	r = agent.run("tenant", "list")
	if r.code == 0 {
		t.Errorf("the agent machine could list tenants\n%s", r)
	}
	checkAuditAfterRefusedForget(t, admin, agent, agents[0].ID)
	checkRetentionCLI(t, admin, agent)

	// /healthz and /metrics answer over the pinned TLS only.
	client := pinnedHTTP(t, agent)
	for path, sub := range map[string]string{"/healthz": "ok", "/metrics": `rempart_http_requests_total{route="/v1/repos",code="201"}`} {
		resp, err := client.Get(srv.url + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), sub) {
			t.Errorf("GET %s: %s\n%s", path, resp.Status, body)
		}
	}

	// Revoked, the machine can no longer read.
	admin.ok("agent", "revoke", "1")
	r = agent.run("snapshots")
	if r.code == 0 {
		t.Errorf("a revoked agent could still list snapshots\n%s", r)
	}
	srv.stop(t)
}

// pinnedHTTP is an HTTP client trusting only the CA that agent join saved.
func pinnedHTTP(t *testing.T, e *env) *http.Client {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.home, ".config", "rempart", "servers.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Servers map[string]struct {
			CAPEM string `json:"ca_pem"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, sv := range st.Servers {
		if !pool.AppendCertsFromPEM([]byte(sv.CAPEM)) {
			t.Fatal("servers.json holds no usable CA certificate")
		}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

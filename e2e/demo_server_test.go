package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/pki"
)

var (
	demoReadyRE = regexp.MustCompile(`Rempart demo ready in \S+: (https://\S+)/console/`)
	demoFpRE    = regexp.MustCompile(`^\s+([0-9A-F]{2}(:[0-9A-F]{2}){31})\s*$`)
	demoAcctRE  = regexp.MustCompile(`^\s+(admin|dsi@\S+)\s+([A-Za-z0-9_-]{16,})\s`)
)

// TestDemoServer: `rempart demo --server` starts a server on a free port,
// fills it with two towns and says it is ready; through the API, with the
// printed operator password, both towns have a plan, one has drills
// recorded and the other an open Sentinel alert. Ctrl-C stops it cleanly
// and removes its temporary folder.
func TestDemoServer(t *testing.T) {
	e := newEnv(t).with("REMPART_REPO", "", "REMPART_PASSWORD", "")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--server", "--listen", "127.0.0.1:0")
	cmd.Env = e.environ()
	cmd.Dir = e.home
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	must(t, cmd.Start())
	var mu sync.Mutex
	var out strings.Builder
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	var waitErr error
	done := make(chan struct{})
	go func() { waitErr = cmd.Wait(); pw.Close(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
			<-done
		}
	})

	// Wait for the summary, up to "Stop with Ctrl-C.".
	var url, fp, opPass string
	accounts := map[string]string{}
	start := time.Now()
	deadline := time.After(90 * time.Second)
	for stop := false; !stop; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("rempart demo --server exited before it was ready:\n%s", output())
			}
			if m := demoReadyRE.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
			if m := demoFpRE.FindStringSubmatch(l); m != nil {
				fp = m[1]
			}
			if m := demoAcctRE.FindStringSubmatch(l); m != nil {
				accounts[m[1]] = m[2]
			}
			stop = strings.Contains(l, "Stop with Ctrl-C")
		case <-deadline:
			t.Fatalf("rempart demo --server was not ready within 90 s:\n%s", output())
		}
	}
	t.Logf("demo ready in %s:\n%s", time.Since(start).Round(100*time.Millisecond), output())
	opPass = accounts["admin"]
	if url == "" || fp == "" || opPass == "" || len(accounts) != 3 {
		t.Fatalf("the demo's summary lacks the URL, the fingerprint or the accounts (%q %q %v):\n%s", url, fp, accounts, output())
	}
	mustContain(t, "rempart demo --server", output(), "/console/", "Mairie de Valbonne", "Mairie de Saint-Aubin", "What you will see")

	// The API, trusting only the printed CA fingerprint.
	pin, err := pki.ParseFingerprint(fp)
	must(t, err)
	tc, err := pki.ClientTLSConfig(pin, nil, "127.0.0.1")
	must(t, err)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	defer client.CloseIdleConnections()
	call := func(method, path, token string, body, v any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = strings.NewReader(string(b))
		}
		req, err := http.NewRequestWithContext(ctx, method, url+path, rd)
		must(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		must(t, err)
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	var login struct {
		Token string `json:"token"`
		Role  string `json:"role"`
	}
	call("POST", "/v1/login", "", map[string]string{"username": "admin", "password": opPass}, &login)
	if login.Token == "" || login.Role != "operator" {
		t.Fatalf("login as admin: %+v", login)
	}
	var tenants []struct {
		Name string `json:"name"`
	}
	call("GET", "/v1/tenants", login.Token, nil, &tenants)
	if len(tenants) != 2 {
		t.Fatalf("tenants: %+v, want two towns", tenants)
	}
	drilled, alerted := "", ""
	for _, tn := range tenants {
		var plan struct {
			Version int64 `json:"version"`
			Plan    struct {
				Services []struct {
					ID string `json:"id"`
				} `json:"services"`
			} `json:"plan"`
		}
		call("GET", "/v1/tenants/"+tn.Name+"/plan", login.Token, nil, &plan)
		if plan.Version != 1 || len(plan.Plan.Services) == 0 {
			t.Errorf("plan of %s: version %d, %d services", tn.Name, plan.Version, len(plan.Plan.Services))
		}
		var drills []struct {
			Result string `json:"result"`
		}
		call("GET", "/v1/tenants/"+tn.Name+"/drills", login.Token, nil, &drills)
		if len(drills) > 0 {
			for _, d := range drills {
				if d.Result != "passed" {
					t.Errorf("drill of %s: %q, want passed", tn.Name, d.Result)
				}
			}
			drilled = tn.Name
		}
		var alerts []struct {
			Kind    string `json:"kind"`
			State   string `json:"state"`
			Verdict string `json:"verdict"`
		}
		call("GET", "/v1/alerts?tenant="+tn.Name, login.Token, nil, &alerts)
		for _, a := range alerts {
			if a.Kind == "sentinel" && a.State == "open" && (a.Verdict == "infected" || a.Verdict == "suspect") {
				alerted = tn.Name
			}
		}
	}
	if drilled == "" || alerted == "" || drilled == alerted {
		t.Errorf("want one town with drills (%q) and the other with an open Sentinel alert (%q)", drilled, alerted)
	}
	// "Run a drill" in the console: the town's machine, started by the
	// demo, picks the request up, runs the drill and records it.
	var plan struct {
		Plan struct {
			Services []struct {
				ID string `json:"id"`
			} `json:"services"`
		} `json:"plan"`
	}
	call("GET", "/v1/tenants/"+drilled+"/plan", login.Token, nil, &plan)
	var queued []struct {
		ID int64 `json:"id"`
	}
	call("POST", "/v1/tenants/"+drilled+"/drill-requests", login.Token, map[string]any{"services": []string{plan.Plan.Services[0].ID}}, &queued)
	type requestsOut struct {
		Requests []struct {
			ID     int64  `json:"id"`
			State  string `json:"state"`
			Result string `json:"result"`
			Error  string `json:"error"`
			Host   string `json:"host"`
		} `json:"requests"`
		Runners []struct {
			Host string `json:"host"`
		} `json:"runners"`
		Schedule struct {
			EveryDays int `json:"every_days"`
		} `json:"schedule"`
	}
	var rq requestsOut
	for waited := time.Now(); ; time.Sleep(250 * time.Millisecond) {
		rq = requestsOut{}
		call("GET", "/v1/tenants/"+drilled+"/drill-requests", login.Token, nil, &rq)
		if len(rq.Requests) == 1 && rq.Requests[0].ID == queued[0].ID && rq.Requests[0].State != "queued" && rq.Requests[0].State != "running" {
			break
		}
		if time.Since(waited) > time.Minute {
			t.Fatalf("the demo's machine did not run the requested drill within a minute: %+v\n%s", rq, output())
		}
	}
	if r := rq.Requests[0]; r.State != "done" || r.Result != "passed" || r.Host == "" || len(rq.Runners) == 0 || rq.Schedule.EveryDays != 30 {
		t.Errorf("requested drill in the demo: %+v", rq)
	}

	// A town admin signs in with the printed password and sees one town.
	var dsi struct {
		Token  string `json:"token"`
		Tenant string `json:"tenant"`
	}
	call("POST", "/v1/login", "", map[string]string{"username": "dsi@valbonne.fr", "password": accounts["dsi@valbonne.fr"]}, &dsi)
	call("GET", "/v1/tenants", dsi.Token, nil, &tenants)
	if len(tenants) != 1 || dsi.Tenant != tenants[0].Name {
		t.Errorf("the town admin of Valbonne sees %+v (own tenant %q)", tenants, dsi.Tenant)
	}

	// Ctrl-C: a clean stop, within 30 s, the temporary folder removed.
	dir := regexp.MustCompile(`Everything is in (\S+) and is removed`).FindStringSubmatch(output())
	client.CloseIdleConnections()
	must(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("rempart demo --server after Ctrl-C: %v\n%s", waitErr, output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("rempart demo --server did not stop within 30 s of Ctrl-C:\n%s", output())
	}
	mustContain(t, "rempart demo --server after Ctrl-C", output(), "Stopping the demo server")
	if dir == nil || !strings.HasPrefix(dir[1], e.tmp) {
		t.Errorf("the demo's folder is not a temporary folder in TMPDIR: %v", dir)
	}
	if left, _ := filepath.Glob(filepath.Join(e.tmp, "*")); len(left) > 0 {
		t.Errorf("the demo left %v in TMPDIR", left)
	}
}

package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/server"
)

// ServerOptions of the server demo (`rempart demo --server`).
type ServerOptions struct {
	// Dir is the demo's folder (server data, the towns' sample folders,
	// the client settings); a new temporary folder when empty. A folder
	// given here must be empty or absent, and is kept.
	Dir string
	// Keep keeps a temporary folder after the server stops.
	Keep bool
	// Listen is the server's HTTPS address (default 127.0.0.1:8443).
	Listen string
	// Exe is the rempart binary: every step runs it as a town's IT
	// manager or machine would (default: this program).
	Exe string
	// WebApp is the built web apps (console and crisis room).
	WebApp fs.FS
	// Corpus is a folder of real documents (MANIFEST.tsv, as in
	// ../shared/corpus) to add to the shared folders; "" or absent: only
	// generated files.
	Corpus string
	// Out gets the story and the final summary.
	Out io.Writer
	// Ready is called with the console's URL once everything is set up.
	Ready func(url string)
}

// town is one tenant of the demo.
type town struct {
	title, tenant, host, admin string
	root                       string // its machine's folders
	adminPass, repoPass        string
	adminHome, agentHome       string
}

// RunServer starts a Rempart server on embedded defaults (SQLite and local
// storage in a fresh folder) and fills it as two towns would: accounts,
// an enrolled machine per town, backed-up folders, a continuity plan, a
// passing drill in one town and a real Sentinel alert in the other. It
// then serves until ctx is cancelled.
func RunServer(ctx context.Context, o ServerOptions) (err error) {
	start := time.Now()
	out := o.Out
	if out == nil {
		out = os.Stdout
	}
	if o.Listen == "" {
		o.Listen = server.DefaultListen
	}
	if o.Exe == "" {
		if o.Exe, err = os.Executable(); err != nil {
			return fmt.Errorf("demo: find the rempart program: %w", err)
		}
	}
	dir := o.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "rempart-demo-server-"); err != nil {
			return err
		}
		if !o.Keep {
			defer os.RemoveAll(dir)
		}
	} else {
		if entries, rerr := os.ReadDir(dir); rerr == nil && len(entries) > 0 {
			return fmt.Errorf("demo: %s is not empty: give a new or empty folder (the demo starts from nothing)", dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	step := func(format string, args ...any) { fmt.Fprintf(out, "==> "+format+"\n", args...) }

	// The server, in this process.
	step("Starting the server on embedded defaults (SQLite, local storage) in %s", dir)
	opPass := secret(15)
	off := false
	cfg := server.Config{Listen: o.Listen, Data: filepath.Join(dir, "server"), AdminPassword: opPass, WebApp: o.WebApp}
	cfg.Call.Enabled = &off // no UDP port to open for a demo
	infoc := make(chan server.Info, 1)
	cfg.Ready = func(i server.Info) { infoc <- i }
	sctx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	errc := make(chan error, 1)
	go func() { errc <- server.Run(sctx, cfg) }()
	var info server.Info
	select {
	case info = <-infoc:
	case err := <-errc:
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("demo: the server did not start: %w (is another server running? pick a free address with --listen 127.0.0.1:0)", err)
		}
		return fmt.Errorf("demo: the server did not start: %w", err)
	case <-time.After(time.Minute):
		return errors.New("demo: the server did not start within a minute")
	}
	// From here on, an error stops the server first; Ctrl-C while the
	// towns are being set up is a stop, not a failure.
	defer func() {
		stopServer()
		if serr := <-errc; err == nil && serr != nil && !errors.Is(serr, context.Canceled) {
			err = serr
		}
		if err != nil && ctx.Err() != nil {
			fmt.Fprintf(out, "Demo interrupted; the server is stopped.\n")
			err = nil
		}
	}()

	d := &demoRun{ctx: ctx, exe: o.Exe, dir: dir, url: info.URL, fp: info.CAFingerprint}
	opHome := filepath.Join(dir, "homes", "operator")
	if _, err := d.run(opHome, []string{"REMPART_LOGIN_PASSWORD=" + opPass}, 0, "login", info.URL, "--user", "admin", "--ca-fingerprint", info.CAFingerprint); err != nil {
		return err
	}
	towns := []*town{
		{title: "Mairie de Valbonne", tenant: "mairie-valbonne", host: "srv-valbonne", admin: "dsi@valbonne.fr"},
		{title: "Mairie de Saint-Aubin", tenant: "mairie-saint-aubin", host: "srv-saint-aubin", admin: "dsi@saint-aubin.fr"},
	}
	for i, t := range towns {
		step("%s: tenant %s, town admin %s, machine %s", t.title, t.tenant, t.admin, t.host)
		t.root = filepath.Join(dir, "towns", t.tenant)
		t.adminHome = filepath.Join(dir, "homes", t.admin)
		t.agentHome = filepath.Join(dir, "homes", t.host)
		t.repoPass = secret(15)
		if err := d.setUpTown(opHome, t); err != nil {
			return fmt.Errorf("demo: %s: %w", t.title, err)
		}
		n, size, err := MakeTownSample(t.root, t.title, uint64(i+1), o.Corpus)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "    sample folders: %d files, %d KiB (civil registry, payroll, shared folders, website)\n", n, size>>10)
		for _, src := range townSources {
			if _, err := d.run(t.agentHome, t.agentEnv(d), 0, "--json", "backup", filepath.Join(t.root, src.path), "--tag", "daily"); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "    backed up %d folders through the server (each checked by Sentinel: clean)\n", len(townSources))
		plan, err := TownPlan(t.title, t.host, t.root)
		if err != nil {
			return err
		}
		pf := filepath.Join(dir, t.tenant+"-plan.yaml")
		if err := os.WriteFile(pf, plan, 0o644); err != nil {
			return err
		}
		if _, err := d.run(t.adminHome, nil, 0, "plan", "apply", "-f", pf, "--note", "demo: the example plan, adapted to the town"); err != nil {
			return err
		}
		fmt.Fprintf(out, "    continuity plan applied (%s): %d services\n", filepath.Base(pf), len(townSources))
	}

	// Valbonne: a restore drill of every service, with the real engine.
	v := towns[0]
	step("%s: restore drill of every service (restore, verify every byte, health check, time)", v.title)
	scratch := filepath.Join(dir, "scratch")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return err
	}
	if _, err := d.run(v.agentHome, v.agentEnv(d), 0, "--json", "drill", "run", "--all", "--scratch", scratch); err != nil {
		return err
	}
	fmt.Fprintf(out, "    %d drills passed and recorded on the server\n", len(townSources))

	// Saint-Aubin: ransomware on the file server, seen by Sentinel in the
	// next backup.
	sa := towns[1]
	step("%s: ransomware encrypts the shared folders; the next backup is checked by Sentinel", sa.title)
	shares := filepath.Join(sa.root, "partages")
	hit, err := Attack(shares)
	if err != nil {
		return err
	}
	r, err := d.run(sa.agentHome, sa.agentEnv(d), -1, "--json", "backup", shares, "--tag", "daily")
	if err != nil {
		return err
	}
	var verdict struct {
		Verdict string `json:"verdict"`
	}
	_ = json.NewDecoder(bytes.NewReader(r.stdout)).Decode(&verdict)
	if r.code != 4 && r.code != 5 {
		return fmt.Errorf("demo: Sentinel did not flag the attacked folder (exit %d, verdict %q)\n%s", r.code, verdict.Verdict, r.stderr)
	}
	fmt.Fprintf(out, "    %d files encrypted and renamed *.locked, ransom notes left: verdict %s (exit %d)\n", hit, strings.ToUpper(verdict.Verdict), r.code)
	if err := d.waitAlert(opHome, sa.tenant); err != nil {
		return err
	}
	fmt.Fprintf(out, "    the server opened a Sentinel alert and froze the last clean snapshot\n")

	// Drills requested from the console: each town's machine waits for
	// them, as `rempart drill run --requested --watch` would run as a
	// service there; Valbonne's are also scheduled.
	step("Each town's machine waits for drill requests (the console's \"Run a drill\"); %s drills every service every 30 days", v.title)
	if _, err := d.run(v.adminHome, nil, 0, "drill", "schedule", "--every", "30d", "--at", "02:30", "--tenant", v.tenant); err != nil {
		return err
	}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return err
	}
	var runners []*drillRunner
	// Stopped before the server (deferred calls run last first): a drill
	// in progress fails its request with "stopped on HOST".
	defer func() {
		for _, r := range runners {
			r.stop()
		}
	}()
	for _, t := range towns {
		r, err := d.startDrillRunner(ctx, t, scratch, filepath.Join(logs, "drill-runner-"+t.tenant+".log"), out)
		if err != nil {
			return err
		}
		runners = append(runners, r)
	}
	fmt.Fprintf(out, "    %d machines run `rempart drill run --requested --watch --interval 5s` (logs in %s)\n", len(runners), logs)

	console := info.URL + "/console/"
	fmt.Fprintf(out, "\nRempart demo ready in %s: %s\n\n", time.Since(start).Round(100*time.Millisecond), console)
	fmt.Fprintf(out, "Open %s in a browser. The certificate comes from the server's own\n", console)
	fmt.Fprintf(out, "certificate authority, so the browser warns once: check that the CA's SHA-256\n")
	fmt.Fprintf(out, "fingerprint is\n\n    %s\n\n", info.CAFingerprint)
	fmt.Fprintf(out, "then accept (or trust %s/ca.crt, see the README, \"Crisis room\").\n\n", info.URL)
	fmt.Fprintf(out, "Demo accounts (passwords generated for this run, SHOWN ONLY NOW; no second factor):\n\n")
	fmt.Fprintf(out, "    %-22s %-26s %s\n", "admin", opPass, "operator (shared IT service): both towns")
	for _, t := range towns {
		fmt.Fprintf(out, "    %-22s %-26s %s\n", t.admin, t.adminPass, "town admin: "+t.title)
	}
	fmt.Fprintf(out, "\nWhat you will see:\n")
	fmt.Fprintf(out, "  - two towns, each with a continuity plan of %d services and its recovery order\n", len(townSources))
	fmt.Fprintf(out, "  - %s: every service backed up, a passed restore drill per service\n", v.title)
	fmt.Fprintf(out, "  - %s: an open Sentinel alert (ransomware on the shared folders), the clean snapshot frozen\n", sa.title)
	fmt.Fprintf(out, "  - \"Run a drill\" on a service: the town's machine (here, a background process) picks the\n")
	fmt.Fprintf(out, "    request up within 5 s, restores, verifies every byte, records the drill; %s's\n", v.title)
	fmt.Fprintf(out, "    services are also scheduled for a drill every 30 days at 02:30\n")
	fmt.Fprintf(out, "\nFrom a shell (the operator's settings are in %s):\n", opHome)
	fmt.Fprintf(out, "    HOME=%s %s alert list\n", opHome, o.Exe)
	fmt.Fprintf(out, "    HOME=%s %s drill request paie --tenant %s --wait\n", opHome, o.Exe, v.tenant)
	fmt.Fprintf(out, "What the towns' machines do with requested drills: %s.\n", filepath.Join(logs, "drill-runner-*.log"))
	fmt.Fprintf(out, "Repository passphrases: %s %q, %s %q.\n", v.tenant, v.repoPass, sa.tenant, sa.repoPass)
	if o.Dir == "" && !o.Keep {
		fmt.Fprintf(out, "Everything is in %s and is removed when you stop (--keep keeps it).\n", dir)
	} else {
		fmt.Fprintf(out, "Everything is in %s (kept).\n", dir)
	}
	fmt.Fprintf(out, "\nStop with Ctrl-C.\n")
	if o.Ready != nil {
		o.Ready(console)
	}
	select {
	case <-ctx.Done():
		fmt.Fprintf(out, "Stopping the demo server.\n")
		return nil
	case err := <-errc:
		errc <- err // for the deferred stop
		return fmt.Errorf("demo: the server stopped: %w", err)
	}
}

// setUpTown creates the tenant, its admin account (signed in), and
// enrols the town's machine with its repository.
func (d *demoRun) setUpTown(opHome string, t *town) error {
	if _, err := d.run(opHome, nil, 0, "tenant", "create", t.tenant); err != nil {
		return err
	}
	t.adminPass = secret(15)
	if _, err := d.run(opHome, []string{"REMPART_NEW_PASSWORD=" + t.adminPass}, 0, "account", "create", t.admin, "--role", "tenant-admin", "--tenant", t.tenant); err != nil {
		return err
	}
	if _, err := d.run(t.adminHome, []string{"REMPART_LOGIN_PASSWORD=" + t.adminPass}, 0, "login", d.url, "--user", t.admin, "--ca-fingerprint", d.fp); err != nil {
		return err
	}
	r, err := d.run(t.adminHome, nil, 0, "--json", "agent", "enroll", "--tenant", t.tenant)
	if err != nil {
		return err
	}
	var enrol struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(r.stdout, &enrol); err != nil || enrol.Token == "" {
		return fmt.Errorf("agent enroll: no token in %q", r.stdout)
	}
	if _, err := d.run(t.agentHome, t.agentEnv(d), 0, "agent", "join", d.url, enrol.Token, "--ca-fingerprint", d.fp, "--host", t.host); err != nil {
		return err
	}
	_, err = d.run(t.agentHome, t.agentEnv(d), 0, "--json", "init")
	return err
}

func (t *town) agentEnv(d *demoRun) []string {
	return []string{"REMPART_REPO=" + d.url + "/" + t.tenant, "REMPART_PASSWORD=" + t.repoPass}
}

// waitAlert waits (at most 30 s) until the tenant has an open alert.
func (d *demoRun) waitAlert(opHome, tenant string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := d.run(opHome, nil, 0, "--json", "alert", "list", "--tenant", tenant)
		if err != nil {
			return err
		}
		var list []struct {
			State string `json:"state"`
		}
		if json.Unmarshal(r.stdout, &list) == nil {
			for _, a := range list {
				if a.State == "open" {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: no open alert in %s after 30 s", tenant)
		}
		select {
		case <-d.ctx.Done():
			return d.ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// demoRun runs rempart as the people and machines of the demo.
type demoRun struct {
	ctx     context.Context
	exe     string
	dir     string
	url, fp string
}

type runResult struct {
	stdout, stderr []byte
	code           int
}

// stepTimeout bounds every step.
const stepTimeout = 2 * time.Minute

// run runs rempart with its own HOME (its own client settings) and the
// extra environment; an exit code other than want (-1: any) is an error.
func (d *demoRun) run(home string, extra []string, want int, args ...string) (*runResult, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(d.ctx, stepTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.exe, args...)
	cmd.Env = environ(home, extra)
	cmd.Dir = home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := &runResult{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		r.code = ee.ExitCode()
	default:
		if d.ctx.Err() != nil {
			return nil, d.ctx.Err()
		}
		return nil, fmt.Errorf("demo: rempart %s: %w", strings.Join(args, " "), err)
	}
	if want >= 0 && r.code != want {
		return nil, fmt.Errorf("demo: rempart %s: exit %d: %s", strings.Join(args, " "), r.code, strings.TrimSpace(string(r.stderr)))
	}
	return r, nil
}

// environ is this process's environment without its REMPART_ settings
// and HOME, with home as HOME and the extra variables.
func environ(home string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "REMPART_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "HOME="+home), extra...)
}

// drillRunner is a town machine's `rempart drill run --requested
// --watch`, in the background while the demo serves.
type drillRunner struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// stop asks the runner to stop (SIGTERM: a drill in progress fails its
// request) and waits for it.
func (r *drillRunner) stop() {
	r.cancel()
	<-r.done
}

// startDrillRunner starts t's machine waiting for drill requests, its
// output appended to logFile. It stops when ctx is done or stop is
// called, and with the demo if the demo is killed (SIGTERM on the
// parent's death).
func (d *demoRun) startDrillRunner(ctx context.Context, t *town, scratch, logFile string, out io.Writer) (*drillRunner, error) {
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(rctx, d.exe, "drill", "run", "--requested", "--watch", "--interval", "5s", "--scratch", scratch)
	cmd.Env = environ(t.agentHome, t.agentEnv(d))
	cmd.Dir = t.agentHome
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a Ctrl-C in the terminal reaches the demo,
	// which stops the runners before the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	r := &drillRunner{cancel: cancel, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		defer close(r.done)
		defer f.Close()
		// Pdeathsig fires when the thread that started the child exits:
		// start and wait on a goroutine locked to its thread.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		if rctx.Err() == nil {
			fmt.Fprintf(out, "warning: the drill runner of %s stopped (%v): see %s\n", t.title, err, logFile)
		}
	}()
	if err := <-started; err != nil {
		cancel()
		return nil, fmt.Errorf("demo: start the drill runner of %s: %w", t.title, err)
	}
	return r, nil
}

// secret is a random password of n bytes, in lower-case letters and
// digits (base32): easy to copy, nothing a shell or a flag parser would
// read differently.
func secret(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// townSources are the backed-up folders of a town's machine, under its
// root, and the services of the example plan they serve.
var townSources = []struct{ service, path string }{
	{"etat-civil", "etat-civil"},
	{"paie", "paie"},
	{"fichiers", "partages"},
	{"site-web", "www"},
}

// TownPlan is internal/continuity's example plan cut down to the services
// whose data the demo machine holds, their sources pointing at its
// folders, with a health check on the civil registry.
func TownPlan(title, host, root string) ([]byte, error) {
	p, err := continuity.Decode(continuity.Example)
	if err != nil {
		return nil, err
	}
	p.Title = "Continuity plan — " + title
	keep := map[string]string{}
	for _, s := range townSources {
		keep[s.service] = filepath.Join(root, s.path)
	}
	var services []continuity.Service
	for _, s := range p.Services {
		path, ok := keep[s.ID]
		if !ok {
			continue
		}
		s.Sources = []continuity.Source{{Host: host, Path: path}}
		var deps []string
		for _, dep := range s.DependsOn {
			if _, ok := keep[dep]; ok {
				deps = append(deps, dep)
			}
		}
		s.DependsOn = deps
		if s.ID == "etat-civil" {
			s.HealthCheck = `grep -q "Acte de naissance" "$REMPART_DRILL_SOURCE/naissances/naissance-2026-0001.txt" && test -s "$REMPART_DRILL_SOURCE/registre.csv"`
		}
		services = append(services, s)
	}
	p.Services = services
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return continuity.Encode(p, "Demo plan of "+title+", from `rempart plan example`, cut down to the demo machine's folders.")
}

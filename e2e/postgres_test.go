package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/store/pgtest"
)

// TestServerOnPostgres: the server keeps its database in PostgreSQL
// (--db postgres://...): a machine is enrolled, backed up and restored,
// the audit trail is intact; then the server is killed with SIGKILL in the
// middle of a backup and restarted on the same database and data folder,
// and the backup run again completes, check --read-data passes and every
// snapshot restores identical.
func TestServerOnPostgres(t *testing.T) {
	// No other e2e test uses PostgreSQL: stop the throwaway server (if
	// this test started one) when the test ends, after its schema is gone.
	t.Cleanup(pgtest.Stop)
	dsn := pgtest.DSN(t)
	pgPassword := ""
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		pgPassword, _ = u.User.Password()
	}
	noSecret := func(what, out string) {
		t.Helper()
		if pgPassword != "" && strings.Contains(out, pgPassword) {
			t.Errorf("%s prints the database password:\n%s", what, out)
		}
	}

	t0 := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(t0).Seconds(), what) }
	admin := newEnv(t).with("REMPART_REPO", "")
	data := filepath.Join(t.TempDir(), "data")
	srv := startServerOn(t, admin, data, "127.0.0.1:0", "--db", dsn)
	mustContain(t, "server output", srv.output(), "(database: postgres)")
	noSecret("the server", srv.output())
	if _, err := os.Stat(filepath.Join(data, "rempart.db")); err == nil {
		t.Errorf("with --db postgres://... the server created a SQLite database in its data folder")
	}
	step("server started on PostgreSQL")

	admin.with("REMPART_LOGIN_PASSWORD", adminPassword).ok("login", srv.url, "--user", "admin", "--ca-fingerprint", srv.fp)
	var tenant struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	admin.okJSON(&tenant, "tenant", "create", "mairie-pg")
	if tenant.Name != "mairie-pg" || tenant.ID == 0 {
		t.Fatalf("tenant create --json: %+v", tenant)
	}
	var enrol struct {
		Token string `json:"token"`
	}
	admin.okJSON(&enrol, "agent", "enroll", "--tenant", "mairie-pg")
	agent := newEnv(t).with("REMPART_REPO", srv.url+"/mairie-pg")
	agent.ok("agent", "join", srv.url, enrol.Token, "--ca-fingerprint", srv.fp, "--host", "pc-mairie")
	r := newEnv(t).run("agent", "join", srv.url, enrol.Token, "--ca-fingerprint", srv.fp)
	if r.code == 0 {
		t.Errorf("an enrolment token was used twice\n%s", r)
	}
	var agents []struct {
		Host string `json:"host"`
	}
	admin.okJSON(&agents, "agent", "list", "--tenant", "mairie-pg")
	if len(agents) != 1 || agents[0].Host != "pc-mairie" {
		t.Errorf("agent list: %+v", agents)
	}
	step("signed in, tenant created, agent enrolled and joined")

	// Back up twice, list, restore.
	src := filepath.Join(tempDir(t), "src")
	genUserTree(t, src, 11)
	snaps := map[string]manifest{}
	want := takeManifest(t, src)
	agent.initRepo()
	snaps[agent.backup(src).SnapshotID] = want
	appendTo(t, filepath.Join(src, "docs", "registre.txt"), "séance du conseil municipal\n")
	want = takeManifest(t, src)
	b2 := agent.backup(src)
	snaps[b2.SnapshotID] = want
	if got := agent.snapshots(); len(got) != 2 {
		t.Fatalf("snapshots: %+v, want 2", got)
	}
	for id, m := range snaps {
		agent.restoreAndCompare(id, src, m)
	}
	step("2 backups, 2 restores compared")

	var a auditJSON
	admin.okJSON(&a, "audit")
	if !a.Chain.Intact || a.Chain.Records == 0 || len(a.Chain.Head) != 64 {
		t.Errorf("audit --json: chain %+v, want intact with a head", a.Chain)
	}
	actions := map[string]bool{}
	for _, rec := range a.Records {
		actions[rec.Action] = true
	}
	for _, want := range []string{"server.start", "tenant.create", "agent.enrol"} {
		if !actions[want] {
			t.Errorf("audit --json has no %s record: %v", want, actions)
		}
	}

	// kill -9 in the middle of a backup.
	rng := newRand(300)
	writeFile(t, filepath.Join(src, "scans", "scan-1.pdf"), rng, 6<<20, true, 0o644)
	writeFile(t, filepath.Join(src, "scans", "scan-2.pdf"), rng, 6<<20, true, 0o644)
	want = takeManifest(t, src)
	repos := filepath.Join(data, "repos")
	before := dirBytes(repos)
	done := make(chan *result, 1)
	go func() { done <- agent.run("--json", "backup", src) }()
	var interrupted *result
	deadline := time.Now().Add(30 * time.Second)
	for dirBytes(repos)-before < 2<<20 && time.Now().Before(deadline) && interrupted == nil {
		select {
		case interrupted = <-done:
		case <-time.After(10 * time.Millisecond):
		}
	}
	received := dirBytes(repos) - before
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	noSecret("the server", srv.output())
	step(fmt.Sprintf("server killed with SIGKILL after receiving %d KiB of the backup", received>>10))
	// The server stays down until the client has given up retrying.
	if interrupted == nil {
		interrupted = <-done
	}
	if interrupted.code == 0 {
		t.Logf("the backup completed before the kill")
		snaps[backupIDs(t, []*result{interrupted})[0]] = want
	} else {
		mustContain(t, "backup while the server is down", interrupted.stderr, "server")
	}
	u, err := url.Parse(srv.url)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := startServerOn(t, admin, data, u.Host, "--db", dsn)
	if srv2.url != srv.url || srv2.fp != srv.fp {
		t.Fatalf("restarted server: %s %s, want %s %s", srv2.url, srv2.fp, srv.url, srv.fp)
	}
	mustContain(t, "restarted server output", srv2.output(), "(database: postgres)")
	noSecret("the restarted server", srv2.output())
	step("server restarted on the same database, data folder and port")

	snaps[agent.backup(src).SnapshotID] = want
	agent.ok("check", "--read-data")
	if got := agent.snapshots(); len(got) != len(snaps) {
		t.Errorf("snapshots after the restart: %d, want %d", len(got), len(snaps))
	}
	for id, m := range snaps {
		agent.restoreAndCompare(id, src, m)
	}
	step("backup run again, check --read-data passed, every snapshot restored and compared")

	a = auditJSON{}
	admin.okJSON(&a, "audit", "--limit", "1")
	if !a.Chain.Intact || a.Chain.Records == 0 {
		t.Errorf("audit trail after kill -9: %+v", a.Chain)
	}
	srv2.stop(t)
	noSecret("the server", srv2.output())
}

// TestServerPostgresUnreachable: a server given a database it cannot reach
// stops at once with a message naming the database, and never prints the
// password of the DSN.
func TestServerPostgresUnreachable(t *testing.T) {
	for _, dsn := range []string{"postgres://nobody@127.0.0.1:1/x", "postgres://u:s3cr3t-pw@127.0.0.1:1/x"} {
		e := newEnv(t).with("REMPART_REPO", "")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd, stdout, stderr := e.command(ctx, bin, "server", "--listen", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "data"), "--db", dsn)
		cmd.Env = append(cmd.Env, "REMPART_ADMIN_PASSWORD="+adminPassword)
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		timedOut := ctx.Err() != nil
		cancel()
		out := stdout.String() + stderr.String()
		var ee *exec.ExitError
		switch {
		case timedOut:
			t.Errorf("--db %s: the server was still running after 30 s:\n%s", dsn, out)
			continue
		case err == nil:
			t.Errorf("--db %s: the server exited 0:\n%s", dsn, out)
		case !errors.As(err, &ee) || ee.ExitCode() <= 0:
			t.Errorf("--db %s: %v, want a non-zero exit:\n%s", dsn, err, out)
		}
		if took > 10*time.Second {
			t.Errorf("--db %s: the server took %s to give up, want a few seconds", dsn, took.Round(time.Millisecond))
		}
		mustContain(t, "the server's error", stderr.String(), "database", "postgres", "127.0.0.1:1")
		if strings.Contains(out, "s3cr3t-pw") {
			t.Errorf("--db %s: the server prints the database password:\n%s", dsn, out)
		}
		if strings.Contains(out, "listening on") {
			t.Errorf("--db %s: the server says it is listening:\n%s", dsn, out)
		}
	}
}

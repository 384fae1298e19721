package e2e

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const fleetSize = 10

// fleetMachine is one town's machine: its own HOME, tenant and files.
type fleetMachine struct {
	env    *env
	tenant string
	src    string
	snaps  map[string]manifest // snapshot ID -> what it holds
}

// inParallel runs f(i) for every machine at once and returns the results.
func inParallel(n int, f func(i int) *result) []*result {
	out := make([]*result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = f(i)
		}()
	}
	wg.Wait()
	return out
}

func mustAllSucceed(t *testing.T, what string, rs []*result) {
	t.Helper()
	for i, r := range rs {
		if r == nil || r.code != 0 {
			t.Fatalf("%s, machine %d: expected exit 0\n%v", what, i, r)
		}
	}
}

// backupIDs reads the snapshot IDs of backups run with --json.
func backupIDs(t *testing.T, rs []*result) []string {
	t.Helper()
	ids := make([]string, len(rs))
	for i, r := range rs {
		var b backupJSON
		if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || len(b.SnapshotID) != 64 {
			t.Fatalf("machine %d: backup --json: %v\n%s", i, err, r)
		}
		ids[i] = b.SnapshotID
	}
	return ids
}

// restoreAll restores every known snapshot of every machine, in parallel,
// and compares each with what it held.
func restoreAll(t *testing.T, ms []*fleetMachine) {
	t.Helper()
	type job struct {
		m      *fleetMachine
		id     string
		target string
	}
	var jobs []job
	for _, m := range ms {
		for id := range m.snaps {
			jobs = append(jobs, job{m, id, filepath.Join(t.TempDir(), "restore")})
		}
	}
	rs := inParallel(len(jobs), func(i int) *result {
		j := jobs[i]
		return j.m.env.run("restore", j.id, "--target", j.target)
	})
	for i, j := range jobs {
		if rs[i].code != 0 {
			t.Errorf("%s: restore %s: expected exit 0\n%s", j.m.tenant, short(j.id), rs[i])
			continue
		}
		got := takeManifest(t, filepath.Join(j.target, j.m.src))
		if diffs := compareManifests(j.m.snaps[j.id], got); len(diffs) > 0 {
			t.Errorf("%s: snapshot %s restored differs from the original:\n  %s", j.m.tenant, short(j.id), strings.Join(firstN(diffs, 10), "\n  "))
		}
		_ = os.RemoveAll(j.target)
	}
}

// dirBytes is the size of every file under dir (temporary uploads too).
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// TestServerFleetAndKill9: ten machines of ten towns back up to one server
// at the same time, each restores only its own files; then the server is
// killed with SIGKILL in the middle of a round of backups, restarted on the
// same data and port, and every backup completes, every repository passes
// check --read-data, every snapshot restores identical.
func TestServerFleetAndKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("10 concurrent backups and a kill -9 of the server: not in -short")
	}
	t0 := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(t0).Seconds(), what) }
	admin := newEnv(t).with("REMPART_REPO", "")
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, admin, data)
	admin.with("REMPART_LOGIN_PASSWORD", adminPassword).ok("login", srv.url, "--user", "admin", "--ca-fingerprint", srv.fp)

	ms := make([]*fleetMachine, fleetSize)
	for i := range ms {
		ms[i] = &fleetMachine{tenant: fmt.Sprintf("town-%02d", i), snaps: map[string]manifest{}, env: newEnv(t), src: filepath.Join(tempDir(t), "src")}
		ms[i].env = ms[i].env.with("REMPART_REPO", srv.url+"/"+ms[i].tenant)
	}
	var gen sync.WaitGroup
	for i, m := range ms {
		gen.Add(1)
		go func() {
			defer gen.Done()
			genUserTree(t, m.src, uint64(100+i))
		}()
	}
	// Each machine joins with its own one-time token, all at once.
	setup := inParallel(fleetSize, func(i int) *result {
		m := ms[i]
		if r := admin.run("tenant", "create", m.tenant); r.code != 0 {
			return r
		}
		r := admin.run("--json", "agent", "enroll", "--tenant", m.tenant)
		var enrol struct {
			Token string `json:"token"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &enrol) != nil {
			r.code = max(r.code, 1)
			return r
		}
		return m.env.run("agent", "join", srv.url, enrol.Token, "--ca-fingerprint", srv.fp, "--host", fmt.Sprintf("pc-%02d", i))
	})
	gen.Wait()
	mustAllSucceed(t, "tenant create, agent enroll, agent join", setup)
	step("10 tenants, 10 agents joined, 10 trees generated")
	mustAllSucceed(t, "init", inParallel(fleetSize, func(i int) *result { return ms[i].env.run("--json", "init") }))
	step("10 repositories initialised in parallel")

	// Round 1: ten backups at once.
	want := make([]manifest, fleetSize)
	for i, m := range ms {
		want[i] = takeManifest(t, m.src)
	}
	rs := inParallel(fleetSize, func(i int) *result { return ms[i].env.run("--json", "backup", ms[i].src) })
	mustAllSucceed(t, "round 1 backup", rs)
	for i, id := range backupIDs(t, rs) {
		ms[i].snaps[id] = want[i]
	}
	step("round 1: 10 concurrent backups done")

	// Isolation: a machine sees only its own tenant.
	for i, m := range ms[:3] {
		other := ms[(i+1)%fleetSize]
		r := m.env.run("snapshots", "--repo", srv.url+"/"+other.tenant)
		if r.code == 0 {
			t.Errorf("the agent of %s listed the snapshots of %s\n%s", m.tenant, other.tenant, r)
		}
	}

	// Round 2: new data everywhere, the server killed mid-way.
	for i, m := range ms {
		rng := rand.New(rand.NewPCG(uint64(200+i), 7))
		writeFile(t, filepath.Join(m.src, "round2", "scan.pdf"), rng, 3<<20, true, 0o644)
		writeFile(t, filepath.Join(m.src, "round2", "notes.txt"), rng, 200<<10, false, 0o644)
		want[i] = takeManifest(t, m.src)
	}
	repos := filepath.Join(data, "repos")
	before := dirBytes(repos)
	var round2 []*result
	done := make(chan struct{})
	firstFailure := make(chan time.Duration, fleetSize)
	go func() {
		defer close(done)
		round2 = inParallel(fleetSize, func(i int) *result {
			r := ms[i].env.run("--json", "backup", ms[i].src)
			if r.code != 0 {
				firstFailure <- r.dur
			}
			return r
		})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for dirBytes(repos)-before < 4<<20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	received := dirBytes(repos) - before
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	step(fmt.Sprintf("server killed with SIGKILL after receiving %d KiB of round 2", received>>10))
	// The server stays down until a client has given up retrying (its
	// backup fails and must succeed when run again); the others are still
	// retrying when it comes back, and may finish against the new process.
	select {
	case d := <-firstFailure:
		step(fmt.Sprintf("a round-2 backup failed after %.1fs", d.Seconds()))
	case <-done:
	}
	u, err := url.Parse(srv.url)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := startServerOn(t, admin, data, u.Host)
	if srv2.url != srv.url || srv2.fp != srv.fp {
		t.Fatalf("restarted server: %s %s, want %s %s", srv2.url, srv2.fp, srv.url, srv.fp)
	}
	<-done
	failed := 0
	for i, r := range round2 {
		if r.code == 0 {
			ms[i].snaps[backupIDs(t, []*result{r})[0]] = want[i]
			continue
		}
		failed++
		mustContain(t, fmt.Sprintf("machine %d: round 2 failing while the server is down", i), r.stderr, "server")
	}
	step(fmt.Sprintf("server restarted on the same data and port; round 2: %d of 10 backups failed, %d completed", failed, fleetSize-failed))

	// Round 3: run the backups again; every one must complete.
	rs = inParallel(fleetSize, func(i int) *result { return ms[i].env.run("--json", "backup", ms[i].src) })
	mustAllSucceed(t, "backup after the restart", rs)
	for i, id := range backupIDs(t, rs) {
		ms[i].snaps[id] = want[i]
	}
	step("round 3: 10 concurrent backups done")
	mustAllSucceed(t, "check --read-data", inParallel(fleetSize, func(i int) *result { return ms[i].env.run("check", "--read-data") }))
	step("check --read-data passed for every tenant")
	restoreAll(t, ms)
	step("every snapshot restored and compared")

	// The audit trail survived the kill.
	var a auditJSON
	admin.okJSON(&a, "audit", "--limit", "1")
	if !a.Chain.Intact || a.Chain.Records == 0 {
		t.Errorf("audit trail after kill -9: %+v", a.Chain)
	}
	srv2.stop(t)
}

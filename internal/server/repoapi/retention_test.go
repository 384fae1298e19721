package repoapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/server/retention"
	"github.com/rempart/rempart/internal/server/storage"
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

const day = 24 * time.Hour

// storedNames lists the tenant's files of one type in storage.
func storedNames(t *testing.T, e *env, tenant string, typ backend.FileType) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	must(t, e.ret.Storage.List(context.Background(), tenant, typ, func(i storage.Info) error {
		out[i.Name] = true
		return nil
	}))
	return out
}

// packsOf reads the plain pack list of a stored snapshot.
func packsOf(t *testing.T, e *env, tenant, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, tenant, "snapshots", name))
	must(t, err)
	ids, _, err := snapshot.ReadPacks(b)
	must(t, err)
	var out []string
	for _, id := range ids {
		out = append(out, id.String())
	}
	return out
}

func (e *env) audited(action string) int {
	e.auditMu.Lock()
	defer e.auditMu.Unlock()
	n := 0
	for _, a := range e.audits {
		if a.Action == action {
			n++
		}
	}
	return n
}

// backupAt backs src up through the server, with the server's clock at the
// given time, and returns the new snapshot's file name.
func backupAt(t *testing.T, e *env, tenant, token, src string) string {
	t.Helper()
	before := storedNames(t, e, tenant, backend.Snapshot)
	r := openRemote(t, e, tenant, token)
	if _, err := r.LoadIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := archiver.Backup(context.Background(), r, archiver.Options{Paths: []string{src}, Host: "mairie", Program: "test"})
	must(t, err)
	if len(res.Errors) > 0 {
		t.Fatalf("backup errors: %+v", res.Errors)
	}
	for name := range storedNames(t, e, tenant, backend.Snapshot) {
		if !before[name] {
			return name
		}
	}
	t.Fatal("the backup stored no snapshot")
	return ""
}

// TestRetentionAndCollection drives the server's retention with its clock:
// snapshots expire by policy once their lock has passed, packs that only
// expired snapshots needed are collected, referenced packs never are, a
// snapshot that lies about its packs spoils only itself, and a lock can be
// lengthened but never shortened.
func TestRetentionAndCollection(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	pantin, agentTok := e.tenant("pantin")
	be, err := remote.New(e.base+"/pantin", agentTok, e.client)
	must(t, err)
	_, _, err = repo.Init(ctx, be, passphrase)
	must(t, err)
	must(t, e.ret.SetLockDays(ctx, "account:op", pantin, 3))
	_, err = e.ret.SetPolicy(ctx, "account:op", pantin, mustPolicy(t, `{"keep_all": "1d"}`))
	must(t, err)

	// A lock can be lengthened, never shortened.
	pantin, err = e.st.TenantByName(ctx, "pantin")
	must(t, err)
	if err := e.ret.SetLockDays(ctx, "account:op", pantin, 2); !errors.Is(err, store.ErrLocked) {
		t.Fatalf("shortening the lock: %v, want ErrLocked", err)
	}
	if e.audited("retention.lock.refused") != 1 {
		t.Fatal("the refused lock change is not in the audit trail")
	}

	// Three backups two days apart: A of one folder, B and C of another.
	src0 := makeTree(t)
	a := backupAt(t, e, "pantin", agentTok, src0)
	src := filepath.Join(t.TempDir(), "partage")
	for i := range 30 {
		p := filepath.Join(src, "rh", fmt.Sprintf("fiche-%02d.txt", i))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintf("agent %d ", i), 2000+i)), 0o640))
	}
	e.clock.Add(2 * day)
	b := backupAt(t, e, "pantin", agentTok, src)
	must(t, os.WriteFile(filepath.Join(src, "rh", "paie-decembre.txt"), []byte(strings.Repeat("paie 2 ", 7000)), 0o640))
	e.clock.Add(2 * day)
	c := backupAt(t, e, "pantin", agentTok, src)
	wantC := sums(t, src)
	onlyA := map[string]bool{}
	for _, p := range packsOf(t, e, "pantin", a) {
		onlyA[p] = true
	}
	for _, s := range []string{b, c} {
		for _, p := range packsOf(t, e, "pantin", s) {
			delete(onlyA, p)
		}
	}
	if len(onlyA) == 0 {
		t.Fatal("test setup: snapshot A should need packs of its own")
	}

	// Two days after B: A is past keep_all and its 3-day lock has passed; B
	// still locked (2 days old); C kept.
	e.clock.Add(time.Hour)
	dry, err := e.ret.Collect(ctx, "account:op", "pantin", true)
	must(t, err)
	if dry.SnapshotsDeleted != 1 || dry.PacksDeleted != len(onlyA) || len(storedNames(t, e, "pantin", backend.Snapshot)) != 3 {
		t.Fatalf("dry run: %+v (want 1 snapshot and %d packs, nothing changed)", dry, len(onlyA))
	}
	rep, err := e.ret.Collect(ctx, "account:op", "pantin", false)
	must(t, err)
	snaps := storedNames(t, e, "pantin", backend.Snapshot)
	if rep.SnapshotsDeleted != 1 || snaps[a] || !snaps[b] || !snaps[c] {
		t.Fatalf("collection: %+v; stored %v", rep, snaps)
	}
	packs := storedNames(t, e, "pantin", backend.Pack)
	for p := range onlyA {
		if packs[p] {
			t.Errorf("pack %s, needed only by the expired snapshot, was not collected", p)
		}
	}
	for _, s := range []string{b, c} {
		for _, p := range packsOf(t, e, "pantin", s) {
			if !packs[p] {
				t.Fatalf("pack %s of a kept snapshot was collected", p)
			}
		}
	}
	if rep.BytesFreed <= 0 || e.audited("retention.snapshot.deleted") != 1 || e.audited("retention.collect") != 1 {
		t.Fatalf("report %+v; audit: deleted=%d collect=%d", rep, e.audited("retention.snapshot.deleted"), e.audited("retention.collect"))
	}
	restoreAndCheckTenant(t, e, "pantin", agentTok, c, src, wantC, 0)

	// A new backup of what only A had: its blobs are in collected packs, so
	// they are uploaded again.
	old := src0
	e.clock.Add(time.Hour)
	d := backupAt(t, e, "pantin", agentTok, old)
	restoreAndCheckTenant(t, e, "pantin", agentTok, d, old, sums(t, old), 0)

	// A compromised agent writes snapshots that name too few packs (none),
	// hoping that the collection deletes the packs an honest one needs.
	// Each snapshot's own list decides only for itself.
	src2 := src0
	must(t, os.WriteFile(filepath.Join(src2, "rh", "budget.txt"), []byte(strings.Repeat("budget ", 9000)), 0o640))
	e.clock.Add(time.Hour)
	honest := backupAt(t, e, "pantin", agentTok, src2)
	r := openRemote(t, e, "pantin", agentTok)
	_, err = r.LoadIndex(ctx)
	must(t, err)
	sn, err := r.LoadSnapshot(ctx, mustID(t, honest))
	must(t, err)
	lies := map[string]bool{}
	for i := range 3 {
		e.clock.Add(time.Minute)
		sn.Time = sn.Time.Add(time.Duration(i+1) * time.Second) // another file each time
		id, err := r.SaveSnapshot(ctx, sn, nil)
		must(t, err)
		lies[id.String()] = true
	}
	e.clock.Add(time.Hour)
	_, err = e.ret.Collect(ctx, "account:op", "pantin", false)
	must(t, err)
	packs = storedNames(t, e, "pantin", backend.Pack)
	for _, p := range packsOf(t, e, "pantin", honest) {
		if !packs[p] {
			t.Fatalf("a lying snapshot made the server collect pack %s of an honest one", p)
		}
	}
	rep2 := restoreAndCheckTenant(t, e, "pantin", agentTok, honest, src2, sums(t, src2), len(lies))
	// check names the lies: their plain lists omit packs they use.
	for _, id := range rep2.DamagedSnapshots {
		if !lies[id] {
			t.Errorf("check flags snapshot %s, which is not one of the lies", id)
		}
	}
}

// TestCollectionGraceAndLocks: young unreferenced packs and a running
// backup's lock hold the collection back; stale locks are removed.
func TestCollectionGraceAndLocks(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	pantin, agentTok := e.tenant("pantin")
	_ = pantin
	orphan := []byte("a pack of a backup still running")
	if r := e.do(agentTok, "PUT", "/v1/repos/pantin/data/"+hashName(orphan), orphan); r.code != 201 {
		t.Fatalf("upload: %d %s", r.code, r.body)
	}
	lock := []byte(`{"command":"backup"}`)
	if r := e.do(agentTok, "PUT", "/v1/repos/pantin/locks/0123456789abcdef", lock); r.code != 201 {
		t.Fatalf("lock: %d %s", r.code, r.body)
	}
	// Files are dated by the real clock; the service's clock starts there.
	real := time.Now()
	e.ret.Now = func() time.Time { return real.Add(time.Minute) }
	rep, err := e.ret.Collect(ctx, "op", "pantin", false)
	must(t, err)
	if rep.Postponed == "" || rep.PacksDeleted != 0 || rep.LocksRemoved != 0 {
		t.Fatalf("with a live lock: %+v", rep)
	}
	// Two hours later the lock is stale: removed; the pack is still young.
	e.ret.Now = func() time.Time { return real.Add(2 * time.Hour) }
	rep, err = e.ret.Collect(ctx, "op", "pantin", false)
	must(t, err)
	if rep.LocksRemoved != 1 || rep.PacksYoung != 1 || rep.PacksDeleted != 0 {
		t.Fatalf("two hours later: %+v", rep)
	}
	// After the grace period, it goes.
	e.ret.Now = func() time.Time { return real.Add(retention.DefaultGrace + time.Hour) }
	rep, err = e.ret.Collect(ctx, "op", "pantin", false)
	must(t, err)
	if rep.PacksDeleted != 1 || len(storedNames(t, e, "pantin", backend.Pack)) != 0 {
		t.Fatalf("after the grace period: %+v", rep)
	}
	// The run is recorded for the console.
	run, err := e.st.LastGCRun(ctx, pantin.ID)
	must(t, err)
	if run.PacksDeleted != 1 {
		t.Fatalf("last run %+v", run)
	}
}

// TestLoosenDelay: a policy that keeps less waits; one that keeps more
// applies at once.
func TestLoosenDelay(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.ret.LoosenDelay = 7 * day
	pantin, agentTok := e.tenant("pantin")
	// A new tenant's first policy applies at once: nothing can vanish.
	ch, err := e.ret.SetPolicy(ctx, "op", pantin, mustPolicy(t, `{"keep_all": "90d"}`))
	must(t, err)
	if ch.Pending {
		t.Fatal("the first policy of a tenant with no snapshot waits")
	}
	must(t, e.st.SetRetention(ctx, pantin.ID, json.RawMessage(`{}`)))
	be, err := remote.New(e.base+"/pantin", agentTok, e.client)
	must(t, err)
	_, _, err = repo.Init(ctx, be, passphrase)
	must(t, err)
	backupAt(t, e, "pantin", agentTok, makeTree(t))
	ch, err = e.ret.SetPolicy(ctx, "op", pantin, mustPolicy(t, `{"keep_all": "30d"}`))
	must(t, err)
	if !ch.Pending {
		t.Fatal("leaving keep-everything is looser and must wait")
	}
	pantin, _ = e.st.TenantByName(ctx, "pantin")
	if string(pantin.Retention) != "{}" || pantin.RetentionPending == nil {
		t.Fatalf("tenant %+v", pantin)
	}
	e.clock.Add(6 * day)
	_, err = e.ret.Collect(ctx, "op", "pantin", false)
	must(t, err)
	pantin, _ = e.st.TenantByName(ctx, "pantin")
	if string(pantin.Retention) != "{}" {
		t.Fatal("the looser policy applied before its delay")
	}
	e.clock.Add(day)
	_, err = e.ret.Collect(ctx, "op", "pantin", false)
	must(t, err)
	pantin, _ = e.st.TenantByName(ctx, "pantin")
	if p, _ := retention.ParsePolicy(pantin.Retention); time.Duration(p.All) != 30*day {
		t.Fatalf("after the delay: %s", pantin.Retention)
	}
	if e.audited("retention.policy.scheduled") != 1 || e.audited("retention.policy.applied") != 1 {
		t.Fatal("scheduling and applying a looser policy must be audited")
	}
	ch, err = e.ret.SetPolicy(ctx, "op", pantin, mustPolicy(t, `{"keep_all": "60d", "weekly": "1y"}`))
	must(t, err)
	if ch.Pending {
		t.Fatal("a stricter policy waits")
	}
}

func mustPolicy(t *testing.T, s string) retention.Policy {
	t.Helper()
	p, err := retention.ParsePolicy(json.RawMessage(s))
	must(t, err)
	return p
}

func mustID(t *testing.T, s string) crypto.ID {
	t.Helper()
	id, err := crypto.ParseID(s)
	must(t, err)
	return id
}

// restoreAndCheckTenant restores one snapshot (by file name) and checks the
// repository with --read-data: packs collected by the server are reported
// as such, never as damage; damaged snapshots must number wantDamaged.
func restoreAndCheckTenant(t *testing.T, e *env, tenant, token, snap, src string, want map[string]string, wantDamaged int) *checker.Report {
	t.Helper()
	ctx := context.Background()
	r := openRemote(t, e, tenant, token)
	if problems, err := r.LoadIndex(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("LoadIndex: %v %v", problems, err)
	}
	sn, err := r.LoadSnapshot(ctx, mustID(t, snap))
	must(t, err)
	target := t.TempDir()
	if _, err := restorer.Restore(ctx, r, sn, restorer.Options{Target: target}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	equalSums(t, want, sums(t, filepath.Join(target, src)))
	rep, err := checker.Check(ctx, r, checker.Options{ReadData: true})
	must(t, err)
	if len(rep.DamagedSnapshots) != wantDamaged || len(rep.DamagedFiles) > 0 || (wantDamaged == 0 && !rep.OK()) {
		t.Fatalf("check after collection: %+v", rep)
	}
	return rep
}

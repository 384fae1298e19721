package drill_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/continuity"
	"github.com/rempart/rempart/internal/drill"
	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

func write(t *testing.T, p string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	vaulttest.MustWrite(t, p, data, perm)
}

// fixture is a repository with one backup of a small service's folder.
type fixture struct {
	tr    *vaulttest.Repo
	src   string
	r     *repo.Repository
	snaps []*snapshot.Snapshot
	svc   continuity.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(6, 66))
	src := filepath.Join(t.TempDir(), "srv", "etat-civil")
	write(t, filepath.Join(src, "registre.db"), []byte("actes: 1204\n"), 0o644)
	write(t, filepath.Join(src, "scans", "big.pdf"), vaulttest.RandBytes(rng, 3<<20), 0o644)
	write(t, filepath.Join(src, "scans", "small.txt"), vaulttest.RandBytes(rng, 5000), 0o600)
	if err := os.Symlink("registre.db", filepath.Join(src, "current")); err != nil {
		t.Fatal(err)
	}
	// Another folder of the same backup that the service does not need.
	other := filepath.Join(filepath.Dir(src), "paie")
	write(t, filepath.Join(other, "bulletins.csv"), []byte("x"), 0o644)
	tr := vaulttest.NewRepo(t)
	if _, err := archiver.Backup(context.Background(), tr.R, archiver.Options{Paths: []string{src, other}, Host: "app01", Program: "test"}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{tr: tr, src: src}
	f.reopen(t)
	f.svc = continuity.Service{ID: "etat-civil", Name: "Civil registry", Criticality: continuity.Vital,
		RTO: continuity.Duration(4 * time.Hour), RPO: continuity.Duration(24 * time.Hour),
		Sources: []continuity.Source{{Host: "app01", Path: src}}}
	return f
}

func (f *fixture) reopen(t *testing.T) {
	t.Helper()
	f.r = f.tr.Reopen(t)
	snaps, _, err := f.r.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.snaps = snaps
}

func (f *fixture) run(t *testing.T, opts drill.Options) *drill.Record {
	t.Helper()
	if opts.Scratch == "" {
		opts.Scratch = t.TempDir()
	}
	rec, err := drill.Run(context.Background(), f.r, f.snaps, f.svc, opts)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := rec.Check(); err != nil {
		t.Errorf("the record does not pass its own check: %v", err)
	}
	return rec
}

// TestDrillPasses: the service's folder (not the other one of the same
// snapshot) is restored into a fresh scratch folder, every file verified,
// the health check runs on the restored data, the scratch folder is
// removed; a second drill of the same snapshot gives the same digest.
func TestDrillPasses(t *testing.T) {
	f := newFixture(t)
	f.svc.HealthCheck = `test "$(cat "$REMPART_DRILL_SOURCE/registre.db")" = "actes: 1204" && test "$PWD" = "$REMPART_DRILL_DIR" && ` +
		`test -z "$REMPART_PASSWORD" && echo "registry opens: 1204 acts" && echo "service $REMPART_DRILL_SERVICE"`
	t.Setenv("REMPART_PASSWORD", "must not leak")
	scratch := t.TempDir()
	rec := f.run(t, drill.Options{Scratch: scratch, RanBy: "dsi@app01", Host: "app01"})
	if rec.Result != drill.Passed {
		t.Fatalf("result %s, reasons %q", rec.Result, rec.Reasons)
	}
	if rec.Files != 3 || rec.Bytes != 12+3<<20+5000 || rec.Damaged != 0 {
		t.Errorf("files %d bytes %d damaged %d", rec.Files, rec.Bytes, rec.Damaged)
	}
	if len(rec.Sources) != 1 || rec.Sources[0].Snapshot != f.snaps[0].ID.String() || rec.Sources[0].SnapshotHost != "app01" {
		t.Errorf("sources %+v", rec.Sources)
	}
	if !rec.Health.OK() || !strings.Contains(rec.Health.Output, "registry opens: 1204 acts\nservice etat-civil") {
		t.Errorf("health check %+v", rec.Health)
	}
	if !strings.HasPrefix(rec.Digest, "sha256:") || rec.RanBy != "dsi@app01" || rec.Started.IsZero() || rec.Finished.Before(rec.Started) {
		t.Errorf("record %+v", rec)
	}
	if rec.RecoverySeconds != rec.RestoreSeconds+rec.HealthSeconds {
		t.Errorf("recovery %v != restore %v + health %v", rec.RecoverySeconds, rec.RestoreSeconds, rec.HealthSeconds)
	}
	if !strings.HasPrefix(rec.Scratch, scratch+"/rempart-drill-etat-civil-") {
		t.Errorf("scratch %s not a fresh folder in %s", rec.Scratch, scratch)
	}
	if _, err := os.Stat(rec.Scratch); !os.IsNotExist(err) {
		t.Errorf("scratch folder left behind: %v", err)
	}
	again := f.run(t, drill.Options{Keep: true})
	if again.Digest != rec.Digest || again.Result != drill.Passed {
		t.Errorf("second drill: digest %s (first %s), result %s", again.Digest, rec.Digest, again.Result)
	}
	// Kept: the folder is there, with the service's folder only.
	target := drill.Target(again.Scratch, f.svc.Sources[0])
	if b, err := os.ReadFile(filepath.Join(target, "registre.db")); err != nil || string(b) != "actes: 1204\n" {
		t.Errorf("kept scratch: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(target), "paie")); !os.IsNotExist(err) {
		t.Errorf("a folder the service does not need was restored: %v", err)
	}
	// The production folder was never touched.
	if b, _ := os.ReadFile(filepath.Join(f.src, "registre.db")); string(b) != "actes: 1204\n" {
		t.Errorf("production file changed: %q", b)
	}
}

// TestDrillHealthCheckFails: a health check that exits non-zero fails the
// drill, with its status and its last lines as evidence; one that runs
// too long is killed (with what it started) and fails it too.
func TestDrillHealthCheckFails(t *testing.T) {
	f := newFixture(t)
	f.svc.HealthCheck = `for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do echo "line $i"; done; echo "database is corrupt" >&2; exit 3`
	rec := f.run(t, drill.Options{})
	if rec.Result != drill.Failed || rec.Health == nil || rec.Health.ExitCode != 3 || rec.Health.OK() {
		t.Fatalf("result %s health %+v", rec.Result, rec.Health)
	}
	if !strings.HasSuffix(rec.Health.Output, "line 25\ndatabase is corrupt") || strings.Contains(rec.Health.Output, "line 5\n") {
		t.Errorf("output tail %q", rec.Health.Output)
	}
	if strings.Join(rec.Reasons, "|") != "the health check exited with status 3" {
		t.Errorf("reasons %q", rec.Reasons)
	}

	f.svc.HealthCheck = `sleep 30 & sleep 30`
	t0 := time.Now()
	rec = f.run(t, drill.Options{HealthTimeout: 300 * time.Millisecond})
	if rec.Result != drill.Failed || !rec.Health.TimedOut || time.Since(t0) > 15*time.Second {
		t.Errorf("timeout: result %s health %+v after %s", rec.Result, rec.Health, time.Since(t0))
	}
	if !strings.Contains(strings.Join(rec.Reasons, "|"), "did not finish within 300ms") {
		t.Errorf("reasons %q", rec.Reasons)
	}

	// --no-health-check: not run, the drill passes on the restore alone.
	rec = f.run(t, drill.Options{NoHealthCheck: true})
	if rec.Result != drill.Passed || rec.Health != nil {
		t.Errorf("no health check: %s %+v", rec.Result, rec.Health)
	}
}

// stepClock advances by step at each reading.
type stepClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// TestDrillSlow: everything works but the recovery takes longer than the
// RTO (an injected clock: each reading is an hour later).
func TestDrillSlow(t *testing.T) {
	f := newFixture(t)
	f.svc.HealthCheck = "true"
	f.svc.RTO = continuity.Duration(time.Hour)
	clk := &stepClock{t: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC), step: time.Hour}
	rec := f.run(t, drill.Options{Now: clk.Now})
	if rec.Result != drill.Slow {
		t.Fatalf("result %s, reasons %q", rec.Result, rec.Reasons)
	}
	// The clock steps at each reading: restore, verify and health check
	// each take 1 h; the recovery (restore + health check) 2 h.
	if rec.RestoreSeconds != 3600 || rec.HealthSeconds != 3600 || rec.RecoverySeconds != 7200 {
		t.Errorf("durations %v %v %v", rec.RestoreSeconds, rec.HealthSeconds, rec.RecoverySeconds)
	}
	if want := "the recovery took 2h0m0s, more than the RTO of 1h"; strings.Join(rec.Reasons, "|") != want {
		t.Errorf("reasons %q, want %q", rec.Reasons, want)
	}
}

// TestScratchRefused: a scratch folder that is a source, is inside one or
// contains one is refused before anything is written.
func TestScratchRefused(t *testing.T) {
	f := newFixture(t)
	for _, scratch := range []string{f.src, filepath.Join(f.src, "scans"), filepath.Join(f.src, "new", "folder")} {
		_, err := drill.Run(context.Background(), f.r, f.snaps, f.svc, drill.Options{Scratch: scratch})
		if !errors.Is(err, drill.ErrScratch) {
			t.Errorf("scratch %s: %v, want ErrScratch", scratch, err)
		}
	}
	if _, err := os.Stat(filepath.Join(f.src, "new")); !os.IsNotExist(err) {
		t.Errorf("a refused scratch folder was created: %v", err)
	}
	// Through a symbolic link to the source.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(f.src, link); err != nil {
		t.Fatal(err)
	}
	if _, err := drill.Run(context.Background(), f.r, f.snaps, f.svc, drill.Options{Scratch: filepath.Join(link, "x")}); !errors.Is(err, drill.ErrScratch) {
		t.Errorf("scratch through a link into the source: %v", err)
	}
	for _, scratch := range []string{"/", filepath.Dir(f.src), f.src} {
		if err := drill.CheckScratch(scratch, f.svc.Sources); !errors.Is(err, drill.ErrScratch) {
			t.Errorf("CheckScratch(%s): %v, want ErrScratch", scratch, err)
		}
	}
	if err := drill.CheckScratch(t.TempDir(), f.svc.Sources); err != nil {
		t.Errorf("CheckScratch of an unrelated folder: %v", err)
	}
}

// TestDrillCorruptedPack: one flipped byte in the pack of a file's chunk
// fails the drill with a report that names that file, and only it.
func TestDrillCorruptedPack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Find big.pdf's last chunk and flip a byte of it in its pack.
	var content []crypto.ID
	var walk func(id crypto.ID, p string)
	walk = func(id crypto.ID, p string) {
		tt, err := f.r.LoadTree(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tt.Nodes {
			switch {
			case n.Type == tree.Dir:
				walk(*n.Subtree, filepath.Join(p, n.Name))
			case filepath.Join(p, n.Name) == filepath.Join(f.src, "scans", "big.pdf"):
				content = n.Content
			}
		}
	}
	walk(f.snaps[0].Tree, "/")
	if len(content) == 0 {
		t.Fatal("big.pdf not found in the snapshot")
	}
	loc, ok := f.r.Index().Lookup(pack.DataBlob, content[len(content)-1])
	if !ok {
		t.Fatal("chunk not indexed")
	}
	p := vaulttest.PackPath(f.tr.Dir, loc.Pack.String())
	fh, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	off := int64(loc.Offset + loc.Length/2)
	if _, err := fh.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := fh.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	f.reopen(t)

	f.svc.HealthCheck = "true"
	rec := f.run(t, drill.Options{})
	if rec.Result != drill.Failed || rec.Damaged != 1 {
		t.Fatalf("result %s damaged %d reasons %q", rec.Result, rec.Damaged, rec.Reasons)
	}
	bad := filepath.Join(f.src, "scans", "big.pdf")
	src := rec.Sources[0]
	if len(src.Damaged) != 1 || src.Damaged[0].Path != bad {
		t.Fatalf("damaged %+v, want %s", src.Damaged, bad)
	}
	if r := src.Damaged[0].Reason; !strings.Contains(r, "restore: ") || !strings.Contains(r, "blob") {
		t.Errorf("reason %q does not say what the restore found", r)
	}
	if want := "1 file(s) not restored intact from snapshot " + f.snaps[0].ID.Short() + ": " + bad; !strings.Contains(strings.Join(rec.Reasons, "|"), want) {
		t.Errorf("reasons %q, want %q", rec.Reasons, want)
	}
	if rec.Files != 2 || rec.Health == nil || rec.Health.Ran || !strings.Contains(rec.Health.Error, "not run") {
		t.Errorf("files %d, health %+v", rec.Files, rec.Health)
	}
	t.Logf("report: %s\n  %s: %s", rec.Summary(), src.Damaged[0].Path, src.Damaged[0].Reason)
}

// TestDrillNoSnapshot: a source with no snapshot of its host (or a
// service with no source) fails the drill and says so.
func TestDrillNoSnapshot(t *testing.T) {
	f := newFixture(t)
	f.svc.Sources = append(f.svc.Sources, continuity.Source{Host: "scada01", Path: "/opt/supervision"})
	rec := f.run(t, drill.Options{})
	if rec.Result != drill.Failed || !strings.Contains(strings.Join(rec.Reasons, "|"), "no snapshot of scada01:/opt/supervision in the repository") {
		t.Errorf("result %s reasons %q", rec.Result, rec.Reasons)
	}
	if rec.Files != 3 {
		t.Errorf("the source that has a snapshot was not drilled: %d files", rec.Files)
	}
	f.svc.Sources = nil
	rec = f.run(t, drill.Options{})
	if rec.Result != drill.Failed || !strings.Contains(rec.Reasons[0], "lists no backup source") {
		t.Errorf("no source: %s %q", rec.Result, rec.Reasons)
	}
}

// TestLatest: the newest snapshot of the host holding the path (or a
// folder above it) is taken; flagged ones are skipped and named.
func TestLatest(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 12, 1, h, 0, 0, 0, time.UTC) }
	mk := func(id byte, host string, h int, flag snapshot.Flag, paths ...string) *snapshot.Snapshot {
		return &snapshot.Snapshot{ID: crypto.ID{id}, Host: host, Time: at(h), Flag: flag, Paths: paths}
	}
	snaps := []*snapshot.Snapshot{
		mk(1, "app01", 1, snapshot.FlagClean, "/srv/paie"),
		mk(2, "app01.mairie.local", 2, snapshot.FlagNone, "/srv"),
		mk(3, "app01", 3, snapshot.FlagInfected, "/srv/paie"),
		mk(4, "web01", 4, snapshot.FlagClean, "/srv/paie"),
		mk(5, "app01", 5, snapshot.FlagClean, "/srv/paie-old"),
	}
	got, skipped := drill.Latest(snaps, continuity.Source{Host: "APP01", Path: "/srv/paie/"})
	if got == nil || got.ID[0] != 2 || len(skipped) != 1 || skipped[0].ID[0] != 3 {
		t.Errorf("Latest: %v skipped %v", got, skipped)
	}
	if got, _ := drill.Latest(snaps, continuity.Source{Host: "mail01", Path: "/srv/paie"}); got != nil {
		t.Errorf("another host's snapshot: %v", got.ID)
	}
}

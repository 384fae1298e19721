package checker_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/checker"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/index"
	"github.com/rempart/rempart/internal/vault/pack"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/restorer"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// scenario is a pristine repository with two snapshots of about 45 MB of
// incompressible data spread over several packs, and what the tests need
// to know about it to predict the effect of any damage.
type scenario struct {
	dir      string // the pristine repository (never modified)
	recovery string
	src      string
	snaps    []*snapshot.Snapshot
	want     []vaulttest.Manifest     // src as each snapshot saw it
	index    []string                 // index file written by each backup
	files    []map[string][]crypto.ID // per snapshot: file path -> content
	folders  []map[string]crypto.ID   // per snapshot: folder path -> tree ID
	locs     map[crypto.ID]index.Location
}

var (
	scenarioOnce sync.Once
	scenarioVal  *scenario
)

var scratch string // shared by the tests of this package, removed by TestMain

func TestMain(m *testing.M) {
	var err error
	scratch, err = os.MkdirTemp("", "rempart-checker-test-")
	if err != nil {
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(scratch)
	os.Exit(code)
}

// getScenario builds the scenario once per test binary; the first test to
// ask reports a failure to build it, the others see it missing.
func getScenario(t *testing.T) *scenario {
	t.Helper()
	scenarioOnce.Do(func() { scenarioVal = buildScenario(t) })
	if scenarioVal == nil {
		t.Fatal("the scenario could not be built (see the first test that failed)")
	}
	return scenarioVal
}

func buildScenario(t *testing.T) *scenario {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(42, 4242))
	sc := &scenario{dir: filepath.Join(scratch, "repo"), src: filepath.Join(scratch, "src"), locs: map[crypto.ID]index.Location{}}
	if err := os.MkdirAll(filepath.Join(sc.src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(rel string, data []byte) { vaulttest.MustWrite(t, filepath.Join(sc.src, rel), data, 0o644) }
	var first []byte
	for i := 0; i < 14; i++ {
		data := vaulttest.RandBytes(rng, 2500<<10+rng.IntN(700<<10))
		if i == 0 {
			first = data
		}
		write(fmt.Sprintf("big-%02d.bin", i), data)
	}
	write("dup of big-00.bin", first) // same blobs, two names
	for i := 0; i < 3; i++ {
		write(fmt.Sprintf("sub/part %d.dat", i), vaulttest.RandBytes(rng, 1<<20))
	}
	for i := 0; i < 5; i++ {
		write(fmt.Sprintf("small-%d.txt", i), []byte(strings.Repeat(fmt.Sprintf("line %d\n", i), 100+i)))
	}
	write("empty", nil)

	be, err := local.Create(sc.dir)
	if err != nil {
		t.Fatal(err)
	}
	r, rk, err := repo.Init(ctx, be, vaulttest.Passphrase)
	if err != nil {
		t.Fatal(err)
	}
	sc.recovery = rk
	for step := 0; step < 2; step++ {
		if step == 1 {
			if err := os.Mkdir(filepath.Join(sc.src, "more"), 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				write(fmt.Sprintf("more/new-%d.bin", i), vaulttest.RandBytes(rng, 1500<<10))
			}
		}
		before, err := r.IndexFiles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res := vaulttest.Backup(t, r, sc.src)
		after, err := r.IndexFiles(ctx)
		if err != nil {
			t.Fatal(err)
		}
		added := vaulttest.Difference(after, before)
		if len(added) != 1 {
			t.Fatalf("backup %d wrote %d index files, the scenario needs exactly 1", step, len(added))
		}
		sc.index = append(sc.index, added[0])
		sc.snaps = append(sc.snaps, res.Snapshot)
		sc.want = append(sc.want, vaulttest.Scan(t, sc.src))
	}
	// What is where, read back through a fresh Repository.
	r, err = openRepo(sc.dir, sc.recovery)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	r.Index().Each(func(id crypto.ID, loc index.Location) { sc.locs[id] = loc })
	for _, sn := range sc.snaps {
		files, folders := map[string][]crypto.ID{}, map[string]crypto.ID{}
		var walk func(id crypto.ID, p string)
		walk = func(id crypto.ID, p string) {
			folders[p] = id
			tr, err := r.LoadTree(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tr.Nodes {
				np := path.Join(p, n.Name)
				switch n.Type {
				case tree.Dir:
					walk(*n.Subtree, np)
				case tree.File:
					files[np] = n.Content
				}
			}
		}
		walk(sn.Tree, "/")
		sc.files = append(sc.files, files)
		sc.folders = append(sc.folders, folders)
	}
	return sc
}

func openRepo(dir, secret string) (*repo.Repository, error) {
	be, err := local.Open(dir)
	if err != nil {
		return nil, err
	}
	return repo.Open(context.Background(), be, secret)
}

// copyRepo returns a writable copy of the pristine repository.
func (sc *scenario) copyRepo(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(dst, os.DirFS(sc.dir)); err != nil {
		t.Fatalf("copying the repository: %v", err)
	}
	return dst
}

func (sc *scenario) open(t *testing.T, dir string) *repo.Repository {
	t.Helper()
	r, err := openRepo(dir, sc.recovery)
	if err != nil {
		t.Fatalf("opening the damaged copy: %v", err)
	}
	return r
}

// packsOf returns the packs holding blobs of a type, sorted.
func (sc *scenario) packsOf(typ pack.BlobType) []crypto.ID {
	set := map[crypto.ID]bool{}
	for _, loc := range sc.locs {
		if loc.Type == typ {
			set[loc.Pack] = true
		}
	}
	var out []crypto.ID
	for id := range set {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// damage is what a test broke: blobs and trees that can no longer be read,
// and snapshots that cannot be loaded at all.
type damage struct {
	blobs map[crypto.ID]bool
	snaps map[int]bool
}

// expect lists the damaged files the checker must name: a file is damaged
// when one of its blobs is, a folder when its own listing is.
func (sc *scenario) expect(d damage) map[string]bool {
	out := map[string]bool{}
	for i, sn := range sc.snaps {
		if d.snaps[i] {
			continue
		}
		var below []string
		for p, id := range sc.folders[i] {
			if d.blobs[id] {
				below = append(below, p)
			}
		}
		under := func(p string) bool { // strictly below a damaged folder
			for _, b := range below {
				if p != b && (b == "/" || strings.HasPrefix(p, b+"/")) {
					return true
				}
			}
			return false
		}
		for _, p := range below {
			if !under(p) {
				out[sn.ID.String()+" "+p] = true
			}
		}
		for p, content := range sc.files[i] {
			if under(p) {
				continue
			}
			for _, b := range content {
				if d.blobs[b] {
					out[sn.ID.String()+" "+p] = true
					break
				}
			}
		}
	}
	return out
}

func setOf(items ...string) map[string]bool {
	out := map[string]bool{}
	for _, s := range items {
		out[s] = true
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sameSet(a, b map[string]bool) bool {
	return strings.Join(keys(a), "\n") == strings.Join(keys(b), "\n")
}

func damagedFiles(rep *checker.Report) map[string]bool {
	out := map[string]bool{}
	for _, f := range rep.DamagedFiles {
		out[f.Snapshot+" "+f.Path] = true
	}
	return out
}

func hasProblem(rep *checker.Report, kind, name string) bool {
	for _, p := range rep.Problems {
		if p.Kind == kind && p.Name == name {
			return true
		}
	}
	return false
}

// verify runs a check (reading all data) and a restore of every snapshot
// on the damaged copy.
func (sc *scenario) verify(t *testing.T, dir string, d damage) *checker.Report {
	t.Helper()
	rep := sc.check(t, dir, d, true)
	sc.restoreAll(t, dir, d)
	return rep
}

// check runs a check of the damaged copy: it must name exactly the damaged
// files and snapshots.
func (sc *scenario) check(t *testing.T, dir string, d damage, readData bool) *checker.Report {
	t.Helper()
	want := sc.expect(d)
	rep, err := checker.Check(context.Background(), sc.open(t, dir), checker.Options{ReadData: readData})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := damagedFiles(rep); !sameSet(got, want) {
		t.Errorf("check (read data %v) names damaged files\n  %q\nwant\n  %q", readData, keys(got), keys(want))
	}
	wantSnaps := map[string]bool{}
	for k := range want {
		wantSnaps[strings.Fields(k)[0]] = true
	}
	gotSnaps := setOf(rep.DamagedSnapshots...)
	for i, sn := range sc.snaps {
		if d.snaps[i] {
			continue
		}
		if gotSnaps[sn.ID.String()] != wantSnaps[sn.ID.String()] {
			t.Errorf("snapshot %s: damaged %v, want %v", sn.ID.Short(), gotSnaps[sn.ID.String()], wantSnaps[sn.ID.String()])
		}
	}
	if len(want) > 0 && rep.OK() {
		t.Errorf("report says OK despite damage")
	}
	return rep
}

// restoreAll restores every readable snapshot with a fresh Repository: the
// files that are not damaged must come back intact, and the restore must
// say which ones are.
func (sc *scenario) restoreAll(t *testing.T, dir string, d damage) {
	t.Helper()
	sc.restoreAllMaybe(t, dir, d, damage{})
}

// restoreAllMaybe is restoreAll when some blobs (maybe) are intact in a
// damaged pack: the restorer may bring the files that use them back (every
// byte checked) or report them, as its reads happen to be grouped.
func (sc *scenario) restoreAllMaybe(t *testing.T, dir string, d, maybe damage) {
	t.Helper()
	want := sc.expect(d)
	var may map[string]bool
	if len(maybe.blobs) > 0 {
		may = sc.expect(maybe)
	}
	for i, sn := range sc.snaps {
		if d.snaps[i] {
			continue
		}
		r := sc.open(t, dir)
		if _, err := r.LoadIndex(context.Background()); err != nil {
			t.Fatal(err)
		}
		sc.verifyRestore(t, r, i, sn, want, may)
	}
}

func (sc *scenario) verifyRestore(t *testing.T, r *repo.Repository, i int, sn *snapshot.Snapshot, damaged, mayBeDamaged map[string]bool) {
	t.Helper()
	target := t.TempDir()
	res, err := restorer.Restore(context.Background(), r, sn, restorer.Options{Target: target})
	var bad []string // paths below src, relative
	for k := range damaged {
		f := strings.SplitN(k, " ", 2)
		if f[0] == sn.ID.String() {
			bad = append(bad, f[1])
		}
	}
	reported := func() map[string]bool {
		got := map[string]bool{}
		if res != nil {
			for _, e := range res.Errors {
				// Errors name target paths; the target itself is the
				// snapshot's root.
				p := strings.TrimPrefix(e.Path, target)
				if p == "" {
					p = "/"
				}
				got[p] = true
			}
		}
		return got
	}
	switch {
	case mayBeDamaged != nil:
		// Lost files must be reported, intact-but-at-risk ones may be,
		// nothing else; what is reported is what is not restored.
		if err != nil && !errors.Is(err, restorer.ErrDamaged) {
			t.Errorf("restore of snapshot %s: %v", sn.ID.Short(), err)
		}
		if len(bad) > 0 && !errors.Is(err, restorer.ErrDamaged) {
			t.Errorf("restore of snapshot %s with lost files %q: got error %v, want ErrDamaged", sn.ID.Short(), bad, err)
		}
		got := reported()
		for _, b := range bad {
			if !got[b] {
				t.Errorf("restore of %s does not report %s, whose data is lost", sn.ID.Short(), b)
			}
		}
		for g := range got {
			if !damaged[sn.ID.String()+" "+g] && !mayBeDamaged[sn.ID.String()+" "+g] {
				t.Errorf("restore of %s reports %s, which has no blob in the damaged pack", sn.ID.Short(), g)
			}
		}
		bad = keys(got)
	case len(bad) == 0:
		if err != nil {
			t.Errorf("restore of intact snapshot %s: %v", sn.ID.Short(), err)
		}
	default:
		if !errors.Is(err, restorer.ErrDamaged) {
			t.Errorf("restore of snapshot %s with damaged files %q: got error %v, want ErrDamaged", sn.ID.Short(), bad, err)
		}
		if res != nil {
			if got := reported(); !sameSet(got, setOf(bad...)) {
				t.Errorf("restore of %s reports problems with %q, want %q", sn.ID.Short(), keys(got), bad)
			}
		}
	}
	// Every file that is not damaged comes back intact.
	skip := func(rel string) bool {
		abs := filepath.Join(sc.src, rel)
		for _, b := range bad {
			if b == "/" || abs == b || strings.HasPrefix(abs, b+"/") {
				return true
			}
		}
		return false
	}
	want := vaulttest.Manifest{}
	for rel, e := range sc.want[i] {
		if !skip(rel) {
			want[rel] = e
		}
	}
	got := vaulttest.Manifest{}
	if _, err := os.Stat(filepath.Join(target, sc.src)); err == nil {
		for rel, e := range vaulttest.Scan(t, filepath.Join(target, sc.src)) {
			if !skip(rel) {
				got[rel] = e
			}
		}
	}
	vaulttest.CompareTrees(t, want, got)
}

// flip changes one byte of a stored file.
func flip(t *testing.T, p string, off int64) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func packPath(dir string, id crypto.ID) string {
	s := id.String()
	return filepath.Join(dir, "data", s[:2], s)
}

// blobsIn returns the blobs stored in a pack.
func (sc *scenario) blobsIn(p crypto.ID) map[crypto.ID]bool {
	out := map[crypto.ID]bool{}
	for id, loc := range sc.locs {
		if loc.Pack == p {
			out[id] = true
		}
	}
	return out
}

// partialPack picks a data pack of the first backup that holds blobs of
// some files but not of all of them.
func (sc *scenario) partialPack(t *testing.T) crypto.ID {
	t.Helper()
	packs := sc.packsOf(pack.DataBlob)
	if len(packs) < 3 {
		t.Fatalf("scenario has %d data packs, want at least 3", len(packs))
	}
	for _, p := range packs {
		exp := sc.expect(damage{blobs: sc.blobsIn(p)})
		if len(exp) > 0 && len(exp) < len(sc.files[0]) {
			return p
		}
	}
	t.Fatal("no data pack holds only part of the files")
	return crypto.ID{}
}

func TestCorruptBlobInPack(t *testing.T) {
	sc := getScenario(t)
	dir := sc.copyRepo(t)
	// A blob of the duplicated file: two names share it in each snapshot.
	var victim crypto.ID
	for p, content := range sc.files[0] {
		if strings.HasSuffix(p, "/dup of big-00.bin") {
			victim = content[len(content)/2]
		}
	}
	loc := sc.locs[victim]
	flip(t, packPath(dir, loc.Pack), int64(loc.Offset+loc.Length/2))
	d := damage{blobs: map[crypto.ID]bool{victim: true}}
	if n := len(sc.expect(d)); n != 4 {
		t.Fatalf("scenario: blob is in %d files of the two snapshots, want 4", n)
	}
	rep := sc.verify(t, dir, d)
	if !hasProblem(rep, "pack", loc.Pack.String()) || !hasProblem(rep, "blob", victim.String()) {
		t.Errorf("problems %+v do not name pack %s and blob %s", rep.Problems, loc.Pack.Short(), victim.Short())
	}
}

func TestTruncatedPack(t *testing.T) {
	sc := getScenario(t)
	dir := sc.copyRepo(t)
	p := sc.partialPack(t)
	fi, err := os.Stat(packPath(dir, p))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(packPath(dir, p), fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	d := damage{blobs: sc.blobsIn(p)}
	for _, readData := range []bool{false, true} {
		rep := sc.check(t, dir, d, readData)
		if !hasProblem(rep, "pack", p.String()) {
			t.Errorf("problems %+v do not name pack %s", rep.Problems, p.Short())
		}
	}
	// Blobs past the cut are lost; those before it are intact, and the
	// restorer may bring their files back, depending on how it groups its
	// reads of the pack (check names the whole pack either way).
	lost, intact := damage{blobs: map[crypto.ID]bool{}}, damage{blobs: map[crypto.ID]bool{}}
	for id := range d.blobs {
		if loc := sc.locs[id]; int64(loc.Offset)+int64(loc.Length) > fi.Size()/2 {
			lost.blobs[id] = true
		} else {
			intact.blobs[id] = true
		}
	}
	sc.restoreAllMaybe(t, dir, lost, intact)
}

func TestDeletedPack(t *testing.T) {
	sc := getScenario(t)
	dir := sc.copyRepo(t)
	p := sc.partialPack(t)
	if err := os.Remove(packPath(dir, p)); err != nil {
		t.Fatal(err)
	}
	d := damage{blobs: sc.blobsIn(p)}
	for _, readData := range []bool{false, true} {
		rep := sc.check(t, dir, d, readData)
		if !hasProblem(rep, "pack", p.String()) {
			t.Errorf("problems %+v do not name pack %s", rep.Problems, p.Short())
		}
	}
	sc.restoreAll(t, dir, d)
}

func TestCorruptTreeBlob(t *testing.T) {
	sc := getScenario(t)
	dir := sc.copyRepo(t)
	sub := sc.folders[0][path.Join(sc.src, "sub")]
	loc := sc.locs[sub]
	flip(t, packPath(dir, loc.Pack), int64(loc.Offset+loc.Length/2))
	d := damage{blobs: map[crypto.ID]bool{sub: true}}
	if n := len(sc.expect(d)); n != 2 {
		t.Fatalf("scenario: the sub folder's tree is in %d snapshots, want 2", n)
	}
	sc.verify(t, dir, d)
}

func TestCorruptPackHeader(t *testing.T) {
	// The blobs are intact and indexed: the check reports the header, and
	// nothing is lost.
	sc := getScenario(t)
	dir := sc.copyRepo(t)
	p := sc.partialPack(t)
	pp := packPath(dir, p)
	data, err := os.ReadFile(pp)
	if err != nil {
		t.Fatal(err)
	}
	hl, err := pack.ParseTrailer(data[len(data)-pack.TrailerSize:], int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	flip(t, pp, int64(len(data))-pack.TrailerSize-hl/2)
	rep := sc.verify(t, dir, damage{})
	if !hasProblem(rep, "pack", p.String()) {
		t.Errorf("problems %+v do not name pack %s", rep.Problems, p.Short())
	}
}

func TestCorruptIndexFile(t *testing.T) {
	ctx := context.Background()
	sc := getScenario(t)
	dir := sc.copyRepo(t)
	// Damage the index of the second backup: its packs (the new files and
	// every new tree, root included) are no longer indexed.
	name := sc.index[1]
	ip := filepath.Join(dir, "index", name)
	fi, err := os.Stat(ip)
	if err != nil {
		t.Fatal(err)
	}
	flip(t, ip, fi.Size()/2)
	lost := map[crypto.ID]bool{}
	r0, err := openRepo(sc.dir, sc.recovery)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := os.ReadFile(filepath.Join(sc.dir, "index", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := index.Decode(r0.Key(), buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Packs {
		for _, b := range p.Blobs {
			lost[b.ID] = true
		}
	}
	rep := sc.verify(t, dir, damage{blobs: lost})
	if !hasProblem(rep, "index", name) {
		t.Errorf("problems %+v do not name index file %s", rep.Problems, name[:8])
	}
	if want := sc.snaps[1].ID.String() + " /"; !sameSet(damagedFiles(rep), setOf(want)) {
		t.Errorf("damaged files %q, want the whole second snapshot", keys(damagedFiles(rep)))
	}

	// The packs describe themselves: re-indexing finds them all again.
	r := sc.open(t, dir)
	if _, err := r.LoadIndex(ctx); err != nil {
		t.Fatal(err)
	}
	n, problems, err := r.RecoverPacks(ctx)
	if err != nil || len(problems) > 0 || n != len(f.Packs) {
		t.Fatalf("RecoverPacks: %d packs, problems %v, err %v; want %d packs", n, problems, err, len(f.Packs))
	}
	sc.verify(t, dir, damage{})
	// Once the damaged file is removed, the repository is clean again.
	if err := os.Remove(ip); err != nil {
		t.Fatal(err)
	}
	rep = sc.check(t, dir, damage{}, true)
	if !rep.OK() || rep.UnusedPacks != 0 {
		t.Errorf("after recovery: %+v", rep)
	}
}

func TestCorruptSnapshotFile(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		rename  bool // give the file the name of its new content
		where   func(size int64) int64
		want    error
		restore bool // also restore the other snapshot
	}{
		{"flipped byte", false, func(size int64) int64 { return size / 2 }, snapshot.ErrFormat, true},
		{"flipped byte renamed", true, func(size int64) int64 { return size - 5 }, crypto.ErrAuth, false},
		// The plain pack list is bound to the sealed part.
		{"pack list renamed", true, func(int64) int64 { return 8 + 31 }, crypto.ErrAuth, false},
		{"magic", false, func(int64) int64 { return 0 }, snapshot.ErrFormat, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := getScenario(t)
			dir := sc.copyRepo(t)
			old := sc.snaps[1].ID.String()
			sp := filepath.Join(dir, "snapshots", old)
			fi, err := os.Stat(sp)
			if err != nil {
				t.Fatal(err)
			}
			flip(t, sp, tc.where(fi.Size()))
			name := old
			if tc.rename {
				data, err := os.ReadFile(sp)
				if err != nil {
					t.Fatal(err)
				}
				name = crypto.Hash(data).String()
				if err := os.Rename(sp, filepath.Join(dir, "snapshots", name)); err != nil {
					t.Fatal(err)
				}
			}
			d := damage{snaps: map[int]bool{1: true}}
			rep := sc.check(t, dir, d, true)
			if tc.restore {
				sc.restoreAll(t, dir, d)
			}
			if !sameSet(setOf(rep.DamagedSnapshots...), setOf(name)) || !hasProblem(rep, "snapshot", name) {
				t.Errorf("damaged snapshots %q, problems %+v; want exactly %s", rep.DamagedSnapshots, rep.Problems, name[:8])
			}
			if rep.Snapshots != 2 {
				t.Errorf("report counts %d snapshots, want 2", rep.Snapshots)
			}
			id, _ := crypto.ParseID(name)
			_, err = sc.open(t, dir).LoadSnapshot(ctx, id)
			if !errors.Is(err, tc.want) {
				t.Errorf("LoadSnapshot: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestCheckCleanRepository: the pristine scenario has no problem at all.
func TestCheckCleanRepository(t *testing.T) {
	sc := getScenario(t)
	dir := sc.copyRepo(t)
	rep := sc.check(t, dir, damage{}, true)
	if !rep.OK() || rep.UnusedPacks != 0 || rep.Snapshots != 2 || len(rep.DamagedSnapshots) != 0 {
		t.Errorf("clean repository: %+v", rep)
	}
	if want := len(sc.packsOf(pack.DataBlob)) + len(sc.packsOf(pack.TreeBlob)); rep.Packs != want {
		t.Errorf("report counts %d packs, want %d", rep.Packs, want)
	}
}

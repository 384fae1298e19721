package archiver_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/sentinel"
	"github.com/rempart/rempart/internal/vault/archiver"
	"github.com/rempart/rempart/internal/vault/crypto"
	"github.com/rempart/rempart/internal/vault/repo"
	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/tree"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// fileNodes maps the path of every file of a snapshot to its node.
func fileNodes(t *testing.T, r *repo.Repository, id crypto.ID, prefix string, out map[string]*tree.Node) map[string]*tree.Node {
	t.Helper()
	if out == nil {
		out = map[string]*tree.Node{}
	}
	tr, err := r.LoadTree(context.Background(), id)
	if err != nil {
		t.Fatalf("LoadTree: %v", err)
	}
	for _, n := range tr.Nodes {
		p := path.Join(prefix, n.Name)
		switch n.Type {
		case tree.File:
			out[p] = n
		case tree.Dir:
			fileNodes(t, r, *n.Subtree, p, out)
		}
	}
	return out
}

// dirSubtree returns the subtree ID of the directory at the absolute path p.
func dirSubtree(t *testing.T, r *repo.Repository, root crypto.ID, p string) crypto.ID {
	t.Helper()
	id := root
	for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
		tr, err := r.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatalf("LoadTree: %v", err)
		}
		found := false
		for _, n := range tr.Nodes {
			if n.Name == name && n.Type == tree.Dir {
				id, found = *n.Subtree, true
				break
			}
		}
		if !found {
			t.Fatalf("%s: no directory %q in the snapshot", p, name)
		}
	}
	return id
}

// recordAssess replaces sentinel.Assess with one that keeps its inputs and
// answers verdict.
type recordAssess struct {
	inputs  []sentinel.Input
	verdict sentinel.Verdict
}

func (ra *recordAssess) assess(in sentinel.Input) sentinel.Report {
	ra.inputs = append(ra.inputs, in)
	rep := sentinel.Report{Version: 1, Verdict: ra.verdict, Score: float64(len(ra.inputs)) / 10, Changed: len(in.Changes), Deleted: len(in.Deleted)}
	if ra.verdict != sentinel.Clean {
		rep.Indicators = []sentinel.Indicator{{Name: "encrypted", Count: len(in.Changes), Weight: 1}}
		for _, c := range in.Changes {
			rep.Affected = append(rep.Affected, sentinel.Affected{Path: c.Path, Reasons: []string{"encrypted"}, LastClean: in.ParentID})
		}
	}
	return rep
}

func (ra *recordAssess) last(t *testing.T) sentinel.Input {
	t.Helper()
	if len(ra.inputs) == 0 {
		t.Fatal("sentinel.Assess was not called")
	}
	return ra.inputs[len(ra.inputs)-1]
}

func backupOpts(t *testing.T, r *repo.Repository, opts archiver.Options) *archiver.Result {
	t.Helper()
	opts.Host, opts.Program = "testhost", "test"
	res, err := archiver.Backup(context.Background(), r, opts)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("Backup file errors: %+v", res.Errors)
	}
	return res
}

func changesByPath(in sentinel.Input) map[string]sentinel.Change {
	m := map[string]sentinel.Change{}
	for _, c := range in.Changes {
		m[c.Path] = c
	}
	return m
}

func features(t *testing.T, n *tree.Node) sentinel.Features {
	t.Helper()
	if len(n.Sentinel) == 0 {
		t.Fatalf("node %s has no Sentinel features", n.Name)
	}
	var f sentinel.Features
	if err := json.Unmarshal(n.Sentinel, &f); err != nil {
		t.Fatalf("node %s: Sentinel %s: %v", n.Name, n.Sentinel, err)
	}
	return f
}

func later(t *testing.T, p string) {
	t.Helper()
	ts := time.Now().Add(time.Duration(rand.IntN(1000)+1000) * time.Millisecond)
	if err := os.Chtimes(p, ts, ts); err != nil {
		t.Fatal(err)
	}
}

// TestSentinelInput follows three backups: features land in the nodes of
// files read, are carried over for files not read again, and the input of
// each assessment holds the changes (with the previous version's
// features), the deletions (the whole content of a vanished folder), the
// unchanged count and the parent's report; the verdict is stored as the
// header flag.
func TestSentinelInput(t *testing.T) {
	ra := &recordAssess{verdict: sentinel.Clean}
	defer archiver.SetAssess(ra.assess)()
	tr := vaulttest.NewRepo(t)
	src, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	write(t, filepath.Join(src, "a.txt"), []byte(strings.Repeat("compte rendu du conseil\n", 40)), 0o644)
	write(t, filepath.Join(src, "big.bin"), vaulttest.RandBytes(rng, 2<<20), 0o644) // chunked: streamed through the observer
	write(t, filepath.Join(src, "f.txt"), []byte("to be renamed\n"), 0o644)
	write(t, filepath.Join(src, "e.txt"), []byte("to be deleted\n"), 0o644)
	write(t, filepath.Join(src, "empty"), nil, 0o644)
	write(t, filepath.Join(src, "sub", "c.txt"), []byte("in a folder that vanishes\n"), 0o644)
	write(t, filepath.Join(src, "sub", "deeper", "g.txt"), []byte("deeper in it\n"), 0o644)
	files := []string{"a.txt", "big.bin", "e.txt", "empty", "f.txt", "sub/c.txt", "sub/deeper/g.txt"}

	// First backup: no parent; every file is new.
	r := tr.R
	res1 := backupOpts(t, r, archiver.Options{Paths: []string{src}})
	in1 := ra.last(t)
	if in1.Parent != nil || in1.ParentID != "" || len(in1.Deleted) != 0 || in1.Unchanged != 0 {
		t.Errorf("first backup: input has parent %v %q, %d deleted, %d unchanged; want none", in1.Parent, in1.ParentID, len(in1.Deleted), in1.Unchanged)
	}
	ch1 := changesByPath(in1)
	nodes1 := fileNodes(t, r, res1.Snapshot.Tree, "/", nil)
	for _, f := range files {
		p := src + "/" + f
		c, ok := ch1[p]
		if !ok {
			t.Errorf("first backup: %s is not in the changes (%d changes)", f, len(in1.Changes))
			continue
		}
		if c.Prev != nil || (c.ContentKey == "") != (f == "empty") {
			t.Errorf("first backup: change %s: prev %v, content key %q", f, c.Prev, c.ContentKey)
		}
		if got := features(t, nodes1[p]); got != c.Cur {
			t.Errorf("%s: node features %+v, assessed with %+v", f, got, c.Cur)
		}
	}
	if res1.Sentinel == nil || res1.Sentinel.Score != 0.1 {
		t.Fatalf("first backup: result report %+v", res1.Sentinel)
	}

	// What is stored: the report sealed in the body, the flag in the header.
	r = tr.Reopen(t)
	sn1, err := r.LoadSnapshot(context.Background(), res1.Snapshot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sn1.Flag != snapshot.FlagClean || !reflect.DeepEqual(archiver.ReportOf(sn1), res1.Sentinel) {
		t.Errorf("stored snapshot: flag %v, report %s; want clean and %+v", sn1.Flag, sn1.Sentinel, res1.Sentinel)
	}

	// Second backup, nothing changed: features carried over, parent's
	// report handed to Assess.
	res2 := backupOpts(t, r, archiver.Options{Paths: []string{src}})
	in2 := ra.last(t)
	if len(in2.Changes) != 0 || len(in2.Deleted) != 0 || in2.Unchanged != len(files) {
		t.Errorf("unchanged backup: %d changes, %d deleted, %d unchanged; want 0, 0, %d", len(in2.Changes), len(in2.Deleted), in2.Unchanged, len(files))
	}
	if in2.ParentID != res1.Snapshot.ID.String() || !reflect.DeepEqual(in2.Parent, res1.Sentinel) {
		t.Errorf("unchanged backup: parent %q %+v; want %s %+v", in2.ParentID, in2.Parent, res1.Snapshot.ID, res1.Sentinel)
	}
	nodes2 := fileNodes(t, r, res2.Snapshot.Tree, "/", nil)
	for _, f := range files {
		p := src + "/" + f
		if string(nodes2[p].Sentinel) != string(nodes1[p].Sentinel) {
			t.Errorf("%s not read again: features %s, parent's %s", f, nodes2[p].Sentinel, nodes1[p].Sentinel)
		}
	}
	// The root tree also holds src's ancestors (the system's temporary
	// folder), which other processes change; src's own subtree must not.
	if a, b := dirSubtree(t, r, res1.Snapshot.Tree, src), dirSubtree(t, r, res2.Snapshot.Tree, src); a != b {
		t.Errorf("nothing changed but the backed-up folder's tree did: %s then %s", a, b)
	}

	// Third backup: one file changed, one only touched, one renamed, one
	// deleted, a folder gone with everything in it, a new folder.
	write(t, filepath.Join(src, "a.txt"), []byte(strings.Repeat("compte rendu modifié\n", 50)), 0o644)
	later(t, filepath.Join(src, "a.txt"))
	later(t, filepath.Join(src, "big.bin"))
	must(t, os.Rename(filepath.Join(src, "f.txt"), filepath.Join(src, "moved.txt")))
	must(t, os.Remove(filepath.Join(src, "e.txt")))
	must(t, os.RemoveAll(filepath.Join(src, "sub")))
	write(t, filepath.Join(src, "sub2", "d.txt"), []byte("new\n"), 0o644)
	ra.verdict = sentinel.Infected
	res3 := backupOpts(t, r, archiver.Options{Paths: []string{src}})
	in3 := ra.last(t)
	ch3 := changesByPath(in3)
	if len(ch3) != 3 {
		t.Errorf("third backup: changes %v; want a.txt, moved.txt, sub2/d.txt", keys(ch3))
	}
	a := ch3[src+"/a.txt"]
	if a.Prev == nil || *a.Prev != features(t, nodes1[src+"/a.txt"]) {
		t.Errorf("changed a.txt: prev features %+v, want the parent node's %s", a.Prev, nodes1[src+"/a.txt"].Sentinel)
	}
	if d := ch3[src+"/sub2/d.txt"]; d.Prev != nil || d.ContentKey == "" {
		t.Errorf("new sub2/d.txt: %+v", d)
	}
	if in3.Unchanged != 2 { // big.bin (read again, same bytes) and empty
		t.Errorf("third backup: %d unchanged, want 2", in3.Unchanged)
	}
	gone := map[string]sentinel.Deletion{}
	for _, d := range in3.Deleted {
		gone[d.Path] = d
	}
	for _, f := range []string{"e.txt", "f.txt", "sub/c.txt", "sub/deeper/g.txt"} {
		d, ok := gone[src+"/"+f]
		if !ok {
			t.Errorf("third backup: %s is not in the deleted files %v", f, in3.Deleted)
			continue
		}
		if d.Prev == nil || *d.Prev != ch1[src+"/"+f].Cur || d.ContentKey != ch1[src+"/"+f].ContentKey || d.Size == 0 {
			t.Errorf("deleted %s: %+v; want the first backup's features and content key", f, d)
		}
	}
	if len(gone) != 4 {
		t.Errorf("third backup: %d deleted, want 4: %v", len(gone), in3.Deleted)
	}
	if ch3[src+"/moved.txt"].ContentKey != gone[src+"/f.txt"].ContentKey {
		t.Errorf("renamed file: content key %q, the deleted original's %q", ch3[src+"/moved.txt"].ContentKey, gone[src+"/f.txt"].ContentKey)
	}
	if in3.ParentID != res2.Snapshot.ID.String() {
		t.Errorf("third backup: parent %s, want %s", in3.ParentID, res2.Snapshot.ID)
	}
	r = tr.Reopen(t)
	sn3, err := r.LoadSnapshot(context.Background(), res3.Snapshot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sn3.Flag != snapshot.FlagInfected || res3.Sentinel.Verdict != sentinel.Infected {
		t.Errorf("infected verdict: header flag %v, result %+v", sn3.Flag, res3.Sentinel)
	}
	rep := archiver.ReportOf(sn3)
	if rep == nil || len(rep.Affected) != 3 || rep.Affected[0].LastClean != res2.Snapshot.ID.String() {
		t.Errorf("stored report: %+v", rep)
	}
}

// TestSentinelOff: with NoSentinel nothing is assessed or stored.
func TestSentinelOff(t *testing.T) {
	ra := &recordAssess{verdict: sentinel.Clean}
	defer archiver.SetAssess(ra.assess)()
	tr := vaulttest.NewRepo(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "a.txt"), []byte("hello\n"), 0o644)
	res := backupOpts(t, tr.R, archiver.Options{Paths: []string{src}, NoSentinel: true})
	if len(ra.inputs) != 0 || res.Sentinel != nil || res.Snapshot.Flag != snapshot.FlagNone || res.Snapshot.Sentinel != nil {
		t.Errorf("NoSentinel: %d assessments, report %+v, flag %v", len(ra.inputs), res.Sentinel, res.Snapshot.Flag)
	}
	for p, n := range fileNodes(t, tr.R, res.Snapshot.Tree, "/", nil) {
		if n.Sentinel != nil {
			t.Errorf("NoSentinel: %s has features %s", p, n.Sentinel)
		}
	}
}

// TestSentinelObservesBytes: the features come from the file's bytes, for
// a file read whole and for one streamed through the chunker. Meaningful
// only once the detection library computes features.
func TestSentinelObservesBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	probe := sentinel.NewObserver("x.bin", 1<<16)
	_, _ = probe.Write(vaulttest.RandBytes(rng, 1<<16))
	if probe.Features().Entropy == 0 {
		t.Skip("the detection library computes no features yet")
	}
	tr := vaulttest.NewRepo(t)
	src := t.TempDir()
	write(t, filepath.Join(src, "small.bin"), vaulttest.RandBytes(rng, 100<<10), 0o644)
	write(t, filepath.Join(src, "large.bin"), vaulttest.RandBytes(rng, 3<<20), 0o644)
	write(t, filepath.Join(src, "notes.txt"), []byte(strings.Repeat("ordre du jour du conseil municipal\n", 3000)), 0o644)
	res := backupOpts(t, tr.R, archiver.Options{Paths: []string{src}})
	for p, n := range fileNodes(t, tr.R, res.Snapshot.Tree, "/", nil) {
		f := features(t, n)
		random := strings.HasSuffix(p, ".bin")
		if random && f.Entropy < 7 || !random && f.Entropy > 6 {
			t.Errorf("%s: features %+v do not match its bytes", p, f)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// write makes a file and the folders above it.
func write(t *testing.T, p string, data []byte, perm os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	vaulttest.MustWrite(t, p, data, perm)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestScan: a scan reads the live folder as a backup would — a full scan
// right after a backup finds every file's content identical, small and
// chunked alike — reports changes and deletions against the snapshot, and
// stores nothing.
func TestScan(t *testing.T) {
	ra := &recordAssess{verdict: sentinel.Clean}
	defer archiver.SetAssess(ra.assess)()
	tr := vaulttest.NewRepo(t)
	src, err := filepath.EvalSymlinks(t.TempDir())
	must(t, err)
	rng := rand.New(rand.NewPCG(7, 8))
	write(t, filepath.Join(src, "a.txt"), []byte("délibération\n"), 0o644)
	write(t, filepath.Join(src, "big.bin"), vaulttest.RandBytes(rng, 3<<20), 0o644)
	write(t, filepath.Join(src, "dir", "b.txt"), []byte("arrêté\n"), 0o644)
	write(t, filepath.Join(src, "dir", "c.txt"), []byte("mandat\n"), 0o644)
	res := backupOpts(t, tr.R, archiver.Options{Paths: []string{src}})
	ctx := context.Background()
	snaps := func() int {
		all, _, err := tr.R.Snapshots(ctx)
		must(t, err)
		return len(all)
	}

	cov, err := archiver.FindCovering(ctx, tr.R, "testhost", filepath.Join(src, "dir"))
	if err != nil || cov == nil || cov.ID != res.Snapshot.ID {
		t.Fatalf("FindCovering: %v %v", cov, err)
	}
	if other, _ := archiver.FindCovering(ctx, tr.R, "otherhost", src); other != nil {
		t.Errorf("FindCovering found a snapshot of another host")
	}

	sr, err := archiver.Scan(ctx, tr.R, archiver.ScanOptions{Path: src, Snapshot: cov, Full: true})
	must(t, err)
	in := ra.last(t)
	if len(in.Changes) != 0 || len(in.Deleted) != 0 || in.Unchanged != 4 || sr.FilesRead != 4 || in.ParentID != res.Snapshot.ID.String() {
		t.Errorf("full scan of an unchanged folder: changes %v, deleted %v, %d unchanged, %d read", in.Changes, in.Deleted, in.Unchanged, sr.FilesRead)
	}

	write(t, filepath.Join(src, "dir", "b.txt"), []byte("arrêté modifié\n"), 0o644)
	must(t, os.Remove(filepath.Join(src, "dir", "c.txt")))
	write(t, filepath.Join(src, "new.txt"), []byte("nouveau\n"), 0o644)
	sr, err = archiver.Scan(ctx, tr.R, archiver.ScanOptions{Path: filepath.Join(src, "dir"), Snapshot: cov})
	must(t, err)
	in = ra.last(t)
	if len(in.Changes) != 1 || in.Changes[0].Path != src+"/dir/b.txt" || in.Changes[0].Prev == nil ||
		len(in.Deleted) != 1 || in.Deleted[0].Path != src+"/dir/c.txt" || sr.FilesRead != 1 {
		t.Errorf("scan of dir: changes %+v, deleted %+v, %d read", in.Changes, in.Deleted, sr.FilesRead)
	}
	sr, err = archiver.Scan(ctx, tr.R, archiver.ScanOptions{Path: src, Snapshot: cov})
	must(t, err)
	in = ra.last(t)
	if len(in.Changes) != 2 || in.Unchanged != 2 || sr.FilesUnchanged != 2 {
		t.Errorf("scan: changes %+v, %d unchanged", in.Changes, in.Unchanged)
	}
	if n := snaps(); n != 1 {
		t.Errorf("scans made snapshots: %d", n)
	}
}

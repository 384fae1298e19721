package e2e

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkJSON is the part of `check --json` these tests read.
type checkJSON struct {
	OK     bool `json:"ok"`
	Report struct {
		Snapshots int `json:"snapshots"`
		Problems  []struct {
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Detail string `json:"detail"`
		} `json:"problems"`
		DamagedSnapshots []string `json:"damaged_snapshots"`
		DamagedFiles     []struct {
			Snapshot string `json:"snapshot"`
			Path     string `json:"path"`
		} `json:"damaged_files"`
		UnusedPacks    int  `json:"unused_packs"`
		CollectedPacks *int `json:"collected_packs"`
	} `json:"report"`
}

// checkAs runs `check --json` (with more flags), expects exit code, and
// decodes the report (the first JSON value: a failed check prints its
// error as a second one).
func (e *env) checkAs(code int, args ...string) checkJSON {
	e.t.Helper()
	r := e.expect(code, append([]string{"--json", "check"}, args...)...)
	var c checkJSON
	if err := json.NewDecoder(strings.NewReader(r.stdout)).Decode(&c); err != nil {
		e.t.Fatalf("check --json: %v\n%s", err, r)
	}
	if c.Report.CollectedPacks == nil {
		e.t.Fatalf("check --json has no report.collected_packs field\n%s", r)
	}
	return c
}

// plainPacks reads the plain pack list of a snapshot file, as a server
// without the key does (docs/format.md: "RSN1", count, sorted IDs; or
// "RSN2", flag and three zero bytes, count, sorted IDs).
func plainPacks(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	must(t, err)
	start := 4
	switch {
	case len(b) >= 8 && string(b[:4]) == "RSN1":
	case len(b) >= 12 && string(b[:4]) == "RSN2":
		start = 8
	default:
		t.Fatalf("%s is not a snapshot file", file)
	}
	n := int(binary.LittleEndian.Uint32(b[start : start+4]))
	ids := start + 4
	if ids+32*n > len(b) {
		t.Fatalf("%s: pack list runs past the end", file)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = hex.EncodeToString(b[ids+32*i : ids+32*(i+1)])
	}
	return out
}

// serverGC does what the server's retention and garbage collection do to
// a folder repository: it deletes the snapshot files forgotten, then every
// pack that no remaining snapshot's plain list names. Index files stay (the
// server cannot rewrite them). It returns the packs it deleted.
func serverGC(t *testing.T, repo string, forgotten ...string) []string {
	t.Helper()
	for _, s := range forgotten {
		must(t, os.Remove(filepath.Join(repo, "snapshots", s)))
	}
	named := map[string]bool{}
	entries, err := os.ReadDir(filepath.Join(repo, "snapshots"))
	must(t, err)
	for _, en := range entries {
		if !strings.HasPrefix(en.Name(), ".") {
			for _, p := range plainPacks(t, filepath.Join(repo, "snapshots", en.Name())) {
				named[p] = true
			}
		}
	}
	var deleted []string
	for p := range packFiles(t, repo) {
		if !named[p] {
			must(t, os.Remove(filepath.Join(repo, "data", p[:2], p)))
			deleted = append(deleted, p)
		}
	}
	return deleted
}

// TestCollectedPacksByServer: after a server-like garbage collection on a
// local repository (snapshot A and the packs only A named deleted, index
// files untouched), check passes and counts the collected packs, B
// restores, lists and diffs, a backup of A's files stores them again and
// restores, prune forgets the collected packs, and a pack B needs is still
// reported as damage.
func TestCollectedPacksByServer(t *testing.T) {
	e := newEnv(t)
	e.initRepo()
	base := tempDir(t)
	src, aDir := filepath.Join(base, "src"), filepath.Join(base, "only-a")
	rng := newRand(31)
	for i := 0; i < 3; i++ {
		writeFile(t, filepath.Join(src, "common", "c"+string(rune('0'+i))+".bin"), rng, 700<<10, true, 0o644)
	}
	writeFile(t, filepath.Join(src, "registre.txt"), rng, 40<<10, false, 0o644)
	aBytes := uint64(0)
	for i, n := range []int64{2 << 20, 1200 << 10, 5000} {
		writeFile(t, filepath.Join(aDir, "deep", "a"+string(rune('0'+i))+".bin"), rng, n, true, 0o644)
		aBytes += uint64(n)
	}
	wantA := takeManifest(t, aDir)

	z := e.backup(src)
	a := e.backup(src, aDir)
	appendTo(t, filepath.Join(src, "registre.txt"), "\nnouvelle séance\n")
	writeFile(t, filepath.Join(src, "common", "new.bin"), rng, 500<<10, true, 0o644)
	b := e.backup(src)
	wantB := takeManifest(t, src)

	collected := serverGC(t, e.repo(), a.SnapshotID)
	if len(collected) == 0 {
		t.Fatal("the collection deleted no pack: bad test")
	}

	for _, flags := range [][]string{nil, {"--read-data"}} {
		c := e.checkAs(0, flags...)
		if !c.OK || *c.Report.CollectedPacks != len(collected) || len(c.Report.Problems) != 0 || c.Report.Snapshots != 2 {
			t.Errorf("check %v after collection: ok %v, collected_packs %d (want %d), problems %+v", flags, c.OK, *c.Report.CollectedPacks, len(collected), c.Report.Problems)
		}
	}
	r := e.ok("check")
	mustContain(t, "check", r.stdout, "no problem found")

	e.restoreAndCompare(b.SnapshotID, src, wantB)
	r = e.ok("ls", b.SnapshotID[:8])
	mustContain(t, "ls", r.stdout, src+"/common/new.bin", src+"/registre.txt")
	r = e.ok("diff", z.SnapshotID[:8], b.SnapshotID[:8])
	mustContain(t, "diff", r.stdout, src+"/registre.txt", src+"/common/new.bin")

	// A's files again: their data was only in collected packs.
	c := e.backup(aDir)
	if c.Summary.BytesAdded < aBytes {
		t.Errorf("backup of the collected files added %d bytes, want at least %d: it must store them again", c.Summary.BytesAdded, aBytes)
	}
	gone := map[string]bool{}
	for _, p := range collected {
		gone[p] = true
	}
	for _, p := range plainPacks(t, filepath.Join(e.repo(), "snapshots", c.SnapshotID)) {
		if gone[p] {
			t.Errorf("the new snapshot names collected pack %s", short(p))
		}
	}
	e.restoreAndCompare(c.SnapshotID, aDir, wantA)
	if ch := e.checkAs(0, "--read-data"); !ch.OK || *ch.Report.CollectedPacks != len(collected) {
		t.Errorf("check after the new backup: ok %v, collected_packs %d, problems %+v", ch.OK, *ch.Report.CollectedPacks, ch.Report.Problems)
	}

	// prune forgets the collected packs and keeps everything else.
	var ps struct {
		CollectedForgotten int `json:"collected_packs_forgotten"`
		PacksRemoved       int `json:"packs_removed"`
	}
	e.okJSON(&ps, "prune")
	if ps.CollectedForgotten != len(collected) || ps.PacksRemoved != 0 {
		t.Errorf("prune --json: %+v, want %d collected packs forgotten and none removed", ps, len(collected))
	}
	if ch := e.checkAs(0); !ch.OK || *ch.Report.CollectedPacks != 0 {
		t.Errorf("check after prune: ok %v, collected_packs %d (want 0), problems %+v", ch.OK, *ch.Report.CollectedPacks, ch.Report.Problems)
	}
	e.restoreAndCompare(b.SnapshotID, src, wantB)

	// A pack that B needs (and Z does not) is lost: that is damage.
	zPacks := map[string]bool{}
	for _, p := range plainPacks(t, filepath.Join(e.repo(), "snapshots", z.SnapshotID)) {
		zPacks[p] = true
	}
	var victim string
	for _, p := range plainPacks(t, filepath.Join(e.repo(), "snapshots", b.SnapshotID)) {
		if !zPacks[p] {
			victim = p
		}
	}
	if victim == "" {
		t.Fatal("B has no pack of its own: bad test")
	}
	must(t, os.Remove(filepath.Join(e.repo(), "data", victim[:2], victim)))
	ch := e.checkAs(1)
	named := false
	for _, p := range ch.Report.Problems {
		if p.Kind == "pack" && p.Name == victim {
			named = true
		}
	}
	damagedB := false
	for _, s := range ch.Report.DamagedSnapshots {
		damagedB = damagedB || s == b.SnapshotID
	}
	if ch.OK || !named || !damagedB || len(ch.Report.DamagedFiles) == 0 || *ch.Report.CollectedPacks != 0 {
		t.Errorf("check after losing pack %s of B: ok %v, problems %+v, damaged snapshots %q, damaged files %+v, collected_packs %d (want 0)",
			short(victim), ch.OK, ch.Report.Problems, ch.Report.DamagedSnapshots, ch.Report.DamagedFiles, *ch.Report.CollectedPacks)
	}
	r = e.expect(1, "restore", b.SnapshotID, "--target", filepath.Join(t.TempDir(), "r"))
	mustContain(t, "restore of B without its pack", r.stderr, "could not restore")

}

package restorer_test

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rempart/rempart/internal/vault/snapshot"
	"github.com/rempart/rempart/internal/vault/vaulttest"
)

// oddNames are file names that trip up naive code: spaces, accents (both
// composed and decomposed), emoji, control characters, a newline, glob
// characters and bytes that are not valid UTF-8.
var oddNames = []string{
	"plain.txt", "with space", "trailing space ", "accent-é-ü-ñ", "e\u0301-decomposed", "emoji-😀🎉",
	"new\nline", "\xff\xfe", "bad\xc3(utf8", "tab\there", "-leading-dash", ".hidden", "日本語ファイル",
	`quote'"`, `back\slash`, "star*?[x]", "\x01ctrl", "ＦＵＬＬ", "very-long-" + strings.Repeat("n", 200),
}

// treeGen builds a random tree below root.
type treeGen struct {
	t     *testing.T
	rng   *rand.Rand
	root  string
	dirs  []string // relative, "." included
	plain []string // regular files with one name and some content: mutation candidates
	all   []string // every entry except root, in creation order
	names map[string]map[string]bool
}

func (g *treeGen) abs(rel string) string { return filepath.Join(g.root, rel) }

// name returns a fresh name for dir, drawn from oddNames.
func (g *treeGen) name(dir string) string {
	used := g.names[dir]
	if used == nil {
		used = map[string]bool{}
		g.names[dir] = used
	}
	base := oddNames[g.rng.IntN(len(oddNames))]
	n := base
	for i := 2; used[n]; i++ {
		n = fmt.Sprintf("%s~%d", base, i)
	}
	used[n] = true
	return n
}

func (g *treeGen) randBytes(n int) []byte { return vaulttest.RandBytes(g.rng, n) }

// text returns compressible data.
func (g *treeGen) text(n int) []byte {
	words := []string{"backup ", "restore ", "pack ", "index ", "snapshot\n", "tree ", "blob ", "chunk "}
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(words[g.rng.IntN(len(words))])
		if g.rng.IntN(50) == 0 {
			fmt.Fprintf(&sb, "%d\n", g.rng.Int64())
		}
	}
	return []byte(sb.String()[:n])
}

func (g *treeGen) file(dir string, data []byte, plain bool) string {
	rel := filepath.Join(dir, g.name(dir))
	vaulttest.MustWrite(g.t, g.abs(rel), data, 0o644)
	g.all = append(g.all, rel)
	if plain && len(data) > 0 {
		g.plain = append(g.plain, rel)
	}
	return rel
}

func (g *treeGen) mkdir(rel string) string {
	if err := os.Mkdir(g.abs(rel), 0o755); err != nil {
		g.t.Fatal(err)
	}
	g.dirs = append(g.dirs, rel)
	g.all = append(g.all, rel)
	return rel
}

func (g *treeGen) randomDir(dir string, depth int) {
	n := 2 + g.rng.IntN(5)
	for i := 0; i < n; i++ {
		switch k := g.rng.IntN(20); {
		case k < 9:
			g.file(dir, g.randBytes(g.rng.IntN(5000)+1), true)
		case k < 11:
			g.file(dir, nil, false)
		case k < 13:
			g.file(dir, g.text(g.rng.IntN(3000)+100), true)
		case k < 17 && depth < 3:
			g.randomDir(g.mkdir(filepath.Join(dir, g.name(dir))), depth+1)
		case k < 19:
			rel := filepath.Join(dir, g.name(dir))
			target := []string{"../elsewhere", "does/not/exist", "/etc/hostname", "\xff\xfe/odd\ntarget", "plain.txt"}[g.rng.IntN(5)]
			if err := os.Symlink(target, g.abs(rel)); err != nil {
				g.t.Fatal(err)
			}
			g.all = append(g.all, rel)
		default:
			rel := filepath.Join(dir, g.name(dir))
			if err := unix.Mkfifo(g.abs(rel), 0o640); err != nil {
				g.t.Fatal(err)
			}
			g.all = append(g.all, rel)
		}
	}
}

// generate builds the tree and returns it with random metadata applied.
func generate(t *testing.T, seed uint64, root string, sparse bool) *treeGen {
	g := &treeGen{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), root: root, names: map[string]map[string]bool{}}
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	g.dirs = []string{"."}
	g.randomDir(".", 0)

	// Files of a few MB: several chunks each (random, compressible, and a
	// block repeated inside one file).
	sub := g.mkdir(g.name("."))
	g.randomDir(sub, 1)
	g.file(g.dirs[g.rng.IntN(len(g.dirs))], g.randBytes(1<<20+g.rng.IntN(2<<20)), true)
	g.file(sub, g.text(2<<20+g.rng.IntN(1<<20)), true)
	block := g.randBytes(700 << 10)
	g.file(".", append(append(append([]byte{}, block...), block...), block...), true)

	// Deep nesting.
	deep := g.mkdir("deep")
	for i := 1; i <= 60; i++ {
		deep = g.mkdir(filepath.Join(deep, fmt.Sprintf("d%02d", i)))
	}
	g.file(deep, []byte("at the bottom\n"), true)
	g.mkdir(filepath.Join(deep, "empty at the bottom"))

	// Empty folders.
	g.mkdir("empty")
	g.mkdir(filepath.Join(sub, "empty ✓"))

	// Hard links: one inode with three names in three folders, and a pair.
	first := g.file(sub, g.randBytes(3000), false)
	for _, d := range []string{".", deep} {
		rel := filepath.Join(d, g.name(d))
		if err := os.Link(g.abs(first), g.abs(rel)); err != nil {
			t.Fatal(err)
		}
		g.all = append(g.all, rel)
	}
	pair := g.file(".", g.text(5000), false)
	rel := filepath.Join(sub, g.name(sub))
	if err := os.Link(g.abs(pair), g.abs(rel)); err != nil {
		t.Fatal(err)
	}
	g.all = append(g.all, rel)

	// Symlinks of every sort.
	for target, name := range map[string]string{
		"../" + filepath.Base(first): "link-rel",
		g.abs(pair):                  "link-abs",
		"no/such/file":               "link-dangling",
		sub:                          "link-dir",
		"\xff\xfe/target\nnewline":   "link-odd",
	} {
		if err := os.Symlink(target, g.abs(name)); err != nil {
			t.Fatal(err)
		}
		g.all = append(g.all, name)
	}

	// A large sparse file: 1 GiB (256 MiB under the race detector, which
	// slows the chunker down tenfold) with data at three places only.
	if sparse {
		p := g.abs("sparse.img")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		size := int64(sparseSize)
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		for _, w := range []struct {
			off int64
			n   int
		}{{0, 4096}, {size/2 + 12345, 10000}, {size - 100, 100}} {
			if _, err := f.WriteAt(g.randBytes(w.n), w.off); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		g.all = append(g.all, "sparse.img")
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Blocks*512 > 1<<20 {
			t.Fatalf("the test's file system does not keep files sparse (%d bytes allocated)", st.Blocks*512)
		}
	}

	g.applyMeta()
	return g
}

// applyMeta sets random owners (as root), modes and nanosecond mtimes,
// deepest entries first so that setting a child does not change its folder.
func (g *treeGen) applyMeta() {
	fileModes := []fs.FileMode{0o600, 0o644, 0o755, 0o444, 0o640, 0o755 | fs.ModeSetuid, 0o750 | fs.ModeSetgid}
	dirModes := []fs.FileMode{0o755, 0o700, 0o755 | fs.ModeSetgid, 0o777 | fs.ModeSticky, 0o750}
	entries := append([]string{"."}, g.all...)
	sort.SliceStable(entries, func(i, j int) bool {
		return strings.Count(entries[i], "/") > strings.Count(entries[j], "/")
	})
	for _, rel := range entries {
		p := g.abs(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			g.t.Fatal(err)
		}
		if os.Geteuid() == 0 && g.rng.IntN(3) == 0 {
			if err := os.Lchown(p, 1000+g.rng.IntN(60000), 1000+g.rng.IntN(60000)); err != nil {
				g.t.Fatal(err)
			}
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
		case fi.IsDir():
			if err := os.Chmod(p, dirModes[g.rng.IntN(len(dirModes))]); err != nil {
				g.t.Fatal(err)
			}
		default:
			if err := os.Chmod(p, fileModes[g.rng.IntN(len(fileModes))]); err != nil {
				g.t.Fatal(err)
			}
		}
		// Times from 1965 to 2035, with nanoseconds.
		sec := int64(-157766400) + g.rng.Int64N(2208988800)
		ts := unix.NsecToTimespec(sec*1e9 + g.rng.Int64N(1e9))
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			g.t.Fatal(err)
		}
	}
}

func countTypes(m vaulttest.Manifest) (dirs, others int) {
	for _, e := range m {
		if e.Type == "dir" {
			dirs++
		} else {
			others++
		}
	}
	return
}

func summaryString(s *snapshot.Summary) string {
	return fmt.Sprintf("files new %d changed %d unchanged %d total %d; dirs new %d changed %d unchanged %d; read %d errors %d",
		s.FilesNew, s.FilesChanged, s.FilesUnchanged, s.FilesTotal, s.DirsNew, s.DirsChanged, s.DirsUnchanged, s.BytesRead, s.Errors)
}

// ancestors returns the folders above rel, "." included.
func ancestors(rel string) []string {
	var out []string
	for d := filepath.Dir(rel); ; d = filepath.Dir(d) {
		out = append(out, d)
		if d == "." {
			return out
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			testRoundTrip(t, seed, seed == 1)
		})
	}
}

func testRoundTrip(t *testing.T, seed uint64, sparse bool) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	g := generate(t, seed, src, sparse)
	want1 := vaulttest.Scan(t, src)
	dirs1, others1 := countTypes(want1)
	virtual := strings.Count(src, "/") // "/", and each folder above src

	tr := vaulttest.NewRepo(t)
	res1 := vaulttest.Backup(t, tr.R, src)
	s1 := res1.Snapshot.Summary
	if s1.FilesNew != uint64(others1) || s1.FilesChanged != 0 || s1.FilesUnchanged != 0 || s1.FilesTotal != uint64(others1) ||
		s1.DirsNew != uint64(dirs1+virtual) || s1.DirsChanged != 0 || s1.DirsUnchanged != 0 || s1.Errors != 0 {
		t.Errorf("first backup summary: %s; want %d new files and %d new dirs", summaryString(s1), others1, dirs1+virtual)
	}

	// Restore into a fresh folder, with a fresh Repository as another
	// process would.
	r := tr.Reopen(t)
	got := vaulttest.Restore(t, r, res1.Snapshot)
	restored := filepath.Join(got, src)
	vaulttest.CompareTrees(t, want1, vaulttest.Scan(t, restored))
	if sparse {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(restored, "sparse.img"), &st); err != nil {
			t.Fatal(err)
		}
		if st.Size != sparseSize || st.Blocks*512 > 64<<20 {
			t.Errorf("restored sparse file: size %d, %d bytes allocated; want %d with holes (< 64 MiB allocated)", st.Size, st.Blocks*512, sparseSize)
		}
	}

	// Mutate: change a file (same size, same mtime: only ctime tells),
	// delete another, add one.
	perm := g.rng.Perm(len(g.plain))
	changed, deleted := g.plain[perm[0]], g.plain[perm[1]]
	old := want1[changed]
	data, err := os.ReadFile(g.abs(changed))
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] ^= 0x5a
	}
	// Make it writable for a moment (0444 files), then put the mode back.
	if err := os.Chmod(g.abs(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g.abs(changed), data, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(g.abs(changed), old.Mode); err != nil {
		t.Fatal(err)
	}
	mt := time.Unix(0, old.MtimeNs)
	if err := os.Chtimes(g.abs(changed), mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(g.abs(deleted)); err != nil {
		t.Fatal(err)
	}
	addDir := g.dirs[g.rng.IntN(len(g.dirs))]
	added := filepath.Join(addDir, "added ✨ file")
	vaulttest.MustWrite(t, g.abs(added), g.randBytes(12345), 0o640)
	want2 := vaulttest.Scan(t, src)

	res2 := vaulttest.Backup(t, r, src)
	if res2.Parent == nil || res2.Parent.ID != res1.Snapshot.ID {
		t.Errorf("second backup did not use the first snapshot as parent")
	}
	s2 := res2.Snapshot.Summary
	changedDirs := map[string]bool{}
	for _, p := range []string{changed, deleted, added} {
		for _, a := range ancestors(p) {
			changedDirs[a] = true
		}
	}
	dirs2, _ := countTypes(want2)
	wantDirsChanged := len(changedDirs) + virtual
	if s2.FilesNew != 1 || s2.FilesChanged != 1 || s2.FilesUnchanged != uint64(others1-2) || s2.FilesTotal != uint64(others1) ||
		s2.DirsNew != 0 || s2.DirsChanged != uint64(wantDirsChanged) || s2.DirsUnchanged != uint64(dirs2+virtual-wantDirsChanged) ||
		s2.BytesRead != uint64(len(data)+12345) || s2.Errors != 0 {
		t.Errorf("incremental summary: %s\nwant files new 1 changed 1 unchanged %d total %d; dirs new 0 changed %d unchanged %d; read %d",
			summaryString(s2), others1-2, others1, wantDirsChanged, dirs2+virtual-wantDirsChanged, len(data)+12345)
	}

	// Both snapshots restore exactly, the first one as it was.
	r = tr.Reopen(t)
	vaulttest.CompareTrees(t, want1, vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, r, res1.Snapshot), src)))
	vaulttest.CompareTrees(t, want2, vaulttest.Scan(t, filepath.Join(vaulttest.Restore(t, r, res2.Snapshot), src)))
}

package e2e

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
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
)

// entry is what the tests compare of one file, folder or symlink.
type entry struct {
	typ   byte // f, d, l
	mode  fs.FileMode
	size  int64
	mtime int64 // Unix nanoseconds
	hash  [32]byte
	link  string
	uid   uint32
	gid   uint32
	nlink uint64 // regular files only
}

func (e entry) String() string {
	s := fmt.Sprintf("%c %v size=%d mtime=%s uid=%d gid=%d", e.typ, e.mode, e.size, time.Unix(0, e.mtime).UTC().Format(time.RFC3339Nano), e.uid, e.gid)
	if e.typ == 'l' {
		s += " -> " + e.link
	}
	if e.typ == 'f' {
		s += fmt.Sprintf(" sha256=%x links=%d", e.hash[:6], e.nlink)
	}
	return s
}

// manifest maps paths relative to a root ("." is the root) to entries.
type manifest map[string]entry

// takeManifest records a tree: bytes (hashed), modes, times, owners,
// symlink targets and hard link counts.
func takeManifest(t *testing.T, root string) manifest {
	t.Helper()
	m := manifest{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		e := entry{mode: fi.Mode(), mtime: fi.ModTime().UnixNano(), uid: st.Uid, gid: st.Gid}
		switch {
		case fi.Mode().IsRegular():
			e.typ, e.size, e.nlink = 'f', fi.Size(), uint64(st.Nlink)
			if e.hash, err = hashFile(p); err != nil {
				return err
			}
		case fi.IsDir():
			e.typ = 'd'
		case fi.Mode()&fs.ModeSymlink != 0:
			e.typ = 'l'
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			e.typ = '?'
		}
		m[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("reading tree %s: %v", root, err)
	}
	return m
}

func hashFile(p string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(p)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// compareManifests lists every difference between two trees.
func compareManifests(want, got manifest) []string {
	var diffs []string
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("missing %q (%s)", p, w))
			continue
		}
		if g != w {
			diffs = append(diffs, fmt.Sprintf("%q:\n      want %s\n      got  %s", p, w, g))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("unexpected %q (%s)", p, g))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// setTimes sets the modification (and access) time of p without following
// a symlink.
func setTimes(t *testing.T, p string, mt time.Time) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(mt.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatalf("setting times of %s: %v", p, err)
	}
}

var words = strings.Fields(`mairie conseil municipal délibération budget école cantine voirie
	urbanisme permis construire état civil naissance mariage décès recensement élection
	bureau vote liste électorale subvention association sport culture bibliothèque
	marché public appel offre facture mandat titre recette dépense investissement
	fonctionnement personnel agent paie congé formation retraite arrêté maire adjoint
	séance procès verbal compte rendu ordre jour question diverse vote unanimité
	the of and to in is was for on that with as by at from this be are have it not`)

// writeText writes n bytes of compressible, never repeating text.
func writeText(w io.Writer, rng *rand.Rand, n int64) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var written int64
	line := 0
	for written < n {
		wd := words[rng.IntN(len(words))]
		sep := " "
		if line++; line%14 == 0 {
			sep = fmt.Sprintf(" %d\n", rng.IntN(100000))
		}
		s := wd + sep
		if int64(len(s)) > n-written {
			s = s[:n-written]
		}
		k, err := bw.WriteString(s)
		written += int64(k)
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeRandom writes n incompressible bytes.
func writeRandom(w io.Writer, rng *rand.Rand, n int64) error {
	src := rand.NewChaCha8([32]byte{byte(rng.Uint64()), byte(rng.Uint64()), byte(rng.Uint64()), byte(rng.Uint64()), 1, 2, 3, byte(rng.Uint64())})
	buf := make([]byte, 1<<20)
	for n > 0 {
		k := int64(len(buf))
		if k > n {
			k = n
		}
		_, _ = src.Read(buf[:k])
		if _, err := w.Write(buf[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// writeFile creates p with n bytes of text or random data and a mode.
func writeFile(t *testing.T, p string, rng *rand.Rand, n int64, random bool, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if random {
		err = writeRandom(f, rng, n)
	} else {
		err = writeText(f, rng, n)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("writing %s: %v", p, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// genUserTree makes the happy path's folder: a few hundred files in nested
// folders, Unicode and non-UTF-8 names, symlinks (relative, absolute,
// dangling, to a folder), a hard link pair, an empty folder, empty files,
// special mode bits, and a few MB in all. Every time is set, with
// nanoseconds. It returns the number of regular files.
func genUserTree(t *testing.T, root string, seed uint64) int {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	files := 0
	dirs := []string{"docs", "docs/2024", "docs/2025/conseil", "Élections 2026", "日本語フォルダ", "deep/a/b/c/d/e",
		"space name", "photos", "Ελληνικά", "emoji 🎉"}
	names := []string{"café.txt", "naïve résumé.odt", "☃ snowman.txt", "emoji 🎉.csv", "日本語.txt", "Ελληνικά.txt",
		"tab\there.txt", "quote'and\"double.txt", "-dash-first.txt", "UPPER.TXT", ".hidden.txt", "plain.txt"}
	modes := []fs.FileMode{0o644, 0o600, 0o640, 0o755, 0o444, 0o664}
	for i := 0; i < 280; i++ {
		dir := dirs[i%len(dirs)]
		name := fmt.Sprintf("%03d-%s", i, names[i%len(names)])
		size := int64(rng.IntN(12 << 10))
		if i%37 == 0 {
			size = 0
		}
		// Text, as the names say: random bytes in a .txt or .odt are what
		// ransomware leaves, and Sentinel rightly judges a folder full of
		// them infected (exit 5). Random data stays in the photos and the
		// binary below.
		writeFile(t, filepath.Join(root, dir, name), rng, size, false, modes[i%len(modes)])
		files++
	}
	// A few larger files: photos (random) and a long text.
	for i := 0; i < 4; i++ {
		writeFile(t, filepath.Join(root, "photos", fmt.Sprintf("IMG_%04d.jpg", i)), rng, int64(300<<10+rng.IntN(500<<10)), true, 0o644)
		files++
	}
	writeFile(t, filepath.Join(root, "docs", "registre.txt"), rng, 1500<<10, false, 0o640)
	files++
	// A name that is not valid UTF-8 (Latin-1 é), as old Samba shares have.
	writeFile(t, filepath.Join(root, "docs", "latin1-caf\xe9.txt"), rng, 100, false, 0o644)
	files++
	// Special bits.
	writeFile(t, filepath.Join(root, "bin", "setuid-tool"), rng, 2000, true, 0o755|fs.ModeSetuid)
	files++
	must(t, os.Chmod(filepath.Join(root, "bin", "setuid-tool"), 0o755|fs.ModeSetuid))
	must(t, os.MkdirAll(filepath.Join(root, "shared-tmp"), 0o755))
	must(t, os.Chmod(filepath.Join(root, "shared-tmp"), 0o777|fs.ModeSticky))
	must(t, os.MkdirAll(filepath.Join(root, "private"), 0o700))
	must(t, os.Chmod(filepath.Join(root, "private"), 0o700))
	writeFile(t, filepath.Join(root, "private", "secret.txt"), rng, 500, false, 0o600)
	files++
	// Hard links.
	writeFile(t, filepath.Join(root, "links", "hard-a.txt"), rng, 4000, false, 0o644)
	must(t, os.Link(filepath.Join(root, "links", "hard-a.txt"), filepath.Join(root, "links", "hard-b.txt")))
	files += 2
	// Symlinks.
	must(t, os.Symlink("../docs/000-café.txt", filepath.Join(root, "links", "to-cafe")))
	must(t, os.Symlink("../docs", filepath.Join(root, "links", "to-docs-dir")))
	must(t, os.Symlink("/etc/hostname", filepath.Join(root, "links", "absolute")))
	must(t, os.Symlink("does/not/exist", filepath.Join(root, "links", "dangling")))
	must(t, os.Symlink("日本語.txt", filepath.Join(root, "links", "lien ☃")))
	// Empty folders.
	must(t, os.MkdirAll(filepath.Join(root, "empty"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "deep", "empty-too"), 0o750))
	must(t, os.Chmod(filepath.Join(root, "deep", "empty-too"), 0o750))
	setAllTimes(t, root, rng)
	return files
}

// setAllTimes gives every entry a distinct time with nanoseconds, folders
// last (deepest first) so that their times stay.
func setAllTimes(t *testing.T, root string, rng *rand.Rand) {
	t.Helper()
	var dirs, others []string
	must(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		} else {
			others = append(others, p)
		}
		return nil
	}))
	base := time.Date(2021, 3, 14, 15, 9, 26, 0, time.UTC)
	for _, p := range others {
		setTimes(t, p, base.Add(time.Duration(rng.Int64N(int64(4*365*24*time.Hour)))))
	}
	sort.Slice(dirs, func(i, j int) bool { return strings.Count(dirs[i], "/") > strings.Count(dirs[j], "/") })
	for _, p := range dirs {
		setTimes(t, p, base.Add(time.Duration(rng.Int64N(int64(4*365*24*time.Hour)))))
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

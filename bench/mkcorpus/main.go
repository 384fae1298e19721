// Command mkcorpus builds the deterministic benchmark corpus used by
// bench/run.sh, and applies a deterministic ~1% mutation to it.
//
//	go run ./bench/mkcorpus [flags] DIR [SCALE]          # generate (SCALE=1: ~2 GiB, ~60k files)
//	go run ./bench/mkcorpus [flags] mutate DIR [SCALE]   # change ~1% of it
//
// Everything derives from -seed: the same seed, scale and Go version give
// byte-identical files (JPEG and zip encoding come from the Go standard
// library, so a different Go release may change those bytes slightly).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

var (
	flagSeed   = flag.Uint64("seed", 20240101, "corpus seed")
	flagJobs   = flag.Int("j", runtime.NumCPU(), "parallel writers")
	flagShared = flag.String("shared", "auto", "directory of real sample files with MANIFEST.tsv to copy in ('none' to skip; 'auto' tries ../shared/corpus then /work/shared/corpus)")
	flagRound  = flag.Int("round", 1, "mutation round (mutate mode): each round is a different deterministic change set")
	flagQuiet  = flag.Bool("q", false, "less output")
)

func usage() {
	fmt.Fprintf(os.Stderr, "usage:\n  mkcorpus [flags] DIR [SCALE]\n  mkcorpus [flags] mutate DIR [SCALE]\n\nSCALE=1 gives ~2 GiB and ~60k files; SCALE=0.05 a quick ~100 MB corpus.\n\nflags:\n")
	flag.PrintDefaults()
	os.Exit(2)
}

func main() {
	flag.Usage = usage
	flag.Parse()
	args := flag.Args()
	mode := "gen"
	if len(args) > 0 && args[0] == "mutate" {
		mode = "mutate"
		args = args[1:]
	}
	if len(args) < 1 || len(args) > 2 {
		usage()
	}
	dir := args[0]
	scale := 1.0
	if len(args) == 2 {
		s, err := strconv.ParseFloat(args[1], 64)
		if err != nil || s <= 0 || s > 100 {
			fatalf("bad SCALE %q: want a number in (0,100]", args[1])
		}
		scale = s
	}
	start := time.Now()
	var err error
	if mode == "gen" {
		err = generate(dir, scale)
	} else {
		err = mutate(dir, scale)
	}
	if err != nil {
		fatalf("%s: %v", mode, err)
	}
	files, bytes := dirStats(dir)
	fmt.Printf("mkcorpus %s: %s: %d files, %d bytes (%.2f GiB) in %.1fs\n", mode, dir, files, bytes, float64(bytes)/(1<<30), time.Since(start).Seconds())
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "mkcorpus: "+format+"\n", a...)
	os.Exit(1)
}

func logf(format string, a ...any) {
	if !*flagQuiet {
		fmt.Fprintf(os.Stderr, format+"\n", a...)
	}
}

func dirStats(dir string) (files int, bytes int64) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				files++
				bytes += fi.Size()
			}
		}
		return nil
	})
	return
}

// ---------------------------------------------------------------- plan

type job struct {
	rel   string
	kind  string
	idx   int
	size  int64 // for big files
	mtime time.Time
}

func count(base int, scale float64) int {
	n := int(float64(base)*scale + 0.5)
	if n < 1 {
		n = 1
	}
	return n
}

// groupName gives a stable directory name to a group of files.
func groupName(label string, g int) string {
	r := newRNG(*flagSeed, label+"-dir", uint64(g))
	return fmt.Sprintf("%s-%s-%03d", word(r), word(r), g)
}

// Base counts at SCALE=1 (sizes are averages):
//
//	notes   18000 x ~7 KB   text (.txt/.md)
//	csv      3000 x ~45 KB
//	mail    15000 x ~11 KB  .eml, 8% with a base64 attachment, 40% quoting replies
//	office   3000 x ~60 KB  .docx/.xlsx (real zip + XML), 25% with an embedded JPEG
//	src     20000 x ~8 KB   Go and C files in nested dirs
//	photos    350 x ~2 MB   JPEG
//	dump.sql 300 MB, disk.img 200 MB, shared sample files ~43 MB, duplicated copies ~3%
func plan(scale float64) []job {
	var jobs []job
	t := func(i int) time.Time { return baseTime.Add(-time.Duration(i%(700*24)) * time.Hour) }
	jobs = append(jobs,
		job{rel: "db/shop-dump.sql", kind: "dump", size: int64(300e6 * scale), mtime: baseTime},
		job{rel: "vm/disk.img", kind: "disk", size: int64(200e6*scale) / 4096 * 4096, mtime: baseTime},
	)
	for i := 0; i < count(350, scale); i++ {
		g := i / 25
		jobs = append(jobs, job{rel: fmt.Sprintf("photos/%d/%02d/IMG_%05d.jpg", 2019+g/12%5, g%12+1, 1000+i), kind: "jpeg", idx: i, mtime: t(i * 11)})
	}
	for i := 0; i < count(3000, scale); i++ {
		ext := ".docx"
		if i%4 == 3 {
			ext = ".xlsx"
		}
		r := newRNG(*flagSeed, "officename", uint64(i))
		jobs = append(jobs, job{rel: fmt.Sprintf("documents/office/%s/%s-%s-%05d%s", groupName("office", i/60), word(r), word(r), i, ext), kind: "office", idx: i, mtime: t(i * 7)})
	}
	for i := 0; i < count(15000, scale); i++ {
		jobs = append(jobs, job{rel: fmt.Sprintf("mail/%s/cur/%06d.eml", groupName("mail", i/500), i), kind: "eml", idx: i, mtime: t(i)})
	}
	for i := 0; i < count(18000, scale); i++ {
		ext := ".txt"
		if i%3 == 0 {
			ext = ".md"
		}
		r := newRNG(*flagSeed, "notename", uint64(i))
		jobs = append(jobs, job{rel: fmt.Sprintf("documents/notes/%s/%s-%05d%s", groupName("notes", i/120), word(r), i, ext), kind: "note", idx: i, mtime: t(i * 3)})
	}
	for i := 0; i < count(3000, scale); i++ {
		jobs = append(jobs, job{rel: fmt.Sprintf("documents/spreadsheets/%s/export-%05d.csv", groupName("csv", i/100), i), kind: "csv", idx: i, mtime: t(i * 5)})
	}
	// source tree: projects / packages / optional subpackage / files
	nsrc := count(20000, scale)
	for i := 0; i < nsrc; i++ {
		proj := i / max(1, nsrc/20) // 20 projects at any scale
		pkg := i / 40
		r := newRNG(*flagSeed, "srcname", uint64(i))
		sub := ""
		if pkg%3 == 1 {
			sub = "/internal"
		}
		lang := "go"
		if proj%2 == 1 {
			lang = "c"
		}
		name := fmt.Sprintf("%s_%s", word(r), word(r))
		ext := ".go"
		if lang == "c" {
			ext = ".c"
			if i%3 == 0 {
				ext = ".h"
			}
		} else if i%5 == 0 {
			name += "_test"
		}
		jobs = append(jobs, job{rel: fmt.Sprintf("src/%s/%s%s/%s%s", groupName("proj", proj), groupName("pkg", pkg), sub, name, ext), kind: "src", idx: i, mtime: t(i * 13)})
	}
	return jobs
}

// ---------------------------------------------------------------- generation

func generate(dir string, scale float64) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s exists and is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	jobs := plan(scale)
	logf("mkcorpus: generating %d files at scale %g into %s with %d workers", len(jobs), scale, dir, *flagJobs)
	if err := runJobs(dir, jobs); err != nil {
		return err
	}
	if err := copyShared(dir, scale); err != nil {
		return err
	}
	if err := makeDuplicates(dir, jobs); err != nil {
		return err
	}
	return fixDirTimes(dir, baseTime)
}

func runJobs(dir string, jobs []job) error {
	ch := make(chan job)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	var done int
	for w := 0; w < *flagJobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				err := writeJob(dir, j)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s: %w", j.rel, err)
				}
				done++
				if done%10000 == 0 {
					logf("  %d/%d files", done, len(jobs))
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	return firstErr
}

func content(j job) []byte {
	seed := *flagSeed
	r := newRNG(seed, j.kind, uint64(j.idx))
	switch j.kind {
	case "jpeg":
		// 2.2 to 7.7 megapixels
		w := r.rangeInt(2000, 3200)
		asp := pick(r, [][2]int{{3, 4}, {2, 3}, {9, 16}})
		h := w * asp[0] / asp[1]
		if r.chance(0.3) {
			w, h = h, w
		}
		return genJPEG(r, w, h, r.rangeInt(88, 94))
	case "office":
		if strings.HasSuffix(j.rel, ".xlsx") {
			return genXlsx(r, r.logUniform(20000, 600000))
		}
		return genDocx(r, r.logUniform(10000, 300000), r.chance(0.25))
	case "eml":
		return genEmail(seed, j.idx, r, r.chance(0.08))
	case "note":
		return genNote(r, r.logUniform(500, 30000))
	case "csv":
		return genCSV(r, r.logUniform(2000, 200000))
	case "src":
		size := r.logUniform(800, 40000)
		pkg := strings.SplitN(filepath.Base(filepath.Dir(j.rel)), "-", 2)[0]
		switch filepath.Ext(j.rel) {
		case ".go":
			return genGoFile(r, pkg, size)
		case ".h":
			return genCFile(r, true, size/3)
		default:
			return genCFile(r, false, size)
		}
	}
	panic("unknown kind " + j.kind)
}

func writeJob(dir string, j job) error {
	p := filepath.Join(dir, j.rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	switch j.kind {
	case "dump", "disk":
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		if j.kind == "dump" {
			err = writeDump(f, *flagSeed, j.size)
		} else {
			err = writeDisk(f, *flagSeed, j.size)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	default:
		if err := os.WriteFile(p, content(j), 0o644); err != nil {
			return err
		}
	}
	return os.Chtimes(p, j.mtime, j.mtime)
}

func resolveShared() string {
	switch *flagShared {
	case "none", "":
		return ""
	case "auto":
		for _, c := range []string{"../shared/corpus", "/work/shared/corpus"} {
			if _, err := os.Stat(filepath.Join(c, "MANIFEST.tsv")); err == nil {
				return c
			}
		}
		return ""
	}
	return *flagShared
}

// copyShared copies real sample files (office documents, PDFs, images, audio,
// archives...) listed in MANIFEST.tsv. The originals are only read.
func copyShared(dir string, scale float64) error {
	src := resolveShared()
	if src == "" {
		logf("mkcorpus: no shared sample corpus found, skipping it")
		return nil
	}
	f, err := os.Open(filepath.Join(src, "MANIFEST.tsv"))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 0; sc.Scan(); line++ {
		fields := strings.Split(sc.Text(), "\t")
		if line == 0 || len(fields) < 2 || fields[0] == "" {
			continue
		}
		rel := filepath.Clean(fields[0])
		if strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
			continue
		}
		if scale < 1 && hash01(rel) >= scale {
			continue
		}
		dst := filepath.Join(dir, "shared-samples", rel)
		if err := copyFile(filepath.Join(src, rel), dst); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		mt := baseTime.Add(-time.Duration(n) * time.Hour)
		if err := os.Chtimes(dst, mt, mt); err != nil {
			return err
		}
		n++
	}
	logf("mkcorpus: copied %d sample files from %s", n, src)
	return sc.Err()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// makeDuplicates copies ~4% of the photos and ~3% of the office files into
// a "backup-copy" tree: exact duplicates that a deduplicating tool stores once.
func makeDuplicates(dir string, jobs []job) error {
	n := 0
	for _, j := range jobs {
		r := newRNG(*flagSeed, "dup", uint64(j.idx), uint64(len(j.kind)))
		if (j.kind == "jpeg" && r.chance(0.04)) || (j.kind == "office" && r.chance(0.03)) {
			dst := filepath.Join(dir, "backup-copy", j.rel)
			if err := copyFile(filepath.Join(dir, j.rel), dst); err != nil {
				return err
			}
			if err := os.Chtimes(dst, baseTime, baseTime); err != nil {
				return err
			}
			n++
		}
	}
	logf("mkcorpus: %d duplicated files", n)
	return nil
}

func fixDirTimes(dir string, t time.Time) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := os.Chtimes(d, t, t); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------- mutation

func mutate(dir string, scale float64) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%s holds no files: generate the corpus first", dir)
	}
	sort.Strings(files)
	round := uint64(*flagRound)
	seed := *flagSeed
	mt := baseTime.Add(400*24*time.Hour + time.Duration(round)*24*time.Hour)
	r := newRNG(seed, "mutate", round)
	touchedDirs := map[string]bool{}
	touch := func(rel string) error {
		touchedDirs[filepath.Dir(filepath.Join(dir, rel))] = true
		return os.Chtimes(filepath.Join(dir, rel), mt, mt)
	}
	var edited, regenerated, deleted, added int
	var changedBytes int64
	for i, rel := range files {
		u := r.float() // exactly one draw per file keeps the selection stable
		fr := newRNG(seed, "mutate-file", round, uint64(i))
		p := filepath.Join(dir, rel)
		ext := filepath.Ext(rel)
		switch {
		case strings.HasPrefix(rel, "db/") || strings.HasPrefix(rel, "vm/") || strings.HasPrefix(rel, "shared-samples/"):
			continue
		case u < 0.001 && !strings.HasPrefix(rel, "new-"):
			if err := os.Remove(p); err != nil {
				return err
			}
			touchedDirs[filepath.Dir(p)] = true
			deleted++
		case u < 0.013 && isTextExt(ext):
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			nb := editText(fr, b)
			if err := os.WriteFile(p, nb, 0o644); err != nil {
				return err
			}
			changedBytes += int64(len(nb) - len(b) + 16)
			edited++
			if err := touch(rel); err != nil {
				return err
			}
		case u < 0.011 && (ext == ".docx" || ext == ".xlsx"):
			var nb []byte
			if ext == ".xlsx" {
				nb = genXlsx(fr, fr.logUniform(20000, 600000))
			} else {
				nb = genDocx(fr, fr.logUniform(10000, 300000), fr.chance(0.25))
			}
			if err := os.WriteFile(p, nb, 0o644); err != nil {
				return err
			}
			changedBytes += int64(len(nb))
			regenerated++
			if err := touch(rel); err != nil {
				return err
			}
		}
	}
	// dump: a few rows inserted at ~70% (shifts everything after it, which
	// content-defined chunking must absorb) and new rows appended at the end.
	if dump := "db/shop-dump.sql"; fileExists(filepath.Join(dir, dump)) {
		n, err := mutateDump(filepath.Join(dir, dump), newRNG(seed, "mutate-dump", round))
		if err != nil {
			return err
		}
		changedBytes += n
		if err := touch(dump); err != nil {
			return err
		}
	}
	// disk image: rewrite ~0.4% of it in 64 KiB blocks, in place
	if disk := "vm/disk.img"; fileExists(filepath.Join(dir, disk)) {
		n, err := mutateDisk(filepath.Join(dir, disk), newRNG(seed, "mutate-disk", round))
		if err != nil {
			return err
		}
		changedBytes += n
		if err := touch(disk); err != nil {
			return err
		}
	}
	// a few new files
	nr := newRNG(seed, "mutate-new", round)
	newDir := fmt.Sprintf("new-%d", round)
	add := func(rel string, b []byte) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		added++
		changedBytes += int64(len(b))
		return touch(rel)
	}
	for i := 0; i < count(4, scale); i++ {
		if err := add(fmt.Sprintf("%s/photos/IMG_N%02d_%04d.jpg", newDir, round, i), genJPEG(nr, nr.rangeInt(1600, 2400), nr.rangeInt(1200, 1600), 88)); err != nil {
			return err
		}
	}
	for i := 0; i < count(10, scale); i++ {
		if err := add(fmt.Sprintf("%s/documents/report-%02d-%03d.docx", newDir, round, i), genDocx(nr, nr.logUniform(10000, 300000), nr.chance(0.3))); err != nil {
			return err
		}
	}
	for i := 0; i < count(150, scale); i++ {
		if err := add(fmt.Sprintf("%s/notes/note-%02d-%04d.txt", newDir, round, i), genNote(nr, nr.logUniform(500, 30000))); err != nil {
			return err
		}
	}
	for i := 0; i < count(200, scale); i++ {
		if err := add(fmt.Sprintf("mail/inbox-new/cur/%02d-%05d.eml", round, i), genEmail(seed+round, 100000+i, nr, nr.chance(0.08))); err != nil {
			return err
		}
	}
	for d := range touchedDirs {
		if err := os.Chtimes(d, mt, mt); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	fmt.Printf("mkcorpus mutate round %d: edited %d text files, rewrote %d office files, deleted %d, added %d; ~%d bytes changed\n",
		round, edited, regenerated, deleted, added, changedBytes)
	return nil
}

func isTextExt(ext string) bool {
	switch ext {
	case ".txt", ".md", ".csv", ".eml", ".go", ".c", ".h":
		return true
	}
	return false
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// editText inserts a new paragraph at a line boundary and rewrites one line,
// like a person editing a document.
func editText(r *rng, b []byte) []byte {
	para := appendParagraph(nil, r, 72)
	pos := 0
	if len(b) > 0 {
		pos = r.intn(len(b))
		for pos < len(b) && b[pos] != '\n' {
			pos++
		}
		if pos < len(b) {
			pos++
		}
	}
	out := make([]byte, 0, len(b)+len(para)+64)
	out = append(out, b[:pos]...)
	out = append(out, para...)
	out = append(out, b[pos:]...)
	// replace one word near the start
	if i := strings.IndexByte(string(out[:min(len(out), 400)]), ' '); i > 0 {
		w := []byte(" " + word(r) + " ")
		out = append(out[:i], append(w, out[i+1:]...)...)
	}
	return out
}

func mutateDump(p string, r *rng) (int64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	pos := len(b) * 7 / 10
	for pos < len(b) && b[pos] != '\n' {
		pos++
	}
	if pos < len(b) {
		pos++
	}
	id := 50_000_000
	var mid []byte
	for i := 0; i < 3; i++ {
		mid = sqlInsert(mid, r, "orders", &id)
	}
	var tail []byte
	for len(tail) < len(b)/200 { // +0.5%
		tail = sqlInsert(tail, r, "audit_log", &id)
	}
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, part := range [][]byte{b[:pos], mid, b[pos:], tail} {
		if _, err := w.Write(part); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return int64(len(mid) + len(tail)), os.Rename(tmp, p)
}

func mutateDisk(p string, r *rng) (int64, error) {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	const blk = 64 << 10
	if fi.Size() < blk {
		return 0, nil
	}
	n := int(fi.Size() * 4 / 1000 / blk)
	if n < 4 {
		n = 4
	}
	buf := make([]byte, blk)
	for i := 0; i < n; i++ {
		off := int64(r.intn(int((fi.Size()-blk)/4096))) * 4096
		if r.chance(0.7) {
			r.fill(buf)
		} else {
			copy(buf, textOfSize(r, blk, 0))
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			return 0, err
		}
	}
	return int64(n) * blk, f.Close()
}

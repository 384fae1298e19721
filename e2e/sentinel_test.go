package e2e

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// The shared corpus of real documents (read-only: tests copy from it).
func corpusDir(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(root, "..", "shared", "corpus"), "/work/shared/corpus"} {
		if _, err := os.Stat(filepath.Join(d, "MANIFEST.tsv")); err == nil {
			return d
		}
	}
	t.Skip("no shared corpus (../shared/corpus/MANIFEST.tsv) on this machine")
	return ""
}

// sentinelFolders are where copied documents go, as in a town's shares.
var sentinelFolders = []string{"Finances", "Etat civil", "Ecole", "Services techniques"}

// copyCorpus copies up to perType documents of each office, image and text
// type (none that is encrypted on purpose) into the folders of src,
// round-robin, dated a month back. It returns the copied paths.
func copyCorpus(t *testing.T, src string, perType int) []string {
	t.Helper()
	dir := corpusDir(t)
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	must(t, err)
	defer f.Close()
	want := map[string]bool{"docx": true, "xlsx": true, "odt": true, "ods": true, "pdf": true, "jpg": true, "png": true,
		"txt": true, "csv": true, "html": true, "rtf": true, "doc": true, "xls": true, "pptx": true, "xml": true, "json": true}
	taken := map[string]int{}
	var out []string
	when := time.Now().Add(-30 * 24 * time.Hour)
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	i := 0
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if len(col) < 8 || !want[col[3]] || col[7] != "no" || taken[col[3]] >= perType {
			continue
		}
		taken[col[3]]++
		data, err := os.ReadFile(filepath.Join(dir, col[0]))
		must(t, err)
		dst := filepath.Join(src, sentinelFolders[i%len(sentinelFolders)], filepath.Base(col[0]))
		i++
		if _, err := os.Stat(dst); err == nil {
			continue // same name from two sources
		}
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		must(t, os.WriteFile(dst, data, 0o644))
		must(t, os.Chtimes(dst, when, when))
		out = append(out, dst)
	}
	must(t, sc.Err())
	return out
}

// sentinelReport is the part of a Sentinel report the tests read.
type sentinelReport struct {
	Verdict    string `json:"verdict"`
	Score      float64
	Indicators []struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	} `json:"indicators"`
	Affected []struct {
		Path          string   `json:"path"`
		Reasons       []string `json:"reasons"`
		LastClean     string   `json:"last_clean"`
		LastCleanPath string   `json:"last_clean_path"`
	} `json:"affected"`
}

type verdictJSON struct {
	SnapshotID string         `json:"snapshot_id"`
	Verdict    string         `json:"verdict"`
	Sentinel   sentinelReport `json:"sentinel"`
}

// firstJSON decodes the first JSON value of a command's stdout (a command
// that exits non-zero prints its result, then an error object).
func firstJSON(t *testing.T, r *result, v any) {
	t.Helper()
	if err := json.NewDecoder(strings.NewReader(r.stdout)).Decode(v); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s", err, r)
	}
}

// encryptFile writes p's bytes encrypted with AES-256-CTR under a fresh
// key to dst, as ransomware does.
func encryptFile(t *testing.T, p, dst string) {
	t.Helper()
	data, err := os.ReadFile(p)
	must(t, err)
	key, iv := make([]byte, 32), make([]byte, aes.BlockSize)
	_, _ = rand.Read(key)
	_, _ = rand.Read(iv)
	block, err := aes.NewCipher(key)
	must(t, err)
	cipher.NewCTR(block, iv).XORKeyStream(data, data)
	must(t, os.WriteFile(dst, data, 0o644))
}

const ransomNote = `!!! VOS FICHIERS ONT ÉTÉ CHIFFRÉS !!!

Tous vos documents, bases de données et sauvegardes ont été chiffrés.
Pour récupérer vos fichiers, vous devez acheter notre logiciel de déchiffrement.
Envoyez 2 BTC à l'adresse bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh
puis écrivez à restore-files@onionmail.org avec votre identifiant : 7F3A-9C21-BB04.
N'essayez pas de restaurer vous-même : vous perdriez vos données pour toujours.
`

// TestSentinelRansomware plays an attack on real documents: a clean
// backup, canaries planted, then encryption in place and into renamed
// copies, ransom notes, a touched canary. The scan and the backup report
// it with the right exit status and the clean snapshot; restore
// --last-clean gives every original back.
func TestSentinelRansomware(t *testing.T) {
	e := newEnv(t)
	e.initRepo()
	src := filepath.Join(tempDir(t), "partages")
	docs := copyCorpus(t, src, 8)

	var b1 verdictJSON
	e.okJSON(&b1, "backup", src)
	if b1.Verdict != "clean" {
		t.Fatalf("first backup of real documents: verdict %q, want clean: %+v", b1.Verdict, b1.Sentinel)
	}

	var planted struct {
		Planted []struct {
			Path string `json:"path"`
		} `json:"planted"`
	}
	e.okJSON(&planted, "canary", "plant", src, filepath.Join(src, "Finances"))
	if len(planted.Planted) < 4 {
		t.Fatalf("canary plant: %+v", planted)
	}
	r := e.ok("canary", "plant", filepath.Join(src, "Ecole"))
	mustContain(t, "canary plant", r.stdout, "Planted", "tell the staff")
	var listed []struct {
		Path string `json:"path"`
	}
	e.okJSON(&listed, "canary", "list", src)
	if len(listed) != len(planted.Planted)+4 {
		t.Errorf("canary list finds %d decoys, %d were planted", len(listed), len(planted.Planted)+4)
	}
	var b2 verdictJSON
	e.okJSON(&b2, "backup", src)
	if b2.Verdict != "clean" {
		t.Fatalf("backup after planting canaries: verdict %q: %+v", b2.Verdict, b2.Sentinel)
	}
	before := takeManifest(t, src)

	// The attack, in three of the four folders: files of 4 KiB or more
	// encrypted, every other one into a .locked copy with the original
	// deleted; a note in every folder; one canary encrypted.
	hit := map[string]string{} // original path -> path after the attack
	for _, p := range docs {
		fi, err := os.Stat(p)
		must(t, err)
		if fi.Size() < 4096 || strings.Contains(p, "/Services techniques/") {
			continue
		}
		if len(hit)%2 == 0 {
			encryptFile(t, p, p+".locked")
			must(t, os.Remove(p))
			hit[p] = p + ".locked"
		} else {
			encryptFile(t, p, p)
			hit[p] = p
		}
	}
	if len(hit) < 30 {
		t.Fatalf("only %d documents of 4 KiB or more to encrypt: bad test", len(hit))
	}
	var notes []string
	must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			n := filepath.Join(p, "COMMENT_RESTAURER_VOS_FICHIERS.txt")
			notes = append(notes, n)
			return os.WriteFile(n, []byte(ransomNote), 0o644)
		}
		return err
	}))
	canaryHit := planted.Planted[0].Path
	encryptFile(t, canaryHit, canaryHit)
	hit[canaryHit] = canaryHit

	// sentinel scan sees it, and makes no snapshot.
	r = e.run("--json", "sentinel", "scan", src)
	var scan verdictJSON
	firstJSON(t, r, &scan)
	if r.code != 5 && r.code != 4 || scan.Verdict != "infected" && scan.Verdict != "suspect" {
		t.Errorf("sentinel scan of the attacked folder: exit %d, verdict %q; want 5 (or 4)\n%s", r.code, scan.Verdict, r)
	}
	r = e.run("sentinel", "scan", src)
	mustContain(t, "sentinel scan", r.stdout, "RANSOMWARE", "No snapshot was made")
	if n := len(e.snapshots()); n != 2 {
		t.Errorf("sentinel scan made a snapshot: %d snapshots", n)
	}

	// The backup: exit 5 (or 4), every encrypted file listed with the
	// previous snapshot as its last clean one.
	r = e.run("--json", "backup", src)
	var b3 verdictJSON
	firstJSON(t, r, &b3)
	if r.code != 5 && r.code != 4 {
		t.Errorf("backup of the attacked folder: exit %d, want 5 (infected) or 4 (suspect)\n%s", r.code, r)
	}
	if b3.Verdict != "infected" && b3.Verdict != "suspect" {
		t.Errorf("backup of the attacked folder: verdict %q", b3.Verdict)
	}
	affected := map[string]int{}
	for i, a := range b3.Sentinel.Affected {
		affected[a.Path] = i
	}
	var missed []string
	for orig, now := range hit {
		i, ok := affected[now]
		if !ok {
			missed = append(missed, now)
			continue
		}
		a := b3.Sentinel.Affected[i]
		if a.LastClean != b2.SnapshotID {
			t.Errorf("%s: last clean snapshot %q, want the previous one %s", now, a.LastClean, short(b2.SnapshotID))
		}
		if now != orig && a.LastCleanPath != orig {
			t.Errorf("%s: last clean path %q, want %s", now, a.LastCleanPath, orig)
		}
	}
	sort.Strings(missed)
	if len(missed) > len(hit)/100 {
		t.Errorf("%d of %d encrypted files are not listed as affected: %q", len(missed), len(hit), firstN(missed, 10))
	}
	var names []string
	for _, in := range b3.Sentinel.Indicators {
		names = append(names, in.Name)
	}
	for _, want := range []string{"canary", "ransom_note"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("indicators %v lack %q", names, want)
		}
	}

	// In words, the same, loudly; snapshots shows the verdicts.
	var snaps []struct {
		ID      string `json:"id"`
		Verdict string `json:"verdict"`
	}
	e.okJSON(&snaps, "snapshots")
	if len(snaps) != 3 || snaps[0].Verdict != "clean" || snaps[1].Verdict != "clean" || snaps[2].Verdict != b3.Verdict {
		t.Errorf("snapshots --json verdicts: %+v; want clean, clean, %s", snaps, b3.Verdict)
	}
	r = e.ok("snapshots")
	mustContain(t, "snapshots", r.stdout, "Verdict", strings.ToUpper(b3.Verdict))

	// restore --last-clean: every original byte-identical, nothing the
	// attack made.
	target := filepath.Join(t.TempDir(), "clean")
	r = e.run("--json", "restore", "--last-clean", "--target", target)
	if r.code != 0 {
		t.Fatalf("restore --last-clean: exit %d\n%s", r.code, r)
	}
	var lc struct {
		FromSnapshot int `json:"files_from_snapshot"`
		FromClean    int `json:"files_from_clean"`
		Skipped      int `json:"files_skipped"`
	}
	firstJSON(t, r, &lc)
	if lc.FromClean < len(hit)-len(missed) || lc.Skipped < len(notes) {
		t.Errorf("restore --last-clean: %+v; want at least %d from clean versions and %d skipped (notes)", lc, len(hit)-len(missed), len(notes))
	}
	got := takeManifest(t, filepath.Join(target, src))
	var diffs []string
	for p, w := range before {
		if w.typ != 'f' {
			continue
		}
		if g, ok := got[p]; !ok {
			diffs = append(diffs, "missing "+p)
		} else if g.hash != w.hash || g.size != w.size || g.mtime != w.mtime || g.mode != w.mode {
			diffs = append(diffs, fmt.Sprintf("%s: restored as %s, want %s", p, g, w))
		}
	}
	for p, g := range got {
		if _, ok := before[p]; !ok && g.typ != 'd' {
			diffs = append(diffs, "restored what the attack made: "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("restore --last-clean differs from the folder before the attack:\n  %s", strings.Join(firstN(diffs, 20), "\n  "))
	}
	r = e.ok("restore", "--last-clean", "--target", filepath.Join(t.TempDir(), "words"))
	mustContain(t, "restore --last-clean", r.stdout, "from earlier clean versions", "skipped")

	// The same backup in words: the block, the advice, exit 5 (or 4).
	appendTo(t, filepath.Join(src, "Services techniques", "COMMENT_RESTAURER_VOS_FICHIERS.txt"), "relance\n")
	r = e.run("backup", src)
	if r.code != 5 && r.code != 4 {
		t.Errorf("backup in words: exit %d\n%s", r.code, r)
	}
	mustContain(t, "backup", r.stdout, "RANSOMWARE", "Affected files", "Last clean snapshot", "do not restore this snapshot", "rempart restore --last-clean --target DIR")
}

// rezip rewrites an office document (a ZIP) as an office suite saving it
// again would: every member re-compressed, text in the XML parts edited.
func rezip(t *testing.T, p string, edit func(name string, b []byte) []byte) {
	t.Helper()
	zr, err := zip.OpenReader(p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		must(t, err)
		b, err := io.ReadAll(rc)
		rc.Close()
		must(t, err)
		h := f.FileHeader
		h.Modified = time.Now()
		w, err := zw.CreateHeader(&h)
		must(t, err)
		_, err = w.Write(edit(f.Name, b))
		must(t, err)
	}
	zr.Close()
	must(t, zw.Close())
	must(t, os.WriteFile(p, buf.Bytes(), 0o644))
}

// TestSentinelBenign: what staff do every day — documents edited and
// saved again, a folder zipped, files renamed — is backed up as clean.
func TestSentinelBenign(t *testing.T) {
	e := newEnv(t)
	e.initRepo()
	src := filepath.Join(tempDir(t), "partages")
	docs := copyCorpus(t, src, 6)
	e.ok("canary", "plant", src)
	var b1 verdictJSON
	e.okJSON(&b1, "backup", src)
	if b1.Verdict != "clean" {
		t.Fatalf("first backup: verdict %q: %+v", b1.Verdict, b1.Sentinel)
	}

	edited, renamed := 0, 0
	for i, p := range docs {
		switch ext := filepath.Ext(p); {
		case (ext == ".docx" || ext == ".xlsx" || ext == ".odt") && edited < 12:
			rezip(t, p, func(name string, b []byte) []byte {
				if strings.HasSuffix(name, ".xml") {
					return bytes.Replace(b, []byte("</"), []byte(" </"), 3)
				}
				return b
			})
			edited++
		case ext == ".txt" || ext == ".csv":
			appendTo(t, p, "\nligne ajoutée par le secrétariat\n")
		case i%5 == 0 && renamed < 12:
			must(t, os.Rename(p, filepath.Join(filepath.Dir(p), "2026 - "+filepath.Base(p))))
			renamed++
		}
	}
	// A folder zipped into an archive next to it.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	dir := filepath.Join(src, "Ecole")
	entries, err := os.ReadDir(dir)
	must(t, err)
	for _, en := range entries {
		if en.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, en.Name()))
			must(t, err)
			w, err := zw.Create("Ecole/" + en.Name())
			must(t, err)
			_, err = w.Write(b)
			must(t, err)
		}
	}
	must(t, zw.Close())
	must(t, os.WriteFile(filepath.Join(src, "Ecole archive 2025.zip"), buf.Bytes(), 0o644))

	r := e.run("--json", "backup", src)
	var b2 verdictJSON
	firstJSON(t, r, &b2)
	if r.code != 0 || b2.Verdict != "clean" {
		t.Errorf("benign changes (%d documents saved again, %d renamed, a folder zipped): exit %d, verdict %q, report %+v", edited, renamed, r.code, b2.Verdict, b2.Sentinel)
	}
	r = e.ok("sentinel", "scan", src)
	mustContain(t, "sentinel scan", r.stdout, "looks clean")
}

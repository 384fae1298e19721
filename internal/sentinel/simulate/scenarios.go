package simulate

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoders for the photo re-encoding
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Env is what a scenario works on: a copy of the corpus after its first
// backup.
type Env struct {
	Root     string           // the copy (never the shared corpus)
	Files    []string         // its files, sorted slash paths
	Sizes    map[string]int64 // their sizes
	Canaries map[string]bool  // decoys planted in the copy
	// Encrypted are the files their owner encrypted on purpose (the
	// shared corpus's MANIFEST): ransomware hits them too, but the
	// smallest attacks (MinHit files) pick among the others, whose
	// damage content can show.
	Encrypted map[string]bool
	R         *rand.Rand // seeded per scenario
	GPG       string     // the gpg binary, "" when absent
	Scratch   string     // a private folder (GNUPGHOME)
	// Limit, when positive, caps how many files a benign scenario edits
	// (re-saving documents and re-encoding photos is slow under -race).
	Limit int
}

// limit applies Env.Limit to a benign scenario's files.
func (e *Env) limit(files []string) []string {
	if e.Limit > 0 && len(files) > e.Limit {
		return files[:e.Limit]
	}
	return files
}

// Hit is a file a malicious scenario damaged: its path before, its path
// after when the attack renamed it (or wrote an encrypted copy and
// deleted it), and its original size.
type Hit struct {
	Path, NewPath string
	Size          int64
}

// Scenario is one thing that happens to the files between two backups.
type Scenario struct {
	Name      string
	Title     string
	Malicious bool
	// Rounds is how many backups follow the baseline (slow attacks take
	// several); Apply is called before each.
	Rounds int
	// ExpectAlarm marks a benign-looking scenario that Sentinel reports on
	// purpose (many files turned into gpg at once): it is shown, and not
	// counted in the benign targets.
	ExpectAlarm bool
	// Extra marks a malicious mode beyond the list: it is shown,
	// and the targets are not enforced on it.
	Extra bool
	Apply func(e *Env, round int) ([]Hit, error)
}

// Minimal hit counts: the targets speak of attacks that hit at least 20
// files; each content mode also runs on exactly that many.
const MinHit = 20

func (e *Env) abs(rel string) string { return abs(e.Root, rel) }

// victims returns the files a scenario may touch (canaries excluded: the
// detection of content is measured without their help), shuffled.
func (e *Env) victims(filter func(p string) bool) []string {
	var out []string
	for _, p := range e.Files {
		if !e.Canaries[p] && (filter == nil || filter(p)) {
			out = append(out, p)
		}
	}
	e.R.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// sample returns n victims of 4 KiB or more (all when n <= 0).
func (e *Env) sample(n int) []string {
	if n <= 0 {
		v := e.victims(nil)
		sort.Strings(v)
		return v
	}
	v := e.victims(func(p string) bool { return e.Sizes[p] >= 4096 && !e.Encrypted[p] })
	if len(v) > n {
		v = v[:n]
	}
	sort.Strings(v)
	return v
}

// stream is AES-256-CTR under a key drawn from the scenario's generator:
// reproducible runs, and a key nobody keeps.
func (e *Env) stream() cipher.Stream {
	var key [32]byte
	var iv [16]byte
	for i := range key {
		key[i] = byte(e.R.Uint32())
	}
	for i := range iv {
		iv[i] = byte(e.R.Uint32())
	}
	b, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	return cipher.NewCTR(b, iv[:])
}

// encrypt encrypts, in place, the byte ranges of data that sel chooses.
func (e *Env) encrypt(data []byte, sel func(off int) bool, step int) []byte {
	s := e.stream()
	out := data
	for off := 0; off < len(out); off += step {
		end := min(off+step, len(out))
		if sel(off) {
			s.XORKeyStream(out[off:end], out[off:end])
		}
	}
	return out
}

func all(int) bool { return true }

// inPlace applies f to each file and rewrites it where it is.
func (e *Env) inPlace(files []string, f func(data []byte) []byte) ([]Hit, error) {
	var hits []Hit
	for _, p := range files {
		data, err := os.ReadFile(e.abs(p))
		if err != nil {
			return nil, err
		}
		if err := rewrite(e.abs(p), f(data)); err != nil {
			return nil, err
		}
		hits = append(hits, Hit{Path: p, Size: int64(len(data))})
	}
	return hits, nil
}

// contentMode rewrites n files (0: every file) in place with f.
func contentMode(n int, name, title string, f func(e *Env, data []byte) []byte) *Scenario {
	return &Scenario{Name: name, Title: title, Malicious: true, Rounds: 1,
		Apply: func(e *Env, _ int) ([]Hit, error) {
			return e.inPlace(e.sample(n), func(d []byte) []byte { return f(e, d) })
		}}
}

// Content attacks, each on n files (0: every file).
func contentModes(n int) []*Scenario {
	suffix, what := "", "every file"
	if n > 0 {
		suffix, what = fmt.Sprintf("-%d", n), fmt.Sprintf("%d files", n)
	}
	mk := func(name, title string, f func(e *Env, data []byte) []byte) *Scenario {
		return contentMode(n, name+suffix, title+" ("+what+")", f)
	}
	return []*Scenario{
		mk("full", "full encryption, AES-CTR, in place", func(e *Env, d []byte) []byte { return e.encrypt(d, all, 1<<20) }),
		mk("intermittent-16", "intermittent: every other 16 bytes", func(e *Env, d []byte) []byte {
			return e.encrypt(d, func(off int) bool { return off%32 == 0 }, 16)
		}),
		mk("blocks-10pct", "intermittent: one 64 KiB block in ten", func(e *Env, d []byte) []byte {
			return e.encrypt(d, func(off int) bool { return (off/(64<<10))%10 == 0 }, 64<<10)
		}),
		mk("header-4k", "header only: first 4 KiB", func(e *Env, d []byte) []byte {
			return e.encrypt(d, func(off int) bool { return off == 0 }, 4096)
		}),
		mk("first-1m", "first 1 MiB only", func(e *Env, d []byte) []byte {
			return e.encrypt(d, func(off int) bool { return off == 0 }, 1<<20)
		}),
		mk("base64", "base64 of the ciphertext (low entropy)", func(e *Env, d []byte) []byte {
			c := e.encrypt(d, all, 1<<20)
			width := 0
			if e.R.IntN(2) == 0 {
				width = 76
			}
			return wrap64b(c, width)
		}),
		{Name: "rename-only" + suffix, Title: "rename to a new extension (.locked), content untouched (" + what + ")", Malicious: true, Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return e.renameAll(e.sample(n), ".locked", false) }},
		{Name: "rename-encrypt" + suffix, Title: "full encryption and a new extension (.crypt) (" + what + ")", Malicious: true, Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return e.renameAll(e.sample(n), ".crypt", true) }},
		{Name: "random-names" + suffix, Title: "encrypted copy under a random name (.x7kq), original deleted (" + what + ")", Malicious: true, Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return e.randomNames(e.sample(n), ".x7kq") }},
		{Name: "copy-delete" + suffix, Title: "encrypted copy (.encrypted replaces the extension), original deleted (" + what + ")", Malicious: true, Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return e.copyDelete(e.sample(n)) }},
	}
}

func (e *Env) renameAll(files []string, ext string, enc bool) ([]Hit, error) {
	var hits []Hit
	for _, p := range files {
		if enc {
			data, err := os.ReadFile(e.abs(p))
			if err != nil {
				return nil, err
			}
			if err := rewrite(e.abs(p), e.encrypt(data, all, 1<<20)); err != nil {
				return nil, err
			}
		}
		if err := os.Rename(e.abs(p), e.abs(p+ext)); err != nil {
			return nil, err
		}
		hits = append(hits, Hit{Path: p, NewPath: p + ext, Size: e.Sizes[p]})
	}
	return hits, nil
}

// randomNames writes each file's ciphertext under a random name with the
// attack's extension, and deletes the original.
func (e *Env) randomNames(files []string, ext string) ([]Hit, error) {
	var hits []Hit
	for _, p := range files {
		data, err := os.ReadFile(e.abs(p))
		if err != nil {
			return nil, err
		}
		name := make([]byte, 10)
		for i := range name {
			name[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[e.R.IntN(62)]
		}
		np := path.Join(path.Dir(p), string(name)+ext)
		if err := writeNew(e.abs(np), e.encrypt(data, all, 1<<20)); err != nil {
			return nil, err
		}
		if err := os.Remove(e.abs(p)); err != nil {
			return nil, err
		}
		hits = append(hits, Hit{Path: p, NewPath: np, Size: int64(len(data))})
	}
	return hits, nil
}

func (e *Env) copyDelete(files []string) ([]Hit, error) {
	var hits []Hit
	for _, p := range files {
		data, err := os.ReadFile(e.abs(p))
		if err != nil {
			return nil, err
		}
		np := strings.TrimSuffix(p, path.Ext(p)) + ".encrypted"
		if _, err := os.Stat(e.abs(np)); err == nil {
			np = p + ".encrypted" // two originals with the same stem
		}
		if err := writeNew(e.abs(np), e.encrypt(data, all, 1<<20)); err != nil {
			return nil, err
		}
		if err := os.Remove(e.abs(p)); err != nil {
			return nil, err
		}
		hits = append(hits, Hit{Path: p, NewPath: np, Size: int64(len(data))})
	}
	return hits, nil
}

const noteFR = `!!! VOS FICHIERS ONT ÉTÉ CHIFFRÉS !!!

Tous vos documents, photos, bases de données et sauvegardes ont été chiffrés
avec un algorithme militaire (AES-256 + RSA-4096). Ne perdez pas votre temps :
personne ne peut les récupérer sans notre clé privée.

Pour récupérer vos fichiers, payez 2.5 BTC (bitcoin) à l'adresse :
bc1q9h6yzs4x0rempartsimulatorxxxxxxxxxxxxxxxx

Contactez-nous via Tor Browser : http://rempartsimxxxxxxxxxxxxxxxx.onion
Votre identifiant personnel : %s

Attention : ne renommez pas les fichiers, ne tentez pas de les déchiffrer
vous-même, vous les perdriez définitivement.
-----
YOUR FILES ARE ENCRYPTED. To decrypt them, pay the ransom in bitcoin.
`

// notes drops a ransom note in every folder (HTML or text alternately,
// as families do).
func notes() *Scenario {
	return &Scenario{Name: "ransom-notes", Title: "a ransom note in every folder", Malicious: true, Rounds: 1,
		Apply: func(e *Env, _ int) ([]Hit, error) {
			dirs := map[string]bool{}
			for _, p := range e.Files {
				dirs[path.Dir(p)] = true
			}
			var ds []string
			for d := range dirs {
				ds = append(ds, d)
			}
			sort.Strings(ds)
			id := fmt.Sprintf("%016x", e.R.Uint64())
			var hits []Hit
			for _, d := range ds {
				p := path.Join(d, "LISEZ-MOI-POUR-DECHIFFRER.txt")
				if err := writeNew(e.abs(p), fmt.Appendf(nil, noteFR, id)); err != nil {
					return nil, err
				}
				hits = append(hits, Hit{Path: p, Size: int64(len(noteFR))})
			}
			return hits, nil
		}}
}

// slow encrypts 5 files per backup.
func slow() *Scenario {
	var order []string
	return &Scenario{Name: "slow-5-per-backup", Title: "slow rate: 5 files encrypted per backup, 4 backups", Malicious: true, Rounds: 4,
		Apply: func(e *Env, round int) ([]Hit, error) {
			if round == 0 {
				order = e.victims(func(p string) bool { return e.Sizes[p] >= 4096 && !e.Encrypted[p] })
			}
			batch := order[round*5 : round*5+5]
			return e.inPlace(batch, func(d []byte) []byte { return e.encrypt(d, all, 1<<20) })
		}}
}

// realistic is what a modern family does in one night: encrypt every
// file, rename it, and leave notes.
func realistic() *Scenario {
	return &Scenario{Name: "full-attack", Title: "every file encrypted and renamed (.lockbit), a note in every folder", Malicious: true, Rounds: 1,
		Apply: func(e *Env, r int) ([]Hit, error) {
			hits, err := e.renameAll(e.sample(0), ".lockbit", true)
			if err != nil {
				return nil, err
			}
			_, err = notes().Apply(e, r)
			return hits, err
		}}
}

// canaryTouched encrypts one canary and nothing else.
func canaryTouched() *Scenario {
	return &Scenario{Name: "canary", Title: "one canary file encrypted, nothing else", Malicious: true, Rounds: 1,
		Apply: func(e *Env, _ int) ([]Hit, error) {
			var cs []string
			for c := range e.Canaries {
				cs = append(cs, c)
			}
			sort.Strings(cs)
			if len(cs) == 0 {
				return nil, errors.New("no canary planted")
			}
			data, err := os.ReadFile(e.abs(cs[0]))
			if err != nil {
				return nil, err
			}
			if err := rewrite(e.abs(cs[0]), e.encrypt(data, all, 1<<20)); err != nil {
				return nil, err
			}
			return []Hit{{Path: cs[0], Size: int64(len(data))}}, nil
		}}
}

// MaliciousScenarios are the attacks of the evaluation.
func MaliciousScenarios() []*Scenario {
	var s []*Scenario
	s = append(s, contentModes(0)...)
	s = append(s, contentModes(MinHit)...)
	s = append(s, notes(), slow(), realistic(), canaryTouched())
	// Beyond the list: every other 16 bytes starting at byte 16,
	// so that the magic bytes survive (the structure checks must do).
	skip := contentMode(0, "intermittent-16-skip", "intermittent: every other 16 bytes, sparing the first 16 (magic bytes kept)", func(e *Env, d []byte) []byte {
		return e.encrypt(d, func(off int) bool { return off%32 == 16 }, 16)
	})
	skip.Extra = true
	return append(s, skip)
}

// ---- Benign scenarios ----

// fastDeflate is deflate at its fastest level: valid ZIP entries, without
// the cost of the default level (slow under -race).
func fastDeflate(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) }

// saveAs writes data to p the way editors do: a temporary file renamed
// over the old one.
func saveAs(p string, data []byte) error {
	tmp := p + ".~tmp"
	if err := writeNew(tmp, data); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

var officeExt = map[string]bool{".docx": true, ".xlsx": true, ".pptx": true, ".odt": true, ".ods": true, ".odp": true}

// resaveOffice rewrites an OOXML/ODF package with one XML part edited, as
// an office suite saving the document again does. It returns false for a
// package it cannot rewrite (encrypted, or methods Go cannot write).
func resaveOffice(data []byte, r *rand.Rand) ([]byte, bool) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, false
	}
	main := ""
	for _, f := range zr.File {
		switch f.Name {
		case "word/document.xml", "xl/worksheets/sheet1.xml", "ppt/slides/slide1.xml", "content.xml":
			main = f.Name
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, false
		}
	}
	if main == "" {
		return nil, false
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, fastDeflate)
	for _, f := range zr.File {
		if f.Name != main {
			// Unchanged parts keep their compressed bytes (a suite
			// compresses them again to the same effect; this is faster).
			raw, err := f.OpenRaw()
			if err != nil {
				return nil, false
			}
			w, err := zw.CreateRaw(&f.FileHeader)
			if err != nil {
				return nil, false
			}
			if _, err := io.Copy(w, raw); err != nil {
				return nil, false
			}
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, false
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, false
		}
		// An edit: a comment with new text before the root element's end
		// (valid XML for every format).
		i := bytes.LastIndexByte(body, '<')
		if i < 0 {
			return nil, false
		}
		edit := fmt.Sprintf("<!-- révision %d : %s -->", r.IntN(1000), strings.Repeat("modification du texte ", 1+r.IntN(20)))
		body = append(body[:i:i], append([]byte(edit), body[i:]...)...)
		h := f.FileHeader
		h.CompressedSize64, h.UncompressedSize64, h.CRC32 = 0, 0, 0
		h.Flags &^= 0x8
		w, err := zw.CreateHeader(&h)
		if err != nil {
			return nil, false
		}
		if _, err := w.Write(body); err != nil {
			return nil, false
		}
	}
	if zw.Close() != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

func gpgEncrypt(e *Env, in, out string, armor bool) error {
	args := []string{"--batch", "--yes", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "mot-de-passe-de-test", "--symmetric", "--cipher-algo", "AES256", "-o", out}
	if armor {
		args = append(args, "--armor")
	}
	cmd := exec.Command(e.GPG, append(args, in)...)
	cmd.Env = append(os.Environ(), "GNUPGHOME="+e.Scratch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gpg: %v: %s", err, b)
	}
	return nil
}

// BenignScenarios are ordinary days that must not raise an alarm.
func BenignScenarios() []*Scenario {
	return []*Scenario{
		{Name: "office-resave", Title: "every office document (docx, xlsx, pptx, odt, ods, odp) edited and saved again", Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) {
				for _, p := range e.limit(e.victims(func(p string) bool { return officeExt[strings.ToLower(path.Ext(p))] })) {
					data, err := os.ReadFile(e.abs(p))
					if err != nil {
						return nil, err
					}
					if out, ok := resaveOffice(data, e.R); ok {
						if err := saveAs(e.abs(p), out); err != nil {
							return nil, err
						}
					}
				}
				return nil, nil
			}},
		{Name: "zip-folders", Title: "three folders zipped (the last one moved into its archive)", Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return nil, e.zipFolders(3) }},
		{Name: "photos-reencoded", Title: "every JPEG and PNG photo re-encoded (exported again)", Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return nil, e.reencode() }},
		{Name: "encrypt-on-purpose", Title: "a few files encrypted on purpose with gpg (binary and armored) and age", Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return nil, e.encryptOnPurpose(3, 3) }},
		{Name: "log-rotation", Title: "log rotation (app.log -> app.log.1 -> app.log.2.gz) and old logs compressed", Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return nil, e.rotateLogs() }},
		{Name: "software-update", Title: "a software update replaces every program (ELF) with a new version", Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return nil, e.updateBinaries() }},
		{Name: "user-rename", Title: "a user renames and moves 150 files (dates, case, .jpeg to .jpg, new folder)", Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return nil, e.userRename(150) }},
		{Name: "daily-edits", Title: "a day of work: text, CSV and HTML edited, PDFs updated incrementally, mail added, a mail store and databases (plain and SQLCipher) written", Rounds: 1,
			Apply: func(e *Env, _ int) ([]Hit, error) { return nil, e.dailyEdits() }},
		{Name: "gpg-25-files", Title: "25 files turned into gpg at once, originals deleted", Rounds: 1, ExpectAlarm: true,
			Apply: func(e *Env, _ int) ([]Hit, error) { return nil, e.encryptOnPurpose(25, 0) }},
	}
}

func (e *Env) zipFolders(n int) error {
	byDir := map[string][]string{}
	for _, p := range e.victims(nil) {
		byDir[path.Dir(p)] = append(byDir[path.Dir(p)], p)
	}
	var dirs []string
	for d, fs := range byDir {
		if len(fs) >= 5 && d != "." {
			dirs = append(dirs, d)
		}
	}
	sort.Strings(dirs)
	e.R.Shuffle(len(dirs), func(i, j int) { dirs[i], dirs[j] = dirs[j], dirs[i] })
	for k, d := range dirs[:min(n, len(dirs))] {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		zw.RegisterCompressor(zip.Deflate, fastDeflate)
		files := byDir[d]
		sort.Strings(files)
		for _, p := range files {
			data, err := os.ReadFile(e.abs(p))
			if err != nil {
				return err
			}
			w, err := zw.Create(path.Base(p))
			if err != nil {
				return err
			}
			if _, err := w.Write(data); err != nil {
				return err
			}
		}
		if err := zw.Close(); err != nil {
			return err
		}
		if err := writeNew(e.abs(d)+".zip", buf.Bytes()); err != nil {
			return err
		}
		if k == n-1 {
			for _, p := range files {
				if err := os.Remove(e.abs(p)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (e *Env) reencode() error {
	for _, p := range e.limit(e.victims(func(p string) bool {
		x := strings.ToLower(path.Ext(p))
		return x == ".jpg" || x == ".jpeg" || x == ".png"
	})) {
		data, err := os.ReadFile(e.abs(p))
		if err != nil {
			return err
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			continue // a format Go cannot decode: left as it is
		}
		var b bytes.Buffer
		if strings.ToLower(path.Ext(p)) == ".png" {
			err = png.Encode(&b, img)
		} else {
			err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 60 + e.R.IntN(35)})
		}
		if err != nil {
			continue
		}
		if err := saveAs(e.abs(p), b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// encryptOnPurpose encrypts gpgN files with gpg (one in four armored)
// and ageN files with age, next to the originals; half of the originals
// (all of them for gpg-only runs) are deleted.
func (e *Env) encryptOnPurpose(gpgN, ageN int) error {
	docs := e.victims(func(p string) bool { return e.Sizes[p] >= 1024 && e.Sizes[p] < 8<<20 })
	deleteAll := ageN == 0
	for i, p := range docs[:min(len(docs), gpgN+ageN)] {
		var out string
		del := deleteAll || i%2 == 0
		switch {
		case i < gpgN && e.GPG != "":
			armor := i%4 == 3
			out = p + ".gpg"
			if armor {
				out = p + ".asc"
			}
			if err := gpgEncrypt(e, e.abs(p), e.abs(out), armor); err != nil {
				return err
			}
		default:
			data, err := os.ReadFile(e.abs(p))
			if err != nil {
				return err
			}
			enc, err := ageEncrypt(rngReader{e.R}, "mot de passe", data)
			if err != nil {
				return err
			}
			out = p + ".age"
			if err := writeNew(e.abs(out), enc); err != nil {
				return err
			}
		}
		if del {
			if err := os.Remove(e.abs(p)); err != nil {
				return err
			}
		}
	}
	return nil
}

type rngReader struct{ r *rand.Rand }

func (r rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

func (e *Env) rotateLogs() error {
	for _, p := range e.Files {
		if !strings.HasPrefix(p, "Logs/") || !strings.HasSuffix(p, ".log") {
			continue
		}
		a := e.abs(p)
		one, err := os.ReadFile(a + ".1")
		if err != nil {
			continue
		}
		gz, err := gzipBytes(one)
		if err != nil {
			return err
		}
		// logrotate: .1 compressed into .2.gz, current into .1, new current.
		if err := writeNew(a+".2.gz", gz); err != nil {
			return err
		}
		if err := os.Rename(a, a+".1"); err != nil {
			return err
		}
		if err := writeNew(a, []byte("2025-03-29 00:00:01 INFO [logrotate] nouveau fichier\n")); err != nil {
			return err
		}
	}
	// Old plain logs elsewhere compressed by hand: x.log.1 -> x.log.1.gz.
	for _, p := range e.Files {
		if strings.HasSuffix(p, ".log.1") && !strings.HasPrefix(p, "Logs/") {
			data, err := os.ReadFile(e.abs(p))
			if err != nil {
				return err
			}
			gz, err := gzipBytes(data)
			if err != nil {
				return err
			}
			if err := writeNew(e.abs(p)+".gz", gz); err != nil {
				return err
			}
			if err := os.Remove(e.abs(p)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Env) updateBinaries() error {
	var bins []string
	for _, p := range e.Files {
		if strings.HasPrefix(p, "Logiciels/bin/") {
			bins = append(bins, p)
		}
	}
	cands := systemELFs()
	for i, p := range bins {
		var data []byte
		if j := len(bins) + i; j < len(cands) {
			data, _ = os.ReadFile(cands[j])
		}
		if data == nil {
			data = syntheticELF(e.R, 30<<10+e.R.IntN(200<<10))
		}
		if err := saveAs(e.abs(p), data); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) userRename(n int) error {
	files := e.victims(nil)
	for i, p := range files[:min(n, len(files))] {
		dir, base := path.Split(p)
		x := path.Ext(base)
		stem := strings.TrimSuffix(base, x)
		var np string
		switch i % 4 {
		case 0:
			np = dir + "2025-03-14 " + base
		case 1:
			lx := strings.ToLower(x)
			if lx == ".jpeg" {
				lx = ".jpg"
			}
			if lx == x {
				lx = strings.ToUpper(x)
			}
			np = dir + stem + lx
		case 2:
			np = dir + "Archives 2024/" + base
		case 3:
			np = dir + strings.ReplaceAll(stem, "-", " ") + " (version finale)" + x
		}
		if np == p {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(e.abs(np)), 0o755); err != nil {
			return err
		}
		if err := os.Rename(e.abs(p), e.abs(np)); err != nil {
			return err
		}
	}
	return nil
}

func (e *Env) dailyEdits() error {
	texty := e.victims(func(p string) bool {
		switch strings.ToLower(path.Ext(p)) {
		case ".txt", ".csv", ".md", ".log", ".json", ".xml":
			return true
		}
		return false
	})
	for _, p := range texty[:min(60, len(texty))] {
		f, err := openInPlace(e.abs(p), os.O_APPEND|os.O_WRONLY)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "\nAjout du %d mars : %s\n", 1+e.R.IntN(28), strings.Repeat("mise à jour ", 1+e.R.IntN(10)))
		if err := f.Close(); err != nil {
			return err
		}
	}
	htmls := e.victims(func(p string) bool { return strings.HasSuffix(strings.ToLower(p), ".html") })
	for _, p := range htmls[:min(20, len(htmls))] {
		data, err := os.ReadFile(e.abs(p))
		if err != nil {
			return err
		}
		if i := bytes.LastIndex(data, []byte("</")); i > 0 {
			data = append(data[:i:i], append([]byte("<p>Mise à jour de la page.</p>\n"), data[i:]...)...)
		}
		if err := saveAs(e.abs(p), data); err != nil {
			return err
		}
	}
	// PDF incremental update: a new object, xref section and trailer
	// appended, as a form filler or a signature does.
	pdfs := e.victims(func(p string) bool { return strings.HasSuffix(strings.ToLower(p), ".pdf") })
	for _, p := range pdfs[:min(20, len(pdfs))] {
		data, err := os.ReadFile(e.abs(p))
		if err != nil {
			return err
		}
		sx := bytes.LastIndex(data, []byte("startxref"))
		if sx < 0 {
			continue
		}
		var prev int
		if _, err := fmt.Sscanf(string(data[sx+len("startxref"):]), "%d", &prev); err != nil {
			continue
		}
		obj := "\n9999 0 obj\n<< /Annotation (visé par le secrétariat) >>\nendobj\n"
		xref := len(data) + len(obj)
		upd := obj + fmt.Sprintf("xref\n9999 1\n%010d 00000 n \ntrailer\n<< /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", len(data)+1, prev, xref)
		f, err := openInPlace(e.abs(p), os.O_APPEND|os.O_WRONLY)
		if err != nil {
			return err
		}
		if _, err := f.WriteString(upd); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	// Applications write their files: the mail store and the database
	// grow (records and compressed attachments appended, header counters
	// rewritten), an encrypted database (SQLCipher) and a plain one have
	// pages rewritten.
	g := &gen{r: e.R, root: e.Root, t0: time.Now()}
	for _, p := range e.Files {
		x := path.Ext(p)
		switch {
		case x == ".pst" || x == ".dat":
			data, err := os.ReadFile(e.abs(p))
			if err != nil {
				return err
			}
			data[6]++
			data = append(data, g.records(64<<10+e.R.IntN(1<<20))...)
			if err := saveAs(e.abs(p), data); err != nil {
				return err
			}
		case x == ".db" || x == ".sqlite":
			data, err := os.ReadFile(e.abs(p))
			if err != nil || len(data) < 3*4096 {
				continue
			}
			page := data[len(data)/2/4096*4096:][:4096]
			if strings.Contains(p, "sqlcipher") {
				for i := range page {
					page[i] = byte(e.R.Uint32()) // a page encrypted again
				}
			} else {
				copy(page[100:], "UPDATE: nouvelle valeur de la ligne")
			}
			if err := saveAs(e.abs(p), data); err != nil {
				return err
			}
		}
	}
	// New mail arrives.
	for i := 0; i < 15; i++ {
		if err := g.mail(9000+i, ""); err != nil {
			return err
		}
	}
	return nil
}

package demo

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// RansomNote is what the demo's ransomware leaves in every folder.
const RansomNote = `!!! VOS FICHIERS ONT ÉTÉ CHIFFRÉS !!!

Tous vos documents ont été chiffrés. Pour les récupérer, envoyez 2 BTC à
l'adresse indiquée et écrivez-nous avec votre identifiant : DEMO-0000.
(Ceci est la démonstration de Rempart : aucun vrai fichier n'a été touché.)
`

// MakeTownSample writes a town machine's folders under root (etat-civil,
// paie, partages, www: the sources of the demo plan) and returns the file
// count and size. With corpus (a folder holding MANIFEST.tsv, as
// ../shared/corpus), a few real office documents join the shared folders.
func MakeTownSample(root, title string, seed uint64, corpus string) (int, int64, error) {
	rng := mrand.New(mrand.NewPCG(2026, seed))
	sw := &sampleWriter{root: root}
	write := sw.write
	first, last := firstNames, lastNames
	services := []string{"voirie", "ecoles", "etat-civil", "eau", "accueil"}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	town := strings.TrimPrefix(title, "Mairie de ")

	// Civil registry: birth records and the register.
	var reg strings.Builder
	reg.WriteString("numero;type;nom;prenom;date\n")
	for i := 1; i <= 30; i++ {
		nom, prenom, day, month := pick(last), pick(first), 1+rng.IntN(28), 1+rng.IntN(11)
		txt := fmt.Sprintf("Acte de naissance n° 2026-%04d\nCommune : %s\nNom : %s\nPrénom : %s\nNé(e) le %d/%d/2026 à %s\nDressé par l'officier de l'état civil.\n",
			i, town, nom, prenom, day, month, town)
		if err := write(fmt.Sprintf("etat-civil/naissances/naissance-2026-%04d.txt", i), []byte(txt)); err != nil {
			return 0, 0, err
		}
		fmt.Fprintf(&reg, "2026-%04d;naissance;%s;%s;2026-%02d-%02d\n", i, nom, prenom, month, day)
	}
	if err := write("etat-civil/registre.csv", []byte(reg.String())); err != nil {
		return 0, 0, err
	}

	// Payroll: three months.
	for m := 8; m <= 10; m++ {
		var csv strings.Builder
		csv.WriteString("matricule;nom;prenom;service;brut;net\n")
		for i := 0; i < 120; i++ {
			brut := 1800 + rng.IntN(2000)
			fmt.Fprintf(&csv, "%05d;%s;%s;%s;%d.%02d;%d.%02d\n", i, pick(last), pick(first), pick(services), brut, rng.IntN(100), brut*78/100, rng.IntN(100))
		}
		if err := write(fmt.Sprintf("paie/paie-2026-%02d.csv", m), []byte(csv.String())); err != nil {
			return 0, 0, err
		}
	}

	// Shared folders: council minutes, letters (Word documents), town
	// planning, photos.
	for m := 1; m <= 10; m++ {
		var sb strings.Builder
		fmt.Fprintf(&sb, "Compte rendu du conseil municipal de %s, séance de %02d/2026\n\n", town, m)
		for p := 1; p <= 40; p++ {
			fmt.Fprintf(&sb, "Point %d : délibération sur %s ; rapporteur %s %s. Vote : %d pour, %d contre. Adopté.\n",
				p, pick([]string{"le budget primitif", "la voirie communale", "la cantine scolaire", "l'eau potable", "les subventions aux associations"}),
				pick(first), pick(last), 12+rng.IntN(8), rng.IntN(3))
		}
		if err := write(fmt.Sprintf("partages/conseil/compte-rendu-2026-%02d.txt", m), []byte(sb.String())); err != nil {
			return 0, 0, err
		}
	}
	for i := 1; i <= 10; i++ {
		var body []string
		body = append(body, fmt.Sprintf("Madame, Monsieur %s,", pick(last)))
		for p := 0; p < 30; p++ {
			body = append(body, fmt.Sprintf("Suite à votre demande du %d/%d/2026 concernant %s, nous avons le plaisir de vous informer que le dossier n° %d est en cours d'instruction par le service %s.",
				1+rng.IntN(28), 1+rng.IntN(12), pick([]string{"un permis de construire", "une inscription scolaire", "un acte d'état civil", "l'occupation du domaine public"}), 1000+rng.IntN(9000), pick(services)))
		}
		body = append(body, "Le Maire de "+town)
		doc, err := docx(body)
		if err != nil {
			return 0, 0, err
		}
		if err := write(fmt.Sprintf("partages/courrier/courrier-2026-%03d.docx", i), doc); err != nil {
			return 0, 0, err
		}
	}
	for i := 1; i <= 8; i++ {
		var csv strings.Builder
		csv.WriteString("dossier;demandeur;parcelle;surface_m2;avis\n")
		for j := 0; j < 150; j++ {
			fmt.Fprintf(&csv, "PC-2026-%03d-%03d;%s %s;AB-%04d;%d;%s\n", i, j, pick(first), pick(last), rng.IntN(10000), 50+rng.IntN(400), pick([]string{"favorable", "défavorable", "en cours"}))
		}
		if err := write(fmt.Sprintf("partages/urbanisme/permis-2026-%02d.csv", i), []byte(csv.String())); err != nil {
			return 0, 0, err
		}
	}
	for i := 0; i < 3; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 200, 150))
		for y := 0; y < 150; y++ {
			for x := 0; x < 200; x++ {
				img.Set(x, y, color.RGBA{uint8(x + rng.IntN(40)), uint8(y + rng.IntN(40)), uint8(i*80 + int(seed)*30), 255})
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
			return 0, 0, err
		}
		if err := write(fmt.Sprintf("partages/communication/photo-%d.jpg", i), b.Bytes()); err != nil {
			return 0, 0, err
		}
	}
	if corpus != "" {
		k, s, err := copyCorpus(corpus, filepath.Join(root, "partages", "documents"), int(seed))
		if err != nil {
			return 0, 0, err
		}
		sw.n += k
		sw.size += s
	}

	// The town's website.
	page := func(h, p string) []byte {
		return []byte("<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>" + h + " — " + title + "</title><link rel=\"stylesheet\" href=\"/style.css\"></head>\n<body><h1>" + h + "</h1><p>" + p + "</p></body></html>\n")
	}
	if err := write("www/index.html", page("Bienvenue à "+town, "Horaires de la mairie : du lundi au vendredi, 8 h 30 – 12 h et 13 h 30 – 17 h.")); err != nil {
		return 0, 0, err
	}
	if err := write("www/style.css", []byte("body { font-family: sans-serif; max-width: 48rem; margin: auto; }\n")); err != nil {
		return 0, 0, err
	}
	for i := 1; i <= 5; i++ {
		if err := write(fmt.Sprintf("www/actualites/actu-%d.html", i), page(fmt.Sprintf("Actualité n° %d", i), "Travaux de voirie, rue de la Mairie, du "+strconv.Itoa(1+rng.IntN(28))+" au 30 novembre.")); err != nil {
			return 0, 0, err
		}
	}
	return sw.n, sw.size, nil
}

// docx makes a small Word document, one paragraph per line (stored, not
// compressed, as some editors do).
func docx(paras []string) ([]byte, error) {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	files := []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
	}
	var doc strings.Builder
	doc.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n" + `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`)
	for _, p := range paras {
		doc.WriteString("<w:p><w:r><w:t>" + xmlEscape(p) + "</w:t></w:r></w:p>")
	}
	doc.WriteString("</w:body></w:document>")
	files = append(files, struct{ name, body string }{"word/document.xml", doc.String()})
	for _, f := range files {
		w, err := z.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Store})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := z.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// copyCorpus copies a few real office documents (not encrypted on purpose,
// under 300 KB) from a corpus folder's MANIFEST.tsv into dst. A missing
// corpus copies nothing.
func copyCorpus(corpus, dst string, offset int) (int, int64, error) {
	f, err := os.Open(filepath.Join(corpus, "MANIFEST.tsv"))
	if err != nil {
		return 0, 0, nil //nolint:nilerr // no corpus: generated files only
	}
	defer f.Close()
	want := map[string]int{"docx": 2, "xlsx": 2, "odt": 2, "ods": 1, "pdf": 2}
	var n int
	var size int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	i := 0
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if len(col) < 8 || want[col[3]] == 0 || col[7] != "no" {
			continue
		}
		if sz, err := strconv.Atoi(col[1]); err != nil || sz < 4096 || sz > 300<<10 {
			continue
		}
		if i++; i%2 != offset%2 { // each town its own documents
			continue
		}
		data, err := os.ReadFile(filepath.Join(corpus, col[0]))
		if err != nil {
			continue
		}
		want[col[3]]--
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return 0, 0, err
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(col[0])), data, 0o644); err != nil {
			return 0, 0, err
		}
		n++
		size += int64(len(data))
	}
	return n, size, sc.Err()
}

// Attack plays ransomware on dir: every file of 4 KiB or more is replaced
// by random bytes under a new name ending in .locked, and a ransom note is
// left in every folder. It returns how many files it encrypted.
func Attack(dir string) (int, error) {
	var files, dirs []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().IsRegular() && fi.Size() >= 4096 {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, p := range files {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		junk := make([]byte, fi.Size())
		_, _ = rand.Read(junk)
		if err := os.WriteFile(p+".locked", junk, 0o644); err != nil {
			return 0, err
		}
		if err := os.Remove(p); err != nil {
			return 0, err
		}
	}
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "COMMENT_RESTAURER_VOS_FICHIERS.txt"), []byte(RansomNote), 0o644); err != nil {
			return 0, err
		}
	}
	return len(files), nil
}

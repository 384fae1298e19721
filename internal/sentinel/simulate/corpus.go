// Package simulate evaluates Sentinel: it generates a corpus of town-hall
// documents, copies it (with the shared corpus of real files), applies
// ransomware and benign scenarios to the copy, backs it up through a
// Runner before and after, and measures what the snapshot reports say.
//
// It is a test and benchmark helper: it encrypts files for real (AES-CTR
// with a random key that is thrown away), so it must never be part of the
// shipped binary (cmd/rempart does not import it; bench/sentinel and the
// tests do). It only ever writes under the work folder it is given, and
// only to copies.
package simulate

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"debug/elf"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Words of the town hall's documents (French administrative prose).
var lexicon = strings.Fields(`le la les un une des du de au aux et ou mais donc car pour par sur sous dans avec sans
conseil municipal maire adjoint commune mairie délibération séance budget primitif compte administratif subvention
association école cantine voirie travaux marché public appel offres état civil naissance mariage décès urbanisme
permis construire déclaration préalable cadastre parcelle réunion commission finances personnel agent titulaire
contractuel arrêté décision rapport annexe article alinéa considérant vu approuvé adopté unanimité vote pour contre
abstention exercice dépenses recettes fonctionnement investissement crédit dotation emprunt taux intérêt facture
mandat titre trésorerie payeur recensement élection liste électorale bureau scrutin cimetière concession salle
polyvalente location tarif redevance eau assainissement ordures ménagères ramassage tri déchetterie bibliothèque
médiathèque culture sport stade gymnase festival fête village comité animation jeunesse centre loisirs crèche
petite enfance social CCAS aide solidarité logement habitat énergie éclairage rénovation bâtiment église patrimoine
accessibilité sécurité police gendarmerie pompiers route départementale chemin rural entretien fauchage déneigement
intercommunalité communauté communes préfecture sous-préfecture département région État loi décret code général
collectivités territoriales convention partenariat contrat avenant prestataire devis bon commande livraison réception`)

var firstNames = strings.Fields("Marie Jean Pierre Sophie Nicolas Isabelle Philippe Catherine Michel Nathalie Alain Sylvie Patrick Christine Éric Valérie Laurent Sandrine Thierry Céline")
var lastNames = strings.Fields("Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier")

// gen draws the generated corpus from one seed: the same seed and scale
// give the same files (JPEG and zip bytes depend on the Go release).
type gen struct {
	r     *rand.Rand
	scale float64
	root  string
	n     int   // files written
	size  int64 // bytes written
	t0    time.Time
}

func (g *gen) word() string { return lexicon[g.r.IntN(len(lexicon))] }

func (g *gen) sentence() string {
	n := 6 + g.r.IntN(14)
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := g.word()
		if i == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
		if g.r.IntN(12) == 0 {
			fmt.Fprintf(&b, " %d", g.r.IntN(5000))
		}
	}
	b.WriteString(". ")
	return b.String()
}

func (g *gen) paragraph() string {
	var b strings.Builder
	for i := 0; i < 2+g.r.IntN(6); i++ {
		b.WriteString(g.sentence())
	}
	return b.String()
}

func (g *gen) person() string {
	return firstNames[g.r.IntN(len(firstNames))] + " " + lastNames[g.r.IntN(len(lastNames))]
}

func (g *gen) write(rel string, data []byte) error {
	p := filepath.Join(g.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := writeNew(p, data); err != nil {
		return err
	}
	// Files of a real share are older than the backup: a fixed mtime in
	// the past (then any change the scenarios make shows).
	mt := g.t0.Add(-time.Duration(g.r.IntN(1000)) * time.Hour)
	if err := os.Chtimes(p, mt, mt); err != nil {
		return err
	}
	g.n++
	g.size += int64(len(data))
	return nil
}

// Generate writes the generated part of the corpus into dir: office
// documents (docx, xlsx, odt), PDFs (some with photos), JPEG photos and
// PNG diagrams, text, CSV, mail with attachments, logs, BMP and WAV,
// executables. scale 1 gives about 1,200 files and 100 MB; the test uses
// a fraction.
func Generate(dir string, scale float64, seed uint64) (files int, bytes int64, err error) {
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x5e471e1)), scale: scale, root: dir, t0: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	n := func(k int) int { return max(1, int(math.Round(float64(k)*scale))) }
	services := []string{"Secretariat", "Finances", "Etat-civil", "Urbanisme", "Ecoles", "Technique", "Communication", "RH"}
	steps := []struct {
		count int
		make  func(i int, svc string) error
	}{
		{n(220), g.docx},
		{n(120), g.xlsx},
		{n(80), g.odt},
		{n(120), g.pdf},
		{n(160), g.photo},
		{n(60), g.diagram},
		{n(160), g.text},
		{n(80), g.csv},
		{n(80), g.mail},
		{n(10), g.bmp},
		{n(10), g.wav},
		{n(4), g.bigCSV},
	}
	for _, s := range steps {
		for i := 0; i < s.count; i++ {
			if err := s.make(i, services[g.r.IntN(len(services))]); err != nil {
				return g.n, g.size, err
			}
		}
	}
	if err := g.appData(n(4)); err != nil {
		return g.n, g.size, err
	}
	if err := g.logs(n(12)); err != nil {
		return g.n, g.size, err
	}
	if err := g.binaries(n(30)); err != nil {
		return g.n, g.size, err
	}
	return g.n, g.size, nil
}

func (g *gen) year() int { return 2019 + g.r.IntN(7) }

func (g *gen) name(svc, stem, ext string, i int) string {
	return fmt.Sprintf("%s/%d/%s-%03d.%s", svc, g.year(), stem, i, ext)
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	for _, c := range s {
		switch c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

type zipPart struct {
	name   string
	data   []byte
	stored bool
}

func zipBytes(parts []zipPart, comment string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, p := range parts {
		h := &zip.FileHeader{Name: p.name, Method: zip.Deflate, Modified: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
		if p.stored {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(p.data); err != nil {
			return nil, err
		}
	}
	if comment != "" {
		if err := zw.SetComment(comment); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// docxParts is a minimal WordprocessingML package around body XML.
func docxParts(paragraphs []string) []zipPart {
	var body strings.Builder
	for _, p := range paragraphs {
		fmt.Fprintf(&body, `<w:p><w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p>`, xmlEscape(p))
	}
	return []zipPart{
		{name: "[Content_Types].xml", data: []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`)},
		{name: "_rels/.rels", data: []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`)},
		{name: "word/document.xml", data: []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body.String() + `</w:body></w:document>`)},
	}
}

func (g *gen) docx(i int, svc string) error {
	var ps []string
	ps = append(ps, fmt.Sprintf("Commune de Saint-Rempart — %s", svc), "Rédacteur : "+g.person())
	for k := 0; k < 3+g.r.IntN(40); k++ {
		ps = append(ps, g.paragraph())
	}
	parts := docxParts(ps)
	if g.r.IntN(4) == 0 { // some documents carry a picture
		img, err := g.jpegBytes(320+g.r.IntN(400), 240+g.r.IntN(300), 80)
		if err != nil {
			return err
		}
		parts = append(parts, zipPart{name: "word/media/image1.jpeg", data: img, stored: true})
	}
	data, err := zipBytes(parts, "")
	if err != nil {
		return err
	}
	stems := []string{"deliberation", "compte-rendu", "courrier", "arrete", "note", "convention", "rapport"}
	return g.write(g.name(svc, stems[g.r.IntN(len(stems))], "docx", i), data)
}

func (g *gen) xlsx(i int, svc string) error {
	var rows strings.Builder
	nr := 10 + g.r.IntN(400)
	for r := 1; r <= nr; r++ {
		fmt.Fprintf(&rows, `<row r="%d">`, r)
		for c := 0; c < 6; c++ {
			fmt.Fprintf(&rows, `<c r="%c%d"><v>%.2f</v></c>`, 'A'+c, r, g.r.Float64()*10000)
		}
		rows.WriteString(`</row>`)
	}
	parts := []zipPart{
		{name: "[Content_Types].xml", data: []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`)},
		{name: "_rels/.rels", data: []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)},
		{name: "xl/workbook.xml", data: []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Budget" sheetId="1" r:id="rId1"/></sheets></workbook>`)},
		{name: "xl/_rels/workbook.xml.rels", data: []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`)},
		{name: "xl/worksheets/sheet1.xml", data: []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + rows.String() + `</sheetData></worksheet>`)},
	}
	data, err := zipBytes(parts, "")
	if err != nil {
		return err
	}
	stems := []string{"budget", "suivi-depenses", "tableau-effectifs", "subventions", "inventaire"}
	return g.write(g.name(svc, stems[g.r.IntN(len(stems))], "xlsx", i), data)
}

func (g *gen) odt(i int, svc string) error {
	var body strings.Builder
	for k := 0; k < 3+g.r.IntN(30); k++ {
		fmt.Fprintf(&body, `<text:p>%s</text:p>`, xmlEscape(g.paragraph()))
	}
	parts := []zipPart{
		{name: "mimetype", data: []byte("application/vnd.oasis.opendocument.text"), stored: true},
		{name: "META-INF/manifest.xml", data: []byte(`<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`)},
		{name: "content.xml", data: []byte(`<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:text>` + body.String() + `</office:text></office:body></office:document-content>`)},
	}
	data, err := zipBytes(parts, "")
	if err != nil {
		return err
	}
	return g.write(g.name(svc, "document", "odt", i), data)
}

// pdfBytes writes a real PDF: catalog, pages, a Flate-compressed text
// stream, optionally a JPEG image (DCTDecode), an xref table with exact
// offsets, trailer and %%EOF.
func pdfBytes(text []string, img []byte, imgW, imgH int) []byte {
	var content bytes.Buffer
	content.WriteString("BT /F1 11 Tf 50 780 Td 14 TL\n")
	for _, line := range text {
		s := strings.NewReplacer("(", "", ")", "", "\\", "").Replace(line)
		fmt.Fprintf(&content, "(%s) '\n", s)
	}
	content.WriteString("ET\n")
	if img != nil {
		fmt.Fprintf(&content, "q %d 0 0 %d 50 50 cm /Im1 Do Q\n", imgW/2, imgH/2)
	}
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(content.Bytes()) // into memory: cannot fail
	_ = zw.Close()

	var objs []string
	objs = append(objs, "<< /Type /Catalog /Pages 2 0 R >>")
	objs = append(objs, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	res := "/Font << /F1 5 0 R >>"
	if img != nil {
		res += " /XObject << /Im1 6 0 R >>"
	}
	objs = append(objs, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << "+res+" >> >>")
	objs = append(objs, fmt.Sprintf("<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream", z.Len(), z.Bytes()))
	objs = append(objs, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	if img != nil {
		objs = append(objs, fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream", imgW, imgH, len(img), img))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xE2\xE3\xCF\xD3\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func (g *gen) pdf(i int, svc string) error {
	var lines []string
	for k := 0; k < 10+g.r.IntN(60); k++ {
		lines = append(lines, g.sentence())
	}
	var img []byte
	w, h := 0, 0
	if g.r.IntN(3) == 0 {
		w, h = 400+g.r.IntN(1200), 300+g.r.IntN(900)
		var err error
		if img, err = g.jpegBytes(w, h, 85); err != nil {
			return err
		}
	}
	stems := []string{"pv-seance", "arrete-signe", "facture", "plan", "bulletin-municipal", "recepisse"}
	return g.write(g.name(svc, stems[g.r.IntN(len(stems))], "pdf", i), pdfBytes(lines, img, w, h))
}

// picture draws something photo-like: sky and ground gradients, blobs,
// and sensor noise, so that JPEG sizes and entropy are those of photos.
func (g *gen) picture(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	sky := color.RGBA{uint8(60 + g.r.IntN(100)), uint8(100 + g.r.IntN(100)), uint8(150 + g.r.IntN(100)), 255}
	ground := color.RGBA{uint8(40 + g.r.IntN(120)), uint8(60 + g.r.IntN(120)), uint8(20 + g.r.IntN(80)), 255}
	horizon := h/3 + g.r.IntN(h/3+1)
	type blob struct {
		x, y, r int
		c       color.RGBA
	}
	var blobs []blob
	for k := 0; k < 5+g.r.IntN(15); k++ {
		blobs = append(blobs, blob{g.r.IntN(w), g.r.IntN(h), 10 + g.r.IntN(w/4+1), color.RGBA{uint8(g.r.IntN(256)), uint8(g.r.IntN(256)), uint8(g.r.IntN(256)), 255}})
	}
	seed := g.r.Uint64()
	nr := rand.New(rand.NewPCG(seed, 1))
	for y := 0; y < h; y++ {
		base := sky
		if y > horizon {
			base = ground
		}
		for x := 0; x < w; x++ {
			c := base
			for _, b := range blobs {
				dx, dy := x-b.x, y-b.y
				if dx*dx+dy*dy < b.r*b.r {
					c = b.c
				}
			}
			shade := (x + y) % 64
			n := nr.IntN(24) - 12
			img.Pix[(y*w+x)*4+0] = clamp(int(c.R) + shade/4 + n)
			img.Pix[(y*w+x)*4+1] = clamp(int(c.G) + shade/5 + n)
			img.Pix[(y*w+x)*4+2] = clamp(int(c.B) + shade/6 + n)
			img.Pix[(y*w+x)*4+3] = 255
		}
	}
	return img
}

func clamp(v int) uint8 { return uint8(min(max(v, 0), 255)) }

func (g *gen) jpegBytes(w, h, q int) ([]byte, error) {
	var b bytes.Buffer
	err := jpeg.Encode(&b, g.picture(w, h), &jpeg.Options{Quality: q})
	return b.Bytes(), err
}

func (g *gen) photo(i int, svc string) error {
	w := 480 + g.r.IntN(1100)
	h := w * 3 / 4
	data, err := g.jpegBytes(w, h, 75+g.r.IntN(20))
	if err != nil {
		return err
	}
	events := []string{"fete-village", "inauguration", "ceremonie", "travaux", "conseil-enfants", "marche-noel"}
	return g.write(fmt.Sprintf("Photos/%d/%s/IMG_%04d.jpg", g.year(), events[g.r.IntN(len(events))], i), data)
}

func (g *gen) diagram(i int, svc string) error {
	w, h := 300+g.r.IntN(900), 200+g.r.IntN(600)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := color.RGBA{245, 245, 240, 255}
	for k := 0; k < len(img.Pix); k += 4 {
		img.Pix[k], img.Pix[k+1], img.Pix[k+2], img.Pix[k+3] = bg.R, bg.G, bg.B, 255
	}
	for k := 0; k < 10+g.r.IntN(30); k++ {
		c := color.RGBA{uint8(g.r.IntN(200)), uint8(g.r.IntN(200)), uint8(g.r.IntN(200)), 255}
		x0, y0 := g.r.IntN(w), g.r.IntN(h)
		x1, y1 := min(w, x0+10+g.r.IntN(w/3+1)), min(h, y0+10+g.r.IntN(h/3+1))
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				if y == y0 || y == y1-1 || x == x0 || x == x1-1 || g.r.IntN(3) > 0 {
					img.Set(x, y, c)
				}
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return err
	}
	return g.write(g.name(svc, "plan", "png", i), b.Bytes())
}

func (g *gen) text(i int, svc string) error {
	var b strings.Builder
	for k := 0; k < 2+g.r.IntN(60); k++ {
		b.WriteString(g.paragraph())
		b.WriteString("\n\n")
	}
	exts := []string{"txt", "txt", "md", "html"}
	e := exts[g.r.IntN(len(exts))]
	s := b.String()
	if e == "html" {
		s = "<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Commune</title></head><body>\n<p>" +
			strings.ReplaceAll(s, "\n\n", "</p>\n<p>") + "</p></body></html>\n"
	}
	return g.write(g.name(svc, "notes", e, i), []byte(s))
}

func (g *gen) csv(i int, svc string) error {
	var b strings.Builder
	b.WriteString("date;libelle;tiers;montant;imputation\n")
	for k := 0; k < 20+g.r.IntN(2000); k++ {
		fmt.Fprintf(&b, "%04d-%02d-%02d;%s %s;%s;%d,%02d;%d\n", g.year(), 1+g.r.IntN(12), 1+g.r.IntN(28), g.word(), g.word(), g.person(), g.r.IntN(20000), g.r.IntN(100), 6000+g.r.IntN(999))
	}
	return g.write(g.name(svc, "export", "csv", i), []byte(b.String()))
}

func (g *gen) bigCSV(i int, svc string) error {
	var b strings.Builder
	b.WriteString("id;nom;prenom;adresse;commune;montant\n")
	for b.Len() < int(float64(3<<20+g.r.IntN(4<<20))*min(1, max(g.scale, 0.1))) {
		fmt.Fprintf(&b, "%d;%s;%s;%d rue %s;Saint-Rempart;%d,%02d\n", g.r.IntN(1e6), lastNames[g.r.IntN(len(lastNames))], firstNames[g.r.IntN(len(firstNames))], 1+g.r.IntN(200), g.word(), g.r.IntN(5000), g.r.IntN(100))
	}
	return g.write(fmt.Sprintf("Finances/exports/grand-livre-%d.csv", i), []byte(b.String()))
}

func (g *gen) mail(i int, svc string) error {
	var b strings.Builder
	boundary := fmt.Sprintf("----=_Part_%d", g.r.IntN(1e6))
	fmt.Fprintf(&b, "From: %s <contact@saint-rempart.fr>\r\nTo: mairie@saint-rempart.fr\r\nSubject: %s\r\nDate: Mon, %d Mar 2025 10:%02d:00 +0100\r\nMIME-Version: 1.0\r\n", g.person(), g.sentence(), 1+g.r.IntN(28), g.r.IntN(60))
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", boundary, boundary, g.paragraph())
	if g.r.IntN(2) == 0 {
		img, err := g.jpegBytes(300+g.r.IntN(600), 200+g.r.IntN(400), 80)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "--%s\r\nContent-Type: image/jpeg; name=\"photo.jpg\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n", boundary, wrap64(img, 76, "\r\n"))
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return g.write(fmt.Sprintf("Courrier/%d/message-%04d.eml", g.year(), i), []byte(b.String()))
}

func (g *gen) bmp(i int, svc string) error {
	w, h := 200+g.r.IntN(400), 150+g.r.IntN(300)
	img := g.picture(w, h)
	row := (w*3 + 3) &^ 3
	size := 54 + row*h
	b := make([]byte, size)
	copy(b, "BM")
	le32(b[2:], uint32(size))
	le32(b[10:], 54)
	le32(b[14:], 40)
	le32(b[18:], uint32(w))
	le32(b[22:], uint32(h))
	b[26], b[28] = 1, 24
	le32(b[34:], uint32(row*h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := 54 + (h-1-y)*row + x*3
			p := img.Pix[(y*w+x)*4:]
			b[o], b[o+1], b[o+2] = p[2], p[1], p[0]
		}
	}
	return g.write(g.name(svc, "scan", "bmp", i), b)
}

func le32(b []byte, v uint32) { b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24) }
func le16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }

func (g *gen) wav(i int, svc string) error {
	n := 8000 * (2 + g.r.IntN(20)) // mono 8 kHz 16-bit: a voice memo
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	le32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	le32(b[16:], 16)
	le16(b[20:], 1)
	le16(b[22:], 1)
	le32(b[24:], 8000)
	le32(b[28:], 16000)
	le16(b[32:], 2)
	le16(b[34:], 16)
	copy(b[36:], "data")
	le32(b[40:], uint32(2*n))
	f := 200 + g.r.Float64()*400
	for k := 0; k < n; k++ {
		v := 8000*math.Sin(2*math.Pi*f*float64(k)/8000)*math.Sin(float64(k)/3000) + float64(g.r.IntN(400)-200)
		le16(b[44+2*k:], uint16(int16(v)))
	}
	return g.write(g.name(svc, "memo-vocal", "wav", i), b)
}

// appData writes files of formats Sentinel does not know: a mail store
// (a PST-like header, then records, some of them compressed attachments)
// and an application database, which grow every day.
func (g *gen) appData(n int) error {
	for i := 0; i < n; i++ {
		data := g.appBlob(256<<10 + g.r.IntN(3<<20))
		name := fmt.Sprintf("Messagerie/archive-%s-%d.pst", strings.ToLower(lastNames[i%len(lastNames)]), i)
		if i%2 == 1 {
			name = fmt.Sprintf("Logiciels/data/gestion-%d.dat", i)
		}
		if err := g.write(name, data); err != nil {
			return err
		}
	}
	return nil
}

// appBlob is a header and n bytes of records: structured ones (low
// entropy) and, two in five, compressed payloads (random-looking).
func (g *gen) appBlob(n int) []byte {
	b := []byte("!BDN\x00\x01\x17\x00")
	b = append(b, bytes.Repeat([]byte{0, 0, 0, 1, 0x20, 0, 0, 0}, 64)...)
	return append(b, g.records(n)...)
}

func (g *gen) records(n int) []byte {
	var b []byte
	for len(b) < n {
		size := 2048 + g.r.IntN(30000)
		if g.r.IntN(5) < 2 {
			rec := make([]byte, size)
			for i := range rec {
				rec[i] = byte(g.r.Uint32())
			}
			b = append(b, rec...)
		} else {
			for k := 0; k < size; {
				line := fmt.Sprintf("%08x|%s|%s|%d\x00", g.r.Uint32(), g.person(), g.word(), g.r.IntN(1e6))
				b = append(b, line...)
				k += len(line)
			}
		}
	}
	return b[:n]
}

// logs writes application logs with rotated generations, as logrotate
// leaves them: app.log, app.log.1, app.log.2.gz...
func (g *gen) logs(n int) error {
	apps := []string{"apache-access", "apache-error", "messagerie", "sauvegarde", "antivirus", "pare-feu", "impression", "annuaire"}
	for i := 0; i < n; i++ {
		app := fmt.Sprintf("%s-%d", apps[i%len(apps)], i/len(apps))
		if err := g.write("Logs/"+app+".log", g.logText(200+g.r.IntN(3000))); err != nil {
			return err
		}
		if err := g.write("Logs/"+app+".log.1", g.logText(200+g.r.IntN(3000))); err != nil {
			return err
		}
		gz, err := gzipBytes(g.logText(200 + g.r.IntN(3000)))
		if err != nil {
			return err
		}
		if err := g.write("Logs/"+app+".log.2.gz", gz); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) logText(lines int) []byte {
	var b strings.Builder
	levels := []string{"INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"}
	for k := 0; k < lines; k++ {
		fmt.Fprintf(&b, "2025-03-%02d %02d:%02d:%02d %s [%s] %s %s user=%s ip=10.0.%d.%d\n", 1+g.r.IntN(28), g.r.IntN(24), g.r.IntN(60), g.r.IntN(60),
			levels[g.r.IntN(len(levels))], g.word(), g.word(), g.word(), strings.ToLower(lastNames[g.r.IntN(len(lastNames))]), g.r.IntN(255), g.r.IntN(255))
	}
	return []byte(b.String())
}

// binaries copies ELF programs of this machine into Logiciels/ (so that
// the software update scenario has real executables to replace), or
// writes synthetic ones when there are none.
func (g *gen) binaries(n int) error {
	cands := systemELFs()
	for i := 0; i < n; i++ {
		var data []byte
		if i < len(cands) {
			d, err := os.ReadFile(cands[i])
			if err == nil {
				data = d
			}
		}
		if data == nil {
			data = syntheticELF(g.r, 20<<10+g.r.IntN(200<<10))
		}
		if err := g.write(fmt.Sprintf("Logiciels/bin/outil-%02d", i), data); err != nil {
			return err
		}
	}
	return nil
}

// systemELFs lists executables of 16 KiB to 1 MiB under /usr/bin, sorted.
func systemELFs() []string {
	var out []string
	ents, err := os.ReadDir("/usr/bin")
	if err != nil {
		return nil
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join("/usr/bin", e.Name())
		fi, err := e.Info()
		if err != nil || fi.Size() < 16<<10 || fi.Size() > 1<<20 {
			continue
		}
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		f.Close()
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// syntheticELF is an ELF64 header, code-like bytes and a section header
// table at the end, for machines without /usr/bin.
func syntheticELF(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	copy(b, "\x7FELF\x02\x01\x01")
	le16(b[16:], 3)
	le16(b[18:], 62)
	le32(b[20:], 1)
	shoff := n - 64*4
	le32(b[40:], uint32(shoff))
	le16(b[52:], 64)
	le16(b[58:], 64)
	le16(b[60:], 4)
	ops := []byte{0x48, 0x89, 0xe5, 0x8b, 0x45, 0xfc, 0xc3, 0x55, 0x90, 0xe8, 0x00, 0x0f, 0x1f, 0x44}
	for i := 64; i < shoff; i++ {
		b[i] = ops[r.IntN(len(ops))]
		if r.IntN(5) == 0 {
			b[i] = byte(r.IntN(256))
		}
	}
	return b
}

func gzipBytes(data []byte) ([]byte, error) {
	var b bytes.Buffer
	w := newGzip(&b)
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// LinkTree makes dst a tree of hard links to the files of src (a copy
// that costs nothing), or copies where linking is refused. Scenarios never
// write through a link: unlinked() breaks it first.
func LinkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		t := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if os.Link(p, t) == nil {
			return nil
		}
		_, err = copyFile(p, t)
		return err
	})
}

// CopyTree copies the regular files of src into dst (created), keeping
// modification times, and returns how many it copied. It never writes
// into src.
func CopyTree(src, dst string) (int, error) {
	n := 0
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		t := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(t, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if _, err := copyFile(p, t); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// copyFile copies src to the new file dst with its modification time.
func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if err != nil {
		out.Close()
		return n, err
	}
	if err := out.Close(); err != nil {
		return n, err
	}
	return n, os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

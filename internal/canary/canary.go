// Package canary makes the decoy files of `rempart canary plant`: documents
// with names and contents a town's staff would have (a budget, a payroll, a
// civil register, a password list), which no person is meant to open.
// Ransomware encrypts whatever it finds, so a decoy that changes or
// disappears is a strong sign of an attack, and the next backup (or
// `rempart sentinel scan`) says so.
//
// Each decoy carries a marker, "REMPART-CANARY-1:" and 32 hex characters,
// at the very end of the file — in the archive comment of an office
// document (a ZIP file), on the last line of a text file — where the
// detection recognises it while the backup reads the file, and where
// office suites never look, so the documents stay valid and open normally.
package canary

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/sentinel"
)

// Marker starts the token of every decoy: the detection library's own
// constant, so that what is planted is what is recognised.
const Marker = sentinel.CanaryMarker

// tokenRE finds a marker and its token.
var tokenRE = regexp.MustCompile(regexp.QuoteMeta(Marker) + `([0-9a-f]{32})`)

// Planted is one decoy written.
type Planted struct {
	Path  string    `json:"path"`
	Token string    `json:"token"`
	Kind  string    `json:"kind"` // xlsx, docx, odt, txt
	Time  time.Time `json:"mtime"`
}

// decoy is one kind of file the plant can make.
type decoy struct {
	name func(now time.Time) string
	kind string
	make func(d *doc) ([]byte, error)
}

var months = []string{"janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre", "novembre", "decembre"}

// decoys are tried in this order; a folder gets the first ones whose name
// is free. Names carry the year (and month) of the planting, as real
// files do, so they do not look stale.
var decoys = []decoy{
	{func(t time.Time) string { return fmt.Sprintf("Budget_previsionnel_%d.xlsx", t.Year()+1) }, "xlsx", budgetXLSX},
	{func(t time.Time) string {
		m := t.AddDate(0, -1, 0)
		return fmt.Sprintf("Paie_agents_%s_%d.xlsx", months[m.Month()-1], m.Year())
	}, "xlsx", payrollXLSX},
	{func(t time.Time) string { return fmt.Sprintf("Etat_civil_registre_%d.docx", t.Year()) }, "docx", registerDOCX},
	{func(time.Time) string { return "Mots_de_passe_serveurs.txt" }, "txt", passwordsTXT},
	{func(t time.Time) string { return fmt.Sprintf("Deliberations_conseil_municipal_%d.odt", t.Year()) }, "odt", deliberationsODT},
	{func(t time.Time) string { return fmt.Sprintf("Marches_publics_attributions_%d.xlsx", t.Year()) }, "xlsx", tendersXLSX},
	{func(time.Time) string { return "Contrats_assurances_commune.docx" }, "docx", insuranceDOCX},
	{func(time.Time) string { return "Acces_VPN_prestataires.txt" }, "txt", vpnTXT},
	{func(t time.Time) string { return fmt.Sprintf("Subventions_associations_%d.odt", t.Year()+1) }, "odt", grantsODT},
}

// MaxPerFolder is how many different decoys one folder can hold.
var MaxPerFolder = len(decoys)

// doc is what a generator needs: the token to carry and the date the
// document claims, plus randomness for plausible figures.
type doc struct {
	token string
	when  time.Time
}

// Plant writes count decoys into dir, never over an existing file. Their
// modification time is a few weeks back, as documents nobody touches.
func Plant(dir string, count int, now time.Time) ([]Planted, error) {
	if count < 1 || count > len(decoys) {
		return nil, fmt.Errorf("--count must be between 1 and %d", len(decoys))
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	var out []Planted
	for _, d := range decoys {
		if len(out) == count {
			break
		}
		p := filepath.Join(dir, d.name(now))
		if _, err := os.Lstat(p); err == nil {
			continue // a file of that name exists: never overwrite it
		} else if !errors.Is(err, fs.ErrNotExist) {
			return out, err
		}
		token, err := newToken()
		if err != nil {
			return out, err
		}
		// 15 to 45 days back, at a plausible office hour.
		days, err := randInt(31)
		if err != nil {
			return out, err
		}
		mins, err := randInt(8 * 60)
		if err != nil {
			return out, err
		}
		day := now.AddDate(0, 0, -15-int(days))
		when := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, now.Location()).Add(time.Duration(mins) * time.Minute)
		data, err := d.make(&doc{token: token, when: when})
		if err != nil {
			return out, err
		}
		if err := writeNew(p, data, when); err != nil {
			return out, err
		}
		out = append(out, Planted{Path: p, Token: token, Kind: d.kind, Time: when})
	}
	if len(out) < count {
		return out, fmt.Errorf("%s: only %d of %d decoys planted: the other names are taken", dir, len(out), count)
	}
	return out, nil
}

// writeNew creates p (failing if it exists), mode 0644 whatever the umask,
// with its content and times.
func writeNew(p string, data []byte, when time.Time) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(p, when, when)
	}
	if err != nil {
		_ = os.Remove(p)
	}
	return err
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func randInt(n int64) (int64, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		return 0, err
	}
	return v.Int64(), nil
}

// Found is a decoy found by List.
type Found struct {
	Path  string    `json:"path"`
	Token string    `json:"token"`
	Size  int64     `json:"size"`
	Time  time.Time `json:"mtime"`
}

// tailSize is how much of a file's end List reads: the marker is always in
// the last bytes.
const tailSize = 4096

// Token returns the token of a decoy from its content (or its last bytes).
func Token(data []byte) (string, bool) {
	if len(data) > tailSize {
		data = data[len(data)-tailSize:]
	}
	m := tokenRE.FindSubmatch(data)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}

// List finds the decoys under root by their marker, reading only the last
// few KiB of each file.
func List(root string) ([]Found, error) {
	var out []Found
	buf := make([]byte, tailSize)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // unreadable folder: look elsewhere
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.Size() < int64(len(Marker)+32) {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		off := max(fi.Size()-tailSize, 0)
		n, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil
		}
		if tok, ok := Token(buf[:n]); ok {
			out = append(out, Found{Path: p, Token: tok, Size: fi.Size(), Time: fi.ModTime()})
		}
		return nil
	})
	return out, err
}

// --- the documents -------------------------------------------------------

// zipFile is one member of an office document.
type zipFile struct {
	name  string
	data  string
	store bool // ODF's mimetype must be stored, uncompressed, first
}

// zipDoc builds a ZIP container whose comment, the last bytes of the file,
// carries the marker.
func zipDoc(d *doc, files []zipFile) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: d.when}
		if f.store {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, f.data); err != nil {
			return nil, err
		}
	}
	if err := zw.SetComment(Marker + d.token); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// esc escapes text for XML.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

const xmlHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

func coreProps(d *doc, title string) string {
	ts := d.when.UTC().Format("2006-01-02T15:04:05Z")
	return xmlHead + `<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		`<dc:title>` + esc(title) + `</dc:title><dc:creator>Mairie</dc:creator><cp:lastModifiedBy>Secrétariat de mairie</cp:lastModifiedBy>` +
		`<dcterms:created xsi:type="dcterms:W3CDTF">` + ts + `</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">` + ts + `</dcterms:modified></cp:coreProperties>`
}

// xlsx makes a one-sheet workbook. Text cells are inline strings and
// numbers plain values: no shared strings or styles parts are needed.
func xlsx(d *doc, title, sheet string, rows [][]any) ([]byte, error) {
	var sd strings.Builder
	for i, row := range rows {
		fmt.Fprintf(&sd, `<row r="%d">`, i+1)
		for j, v := range row {
			ref := fmt.Sprintf("%c%d", 'A'+j, i+1)
			switch x := v.(type) {
			case string:
				fmt.Fprintf(&sd, `<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, ref, esc(x))
			case int:
				fmt.Fprintf(&sd, `<c r="%s"><v>%d</v></c>`, ref, x)
			case float64:
				fmt.Fprintf(&sd, `<c r="%s"><v>%.2f</v></c>`, ref, x)
			}
		}
		sd.WriteString(`</row>`)
	}
	return zipDoc(d, []zipFile{
		{name: "[Content_Types].xml", data: xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
			`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>`},
		{name: "_rels/.rels", data: xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>`},
		{name: "docProps/core.xml", data: coreProps(d, title)},
		{name: "xl/workbook.xml", data: xmlHead + `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
			`<sheets><sheet name="` + esc(sheet) + `" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{name: "xl/_rels/workbook.xml.rels", data: xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
		{name: "xl/worksheets/sheet1.xml", data: xmlHead + `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + sd.String() + `</sheetData></worksheet>`},
	})
}

// docx makes a document of a bold title and paragraphs.
func docx(d *doc, title string, paras []string) ([]byte, error) {
	var body strings.Builder
	body.WriteString(`<w:p><w:r><w:rPr><w:b/><w:sz w:val="32"/></w:rPr><w:t>` + esc(title) + `</w:t></w:r></w:p>`)
	for _, p := range paras {
		body.WriteString(`<w:p><w:r><w:t xml:space="preserve">` + esc(p) + `</w:t></w:r></w:p>`)
	}
	return zipDoc(d, []zipFile{
		{name: "[Content_Types].xml", data: xmlHead + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>` +
			`<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>`},
		{name: "_rels/.rels", data: xmlHead + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>`},
		{name: "docProps/core.xml", data: coreProps(d, title)},
		{name: "word/document.xml", data: xmlHead + `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` +
			body.String() + `<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="1417" w:right="1417" w:bottom="1417" w:left="1417" w:header="708" w:footer="708" w:gutter="0"/></w:sectPr></w:body></w:document>`},
	})
}

// odt makes an OpenDocument text of a heading and paragraphs.
func odt(d *doc, title string, paras []string) ([]byte, error) {
	var body strings.Builder
	body.WriteString(`<text:h text:outline-level="1">` + esc(title) + `</text:h>`)
	for _, p := range paras {
		body.WriteString(`<text:p>` + esc(p) + `</text:p>`)
	}
	ts := d.when.Format("2006-01-02T15:04:05")
	const ns = `xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/"`
	return zipDoc(d, []zipFile{
		{name: "mimetype", data: "application/vnd.oasis.opendocument.text", store: true},
		{name: "META-INF/manifest.xml", data: xmlHead + `<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">` +
			`<manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="application/vnd.oasis.opendocument.text"/>` +
			`<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>` +
			`<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/></manifest:manifest>`},
		{name: "meta.xml", data: xmlHead + `<office:document-meta ` + ns + ` office:version="1.2"><office:meta>` +
			`<meta:generator>LibreOffice/7.4</meta:generator><dc:title>` + esc(title) + `</dc:title><meta:initial-creator>Mairie</meta:initial-creator>` +
			`<meta:creation-date>` + ts + `</meta:creation-date><dc:date>` + ts + `</dc:date></office:meta></office:document-meta>`},
		{name: "content.xml", data: xmlHead + `<office:document-content ` + ns + ` office:version="1.2"><office:body><office:text>` +
			body.String() + `</office:text></office:body></office:document-content>`},
	})
}

// textDoc ends a text file with the marker line.
func textDoc(d *doc, lines []string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n\n" + Marker + d.token + "\n")
}

// amount is a random, plausible sum in euros between lo and hi: each
// decoy's figures differ, as real documents' do.
func amount(lo, hi int64) float64 {
	v, err := randInt(hi - lo)
	if err != nil {
		return float64(lo)
	}
	return float64(lo+v) + float64(v%100)/100
}

func budgetXLSX(d *doc) ([]byte, error) {
	rows := [][]any{{"Chapitre", "Libellé", "Réalisé " + fmt.Sprint(d.when.Year()-1), "Proposé " + fmt.Sprint(d.when.Year()+1), "Observations"}}
	lines := []struct{ ch, label string }{
		{"011", "Charges à caractère général"}, {"012", "Charges de personnel et frais assimilés"},
		{"014", "Atténuations de produits"}, {"65", "Autres charges de gestion courante"},
		{"66", "Charges financières"}, {"67", "Charges exceptionnelles"},
		{"70", "Produits des services, du domaine et ventes"}, {"73", "Impôts et taxes"},
		{"74", "Dotations, subventions et participations"}, {"75", "Autres produits de gestion courante"},
		{"21", "Immobilisations corporelles (voirie, bâtiments)"}, {"16", "Emprunts et dettes assimilées"},
	}
	for _, l := range lines {
		rows = append(rows, []any{l.ch, l.label, amount(20_000, 900_000), amount(20_000, 950_000), ""})
	}
	rows = append(rows, []any{"", "Document de travail — ne pas diffuser avant le vote du conseil municipal"})
	return xlsx(d, "Budget prévisionnel", "BP", rows)
}

var surnames = []string{"MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFEBVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX", "VINCENT", "FOURNIER"}
var givenNames = []string{"Nathalie", "Philippe", "Isabelle", "Christophe", "Sandrine", "Stéphane", "Valérie", "Laurent", "Céline", "Frédéric", "Sophie", "Olivier", "Aurélie", "Nicolas", "Karine", "Julien"}

func pick(list []string) string {
	i, err := randInt(int64(len(list)))
	if err != nil {
		return list[0]
	}
	return list[i]
}

func payrollXLSX(d *doc) ([]byte, error) {
	rows := [][]any{{"Matricule", "Nom", "Prénom", "Grade", "Indice majoré", "Brut", "Cotisations", "Net à payer"}}
	grades := []string{"Adjoint administratif", "Adjoint technique", "Rédacteur", "ATSEM principal", "Agent de maîtrise", "Attaché territorial", "Adjoint d'animation"}
	for i := 0; i < 18; i++ {
		brut := amount(1_750, 3_900)
		cot := brut * 0.22
		rows = append(rows, []any{fmt.Sprintf("A%04d", 112+i*7), pick(surnames), pick(givenNames), pick(grades), 360 + int(brut)/20, brut, cot, brut - cot})
	}
	return xlsx(d, "Paie des agents", "Paie", rows)
}

func tendersXLSX(d *doc) ([]byte, error) {
	rows := [][]any{{"N° marché", "Objet", "Procédure", "Attributaire", "Montant HT", "Date de notification"}}
	objects := []string{"Réfection de la voirie communale", "Restauration scolaire", "Entretien des espaces verts", "Maintenance de l'éclairage public",
		"Nettoyage des bâtiments communaux", "Fourniture de matériel informatique", "Rénovation énergétique de l'école", "Transport scolaire"}
	for i, o := range objects {
		rows = append(rows, []any{fmt.Sprintf("%d-%03d", d.when.Year(), i+1), o, pick([]string{"MAPA", "Appel d'offres ouvert", "Procédure adaptée"}),
			pick([]string{"SARL Travaux Publics du Centre", "Colas", "Sodexo", "Id Verde", "Citéos", "Elior", "Eiffage", "Keolis"}),
			amount(15_000, 480_000), d.when.AddDate(0, -i, -3*i).Format("02/01/2006")})
	}
	return xlsx(d, "Marchés publics", "Attributions", rows)
}

func registerDOCX(d *doc) ([]byte, error) {
	var paras []string
	paras = append(paras, fmt.Sprintf("Registre des actes de l'état civil — année %d. Copie de travail du service état civil.", d.when.Year()))
	kinds := []string{"Naissance", "Mariage", "Décès", "Reconnaissance"}
	for i := 0; i < 14; i++ {
		day := d.when.AddDate(0, 0, -9*i)
		paras = append(paras, fmt.Sprintf("Acte n° %d/%03d — %s — %s %s — enregistré le %s par l'officier d'état civil.",
			d.when.Year(), 40-i, pick(kinds), pick(givenNames), pick(surnames), day.Format("02/01/2006")))
	}
	paras = append(paras, "Document confidentiel : données personnelles protégées (RGPD). Ne pas transmettre.")
	return docx(d, "Registre d'état civil", paras)
}

func insuranceDOCX(d *doc) ([]byte, error) {
	paras := []string{
		"Récapitulatif des contrats d'assurance de la commune, à jour pour le renouvellement.",
		fmt.Sprintf("Dommages aux biens — contrat n° DAB-%d-%04d — échéance au 1er janvier.", d.when.Year()-3, 1000+int(amount(0, 8999))),
		fmt.Sprintf("Responsabilité civile — contrat n° RC-%d-%04d — franchise 1 500 €.", d.when.Year()-2, 1000+int(amount(0, 8999))),
		fmt.Sprintf("Flotte automobile — 9 véhicules — contrat n° FA-%d-%04d.", d.when.Year()-1, 1000+int(amount(0, 8999))),
		"Protection juridique des agents et des élus — contrat groupe.",
		"Risques statutaires — garantie des absences des agents CNRACL.",
		"Pièces jointes : tableaux de sinistralité des cinq dernières années (service finances).",
	}
	return docx(d, "Contrats d'assurances de la commune", paras)
}

func deliberationsODT(d *doc) ([]byte, error) {
	paras := []string{fmt.Sprintf("Registre des délibérations du conseil municipal — année %d.", d.when.Year())}
	subjects := []string{"Approbation du compte administratif", "Vote des taux d'imposition", "Tarifs de la restauration scolaire",
		"Demande de subvention DETR pour la rénovation de l'école", "Création d'un poste d'adjoint technique", "Convention avec le SDIS",
		"Acquisition d'une parcelle pour le futur parking", "Adhésion au groupement de commandes pour l'énergie"}
	for i, s := range subjects {
		paras = append(paras, fmt.Sprintf("Délibération n° %d-%02d — %s. Votants : %d. Pour : %d. Contre : %d. Abstentions : %d.",
			d.when.Year(), i+1, s, 19, 15+i%4, 2-i%3, 2-(i+1)%3))
	}
	return odt(d, "Délibérations du conseil municipal", paras)
}

func grantsODT(d *doc) ([]byte, error) {
	paras := []string{fmt.Sprintf("Propositions de subventions aux associations pour %d, avant arbitrage de la commission des finances.", d.when.Year()+1)}
	for _, a := range []string{"Comité des fêtes", "Football club", "Amicale des sapeurs-pompiers", "Club du troisième âge", "Association des parents d'élèves", "Bibliothèque pour tous", "Tennis club", "Harmonie municipale"} {
		paras = append(paras, fmt.Sprintf("%s : %.0f € (année précédente : %.0f €).", a, amount(300, 6_000), amount(300, 6_000)))
	}
	return odt(d, "Subventions aux associations", paras)
}

func password() string {
	const chars = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%*+="
	b := make([]byte, 14)
	for i := range b {
		n, err := randInt(int64(len(chars)))
		if err != nil {
			n = int64(i)
		}
		b[i] = chars[n]
	}
	return string(b)
}

func passwordsTXT(d *doc) ([]byte, error) {
	lines := []string{
		"MOTS DE PASSE SERVEURS - MAIRIE - NE PAS DIFFUSER",
		"mise à jour " + d.when.Format("02/01/2006"),
		"",
		"srv-mairie-fs1 (partages)      administrateur / " + password(),
		"srv-mairie-ad1 (annuaire)      Administrateur / " + password(),
		"srv-compta (finances)          admin-compta / " + password(),
		"NAS sauvegardes                admin / " + password(),
		"routeur / pare-feu             admin / " + password(),
		"wifi mairie (WPA2)             " + password(),
		"logiciel état civil            secretariat / " + password(),
		"messagerie mairie@             " + password(),
	}
	return textDoc(d, lines), nil
}

func vpnTXT(d *doc) ([]byte, error) {
	lines := []string{
		"Accès VPN des prestataires",
		"",
		"Éditeur logiciel finances   vpn-editeur / " + password() + "   (télémaintenance le mardi)",
		"Mainteneur photocopieurs    vpn-copieurs / " + password(),
		"Prestataire informatique    vpn-infogerance / " + password(),
		"",
		fmt.Sprintf("Passerelle : vpn.mairie.local, port 443. Codes changés le %s.", d.when.Format("02/01/2006")),
	}
	return textDoc(d, lines), nil
}

package runbook

import (
	"bytes"
	"fmt"
)

// Frame is the runbook's page frame, for other printed documents (the
// NIS2 evidence report, internal/evidence): A4, the same typography, and
// on every page the town, a label (e.g. the period covered), the
// generation date and "page N / M".
type Frame struct {
	// Lang is "fr" or "en" (anything else: French).
	Lang string
	// Title is the document's title in the PDF's metadata.
	Title string
	// Town is the header's left side.
	Town string
	// Label is printed before the date on the header's right side and in
	// the footer.
	Label string
	// Generated is the generation date as printed.
	Generated string
}

// Printer lays out a document in the runbook's frame, block by block.
// Text is written with the PDF core fonts (Windows-1252: French and
// English).
type Printer struct {
	w *pdfWriter
}

// NewPrinter starts a document; it has no page until the first call.
func NewPrinter(fr Frame) *Printer {
	lang, err := ParseLang(fr.Lang)
	if err != nil {
		lang = "fr"
	}
	d := &doc{lang: lang, town: fr.Town, version: fr.Label, generated: fr.Generated, title: fr.Title}
	return &Printer{w: newFrame(d, fr.Title)}
}

func (p *Printer) started() {
	if p.w.f.PageNo() == 0 {
		p.w.f.AddPage()
	}
}

// NewPage starts a page.
func (p *Printer) NewPage() { p.w.f.AddPage() }

// Title writes a document's title and subtitle, as on the runbook's cover.
func (p *Printer) Title(title, subtitle string) {
	p.started()
	w, f := p.w, p.w.f
	w.font("B", 24)
	w.color(colAccent)
	w.lines(w.wrap(w.tr(title), contentW), marginX, 11)
	if subtitle != "" {
		w.gap(1)
		w.font("B", 15)
		w.color(colText)
		w.lines(w.wrap(w.tr(subtitle), contentW), marginX, 7.5)
	}
	w.draw(colAccent)
	f.SetLineWidth(1)
	f.Line(marginX, f.GetY()+3, marginX+60, f.GetY()+3)
	f.SetLineWidth(0.2)
	f.SetY(f.GetY() + 9)
	w.color(colText)
}

// Heading starts a part (with a bookmark).
func (p *Printer) Heading(s string) { p.started(); p.w.heading(s) }

// Sub writes a sub-heading.
func (p *Printer) Sub(s string) { p.started(); p.w.block(block{kind: kSub, text: s}) }

// Para writes a paragraph.
func (p *Printer) Para(s string) { p.started(); p.w.block(block{kind: kPara, text: s}) }

// Bullets writes a list.
func (p *Printer) Bullets(items []string) {
	p.started()
	p.w.block(block{kind: kBullets, items: items})
}

// Pairs writes "label: value" lines.
func (p *Printer) Pairs(pairs [][2]string) { p.started(); p.w.block(block{kind: kPairs, pairs: pairs}) }

// Table writes a table with relative column widths; its head is repeated
// on every page it runs over.
func (p *Printer) Table(head []string, rows [][]string, widths []float64) {
	p.started()
	p.w.block(block{kind: kTable, head: head, rows: rows, widths: widths})
}

// Alert writes a highlighted warning (an error when isErr).
func (p *Printer) Alert(text string, isErr bool) {
	p.started()
	p.w.block(block{kind: kAlert, text: text, err: isErr})
}

// Note writes a framed note.
func (p *Printer) Note(text string) { p.started(); p.w.block(block{kind: kNote, text: text}) }

// PDF ends the document and returns it.
func (p *Printer) PDF() ([]byte, error) {
	p.started()
	if err := p.w.f.Error(); err != nil {
		return nil, fmt.Errorf("PDF: %w", err)
	}
	var out bytes.Buffer
	if err := p.w.f.Output(&out); err != nil {
		return nil, fmt.Errorf("PDF: %w", err)
	}
	return out.Bytes(), nil
}

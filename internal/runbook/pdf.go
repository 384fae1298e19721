package runbook

import (
	"bytes"
	"fmt"
	"strings"

	"codeberg.org/go-pdf/fpdf"
	"rsc.io/qr"
)

// The page: A4, in millimetres.
const (
	pageW, pageH = 210.0, 297.0
	marginX      = 18.0
	marginTop    = 22.0
	bottomLimit  = pageH - 20.0
	contentW     = pageW - 2*marginX
	lineH        = 5.0 // body text, 10 pt
)

// Colours (RGB).
var (
	colText    = [3]int{20, 20, 20}
	colGrey    = [3]int{100, 100, 100}
	colAccent  = [3]int{0, 70, 140}
	colErr     = [3]int{176, 0, 32}
	colErrBg   = [3]int{253, 236, 234}
	colWarn    = [3]int{200, 100, 0}
	colWarnBg  = [3]int{255, 244, 229}
	colNoteBg  = [3]int{242, 245, 249}
	colHeadBg  = [3]int{225, 230, 238}
	colRule    = [3]int{170, 170, 170}
	colLightBg = [3]int{250, 250, 250}
)

// pdfWriter lays the document out with the PDF core fonts (Helvetica,
// Courier): text is written in Windows-1252, which holds French (é, è, à,
// ç, œ, « ») and English; the few other characters are replaced.
type pdfWriter struct {
	f     *fpdf.Fpdf
	d     *doc
	tr    func(string) string
	pages []int // the first page of each section (from the first pass)
	start []int // this pass's
}

func renderPDF(d *doc) ([]byte, error) {
	// Two passes: the first finds the page of each section for the
	// contents on the cover.
	first, err := layout(d, nil)
	if err != nil {
		return nil, err
	}
	w, err := layout(d, first.start)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := w.f.Output(&out); err != nil {
		return nil, fmt.Errorf("runbook: PDF: %w", err)
	}
	return out.Bytes(), nil
}

func layout(d *doc, pages []int) (*pdfWriter, error) {
	w := newFrame(d, texts[d.lang].title+" - "+d.town+" - "+d.version)
	w.pages = pages
	f := w.f

	w.cover()
	for i, s := range d.sections {
		if s.newPage || i == 0 {
			f.AddPage()
		} else {
			w.need(20)
		}
		w.start = append(w.start, f.PageNo())
		w.heading(s.title)
		for _, b := range s.blocks {
			w.block(b)
		}
	}
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("runbook: PDF: %w", err)
	}
	return w, nil
}

// newFrame starts a document in the page frame every printed page shares
// (header: town, d.version and the date; footer: the same and page N / M).
func newFrame(d *doc, title string) *pdfWriter {
	f := fpdf.New("P", "mm", "A4", "")
	w := &pdfWriter{f: f, d: d}
	tr := f.UnicodeTranslatorFromDescriptor("cp1252")
	w.tr = func(s string) string { return tr(replacer.Replace(s)) }
	f.SetMargins(marginX, marginTop, marginX)
	f.SetAutoPageBreak(false, 0)
	f.AliasNbPages("{nb}")
	f.SetCatalogSort(true)
	f.SetCompression(true)
	f.SetTitle(title, true)
	f.SetAuthor("Rempart", true)
	f.SetCreator("Rempart", true)
	f.SetProducer("Rempart (fpdf)", true)
	f.SetLang(d.lang)
	f.SetHeaderFunc(w.header)
	f.SetFooterFunc(w.footer)
	return w
}

// replacer turns characters outside Windows-1252 into near ones.
var replacer = strings.NewReplacer("→", "->", "←", "<-", "≥", ">=", "≤", "<=", "✓", "x", "✔", "x",
	"\u202f", " ", "\u2009", " ", "\u2007", " ", "\u2212", "-", "\u2010", "-", "\u2011", "-", "\u2192", "->")

func (w *pdfWriter) color(c [3]int)                  { w.f.SetTextColor(c[0], c[1], c[2]) }
func (w *pdfWriter) fill(c [3]int)                   { w.f.SetFillColor(c[0], c[1], c[2]) }
func (w *pdfWriter) draw(c [3]int)                   { w.f.SetDrawColor(c[0], c[1], c[2]) }
func (w *pdfWriter) font(style string, size float64) { w.f.SetFont("Helvetica", style, size) }

func (w *pdfWriter) header() {
	f := w.f
	w.font("", 8)
	w.color(colGrey)
	right := w.tr(w.d.version + "  ·  " + w.d.generated)
	rw := f.GetStringWidth(right)
	left := w.fit(w.tr(w.d.town), contentW-rw-6)
	f.Text(marginX, 12, left)
	f.Text(pageW-marginX-rw, 12, right)
	w.draw(colRule)
	f.SetLineWidth(0.2)
	f.Line(marginX, 14, pageW-marginX, 14)
	f.SetXY(marginX, marginTop)
	w.color(colText)
}

func (w *pdfWriter) footer() {
	f := w.f
	t := texts[w.d.lang]
	w.draw(colRule)
	f.SetLineWidth(0.2)
	f.Line(marginX, pageH-15, pageW-marginX, pageH-15)
	w.font("", 8)
	w.color(colGrey)
	left := w.fit(w.tr("Rempart — "+w.d.town+" — "+w.d.version+" — "+t.generatedFooter+" "+w.d.generated), contentW-30)
	f.Text(marginX, pageH-10, left)
	w.font("B", 9)
	w.color(colText)
	pg := fmt.Sprintf("%s %d / {nb}", t.page, f.PageNo())
	// {nb} is replaced by at most 3 digits: measure that.
	f.Text(pageW-marginX-f.GetStringWidth(strings.Replace(pg, "{nb}", "000", 1)), pageH-10, pg)
}

// fit shortens an encoded line to a width.
func (w *pdfWriter) fit(s string, width float64) string {
	if w.f.GetStringWidth(s) <= width {
		return s
	}
	for len(s) > 1 && w.f.GetStringWidth(s+"...") > width {
		s = s[:len(s)-1]
	}
	return s + "..."
}

// need starts a new page unless h millimetres are left.
func (w *pdfWriter) need(h float64) {
	if w.f.GetY()+h > bottomLimit {
		w.f.AddPage()
	}
}

// wrap splits an encoded text into lines of at most width (current font).
func (w *pdfWriter) wrap(s string, width float64) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		if len(words) == 0 {
			out = append(out, "")
			continue
		}
		line := ""
		for _, word := range words {
			for w.f.GetStringWidth(word) > width { // a word longer than the line
				n := len(word)
				for n > 1 && w.f.GetStringWidth(word[:n]) > width {
					n--
				}
				if line != "" {
					out = append(out, line)
					line = ""
				}
				out = append(out, word[:n])
				word = word[n:]
			}
			switch {
			case line == "":
				line = word
			case w.f.GetStringWidth(line+" "+word) <= width:
				line += " " + word
			default:
				out = append(out, line)
				line = word
			}
		}
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// lines writes encoded lines at x, from the current y, lh apart.
func (w *pdfWriter) lines(ls []string, x, lh float64) {
	for _, l := range ls {
		w.need(lh)
		y := w.f.GetY()
		w.f.Text(x, y+lh*0.75, l)
		w.f.SetY(y + lh)
	}
}

// para writes a wrapped paragraph.
func (w *pdfWriter) para(s string, style string, size, indent float64) {
	w.font(style, size)
	lh := size * 0.5
	w.lines(w.wrap(w.tr(s), contentW-indent), marginX+indent, lh)
}

func (w *pdfWriter) gap(h float64) {
	if w.f.GetY()+h <= bottomLimit {
		w.f.SetY(w.f.GetY() + h)
	}
}

func (w *pdfWriter) heading(title string) {
	f := w.f
	w.need(30)
	f.Bookmark(w.tr(title), 0, -1)
	w.font("B", 16)
	w.color(colAccent)
	ls := w.wrap(w.tr(title), contentW)
	w.lines(ls, marginX, 7.5)
	w.draw(colAccent)
	f.SetLineWidth(0.6)
	y := f.GetY() + 1
	f.Line(marginX, y, marginX+40, y)
	f.SetLineWidth(0.2)
	f.SetY(y + 5)
	w.color(colText)
}

func (w *pdfWriter) cover() {
	f := w.f
	t := texts[w.d.lang]
	f.AddPage()
	f.SetY(45)
	w.font("B", 30)
	w.color(colAccent)
	w.lines(w.wrap(w.tr(w.d.title), contentW), marginX, 13)
	w.gap(2)
	w.font("B", 18)
	w.color(colText)
	w.lines(w.wrap(w.tr(w.d.subtitle), contentW), marginX, 9)
	w.draw(colAccent)
	f.SetLineWidth(1)
	f.Line(marginX, f.GetY()+3, marginX+60, f.GetY()+3)
	f.SetLineWidth(0.2)
	f.SetY(f.GetY() + 12)
	for _, b := range w.d.cover {
		w.block(b)
	}
	// The contents, with the page of each part.
	w.block(block{kind: kSub, text: t.contents})
	w.font("", 11)
	for _, e := range w.d.toc {
		page := ""
		if e.section < len(w.pages) {
			page = fmt.Sprintf("%d", w.pages[e.section])
		}
		w.need(6.5)
		y := f.GetY()
		title := w.fit(w.tr(e.title), contentW-20)
		f.Text(marginX+2, y+4.5, title)
		pw := f.GetStringWidth(page)
		f.Text(pageW-marginX-pw, y+4.5, page)
		// Dots between the title and the page.
		x0, x1 := marginX+4+f.GetStringWidth(title), pageW-marginX-pw-2
		w.color(colRule)
		for x := x0; x+1 < x1; x += 2 {
			f.Text(x, y+4.5, ".")
		}
		w.color(colText)
		f.SetY(y + 6.5)
	}
}

func (w *pdfWriter) block(b block) {
	f := w.f
	switch b.kind {
	case kPara:
		w.color(colText)
		w.para(b.text, "", 10, 0)
		w.gap(3)
	case kSub:
		w.need(18)
		w.gap(2)
		w.font("B", 12)
		w.color(colAccent)
		w.lines(w.wrap(w.tr(b.text), contentW), marginX, 6)
		w.color(colText)
		w.gap(1.5)
	case kMono:
		f.SetFont("Courier", "B", 12)
		w.color(colText)
		w.lines(monoLines(w.tr(b.text), 47), marginX+4, 6)
		w.gap(3)
	case kAlert:
		bar, bg := colWarn, colWarnBg
		if b.err {
			bar, bg = colErr, colErrBg
		}
		w.box(b.text, "B", bar, bg, 2.5)
	case kNote:
		w.box(b.text, "", colAccent, colNoteBg, 1)
	case kBullets:
		w.font("", 10)
		for _, it := range b.items {
			ls := w.wrap(w.tr(it), contentW-8)
			w.need(lineH * float64(min(len(ls), 3)))
			y := f.GetY()
			f.Text(marginX+2, y+lineH*0.75, w.tr("•"))
			w.lines(ls, marginX+7, lineH)
		}
		w.gap(3)
	case kSteps:
		t := texts[w.d.lang]
		for i, it := range b.items {
			w.font("", 10.5)
			ls := w.wrap(w.tr(it), contentW-16)
			h := 5.3*float64(len(ls)) + 7
			w.need(h)
			y := f.GetY()
			w.draw(colText)
			f.SetLineWidth(0.4)
			f.Rect(marginX, y+0.5, 5, 5, "D")
			f.SetLineWidth(0.2)
			w.font("B", 11)
			f.Text(marginX+7, y+4.3, fmt.Sprintf("%d.", i+1))
			w.font("", 10.5)
			w.lines(ls, marginX+14, 5.3)
			w.font("", 8.5)
			w.color(colGrey)
			f.Text(marginX+14, f.GetY()+3.5, w.tr(t.stepDone))
			w.color(colText)
			f.SetY(f.GetY() + 7)
		}
		w.gap(2)
	case kTable:
		w.table(b)
	case kPairs:
		for _, p := range b.pairs {
			w.font("B", 10)
			label := w.tr(p[0])
			w.font("", 10)
			ls := w.wrap(w.tr(p[1]), contentW-48)
			w.need(lineH * float64(len(ls)))
			y := f.GetY()
			w.font("B", 10)
			w.color(colGrey)
			f.Text(marginX, y+lineH*0.75, label)
			w.color(colText)
			w.font("", 10)
			w.lines(ls, marginX+48, lineH)
			f.SetY(f.GetY() + 1)
		}
		w.gap(3)
	case kQR:
		code, err := qr.Encode(b.text, qr.M)
		if err != nil {
			w.para(b.text, "", 10, 0)
			return
		}
		const side = 50.0
		w.need(side + 6)
		y := f.GetY() + 2
		x := marginX + 4
		m := side / float64(code.Size)
		f.SetFillColor(0, 0, 0)
		for i := 0; i < code.Size; i++ {
			for j := 0; j < code.Size; j++ {
				if code.Black(i, j) {
					f.Rect(x+float64(i)*m, y+float64(j)*m, m+0.01, m+0.01, "F")
				}
			}
		}
		f.SetY(y + side + 4)
	case kLog:
		w.font("", 10)
		for _, it := range b.items {
			w.need(10)
			y := f.GetY()
			x := marginX
			if it != "" {
				f.Text(marginX, y+6, w.tr(it))
				x += f.GetStringWidth(w.tr(it)) + 2
			}
			w.draw(colRule)
			f.Line(x, y+7, pageW-marginX, y+7)
			f.SetY(y + 10)
		}
		w.gap(2)
	}
}

// monoLines breaks a fingerprint (AA:BB:...) after a colon, n characters
// at most per line; other text is left whole.
func monoLines(s string, n int) []string {
	if strings.ContainsRune(s, ' ') || len(s) <= n {
		return []string{s}
	}
	var out []string
	for len(s) > n {
		cut := strings.LastIndexByte(s[:n+1], ':')
		if cut <= 0 {
			cut = n
		}
		out = append(out, s[:cut+1])
		s = s[cut+1:]
	}
	return append(out, s)
}

// box writes text in a shaded box with a bar on its left.
func (w *pdfWriter) box(text, style string, bar, bg [3]int, gapAfter float64) {
	f := w.f
	w.font(style, 10)
	ls := w.wrap(w.tr(text), contentW-10)
	// A box may run over pages: draw it in pieces.
	for len(ls) > 0 {
		w.need(lineH + 4)
		room := int((bottomLimit - f.GetY() - 4) / lineH)
		n := min(len(ls), max(room, 1))
		y := f.GetY()
		h := float64(n)*lineH + 4
		w.fill(bg)
		f.Rect(marginX, y, contentW, h, "F")
		w.fill(bar)
		f.Rect(marginX, y, 1.5, h, "F")
		if style == "B" {
			w.color(bar)
		} else {
			w.color(colText)
		}
		f.SetY(y + 2)
		w.lines(ls[:n], marginX+5, lineH)
		f.SetY(y + h)
		ls = ls[n:]
	}
	w.color(colText)
	w.gap(gapAfter + 1.5)
}

// table draws a table; the head is repeated on every page.
func (w *pdfWriter) table(b block) {
	f := w.f
	total := 0.0
	for _, x := range b.widths {
		total += x
	}
	widths := make([]float64, len(b.widths))
	for i, x := range b.widths {
		widths[i] = x / total * contentW
	}
	const pad, lh = 1.5, 4.5
	row := func(cells []string, style string, bg *[3]int, minH float64) {
		w.font(style, 9)
		wrapped := make([][]string, len(cells))
		n := 1
		for i, c := range cells {
			wrapped[i] = w.wrap(w.tr(c), widths[i]-2*pad)
			n = max(n, len(wrapped[i]))
		}
		h := max(float64(n)*lh+2*pad, minH)
		y := f.GetY()
		x := marginX
		w.draw(colRule)
		for i := range cells {
			style := "D"
			if bg != nil {
				w.fill(*bg)
				style = "FD"
			}
			f.Rect(x, y, widths[i], h, style)
			for j, l := range wrapped[i] {
				f.Text(x+pad, y+pad+lh*float64(j)+lh*0.75, l)
			}
			x += widths[i]
		}
		f.SetY(y + h)
	}
	head := func() {
		bg := colHeadBg
		row(b.head, "B", &bg, 0)
	}
	w.need(20)
	head()
	for i, r := range b.rows {
		blank := strings.Join(r, "") == ""
		minH := 0.0
		if blank {
			minH = 8 // room to write by hand
		}
		w.font("", 9)
		n := 1
		for j, c := range r {
			n = max(n, len(w.wrap(w.tr(c), widths[j]-2*pad)))
		}
		if f.GetY()+max(float64(n)*lh+2*pad, minH) > bottomLimit {
			f.AddPage()
			head()
		}
		var bg *[3]int
		if i%2 == 1 {
			c := colLightBg
			bg = &c
		}
		row(r, "", bg, minH)
	}
	w.gap(4)
}

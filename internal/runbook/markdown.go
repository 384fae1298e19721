package runbook

import (
	"fmt"
	"strings"
)

// renderMarkdown writes the same content as the PDF in Markdown (the QR
// code becomes its text; boxes to tick and lines to write on stay).
func renderMarkdown(d *doc) []byte {
	t := texts[d.lang]
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# %s — %s\n\n", md(d.title), md(d.subtitle))
	p("*%s — %s — %s %s*\n\n", md(d.town), md(d.version), t.generatedFooter, md(d.generated))
	for _, bl := range d.cover {
		mdBlock(&b, d, bl)
	}
	p("## %s\n\n", md(t.contents))
	for i, e := range d.toc {
		p("%d. %s\n", i+1, md(e.title))
	}
	p("\n")
	for _, s := range d.sections {
		p("## %s\n\n", md(s.title))
		for _, bl := range s.blocks {
			mdBlock(&b, d, bl)
		}
	}
	return []byte(b.String())
}

func mdBlock(b *strings.Builder, d *doc, bl block) {
	t := texts[d.lang]
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	switch bl.kind {
	case kPara:
		p("%s\n\n", md(bl.text))
	case kSub:
		p("### %s\n\n", md(bl.text))
	case kMono:
		p("```\n%s\n```\n\n", bl.text)
	case kQR:
		p("QR code: <%s>\n\n", bl.text)
	case kAlert:
		mark := "⚠"
		if bl.err {
			mark = "⛔"
		}
		p("> %s **%s**\n\n", mark, md(bl.text))
	case kNote:
		for _, l := range strings.Split(bl.text, "\n") {
			p("> %s\n", md(l))
		}
		p("\n")
	case kBullets:
		for _, it := range bl.items {
			p("- %s\n", md(it))
		}
		p("\n")
	case kSteps:
		for i, it := range bl.items {
			p("%d. [ ] %s  \n   *%s*\n", i+1, md(it), md(t.stepDone))
		}
		p("\n")
	case kPairs:
		for _, pr := range bl.pairs {
			p("- **%s**: %s\n", md(pr[0]), md(pr[1]))
		}
		p("\n")
	case kTable:
		row := func(cells []string) {
			var cs []string
			for _, c := range cells {
				cs = append(cs, strings.ReplaceAll(md(c), "|", `\|`))
			}
			p("| %s |\n", strings.Join(cs, " | "))
		}
		row(bl.head)
		p("|%s\n", strings.Repeat("---|", len(bl.head)))
		for _, r := range bl.rows {
			row(r)
		}
		p("\n")
	case kLog:
		for _, it := range bl.items {
			p("%s ________________________________\n\n", md(it))
		}
	}
}

// md keeps text from being read as Markdown markup (and on one line in
// a table cell).
func md(s string) string {
	s = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", "#", `\#`).Replace(s)
	return s
}

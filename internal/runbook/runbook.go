// Package runbook renders a tenant's printable recovery runbook: the
// document a crisis cell reads when every computer is down. It holds the
// first steps of ANSSI's (CERT-FR's) reflex sheets, the crisis directory,
// the crisis room's address with the local CA's fingerprint and a QR code
// of its URL, where the recovery keys are kept (never the keys), the
// recovery order in waves with each service's objectives and owner, the
// problems that would stop a recovery, one sheet per service (backups,
// dependencies, fallback procedure, contacts) and a blank logbook page.
//
// The package is pure: it renders what it is given (the plan, its
// recovery order, the server's public facts) as PDF or Markdown, in French
// or English, with the same content. It never touches the server, the
// vault or the network.
package runbook

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/continuity"
)

// Server is what the runbook says about the Rempart server: public facts
// only.
type Server struct {
	// URL is the server's address (https://HOST:PORT).
	URL string
	// CrisisURL is the crisis room's address (https://HOST:PORT/crisis/):
	// printed and drawn as a QR code.
	CrisisURL string
	// CAFingerprint is the SHA-256 fingerprint of the server's local CA,
	// as `rempart server` prints it at start.
	CAFingerprint string
}

// Input is everything a runbook is made from.
type Input struct {
	// Tenant is the tenant's name on the server (e.g. mairie-a).
	Tenant string
	// Plan is the version of the plan to print; Version its number,
	// Saved and SavedBy when and by whom it was saved.
	Plan    *continuity.Plan
	Version int64
	Saved   time.Time
	SavedBy string
	// Analysis is the plan's recovery order with the backups the server
	// holds (nil: computed here, without backups).
	Analysis *continuity.Analysis
	Server   Server
	// Generated is the date printed on every page (zero: now).
	Generated time.Time
	// Lang is "fr" (the default) or "en".
	Lang string
	// Location is the time zone of printed dates (nil: time.Local).
	Location *time.Location
}

// Langs are the languages a runbook is written in.
var Langs = []string{"fr", "en"}

// ParseLang checks a language ("" is French).
func ParseLang(s string) (string, error) {
	switch l := strings.ToLower(strings.TrimSpace(s)); l {
	case "", "fr", "fr-fr":
		return "fr", nil
	case "en", "en-gb", "en-us":
		return "en", nil
	}
	return "", fmt.Errorf("language %q: the runbook is written in fr (French) or en (English)", s)
}

// block kinds.
const (
	kPara    = iota // a paragraph
	kSub            // a sub-heading
	kAlert          // a highlighted warning (problems)
	kNote           // a framed note
	kSteps          // numbered steps with a box to tick, a time and who
	kBullets        // a list
	kTable          // a table
	kPairs          // label: value lines
	kQR             // a QR code of text
	kMono           // a line in a fixed-width font (fingerprints, URLs)
	kLog            // ruled lines to write on (the logbook)
)

type block struct {
	kind   int
	text   string
	items  []string
	head   []string
	rows   [][]string
	widths []float64 // relative column widths
	pairs  [][2]string
	err    bool // kAlert: an error (else a warning)
}

type section struct {
	title   string
	newPage bool
	blocks  []block
}

// doc is the runbook's content, rendered as PDF or Markdown.
type doc struct {
	lang      string
	town      string // the header's left side
	version   string // "Plan version 3"
	generated string // the generation date
	title     string // the cover's title
	subtitle  string
	cover     []block
	toc       []tocEntry
	sections  []section
}

// tocEntry is a line of the contents: a title and the section it starts at.
type tocEntry struct {
	title   string
	section int
}

func (d *doc) add(s section) { d.sections = append(d.sections, s) }

// PDF renders the runbook as a PDF.
func PDF(in Input) ([]byte, error) {
	d, err := build(in)
	if err != nil {
		return nil, err
	}
	return renderPDF(d)
}

// Markdown renders the runbook as Markdown, with the same content as the
// PDF (the QR code is replaced by its text).
func Markdown(in Input) ([]byte, error) {
	d, err := build(in)
	if err != nil {
		return nil, err
	}
	return renderMarkdown(d), nil
}

// build writes the runbook's content.
func build(in Input) (*doc, error) {
	if in.Plan == nil {
		return nil, errors.New("runbook: no plan")
	}
	lang, err := ParseLang(in.Lang)
	if err != nil {
		return nil, err
	}
	tr := texts[lang]
	loc := in.Location
	if loc == nil {
		loc = time.Local
	}
	gen := in.Generated
	if gen.IsZero() {
		gen = time.Now()
	}
	a := in.Analysis
	if a == nil {
		a = continuity.Analyse(in.Plan, nil, gen)
	}
	p := in.Plan
	date := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04 MST") }
	dur := func(v continuity.Duration) string {
		s := v.String()
		if lang == "fr" {
			s = strings.ReplaceAll(s, "d", "j")
		}
		return s
	}
	crit := func(c continuity.Criticality) string {
		if c >= continuity.Vital && c <= continuity.Deferrable {
			return tr.crit[c]
		}
		return c.String()
	}
	town := strings.TrimSpace(p.Title)
	if town == "" {
		town = in.Tenant
	}
	d := &doc{lang: lang, town: town, generated: date(gen)}
	d.version = fmt.Sprintf(tr.versionFmt, in.Version)
	d.title = tr.title
	d.subtitle = town
	byID := map[string]continuity.Service{}
	for _, s := range p.Services {
		byID[s.ID] = s
	}
	name := func(id string) string {
		if s, ok := byID[id]; ok && s.Name != "" && s.Name != id {
			return s.Name + " (" + id + ")"
		}
		return id
	}
	errs, warns := 0, 0
	for _, pr := range a.Problems {
		if pr.Severity == continuity.SeverityError {
			errs++
		} else {
			warns++
		}
	}

	// The cover.
	facts := [][2]string{{tr.tenant, in.Tenant}, {tr.planVersion, strconv.FormatInt(in.Version, 10)}}
	if !in.Saved.IsZero() {
		v := date(in.Saved)
		if in.SavedBy != "" {
			v += " " + tr.by + " " + strings.TrimPrefix(in.SavedBy, "account:")
		}
		facts = append(facts, [2]string{tr.saved, v})
	}
	reviewed := p.ReviewedAt
	if reviewed == "" {
		reviewed = tr.never
	}
	if p.ReviewedBy != "" {
		reviewed += " " + tr.by + " " + p.ReviewedBy
	}
	facts = append(facts, [2]string{tr.reviewed, reviewed}, [2]string{tr.generatedOn, d.generated},
		[2]string{tr.services, strconv.Itoa(len(p.Services))})
	d.cover = append(d.cover, block{kind: kPairs, pairs: facts}, block{kind: kNote, text: tr.keepOffline})
	if errs+warns > 0 {
		d.cover = append(d.cover, block{kind: kAlert, err: errs > 0, text: fmt.Sprintf(tr.problemsSummary, errs, warns)})
	}

	// The first hour.
	first := section{title: tr.firstHour, newPage: true}
	first.blocks = append(first.blocks, block{kind: kPara, text: tr.firstHourIntro})
	first.blocks = append(first.blocks, block{kind: kSteps, items: tr.reflexes})
	first.blocks = append(first.blocks, block{kind: kNote, text: tr.reflexSource})
	d.add(first)

	// The crisis directory.
	dir := section{title: tr.directory, newPage: true}
	dir.blocks = append(dir.blocks, block{kind: kPara, text: tr.directoryIntro})
	rows := [][]string{}
	for _, c := range p.Contacts {
		rows = append(rows, []string{c.Name, c.Role, c.Phone, c.Email})
	}
	rows = append(rows, tr.national...)
	for range 4 {
		rows = append(rows, []string{"", "", "", ""})
	}
	dir.blocks = append(dir.blocks, block{kind: kTable, head: tr.contactHead, rows: rows, widths: []float64{3, 4, 2.4, 3}})
	d.add(dir)

	// The crisis room and the recovery keys.
	room := section{title: tr.crisisRoom, newPage: true}
	if in.Server.CrisisURL != "" {
		room.blocks = append(room.blocks, block{kind: kPara, text: tr.crisisRoomIntro},
			block{kind: kSub, text: tr.crisisURL}, block{kind: kMono, text: in.Server.CrisisURL},
			block{kind: kQR, text: in.Server.CrisisURL})
	} else {
		room.blocks = append(room.blocks, block{kind: kPara, text: tr.crisisRoomUnknown})
	}
	if in.Server.CAFingerprint != "" {
		room.blocks = append(room.blocks, block{kind: kSub, text: tr.caFingerprint}, block{kind: kMono, text: in.Server.CAFingerprint},
			block{kind: kPara, text: fmt.Sprintf(tr.caHow, strings.TrimSuffix(in.Server.URL, "/")+"/ca.crt")})
	}
	room.blocks = append(room.blocks, block{kind: kSub, text: tr.keysTitle})
	if loc := strings.TrimSpace(p.RecoveryKeysLocation); loc != "" {
		room.blocks = append(room.blocks, block{kind: kNote, text: loc})
	} else {
		room.blocks = append(room.blocks, block{kind: kAlert, err: false, text: tr.keysMissing}, block{kind: kLog, items: []string{"", ""}})
	}
	room.blocks = append(room.blocks, block{kind: kPara, text: tr.keysNever})
	d.add(room)

	// The recovery order.
	ord := section{title: tr.order, newPage: true}
	ord.blocks = append(ord.blocks, block{kind: kPara, text: tr.orderIntro})
	for _, w := range a.Waves {
		title := fmt.Sprintf(tr.wave, w.Number)
		if w.Number > 1 {
			title += fmt.Sprintf(tr.afterWave, w.Number-1)
		}
		if len(w.Services) > 1 {
			title += tr.inParallel
		}
		rows := [][]string{}
		for _, s := range w.Services {
			rows = append(rows, []string{strconv.Itoa(s.Position), name(s.ID), crit(s.Criticality), dur(s.RTO), dur(s.RPO),
				byID[s.ID].Owner, ""})
		}
		ord.blocks = append(ord.blocks, block{kind: kSub, text: title},
			block{kind: kTable, head: tr.orderHead, rows: rows, widths: []float64{0.7, 5, 2.1, 1.2, 1.2, 3.3, 1.8}})
	}
	if len(a.Waves) == 0 && len(a.Unordered) == 0 {
		ord.blocks = append(ord.blocks, block{kind: kPara, text: tr.noService})
	}
	if len(a.Unordered) > 0 {
		var names []string
		for _, id := range a.Unordered {
			names = append(names, name(id))
		}
		ord.blocks = append(ord.blocks, block{kind: kAlert, err: true, text: tr.unordered + strings.Join(names, ", ")})
	}
	ord.blocks = append(ord.blocks, block{kind: kSub, text: tr.problems})
	if len(a.Problems) == 0 {
		ord.blocks = append(ord.blocks, block{kind: kPara, text: tr.noProblem})
	}
	for _, pr := range a.Problems {
		label := tr.warning
		if pr.Severity == continuity.SeverityError {
			label = tr.errorLabel
		}
		ord.blocks = append(ord.blocks, block{kind: kAlert, err: pr.Severity == continuity.SeverityError, text: label + problemText(lang, pr, name, date, dur)})
	}
	d.add(ord)

	// One sheet per service, in recovery order.
	sources := map[string][]continuity.SourceStatus{}
	for _, s := range a.Sources {
		sources[s.Service] = append(sources[s.Service], s)
	}
	problems := map[string][]continuity.Problem{}
	for _, pr := range a.Problems {
		problems[pr.Service] = append(problems[pr.Service], pr)
	}
	type placed struct {
		id   string
		pos  int
		wave int
	}
	var order []placed
	for _, w := range a.Waves {
		for _, s := range w.Services {
			order = append(order, placed{s.ID, s.Position, w.Number})
		}
	}
	for _, id := range a.Unordered {
		order = append(order, placed{id: id})
	}
	for _, o := range order {
		s, ok := byID[o.id]
		if !ok {
			continue
		}
		title := name(s.ID)
		if o.pos > 0 {
			title = strconv.Itoa(o.pos) + ". " + title
		}
		sec := section{title: title, newPage: true}
		where := tr.unorderedShort
		if o.wave > 0 {
			where = fmt.Sprintf(tr.wave, o.wave)
		}
		owner := s.Owner
		if owner == "" {
			owner = tr.none
		}
		sec.blocks = append(sec.blocks, block{kind: kPairs, pairs: [][2]string{
			{tr.placeInOrder, where}, {tr.criticality, crit(s.Criticality)},
			{"RTO", dur(s.RTO) + " — " + tr.rtoMeans}, {"RPO", dur(s.RPO) + " — " + tr.rpoMeans},
			{tr.owner, owner},
		}})
		for _, pr := range problems[s.ID] {
			sec.blocks = append(sec.blocks, block{kind: kAlert, err: pr.Severity == continuity.SeverityError, text: problemText(lang, pr, name, date, dur)})
		}
		if len(s.DependsOn) > 0 {
			var deps []string
			for _, dep := range s.DependsOn {
				deps = append(deps, name(dep))
			}
			sec.blocks = append(sec.blocks, block{kind: kSub, text: tr.dependsOn}, block{kind: kBullets, items: deps})
		}
		sec.blocks = append(sec.blocks, block{kind: kSub, text: tr.sources})
		if len(s.Sources) == 0 {
			sec.blocks = append(sec.blocks, block{kind: kPara, text: tr.noSource})
		} else {
			st := map[continuity.Source]continuity.SourceStatus{}
			for _, x := range sources[s.ID] {
				st[x.Source] = x
			}
			rows := [][]string{}
			for _, src := range s.Sources {
				state, latest := tr.notChecked, ""
				if x, ok := st[src]; ok {
					state = tr.status[x.Status]
					if !x.Latest.IsZero() {
						latest = date(x.Latest)
					}
				}
				rows = append(rows, []string{src.Host, src.Path, latest, state})
			}
			sec.blocks = append(sec.blocks, block{kind: kTable, head: tr.sourceHead, rows: rows, widths: []float64{2, 3.5, 3, 3}})
		}
		if len(s.Assets) > 0 {
			sec.blocks = append(sec.blocks, block{kind: kSub, text: tr.assets}, block{kind: kBullets, items: s.Assets})
		}
		sec.blocks = append(sec.blocks, block{kind: kSub, text: tr.fallback})
		if f := strings.TrimSpace(s.Fallback); f != "" {
			sec.blocks = append(sec.blocks, block{kind: kNote, text: unwrap(f)})
		} else {
			sec.blocks = append(sec.blocks, block{kind: kAlert, text: tr.noFallback})
		}
		sec.blocks = append(sec.blocks, block{kind: kSub, text: tr.contacts})
		if len(s.Contacts) == 0 {
			sec.blocks = append(sec.blocks, block{kind: kPara, text: tr.noContact})
		} else {
			rows := [][]string{}
			for _, c := range s.Contacts {
				rows = append(rows, []string{c.Name, c.Role, c.Phone, c.Email})
			}
			sec.blocks = append(sec.blocks, block{kind: kTable, head: tr.contactHead, rows: rows, widths: []float64{3, 4, 2.4, 3}})
		}
		sec.blocks = append(sec.blocks, block{kind: kSub, text: tr.recoveryLog}, block{kind: kLog, items: tr.recoveryFields})
		d.add(sec)
	}

	// A logbook page to write on.
	lg := section{title: tr.logbook, newPage: true}
	lg.blocks = append(lg.blocks, block{kind: kPara, text: tr.logbookIntro},
		block{kind: kTable, head: tr.logHead, rows: make([][]string, 22), widths: []float64{1.6, 2.6, 9}})
	for i := range lg.blocks[1].rows {
		lg.blocks[1].rows[i] = []string{"", "", ""}
	}
	d.add(lg)

	d.toc = []tocEntry{{tr.firstHour, 0}, {tr.directory, 1}, {tr.crisisRoom, 2}, {tr.order, 3}}
	if len(order) > 0 {
		d.toc = append(d.toc, tocEntry{fmt.Sprintf(tr.sheets, len(order)), 4})
	}
	d.toc = append(d.toc, tocEntry{tr.logbook, len(d.sections) - 1})
	return d, nil
}

// unwrap joins the lines of a paragraph written in a YAML block (the
// line breaks of the file are not the document's); blank lines and lines
// that start a list are kept.
func unwrap(s string) string {
	lines := strings.Split(s, "\n")
	var b strings.Builder
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if i > 0 {
			prev := strings.TrimSpace(lines[i-1])
			switch {
			case l == "" || prev == "":
				b.WriteByte('\n')
			case strings.HasPrefix(l, "-") || strings.HasPrefix(l, "*") || startsNumbered(l):
				b.WriteByte('\n')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

func startsNumbered(l string) bool {
	i := 0
	for i < len(l) && l[i] >= '0' && l[i] <= '9' {
		i++
	}
	return i > 0 && i < len(l) && (l[i] == '.' || l[i] == ')')
}

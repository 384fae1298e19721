package sentinel

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strings"

	"github.com/rempart/rempart/internal/sentinel/container"
)

// ReportVersion is the version of the Report layout written by Assess.
const ReportVersion = 1

// Verdict thresholds and weights. The score adds up evidence: every file
// whose content looks hit is worth PerFile, so that the 20 files of the
// smallest attack the targets name make a suspect snapshot on their own
// and 30 make an infected one, while the odd false alarm (a document
// saved while it was being written, a program that switches its own file
// format) stays far below. A slow attack accumulates: files listed by the
// parent that are still hit count again (Carried), so 5 files per backup
// reach suspect on the second backup. Structural signals (rename storm,
// notes in many folders, mass deletion, one canary) make a suspect
// snapshot by themselves, and infected together.
const (
	SuspectScore  = 1.0
	InfectedScore = 3.0

	PerFile = 0.1 // each file whose content looks hit, new or carried

	CanaryWeight = 2.0 // each canary touched (changed, renamed, deleted)
	CanaryMax    = 6.0

	// A rename storm: at least RenameStormMin files gaining the same
	// extension that means nothing for their content.
	RenameStormMin    = 10
	RenameStormWeight = 1.0 // plus 0.02 per file beyond the minimum, up to 2
	RenameStormMax    = 2.0

	// Ransom notes: the same note-like new file name in NoteFoldersMin
	// folders or more; lone notes only weigh a little each.
	NoteFoldersMin = 3
	NoteWeight     = 2.0 // plus 0.1 per folder beyond the minimum, up to 3
	NoteMax        = 3.0
	LoneNoteWeight = 0.3
	LoneNoteMax    = 0.9

	// Mass deletion: at least MassDeleteMin files and MassDeleteShare of
	// the parent's files gone (renames and moves do not count).
	MassDeleteMin    = 50
	MassDeleteShare  = 0.30
	MassDeleteWeight = 1.5

	// Files turned into gpg, age or 7z: one is a person protecting a
	// file; ToolEncryptMin at once is worth a look (Qlocker put victims'
	// files in password-protected 7z archives), never more than suspect.
	ToolEncryptMin    = 20
	ToolEncryptWeight = 1.0

	// Content thresholds, on Features.
	cipherHigh = 0.9  // share of random-looking blocks of a fully encrypted file
	someHigh   = 0.5  // ... of a file whose content mostly looks encrypted
	highJump   = 0.1  // rise in that share that reveals encrypted blocks
	stripesMin = 0.25 // share of striped blocks of intermittent encryption
	entJump    = 1.0  // rise in bits per byte of an unknown file that was known
)

// Reasons a file is listed, in the order they are reported. The first
// content reason of a file carries its PerFile weight.
const (
	RCanary        = "canary"
	REncrypted     = "encrypted"           // the content became ciphertext
	RPartial       = "partially_encrypted" // header, first megabytes or some blocks
	RIntermittent  = "intermittent"        // every other 16 bytes
	REncoded       = "encoded"             // base64 or hex of ciphertext
	RMagicLost     = "magic_lost"          // the format's signature is gone
	RBroken        = "container_broken"    // the format's structure no longer holds
	RExtMismatch   = "ext_mismatch"        // a new file whose extension promises another format
	RRenamed       = "renamed"             // part of a rename storm
	RToolEncrypted = "tool_encrypted"      // turned into gpg/age/7z among many
	RNote          = "ransom_note"
	RDeleted       = "deleted" // part of a mass deletion
)

var reasonOrder = map[string]int{
	RCanary: 0, REncrypted: 1, RPartial: 2, RIntermittent: 3, REncoded: 4, RMagicLost: 5, RBroken: 6,
	RExtMismatch: 7, RRenamed: 8, RToolEncrypted: 9, RNote: 10, RDeleted: 11,
}

// contentReason: the file's own bytes look hit.
func contentReason(r string) bool {
	switch r {
	case REncrypted, RPartial, RIntermittent, REncoded, RMagicLost, RBroken, RExtMismatch:
		return true
	}
	return false
}

// Indicator names for what is not a per-file reason.
const (
	IRenameStorm = "rename_storm"
	IMassDelete  = "mass_deletion"
	IToolEncrypt = "tool_encryption"
	ICarried     = "carried"
)

// judgeChange compares a file with its previous version: a file is judged
// against itself first, because docx, jpg, zip or pdf are high-entropy to
// begin with.
func judgeChange(cur, prev Features) []string {
	var r []string
	if prev.Canary {
		r = append(r, RCanary)
	}
	cipher := false
	switch {
	case cur.Kind != "":
	case prev.Kind != "":
		// The format's signature is gone: the content says how.
		switch {
		case cur.High >= cipherHigh:
			r = append(r, REncrypted)
			cipher = true
		case cur.Head, cur.High-prev.High >= highJump, cur.Entropy-prev.Entropy >= entJump:
			r = append(r, RPartial)
			cipher = true
		}
	case cur.Head && !prev.Head:
		// Unknown before and after (a proprietary format, a mail
		// store, an EBCDIC text): only a header that turned into
		// ciphertext counts. Such files often hold compressed parts
		// that come and go, so random blocks elsewhere prove nothing;
		// and a file that was ciphertext already cannot be judged.
		if cur.High >= cipherHigh {
			r = append(r, REncrypted)
		} else {
			r = append(r, RPartial)
		}
		cipher = true
	}
	if cur.Stripes >= stripesMin && prev.Stripes < stripesMin/4 {
		r = append(r, RIntermittent)
		cipher = true
	}
	if cur.Encoded && !prev.Encoded {
		r = append(r, REncoded)
		cipher = true
	}
	if prev.Kind != "" && cur.Kind == "" {
		// A text that became something unknown is not evidence on its
		// own (a program may store it differently now); a binary format
		// that lost its signature is.
		if prev.Kind != container.Text || cipher {
			r = append(r, RMagicLost)
		}
	}
	if prev.Valid == container.Valid && cur.Valid == container.Broken && cur.Kind == prev.Kind {
		r = append(r, RBroken)
	}
	return r
}

// judgeNew applies absolute rules to a file without a previous version:
// only the extension says what it should be.
func judgeNew(cur Features, p string) []string {
	kind, ok := extKinds[ext(p)]
	if !ok {
		return nil
	}
	if cur.Kind == "" && (cur.High >= someHigh || cur.Head || cur.Stripes >= stripesMin) {
		return []string{RExtMismatch}
	}
	if cur.Encoded && kind != container.Text {
		return []string{REncoded}
	}
	return nil
}

// stillHit tells whether a file the parent listed, changed again, still
// looks hit in absolute terms: a ciphertext rewritten is still ciphertext,
// and comparing it with its (encrypted) previous version shows nothing.
func stillHit(cur Features) bool {
	return cur.Kind == "" && (cur.High >= someHigh || cur.Head) ||
		cur.Valid == container.Broken || cur.Encoded || cur.Stripes >= stripesMin
}

type fileVerdict struct {
	path      string
	reasons   []string
	lastClean string
	lastPath  string
	carried   bool
}

// assessment is the state of one Assess call.
type assessment struct {
	in     Input
	parent map[string]*Affected // the parent's list, by path
	files  map[string]*fileVerdict
	indic  map[string]*Indicator
	score  float64
}

func (a *assessment) list(p string, reason string, lastClean, lastPath string) *fileVerdict {
	f := a.files[p]
	if f == nil {
		f = &fileVerdict{path: p, lastClean: lastClean, lastPath: lastPath}
		a.files[p] = f
	}
	for _, r := range f.reasons {
		if r == reason {
			return f
		}
	}
	f.reasons = append(f.reasons, reason)
	return f
}

// cleanSource returns where the last clean version of a file now at p,
// formerly at from (== p when not renamed), can be found.
func (a *assessment) cleanSource(p, from string) (string, string) {
	if e := a.parent[from]; e != nil {
		lp := e.LastCleanPath
		if lp == "" {
			lp = from
		}
		if lp == p {
			lp = ""
		}
		return e.LastClean, lp
	}
	if a.in.ParentID == "" {
		return "", ""
	}
	if from == p {
		return a.in.ParentID, ""
	}
	return a.in.ParentID, from
}

func (a *assessment) indicator(name string) *Indicator {
	i := a.indic[name]
	if i == nil {
		i = &Indicator{Name: name}
		a.indic[name] = i
	}
	return i
}

type pair struct {
	ch   *Change
	del  *Deletion
	same bool // same content: a plain rename or move
}

// Assess judges a snapshot from its changes against its parent. The
// output is deterministic: the same input gives the same report.
func Assess(in Input) Report {
	a := &assessment{in: in, parent: map[string]*Affected{}, files: map[string]*fileVerdict{}, indic: map[string]*Indicator{}}
	if in.Parent != nil {
		for i := range in.Parent.Affected {
			e := &in.Parent.Affected[i]
			if _, dup := a.parent[e.Path]; !dup {
				a.parent[e.Path] = e
			}
		}
	}
	changes := make([]*Change, 0, len(in.Changes))
	seen := map[string]bool{}
	for i := range in.Changes {
		c := &in.Changes[i]
		if !seen[c.Path] {
			seen[c.Path] = true
			changes = append(changes, c)
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	dels := make([]*Deletion, 0, len(in.Deleted))
	delSeen := map[string]bool{}
	for i := range in.Deleted {
		d := &in.Deleted[i]
		if !delSeen[d.Path] {
			delSeen[d.Path] = true
			dels = append(dels, d)
		}
	}
	sort.Slice(dels, func(i, j int) bool { return dels[i].Path < dels[j].Path })

	pairs, unpairedDel := pairRenames(changes, dels)
	pairOf := map[string]*pair{}
	for i := range pairs {
		pairOf[pairs[i].ch.Path] = &pairs[i]
	}

	var storm = map[string][]string{} // new extension -> new paths
	var tool []string                 // files turned into gpg/age/7z
	notes := map[string][]string{}    // note base name -> paths
	canaries := 0

	inPlace := 0
	for _, c := range changes {
		if c.Prev != nil {
			inPlace++
		}
		from := c.Path
		var prev *Features
		p := pairOf[c.Path]
		switch {
		case c.Prev != nil:
			prev = c.Prev
		case p != nil:
			from = p.del.Path
			prev = p.del.Prev
		}
		var reasons []string
		switch {
		case p != nil && p.same:
			// A decoy renamed is touched; one moved with its folder (same
			// name, same bytes) is intact.
			if prev != nil && prev.Canary && path.Base(c.Path) != path.Base(from) {
				reasons = []string{RCanary}
			}
		case prev != nil:
			reasons = judgeChange(c.Cur, *prev)
		default:
			reasons = judgeNew(c.Cur, c.Path)
		}
		if p != nil {
			if e := ext(c.Path); e != ext(from) || len(path.Base(c.Path)) > len(path.Base(from)) {
				if foreignExt(e, c.Cur.Kind) {
					storm[e] = append(storm[e], c.Path)
				}
			}
		}
		if container.Encrypted(c.Cur.Kind) && prev != nil && prev.Kind != c.Cur.Kind {
			tool = append(tool, c.Path)
		}
		if c.Cur.Note && (prev == nil || !prev.Note) {
			b := strings.ToLower(path.Base(c.Path))
			notes[b] = append(notes[b], c.Path)
		}
		// A file the parent listed stays listed while it still looks hit,
		// with the parent's last clean version.
		if e := a.parent[from]; len(reasons) == 0 && e != nil && stillHit(c.Cur) {
			lc, lp := a.cleanSource(c.Path, from)
			f := &fileVerdict{path: c.Path, reasons: append([]string(nil), e.Reasons...), lastClean: lc, lastPath: lp, carried: true}
			if len(f.reasons) == 0 {
				f.reasons = []string{REncrypted} // a stored report without reasons
			}
			a.files[c.Path] = f
			continue
		}
		for _, r := range reasons {
			lc, lp := a.cleanSource(c.Path, from)
			a.list(c.Path, r, lc, lp)
			if r == RCanary {
				canaries++
			}
		}
	}

	// Deleted canaries, and mass deletion.
	parentFiles := in.Unchanged + inPlace + len(dels)
	mass := len(unpairedDel) >= MassDeleteMin && float64(len(unpairedDel)) >= MassDeleteShare*float64(parentFiles)
	for _, d := range unpairedDel {
		if d.Prev != nil && d.Prev.Canary {
			lc, lp := a.cleanSource(d.Path, d.Path)
			a.list(d.Path, RCanary, lc, lp)
			canaries++
		}
		if mass {
			lc, lp := a.cleanSource(d.Path, d.Path)
			a.list(d.Path, RDeleted, lc, lp)
		}
	}
	if mass {
		i := a.indicator(IMassDelete)
		i.Count = len(unpairedDel)
		i.Weight = MassDeleteWeight
		i.Detail = fmt.Sprintf("%d of %d files deleted", len(unpairedDel), parentFiles)
	}

	// Encrypted copies under new names: new files that look like
	// ciphertext, sharing an extension that means nothing, in folders
	// where files vanished (random names, as Cerber gave them). Nothing
	// pairs them one to one, so the vanished files are listed as the
	// damage.
	var stormN int
	var stormExts []string
	unknown := map[string][]*Change{}
	for _, c := range changes {
		if c.Prev != nil || pairOf[c.Path] != nil || c.Cur.Kind != "" || !(c.Cur.High >= someHigh || c.Cur.Head) {
			continue
		}
		if e := ext(c.Path); foreignExt(e, "") {
			unknown[e] = append(unknown[e], c)
		}
	}
	for e, cs := range unknown {
		if len(cs) < RenameStormMin {
			continue
		}
		dirs := map[string]bool{}
		for _, c := range cs {
			dirs[path.Dir(c.Path)] = true
		}
		var gone []*Deletion
		for _, d := range unpairedDel {
			if dirs[path.Dir(d.Path)] {
				gone = append(gone, d)
			}
		}
		if 2*len(gone) < len(cs) {
			continue
		}
		stormN += len(cs)
		stormExts = append(stormExts, fmt.Sprintf(".%s (%d new names, %d files gone)", e, len(cs), len(gone)))
		for _, c := range cs {
			a.list(c.Path, RRenamed, "", "")
		}
		for _, d := range gone {
			lc, lp := a.cleanSource(d.Path, d.Path)
			a.list(d.Path, RDeleted, lc, lp)
		}
	}

	// Rename storms.
	for e, ps := range storm {
		if len(ps) < RenameStormMin {
			continue
		}
		stormN += len(ps)
		stormExts = append(stormExts, fmt.Sprintf(".%s (%d)", e, len(ps)))
		for _, p := range ps {
			from := p
			if pr := pairOf[p]; pr != nil {
				from = pr.del.Path
			}
			lc, lp := a.cleanSource(p, from)
			a.list(p, RRenamed, lc, lp)
		}
	}
	if stormN > 0 {
		sort.Strings(stormExts)
		i := a.indicator(IRenameStorm)
		i.Count = stormN
		i.Weight = math.Min(RenameStormWeight+0.02*float64(stormN-RenameStormMin), RenameStormMax)
		i.Detail = "files gained " + strings.Join(stormExts, ", ")
	}

	// Files turned into gpg, age or 7z.
	if len(tool) >= ToolEncryptMin {
		i := a.indicator(IToolEncrypt)
		i.Count = len(tool)
		i.Weight = ToolEncryptWeight
		i.Detail = fmt.Sprintf("%d files turned into gpg, age or 7z", len(tool))
		for _, p := range tool {
			from := p
			if pr := pairOf[p]; pr != nil {
				from = pr.del.Path
			}
			lc, lp := a.cleanSource(p, from)
			a.list(p, RToolEncrypted, lc, lp)
		}
	}

	// Ransom notes.
	var noteW float64
	var noteN int
	var noteNames []string
	for name, ps := range notes {
		dirs := map[string]bool{}
		for _, p := range ps {
			dirs[path.Dir(p)] = true
		}
		for _, p := range ps {
			lc, lp := "", ""
			if e := a.parent[p]; e != nil {
				lc, lp = e.LastClean, e.LastCleanPath
			}
			a.list(p, RNote, lc, lp)
		}
		noteN += len(ps)
		if len(dirs) >= NoteFoldersMin {
			noteW += math.Min(NoteWeight+0.1*float64(len(dirs)-NoteFoldersMin), NoteMax)
			noteNames = append(noteNames, fmt.Sprintf("%s in %d folders", name, len(dirs)))
		} else {
			noteW += LoneNoteWeight * float64(len(ps))
		}
	}
	if noteN > 0 {
		sort.Strings(noteNames)
		i := a.indicator(RNote)
		i.Count = noteN
		if len(noteNames) == 0 {
			noteW = math.Min(noteW, LoneNoteMax)
			i.Detail = "note-like text files"
		} else {
			i.Detail = strings.Join(noteNames, ", ")
		}
		i.Weight = noteW
	}

	if canaries > 0 {
		i := a.indicator(RCanary)
		i.Count = canaries
		i.Weight = math.Min(CanaryWeight*float64(canaries), CanaryMax)
		i.Detail = "decoy files planted by rempart canary plant were changed, renamed or deleted"
	}

	// Carry over what the parent listed and this snapshot did not touch.
	touched := map[string]bool{}
	for _, c := range changes {
		touched[c.Path] = true
	}
	for _, d := range dels {
		touched[d.Path] = true
	}
	if in.Parent != nil {
		for _, e := range in.Parent.Affected {
			if touched[e.Path] || a.files[e.Path] != nil {
				continue
			}
			f := &fileVerdict{path: e.Path, reasons: append([]string(nil), e.Reasons...), lastClean: e.LastClean, lastPath: e.LastCleanPath, carried: true}
			a.files[e.Path] = f
		}
	}

	// Per-file weights: each file's first content reason (or, carried,
	// its renamed reason) is worth PerFile.
	carriedN, carriedW := 0, 0.0
	for _, f := range a.files {
		sort.SliceStable(f.reasons, func(i, j int) bool { return reasonOrder[f.reasons[i]] < reasonOrder[f.reasons[j]] })
		if f.carried {
			carriedN++
			for _, r := range f.reasons {
				if contentReason(r) || r == RRenamed {
					carriedW += PerFile
					break
				}
			}
			continue
		}
		first := true
		for _, r := range f.reasons {
			if !contentReason(r) {
				continue
			}
			i := a.indicator(r)
			i.Count++
			if first {
				i.Weight += PerFile
				first = false
			}
		}
	}
	if carriedN > 0 {
		i := a.indicator(ICarried)
		i.Count = carriedN
		i.Weight = carriedW
		i.Detail = "files listed by an earlier snapshot that are still hit"
	}

	rep := Report{Version: ReportVersion, Changed: len(in.Changes), Deleted: len(in.Deleted), Verdict: Clean}
	for _, i := range a.indic {
		i.Weight = math.Round(i.Weight*1000) / 1000
		a.score += i.Weight
		rep.Indicators = append(rep.Indicators, *i)
	}
	sort.Slice(rep.Indicators, func(x, y int) bool {
		ix, iy := rep.Indicators[x], rep.Indicators[y]
		if ix.Weight != iy.Weight {
			return ix.Weight > iy.Weight
		}
		return ix.Name < iy.Name
	})
	rep.Score = math.Round(a.score*1000) / 1000
	switch {
	case rep.Score >= InfectedScore:
		rep.Verdict = Infected
	case rep.Score >= SuspectScore:
		rep.Verdict = Suspect
	}
	for _, f := range a.files {
		rep.Affected = append(rep.Affected, Affected{Path: f.path, Reasons: f.reasons, LastClean: f.lastClean, LastCleanPath: f.lastPath, Carried: f.carried})
	}
	sort.Slice(rep.Affected, func(i, j int) bool { return rep.Affected[i].Path < rep.Affected[j].Path })
	return rep
}

// pairRenames pairs new files with deleted ones: first by equal content
// (a rename or a move anywhere), then by name in the same folder when the
// new name extends the old one or replaces its extension (report.docx ->
// report.docx.locked, report.encrypted): ransomware that writes an
// encrypted copy and deletes the original. It returns the pairs and the
// deletions left.
func pairRenames(changes []*Change, dels []*Deletion) ([]pair, []*Deletion) {
	used := make([]bool, len(dels))
	byKey := map[string][]int{}
	byName := map[string][]int{} // folder + "/" + name
	byStem := map[string][]int{} // folder + "/" + name without its extension
	for i, d := range dels {
		if d.ContentKey != "" {
			byKey[d.ContentKey] = append(byKey[d.ContentKey], i)
		}
		dir, base := path.Split(d.Path)
		byName[dir+base] = append(byName[dir+base], i)
		if j := strings.LastIndexByte(base, '.'); j > 0 {
			byStem[dir+base[:j]] = append(byStem[dir+base[:j]], i)
		}
	}
	first := func(idx []int) int {
		for _, i := range idx {
			if !used[i] {
				return i
			}
		}
		return -1
	}
	var pairs []pair
	paired := map[*Change]bool{}
	for _, c := range changes {
		if c.Prev != nil || c.ContentKey == "" {
			continue
		}
		best := -1
		for _, i := range byKey[c.ContentKey] {
			if used[i] {
				continue
			}
			if best < 0 || path.Dir(dels[i].Path) == path.Dir(c.Path) && path.Dir(dels[best].Path) != path.Dir(c.Path) {
				best = i
			}
		}
		if best >= 0 {
			used[best] = true
			paired[c] = true
			pairs = append(pairs, pair{ch: c, del: dels[best], same: true})
		}
	}
	for _, c := range changes {
		if c.Prev != nil || paired[c] {
			continue
		}
		dir, nb := path.Split(c.Path)
		// The longest deleted name that the new name extends, else a
		// deleted name with the same stem (extension replaced).
		best := -1
		for k := len(nb) - 1; k > 0 && best < 0; k-- {
			best = first(byName[dir+nb[:k]])
		}
		if best < 0 {
			if j := strings.LastIndexByte(nb, '.'); j > 0 {
				for _, i := range byStem[dir+nb[:j]] {
					if !used[i] && path.Base(dels[i].Path) != nb {
						best = i
						break
					}
				}
			}
		}
		if best >= 0 {
			used[best] = true
			pairs = append(pairs, pair{ch: c, del: dels[best], same: c.ContentKey != "" && c.ContentKey == dels[best].ContentKey})
		}
	}
	var left []*Deletion
	for i, d := range dels {
		if !used[i] {
			left = append(left, d)
		}
	}
	return pairs, left
}

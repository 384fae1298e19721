package sentinel

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// Typical features, as the observer gives them.
var (
	fDocx    = Features{Kind: "zip", Valid: 1, Entropy: 7.6, Chi: 40, Blocks: 12}
	fPDF     = Features{Kind: "pdf", Valid: 1, Entropy: 7.1, Chi: 300, Blocks: 20, High: 0.1}
	fJPEG    = Features{Kind: "jpeg", Valid: 1, Entropy: 7.9, Chi: 12, Blocks: 30, High: 0.05}
	fText    = Features{Kind: "text", Entropy: 4.6, Chi: 5000, Text: 0.97, Blocks: 10}
	fCipher  = Features{Entropy: 7.999, Chi: 1, High: 1, Head: true, Blocks: 30}
	fHeader  = Features{Entropy: 7.7, Chi: 30, High: 0.03, Head: true, Blocks: 30}
	fStripes = Features{Entropy: 7.2, Chi: 200, Stripes: 1, Blocks: 30}
	fBase64  = Features{Kind: "text", Entropy: 6.0, Chi: 800, Text: 1, Encoded: true, Blocks: 30}
	fGPG     = Features{Kind: "gpg", Valid: 1, Entropy: 7.99, Chi: 1, High: 1, Head: true, Blocks: 30}
	fBroken  = Features{Kind: "zip", Valid: -1, Entropy: 7.6, Chi: 40, Blocks: 12}
	fNote    = Features{Kind: "text", Entropy: 4.8, Text: 1, Note: true, Blocks: 1}
	fCanary  = Features{Kind: "zip", Valid: 1, Entropy: 7.5, Chi: 30, Canary: true, Blocks: 3}
)

func ptr(f Features) *Features { return &f }

func changed(p string, prev, cur Features) Change {
	return Change{Path: p, Size: 100000, Cur: cur, Prev: ptr(prev), ContentKey: "k:" + p + fmt.Sprint(cur)}
}

func added(p string, cur Features, key string) Change {
	return Change{Path: p, Size: 100000, Cur: cur, ContentKey: key}
}

func deleted(p string, prev Features, key string) Deletion {
	return Deletion{Path: p, Size: 100000, Prev: ptr(prev), ContentKey: key}
}

func affected(r Report, p string) *Affected {
	for i := range r.Affected {
		if r.Affected[i].Path == p {
			return &r.Affected[i]
		}
	}
	return nil
}

func indicator(r Report, name string) *Indicator {
	for i := range r.Indicators {
		if r.Indicators[i].Name == name {
			return &r.Indicators[i]
		}
	}
	return nil
}

func TestJudgeChange(t *testing.T) {
	for _, tc := range []struct {
		name       string
		prev, cur  Features
		wantReason []string
	}{
		{"docx encrypted", fDocx, fCipher, []string{REncrypted, RMagicLost}},
		{"jpeg header encrypted", fJPEG, fHeader, []string{RPartial, RMagicLost}},
		{"text striped", fText, fStripes, []string{RPartial, RIntermittent, RMagicLost}},
		{"pdf to base64", fPDF, fBase64, []string{REncoded}},
		{"text to base64", fText, fBase64, []string{REncoded}},
		{"docx broken", fDocx, fBroken, []string{RBroken}},
		{"canary changed", fCanary, fDocx, []string{RCanary}},
		{"docx saved again", fDocx, Features{Kind: "zip", Valid: 1, Entropy: 7.7, Chi: 35, Blocks: 14}, nil},
		{"jpeg re-encoded", fJPEG, Features{Kind: "jpeg", Valid: 1, Entropy: 7.8, Chi: 20, Blocks: 25}, nil},
		{"text edited", fText, Features{Kind: "text", Entropy: 4.7, Text: 0.96, Blocks: 11}, nil},
		{"text to unknown low entropy", fText, Features{Entropy: 4.9, Blocks: 10}, nil},
		{"docx to gpg (a person)", fDocx, fGPG, nil},
		{"docx to password-protected ole2", fDocx, Features{Kind: "ole2", Valid: 1, Entropy: 7, Blocks: 5}, nil},
		{"ciphertext rewritten (sqlcipher)", fCipher, fCipher, nil},
		{"unknown low entropy encrypted", Features{Entropy: 3.6, Chi: 2000, Blocks: 3}, fCipher, []string{REncrypted}},
		{"unknown format gains compressed parts (a mail store)", Features{Entropy: 3.6, Chi: 2000, Blocks: 30}, Features{Entropy: 5, High: 0.2, Blocks: 30}, nil},
		{"unknown format grows almost all compressed", Features{Entropy: 7, High: 0.85, Blocks: 30}, Features{Entropy: 7.9, High: 0.95, Blocks: 30}, nil},
		{"unknown format, header encrypted", Features{Entropy: 3.6, Chi: 2000, Blocks: 30}, Features{Entropy: 3.9, High: 0.03, Head: true, Blocks: 30}, []string{RPartial}},
	} {
		if got := judgeChange(tc.cur, tc.prev); !slices.Equal(got, tc.wantReason) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.wantReason)
		}
	}
}

func TestJudgeNew(t *testing.T) {
	for _, tc := range []struct {
		path string
		cur  Features
		want []string
	}{
		{"a/report.docx", fCipher, []string{RExtMismatch}},
		{"a/photo.jpg", fHeader, []string{RExtMismatch}},
		{"a/data.csv", fCipher, []string{RExtMismatch}},
		{"a/report.pdf", fBase64, []string{REncoded}},
		{"a/cert.txt", fBase64, nil},  // text may be base64
		{"a/base.db", fCipher, nil},   // .db promises nothing (SQLCipher)
		{"a/blob.bin", fCipher, nil},  // nor does .bin
		{"a/report.docx", fDocx, nil}, // fine
		{"a/protected.docx", Features{Kind: "ole2", Valid: 1}, nil},
	} {
		if got := judgeNew(tc.cur, tc.path); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.path, got, tc.want)
		}
	}
}

// manyEncrypted changes n files to ciphertext in place.
func manyEncrypted(n int, prefix string) []Change {
	var cs []Change
	for i := 0; i < n; i++ {
		cs = append(cs, changed(fmt.Sprintf("%s/doc%03d.docx", prefix, i), fDocx, fCipher))
	}
	return cs
}

func TestVerdictThresholds(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want Verdict
	}{{1, Clean}, {9, Clean}, {10, Suspect}, {20, Suspect}, {29, Suspect}, {30, Infected}, {500, Infected}} {
		r := Assess(Input{Changes: manyEncrypted(tc.n, "d"), Unchanged: 1000, ParentID: "p1"})
		if r.Verdict != tc.want {
			t.Errorf("%d files encrypted: %s (score %.2f), want %s", tc.n, r.Verdict, r.Score, tc.want)
		}
		if len(r.Affected) != tc.n {
			t.Errorf("%d files encrypted: %d affected", tc.n, len(r.Affected))
		}
		if a := r.Affected[0]; a.LastClean != "p1" || a.LastCleanPath != "" || a.Carried {
			t.Errorf("affected entry %+v", a)
		}
	}
}

func TestRenames(t *testing.T) {
	// Plain renames by a person: same content, known extensions.
	var in Input
	for i := 0; i < 50; i++ {
		key := fmt.Sprint("key", i)
		in.Deleted = append(in.Deleted, deleted(fmt.Sprintf("photos/IMG_%03d.JPG", i), fJPEG, key))
		in.Changes = append(in.Changes, added(fmt.Sprintf("photos/2025/fete %03d.jpg", i), fJPEG, key))
	}
	in.Unchanged = 20
	if r := Assess(in); r.Verdict != Clean || len(r.Affected) != 0 {
		t.Errorf("a person's renames: %+v", r)
	}

	// The same files renamed to .locked, untouched: a rename storm.
	in = Input{ParentID: "p"}
	for i := 0; i < 20; i++ {
		key := fmt.Sprint("key", i)
		p := fmt.Sprintf("compta/budget%02d.xlsx", i)
		in.Deleted = append(in.Deleted, deleted(p, fDocx, key))
		in.Changes = append(in.Changes, added(p+".locked", fDocx, key))
	}
	r := Assess(in)
	if r.Verdict != Suspect || indicator(r, IRenameStorm) == nil || len(r.Affected) != 20 {
		t.Fatalf("rename storm: %+v", r)
	}
	a := affected(r, "compta/budget00.xlsx.locked")
	if a == nil || a.LastClean != "p" || a.LastCleanPath != "compta/budget00.xlsx" || !slices.Equal(a.Reasons, []string{RRenamed}) {
		t.Errorf("renamed entry: %+v", a)
	}
	// Below the storm size, renames alone say nothing.
	in.Changes, in.Deleted = in.Changes[:RenameStormMin-1], in.Deleted[:RenameStormMin-1]
	if r := Assess(in); r.Verdict != Clean {
		t.Errorf("%d renames: %s", RenameStormMin-1, r.Verdict)
	}

	// Encrypted copies, originals deleted: paired by name, compared with
	// the original's features (extension replaced or appended).
	in = Input{ParentID: "p"}
	for i := 0; i < 12; i++ {
		p := fmt.Sprintf("rh/contrat%02d.docx", i)
		in.Deleted = append(in.Deleted, deleted(p, fDocx, fmt.Sprint("k", i)))
		np := fmt.Sprintf("rh/contrat%02d.encrypted", i)
		if i%2 == 1 {
			np = p + ".id-42.[mail@evil].crypt"
		}
		in.Changes = append(in.Changes, added(np, fCipher, fmt.Sprint("c", i)))
	}
	r = Assess(in)
	if r.Verdict == Clean || indicator(r, IMassDelete) != nil {
		t.Errorf("encrypted copies: %+v", r)
	}
	a = affected(r, "rh/contrat03.docx.id-42.[mail@evil].crypt")
	if a == nil || a.LastCleanPath != "rh/contrat03.docx" || !slices.Contains(a.Reasons, REncrypted) {
		t.Errorf("copy entry: %+v", a)
	}
}

// TestRandomNames: encrypted copies under random names, originals
// deleted: nothing pairs them, but the new ciphertext with a meaningless
// extension where files vanished is a storm, and the vanished files are
// listed with their last clean snapshot.
func TestRandomNames(t *testing.T) {
	in := Input{ParentID: "p", Unchanged: 5000}
	for i := 0; i < 20; i++ {
		in.Deleted = append(in.Deleted, deleted(fmt.Sprintf("compta/f%02d.xlsx", i), fDocx, fmt.Sprint(i)))
		in.Changes = append(in.Changes, added(fmt.Sprintf("compta/Zq8x%02dLpT.x7kq", i), fCipher, fmt.Sprint("c", i)))
	}
	r := Assess(in)
	if r.Verdict != Suspect || indicator(r, IRenameStorm) == nil || indicator(r, IMassDelete) != nil {
		t.Fatalf("random names: %+v", r)
	}
	if a := affected(r, "compta/f07.xlsx"); a == nil || a.LastClean != "p" || !slices.Equal(a.Reasons, []string{RDeleted}) {
		t.Errorf("vanished original: %+v", a)
	}
	// The same new files without anything vanishing: an application's
	// cache, not an attack.
	in.Deleted = nil
	if r := Assess(in); r.Verdict != Clean {
		t.Errorf("new random files alone: %+v", r)
	}
}

func TestRansomNotes(t *testing.T) {
	var in Input
	for i := 0; i < 8; i++ {
		in.Changes = append(in.Changes, added(fmt.Sprintf("dir%d/LISEZ-MOI.txt", i), fNote, "note"))
	}
	r := Assess(in)
	if r.Verdict == Clean || indicator(r, RNote) == nil || len(r.Affected) != 8 {
		t.Errorf("notes in 8 folders: %+v", r)
	}
	// One note-like text alone is weak.
	r = Assess(Input{Changes: in.Changes[:1]})
	if r.Verdict != Clean || indicator(r, RNote) == nil {
		t.Errorf("one note: %+v", r)
	}
	// Four different lone notes stay below the threshold.
	var lone []Change
	for i := 0; i < 4; i++ {
		lone = append(lone, added(fmt.Sprintf("d%d/n%d.txt", i, i), fNote, fmt.Sprint(i)))
	}
	if r := Assess(Input{Changes: lone}); r.Verdict != Clean {
		t.Errorf("four lone notes: %s %.2f", r.Verdict, r.Score)
	}
}

func TestMassDeletion(t *testing.T) {
	var in Input
	for i := 0; i < 60; i++ {
		in.Deleted = append(in.Deleted, deleted(fmt.Sprintf("arch/f%d.pdf", i), fPDF, fmt.Sprint(i)))
	}
	in.Unchanged = 100 // 60 of 160: 37%
	in.ParentID = "p"
	r := Assess(in)
	if r.Verdict != Suspect || indicator(r, IMassDelete) == nil || len(r.Affected) != 60 || r.Affected[0].LastClean != "p" {
		t.Errorf("mass deletion: %+v", r)
	}
	in.Unchanged = 1000 // 60 of 1060: a clean-up
	if r := Assess(in); r.Verdict != Clean || len(r.Affected) != 0 {
		t.Errorf("clean-up: %+v", r)
	}
	in.Deleted, in.Unchanged = in.Deleted[:40], 10 // 40 files: too few
	if r := Assess(in); r.Verdict != Clean {
		t.Errorf("40 deletions: %s", r.Verdict)
	}
}

func TestCanary(t *testing.T) {
	in := Input{Changes: []Change{changed("s/Budget_previsionnel_2026.xlsx", fCanary, fCipher)}, Unchanged: 100, ParentID: "p"}
	r := Assess(in)
	if r.Verdict != Suspect || indicator(r, RCanary) == nil {
		t.Errorf("canary encrypted: %+v", r)
	}
	r = Assess(Input{Deleted: []Deletion{deleted("s/Paie.xlsx", fCanary, "c")}, Unchanged: 100})
	if r.Verdict != Suspect || affected(r, "s/Paie.xlsx") == nil {
		t.Errorf("canary deleted: %+v", r)
	}
	// Two canaries: infected.
	in.Changes = append(in.Changes, changed("t/Paie.xlsx", fCanary, fCanary))
	if r := Assess(in); r.Verdict != Infected {
		t.Errorf("two canaries: %s %.2f", r.Verdict, r.Score)
	}
	// Renamed by ransomware: touched. Moved with its folder: intact.
	r = Assess(Input{Deleted: []Deletion{deleted("s/Paie.xlsx", fCanary, "c")}, Changes: []Change{added("s/Paie.xlsx.locked", fCanary, "c")}})
	if r.Verdict != Suspect {
		t.Errorf("canary renamed: %+v", r)
	}
	r = Assess(Input{Deleted: []Deletion{deleted("s/Paie.xlsx", fCanary, "c")}, Changes: []Change{added("archives/s/Paie.xlsx", fCanary, "c")}})
	if r.Verdict != Clean {
		t.Errorf("canary moved with its folder: %+v", r)
	}
	// A new canary (planted) is nothing.
	if r := Assess(Input{Changes: []Change{added("s/Paie.xlsx", fCanary, "c")}}); r.Verdict != Clean {
		t.Errorf("canary planted: %+v", r)
	}
}

func TestToolEncryption(t *testing.T) {
	var in Input
	for i := 0; i < 25; i++ {
		p := fmt.Sprintf("rh/dossier%02d.pdf", i)
		in.Deleted = append(in.Deleted, deleted(p, fPDF, fmt.Sprint(i)))
		in.Changes = append(in.Changes, added(p+".gpg", fGPG, fmt.Sprint("g", i)))
	}
	in.Unchanged = 500
	r := Assess(in)
	if r.Verdict != Suspect || indicator(r, IToolEncrypt) == nil {
		t.Errorf("25 files to gpg: %+v", r)
	}
	in.Changes, in.Deleted = in.Changes[:1], in.Deleted[:1]
	if r := Assess(in); r.Verdict != Clean || len(r.Affected) != 0 {
		t.Errorf("one file to gpg: %+v", r)
	}
	// Even 500 files to gpg are never infected by that alone.
	in = Input{}
	for i := 0; i < 500; i++ {
		in.Changes = append(in.Changes, changed(fmt.Sprintf("x/%d.pdf", i), fPDF, fGPG))
	}
	if r := Assess(in); r.Verdict != Suspect {
		t.Errorf("500 files to gpg: %s", r.Verdict)
	}
}

// TestSlowAttack: 5 files per backup; the parent's list is carried, so the
// second backup is suspect, and each file keeps its last clean snapshot.
func TestSlowAttack(t *testing.T) {
	var parent *Report
	pid := "s0"
	var verdicts []Verdict
	for round := 0; round < 4; round++ {
		in := Input{Parent: parent, ParentID: pid, Unchanged: 1000}
		for i := 0; i < 5; i++ {
			in.Changes = append(in.Changes, changed(fmt.Sprintf("d/r%d-%d.docx", round, i), fDocx, fCipher))
		}
		// Something benign changes too.
		in.Changes = append(in.Changes, changed(fmt.Sprintf("d/notes%d.txt", round), fText, fText))
		r := Assess(in)
		verdicts = append(verdicts, r.Verdict)
		if len(r.Affected) != 5*(round+1) {
			t.Fatalf("round %d: %d affected", round, len(r.Affected))
		}
		if a := affected(r, "d/r0-0.docx"); a == nil || a.LastClean != "s0" || (round > 0) != a.Carried {
			t.Errorf("round %d: first file %+v", round, a)
		}
		parent, pid = &r, fmt.Sprint("s", round+1)
	}
	if !slices.Equal(verdicts, []Verdict{Clean, Suspect, Suspect, Suspect}) {
		t.Errorf("verdicts %v", verdicts)
	}
}

func TestCarryOver(t *testing.T) {
	parent := &Report{Affected: []Affected{
		{Path: "a/x.docx", Reasons: []string{REncrypted}, LastClean: "s1"},
		{Path: "a/y.docx", Reasons: []string{REncrypted}, LastClean: "s1"},
		{Path: "a/z.docx", Reasons: []string{REncrypted}, LastClean: "s1"},
		{Path: "a/w.docx.crypt", Reasons: []string{REncrypted, RRenamed}, LastClean: "s1", LastCleanPath: "a/w.docx"},
		{Path: "a/gone.docx", Reasons: []string{REncrypted}, LastClean: "s1"},
	}}
	in := Input{Parent: parent, ParentID: "s2", Changes: []Change{
		changed("a/y.docx", fCipher, fCipher), // rewritten ciphertext: still hit
		changed("a/z.docx", fCipher, fDocx),   // restored: healthy again
		changed("a/v.docx", fDocx, fCipher),   // newly hit
	}, Deleted: []Deletion{deleted("a/gone.docx", fCipher, "g")}}
	r := Assess(in)
	if a := affected(r, "a/x.docx"); a == nil || !a.Carried || a.LastClean != "s1" {
		t.Errorf("untouched: %+v", a)
	}
	if a := affected(r, "a/y.docx"); a == nil || a.LastClean != "s1" {
		t.Errorf("rewritten ciphertext: %+v", a)
	}
	if a := affected(r, "a/z.docx"); a != nil {
		t.Errorf("restored file still listed: %+v", a)
	}
	if a := affected(r, "a/v.docx"); a == nil || a.LastClean != "s2" || a.Carried {
		t.Errorf("newly hit: %+v", a)
	}
	if a := affected(r, "a/w.docx.crypt"); a == nil || a.LastCleanPath != "a/w.docx" {
		t.Errorf("renamed carried: %+v", a)
	}
	if a := affected(r, "a/gone.docx"); a != nil {
		t.Errorf("deleted file still listed: %+v", a)
	}
	if i := indicator(r, ICarried); i == nil || i.Count != 3 {
		t.Errorf("carried indicator: %+v", i)
	}

	// A file the parent listed, changed again and still hit by a new
	// comparison, keeps the parent's last clean snapshot.
	parent = &Report{Affected: []Affected{{Path: "b/h.txt", Reasons: []string{RPartial}, LastClean: "s1"}}}
	r = Assess(Input{Parent: parent, ParentID: "s2", Changes: []Change{changed("b/h.txt", fHeader, fCipher)}})
	if a := affected(r, "b/h.txt"); a == nil || a.LastClean != "s1" {
		t.Errorf("hit again: %+v", a)
	}
	// A file the parent listed, renamed now: the new name inherits.
	parent = &Report{Affected: []Affected{{Path: "c/k.pdf", Reasons: []string{REncrypted}, LastClean: "s1"}}}
	r = Assess(Input{Parent: parent, ParentID: "s2", Deleted: []Deletion{deleted("c/k.pdf", fCipher, "kk")}, Changes: []Change{added("c/k.pdf.locked", fCipher, "kk")}})
	if a := affected(r, "c/k.pdf.locked"); a == nil || a.LastClean != "s1" || a.LastCleanPath != "c/k.pdf" {
		t.Errorf("renamed after being hit: %+v", a)
	}
}

// TestDeterministic: the same input in any order gives the same report.
func TestDeterministic(t *testing.T) {
	var in Input
	in.Changes = append(in.Changes, manyEncrypted(40, "e")...)
	for i := 0; i < 15; i++ {
		in.Changes = append(in.Changes, added(fmt.Sprintf("n%d/LISEZ-MOI.txt", i), fNote, "n"))
		key := fmt.Sprint("r", i)
		in.Deleted = append(in.Deleted, deleted(fmt.Sprintf("q/f%d.pdf", i), fPDF, key))
		in.Changes = append(in.Changes, added(fmt.Sprintf("q/f%d.pdf.lock", i), fPDF, key))
	}
	want, _ := json.Marshal(Assess(in))
	r := rand.New(rand.NewPCG(1, 2))
	for k := 0; k < 10; k++ {
		r.Shuffle(len(in.Changes), func(i, j int) { in.Changes[i], in.Changes[j] = in.Changes[j], in.Changes[i] })
		r.Shuffle(len(in.Deleted), func(i, j int) { in.Deleted[i], in.Deleted[j] = in.Deleted[j], in.Deleted[i] })
		got, _ := json.Marshal(Assess(in))
		if string(got) != string(want) {
			t.Fatalf("order changed the report:\n%s\n%s", got, want)
		}
	}
	var rep Report
	if err := json.Unmarshal(want, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != Infected {
		t.Errorf("verdict %s", rep.Verdict)
	}
	if !slices.IsSortedFunc(rep.Affected, func(a, b Affected) int {
		if a.Path < b.Path {
			return -1
		}
		return 1
	}) {
		t.Error("affected not sorted")
	}
}

func TestEmptyInput(t *testing.T) {
	r := Assess(Input{})
	if !reflect.DeepEqual(r, Report{Version: ReportVersion, Verdict: Clean}) {
		t.Errorf("%+v", r)
	}
}

// FuzzAssess: arbitrary inputs (paths, features, keys, a parent) never
// make Assess panic, and the verdict follows the score.
func FuzzAssess(f *testing.F) {
	f.Add([]byte("a/b.docx\x00zip\x01"), uint8(3), uint8(2))
	f.Add([]byte("x.locked\x00\x00\xff"), uint8(40), uint8(10))
	f.Fuzz(func(t *testing.T, seed []byte, nc, nd uint8) {
		r := rand.New(rand.NewPCG(uint64(len(seed)), uint64(nc)<<8|uint64(nd)))
		pick := func() Features {
			fs := []Features{fDocx, fPDF, fJPEG, fText, fCipher, fHeader, fStripes, fBase64, fGPG, fBroken, fNote, fCanary, {}}
			return fs[r.IntN(len(fs))]
		}
		name := func() string {
			s := string(seed)
			if len(s) > 0 {
				i := r.IntN(len(s))
				s = s[:i]
			}
			dirs := []string{"", "a/", "a/b/", "/abs/", "./"}
			exts := []string{"", ".docx", ".locked", ".gpg", ".txt", "."}
			return dirs[r.IntN(len(dirs))] + s + fmt.Sprint(r.IntN(5)) + exts[r.IntN(len(exts))]
		}
		var in Input
		for i := 0; i < int(nc)%64; i++ {
			c := Change{Path: name(), Cur: pick(), ContentKey: fmt.Sprint(r.IntN(4))}
			if r.IntN(2) == 0 {
				c.Prev = ptr(pick())
			}
			in.Changes = append(in.Changes, c)
		}
		for i := 0; i < int(nd)%64; i++ {
			d := Deletion{Path: name(), ContentKey: fmt.Sprint(r.IntN(4))}
			if r.IntN(2) == 0 {
				d.Prev = ptr(pick())
			}
			in.Deleted = append(in.Deleted, d)
		}
		if r.IntN(2) == 0 {
			p := Assess(in)
			in.Parent, in.ParentID = &p, "parent"
			// A stored report may be odd: entries without reasons,
			// duplicates, unknown reasons.
			for i := 0; i < r.IntN(4); i++ {
				e := Affected{Path: name()}
				if r.IntN(2) == 0 {
					e.Reasons = []string{"from-the-future"}
				}
				p.Affected = append(p.Affected, e)
			}
		}
		rep := Assess(in)
		switch {
		case rep.Score >= InfectedScore && rep.Verdict != Infected,
			rep.Score < SuspectScore && rep.Verdict != Clean:
			t.Fatalf("score %.2f, verdict %s", rep.Score, rep.Verdict)
		}
	})
}

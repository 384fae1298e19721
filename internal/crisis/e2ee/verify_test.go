package e2ee

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// logFixture is a room where alice (coordinator), bob and carol write in
// turn, each citing the others' latest entries, as a client would.
type logFixture struct {
	*testRoom
	writers map[string]*Writer
	heads   map[string]string // sender name -> latest hash
	events  []Event
	keys    *Keyring
}

func newLogFixture(t testing.TB) *logFixture {
	f := &logFixture{testRoom: newTestRoom(t, "alice", "bob", "carol"),
		writers: map[string]*Writer{}, heads: map[string]string{}, keys: NewKeyring()}
	for _, n := range f.names {
		w := &Writer{ID: f.ids[n], Room: f.room}
		f.writers[n] = w
		f.newEpoch(n)
	}
	return f
}

// newEpoch draws the writer's chain for the room's epoch and, standing in
// for wrap and unwrap, gives it to the reader's keyring.
func (f *logFixture) newEpoch(name string) {
	w := f.writers[name]
	if err := w.NewEpoch(newDet(fmt.Sprintf("%s/%d", name, f.epoch)), f.epoch); err != nil {
		f.t.Fatal(err)
	}
	f.keys.Add(w.ID.ID(), f.epoch, w.Chain)
}

func (f *logFixture) write(name, text string) {
	var refs []string
	for _, n := range f.names {
		if h := f.heads[n]; n != name && h != "" {
			refs = append(refs, h)
		}
	}
	w := f.writers[name]
	s, h, err := w.Write(newDet(name+text), refs, testTime, Content{T: TypeLog, Kind: "fact", Text: text})
	if err != nil {
		f.t.Fatal(err)
	}
	f.heads[name] = h
	f.events = append(f.events, Event{Pos: int64(len(f.events) + 1), Body: s.Body, Sig: s.Sig})
}

func (f *logFixture) verify(events []Event, keys *Keyring) Report {
	return VerifyLog(f.rosters, events, VerifyOptions{Room: f.room, Coordinator: f.ids["alice"].SignPub(), Keys: keys})
}

// codes lists "pos:code" for every problem of a report.
func codes(r Report) []string {
	var out []string
	for _, e := range r.Entries {
		for _, p := range e.Problems {
			out = append(out, fmt.Sprintf("%d:%s", e.Pos, p.Code))
		}
	}
	return out
}

func standardLog(t *testing.T) *logFixture {
	f := newLogFixture(t)
	for k := range 3 {
		for _, n := range []string{"alice", "bob", "carol"} {
			f.write(n, fmt.Sprintf("%s %d", n, k))
		}
	}
	return f
}

func TestVerifyLogClean(t *testing.T) {
	f := standardLog(t)
	r := f.verify(f.events, f.keys)
	if !r.OK || len(r.Entries) != 9 || len(codes(r)) != 0 {
		t.Fatalf("clean log: %s %v %v", r.Summary, codes(r), r.RosterProblems)
	}
	if r.Summary != "9 entries, all signatures valid, chains complete, all decrypted" {
		t.Fatalf("summary %q", r.Summary)
	}
	if r.Entries[4].Content == nil || r.Entries[4].Content.Text != "bob 1" || r.Entries[4].Name != "bob" {
		t.Fatalf("entry 5: %+v", r.Entries[4])
	}
	// Without keys: signatures and chains only.
	if r := f.verify(f.events, nil); !r.OK || r.Entries[0].Content != nil {
		t.Fatalf("without keys: %s", r.Summary)
	}
	// Without a pinned coordinator key, the first roster's coordinator is used.
	r = VerifyLog(f.rosters, f.events, VerifyOptions{Room: f.room})
	if !r.OK {
		t.Fatalf("unpinned: %s", r.Summary)
	}
	// A member admitted later reads from position 4: partial, still OK.
	r = f.verify(f.events[3:], nil)
	if !r.OK || !r.Partial || r.UncheckedRefs == 0 {
		t.Fatalf("partial log: %s %v", r.Summary, codes(r))
	}
}

func TestVerifyLogTampering(t *testing.T) {
	f := standardLog(t)
	bobsKey := f.ids["bob"]
	mallory := mustIdentity(t, "mallory")
	ev := func(k int) Event { return f.events[k] }
	without := func(k int) []Event { return slices.Delete(slices.Clone(f.events), k, k+1) }
	with := func(k int, e Event) []Event { out := slices.Clone(f.events); out[k] = e; return out }
	alter := func(k int, edit func(string) string) Event {
		e := ev(k)
		e.Body = edit(e.Body)
		return e
	}
	resigned := func(k int, by *Identity, edit func(string) string) Event {
		e := ev(k)
		s := by.Sign(LabelEnvelope, f.room, []byte(edit(e.Body)))
		e.Body, e.Sig = s.Body, s.Sig
		return e
	}
	swapped := slices.Clone(f.events)
	swapped[0], swapped[3] = swapped[3], swapped[0] // alice 0 and alice 1
	for k := range swapped {
		swapped[k].Pos = int64(k + 1) // a server renumbering to hide it
	}
	replayed := append(slices.Clone(f.events), f.events[4])
	replayed[9].Pos = 10

	cases := []struct {
		name   string
		events []Event
		keys   *Keyring
		want   []string
	}{
		// Entry 5 is bob's second; 8 is bob's third and cites entry 5.
		{"altered body", with(4, alter(4, func(b string) string { return strings.Replace(b, testTime.Format("2006"), "2025", 1) })), nil,
			[]string{"5:bad-signature", "6:missing-ref", "7:missing-ref", "8:seq-gap"}},
		{"bit flip in sig", with(4, Event{Pos: 5, Body: ev(4).Body, Sig: flip(ev(4).Sig, 9)}), nil,
			[]string{"5:bad-signature", "6:missing-ref", "7:missing-ref", "8:seq-gap"}},
		{"forged by bob as alice", with(3, resigned(3, bobsKey, func(b string) string { return b })), nil,
			[]string{"4:bad-signature", "5:missing-ref", "6:missing-ref", "7:seq-gap"}},
		{"missing entry", without(4), nil,
			[]string{"6:position", "6:missing-ref", "7:missing-ref", "8:seq-gap"}},
		{"reordered", swapped, nil,
			// alice's seq 2 first: its refs come later; bob's and carol's
			// first entries cite alice's seq 1, now later too.
			[]string{"1:seq-gap", "1:missing-ref", "1:missing-ref", "2:missing-ref", "3:missing-ref", "4:seq-order"}},
		{"replayed", replayed, nil, []string{"10:seq-order"}},
		{"unknown sender", append(slices.Clone(f.events), func() Event {
			w := &Writer{ID: mallory, Room: f.room, Epoch: 1, Chain: Chain{Key: seed32("m")}}
			s, _, _ := w.Write(newDet("m"), nil, testTime, Content{T: TypeLog, Text: "x"})
			return Event{Pos: 10, Body: s.Body, Sig: s.Sig}
		}()), nil, []string{"10:unknown-sender"}},
		{"wrong room", with(2, resigned(2, f.ids["carol"], func(b string) string { return strings.Replace(b, f.room, "elsewhere", 1) })), nil,
			[]string{"3:wrong-room", "4:missing-ref", "5:missing-ref", "6:seq-gap"}},
		{"malformed", with(8, Event{Pos: 9, Body: `{"v":1,`, Sig: ev(8).Sig}), nil, []string{"9:malformed"}},
		{"ct altered, re-signed by its author", with(8, resigned(8, f.ids["carol"], func(b string) string {
			e, _ := ParseEnvelope([]byte(b))
			return strings.Replace(b, e.CT, flip(e.CT, 3), 1)
		})), f.keys, []string{"9:undecryptable"}},
		{"no key for carol", f.events, func() *Keyring {
			k := NewKeyring()
			k.Add(f.ids["alice"].ID(), 1, f.keys.chains[ringKey{f.ids["alice"].ID(), 1}].base)
			k.Add(f.ids["bob"].ID(), 1, f.keys.chains[ringKey{f.ids["bob"].ID(), 1}].base)
			return k
		}(), []string{"3:undecryptable", "6:undecryptable", "9:undecryptable"}},
	}
	for _, c := range cases {
		r := f.verify(c.events, c.keys)
		got := codes(r)
		if r.OK || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v (%s)", c.name, got, c.want, r.Summary)
		}
		if !strings.Contains(r.Summary, "PROBLEMS") {
			t.Errorf("%s: summary %q", c.name, r.Summary)
		}
	}
}

func TestVerifyLogEpochs(t *testing.T) {
	f := newLogFixture(t)
	f.write("alice", "a")
	f.write("carol", "c")
	f.remove("carol") // epoch 2
	for _, n := range f.names {
		f.newEpoch(n)
	}
	f.write("bob", "b")
	f.write("alice", "a2")
	if r := f.verify(f.events, f.keys); !r.OK {
		t.Fatalf("after removal: %s %v %v", r.Summary, codes(r), r.RosterProblems)
	}
	// Carol, removed, writes in epoch 2 anyway (say, a server that let her).
	cw := f.writers["carol"]
	cw.Epoch = 2
	s, _, _ := cw.Write(newDet("late"), nil, testTime, Content{T: TypeChat, Text: "still here"})
	events := append(slices.Clone(f.events), Event{Pos: 5, Body: s.Body, Sig: s.Sig})
	r := f.verify(events, f.keys)
	if got := codes(r); !slices.Equal(got, []string{"5:not-member", "5:undecryptable"}) {
		t.Fatalf("removed member writing: %v", got)
	}

	// Rosters: one signed by someone else, one skipping a version, an epoch
	// without a removal.
	bad := slices.Clone(f.rosters)
	bad[1] = f.ids["bob"].Sign(LabelRoster, f.room, []byte(bad[1].Body))
	r = VerifyLog(bad, f.events, VerifyOptions{Room: f.room, Coordinator: f.ids["alice"].SignPub()})
	if r.OK || len(r.RosterProblems) != 1 || !strings.Contains(r.RosterProblems[0].Detail, "not signed by the coordinator") {
		t.Fatalf("forged roster: %v", r.RosterProblems)
	}
	f.version++ // skip one
	f.epoch++   // and start an epoch without a removal
	f.signRoster()
	r = f.verify(f.events, nil)
	if len(r.RosterProblems) != 2 {
		t.Fatalf("roster rules: %v", r.RosterProblems)
	}
	// A pinned key that is not the coordinator's refuses every roster.
	r = VerifyLog(f.rosters, f.events, VerifyOptions{Room: f.room, Coordinator: f.ids["bob"].SignPub()})
	if r.OK || len(r.RosterProblems) != len(f.rosters) || codes(r)[0] != "1:unknown-sender" {
		t.Fatalf("wrong pinned key: %v %v", r.RosterProblems, codes(r))
	}
}

func TestKeyring(t *testing.T) {
	k := NewKeyring()
	c0 := Chain{Key: seed32("k")}
	c5, _ := c0.AdvanceTo(5)
	k.Add("s", 1, c5)
	if _, err := k.At("s", 1, 4); err == nil {
		t.Fatal("read before the chain's start")
	}
	k.Add("s", 1, c0) // an earlier chain (shared history) reads more
	for _, i := range []int64{7, 2, 9, 0} {
		c, err := k.At("s", 1, i)
		want, _ := c0.AdvanceTo(i)
		if err != nil || string(c.Key) != string(want.Key) {
			t.Fatalf("At(%d): %v", i, err)
		}
	}
	if _, err := k.At("s", 2, 0); err == nil {
		t.Fatal("a chain of another epoch used")
	}
}

// FuzzOpenEnvelope feeds arbitrary bodies and signatures to Open and
// VerifyLog: malformed input must give an error, never a panic.
func FuzzOpenEnvelope(f *testing.F) {
	tr := newTestRoom(f, "alice")
	alice := tr.ids["alice"]
	ck := Chain{Key: seed32("fuzz")}
	s, err := alice.Seal(newDet("fuzz"), Header{Room: tr.room, Epoch: 1, Seq: 1, Time: testTime}, &ck, Content{T: TypeLog, Text: "x"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Body, s.Sig)
	f.Add(`{"v":1,"room":"`+tr.room+`","i":-1,"seq":-5}`, s.Sig)
	f.Add(`{"v":1,"nonce":"AAAA","ct":"~~"}`, "")
	f.Add(`null`, "!")
	f.Fuzz(func(t *testing.T, body, sig string) {
		signed := Signed{Body: body, Sig: sig}
		_, _, _ = Open(signed, alice.SignPub(), tr.room, Chain{Key: seed32("fuzz")})
		// Re-signed by the author, the body passes the signature and
		// reaches decryption and content parsing.
		_, _, _ = Open(alice.Sign(LabelEnvelope, tr.room, []byte(body)), alice.SignPub(), tr.room, Chain{Key: seed32("fuzz")})
		keys := NewKeyring()
		keys.Add(alice.ID(), 1, Chain{Key: seed32("fuzz")})
		r := VerifyLog(tr.rosters, []Event{{Pos: 1, Body: body, Sig: sig}, {Pos: 2, Body: s.Body, Sig: s.Sig}},
			VerifyOptions{Room: tr.room, Keys: keys})
		if len(r.Entries) != 2 {
			t.Fatal("an entry went missing from the report")
		}
	})
}

// BenchmarkVerifyLog verifies and decrypts a logbook of 10,000 entries
// from three authors (the order of size of the "room opens in 2 s" target).
func BenchmarkVerifyLog(b *testing.B) {
	f := newLogFixture(b)
	for k := range 10000 {
		f.write(f.names[k%3], fmt.Sprintf("entry %d", k))
	}
	b.ResetTimer()
	for range b.N {
		keys := NewKeyring()
		for _, n := range f.names {
			keys.Add(f.ids[n].ID(), 1, f.keys.chains[ringKey{f.ids[n].ID(), 1}].base)
		}
		if r := VerifyLog(f.rosters, f.events, VerifyOptions{Room: f.room, Keys: keys}); !r.OK {
			b.Fatal(r.Summary)
		}
	}
}

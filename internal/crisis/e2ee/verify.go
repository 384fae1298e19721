package e2ee

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Verification of a logbook (docs/crisis-e2ee.md, "Verification of a
// logbook"): what a client and the export check, entry by entry, so that a
// forged, altered, removed or reordered entry shows and says why. The relay
// does not use this; the browser has its own equivalent, held to the same
// results by the tests of both sides.

// Event is one stored envelope as the relay serves it: its position in the
// room and the signed body.
type Event struct {
	Pos  int64
	Body string
	Sig  string
}

// Problem codes, stable so that tests and the export can match on them.
const (
	ProblemMalformed     = "malformed"      // body does not parse or has an unknown version
	ProblemWrongRoom     = "wrong-room"     // envelope of another room
	ProblemUnknownSender = "unknown-sender" // sender in no verified roster
	ProblemNotMember     = "not-member"     // sender known, but not a member at the envelope's epoch
	ProblemBadSignature  = "bad-signature"  // signature does not verify with the sender's key
	ProblemPosition      = "position"       // positions missing or out of order
	ProblemSeqGap        = "seq-gap"        // sender's seq skips: entries missing before this one
	ProblemSeqOrder      = "seq-order"      // sender's seq repeats or goes back
	ProblemPrevMismatch  = "prev-mismatch"  // prev is not the hash of the sender's previous entry
	ProblemMissingRef    = "missing-ref"    // a ref names no earlier entry
	ProblemUndecryptable = "undecryptable"  // keys were given, but the content does not decrypt
)

// Problem is one reason an entry (or a roster) fails.
type Problem struct {
	Code   string
	Detail string
}

func (p Problem) String() string { return p.Code + ": " + p.Detail }

// EntryReport is the verdict on one event.
type EntryReport struct {
	Pos      int64
	Hash     string
	Sender   string // member id as written in the body (even if unverified)
	Name     string // display name from the roster, when known
	Epoch    int64
	Seq      int64
	Time     string
	OK       bool
	Problems []Problem
	Content  *Content // set when keys were given and the content decrypted
}

// Report is the verdict on a logbook.
type Report struct {
	OK             bool
	Entries        []EntryReport
	RosterProblems []Problem
	// Partial is true when the log does not start at position 1 (a member
	// admitted later): the first entry of each sender starts its chain, and
	// refs to entries before the log cannot be checked (UncheckedRefs).
	Partial       bool
	UncheckedRefs int
	Summary       string
}

// VerifyOptions says what the verifier trusts and holds.
type VerifyOptions struct {
	Room string
	// Coordinator is the pinned coordinator signing key (from the
	// invitation link). Nil takes it from the first roster, which then only
	// proves that the rosters are consistent with each other.
	Coordinator []byte
	// Keys, when set, are used to decrypt every entry; an entry that does
	// not decrypt is reported.
	Keys *Keyring
}

// member is what the rosters say about one member.
type member struct {
	sign       []byte
	name       string
	since      int64 // epoch of admission
	lastListed int64 // last epoch of a roster that lists it
}

// VerifyLog checks rosters (in version order) and events (in position
// order) and reports on every entry.
func VerifyLog(rosters []Signed, events []Event, opts VerifyOptions) Report {
	var rep Report
	members, rp := verifyRosters(rosters, opts)
	rep.RosterProblems = rp

	type head struct {
		seq  int64
		hash string
	}
	heads := map[string]head{} // sender -> last valid entry
	seen := map[string]bool{}  // hashes of valid entries so far
	all := map[string]int64{}  // every hash -> pos, to tell "reordered" from "missing"
	rep.Partial = len(events) > 0 && events[0].Pos != 1
	for _, ev := range events {
		all[Hash([]byte(ev.Body))] = ev.Pos
	}

	var prevPos int64
	for k, ev := range events {
		er := EntryReport{Pos: ev.Pos, Hash: Hash([]byte(ev.Body))}
		add := func(code, format string, a ...any) {
			er.Problems = append(er.Problems, Problem{Code: code, Detail: fmt.Sprintf(format, a...)})
		}
		if k > 0 {
			switch {
			case ev.Pos <= prevPos:
				add(ProblemPosition, "position %d after %d", ev.Pos, prevPos)
			case ev.Pos > prevPos+1:
				add(ProblemPosition, "%s missing", span("position", prevPos+1, ev.Pos-1))
			}
		}
		prevPos = ev.Pos
		e := verifyEntry(&er, ev, opts, members, add)
		if e != nil {
			// Chain and refs, only for entries whose signature holds: a
			// forged entry must not move a chain forward.
			h, known := heads[e.Sender]
			switch {
			case !known && rep.Partial:
				if e.Seq == 1 && e.Prev != "" {
					add(ProblemPrevMismatch, "seq 1 must have an empty prev")
				}
			case !known && e.Seq != 1:
				add(ProblemSeqGap, "first entry of %s has seq %d: %s missing", er.Name, e.Seq, span("entry", 1, e.Seq-1))
			case !known && e.Prev != "":
				add(ProblemPrevMismatch, "seq 1 must have an empty prev")
			case known && e.Seq <= h.seq:
				add(ProblemSeqOrder, "seq %d after seq %d of the same sender (repeated or reordered)", e.Seq, h.seq)
			case known && e.Seq > h.seq+1:
				add(ProblemSeqGap, "seq %d after seq %d: %s of %s missing", e.Seq, h.seq, span("entry", h.seq+1, e.Seq-1), er.Name)
			case known && e.Prev != h.hash:
				add(ProblemPrevMismatch, "prev %q is not the hash of seq %d (%s)", e.Prev, h.seq, h.hash)
			}
			if !known || e.Seq > h.seq {
				heads[e.Sender] = head{seq: e.Seq, hash: er.Hash}
			}
			for _, r := range e.Refs {
				if seen[r] {
					continue
				}
				pos, inLog := all[r]
				switch {
				case inLog && pos >= ev.Pos:
					add(ProblemMissingRef, "ref %s is entry %d, which comes later (reordered)", r, pos)
				case inLog:
					add(ProblemMissingRef, "ref %s is entry %d, which fails verification", r, pos)
				case rep.Partial:
					rep.UncheckedRefs++
				default:
					add(ProblemMissingRef, "ref %s names no entry of this log", r)
				}
			}
			seen[er.Hash] = true
			if opts.Keys != nil {
				c, err := opts.Keys.At(e.Sender, e.Epoch, e.I)
				if err == nil {
					er.Content, err = decryptContent(e, c)
				}
				if err != nil {
					add(ProblemUndecryptable, "%v", err)
				}
			}
		}
		rep.Entries = append(rep.Entries, er)
	}

	rep.OK = len(rep.RosterProblems) == 0
	for k := range rep.Entries {
		rep.Entries[k].OK = len(rep.Entries[k].Problems) == 0
		rep.OK = rep.OK && rep.Entries[k].OK
	}
	rep.Summary = summarize(rep, opts.Keys != nil)
	return rep
}

// verifyEntry runs the checks that do not depend on other entries and
// returns the envelope if its signature verifies, nil otherwise.
func verifyEntry(er *EntryReport, ev Event, opts VerifyOptions, members map[string]*member,
	add func(code, format string, a ...any)) *Envelope {
	e, err := ParseEnvelope([]byte(ev.Body))
	if err != nil {
		add(ProblemMalformed, "%v", err)
		return nil
	}
	er.Sender, er.Epoch, er.Seq, er.Time = e.Sender, e.Epoch, e.Seq, e.Time
	if e.Room != opts.Room {
		add(ProblemWrongRoom, "room %q, expected %q", e.Room, opts.Room)
		return nil
	}
	m := members[e.Sender]
	if m == nil {
		add(ProblemUnknownSender, "%s is in no verified roster", e.Sender)
		return nil
	}
	er.Name = m.name
	if err := Verify(m.sign, LabelEnvelope, opts.Room, []byte(ev.Body), ev.Sig); err != nil {
		add(ProblemBadSignature, "signature of %s (%s) does not verify: altered or forged", m.name, e.Sender)
		return nil
	}
	if e.Epoch < m.since || e.Epoch > m.lastListed {
		add(ProblemNotMember, "%s was a member in epochs %d to %d, entry is of epoch %d", m.name, m.since, m.lastListed, e.Epoch)
	}
	return e
}

// verifyRosters checks the roster sequence and returns what it says about
// members. Rosters that fail are reported and not used.
func verifyRosters(rosters []Signed, opts VerifyOptions) (map[string]*member, []Problem) {
	var probs []Problem
	bad := func(v int, format string, a ...any) {
		probs = append(probs, Problem{Code: "roster", Detail: fmt.Sprintf("roster %d: ", v) + fmt.Sprintf(format, a...)})
	}
	members := map[string]*member{}
	coord := opts.Coordinator
	var prev *Roster
	proofs := map[string]bool{} // verified join proofs
	for k, s := range rosters {
		r, err := ParseRoster([]byte(s.Body))
		if err != nil {
			bad(k+1, "%v", err)
			continue
		}
		if r.Room != opts.Room {
			bad(int(r.Version), "room %q, expected %q", r.Room, opts.Room)
			continue
		}
		if coord == nil {
			for _, m := range r.Members {
				if m.ID == r.Coordinator {
					if key, err := decodeKey(m.Sign); err == nil && MemberID(key) == m.ID {
						coord = key
					}
				}
			}
			if coord == nil {
				bad(int(r.Version), "coordinator %s is not listed with a valid key", r.Coordinator)
				continue
			}
		}
		if r.Coordinator != MemberID(coord) {
			bad(int(r.Version), "coordinator %s is not the pinned coordinator %s", r.Coordinator, MemberID(coord))
			continue
		}
		if err := Verify(coord, LabelRoster, opts.Room, []byte(s.Body), s.Sig); err != nil {
			bad(int(r.Version), "not signed by the coordinator: %v", err)
			continue
		}
		if prev != nil {
			if r.Version != prev.Version+1 {
				bad(int(r.Version), "follows version %d", prev.Version)
			}
			grew := len(r.Removed) > len(prev.Removed)
			switch {
			case r.Epoch == prev.Epoch+1 && !grew:
				bad(int(r.Version), "epoch %d without a removal", r.Epoch)
			case r.Epoch == prev.Epoch && grew:
				bad(int(r.Version), "a removal without a new epoch")
			case r.Epoch != prev.Epoch && r.Epoch != prev.Epoch+1:
				bad(int(r.Version), "epoch %d after epoch %d", r.Epoch, prev.Epoch)
			}
		}
		removed := map[string]bool{}
		for _, id := range r.Removed {
			removed[id] = true
		}
		for _, m := range r.Members {
			key, err := decodeKey(m.Sign)
			if err != nil || MemberID(key) != m.ID {
				bad(int(r.Version), "member %s: signing key does not match the id", m.ID)
				continue
			}
			if removed[m.ID] {
				bad(int(r.Version), "member %s is both listed and removed", m.ID)
			}
			pk := m.ID + "\x00" + m.Name + "\x00" + m.DH + "\x00" + m.Proof
			if !proofs[pk] {
				dh, derr := B64.DecodeString(m.DH)
				if derr != nil || VerifyJoinProof(opts.Room, m.Name, key, dh, m.Proof) != nil {
					bad(int(r.Version), "member %s: join proof does not verify", m.ID)
					continue
				}
				proofs[pk] = true
			}
			if old := members[m.ID]; old != nil {
				old.lastListed = max(old.lastListed, r.Epoch)
				old.name = m.Name
				continue
			}
			members[m.ID] = &member{sign: key, name: m.Name, since: m.Since, lastListed: r.Epoch}
		}
		prev = r
	}
	return members, probs
}

// span says "entry 4 is" or "entries 4 to 6 are".
func span(what string, from, to int64) string {
	if from == to {
		return fmt.Sprintf("%s %d is", what, from)
	}
	plural := what + "s"
	if strings.HasSuffix(what, "y") {
		plural = strings.TrimSuffix(what, "y") + "ies"
	}
	return fmt.Sprintf("%s %d to %d are", plural, from, to)
}

// summarize writes the line at the top of an export.
func summarize(rep Report, decrypted bool) string {
	counts := map[string]int{}
	for _, e := range rep.Entries {
		for _, p := range e.Problems {
			counts[p.Code]++
		}
	}
	n := len(rep.Entries)
	if rep.OK {
		s := fmt.Sprintf("%d entries, all signatures valid, chains complete", n)
		if decrypted {
			s += ", all decrypted"
		}
		if rep.Partial {
			s += fmt.Sprintf(" (log starts at position %d; %d refs point before it)", rep.Entries[0].Pos, rep.UncheckedRefs)
		}
		return s
	}
	codes := make([]string, 0, len(counts))
	for c := range counts {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, 0, len(codes)+1)
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d %s", counts[c], c))
	}
	if len(rep.RosterProblems) > 0 {
		parts = append(parts, fmt.Sprintf("%d roster problems", len(rep.RosterProblems)))
	}
	return fmt.Sprintf("%d entries, PROBLEMS: %s", n, strings.Join(parts, ", "))
}

// Keyring holds chain keys by (sender, epoch) for reading: the earliest
// chain received (how far back one can read) and a cursor at the last index
// read, so reading a log in order hashes each step once. Not safe for
// concurrent use.
type Keyring struct {
	chains map[ringKey]*ringEntry
}

type ringKey struct {
	sender string
	epoch  int64
}

type ringEntry struct{ base, cur Chain }

// ErrNoKey is returned when the keyring holds no chain for a sender and
// epoch, or only one that starts after the index asked for.
var ErrNoKey = errors.New("e2ee: no key for this entry")

// NewKeyring returns an empty keyring.
func NewKeyring() *Keyring { return &Keyring{chains: map[ringKey]*ringEntry{}} }

// Add records a chain received for (sender, epoch); of two chains, the one
// with the lower index is kept (it reads more).
func (k *Keyring) Add(sender string, epoch int64, c Chain) {
	key := ringKey{sender, epoch}
	if old := k.chains[key]; old != nil && old.base.Index <= c.Index {
		return
	}
	k.chains[key] = &ringEntry{base: c, cur: c}
}

// At returns the chain of (sender, epoch) at index i.
func (k *Keyring) At(sender string, epoch, i int64) (Chain, error) {
	e := k.chains[ringKey{sender, epoch}]
	if e == nil {
		return Chain{}, fmt.Errorf("%w: no chain key of %s for epoch %d", ErrNoKey, sender, epoch)
	}
	if i < int64(e.base.Index) {
		return Chain{}, fmt.Errorf("%w: key of %s for epoch %d starts at index %d, entry has index %d", ErrNoKey, sender, epoch, e.base.Index, i)
	}
	from := e.cur
	if i < int64(from.Index) {
		from = e.base
	}
	c, err := from.AdvanceTo(i)
	if err != nil {
		return Chain{}, err
	}
	e.cur = c
	return c, nil
}

// Package retention owns what the server keeps of each tenant and for how
// long, without being able to read a byte of it: a time-based policy applied
// to the times the server itself received the snapshots, retention locks
// that nobody can shorten, and the garbage collection of packs that no
// remaining snapshot names in its plain pack list.
//
// Retention is by time on purpose: a rule such as "keep the last 30" would
// let an attacker holding an agent's credentials push every clean snapshot
// out with thirty garbage ones. Here a snapshot received on a given day
// stays the representative of that day (the first one received wins), so a
// flood of new snapshots cannot displace an older one.
package retention

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/vault/prune"
)

// Period is a retention period written the way people say it: "14d",
// "12w", "6m" (months), "1y". Zero means the rule is off.
type Period time.Duration

// UnmarshalJSON reads "14d", "6m", "1y"...
func (p *Period) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a period is a string such as \"14d\", \"12w\", \"6m\" or \"1y\"")
	}
	d, err := prune.ParseDuration(s)
	if err != nil {
		return err
	}
	*p = Period(d)
	return nil
}

// MarshalJSON writes the period back as "14d", "1y"...
func (p Period) MarshalJSON() ([]byte, error) {
	return json.Marshal(p.String())
}

func (p Period) String() string { return prune.FormatDuration(time.Duration(p)) }

// Policy says which snapshots a tenant keeps. A snapshot is kept while any
// rule keeps it; an empty policy keeps everything, for ever (the safe
// default until an operator decides otherwise).
type Policy struct {
	// All keeps every snapshot received within this period.
	All Period `json:"keep_all,omitempty"`
	// Daily, Weekly, Monthly and Yearly keep, for each source, the first
	// snapshot received in each calendar day (ISO week, month, year) of
	// that period.
	Daily   Period `json:"daily,omitempty"`
	Weekly  Period `json:"weekly,omitempty"`
	Monthly Period `json:"monthly,omitempty"`
	Yearly  Period `json:"yearly,omitempty"`
}

// ParsePolicy reads a policy from JSON; "{}" (or nothing) is the empty
// policy. Unknown keys are refused so that a typo does not silently keep
// less than intended.
func ParsePolicy(raw []byte) (Policy, error) {
	var p Policy
	if len(bytes.TrimSpace(raw)) == 0 {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("retention policy: %w (keys: keep_all, daily, weekly, monthly, yearly; values such as \"14d\", \"12w\", \"6m\", \"1y\")", err)
	}
	return p, nil
}

// JSON is the policy as stored.
func (p Policy) JSON() json.RawMessage {
	b, _ := json.Marshal(p) // cannot fail: strings only
	return b
}

// Forever reports whether the policy keeps everything.
func (p Policy) Forever() bool { return p == Policy{} }

func (p Policy) String() string {
	if p.Forever() {
		return "keep everything"
	}
	var parts []string
	for _, r := range p.rules() {
		if r.period != 0 {
			parts = append(parts, r.name+" "+r.period.String())
		}
	}
	return strings.Join(parts, ", ")
}

// Looser reports whether next keeps less than p in any respect, which the
// server delays (see Service.SetPolicy) so that a stolen admin password
// cannot make backups vanish at once.
func (p Policy) Looser(next Policy) bool {
	if p.Forever() {
		return !next.Forever()
	}
	if next.Forever() {
		return false
	}
	a, b := p.rules(), next.rules()
	for i := range a {
		if b[i].period < a[i].period {
			return true
		}
	}
	return false
}

type rule struct {
	name   string
	period Period
	bucket func(time.Time) string // "" for keep_all
}

func (p Policy) rules() []rule {
	return []rule{
		{"keep_all", p.All, nil},
		{"daily", p.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{"weekly", p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }},
		{"monthly", p.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
		{"yearly", p.Yearly, func(t time.Time) string { return t.Format("2006") }},
	}
}

// Snapshot is what the policy looks at: no content, only the server's own
// facts about a snapshot file.
type Snapshot struct {
	Name      string    `json:"name"`
	Received  time.Time `json:"received"`
	Source    string    `json:"source"`              // who sent it (an agent); rules apply per source
	LockUntil time.Time `json:"lock_until,omitzero"` // zero: not locked
	Hold      bool      `json:"hold,omitempty"`      // frozen (e.g. the last clean one before an alert)
}

// Decision is the fate of one snapshot under a policy.
type Decision struct {
	Snapshot
	Keep    bool     `json:"keep"`
	Reasons []string `json:"reasons,omitempty"` // why it is kept: "keep_all", "daily 2026-11-02", "latest", "locked", "hold"
}

// Decide applies the policy at now, with calendar periods in loc. Besides
// the rules, the latest snapshot of each source is always kept (a machine
// that stopped backing up keeps its last backup), and a locked or held
// snapshot is kept whatever the rules say. The result is in the order of
// snaps.
func (p Policy) Decide(snaps []Snapshot, now time.Time, loc *time.Location) []Decision {
	if loc == nil {
		loc = time.Local
	}
	out := make([]Decision, len(snaps))
	order := make([]int, len(snaps))
	for i, s := range snaps {
		out[i].Snapshot = s
		order[i] = i
	}
	// Oldest first, so that the first snapshot of each period wins.
	sort.SliceStable(order, func(a, b int) bool {
		x, y := snaps[order[a]], snaps[order[b]]
		if !x.Received.Equal(y.Received) {
			return x.Received.Before(y.Received)
		}
		return x.Name < y.Name
	})
	keep := func(i int, why string) {
		out[i].Keep = true
		out[i].Reasons = append(out[i].Reasons, why)
	}
	if p.Forever() {
		for i := range out {
			keep(i, "policy keeps everything")
		}
		return out
	}
	latest := map[string]int{}
	seen := map[string]bool{}
	for _, i := range order {
		s := snaps[i]
		latest[s.Source] = i
		age := now.Sub(s.Received)
		for _, r := range p.rules() {
			if r.period == 0 || age >= time.Duration(r.period) {
				continue
			}
			if r.bucket == nil {
				keep(i, r.name)
				continue
			}
			b := r.bucket(s.Received.In(loc))
			key := r.name + "\x00" + s.Source + "\x00" + b
			if !seen[key] {
				seen[key] = true
				keep(i, r.name+" "+b)
			}
		}
	}
	for _, i := range latest {
		keep(i, "latest")
	}
	for i, s := range snaps {
		if s.Hold {
			keep(i, "hold")
		}
		if s.LockUntil.After(now) {
			keep(i, "locked until "+s.LockUntil.In(loc).Format(time.DateTime))
		}
	}
	return out
}

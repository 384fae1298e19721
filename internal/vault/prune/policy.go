// Package prune owns retention: which snapshots a policy keeps (forget),
// and the removal of packs that no remaining snapshot uses (prune). Packs
// are never rewritten: a pack goes away only when nothing in it is needed,
// so every remaining snapshot's plain pack list stays exact and a server
// with object lock can follow the same rule.
package prune

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rempart/rempart/internal/vault/snapshot"
)

// Policy says which snapshots to keep. A snapshot is kept when any rule
// keeps it. A policy with no rule keeps everything (forget refuses it).
type Policy struct {
	Within  time.Duration `json:"keep_within,omitempty"`
	Last    int           `json:"keep_last,omitempty"`
	Hourly  int           `json:"keep_hourly,omitempty"`
	Daily   int           `json:"keep_daily,omitempty"`
	Weekly  int           `json:"keep_weekly,omitempty"`
	Monthly int           `json:"keep_monthly,omitempty"`
	Yearly  int           `json:"keep_yearly,omitempty"`
	Tags    []string      `json:"keep_tags,omitempty"`
}

// Empty reports whether the policy has no rule.
func (p Policy) Empty() bool {
	return p.Within == 0 && p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 && len(p.Tags) == 0
}

// Decision is the fate of one snapshot.
type Decision struct {
	Snapshot *snapshot.Snapshot
	Keep     bool
	Reasons  []string
}

// ParseDuration reads a retention period: a number and a unit, repeated:
// h (hours), d (days), w (weeks), m (months of 30 days), y (years of 365
// days), e.g. "14d", "12w", "6m", "1y6m", "36h". Note that "m" is months,
// not minutes: retention is counted in days. Go durations such as "90m30s"
// are accepted too when they are not of that form.
func ParseDuration(s string) (time.Duration, error) {
	const maxTotal = 200 * 365 * 24 * time.Hour
	bad := fmt.Errorf("invalid duration %q: use e.g. 14d, 12w, 6m (months), 1y or 36h", s)
	var total time.Duration
	num, digits := 0, 0
	ok := s != ""
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			num = num*10 + int(c-'0')
			digits++
			if digits > 7 {
				return 0, fmt.Errorf("duration %q is too long", s)
			}
		case digits > 0 && strings.ContainsRune("hdwmy", c):
			unit := map[rune]time.Duration{'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'm': 30 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}[c]
			if time.Duration(num) > maxTotal/unit {
				return 0, fmt.Errorf("duration %q is too long (more than 200 years)", s)
			}
			total += time.Duration(num) * unit
			if total > maxTotal {
				return 0, fmt.Errorf("duration %q is too long (more than 200 years)", s)
			}
			num, digits = 0, 0
		default:
			ok = false
		}
		if !ok {
			break
		}
	}
	if ok && digits == 0 && total > 0 {
		return total, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return 0, bad
		}
		return d, nil
	}
	return 0, bad
}

// FormatDuration writes a retention period the way people say it: "14d",
// "36h", or a Go duration for anything finer.
func FormatDuration(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d > 0 && d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

type bucketRule struct {
	name  string
	count int
	key   func(time.Time) string
}

// Apply decides for one group of snapshots (same host and paths), as of
// now. Buckets are counted from the newest snapshot backwards; the newest
// snapshot of each hour/day/week/month/year is the one kept.
func Apply(p Policy, group []*snapshot.Snapshot, now time.Time) []Decision {
	list := append([]*snapshot.Snapshot(nil), group...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].Time.After(list[j].Time) })
	out := make([]Decision, len(list))
	rules := []bucketRule{
		{"hourly", p.Hourly, func(t time.Time) string { return t.Format("2006-01-02 15") }},
		{"daily", p.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{"weekly", p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) }},
		{"monthly", p.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
		{"yearly", p.Yearly, func(t time.Time) string { return t.Format("2006") }},
	}
	used := make([]int, len(rules))
	last := make([]string, len(rules))
	for i, s := range list {
		d := Decision{Snapshot: s}
		if i < p.Last {
			d.Reasons = append(d.Reasons, fmt.Sprintf("last %d", p.Last))
		}
		if p.Within > 0 && now.Sub(s.Time) <= p.Within {
			d.Reasons = append(d.Reasons, "within "+FormatDuration(p.Within))
		}
		for _, tag := range p.Tags {
			if s.HasTag(tag) {
				d.Reasons = append(d.Reasons, "tag "+tag)
			}
		}
		lt := s.Time.Local()
		for r, rule := range rules {
			if rule.count == 0 {
				continue
			}
			k := rule.key(lt)
			if k != last[r] && (rule.count < 0 || used[r] < rule.count) {
				last[r] = k
				used[r]++
				d.Reasons = append(d.Reasons, rule.name+" "+k)
			}
		}
		d.Keep = len(d.Reasons) > 0
		out[i] = d
	}
	return out
}

// GroupKey is how snapshots are grouped for a policy: host and paths.
func GroupKey(s *snapshot.Snapshot) string {
	return s.Host + "\x00" + strings.Join(s.Paths, "\x00")
}

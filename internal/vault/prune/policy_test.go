package prune_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/vault/prune"
	"github.com/rempart/rempart/internal/vault/snapshot"
)

const day = 24 * time.Hour

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"14d":   14 * day,
		"2w":    14 * day,
		"1y":    365 * day,
		"6m":    180 * day, // months, as documented
		"1y6m":  545 * day,
		"36h":   36 * time.Hour,
		"1d12h": 36 * time.Hour,
		"90d":   90 * day,
		"1h30s": time.Hour + 30*time.Second, // a Go duration
	} {
		got, err := prune.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "abc", "5x", "-5h", "-3d", "0d", "14", "1.5d", "100001d", "7 d", "d7"} {
		if got, err := prune.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}

// TestParseDurationOverflow: each number is bounded, but their sum is not:
// a duration must never come out negative (a negative keep-within keeps
// nothing at all).
func TestParseDurationOverflow(t *testing.T) {
	for _, in := range []string{"99999y99999y99999y", "100000y100000y100000y100000y"} {
		if got, err := prune.ParseDuration(in); err == nil && got <= 0 {
			t.Errorf("ParseDuration(%q) = %v without error", in, got)
		}
	}
}

// policySnapshots are twelve snapshots in local time, newest first; "now"
// is Friday 2026-03-20 12:00. ISO weeks: 2026-03-16 starts W12, and W01
// of 2026 starts on Monday 2025-12-29.
func policySnapshots() (now time.Time, snaps []*snapshot.Snapshot) {
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.Local) }
	now = at(2026, 3, 20, 12)
	for i, s := range []struct {
		t   time.Time
		tag string
	}{
		{at(2026, 3, 20, 9), "a"}, // s1  Fri W12
		{at(2026, 3, 19, 15), ""}, // s2  Thu W12
		{at(2026, 3, 19, 9), ""},  // s3  Thu W12
		{at(2026, 3, 18, 9), ""},  // s4  Wed W12
		{at(2026, 3, 15, 10), ""}, // s5  Sun W11
		{at(2026, 3, 12, 10), "keep"},
		{at(2026, 3, 9, 10), ""}, // s7  Mon W11
		{at(2026, 3, 1, 10), ""}, // s8  Sun W09
		{at(2026, 2, 20, 10), "keep"},
		{at(2026, 1, 2, 10), ""},   // s10 Fri 2026-W01
		{at(2025, 12, 29, 10), ""}, // s11 Mon 2026-W01
		{at(2025, 12, 28, 10), ""}, // s12 Sun 2025-W52
	} {
		sn := &snapshot.Snapshot{Time: s.t, Host: "h", Paths: []string{"/p"}, Program: fmt.Sprintf("s%d", i+1)}
		if s.tag != "" {
			sn.Tags = []string{s.tag}
		}
		snaps = append(snaps, sn)
	}
	return now, snaps
}

func TestApply(t *testing.T) {
	now, snaps := policySnapshots()
	for _, tc := range []struct {
		p    prune.Policy
		keep string
	}{
		{prune.Policy{Last: 3}, "s1 s2 s3"},
		{prune.Policy{Hourly: 2}, "s1 s2"},
		{prune.Policy{Daily: 3}, "s1 s2 s4"},
		{prune.Policy{Daily: -1}, "s1 s2 s4 s5 s6 s7 s8 s9 s10 s11 s12"},
		{prune.Policy{Weekly: 3}, "s1 s5 s8"},
		{prune.Policy{Weekly: 10}, "s1 s5 s8 s9 s10 s12"},
		{prune.Policy{Monthly: 2}, "s1 s9"},
		{prune.Policy{Yearly: 5}, "s1 s11"},
		{prune.Policy{Within: 72 * time.Hour}, "s1 s2 s3 s4"},
		{prune.Policy{Within: 8 * day}, "s1 s2 s3 s4 s5"}, // s6 is 8 days and 2 hours old
		{prune.Policy{Tags: []string{"keep"}}, "s6 s9"},
		{prune.Policy{Tags: []string{"nope"}}, ""},
		{prune.Policy{Last: 1, Daily: 2, Tags: []string{"keep"}}, "s1 s2 s6 s9"},
		{prune.Policy{Weekly: 2, Monthly: 3}, "s1 s5 s9 s10"},
		{prune.Policy{Last: 100}, "s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 s12"},
	} {
		// Apply must not depend on the order it is given.
		shuffled := append([]*snapshot.Snapshot(nil), snaps...)
		for i, j := 0, len(shuffled)-1; i < j; i, j = i+1, j-1 {
			shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
		}
		ds := prune.Apply(tc.p, shuffled, now)
		if len(ds) != len(snaps) {
			t.Fatalf("%+v: %d decisions for %d snapshots", tc.p, len(ds), len(snaps))
		}
		var kept []string
		for i, d := range ds {
			if i > 0 && d.Snapshot.Time.After(ds[i-1].Snapshot.Time) {
				t.Errorf("%+v: decisions not newest first", tc.p)
			}
			if d.Keep != (len(d.Reasons) > 0) {
				t.Errorf("%+v: %s keep %v with reasons %q", tc.p, d.Snapshot.Program, d.Keep, d.Reasons)
			}
			if d.Keep {
				kept = append(kept, d.Snapshot.Program)
			}
		}
		if got := strings.Join(kept, " "); got != tc.keep {
			t.Errorf("%+v keeps %q, want %q", tc.p, got, tc.keep)
		}
	}
	if !(prune.Policy{}).Empty() || (prune.Policy{Tags: []string{"x"}}).Empty() || (prune.Policy{Within: time.Hour}).Empty() {
		t.Error("Policy.Empty")
	}
	if ds := prune.Apply(prune.Policy{Last: 1}, nil, now); len(ds) != 0 {
		t.Error("decisions for no snapshot")
	}
}

func TestApplyReasons(t *testing.T) {
	now, snaps := policySnapshots()
	ds := prune.Apply(prune.Policy{Weekly: 10, Tags: []string{"keep"}}, snaps, now)
	reasons := map[string]string{}
	for _, d := range ds {
		r := append([]string(nil), d.Reasons...)
		sort.Strings(r)
		reasons[d.Snapshot.Program] = strings.Join(r, ",")
	}
	for s, want := range map[string]string{
		"s1": "weekly 2026-12", "s9": "tag keep,weekly 2026-08", "s6": "tag keep",
		"s10": "weekly 2026-01", "s12": "weekly 2025-52", "s11": "",
	} {
		if reasons[s] != want {
			t.Errorf("%s: reasons %q, want %q", s, reasons[s], want)
		}
	}
}

func TestGroupKey(t *testing.T) {
	a := &snapshot.Snapshot{Host: "h", Paths: []string{"/a", "/b"}}
	b := &snapshot.Snapshot{Host: "h", Paths: []string{"/a/b"}}
	c := &snapshot.Snapshot{Host: "h2", Paths: []string{"/a", "/b"}}
	if prune.GroupKey(a) == prune.GroupKey(b) || prune.GroupKey(a) == prune.GroupKey(c) || prune.GroupKey(a) != prune.GroupKey(&snapshot.Snapshot{Host: "h", Paths: []string{"/a", "/b"}}) {
		t.Error("GroupKey")
	}
}

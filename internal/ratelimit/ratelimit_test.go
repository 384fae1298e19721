package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestWindow(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	w := New(10*time.Minute, 100, c.now)
	lim := Limit{Key: "a:192.0.2.1", Max: 3}
	for i := range 3 {
		if b, _ := w.Blocked(lim); b {
			t.Fatalf("blocked after %d events, limit 3", i)
		}
		w.Add(lim.Key)
		c.t = c.t.Add(time.Minute)
	}
	// Events at 9:00, 9:01, 9:02; now 9:03: the first leaves at 9:10.
	b, wait := w.Blocked(lim)
	if !b || wait != 7*time.Minute {
		t.Fatalf("blocked %v, wait %v; want true, 7m", b, wait)
	}
	if b, _ := w.Blocked(Limit{Key: "a:192.0.2.2", Max: 3}); b {
		t.Fatal("another key is blocked")
	}
	c.t = c.t.Add(7 * time.Minute)
	if b, _ := w.Blocked(lim); b {
		t.Fatal("still blocked once the oldest event left the window")
	}
	w.Add(lim.Key)
	if b, wait := w.Blocked(lim); !b || wait != time.Minute {
		t.Fatalf("blocked %v, wait %v; want true, 1m (the 9:01 event leaves at 9:11)", b, wait)
	}
	w.Clear(lim.Key)
	if b, _ := w.Blocked(lim); b {
		t.Fatal("blocked after Clear")
	}
}

func TestWindowBoundedKeys(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	w := New(time.Minute, 10, c.now)
	for i := range 50 {
		w.Add(fmt.Sprintf("k%d", i))
	}
	if len(w.hits) != 10 {
		t.Fatalf("%d keys remembered, want at most 10", len(w.hits))
	}
	c.t = c.t.Add(time.Minute)
	w.Add("late")
	if len(w.hits) != 1 {
		t.Fatalf("expired keys kept: %d", len(w.hits))
	}
}

func TestHost(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.1:4000": "192.0.2.1", "[2001:db8::1]:443": "2001:db8::1", "pipe": "pipe"} {
		if got := Host(in); got != want {
			t.Errorf("Host(%q) = %q, want %q", in, got, want)
		}
	}
}

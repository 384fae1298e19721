package sfu

import (
	"testing"
	"time"
)

// TestTSAdvance: the timestamp step at a layer switch follows the time
// elapsed, is never 0, and never wraps for a switching packet read a
// little before the last one sent (two layers, two reading goroutines):
// CI once saw a timestamp go back by 14 ticks (155 µs at 90 kHz) that way.
func TestTSAdvance(t *testing.T) {
	for _, tc := range []struct {
		elapsed time.Duration
		want    uint32
	}{
		{33 * time.Millisecond, 2970},
		{time.Second, 90000},
		{0, 1},
		{5 * time.Microsecond, 1},
		{-155 * time.Microsecond, 1},
		{-time.Hour, 1},
		{100 * time.Hour, 1 << 31},
	} {
		if got := tsAdvance(tc.elapsed, 90000); got != tc.want {
			t.Errorf("tsAdvance(%v) = %d, want %d", tc.elapsed, got, tc.want)
		}
	}
}

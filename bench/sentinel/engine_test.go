package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/sentinel/simulate"
)

// TestEngineRunner runs a few scenarios through real backups (the
// archiver calls the observer and Assess, and seals the report into the
// snapshot), on a small generated corpus: the engine must give what the
// library runner gives.
func TestEngineRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	work, err := simulate.TempWork("rempart-sentinel-engine-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	names := map[string]bool{"full-20": true, "copy-delete-20": true, "rename-only-20": true, "slow-5-per-backup": true,
		"canary": true, "office-resave": true, "user-rename": true, "log-rotation": true}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ev, err := simulate.Evaluate(ctx, simulate.Config{Scale: 0.05, Seed: 11, Work: work, Runner: EngineRunner,
		Only: func(n string) bool { return names[n] }, Limit: 20, NoTiming: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Outcomes) != len(names) {
		t.Fatalf("%d scenarios ran, want %d", len(ev.Outcomes), len(names))
	}
	for _, f := range ev.Failures() {
		t.Error(f)
	}
	for _, o := range ev.Outcomes {
		t.Logf("%-20s %s listed %d/%d flagged %d/%d", o.Scenario.Name, o.Verdict(), o.Listed, o.Eligible, o.Flagged, o.Changed)
	}
}

// TestNotShipped: the simulator encrypts files; the rempart binary must
// never contain it.
func TestNotShipped(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/rempart/rempart/cmd/rempart").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v: %s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "internal/sentinel/simulate") || strings.HasSuffix(p, "bench/sentinel") {
			t.Errorf("cmd/rempart depends on %s", p)
		}
	}
}

package sentinel_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/sentinel/simulate"
)

// sharedCorpus finds the shared corpus of real files: $REMPART_SHARED_CORPUS,
// or ../shared/corpus next to the repository.
func sharedCorpus() string {
	cands := []string{os.Getenv("REMPART_SHARED_CORPUS")}
	if _, file, _, ok := runtime.Caller(0); ok {
		root := filepath.Join(filepath.Dir(file), "..", "..")
		cands = append(cands, filepath.Join(root, "..", "shared", "corpus"))
	}
	cands = append(cands, "/work/shared/corpus")
	for _, c := range cands {
		if c == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c, "MANIFEST.tsv")); err == nil {
			return c
		}
	}
	return ""
}

// TestEvaluationTargets runs the evaluation of docs/sentinel.md (every
// malicious mode and benign scenario, library runner) on the shared
// corpus and a small generated one, and fails when a target of issue 3 is
// missed: every mode suspect or infected on its first backup with 20 files
// hit and at least 99% of the hit files of 4 KiB or more listed; the slow
// attack caught within 3 backups; no benign scenario suspect or infected;
// at most 0.5% of benign changed files flagged.
func TestEvaluationTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the evaluation takes about 30 s")
	}
	corpus := sharedCorpus()
	if corpus == "" {
		t.Log("shared corpus not found (set REMPART_SHARED_CORPUS): generated corpus only")
	}
	scale := 0.1
	if corpus == "" {
		scale = 0.3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	work, err := simulate.TempWork("rempart-sentinel-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	cfg := simulate.Config{Corpus: corpus, Scale: scale, Seed: 3, Work: work, Runner: simulate.LibRunner, NoTiming: true}
	if raceOn {
		// Fewer generated files and benign edits, and not the scenario
		// that is no target (25 files to gpg: suspect by design): the
		// simulator's zip, JPEG and gpg work is what -race slows.
		cfg.Scale /= 2
		cfg.Limit = 30
		cfg.Only = func(name string) bool { return name != "gpg-25-files" }
	}
	if testing.Verbose() {
		cfg.Log = os.Stderr
	}
	ev, err := simulate.Evaluate(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	failures := ev.Failures()
	for _, f := range failures {
		t.Error(f)
	}
	if len(failures) > 0 || testing.Verbose() {
		t.Log("\n" + ev.Markdown("go test ./internal/sentinel -run TestEvaluationTargets", nil))
	}
	t.Logf("%d files, %d scenarios in %s", ev.Files, len(ev.Outcomes), time.Since(start).Round(time.Second))
}

package simulate

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rempart/rempart/internal/sentinel"
)

// Config says what to evaluate.
type Config struct {
	// Corpus is the shared corpus of real files, copied (never written);
	// "" for none.
	Corpus string
	// Scale and Seed of the generated corpus (Generate).
	Scale float64
	Seed  uint64
	// Work is an empty folder for the copies and the histories; the
	// caller removes it.
	Work   string
	Runner RunnerFactory
	// Only, when set, picks the scenarios to run by name.
	Only func(name string) bool
	// Log receives progress lines (nil: none).
	Log io.Writer
	// Limit caps the files each benign scenario edits (0: all).
	Limit int
	// NoTiming skips timing the observer over the corpus.
	NoTiming bool
	// Parallel is how many scenarios run at once (0: one per core).
	Parallel int
	// Overhead, when set, times first backups of the corpus with and
	// without Sentinel (the engine runner sets it).
	Overhead func(ctx context.Context, dir string) (Overhead, error)
}

// Overhead is what Sentinel costs a real first backup: the fastest wall
// time and process CPU time of several runs, with and without it.
type Overhead struct {
	Runs              int
	Wall, WallWithout time.Duration
	CPU, CPUWithout   time.Duration
}

// Outcome is what one scenario gave.
type Outcome struct {
	Scenario *Scenario
	Baseline *sentinel.Report   // the first backup of the copy
	Reports  []*sentinel.Report // one per round
	Hits     []Hit
	// Malicious: hit files of 4 KiB or more and how many of them the
	// report of their round lists; the same for every hit file.
	Eligible, Listed  int
	HitAll, ListedAll int
	// FirstAlarm is the round (1-based) of the first suspect or infected
	// verdict, 0 when none.
	FirstAlarm int
	// Benign: files changed or new in the last snapshot, and how many the
	// report newly lists (false alarms).
	Changed, Flagged int
	Missed           []string // hit files of 4 KiB or more not listed (first few)
	// MissedEncrypted counts the misses that were already encrypted by
	// their owner (MANIFEST: benign_encrypted): ciphertext encrypted again
	// looks the same.
	MissedEncrypted int
	FalseAlarms     []string // benign files listed, with reasons (first few)
	Elapsed         time.Duration
}

// Verdict of the first backup that holds the scenario's damage (the
// last for benign scenarios).
func (o *Outcome) Verdict() sentinel.Verdict {
	if len(o.Reports) == 0 {
		return ""
	}
	if o.Scenario.Malicious && o.Scenario.Rounds == 1 {
		return o.Reports[0].Verdict
	}
	return o.Reports[len(o.Reports)-1].Verdict
}

// Evaluation is the whole run.
type Evaluation struct {
	Config                 Config
	Files                  int
	Bytes                  int64
	SharedFiles, Generated int
	Canaries               []string
	Baseline               *sentinel.Report // the first backup of the whole corpus
	BaselineFlagged        []string
	Outcomes               []*Outcome
	GPG                    bool
	Elapsed                time.Duration
	ObserveBytes           int64
	ObserveTime            time.Duration
	// Overhead of Sentinel on real backups (engine runner only).
	Overhead Overhead
}

func (c *Config) logf(format string, a ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, format+"\n", a...)
	}
}

// Scenarios returns every scenario of the evaluation, malicious first.
func Scenarios() []*Scenario {
	return append(MaliciousScenarios(), BenignScenarios()...)
}

// Evaluate builds the corpus, runs every scenario on its own copy with its
// own history and measures the reports.
func Evaluate(ctx context.Context, cfg Config) (*Evaluation, error) {
	t0 := time.Now()
	ev := &Evaluation{Config: cfg}
	base := filepath.Join(cfg.Work, "base")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return nil, err
	}
	encrypted := map[string]bool{}
	if cfg.Corpus != "" {
		n, err := CopyTree(cfg.Corpus, filepath.Join(base, sharedDir))
		if err != nil {
			return nil, fmt.Errorf("copy the shared corpus: %w", err)
		}
		ev.SharedFiles = n
		if encrypted, err = readManifest(cfg.Corpus); err != nil {
			return nil, err
		}
	}
	if cfg.Scale > 0 {
		n, _, err := Generate(base, cfg.Scale, cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("generate the corpus: %w", err)
		}
		ev.Generated = n
	}
	canaries, err := PlantCanaries(base, cfg.Seed)
	if err != nil {
		return nil, err
	}
	ev.Canaries = canaries
	files, err := listFiles(base)
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for _, p := range files {
		fi, err := os.Stat(abs(base, p))
		if err != nil {
			return nil, err
		}
		sizes[p] = fi.Size()
		ev.Bytes += fi.Size()
	}
	ev.Files = len(files)
	cfg.logf("corpus ready in %.1fs", time.Since(t0).Seconds())
	cfg.logf("corpus: %d files, %.1f MB (%d real, %d generated, %d canaries)", ev.Files, float64(ev.Bytes)/1e6, ev.SharedFiles, ev.Generated, len(canaries))
	if !cfg.NoTiming {
		ev.ObserveBytes, ev.ObserveTime, err = observeAll(base, files)
		if err != nil {
			return nil, err
		}
	}
	if cfg.Overhead != nil {
		cfg.logf("timing backups with and without Sentinel")
		if ev.Overhead, err = cfg.Overhead(ctx, base); err != nil {
			return nil, err
		}
	}
	gpg, _ := exec.LookPath("gpg")
	ev.GPG = gpg != ""
	isCanary := map[string]bool{}
	for _, c := range canaries {
		isCanary[c] = true
	}

	stamps, err := stampTree(base, files)
	if err != nil {
		return nil, err
	}
	// Scenarios run side by side (each on its own copy, with its own
	// history and random generator: the results do not depend on the
	// order), their outcomes kept in scenario order.
	type job struct {
		i  int
		sc *Scenario
	}
	var jobs []job
	for i, sc := range Scenarios() {
		if cfg.Only == nil || cfg.Only(sc.Name) {
			jobs = append(jobs, job{i, sc})
		}
	}
	outcomes := make([]*Outcome, len(jobs))
	errs := make([]error, len(jobs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := 0
	workers := cfg.Parallel
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				k := next
				next++
				mu.Unlock()
				if k >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[k]
				st := time.Now()
				work := filepath.Join(cfg.Work, fmt.Sprintf("s%02d", j.i))
				o, err := runScenario(ctx, cfg, j.sc, base, work, files, sizes, isCanary, encrypted, gpg, uint64(j.i))
				os.RemoveAll(work)
				if err != nil {
					errs[k] = fmt.Errorf("scenario %s: %w", j.sc.Name, err)
					continue
				}
				o.Elapsed = time.Since(st)
				outcomes[k] = o
				mu.Lock()
				cfg.logf("%-28s %-8s listed %d/%d (>=4KiB) flagged %d/%d alarm@%d  %.1fs", j.sc.Name, o.Verdict(), o.Listed, o.Eligible, o.Flagged, o.Changed, o.FirstAlarm, o.Elapsed.Seconds())
				if len(o.Missed) > 0 {
					cfg.logf("    missed: %s", strings.Join(o.Missed, ", "))
				}
				if len(o.FalseAlarms) > 0 && !j.sc.Malicious {
					cfg.logf("    flagged: %s", strings.Join(o.FalseAlarms, ", "))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	// The copies are hard links to the base: a scenario that wrote
	// through one would spoil the others.
	if now, err := stampTree(base, files); err != nil || now != stamps {
		return nil, fmt.Errorf("a scenario changed the base copy (a write through a hard link)")
	}
	for _, o := range outcomes {
		if ev.Baseline == nil {
			ev.Baseline = o.Baseline
			for _, a := range o.Baseline.Affected {
				ev.BaselineFlagged = append(ev.BaselineFlagged, a.Path+" "+strings.Join(a.Reasons, ","))
			}
		}
		ev.Outcomes = append(ev.Outcomes, o)
	}
	ev.Elapsed = time.Since(t0)
	return ev, nil
}

// sharedDir is where the shared corpus goes in the copies.
const sharedDir = "Partage"

// readManifest returns the files of the shared corpus that their owners
// encrypted on purpose (benign_encrypted = yes), as paths of the copies.
func readManifest(corpus string) (map[string]bool, error) {
	out := map[string]bool{}
	data, err := os.ReadFile(filepath.Join(corpus, "MANIFEST.tsv"))
	if err != nil {
		return out, nil // no manifest: nothing known
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) == 0 {
		return out, nil
	}
	col := -1
	for i, h := range strings.Split(lines[0], "\t") {
		if h == "benign_encrypted" {
			col = i
		}
	}
	if col < 0 {
		return out, nil
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		if len(f) > col && f[col] == "yes" {
			out[sharedDir+"/"+f[0]] = true
		}
	}
	return out, nil
}

func runScenario(ctx context.Context, cfg Config, sc *Scenario, base, work string, files []string, sizes map[string]int64, canaries, encrypted map[string]bool, gpg string, idx uint64) (*Outcome, error) {
	data := filepath.Join(work, "data")
	scratch := filepath.Join(work, "scratch")
	if err := os.MkdirAll(scratch, 0o700); err != nil {
		return nil, err
	}
	if err := LinkTree(base, data); err != nil {
		return nil, err
	}
	r, err := cfg.Runner.New(filepath.Join(work, "runner"))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	o := &Outcome{Scenario: sc}
	if o.Baseline, err = r.Backup(ctx, data); err != nil {
		return nil, err
	}
	env := &Env{Root: data, Files: files, Sizes: sizes, Canaries: canaries, Encrypted: encrypted, R: newRand(cfg.Seed, idx), GPG: gpg, Scratch: scratch, Limit: cfg.Limit}
	for round := 0; round < sc.Rounds; round++ {
		hits, err := sc.Apply(env, round)
		if err != nil {
			return nil, err
		}
		rep, err := r.Backup(ctx, data)
		if err != nil {
			return nil, err
		}
		o.Reports = append(o.Reports, rep)
		o.Hits = append(o.Hits, hits...)
		if o.FirstAlarm == 0 && rep.Verdict != sentinel.Clean {
			o.FirstAlarm = round + 1
		}
		listed := listedSet(rep)
		for _, h := range hits {
			ok := listed[h.Path] || h.NewPath != "" && listed[h.NewPath]
			o.HitAll++
			if ok {
				o.ListedAll++
			}
			if h.Size >= 4096 {
				o.Eligible++
				if ok {
					o.Listed++
				} else {
					if encrypted[h.Path] {
						o.MissedEncrypted++
					}
					if len(o.Missed) < 10 {
						o.Missed = append(o.Missed, h.Path)
					}
				}
			}
		}
	}
	last := o.Reports[len(o.Reports)-1]
	o.Changed = last.Changed
	for _, a := range last.Affected {
		if !a.Carried {
			o.Flagged++
			if !sc.Malicious && len(o.FalseAlarms) < 10 {
				o.FalseAlarms = append(o.FalseAlarms, a.Path+" ("+strings.Join(a.Reasons, ", ")+")")
			}
		}
	}
	return o, nil
}

// listedSet is every path a report names: where the file is now and where
// its last clean version was.
func listedSet(rep *sentinel.Report) map[string]bool {
	m := map[string]bool{}
	for _, a := range rep.Affected {
		m[a.Path] = true
		if a.LastCleanPath != "" {
			m[a.LastCleanPath] = true
		}
	}
	return m
}

// observeAll times the observer over every file of the corpus (one core,
// files already in the page cache): the cost Sentinel adds to a backup.
func observeAll(root string, files []string) (int64, time.Duration, error) {
	var o sentinel.Observer
	var total int64
	var spent time.Duration
	for _, p := range files {
		data, err := os.ReadFile(abs(root, p))
		if err != nil {
			return 0, 0, err
		}
		t := time.Now()
		o.Reset(path.Base(p), int64(len(data)))
		for b := data; len(b) > 0; {
			n := min(len(b), 1<<20)
			_, _ = o.Write(b[:n])
			b = b[n:]
		}
		o.Features()
		spent += time.Since(t)
		total += int64(len(data))
	}
	return total, spent, nil
}

// Failures lists the targets the evaluation missed (none: all met).
func (ev *Evaluation) Failures() []string {
	var f []string
	if ev.Baseline != nil && ev.Baseline.Verdict != sentinel.Clean {
		f = append(f, fmt.Sprintf("first backup: verdict %s, want clean", ev.Baseline.Verdict))
	}
	changed, flagged := 0, 0
	if ev.Baseline != nil {
		changed += ev.Baseline.Changed
		flagged += len(ev.BaselineFlagged)
	}
	for _, o := range ev.Outcomes {
		sc := o.Scenario
		switch {
		case sc.Malicious && sc.Rounds > 1:
			if o.FirstAlarm == 0 || o.FirstAlarm > 3 {
				f = append(f, fmt.Sprintf("%s: first alarm at backup %d, want within 3", sc.Name, o.FirstAlarm))
			}
		case sc.Extra:
		case sc.Malicious:
			if o.Verdict() == sentinel.Clean && (o.HitAll >= MinHit || sc.Name == "canary") {
				f = append(f, fmt.Sprintf("%s: verdict clean on the first backup with %d files hit", sc.Name, o.HitAll))
			}
			if o.Eligible > 0 && o.Listed*100 < o.Eligible*99 {
				f = append(f, fmt.Sprintf("%s: %d of %d hit files of 4 KiB or more listed (%.1f%%), want 99%% (missed e.g. %s)", sc.Name, o.Listed, o.Eligible, pct(o.Listed, o.Eligible), strings.Join(o.Missed, ", ")))
			}
		case sc.ExpectAlarm:
		default:
			if o.Verdict() != sentinel.Clean {
				f = append(f, fmt.Sprintf("%s: benign scenario got %s (score %.2f)", sc.Name, o.Verdict(), o.Reports[len(o.Reports)-1].Score))
			}
			changed += o.Changed
			flagged += o.Flagged
		}
	}
	if changed > 0 && flagged*1000 > changed*5 {
		f = append(f, fmt.Sprintf("benign: %d of %d changed files flagged (%.2f%%), want at most 0.5%%", flagged, changed, pct(flagged, changed)))
	}
	return f
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// BenignTotals sums the benign scenarios that count for the targets (and
// the first backup).
func (ev *Evaluation) BenignTotals() (changed, flagged int) {
	if ev.Baseline != nil {
		changed, flagged = ev.Baseline.Changed, len(ev.BaselineFlagged)
	}
	for _, o := range ev.Outcomes {
		if !o.Scenario.Malicious && !o.Scenario.ExpectAlarm {
			changed += o.Changed
			flagged += o.Flagged
		}
	}
	return
}

// stampTree summarises the sizes and modification times of files.
func stampTree(root string, files []string) (string, error) {
	h := sha256.New()
	for _, p := range files {
		fi, err := os.Stat(abs(root, p))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return string(h.Sum(nil)), nil
}

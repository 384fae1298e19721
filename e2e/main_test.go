package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// bin is the rempart binary built by TestMain.
var bin string

// traceRuns (REMPART_E2E_TRACE=1) logs every run of rempart with its time.
var traceRuns = os.Getenv("REMPART_E2E_TRACE") == "1"

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "rempart-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	bin = filepath.Join(tmp, "rempart")
	build := exec.Command("go", "build", "-o", bin, "./cmd/rempart")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/rempart: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// moduleRoot is the folder holding go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the rempart module")
	}
	return filepath.Dir(gomod), nil
}

const (
	testPassword = "correct horse battery staple"
	cmdTimeout   = 5 * time.Minute
)

// env is a user's shell: a HOME, a TMPDIR, and the REMPART_* variables.
type env struct {
	t    *testing.T
	home string
	tmp  string
	vars map[string]string
}

// newEnv makes a clean environment with a repository path (not created)
// and the test passphrase.
func newEnv(t *testing.T) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{t: t, home: filepath.Join(base, "home"), tmp: filepath.Join(base, "tmp"), vars: map[string]string{}}
	for _, d := range []string{e.home, e.tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	e.vars["REMPART_REPO"] = filepath.Join(base, "repo")
	e.vars["REMPART_PASSWORD"] = testPassword
	return e
}

func (e *env) repo() string { return e.vars["REMPART_REPO"] }

// with returns a copy of e with variables changed ("" removes one).
func (e *env) with(kv ...string) *env {
	c := &env{t: e.t, home: e.home, tmp: e.tmp, vars: map[string]string{}}
	for k, v := range e.vars {
		c.vars[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(c.vars, kv[i])
		} else {
			c.vars[kv[i]] = kv[i+1]
		}
	}
	return c
}

func (e *env) environ() []string {
	out := []string{
		"HOME=" + e.home,
		"TMPDIR=" + e.tmp,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
	}
	keys := make([]string, 0, len(e.vars))
	for k := range e.vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+e.vars[k])
	}
	return out
}

// result is what a run of rempart did.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
	dur    time.Duration
}

func (r *result) String() string {
	return fmt.Sprintf("rempart %s: exit %d after %s\n--- stdout:\n%s\n--- stderr:\n%s", strings.Join(r.args, " "), r.code, r.dur.Round(time.Millisecond), clip(r.stdout), clip(r.stderr))
}

func clip(s string) string {
	if len(s) > 4000 {
		return s[:2000] + "\n[...]\n" + s[len(s)-2000:]
	}
	return s
}

// command prepares a run of prog (rempart, or a wrapper) with e's environment and no terminal
// on stdin.
func (e *env) command(ctx context.Context, prog string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.home
	cmd.Stdin = nil // /dev/null: no terminal
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// run runs rempart and returns what it did, whatever the exit code.
func (e *env) run(args ...string) *result {
	e.t.Helper()
	return e.runCmd(bin, args...)
}

// runCmd runs prog (rempart or a wrapper such as sh) with e's environment.
func (e *env) runCmd(prog string, args ...string) *result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd, stdout, stderr := e.command(ctx, prog, args...)
	start := time.Now()
	err := cmd.Run()
	r := &result{args: args, stdout: stdout.String(), stderr: stderr.String(), dur: time.Since(start)}
	if traceRuns {
		e.t.Logf("ran rempart %s: exit %d in %s", strings.Join(args, " "), r.code, r.dur.Round(time.Millisecond))
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if r.code < 0 {
			e.t.Fatalf("rempart killed by a signal (%v)\n%s", err, r)
		}
	default:
		e.t.Fatalf("cannot run rempart: %v", err)
	}
	if ctx.Err() != nil {
		e.t.Fatalf("rempart did not finish within %s\n%s", cmdTimeout, r)
	}
	return r
}

// ok runs rempart and fails the test unless it exits 0.
func (e *env) ok(args ...string) *result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("expected exit 0\n%s", r)
	}
	return r
}

// expect runs rempart and reports an error unless it exits with code.
func (e *env) expect(code int, args ...string) *result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != code {
		e.t.Errorf("expected exit %d\n%s", code, r)
	}
	return r
}

// okJSON runs rempart with --json, expects exit 0, and decodes stdout.
func (e *env) okJSON(v any, args ...string) *result {
	e.t.Helper()
	r := e.ok(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		e.t.Fatalf("stdout is not the expected JSON: %v\n%s", err, r)
	}
	return r
}

// initRepo creates the repository and returns the recovery key.
func (e *env) initRepo() string {
	e.t.Helper()
	var out struct {
		RecoveryKey string `json:"recovery_key"`
	}
	e.okJSON(&out, "init")
	if !recoveryKeyRE.MatchString(out.RecoveryKey) {
		e.t.Fatalf("init --json: recovery_key %q does not look like a recovery key", out.RecoveryKey)
	}
	return out.RecoveryKey
}

var recoveryKeyRE = regexp.MustCompile(`^[0-9A-Z]{5}(-[0-9A-Z]{5}){5,}$`)

// The JSON shapes the tests read.
type backupJSON struct {
	SnapshotID string `json:"snapshot_id"`
	Parent     string `json:"parent"`
	Summary    struct {
		FilesNew         uint64 `json:"files_new"`
		FilesChanged     uint64 `json:"files_changed"`
		FilesUnchanged   uint64 `json:"files_unchanged"`
		BytesRead        uint64 `json:"bytes_read"`
		BytesTotal       uint64 `json:"bytes_total"`
		BytesAdded       uint64 `json:"bytes_added"`
		BytesAddedPacked uint64 `json:"bytes_added_packed"`
		FilesTotal       uint64 `json:"files_total"`
	} `json:"summary"`
}

type snapshotJSON struct {
	ID     string   `json:"id"`
	Paths  []string `json:"paths"`
	Tags   []string `json:"tags"`
	Parent string   `json:"parent"`
}

func (e *env) backup(args ...string) backupJSON {
	e.t.Helper()
	var b backupJSON
	e.okJSON(&b, append([]string{"backup"}, args...)...)
	if len(b.SnapshotID) != 64 {
		e.t.Fatalf("backup --json: snapshot_id %q", b.SnapshotID)
	}
	return b
}

func (e *env) snapshots() []snapshotJSON {
	e.t.Helper()
	var s []snapshotJSON
	e.okJSON(&s, "snapshots")
	return s
}

// restoreAndCompare restores snapshot id into a new folder and compares
// the tree found at the original absolute path src with want.
func (e *env) restoreAndCompare(id, src string, want manifest) {
	e.t.Helper()
	if want == nil {
		e.t.Errorf("snapshot %s: the test does not know what it holds", short(id))
		return
	}
	target := filepath.Join(e.t.TempDir(), "restore")
	e.ok("restore", id, "--target", target)
	t0 := time.Now()
	got := takeManifest(e.t, filepath.Join(target, src))
	if traceRuns {
		e.t.Logf("compared %d entries in %s", len(got), time.Since(t0).Round(time.Millisecond))
	}
	if diffs := compareManifests(want, got); len(diffs) > 0 {
		e.t.Errorf("snapshot %s restored into %s differs from the original:\n  %s", short(id), target, strings.Join(firstN(diffs, 20), "\n  "))
	}
	_ = os.RemoveAll(target)
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... and %d more", len(s)-n))
	}
	return s
}

// repoListing maps every file and folder of a repository to its size, to
// prove that a failed command changed nothing.
func repoListing(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = 0
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		out[rel] = fi.Size()
		return nil
	})
	if err != nil {
		t.Fatalf("listing %s: %v", dir, err)
	}
	return out
}

// sameListing reports the differences between two listings.
func sameListing(t *testing.T, what string, before, after map[string]int64) {
	t.Helper()
	var diffs []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			diffs = append(diffs, "removed "+k)
		} else if w != v {
			diffs = append(diffs, fmt.Sprintf("%s: %d -> %d bytes", k, v, w))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			diffs = append(diffs, "added "+k)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%s changed the repository:\n  %s", what, strings.Join(firstN(diffs, 20), "\n  "))
	}
}

// packFiles lists the pack files of a repository with their sizes.
func packFiles(t *testing.T, repo string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for k, v := range repoListing(t, filepath.Join(repo, "data")) {
		if !strings.HasSuffix(k, "/") && !strings.HasPrefix(filepath.Base(k), ".") {
			out[filepath.Base(k)] = v
		}
	}
	return out
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(strings.ToLower(s), strings.ToLower(sub)) {
			t.Errorf("%s does not mention %q:\n%s", what, sub, clip(s))
		}
	}
}

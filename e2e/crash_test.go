package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCrash kills rempart with SIGKILL in the middle of backups and of a
// prune, and proves that nothing is lost: check passes, earlier snapshots
// restore byte for byte, no unlock is needed, and the next backup reuses
// what the killed one wrote. The data (about 200 MB) is
// generated once; each kill point works on a freshly changed tree. With
// -short the data is about a third as large.
func TestCrash(t *testing.T) {
	scale, latePacks := 1.0, 3
	if testing.Short() {
		scale, latePacks = 0.35, 1
	}
	start := time.Now()
	e := newEnv(t)
	root := filepath.Join(tempDir(t), "data")
	genCrashBase(t, root, scale)
	wantBase := takeManifest(t, root)
	t.Logf("generated %s in %d files in %s", mib(treeBytes(wantBase)), len(wantBase), time.Since(start).Round(time.Millisecond))

	e.initRepo()
	r0 := time.Now()
	base := e.backup("--tag", "base", root)
	t.Logf("first backup of %s: %s, added %s", root, time.Since(r0).Round(time.Millisecond), mib(base.Summary.BytesAdded))

	// The snapshots the prune part must keep restorable.
	wants := map[string]manifest{base.SnapshotID: wantBase}
	var order []string // non-base snapshots, oldest first

	// A full run on a changed tree: how long it takes, how much it adds.
	mutateCrashTree(t, root, 0, scale)
	r0 = time.Now()
	ref := e.backup(root)
	full := time.Since(r0)
	fullAdded := ref.Summary.BytesAdded
	wants[ref.SnapshotID] = takeManifest(t, root)
	order = append(order, ref.SnapshotID)
	t.Logf("reference backup of a changed tree: %s, added %s", full.Round(time.Millisecond), mib(fullAdded))

	t.Run("backup", func(t *testing.T) {
		type point struct {
			name  string
			late  bool // the killed run must have stored packs
			at    time.Duration
			when  string // "progress" or "pack"
			packs int    // for "pack": kill once this many packs are stored
		}
		// Time points are spread over a full run's duration; the event
		// points catch what timing cannot: the progress line on stderr
		// (it counts bytes read, ahead of the packs being stored) and
		// packs landing in data/.
		points := []point{
			{name: "10% of a full run", at: full / 10},
			{name: "30% of a full run", at: full * 3 / 10},
			{name: "50% shown by the progress line on stderr", when: "progress"},
			{name: "first pack stored", when: "pack", packs: 1, late: true},
			{name: "65% of a full run", at: full * 65 / 100},
			{name: fmt.Sprintf("pack number %d stored", latePacks), when: "pack", packs: latePacks, late: true},
		}
		reused := 0
		for i, p := range points {
			round := i + 1
			mutateCrashTree(t, root, round, scale)
			packsBefore := packFiles(t, e.repo())
			var run *running
			var killed bool
			switch p.when {
			case "":
				run = e.start(nil, "backup", "--json", root)
				killed = run.killWhen(func() bool { return time.Since(run.began) >= p.at }, time.Millisecond)
			case "pack":
				run = e.start(nil, "backup", "--json", root)
				killed = run.killWhen(packStored(filepath.Join(e.repo(), "tmp"), p.packs), 2*time.Millisecond)
			case "progress":
				pty, err := openPTY()
				if err != nil {
					t.Logf("%s: no pseudo-terminal (%v): killing at the first stored pack instead", p.name, err)
					run = e.start(nil, "backup", "--json", root)
					killed = run.killWhen(packStored(filepath.Join(e.repo(), "tmp"), 1), 2*time.Millisecond)
					break
				}
				// No --json: the progress line is for people, drawn only
				// on a terminal.
				run = e.start(pty, "backup", root)
				killed = run.killWhen(func() bool { return run.percent.Load() >= 50 }, 2*time.Millisecond)
			}
			orphans := int64(0)
			for name, size := range packFiles(t, e.repo()) {
				if _, ok := packsBefore[name]; !ok {
					orphans += size
				}
			}
			locks, _ := os.ReadDir(filepath.Join(e.repo(), "locks"))
			tmps, _ := os.ReadDir(filepath.Join(e.repo(), "tmp"))
			t.Logf("round %d, kill at %s: killed=%v after %s (progress shown: %d%%); new packs %s; %d lock file(s) and %d temporary file(s) left",
				round, p.name, killed, run.elapsed.Round(time.Millisecond), run.percent.Load(), mib(uint64(orphans)), len(locks), len(tmps))
			if !killed {
				// The run beat the kill: it must have succeeded.
				if run.code != 0 {
					t.Errorf("round %d: backup was not killed but failed\n%s", round, run.result())
				}
				all := e.snapshots()
				id := all[len(all)-1].ID
				wants[id] = takeManifest(t, root)
				order = append(order, id)
				continue
			}
			if p.late && orphans == 0 {
				t.Errorf("round %d (%s): the killed backup stored no pack", round, p.name)
			}

			// 1. check passes (unreferenced packs are allowed), with no
			// unlock first.
			r := e.run("check")
			if r.code != 0 {
				t.Errorf("round %d: check after kill -9 at %s\n%s", round, p.name, r)
			}
			// 2. The dead process's lock is ignored even by a command
			// that needs the repository to itself.
			if r := e.run("prune", "--dry-run"); r.code != 0 {
				t.Errorf("round %d: prune --dry-run after kill -9 (stale lock not ignored?)\n%s", round, r)
			}
			// 3. The earlier snapshot restores byte for byte.
			e.restoreAndCompare(base.SnapshotID, root, wantBase)
			// 4. The next backup completes and reuses the killed run's packs.
			b := e.backup(root)
			wants[b.SnapshotID] = takeManifest(t, root)
			order = append(order, b.SnapshotID)
			added := b.Summary.BytesAdded
			t.Logf("round %d: next backup added %s (a full run added %s)", round, mib(added), mib(fullAdded))
			slack := uint64(2<<20) + fullAdded/30
			if float64(added) > float64(fullAdded)-0.9*float64(orphans)+float64(slack) {
				t.Errorf("round %d: the backup after the kill added %s although the killed run left %s of packs and a full run adds %s: the killed run's work was not reused",
					round, mib(added), mib(uint64(orphans)), mib(fullAdded))
			}
			if orphans > 0 && added < fullAdded {
				reused++
			}
		}
		if reused == 0 {
			t.Errorf("no backup after a kill reused anything")
		}
	})

	t.Run("prune", func(t *testing.T) {
		// Each round forgets one more snapshot, then kills prune at a
		// different stage: while it reads, when its new index is written,
		// when it removes the old index files, when it removes packs.
		stages := []string{"time", "new index written", "old index removed", "pack removed"}
		keep := len(order)
		for i, stage := range stages {
			keep--
			if keep < 2 {
				break
			}
			e.ok("forget", "--keep-tag", "base", "--keep-last", strconv.Itoa(keep))
			kept := e.snapshots()
			var trigger func() bool
			var delay time.Duration
			switch stage {
			case "time":
				// Part of what a dry run takes: prune is still reading.
				delay = e.ok("prune", "--dry-run").dur * 6 / 10
			case "new index written":
				trigger = indexAppears(t, e.repo())
			case "old index removed":
				trigger = indexVanishes(t, e.repo())
			case "pack removed":
				cand := prunable(t, e.repo())
				if cand == "" {
					t.Logf("prune round %d: no pack to remove, skipped", i+1)
					continue
				}
				trigger = func() bool {
					_, err := os.Stat(cand)
					return errors.Is(err, os.ErrNotExist)
				}
			}
			before := packFiles(t, e.repo())
			run := e.start(nil, "prune")
			if stage == "time" {
				trigger = func() bool { return time.Since(run.began) >= delay }
			}
			killed := run.killWhen(trigger, 500*time.Microsecond)
			after := packFiles(t, e.repo())
			t.Logf("prune round %d, kill when %s: killed=%v after %s; packs %d -> %d",
				i+1, stage, killed, run.elapsed.Round(time.Millisecond), len(before), len(after))
			if !killed && run.code != 0 {
				t.Errorf("prune was not killed but failed\n%s", run.result())
			}
			if r := e.run("check"); r.code != 0 {
				t.Errorf("prune round %d: check after kill -9 when %s\n%s", i+1, stage, r)
			}
			// The base snapshot and the oldest other kept one (it shares
			// the most packs with what was forgotten) restore identical.
			e.restoreAndCompare(base.SnapshotID, root, wants[base.SnapshotID])
			for _, s := range kept {
				if s.ID != base.SnapshotID {
					e.restoreAndCompare(s.ID, root, wants[s.ID])
					break
				}
			}
		}
		// A backup after the interrupted prunes finds a usable index.
		b := e.backup(root)
		wants[b.SnapshotID] = takeManifest(t, root)
		// Finish: prune completes, every byte verifies, every snapshot
		// left restores identical, and nothing is left behind.
		e.ok("prune")
		e.ok("check", "--read-data")
		for _, s := range e.snapshots() {
			if wants[s.ID] == nil {
				t.Errorf("snapshot %s: unknown", short(s.ID))
			} else if s.ID != base.SnapshotID {
				e.restoreAndCompare(s.ID, root, wants[s.ID])
			}
		}
		if tmps, _ := os.ReadDir(filepath.Join(e.repo(), "tmp")); len(tmps) > 0 {
			var size int64
			for _, d := range tmps {
				if fi, err := d.Info(); err == nil {
					size += fi.Size()
				}
			}
			t.Errorf("after prune, the repository's tmp/ still holds %d file(s), %s, left by killed backups: nothing ever removes them", len(tmps), mib(uint64(size)))
		}
		if locks, _ := os.ReadDir(filepath.Join(e.repo(), "locks")); len(locks) > 0 {
			t.Logf("note: %d stale lock file(s) of killed processes remain (ignored; `rempart unlock` removes them)", len(locks))
		}
		e.ok("unlock")
	})
	t.Logf("crash tests took %s", time.Since(start).Round(time.Second))
}

// running is a rempart process started in the background.
type running struct {
	t       *testing.T
	cmd     *exec.Cmd
	args    []string
	began   time.Time
	elapsed time.Duration
	done    chan struct{}
	waitErr error
	code    int
	stdout  *bytes.Buffer
	stderr  *bytes.Buffer
	percent atomic.Int64 // last progress percentage seen on the terminal
	ptyOut  bytes.Buffer
	ptyDone chan struct{}
}

// start runs rempart in the background. With pty, stderr is the terminal's
// slave side and the progress line is parsed from the master side.
func (e *env) start(pty *ptyPair, args ...string) *running {
	e.t.Helper()
	cmd, stdout, stderr := e.command(context.Background(), bin, args...)
	r := &running{t: e.t, cmd: cmd, args: args, stdout: stdout, stderr: stderr, done: make(chan struct{})}
	if pty != nil {
		cmd.Stderr = pty.slave
	}
	r.began = time.Now()
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting rempart: %v", err)
	}
	if pty != nil {
		_ = pty.slave.Close()
		r.ptyDone = make(chan struct{})
		go r.readProgress(pty.master)
	}
	go func() {
		r.waitErr = cmd.Wait()
		r.elapsed = time.Since(r.began)
		if cmd.ProcessState != nil {
			r.code = cmd.ProcessState.ExitCode()
		}
		close(r.done)
	}()
	return r
}

var percentRE = regexp.MustCompile(`\]\s+(\d+)%`)

func (r *running) readProgress(master *os.File) {
	defer close(r.ptyDone)
	defer master.Close()
	buf := make([]byte, 4096)
	for {
		n, err := master.Read(buf)
		if n > 0 {
			r.ptyOut.Write(buf[:n])
			tail := r.ptyOut.Bytes()
			if len(tail) > 512 {
				tail = tail[len(tail)-512:]
			}
			if m := percentRE.FindAllSubmatch(tail, -1); len(m) > 0 {
				if p, err := strconv.Atoi(string(m[len(m)-1][1])); err == nil {
					r.percent.Store(int64(p))
				}
			}
		}
		if err != nil {
			return // EIO once the process is gone
		}
	}
}

// killWhen polls trigger and sends SIGKILL as soon as it fires. It
// reports whether the process was killed (false: it finished first).
func (r *running) killWhen(trigger func() bool, every time.Duration) bool {
	r.t.Helper()
	deadline := time.After(cmdTimeout)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-r.done:
			r.finish()
			return false
		case <-deadline:
			_ = r.cmd.Process.Kill()
			<-r.done
			r.t.Fatalf("rempart %s: trigger never fired", strings.Join(r.args, " "))
		case <-tick.C:
			if trigger() {
				if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					<-r.done // it ended meanwhile
					r.finish()
					return false
				}
				<-r.done
				r.finish()
				ws, ok := r.cmd.ProcessState.Sys().(syscall.WaitStatus)
				if ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
					return true
				}
				return false // it exited on its own just before
			}
		}
	}
}

func (r *running) finish() {
	if r.ptyDone != nil {
		<-r.ptyDone
	}
}

func (r *running) result() *result {
	return &result{args: r.args, stdout: r.stdout.String(), stderr: r.stderr.String() + r.ptyOut.String(), code: r.code, dur: r.elapsed}
}

// packStored fires when n temporary pack files in dir have disappeared:
// each was linked into data/ and synced.
func packStored(dir string, n int) func() bool {
	seen := map[string]bool{}
	gone := map[string]bool{}
	return func() bool {
		entries, _ := os.ReadDir(dir)
		now := map[string]bool{}
		for _, d := range entries {
			if strings.HasPrefix(d.Name(), "pack-") {
				now[d.Name()] = true
			}
		}
		for name := range seen {
			if !now[name] {
				gone[name] = true
			}
		}
		for name := range now {
			seen[name] = true
		}
		return len(gone) >= n
	}
}

func indexNames(t *testing.T, repo string) map[string]bool {
	entries, err := os.ReadDir(filepath.Join(repo, "index"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range entries {
		if !strings.HasPrefix(d.Name(), ".") {
			out[d.Name()] = true
		}
	}
	return out
}

// indexAppears fires when an index file that was not there appears.
func indexAppears(t *testing.T, repo string) func() bool {
	before := indexNames(t, repo)
	return func() bool {
		for n := range indexNames(t, repo) {
			if !before[n] {
				return true
			}
		}
		return false
	}
}

// indexVanishes fires when one of the current index files is removed.
func indexVanishes(t *testing.T, repo string) func() bool {
	before := indexNames(t, repo)
	return func() bool {
		now := indexNames(t, repo)
		for n := range before {
			if !now[n] {
				return true
			}
		}
		return false
	}
}

// prunable returns the path of a pack that no snapshot lists in its plain
// header (see plainPacks), which prune will remove.
func prunable(t *testing.T, repo string) string {
	t.Helper()
	needed := map[string]bool{}
	entries, err := os.ReadDir(filepath.Join(repo, "snapshots"))
	must(t, err)
	for _, d := range entries {
		if strings.HasPrefix(d.Name(), ".") {
			continue
		}
		for _, id := range plainPacks(t, filepath.Join(repo, "snapshots", d.Name())) {
			needed[id] = true
		}
	}
	var cands []string
	for name := range packFiles(t, repo) {
		if !needed[name] {
			cands = append(cands, name)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	sort.Strings(cands)
	c := cands[len(cands)-1] // prune removes in map order; any will do
	return filepath.Join(repo, "data", c[:2], c)
}

// ptyPair is a pseudo-terminal.
type ptyPair struct{ master, slave *os.File }

func openPTY() (*ptyPair, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("ptsname: %w", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, err
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 120}); err != nil {
		m.Close()
		s.Close()
		return nil, err
	}
	return &ptyPair{master: m, slave: s}, nil
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func treeBytes(m manifest) uint64 {
	var n uint64
	for _, e := range m {
		if e.typ == 'f' {
			n += uint64(e.size)
		}
	}
	return n
}

// genCrashBase makes about 200 MB (times scale): many small text files,
// mixed medium files, and a few large ones (random, text, mostly zeros).
func genCrashBase(t *testing.T, root string, scale float64) {
	t.Helper()
	rng := newRand(100)
	sz := func(n int64) int64 { return int64(float64(n) * scale) }
	nSmall := int(1200 * scale)
	for i := 0; i < nSmall; i++ {
		writeFile(t, filepath.Join(root, "text", fmt.Sprintf("d%02d", i%40), fmt.Sprintf("note-%04d.txt", i)), rng, 1024+rng.Int64N(47<<10), false, 0o644)
	}
	for i := 0; i < int(60*scale); i++ {
		writeFile(t, filepath.Join(root, "mixed", fmt.Sprintf("file-%03d.dat", i)), rng, 200<<10+rng.Int64N(1300<<10), i%2 == 0, 0o640)
	}
	writeFile(t, filepath.Join(root, "large", "db.bin"), rng, sz(45<<20), true, 0o600)
	writeFile(t, filepath.Join(root, "large", "journal.log"), rng, sz(40<<20), false, 0o644)
	// A disk image: random blocks between long runs of zeros.
	p := filepath.Join(root, "large", "disk.img")
	f, err := os.Create(p)
	must(t, err)
	for i := int64(0); i < sz(35<<20)/(4<<20); i++ {
		must(t, writeRandom(f, rng, 1<<20))
		_, err = f.Write(make([]byte, 3<<20))
		must(t, err)
	}
	must(t, f.Close())
}

// mutateCrashTree changes the tree for a round: a large file rewritten, a
// new folder of fresh data (random and text) replacing the previous one,
// some small files appended.
func mutateCrashTree(t *testing.T, root string, round int, scale float64) {
	t.Helper()
	rng := newRand(uint64(1000 + round))
	sz := func(n int64) int64 { return int64(float64(n) * scale) }
	writeFile(t, filepath.Join(root, "large", "db.bin"), rng, sz(45<<20), true, 0o600)
	// The previous round's new folder goes: the tree stays the same size,
	// and forgetting a snapshot frees its data.
	must(t, os.RemoveAll(filepath.Join(root, "new")))
	dir := filepath.Join(root, "new", fmt.Sprintf("round-%02d", round))
	for i := 0; i < 8; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("scan-%d.pdf", i)), rng, sz(5<<20), true, 0o644)
	}
	for i := 0; i < 4; i++ {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("export-%d.csv", i)), rng, sz(8<<20), false, 0o644)
	}
	for i := 0; i < int(150*scale); i++ {
		writeFile(t, filepath.Join(dir, "small", fmt.Sprintf("m-%03d.txt", i)), rng, 1024+rng.Int64N(15<<10), false, 0o644)
	}
	for i := 0; i < int(40*scale); i++ {
		n := (round*37 + i*29) % int(1200*scale)
		p := filepath.Join(root, "text", fmt.Sprintf("d%02d", n%40), fmt.Sprintf("note-%04d.txt", n))
		appendTo(t, p, fmt.Sprintf("round %d: addendum %d\n", round, i))
	}
}

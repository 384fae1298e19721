package drill

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rempart/rempart/internal/continuity"
)

// CheckScratch refuses a scratch folder that is a source's path, is
// inside one, or contains one (the root folder contains them all).
// Symbolic links are followed as far as the paths exist on this machine.
func CheckScratch(scratch string, sources []continuity.Source) error {
	return checkScratch(scratch, sources, true)
}

// CheckScratchParent checks a folder in which a fresh scratch folder is
// to be made: it may contain sources (the system's /tmp may), but may not
// be one or be inside one.
func CheckScratchParent(dir string, sources []continuity.Source) error {
	return checkScratch(dir, sources, false)
}

func checkScratch(scratch string, sources []continuity.Source, mayNotContain bool) error {
	abs, err := filepath.Abs(scratch)
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrScratch, scratch, err)
	}
	if abs == "/" && mayNotContain {
		return fmt.Errorf("%w: the scratch folder cannot be / (it holds every production path): give an empty folder with --scratch DIR", ErrScratch)
	}
	candidates := []string{abs, realPath(abs)}
	for _, src := range sources {
		p := cleanPath(src.Path)
		for _, sp := range []string{p, realPath(p)} {
			for _, s := range candidates {
				switch {
				case s == sp:
					return fmt.Errorf("%w: %s is the path of source %s: a drill never writes where production data lives; give another folder with --scratch DIR", ErrScratch, abs, src)
				case within(s, sp):
					return fmt.Errorf("%w: %s is inside source %s: a drill never writes where production data lives; give another folder with --scratch DIR", ErrScratch, abs, src)
				case mayNotContain && within(sp, s):
					return fmt.Errorf("%w: %s contains source %s: a drill never writes where production data lives; give another folder with --scratch DIR", ErrScratch, abs, src)
				}
			}
		}
	}
	return nil
}

// within reports whether p is strictly inside dir.
func within(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}

// realPath resolves the symbolic links of the longest part of p that
// exists.
func realPath(p string) string {
	rest := ""
	for cur := p; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// removeAll removes a scratch folder, making read-only folders of the
// restore writable first.
func removeAll(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// tail keeps the last bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > 2*t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(b), nil
}

// lastLines returns at most n lines and maxBytes bytes of the end.
func (t *tail) lastLines(n, maxBytes int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := bytes.TrimRight(t.buf, "\n")
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	lines := strings.Split(strings.ToValidUTF8(string(b), "?"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Environment variables that never reach a health check: the passphrase
// stays with rempart.
var secretEnv = []string{"REMPART_PASSWORD", "REMPART_PASSWORD_FILE", "REMPART_LOGIN_PASSWORD", "REMPART_ADMIN_PASSWORD"}

// runHealthCheck runs the command with sh -c in the scratch folder, with
// REMPART_DRILL_DIR (the scratch folder), REMPART_DRILL_SERVICE and
// REMPART_DRILL_SOURCE (the first source's restored folder; _1, _2...
// each one). On timeout the whole process group is killed.
func runHealthCheck(ctx context.Context, h *HealthResult, scratch string, svc continuity.Service, sources []SourceResult, timeout time.Duration) {
	timeout = timeoutOr(timeout)
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, "/bin/sh", "-c", svc.HealthCheck)
	cmd.Dir = scratch
	env := []string{}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		secret := false
		for _, s := range secretEnv {
			secret = secret || name == s
		}
		if !secret && !strings.HasPrefix(name, "REMPART_DRILL_") {
			env = append(env, kv)
		}
	}
	env = append(env, "REMPART_DRILL_DIR="+scratch, "REMPART_DRILL_SERVICE="+svc.ID)
	for i, s := range sources {
		if s.Target == "" {
			continue
		}
		if i == 0 {
			env = append(env, "REMPART_DRILL_SOURCE="+s.Target)
		}
		env = append(env, "REMPART_DRILL_SOURCE_"+strconv.Itoa(i+1)+"="+s.Target)
	}
	cmd.Env = env
	out := &tail{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	h.Output = out.lastLines(20, 4096)
	var ee *exec.ExitError
	switch {
	case cctx.Err() == context.DeadlineExceeded:
		h.Ran, h.TimedOut, h.ExitCode = true, true, -1
	case ctx.Err() != nil:
		h.Ran, h.ExitCode, h.Error = true, -1, "interrupted"
	case err == nil:
		h.Ran = true
	case errors.As(err, &ee):
		h.Ran, h.ExitCode = true, ee.ExitCode()
		if h.ExitCode < 0 {
			h.Error = "killed: " + ee.String()
		}
	default:
		h.ExitCode, h.Error = -1, err.Error()
	}
}

// Package pgtest starts a throwaway PostgreSQL for tests. It is imported
// only by tests.
//
// DSN runs against REMPART_TEST_PG_DSN when it is set, or else against a
// server started from the Debian binaries (package postgresql) on first use
// and shared by every test of the test binary; TestMain stops it with Stop.
// Each call of DSN gets a schema of its own, dropped when the test ends.
// Without PostgreSQL the tests fail: they are never skipped.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

// EnvDSN names the variable holding the DSN of an existing PostgreSQL to
// test against instead of a throwaway one.
const EnvDSN = "REMPART_TEST_PG_DSN"

// shared is the throwaway server, started on first use. A failure to start
// is remembered, so that every test reports it without trying again.
var shared struct {
	mu      sync.Mutex
	started bool
	dsn     string
	err     error
	stop    func()
}

// DSN returns a DSN whose search_path is a new schema that is dropped when
// the test ends. It fails the test when there is no PostgreSQL to use.
func DSN(t testing.TB) string {
	t.Helper()
	base, err := baseDSN()
	if err != nil {
		t.Fatalf("PostgreSQL tests: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("PostgreSQL tests: %v", err)
	}
	defer admin.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "rempart_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("PostgreSQL tests: create schema on %s: %v", redact(base), err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(base, schema)
}

// Stop shuts the throwaway server down and removes its folder; a later
// DSN starts a new one. It does nothing when none was started.
func Stop() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.stop != nil {
		shared.stop()
	}
	shared.started, shared.dsn, shared.err, shared.stop = false, "", nil, nil
}

// baseDSN is REMPART_TEST_PG_DSN, or the throwaway server's DSN.
func baseDSN() (string, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn, nil
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		shared.dsn, shared.stop, shared.err = start()
	}
	return shared.dsn, shared.err
}

// withSearchPath adds search_path to a URL or keyword/value DSN.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return "the given DSN"
}

// binaries finds initdb and postgres, newest version first: Debian's
// /usr/lib/postgresql/<version>/bin, then PATH.
func binaries() (initdb, postgres string, err error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[i])), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[j])), 64)
		return vi > vj
	})
	for _, d := range dirs {
		i, p := filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExecutable(i) && isExecutable(p) {
			return i, p, nil
		}
	}
	i, err1 := exec.LookPath("initdb")
	p, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return i, p, nil
	}
	return "", "", fmt.Errorf("no PostgreSQL server to test against: set %s to a PostgreSQL DSN, "+
		"or install PostgreSQL (Debian: apt-get install -y postgresql; `make test` installs it) so that the tests start a throwaway server", EnvDSN)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// start runs initdb and postgres in a temporary folder, as the postgres
// user when the tests run as root (PostgreSQL refuses root), listening on
// 127.0.0.1 on a free port with its socket in the folder. The server gets
// SIGKILL if the test process dies, and stop shuts it down and removes the
// folder.
func start() (dsn string, stop func(), err error) {
	initdb, postgres, err := binaries()
	if err != nil {
		return "", nil, err
	}
	parent := ""
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", nil, fmt.Errorf("running as root, PostgreSQL must run as the user postgres "+
				"(created by the Debian package postgresql: apt-get install -y postgresql, or `make test`): %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		parent = "/tmp" // reachable by the postgres user, unlike a TMPDIR under /root
	}
	dir, err := os.MkdirTemp(parent, "rempart-pg-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	password := hex.EncodeToString(pw[:])
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		cleanup()
		return "", nil, err
	}
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	data := filepath.Join(dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "rempart", "--pwfile="+pwfile, "--auth=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		cleanup()
		return "", nil, err
	}
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		cleanup()
		return "", nil, err
	}
	defer logFile.Close()
	srv := exec.Command(postgres, "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	srv.Dir = dir
	srv.Stdout, srv.Stderr = logFile, logFile
	srv.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	// Pdeathsig fires when the thread that started the child exits: start
	// and wait for the server on a goroutine locked to its thread.
	started := make(chan error, 1)
	exited := make(chan struct{})
	var waitErr error
	go func() {
		runtime.LockOSThread()
		if err := srv.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		waitErr = srv.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		cleanup()
		return "", nil, fmt.Errorf("start postgres: %w", err)
	}
	stop = func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown; harmless if it exited
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
		cleanup()
	}
	dsn = fmt.Sprintf("postgres://rempart:%s@127.0.0.1:%d/postgres?sslmode=disable", password, port)
	if err := waitReady(dsn, exited, &waitErr); err != nil {
		log, _ := os.ReadFile(logPath)
		stop()
		return "", nil, fmt.Errorf("postgres did not start: %w\n%s", err, log)
	}
	return dsn, stop, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitReady(dsn string, exited <-chan struct{}, waitErr *error) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.Join(errors.New("postgres exited"), *waitErr)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}

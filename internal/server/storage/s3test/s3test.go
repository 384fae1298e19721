// Package s3test starts a throwaway S3 server with Object Lock for tests:
// versitygw (github.com/versity/versitygw) with its posix backend in a
// temporary folder, listening on 127.0.0.1 only. `make test` installs it
// (scripts/test.sh); tests fail, rather than skip, when it is missing, so
// that the Object Lock tests can never silently stop running.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Version is the versitygw release the tests are written against; keep it
// in step with VERSITYGW_VERSION in scripts/lib.sh.
const Version = "v1.8.0"

// Server is a running versitygw. Its root account holds AccessKey and
// SecretKey: the tests use the same credentials as the storage, to show
// that even they cannot delete a locked object.
type Server struct {
	Endpoint  string // 127.0.0.1:PORT, plain HTTP
	AccessKey string
	SecretKey string
	Region    string
	log       *lockedBuffer
}

// lockedBuffer collects versitygw's output for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Binary finds versitygw on PATH or in $(go env GOPATH)/bin, or fails the
// test with how to install it.
func Binary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("versitygw (the S3 server with Object Lock these tests run against) is not installed: run `make test` once, which installs it, or `go install github.com/versity/versitygw/cmd/versitygw@%s` (looked on PATH and in %v)", Version, dirs)
	return ""
}

// Start runs versitygw until the test ends. Its data lives in t.TempDir().
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	s := &Server{AccessKey: "rempart-test-" + randHex(4), SecretKey: randHex(20), Region: "us-east-1"}
	var lastErr error
	// A free port can be taken between the probe and versitygw's listen:
	// try a few.
	for range 3 {
		if lastErr = s.start(t, bin); lastErr == nil {
			return s
		}
	}
	t.Fatalf("s3test: cannot start versitygw: %v", lastErr)
	return nil
}

func (s *Server) start(t testing.TB, bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	dir := t.TempDir()
	root, versions := filepath.Join(dir, "root"), filepath.Join(dir, "versions")
	for _, d := range []string{root, versions} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	s.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
	s.log = &lockedBuffer{}
	// Global flags first, then the backend with its own flags; the
	// versioning folder is what makes Object Lock (hence versioning)
	// available on buckets.
	cmd := exec.Command(bin,
		"--port", s.Endpoint,
		"--access", s.AccessKey,
		"--secret", s.SecretKey,
		"--region", s.Region,
		"--health", "/health",
		"--quiet",
		"posix", "--versioning-dir", versions, root)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited at start:\n%s", s.log.String())
		default:
		}
		resp, err := http.Get("http://" + s.Endpoint + "/health")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("versitygw did not answer on %s within 15s:\n%s", s.Endpoint, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", s.log.String())
		}
	})
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Client is a raw S3 client with the root credentials: what an attacker
// holding the storage credentials could use.
func (s *Server) Client(t testing.TB) *minio.Client {
	t.Helper()
	c, err := minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: s.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Bucket creates a new bucket, with Object Lock enabled when locked is
// true, and returns its name.
func (s *Server) Bucket(t testing.TB, locked bool) string {
	t.Helper()
	name := "rempart-" + randHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Client(t).MakeBucket(ctx, name, minio.MakeBucketOptions{Region: s.Region, ObjectLocking: locked}); err != nil {
		t.Fatalf("s3test: create bucket %s: %v\nversitygw output:\n%s", name, err, s.log.String())
	}
	return name
}

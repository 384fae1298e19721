package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/rempart/rempart/internal/clientconf"
	"github.com/rempart/rempart/internal/ui"
	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/backend/local"
	"github.com/rempart/rempart/internal/vault/backend/remote"
	"github.com/rempart/rempart/internal/vault/repo"
)

func repoPath() (string, error) {
	if g.repo == "" {
		return "", usagef("no repository given: use --repo DIR or set REMPART_REPO")
	}
	return g.repo, nil
}

// password returns the passphrase from the environment, a file or a prompt.
func password(label string) (string, error) {
	if g.passwordFile != "" {
		return ui.ReadPasswordFile(g.passwordFile)
	}
	if p := os.Getenv("REMPART_PASSWORD"); p != "" {
		return p, nil
	}
	return ui.Prompt(label)
}

func openBackend(path string) (backend.Backend, error) {
	if isRemote(path) {
		return openRemote(path)
	}
	be, err := local.Open(path)
	if err != nil {
		return nil, openError{err}
	}
	return be, nil
}

// createBackend is where init creates a repository: a new local folder, or
// the tenant's (empty) repository on a server.
func createBackend(path string) (backend.Backend, error) {
	if isRemote(path) {
		return openRemote(path)
	}
	return local.Create(path)
}

// isRemote reports whether --repo names a server (https://HOST:PORT/TENANT).
func isRemote(path string) bool {
	return strings.HasPrefix(path, "https://") || strings.HasPrefix(path, "http://")
}

// enrolledHost is the name this machine enrolled with as an agent of the
// tenant that --repo names ("" for a local repository or when it is not an
// agent there). Backups to that tenant record it, so that the continuity
// plan's sources (host + path) and drills find them under the same name.
func enrolledHost(path string) string {
	if !isRemote(path) {
		return ""
	}
	st, err := clientconf.Load()
	if err != nil {
		return ""
	}
	sv := st.Server(path)
	u, err := url.Parse(path)
	if sv == nil || err != nil {
		return ""
	}
	if a := sv.Agents[strings.Trim(u.Path, "/")]; a != nil {
		return a.Host
	}
	return ""
}

// openRemote opens https://HOST:PORT/TENANT with what `rempart agent join`
// or `rempart login` saved for that server: the agent token of that tenant,
// else the admin session, and the pinned CA.
func openRemote(path string) (backend.Backend, error) {
	if strings.HasPrefix(path, "http://") {
		return nil, usagef("repository %s: servers are reached over HTTPS only: use https://HOST:PORT/TENANT", path)
	}
	st, err := clientconf.Load()
	if err != nil {
		return nil, err
	}
	sv := st.Server(path)
	if sv == nil || sv.CAFingerprint == "" {
		return nil, fmt.Errorf("repository %s: this machine does not know that server yet: run `rempart agent join URL TOKEN` (or `rempart login URL`) first", path)
	}
	u, err := url.Parse(path)
	if err != nil {
		return nil, usagef("repository address %q: %v", path, err)
	}
	token := ""
	if a := sv.Agents[strings.Trim(u.Path, "/")]; a != nil {
		token = a.Token
	} else if sv.Admin.Valid(time.Now()) {
		token = sv.Admin.Token
	}
	client, err := pinnedClient(sv)
	if err != nil {
		return nil, err
	}
	be, err := remote.New(path, token, client)
	if err != nil {
		return nil, usageError{err}
	}
	return be, nil
}

type lockMode int

const (
	noLock lockMode = iota
	sharedLock
	exclusiveLock
)

// session is an open repository with its lock.
type session struct {
	r    *repo.Repository
	lock *repo.Lock
}

func (s *session) Close() {
	s.lock.Unlock()
	_ = s.r.Close()
}

// openRepo opens the repository, checks the passphrase, takes a lock and
// loads the index when asked.
func openRepo(ctx context.Context, mode lockMode, command string, loadIndex bool) (*session, error) {
	path, err := repoPath()
	if err != nil {
		return nil, err
	}
	be, err := openBackend(path)
	if err != nil {
		return nil, err
	}
	if _, err := repo.ReadConfig(ctx, be); err != nil {
		return nil, openError{err}
	}
	pw, err := password("Passphrase (or recovery key) for " + path + ": ")
	if err != nil {
		return nil, err
	}
	r, err := repo.Open(ctx, be, pw)
	if err != nil {
		return nil, err
	}
	// argon2id just used 64 MiB: give it back before the real work starts.
	debug.FreeOSMemory()
	s := &session{r: r}
	if mode != noLock {
		l, err := r.Lock(ctx, mode == exclusiveLock, command)
		if err != nil && mode == sharedLock && command != "backup" && cannotWrite(err) {
			// A write-protected repository (read-only medium, full disk)
			// must still restore and check: reading needs no lock file.
			fmt.Fprintf(os.Stderr, "warning: cannot write a lock in the repository (%v); going on without one\n", err)
			err = nil
		}
		if err != nil {
			return nil, err
		}
		s.lock = l
	}
	if loadIndex {
		problems, err := r.LoadIndex(ctx)
		if err != nil {
			s.Close()
			return nil, err
		}
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "warning: index file %s cannot be read (%v); run `rempart check`\n", p.Name[:8], p.Err)
		}
	}
	return s, nil
}

func cannotWrite(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, backend.ErrNoSpace)
}

// absIfLocal returns the absolute repository path when it is a folder, and
// "" for a server.
func absIfLocal() string {
	if isRemote(g.repo) {
		return ""
	}
	if p, err := filepath.Abs(g.repo); err == nil {
		return p
	}
	return ""
}

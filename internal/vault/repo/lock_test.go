package repo_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/vault/backend"
	"github.com/rempart/rempart/internal/vault/repo"
)

func countLocks(t *testing.T, r *repo.Repository) int {
	t.Helper()
	n := 0
	if err := r.Backend().List(context.Background(), backend.Lock, func(backend.FileInfo) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func plantLock(t *testing.T, r *repo.Repository, name string, li repo.LockInfo) {
	t.Helper()
	buf, _ := json.Marshal(li)
	if err := r.Backend().Save(context.Background(), backend.Handle{Type: backend.Lock, Name: name}, buf); err != nil {
		t.Fatal(err)
	}
}

func TestLocks(t *testing.T) {
	ctx := context.Background()
	dir, r, recovery := initRepo(t)
	other, err := open(t, dir, recovery) // a second opener of the same repository
	if err != nil {
		t.Fatal(err)
	}

	ex, err := r.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatalf("first exclusive lock: %v", err)
	}
	for _, exclusive := range []bool{true, false} {
		if l, err := other.Lock(ctx, exclusive, "backup"); !errors.Is(err, repo.ErrLocked) {
			l.Unlock()
			t.Errorf("lock (exclusive %v) while an exclusive lock is held: %v, want ErrLocked", exclusive, err)
		}
	}
	if n := countLocks(t, r); n != 1 {
		t.Errorf("%d lock files after refused attempts, want 1", n)
	}
	ex.Unlock()
	ex.Unlock() // twice is harmless
	if n := countLocks(t, r); n != 0 {
		t.Errorf("%d lock files after unlock, want 0", n)
	}

	// Shared locks coexist, and keep an exclusive one out.
	s1, err := r.Lock(ctx, false, "backup")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := other.Lock(ctx, false, "restore")
	if err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if l, err := other.Lock(ctx, true, "prune"); !errors.Is(err, repo.ErrLocked) {
		l.Unlock()
		t.Errorf("exclusive lock while shared locks are held: %v, want ErrLocked", err)
	}
	s1.Unlock()
	if l, err := other.Lock(ctx, true, "prune"); !errors.Is(err, repo.ErrLocked) {
		l.Unlock()
		t.Errorf("exclusive lock while one shared lock is held: %v, want ErrLocked", err)
	}
	s2.Unlock()
	ex, err = other.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatalf("exclusive lock once everything is released: %v", err)
	}
	ex.Unlock()
}

func TestStaleLocks(t *testing.T) {
	ctx := context.Background()
	_, r, _ := initRepo(t)
	host, _ := os.Hostname()

	// A process that is gone.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	plantLock(t, r, "deadbeef01", repo.LockInfo{Time: time.Now().UTC(), Exclusive: true, Host: host, PID: dead, Command: "prune"})
	// A lock from another machine not refreshed for longer than StaleAfter.
	plantLock(t, r, "deadbeef02", repo.LockInfo{Time: time.Now().Add(-repo.StaleAfter - time.Minute).UTC(), Exclusive: true, Host: "elsewhere", PID: 1, Command: "prune"})
	// An unreadable lock file.
	if err := r.Backend().Save(ctx, backend.Handle{Type: backend.Lock, Name: "deadbeef03"}, []byte("{garbage")); err != nil {
		t.Fatal(err)
	}

	l, err := r.Lock(ctx, true, "prune")
	if err != nil {
		t.Fatalf("stale locks were not ignored: %v", err)
	}
	n, err := r.RemoveStaleLocks(ctx)
	if err != nil || n != 3 {
		t.Errorf("RemoveStaleLocks removed %d (%v), want 3", n, err)
	}
	if c := countLocks(t, r); c != 1 {
		t.Errorf("%d lock files left, want only the live one", c)
	}
	l.Unlock()

	// A recent lock from another machine may be alive: it is respected.
	plantLock(t, r, "cafe01", repo.LockInfo{Time: time.Now().UTC(), Exclusive: false, Host: "elsewhere", PID: 1, Command: "backup"})
	if l, err := r.Lock(ctx, true, "prune"); !errors.Is(err, repo.ErrLocked) {
		l.Unlock()
		t.Errorf("exclusive lock over another machine's recent shared lock: %v, want ErrLocked", err)
	}
	if l, err := r.Lock(ctx, false, "backup"); err != nil {
		t.Errorf("shared lock next to another shared lock: %v", err)
	} else {
		l.Unlock()
	}
	// A live process on this machine (this one) holding an exclusive lock.
	plantLock(t, r, "cafe02", repo.LockInfo{Time: time.Now().UTC(), Exclusive: true, Host: host, PID: os.Getpid(), Command: "prune"})
	if l, err := r.Lock(ctx, false, "backup"); !errors.Is(err, repo.ErrLocked) {
		l.Unlock()
		t.Errorf("shared lock over a live exclusive lock: %v, want ErrLocked", err)
	}
	if n, _ := r.RemoveStaleLocks(ctx); n != 0 {
		t.Errorf("RemoveStaleLocks removed %d live locks", n)
	}
}

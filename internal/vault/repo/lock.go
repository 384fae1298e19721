package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/rempart/rempart/internal/vault/backend"
)

// Locks keep prune from deleting what a running backup or restore relies
// on. Backup, restore and check take a shared lock; forget and prune take
// an exclusive one. A lock is refreshed while held; one that has not been
// refreshed for StaleAfter, or whose process is gone on this host, is stale
// and ignored.

// StaleAfter is how old an unrefreshed lock must be to be ignored.
const StaleAfter = 30 * time.Minute

const refreshEvery = 5 * time.Minute

// ErrLocked means another process holds a conflicting lock.
var ErrLocked = errors.New("repository is locked by another process")

// LockInfo is the content of a lock file.
type LockInfo struct {
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Command   string    `json:"command,omitempty"`
}

// Lock is a held lock.
type Lock struct {
	r    *Repository
	name string
	info LockInfo
	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
}

func (li LockInfo) stale(now time.Time) bool {
	if now.Sub(li.Time) > StaleAfter {
		return true
	}
	host, _ := os.Hostname()
	if li.Host == host && li.PID > 0 {
		if err := syscall.Kill(li.PID, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
	}
	return false
}

func (r *Repository) conflicting(ctx context.Context, exclusive bool, self string) (*LockInfo, error) {
	var found *LockInfo
	now := time.Now()
	err := r.be.List(ctx, backend.Lock, func(fi backend.FileInfo) error {
		if fi.Name == self {
			return nil
		}
		buf, err := r.be.Load(ctx, backend.Handle{Type: backend.Lock, Name: fi.Name}, 0, 0)
		if err != nil {
			return nil // removed meanwhile
		}
		var li LockInfo
		if json.Unmarshal(buf, &li) != nil || li.stale(now) {
			return nil
		}
		if exclusive || li.Exclusive {
			found = &li
		}
		return nil
	})
	return found, err
}

// Lock takes a shared or exclusive lock for command.
func (r *Repository) Lock(ctx context.Context, exclusive bool, command string) (*Lock, error) {
	if li, err := r.conflicting(ctx, exclusive, ""); err != nil {
		return nil, fmt.Errorf("reading locks: %w", err)
	} else if li != nil {
		return nil, lockedErr(li)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	l := &Lock{r: r, name: hex.EncodeToString(b), stop: make(chan struct{}),
		info: LockInfo{Exclusive: exclusive, Host: host, PID: os.Getpid(), Command: command}}
	if err := l.write(ctx); err != nil {
		return nil, err
	}
	// Check again: two processes may have looked at the same moment.
	if li, err := r.conflicting(ctx, exclusive, l.name); err != nil || li != nil {
		_ = r.be.Remove(context.WithoutCancel(ctx), backend.Handle{Type: backend.Lock, Name: l.name})
		if err != nil {
			return nil, err
		}
		return nil, lockedErr(li)
	}
	l.done.Add(1)
	go l.refresh()
	return l, nil
}

func lockedErr(li *LockInfo) error {
	kind := "shared"
	if li.Exclusive {
		kind = "exclusive"
	}
	return fmt.Errorf("%w: %s lock by %q (pid %d on %s) since %s; wait for it to finish, or if that process is gone the lock expires %s after its last refresh",
		ErrLocked, kind, li.Command, li.PID, li.Host, li.Time.Local().Format(time.DateTime), StaleAfter)
}

func (l *Lock) write(ctx context.Context) error {
	l.info.Time = time.Now().UTC()
	buf, _ := json.Marshal(l.info)
	if err := l.r.be.Save(ctx, backend.Handle{Type: backend.Lock, Name: l.name}, buf); err != nil {
		return fmt.Errorf("writing lock: %w", err)
	}
	return nil
}

func (l *Lock) refresh() {
	defer l.done.Done()
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			_ = l.write(context.Background())
		}
	}
}

// Unlock releases the lock.
func (l *Lock) Unlock() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		close(l.stop)
		l.done.Wait()
		_ = l.r.be.Remove(context.Background(), backend.Handle{Type: backend.Lock, Name: l.name})
	})
}

// RemoveStaleLocks deletes stale lock files and returns how many.
func (r *Repository) RemoveStaleLocks(ctx context.Context) (int, error) {
	n := 0
	now := time.Now()
	var stale []string
	err := r.be.List(ctx, backend.Lock, func(fi backend.FileInfo) error {
		buf, err := r.be.Load(ctx, backend.Handle{Type: backend.Lock, Name: fi.Name}, 0, 0)
		if err != nil {
			return nil
		}
		var li LockInfo
		if json.Unmarshal(buf, &li) != nil || li.stale(now) {
			stale = append(stale, fi.Name)
		}
		return nil
	})
	for _, s := range stale {
		if r.be.Remove(ctx, backend.Handle{Type: backend.Lock, Name: s}) == nil {
			n++
		}
	}
	return n, err
}

package server

import (
	"net"
	"sync"
	"time"
)

// Sign-in throttling. Passwords are argon2id hashes and TOTP codes have a
// million values, but nothing stopped a script from trying them one after
// another. After too many failures in a window, /v1/login answers 429
// without checking anything, for that user name (someone guessing one
// account's password or code) or for that address (someone spraying many
// accounts). A success clears the user name's count.
const (
	loginWindow      = 15 * time.Minute
	loginMaxPerUser  = 10
	loginMaxPerAddr  = 50
	loginLimiterKeys = 10000 // bound on remembered names and addresses
)

type loginLimiter struct {
	mu    sync.Mutex
	now   func() time.Time
	fails map[string][]time.Time // "u:name" or "a:address" → recent failures
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{now: time.Now, fails: map[string][]time.Time{}}
}

func userKey(name string) string { return "u:" + name }

func addrKey(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	return "a:" + remote
}

// blocked reports whether a sign-in for user from remote must wait, and
// until when.
func (l *loginLimiter) blocked(user, remote string) (bool, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range []struct {
		key string
		max int
	}{{userKey(user), loginMaxPerUser}, {addrKey(remote), loginMaxPerAddr}} {
		f := l.recent(k.key, now)
		if len(f) >= k.max {
			return true, f[len(f)-k.max].Add(loginWindow)
		}
	}
	return false, time.Time{}
}

// failed counts a failed sign-in.
func (l *loginLimiter) failed(user, remote string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.fails) >= loginLimiterKeys {
		for k := range l.fails {
			if len(l.recent(k, now)) == 0 {
				delete(l.fails, k)
			}
		}
	}
	for _, k := range []string{userKey(user), addrKey(remote)} {
		if _, ok := l.fails[k]; !ok && len(l.fails) >= loginLimiterKeys {
			continue // full of live entries: count the others only
		}
		l.fails[k] = append(l.recent(k, now), now)
	}
}

// succeeded clears the user name's failures.
func (l *loginLimiter) succeeded(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, userKey(user))
}

// recent drops the failures older than the window and returns the rest.
func (l *loginLimiter) recent(key string, now time.Time) []time.Time {
	f := l.fails[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= loginWindow {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = f
	return f
}

// Package ratelimit counts events (failed sign-ins, join requests…) per key
// over a sliding window, in memory, and says when a key has had too many.
// It is shared by the server's sign-in throttling and the crisis relay's
// join limits; it imports nothing of either.
package ratelimit

import (
	"net"
	"sync"
	"time"
)

// Window remembers, for each key, when its recent events happened.
type Window struct {
	mu      sync.Mutex
	now     func() time.Time
	window  time.Duration
	maxKeys int
	hits    map[string][]time.Time // key → events in the window, oldest first
}

// New returns a Window that counts events over window and remembers at
// most maxKeys keys (once full, events of new keys are not counted until
// old keys expire: memory stays bounded whatever a client sends). now is
// the clock (nil: time.Now).
func New(window time.Duration, maxKeys int, now func() time.Time) *Window {
	if now == nil {
		now = time.Now
	}
	return &Window{now: now, window: window, maxKeys: maxKeys, hits: map[string][]time.Time{}}
}

// Limit is at most Max events for Key in the window.
type Limit struct {
	Key string
	Max int
}

// Blocked reports whether one of limits is reached, and how long until
// that key is allowed one more event.
func (w *Window) Blocked(limits ...Limit) (bool, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	for _, l := range limits {
		f := w.recent(l.Key, now)
		if l.Max > 0 && len(f) >= l.Max {
			return true, f[len(f)-l.Max].Add(w.window).Sub(now)
		}
	}
	return false, 0
}

// Add counts one event, now, for each key.
func (w *Window) Add(keys ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if len(w.hits) >= w.maxKeys {
		for k := range w.hits {
			w.recent(k, now) // drops the keys with nothing left in the window
		}
	}
	for _, k := range keys {
		if _, ok := w.hits[k]; !ok && len(w.hits) >= w.maxKeys {
			continue // full of live keys: count the others only
		}
		w.hits[k] = append(w.recent(k, now), now)
	}
}

// Clear forgets a key's events.
func (w *Window) Clear(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.hits, key)
}

// recent drops the key's events older than the window and returns the
// rest. Callers hold mu.
func (w *Window) recent(key string, now time.Time) []time.Time {
	f := w.hits[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= w.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(w.hits, key)
		return nil
	}
	w.hits[key] = f
	return f
}

// Host is the address part of an http.Request's RemoteAddr ("host:port"),
// the key of per-address limits.
func Host(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

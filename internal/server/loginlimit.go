package server

import (
	"time"

	"github.com/rempart/rempart/internal/ratelimit"
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
	now   func() time.Time // the clock (tests set it)
	fails *ratelimit.Window
}

func newLoginLimiter() *loginLimiter {
	l := &loginLimiter{now: time.Now}
	l.fails = ratelimit.New(loginWindow, loginLimiterKeys, func() time.Time { return l.now() })
	return l
}

func userKey(name string) string { return "u:" + name }

func addrKey(remote string) string { return "a:" + ratelimit.Host(remote) }

// blocked reports whether a sign-in for user from remote must wait, and
// for how long.
func (l *loginLimiter) blocked(user, remote string) (bool, time.Duration) {
	return l.fails.Blocked(ratelimit.Limit{Key: userKey(user), Max: loginMaxPerUser}, ratelimit.Limit{Key: addrKey(remote), Max: loginMaxPerAddr})
}

// failed counts a failed sign-in.
func (l *loginLimiter) failed(user, remote string) {
	l.fails.Add(userKey(user), addrKey(remote))
}

// succeeded clears the user name's failures.
func (l *loginLimiter) succeeded(user string) {
	l.fails.Clear(userKey(user))
}

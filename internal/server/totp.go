package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6238 TOTP is defined over HMAC-SHA1, as authenticator apps use it
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// totpIssuer names the server in authenticator apps.
const totpIssuer = "Rempart"

// totpSecretLen is the size of a new secret: 160 bits, the length RFC 4226
// recommends for HMAC-SHA1 (and what authenticator apps expect).
const totpSecretLen = 20

// newTOTPSecret draws a secret, base32 without padding as apps take it.
func newTOTPSecret() (string, error) {
	b := make([]byte, totpSecretLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("draw a second-factor secret: %w", err)
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b), nil
}

// otpauthURI is the key URI that authenticator apps read from a QR code:
// otpauth://totp/Rempart:USER?secret=...&issuer=Rempart (SHA-1, 6 digits,
// 30 s, which validTOTP checks).
func otpauthURI(username, secret string) string {
	q := url.Values{
		"secret": {secret}, "issuer": {totpIssuer},
		"algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"},
	}
	return "otpauth://totp/" + url.PathEscape(totpIssuer) + ":" + url.PathEscape(username) + "?" + q.Encode()
}

// validTOTP checks a 6-digit RFC 6238 code (30 s steps, one step of clock
// drift either way) against a base32 secret.
func validTOTP(secret, code string, now time.Time) bool {
	_, ok := totpStep(secret, code, now)
	return ok
}

// totpStep is validTOTP that also says which 30 s step the code belongs
// to, so that sign-in can refuse a code used before.
func totpStep(secret, code string, now time.Time) (int64, bool) {
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return 0, false
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "=")))
	if err != nil || len(key) == 0 {
		return 0, false
	}
	step := now.Unix() / 30
	var found int64
	ok := 0
	for d := int64(-1); d <= 1; d++ {
		m := subtle.ConstantTimeCompare([]byte(totpAt(key, step+d)), []byte(code))
		found = int64(subtle.ConstantTimeSelect(m, int(step+d), int(found)))
		ok |= m
	}
	return found, ok == 1
}

// totpSeen remembers, per account, the last step whose code signed in:
// a code seen on the wire (over a shoulder, in a proxy log, by malware on
// the admin's machine) cannot sign in a second time. In memory: after a
// restart a code of the last minute and a half could be used once more.
type totpSeen struct {
	mu   sync.Mutex
	last map[int64]int64 // account ID → step
}

// use records step for the account; false when that step or a later one
// was already used.
func (t *totpSeen) use(account, step int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[int64]int64{}
	}
	if last, ok := t.last[account]; ok && step <= last {
		return false
	}
	t.last[account] = step
	return true
}

func totpAt(key []byte, step int64) string {
	mac := hmac.New(sha1.New, key)
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

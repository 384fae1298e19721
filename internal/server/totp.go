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
	code = strings.TrimSpace(code)
	if len(code) != 6 {
		return false
	}
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "=")))
	if err != nil || len(key) == 0 {
		return false
	}
	step := now.Unix() / 30
	ok := 0
	for d := int64(-1); d <= 1; d++ {
		ok |= subtle.ConstantTimeCompare([]byte(totpAt(key, step+d)), []byte(code))
	}
	return ok == 1
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

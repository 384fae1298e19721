package server

import (
	"encoding/base32"
	"testing"
	"time"
)

func TestTOTPRFC6238(t *testing.T) {
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	// RFC 6238 appendix B, SHA-1, T=59: 94287082 (6 digits: 287082).
	now := time.Unix(59, 0)
	if !validTOTP(secret, "287082", now) {
		t.Error("the RFC 6238 test vector is refused")
	}
	if validTOTP(secret, "287083", now) || validTOTP(secret, "", now) || validTOTP("not base32!", "287082", now) {
		t.Error("a wrong code is accepted")
	}
	if validTOTP(secret, "287082", now.Add(5*time.Minute)) {
		t.Error("an old code is accepted")
	}
}

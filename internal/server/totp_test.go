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

// TestTOTPSeen: a step signs in once per account; later steps still do;
// other accounts are independent.
func TestTOTPSeen(t *testing.T) {
	var s totpSeen
	if !s.use(1, 100) || s.use(1, 100) || s.use(1, 99) {
		t.Fatal("step 100 of account 1: first use refused, or a second use (or an older step) accepted")
	}
	if !s.use(1, 101) || !s.use(2, 100) {
		t.Fatal("a later step, or another account, refused")
	}
}

// TestTOTPStep names the step a code belongs to, within one step of drift.
func TestTOTPStep(t *testing.T) {
	secret := "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	now := time.Unix(1_800_000_015, 0)
	step := now.Unix() / 30
	for d := int64(-1); d <= 1; d++ {
		if got, ok := totpStep(secret, totpAt(key, step+d), now); !ok || got != step+d {
			t.Errorf("code of step %+d: step %d, ok %v", d, got-step, ok)
		}
	}
	if _, ok := totpStep(secret, totpAt(key, step+2), now); ok {
		t.Error("a code two steps ahead is accepted")
	}
}

package pki

import (
	"strings"
	"testing"
)

func TestFingerprintFormatAndParse(t *testing.T) {
	var f Fingerprint
	for i := range f {
		f[i] = byte(i*7 + 3)
	}
	s := f.String()
	if s != "03:0A:11:18:1F:26:2D:34:3B:42:49:50:57:5E:65:6C:73:7A:81:88:8F:96:9D:A4:AB:B2:B9:C0:C7:CE:D5:DC" {
		t.Fatalf("String() = %s", s)
	}
	plain := strings.ReplaceAll(s, ":", "")
	for _, in := range []string{
		s,
		strings.ToLower(s),
		plain,
		strings.ToLower(plain),
		"  " + s + "\n",
		"SHA256:" + s,
		"sha256:" + strings.ToLower(plain),
		strings.ReplaceAll(s, ":", ": "),
	} {
		got, err := ParseFingerprint(in)
		if err != nil {
			t.Errorf("ParseFingerprint(%q): %v", in, err)
			continue
		}
		if !got.Equal(f) {
			t.Errorf("ParseFingerprint(%q) = %s", in, got)
		}
	}
	for _, bad := range []string{
		"",
		plain[:62],
		plain + "00",
		"ZZ" + plain[2:],
		s[:2] + s[3:5] + ":" + s[5:], // a colon in the wrong place
		strings.ReplaceAll(s, ":", "-"),
	} {
		if _, err := ParseFingerprint(bad); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", bad)
		}
	}
}

func TestFingerprintEqual(t *testing.T) {
	a := FingerprintOf([]byte("one"))
	b := FingerprintOf([]byte("one"))
	c := FingerprintOf([]byte("two"))
	if !a.Equal(b) || a.Equal(c) {
		t.Fatal("Equal is wrong")
	}
	if a.IsZero() || !(Fingerprint{}).IsZero() {
		t.Fatal("IsZero is wrong")
	}
}

package pki

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testOptions describe a fixed machine, so that the names in the server
// certificate are known.
func testOptions(now *time.Time, extra ...string) Options {
	return Options{
		ExtraNames: extra,
		Now:        func() time.Time { return *now },
		Hostname:   func() (string, error) { return "Mairie-Srv01", nil },
		InterfaceAddrs: func() ([]net.Addr, error) {
			return []net.Addr{
				&net.IPNet{IP: net.ParseIP("127.0.0.1"), Mask: net.CIDRMask(8, 32)},
				&net.IPNet{IP: net.ParseIP("192.0.2.10"), Mask: net.CIDRMask(24, 32)},
				&net.IPNet{IP: net.ParseIP("fe80::1"), Mask: net.CIDRMask(64, 128)},
				&net.IPNet{IP: net.ParseIP("2001:db8::10"), Mask: net.CIDRMask(64, 128)},
			}, nil
		},
		Logger: slog.New(slog.DiscardHandler),
	}
}

func mustEnsure(t *testing.T, dir string, opts Options) *Bundle {
	t.Helper()
	b, err := Ensure(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return b
}

func TestEnsureCreatesCAAndServerCertificate(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	b := mustEnsure(t, dir, testOptions(&now, "backup.mairie.example", "10.1.2.3", "[2001:db8::99]"))

	for name, perm := range map[string]os.FileMode{CACertFile: 0o644, CAKeyFile: 0o600, ServerCertFile: 0o644, ServerKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Mode().Perm() != perm {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), perm)
		}
	}

	ca := b.CACertificate()
	if !ca.IsCA || ca.CheckSignatureFrom(ca) != nil {
		t.Fatal("CA certificate is not a self-signed CA")
	}
	if years := ca.NotAfter.Sub(now).Hours() / 24 / 365; years < 9.9 || years > 10.1 {
		t.Errorf("CA valid for %.2f years, want 10", years)
	}
	if _, err := ParseCA(b.CAPEM()); err != nil {
		t.Fatalf("CAPEM: %v", err)
	}

	leaf := b.ServerCertificate()
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("server certificate not signed by the CA: %v", err)
	}
	if days := leaf.NotAfter.Sub(now).Hours() / 24; days < 364 || days > 366 {
		t.Errorf("server certificate valid for %.1f days, want about 365", days)
	}
	wantDNS := []string{"localhost", "mairie-srv01", "backup.mairie.example"}
	if !slices.Equal(leaf.DNSNames, wantDNS) {
		t.Errorf("DNS names %v, want %v", leaf.DNSNames, wantDNS)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	wantIPs := []string{"127.0.0.1", "::1", "192.0.2.10", "2001:db8::10", "10.1.2.3", "2001:db8::99"}
	if !slices.Equal(ips, wantIPs) {
		t.Errorf("IP addresses %v, want %v (link-local left out)", ips, wantIPs)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("ext key usage %v", leaf.ExtKeyUsage)
	}

	fp := b.Fingerprint()
	if want := sha256.Sum256(ca.Raw); fp != want {
		t.Fatal("fingerprint is not the SHA-256 of the CA DER")
	}
	if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(fp.String()) {
		t.Errorf("fingerprint %q is not upper-case hex pairs separated by colons", fp)
	}
}

func TestEnsureReloadsWithoutChange(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	b1 := mustEnsure(t, dir, testOptions(&now))
	key1, err := os.ReadFile(filepath.Join(dir, ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(24 * time.Hour)
	b2 := mustEnsure(t, dir, testOptions(&now))
	if b1.Fingerprint() != b2.Fingerprint() {
		t.Fatal("fingerprint changed on reload")
	}
	if b1.ServerCertificate().SerialNumber.Cmp(b2.ServerCertificate().SerialNumber) != 0 {
		t.Fatal("server certificate was reissued on a plain reload")
	}
	key2, err := os.ReadFile(filepath.Join(dir, ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key1, key2) {
		t.Fatal("server key rewritten on a plain reload")
	}
}

func TestRenewNearExpiry(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	now := start
	b := mustEnsure(t, dir, testOptions(&now))
	first := b.ServerCertificate()

	// 300 days later: still more than 30 days left.
	now = start.Add(300 * 24 * time.Hour)
	if renewed, err := b.Renew(context.Background()); err != nil || renewed {
		t.Fatalf("Renew at +300d = %v, %v; want no renewal", renewed, err)
	}

	// 340 days later: 25 days left, a later start renews.
	now = start.Add(340 * 24 * time.Hour)
	b2 := mustEnsure(t, dir, testOptions(&now))
	second := b2.ServerCertificate()
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("server certificate not renewed 25 days before expiry")
	}
	if !second.NotAfter.After(first.NotAfter) {
		t.Fatalf("renewed certificate expires %v, not after %v", second.NotAfter, first.NotAfter)
	}
	if b2.Fingerprint() != b.Fingerprint() {
		t.Fatal("renewal changed the CA")
	}

	// A running server renews in place: the TLS config presents the new one.
	now = second.NotAfter.Add(-10 * 24 * time.Hour)
	renewed, err := b2.Renew(context.Background())
	if err != nil || !renewed {
		t.Fatalf("Renew 10 days before expiry = %v, %v; want renewal", renewed, err)
	}
	got, err := b2.TLSConfig().GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Leaf.SerialNumber.Cmp(second.SerialNumber) == 0 || got.Leaf != b2.ServerCertificate() {
		t.Fatal("TLS config still presents the old certificate")
	}
}

func TestRenewWhenNamesChange(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	b1 := mustEnsure(t, dir, testOptions(&now))
	b2 := mustEnsure(t, dir, testOptions(&now, "rempart.sivom.example"))
	if b1.ServerCertificate().SerialNumber.Cmp(b2.ServerCertificate().SerialNumber) == 0 {
		t.Fatal("a new extra name did not reissue the server certificate")
	}
	if !slices.Contains(b2.ServerCertificate().DNSNames, "rempart.sivom.example") {
		t.Fatalf("DNS names %v lack the extra name", b2.ServerCertificate().DNSNames)
	}
}

func TestEnsureRejectsBadNames(t *testing.T) {
	now := time.Now()
	for _, bad := range []string{"bad name", "https://host", "-x.example", "a..b", ""} {
		dir := t.TempDir()
		if _, err := Ensure(context.Background(), dir, testOptions(&now, bad)); err == nil {
			t.Errorf("extra name %q accepted", bad)
		}
		if _, err := os.Stat(filepath.Join(dir, CAKeyFile)); err == nil {
			t.Errorf("extra name %q: CA created before the names were checked", bad)
		}
	}
}

func TestMissingCAKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mustEnsure(t, dir, testOptions(&now))
	if err := os.Remove(filepath.Join(dir, CAKeyFile)); err != nil {
		t.Fatal(err)
	}
	_, err := Ensure(context.Background(), dir, testOptions(&now))
	if err == nil || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("Ensure without CA key = %v, want a missing-key error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, CACertFile)); err != nil {
		t.Fatal("the CA certificate was removed")
	}
}

func TestExpiredCAIsAnError(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mustEnsure(t, dir, testOptions(&now))
	now = now.AddDate(10, 0, 2)
	if _, err := Ensure(context.Background(), dir, testOptions(&now)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Ensure with an expired CA = %v", err)
	}
}

func TestLooseKeyModeIsFixed(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mustEnsure(t, dir, testOptions(&now))
	path := filepath.Join(dir, CAKeyFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	mustEnsure(t, dir, testOptions(&now))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode %v after reload, want 0600", fi.Mode().Perm())
	}
}

func TestForeignServerCertificateIsReplaced(t *testing.T) {
	now := time.Now()
	dirA, dirB := t.TempDir(), t.TempDir()
	mustEnsure(t, dirA, testOptions(&now))
	b := mustEnsure(t, dirB, testOptions(&now))
	// Put A's server certificate and key in B's folder.
	for _, name := range []string{ServerCertFile, ServerKeyFile} {
		data, err := os.ReadFile(filepath.Join(dirA, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirB, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	renewed, err := b.Renew(context.Background())
	if err != nil || !renewed {
		t.Fatalf("Renew with a foreign certificate = %v, %v", renewed, err)
	}
	if err := b.ServerCertificate().CheckSignatureFrom(b.CACertificate()); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Ensure(ctx, t.TempDir(), Options{}); err == nil {
		t.Fatal("Ensure ran with a cancelled context")
	}
}

func TestDefaultsUseTheMachine(t *testing.T) {
	b, err := Ensure(context.Background(), t.TempDir(), Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	leaf := b.ServerCertificate()
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if host, err := os.Hostname(); err == nil && validDNSName(strings.ToLower(host)) {
		if err := leaf.VerifyHostname(host); err != nil {
			t.Error(err)
		}
	}
}

func TestWriteFileAtomicLeavesNoTemporary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := writeFileAtomic(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries, want 1", len(entries))
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	if string(data) != "two" {
		t.Fatalf("content %q", data)
	}
}

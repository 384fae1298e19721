// Package pki owns the server's own TLS identity: a local certificate
// authority created at first start in the server's data folder, the server
// certificate it signs (renewed before it expires), the CA fingerprint that
// users check out of band, and the client side that trusts exactly a pinned
// CA (including trust on first use).
//
// Files in the data folder:
//
//	ca.crt      the CA certificate (PEM), valid 10 years
//	ca.key      its private key (PKCS#8 PEM, mode 0600)
//	server.crt  the server certificate (PEM), valid about a year
//	server.key  its private key (PKCS#8 PEM, mode 0600)
//
// Keys are ECDSA P-256, which every browser and Go accept for TLS.
package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// File names inside the data folder.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
)

// Validity periods.
const (
	CAValidityYears = 10
	ServerValidity  = 365 * 24 * time.Hour
	// RenewBefore is how long before its expiry the server certificate is
	// replaced.
	RenewBefore = 30 * 24 * time.Hour
	// backdate covers clocks of clients that are slightly behind.
	backdate = time.Hour
)

// Options tune Ensure. The zero value is ready to use.
type Options struct {
	// ExtraNames are host names or IP addresses to add to the server
	// certificate, besides localhost, 127.0.0.1, ::1, the machine's host
	// name and its non-loopback addresses.
	ExtraNames []string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Hostname and InterfaceAddrs describe the machine (defaults os.Hostname
	// and net.InterfaceAddrs).
	Hostname       func() (string, error)
	InterfaceAddrs func() ([]net.Addr, error)
	// Logger receives what was created or renewed (default slog.Default()).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Hostname == nil {
		o.Hostname = os.Hostname
	}
	if o.InterfaceAddrs == nil {
		o.InterfaceAddrs = net.InterfaceAddrs
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Bundle is the server's TLS identity, loaded from or created in a data
// folder. It is safe for concurrent use.
type Bundle struct {
	dir   string
	opts  Options
	ca    *x509.Certificate
	caKey crypto.Signer
	caPEM []byte

	renewMu sync.Mutex // one Renew at a time
	mu      sync.RWMutex
	cert    *tls.Certificate
}

// Ensure loads the CA and server certificate from dir, creating whatever is
// missing: the CA at first start, and a new server certificate when there is
// none, when it expires within RenewBefore, or when it does not cover every
// wanted name. An existing CA is never replaced: clients have pinned it.
func Ensure(ctx context.Context, dir string, opts Options) (*Bundle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b := &Bundle{dir: dir, opts: opts.withDefaults()}
	if _, err := certNames(b.opts); err != nil { // reject bad extra names before writing anything
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: create data folder: %w", err)
	}
	if err := b.loadOrCreateCA(ctx); err != nil {
		return nil, err
	}
	if _, err := b.Renew(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Fingerprint is the SHA-256 of the CA certificate (show it with String).
func (b *Bundle) Fingerprint() Fingerprint { return FingerprintOf(b.ca.Raw) }

// CACertificate is the parsed CA certificate.
func (b *Bundle) CACertificate() *x509.Certificate { return b.ca }

// CAPEM is the CA certificate in PEM form, to hand to clients.
func (b *Bundle) CAPEM() []byte { return slices.Clone(b.caPEM) }

// ServerCertificate is the current server (leaf) certificate.
func (b *Bundle) ServerCertificate() *x509.Certificate {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.cert.Leaf
}

// TLSConfig is the configuration to serve HTTPS with. It always presents the
// current server certificate, so a Renew takes effect without a restart.
// The chain sent to clients includes the CA, so that they can fetch it on
// first use (see FetchCA).
func (b *Bundle) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			b.mu.RLock()
			defer b.mu.RUnlock()
			return b.cert, nil
		},
	}
}

// Renew replaces the server certificate if it is missing, damaged, not
// issued by the CA, expires within RenewBefore, or misses a wanted name. It
// reports whether a new certificate was issued. A long-running server calls
// it once a day.
func (b *Bundle) Renew(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	b.renewMu.Lock()
	defer b.renewMu.Unlock()
	now := b.opts.Now()
	names, err := certNames(b.opts)
	if err != nil {
		return false, err
	}
	certPath := filepath.Join(b.dir, ServerCertFile)
	keyPath := filepath.Join(b.dir, ServerKeyFile)

	cert, reason := b.loadServer(ctx, certPath, keyPath, now, names)
	if reason == "" {
		b.setCert(cert)
		return false, nil
	}
	cert, err = b.issueServer(now, names)
	if err != nil {
		return false, err
	}
	keyPEM, err := encodeKey(cert.PrivateKey.(crypto.Signer))
	if err != nil {
		return false, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return false, fmt.Errorf("pki: write server key: %w", err)
	}
	if err := writeFileAtomic(certPath, pemCert(cert.Leaf.Raw), 0o644); err != nil {
		return false, fmt.Errorf("pki: write server certificate: %w", err)
	}
	b.setCert(cert)
	b.opts.Logger.InfoContext(ctx, "issued server certificate",
		"reason", reason, "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339),
		"dns_names", cert.Leaf.DNSNames, "ip_addresses", cert.Leaf.IPAddresses)
	return true, nil
}

func (b *Bundle) setCert(c *tls.Certificate) {
	b.mu.Lock()
	b.cert = c
	b.mu.Unlock()
}

// loadOrCreateCA loads ca.crt and ca.key, or creates both when ca.crt does
// not exist (a lone ca.key is left from an interrupted first start: no
// client can have pinned a CA that was never written).
func (b *Bundle) loadOrCreateCA(ctx context.Context) error {
	certPath := filepath.Join(b.dir, CACertFile)
	keyPath := filepath.Join(b.dir, CAKeyFile)
	now := b.opts.Now()

	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) {
		return b.createCA(ctx, certPath, keyPath, now)
	}
	if err != nil {
		return fmt.Errorf("pki: read CA certificate: %w", err)
	}
	ca, err := parseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("pki: %s: %w", certPath, err)
	}
	if !ca.IsCA {
		return fmt.Errorf("pki: %s is not a CA certificate", certPath)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pki: the CA key %s is missing: restore it from a backup, or remove %s to create a new CA (every client must then trust the new fingerprint)", keyPath, certPath)
	}
	if err != nil {
		return fmt.Errorf("pki: read CA key: %w", err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("pki: %s: %w", keyPath, err)
	}
	if !publicKeysEqual(ca.PublicKey, key.Public()) {
		return fmt.Errorf("pki: %s does not belong to %s", keyPath, certPath)
	}
	if now.After(ca.NotAfter) {
		return fmt.Errorf("pki: the local CA expired on %s: remove %s and %s to create a new one (every client must then trust the new fingerprint)",
			ca.NotAfter.UTC().Format(time.DateOnly), certPath, keyPath)
	}
	if ca.NotAfter.Sub(now) < 365*24*time.Hour {
		b.opts.Logger.WarnContext(ctx, "the local CA expires within a year; plan a new CA and tell clients its fingerprint",
			"not_after", ca.NotAfter.UTC().Format(time.RFC3339))
	}
	b.fixKeyMode(ctx, keyPath)
	b.ca, b.caKey, b.caPEM = ca, key, certPEM
	return nil
}

func (b *Bundle) createCA(ctx context.Context, certPath, keyPath string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	host, _ := b.opts.Hostname()
	cn := "Rempart local CA"
	if host != "" {
		cn += " " + host
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Rempart"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(CAValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("pki: create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("pki: parse new CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	// Key first: a certificate is never on disk without its key.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return fmt.Errorf("pki: write CA key: %w", err)
	}
	certPEM := pemCert(der)
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return fmt.Errorf("pki: write CA certificate: %w", err)
	}
	// Any server certificate left over was signed by another CA.
	if err := os.Remove(filepath.Join(b.dir, ServerCertFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("pki: remove old server certificate: %w", err)
	}
	b.ca, b.caKey, b.caPEM = ca, key, certPEM
	b.opts.Logger.InfoContext(ctx, "created local certificate authority",
		"fingerprint", b.Fingerprint().String(), "not_after", ca.NotAfter.UTC().Format(time.RFC3339), "dir", b.dir)
	return nil
}

// fixKeyMode makes the CA key readable by its owner only.
func (b *Bundle) fixKeyMode(ctx context.Context, path string) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	b.opts.Logger.WarnContext(ctx, "private key was readable by others; restricting it to its owner", "path", path, "mode", fi.Mode().Perm().String())
	if err := os.Chmod(path, 0o600); err != nil {
		b.opts.Logger.WarnContext(ctx, "cannot restrict private key", "path", path, "err", err)
	}
}

// loadServer returns the stored server certificate, or a non-empty reason
// to issue a new one.
func (b *Bundle) loadServer(ctx context.Context, certPath, keyPath string, now time.Time, want names) (*tls.Certificate, string) {
	certPEM, err := os.ReadFile(certPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "no server certificate yet"
	}
	if err != nil {
		return nil, "cannot read server certificate: " + err.Error()
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, "cannot read server key: " + err.Error()
	}
	leaf, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, "damaged server certificate: " + err.Error()
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, "damaged server key: " + err.Error()
	}
	switch {
	case !publicKeysEqual(leaf.PublicKey, key.Public()):
		return nil, "server key does not match the certificate"
	case leaf.CheckSignatureFrom(b.ca) != nil:
		return nil, "server certificate was not issued by this CA"
	case now.Before(leaf.NotBefore):
		return nil, "server certificate is not valid yet"
	case leaf.NotAfter.Sub(now) < RenewBefore:
		return nil, fmt.Sprintf("server certificate expires on %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if missing := want.missingFrom(leaf); missing != "" {
		return nil, "server certificate does not cover " + missing
	}
	b.fixKeyMode(ctx, keyPath)
	return &tls.Certificate{Certificate: [][]byte{leaf.Raw, b.ca.Raw}, PrivateKey: key, Leaf: leaf}, ""
}

func (b *Bundle) issueServer(now time.Time, n names) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(ServerValidity)
	if notAfter.After(b.ca.NotAfter) {
		notAfter = b.ca.NotAfter
	}
	cn := "localhost"
	if len(n.dns) > 1 {
		cn = n.dns[1] // the host name comes right after localhost
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Rempart"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     n.dns,
		IPAddresses:  n.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, b.ca, key.Public(), b.caKey)
	if err != nil {
		return nil, fmt.Errorf("pki: create server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse new server certificate: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, b.ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// names are the subject alternative names a server certificate must carry.
type names struct {
	dns []string
	ips []net.IP
}

func (n names) missingFrom(c *x509.Certificate) string {
	for _, d := range n.dns {
		if !slices.Contains(c.DNSNames, d) {
			return d
		}
	}
	for _, ip := range n.ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return ip.String()
		}
	}
	return ""
}

func (n *names) add(s string) error {
	host := strings.ToLower(strings.TrimSpace(s))
	if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); ip != nil {
		if !slices.ContainsFunc(n.ips, ip.Equal) {
			n.ips = append(n.ips, ip)
		}
		return nil
	}
	host = strings.TrimSuffix(host, ".")
	if !validDNSName(host) {
		return fmt.Errorf("pki: %q is neither a host name nor an IP address", s)
	}
	if !slices.Contains(n.dns, host) {
		n.dns = append(n.dns, host)
	}
	return nil
}

// certNames lists localhost, the loopback addresses, the machine's host name
// and non-loopback addresses, then the caller's extra names.
func certNames(o Options) (names, error) {
	var n names
	for _, s := range []string{"localhost", "127.0.0.1", "::1"} {
		_ = n.add(s)
	}
	if host, err := o.Hostname(); err == nil && host != "" {
		if err := n.add(host); err != nil {
			o.Logger.Debug("host name left out of the server certificate", "hostname", host, "err", err)
		}
	}
	if addrs, err := o.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			var ip net.IP
			switch v := a.(type) {
			case *net.IPNet:
				ip = v.IP
			case *net.IPAddr:
				ip = v.IP
			}
			if ip == nil || ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsMulticast() {
				continue
			}
			_ = n.add(ip.String())
		}
	}
	for _, s := range o.ExtraNames {
		if err := n.add(s); err != nil {
			return names{}, err
		}
	}
	return n, nil
}

// validDNSName accepts host names made of letters, digits and hyphens, with
// an optional leading "*." wildcard label.
func validDNSName(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: draw serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate found")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return c, nil
}

func parseKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("no PEM private key found")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b)
}

// writeFileAtomic writes data under a temporary name, syncs it, renames it
// into place and syncs the folder, so a crash leaves the old or new file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
)

// CA is a certificate authority as a client sees it.
type CA struct {
	Cert        *x509.Certificate
	PEM         []byte
	Fingerprint Fingerprint
}

// ParseCA reads a PEM CA certificate (e.g. one saved after FetchCA).
func ParseCA(data []byte) (*CA, error) {
	c, err := parseCertPEM(data)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA certificate: %w", err)
	}
	if !c.IsCA {
		return nil, errors.New("pki: the certificate is not a certificate authority")
	}
	return &CA{Cert: c, PEM: pemCert(c.Raw), Fingerprint: FingerprintOf(c.Raw)}, nil
}

// MismatchError says that a server did not present the pinned CA. It
// matches ErrFingerprintMismatch with errors.Is.
type MismatchError struct {
	Pinned Fingerprint
	// Presented is the fingerprint of the root of the chain the server sent;
	// zero if the server sent no CA certificate.
	Presented Fingerprint
}

func (e *MismatchError) Error() string {
	presented := "no CA certificate"
	if !e.Presented.IsZero() {
		presented = "CA " + e.Presented.String()
	}
	return fmt.Sprintf("the server's certificate authority is not the trusted one: trusted CA %s, server presented %s. "+
		"If the server's CA was created again, check the new fingerprint on the server and trust it again; "+
		"otherwise someone may be intercepting the connection", e.Pinned, presented)
}

// Unwrap makes errors.Is(err, ErrFingerprintMismatch) true.
func (e *MismatchError) Unwrap() error { return ErrFingerprintMismatch }

// ClientTLSConfig returns a TLS configuration that accepts a server only if
// its certificate chains to the CA whose fingerprint is pin and is valid for
// serverName (the host name or IP address of the server's URL). No system
// root is trusted.
//
// caPEM is the pinned CA certificate when the client has it (saved after
// FetchCA); its fingerprint must be pin. When caPEM is nil the CA is taken
// from the chain the server presents, and accepted only if its fingerprint is
// pin, so a fingerprint typed by the user is enough.
func ClientTLSConfig(pin Fingerprint, caPEM []byte, serverName string) (*tls.Config, error) {
	if pin.IsZero() {
		return nil, errors.New("pki: no CA fingerprint to trust")
	}
	serverName = strings.TrimSuffix(strings.TrimPrefix(serverName, "["), "]")
	if serverName == "" {
		return nil, errors.New("pki: no server name to verify")
	}
	var pinned *x509.Certificate
	if caPEM != nil {
		ca, err := ParseCA(caPEM)
		if err != nil {
			return nil, err
		}
		if !ca.Fingerprint.Equal(pin) {
			return nil, fmt.Errorf("pki: saved CA certificate: %w", &MismatchError{Pinned: pin, Presented: ca.Fingerprint})
		}
		pinned = ca.Cert
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		// Chain verification is done in VerifyConnection, against the pinned
		// CA only; the default verifier would use the system roots.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, pin, pinned, serverName)
		},
	}, nil
}

// verifyPinned checks that certs[0] chains to the pinned CA (taken from the
// chain when ca is nil) and is valid for serverName now.
func verifyPinned(certs []*x509.Certificate, pin Fingerprint, ca *x509.Certificate, serverName string) error {
	if len(certs) == 0 {
		return errors.New("pki: the server sent no certificate")
	}
	if ca == nil {
		for _, c := range certs[1:] {
			if c.IsCA && FingerprintOf(c.Raw).Equal(pin) {
				ca = c
				break
			}
		}
		if ca == nil {
			return &MismatchError{Pinned: pin, Presented: presentedRoot(certs)}
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		if !c.Equal(ca) {
			inter.AddCert(c)
		}
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		DNSName:       serverName,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return &MismatchError{Pinned: pin, Presented: presentedRoot(certs)}
	}
	if err != nil {
		return fmt.Errorf("pki: server certificate: %w", err)
	}
	return nil
}

// presentedRoot is the fingerprint of the CA at the end of a presented
// chain, or zero if the chain holds no CA.
func presentedRoot(certs []*x509.Certificate) Fingerprint {
	for i := len(certs) - 1; i >= 1; i-- {
		if certs[i].IsCA {
			return FingerprintOf(certs[i].Raw)
		}
	}
	return Fingerprint{}
}

// FetchCA connects to a server (addr is "host:port") without trusting it,
// and returns the root CA of the chain it presents, after checking that the
// server certificate chains to that CA and is valid for the host. It is the
// first step of trust on first use: show the fingerprint to the user, who
// compares it with the one the server printed, and save the PEM only once
// the user agrees. Never trust the result without that check.
func FetchCA(ctx context.Context, addr string) (*CA, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pki: server address %q: %w", addr, err)
	}
	d := tls.Dialer{Config: &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: host,
		// Nothing is trusted yet: the caller shows the fingerprint to the user.
		InsecureSkipVerify: true,
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pki: connect to %s: %w", addr, err)
	}
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	_ = conn.Close()
	if len(certs) < 2 {
		return nil, fmt.Errorf("pki: %s did not send its CA certificate: ask its operator for the CA fingerprint", addr)
	}
	root := certs[len(certs)-1]
	if !root.IsCA || root.CheckSignatureFrom(root) != nil {
		return nil, fmt.Errorf("pki: %s did not send a root CA certificate: ask its operator for the CA file", addr)
	}
	fp := FingerprintOf(root.Raw)
	if err := verifyPinned(certs, fp, root, host); err != nil {
		return nil, fmt.Errorf("pki: %s: %w", addr, err)
	}
	return &CA{Cert: root, PEM: pemCert(root.Raw), Fingerprint: fp}, nil
}

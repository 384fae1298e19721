// Package notify tells people about Sentinel alerts (docs/server.md,
// "Sentinel alerts"): per tenant, by webhook (JSON, signed with
// HMAC-SHA256), by syslog (RFC 5424 over UDP or TCP) and by e-mail (SMTP,
// STARTTLS required unless explicitly allowed otherwise). Messages go out in
// the background from a bounded queue, so that a slow or broken receiver
// never holds up a backup; failures are logged and audited.
//
// Settings hold secrets (the webhook's shared secret, the SMTP password):
// they are stored server-side, never logged, and shown only masked (View).
package notify

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// Settings are a tenant's notification channels; a nil channel is off.
type Settings struct {
	Webhook *Webhook `json:"webhook,omitempty"`
	Syslog  *Syslog  `json:"syslog,omitempty"`
	Email   *Email   `json:"email,omitempty"`
}

// Webhook posts each event as JSON to URL.
type Webhook struct {
	URL string `json:"url"`
	// Secret, when set, signs each body: header X-Rempart-Signature is
	// "sha256=" and the hex HMAC-SHA256 of the body under Secret.
	Secret string `json:"secret,omitempty"`
	// CAPEM, when set, is the only CA trusted for an https URL (a private
	// CA); otherwise the system's CAs are.
	CAPEM          string `json:"ca_pem,omitempty"`
	TimeoutSeconds int    `json:"timeout_seconds,omitempty"` // per attempt; DefaultTimeout when 0
}

// Syslog sends each event as one RFC 5424 message.
type Syslog struct {
	Network string `json:"network"` // "udp" or "tcp" (octet-counting framing, RFC 6587)
	Address string `json:"address"` // HOST:PORT
}

// Email sends each event as a plain-text message in French and English.
type Email struct {
	Server   string   `json:"server"` // HOST:PORT of the SMTP server (submission: 587, or 25)
	Username string   `json:"username,omitempty"`
	Password string   `json:"password,omitempty"` // AUTH PLAIN, only over TLS (or to localhost)
	From     string   `json:"from"`
	To       []string `json:"to"`
	// AllowPlaintext sends in clear when the server does not offer
	// STARTTLS; by default such a server is refused. STARTTLS is used
	// whenever it is offered.
	AllowPlaintext bool   `json:"allow_plaintext,omitempty"`
	CAPEM          string `json:"ca_pem,omitempty"` // only CA trusted for STARTTLS, when set
}

// Limits of the settings.
const (
	DefaultTimeout = 10 // seconds, per webhook attempt
	maxTimeout     = 60
	minSecret      = 16
	maxSecret      = 1024
	maxURL         = 2048
	maxRecipients  = 50
	maxCAPEM       = 64 << 10
)

// ErrInvalid marks settings that are refused.
var ErrInvalid = errors.New("invalid notification settings")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Parse reads stored settings ("{}" or nothing: every channel off).
func Parse(raw []byte) (Settings, error) {
	var s Settings
	if len(bytes.TrimSpace(raw)) == 0 {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, invalid("%v", err)
	}
	return s, nil
}

// JSON is the settings as stored, secrets included.
func (s Settings) JSON() json.RawMessage {
	b, _ := json.Marshal(s) // cannot fail: strings, ints and bools
	return b
}

// Empty reports whether every channel is off.
func (s Settings) Empty() bool { return s.Webhook == nil && s.Syslog == nil && s.Email == nil }

// Validate checks every channel and says what is wrong in words.
func (s Settings) Validate() error {
	if w := s.Webhook; w != nil {
		if err := w.validate(); err != nil {
			return err
		}
	}
	if l := s.Syslog; l != nil {
		if l.Network != "udp" && l.Network != "tcp" {
			return invalid("syslog: network %q: use udp or tcp", l.Network)
		}
		if err := hostPort(l.Address); err != nil {
			return invalid("syslog: address %q: %v (e.g. 10.0.0.5:514)", l.Address, err)
		}
	}
	if m := s.Email; m != nil {
		if err := m.validate(); err != nil {
			return err
		}
	}
	return nil
}

func (w *Webhook) validate() error {
	if len(w.URL) > maxURL {
		return invalid("webhook: the URL is longer than %d characters", maxURL)
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return invalid("webhook: %q is not an http(s) URL (e.g. https://soc.example.org/rempart)", redactURL(w.URL))
	}
	if u.User != nil {
		return invalid("webhook: put no user name or password in the URL; use a shared secret (signature) instead")
	}
	if u.Fragment != "" {
		return invalid("webhook: the URL has a fragment (#...), which is never sent")
	}
	if u.Port() != "" {
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return invalid("webhook: port %q is not a port number", u.Port())
		}
	}
	if w.Secret != "" && (len(w.Secret) < minSecret || len(w.Secret) > maxSecret) {
		return invalid("webhook: the shared secret must have %d to %d characters (e.g. `openssl rand -hex 32`)", minSecret, maxSecret)
	}
	if w.CAPEM != "" {
		if u.Scheme != "https" {
			return invalid("webhook: a CA certificate is given but the URL is not https")
		}
		if err := checkCA(w.CAPEM); err != nil {
			return invalid("webhook: %v", err)
		}
	}
	if w.TimeoutSeconds < 0 || w.TimeoutSeconds > maxTimeout {
		return invalid("webhook: timeout of %d s: choose 1 to %d (0: %d)", w.TimeoutSeconds, maxTimeout, DefaultTimeout)
	}
	return nil
}

func (m *Email) validate() error {
	if err := hostPort(m.Server); err != nil {
		return invalid("e-mail: SMTP server %q: %v (e.g. smtp.example.org:587)", m.Server, err)
	}
	if err := address(m.From); err != nil {
		return invalid("e-mail: sender %q: %v", m.From, err)
	}
	if len(m.To) == 0 {
		return invalid("e-mail: no recipient: give at least one address")
	}
	if len(m.To) > maxRecipients {
		return invalid("e-mail: %d recipients, at most %d (use a mailing list)", len(m.To), maxRecipients)
	}
	for _, to := range m.To {
		if err := address(to); err != nil {
			return invalid("e-mail: recipient %q: %v", to, err)
		}
	}
	if (m.Username == "") != (m.Password == "") {
		return invalid("e-mail: give both a user name and a password for SMTP authentication, or neither")
	}
	if strings.ContainsAny(m.Username, "\x00\r\n") || strings.ContainsAny(m.Password, "\x00\r\n") || len(m.Password) > maxSecret {
		return invalid("e-mail: the SMTP user name or password holds a control character or is too long")
	}
	if m.CAPEM != "" {
		if err := checkCA(m.CAPEM); err != nil {
			return invalid("e-mail: %v", err)
		}
	}
	return nil
}

// address accepts a bare address (a@b.c): no display name, nothing that
// could smuggle a header line.
func address(s string) error {
	if s == "" || strings.ContainsAny(s, "\r\n<>\", ") {
		return errors.New("give a bare address such as alerte@mairie.example")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return errors.New("not a valid address (give a bare address such as alerte@mairie.example)")
	}
	return nil
}

func hostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return errors.New("use HOST:PORT")
	}
	if strings.ContainsAny(host, " /\r\n") {
		return errors.New("invalid host")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return errors.New("invalid port")
	}
	return nil
}

func checkCA(pemText string) error {
	if len(pemText) > maxCAPEM {
		return fmt.Errorf("the CA certificate file is larger than %d KiB", maxCAPEM>>10)
	}
	if !x509.NewCertPool().AppendCertsFromPEM([]byte(pemText)) {
		return errors.New("the CA certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return nil
}

// redactURL shows a URL without user information and query, which may
// carry credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	out := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.RawQuery != "" {
		out += "?…"
	}
	return out
}

// View is the settings as the API shows them: secrets masked.
type View struct {
	Webhook *WebhookView `json:"webhook,omitempty"`
	Syslog  *Syslog      `json:"syslog,omitempty"`
	Email   *EmailView   `json:"email,omitempty"`
}

// WebhookView is a Webhook without its secret and CA.
type WebhookView struct {
	URL            string `json:"url"`
	SecretSet      bool   `json:"secret_set"`
	CustomCA       bool   `json:"custom_ca"`
	TimeoutSeconds int    `json:"timeout_seconds"`
}

// EmailView is an Email without its password and CA.
type EmailView struct {
	Server         string   `json:"server"`
	Username       string   `json:"username,omitempty"`
	PasswordSet    bool     `json:"password_set"`
	From           string   `json:"from"`
	To             []string `json:"to"`
	AllowPlaintext bool     `json:"allow_plaintext"`
	CustomCA       bool     `json:"custom_ca"`
}

// View masks the secrets.
func (s Settings) View() View {
	var v View
	if w := s.Webhook; w != nil {
		t := w.TimeoutSeconds
		if t == 0 {
			t = DefaultTimeout
		}
		v.Webhook = &WebhookView{URL: w.URL, SecretSet: w.Secret != "", CustomCA: w.CAPEM != "", TimeoutSeconds: t}
	}
	if l := s.Syslog; l != nil {
		c := *l
		v.Syslog = &c
	}
	if m := s.Email; m != nil {
		v.Email = &EmailView{Server: m.Server, Username: m.Username, PasswordSet: m.Password != "", From: m.From,
			To: append([]string{}, m.To...), AllowPlaintext: m.AllowPlaintext, CustomCA: m.CAPEM != ""}
	}
	return v
}

// Update applies a change to cur and validates the result. The change is a
// JSON object with any of "webhook", "syslog" and "email": a channel not
// named stays as it is, null turns it off, an object replaces it — except
// its secrets ("secret" and "ca_pem" of the webhook, "password" and
// "ca_pem" of e-mail), which are kept when absent (the API never shows
// them) and removed when "".
func Update(cur Settings, change []byte) (Settings, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(change, &top); err != nil || top == nil {
		return cur, invalid("give a JSON object with any of webhook, syslog and email")
	}
	next := cur
	for key, raw := range top {
		off := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
		switch key {
		case "webhook":
			if off {
				next.Webhook = nil
				continue
			}
			var in struct {
				URL            string  `json:"url"`
				Secret         *string `json:"secret"`
				CAPEM          *string `json:"ca_pem"`
				TimeoutSeconds int     `json:"timeout_seconds"`
			}
			if err := strict(raw, &in); err != nil {
				return cur, invalid("webhook: %v", err)
			}
			w := &Webhook{URL: strings.TrimSpace(in.URL), TimeoutSeconds: in.TimeoutSeconds}
			w.Secret = keep(in.Secret, cur.Webhook, func(o *Webhook) string { return o.Secret })
			w.CAPEM = keep(in.CAPEM, cur.Webhook, func(o *Webhook) string { return o.CAPEM })
			next.Webhook = w
		case "syslog":
			if off {
				next.Syslog = nil
				continue
			}
			var in Syslog
			if err := strict(raw, &in); err != nil {
				return cur, invalid("syslog: %v", err)
			}
			in.Network, in.Address = strings.ToLower(strings.TrimSpace(in.Network)), strings.TrimSpace(in.Address)
			next.Syslog = &in
		case "email":
			if off {
				next.Email = nil
				continue
			}
			var in struct {
				Server         string   `json:"server"`
				Username       string   `json:"username"`
				Password       *string  `json:"password"`
				From           string   `json:"from"`
				To             []string `json:"to"`
				AllowPlaintext bool     `json:"allow_plaintext"`
				CAPEM          *string  `json:"ca_pem"`
			}
			if err := strict(raw, &in); err != nil {
				return cur, invalid("email: %v", err)
			}
			m := &Email{Server: strings.TrimSpace(in.Server), Username: in.Username, From: strings.TrimSpace(in.From), AllowPlaintext: in.AllowPlaintext}
			for _, to := range in.To {
				if to = strings.TrimSpace(to); to != "" {
					m.To = append(m.To, to)
				}
			}
			m.Password = keep(in.Password, cur.Email, func(o *Email) string { return o.Password })
			m.CAPEM = keep(in.CAPEM, cur.Email, func(o *Email) string { return o.CAPEM })
			next.Email = m
		default:
			return cur, invalid("unknown channel %q: use webhook, syslog or email", key)
		}
	}
	if err := next.Validate(); err != nil {
		return cur, err
	}
	return next, nil
}

// keep returns the given value, or the current one when none is given.
func keep[T any](given *string, cur *T, get func(*T) string) string {
	if given != nil {
		return *given
	}
	if cur != nil {
		return get(cur)
	}
	return ""
}

func strict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

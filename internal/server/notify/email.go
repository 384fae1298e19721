package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

const (
	smtpDialTimeout = 15 * time.Second
	smtpDeadline    = time.Minute // for the whole conversation
)

// email sends ev through the SMTP server of m: STARTTLS whenever offered,
// and required unless m.AllowPlaintext; AUTH PLAIN when a user name is
// set (net/smtp sends it only over TLS, or to localhost).
func (n *Notifier) email(ctx context.Context, m *Email, ev Event) error {
	host, _, err := net.SplitHostPort(m.Server)
	if err != nil {
		return fmt.Errorf("SMTP server %q: use HOST:PORT", m.Server)
	}
	fail := func(step string, err error) error { return fmt.Errorf("SMTP %s: %s: %w", m.Server, step, err) }
	d := net.Dialer{Timeout: smtpDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", m.Server)
	if err != nil {
		return fail("connect", err)
	}
	_ = conn.SetDeadline(time.Now().Add(smtpDeadline))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fail("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(helloName(n.o.Hostname)); err != nil {
		return fail("EHLO", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc, err := tlsConfig(m.CAPEM, host)
		if err != nil {
			return fail("STARTTLS", err)
		}
		if err := c.StartTLS(tc); err != nil {
			return fail("STARTTLS", err)
		}
	} else if !m.AllowPlaintext {
		return fmt.Errorf("SMTP %s does not offer STARTTLS: refusing to send in clear (allow it only for a relay on a trusted network: allow_plaintext, `rempart tenant notify --smtp-allow-plaintext`)", m.Server)
	}
	if m.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("SMTP %s offers no authentication (AUTH) but a user name is set: remove it, or use the server's submission port (587)", m.Server)
		}
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fail("authentication as "+m.Username, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fail("MAIL FROM "+m.From, err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fail("RCPT TO "+to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(n.mailMessage(m, ev)); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("message refused", err)
	}
	if err := c.Quit(); err != nil && !errors.Is(err, net.ErrClosed) {
		n.o.Log.DebugContext(ctx, "notify: SMTP QUIT", "server", m.Server, "err", err)
	}
	return nil
}

// helloName is the name given in EHLO.
func helloName(h string) string {
	h = header(h, 255)
	if h == "-" {
		return "localhost"
	}
	return h
}

// mailMessage is the whole message: headers, blank line, quoted-printable
// UTF-8 text, with CRLF line ends.
func (n *Notifier) mailMessage(m *Email, ev Event) []byte {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	host := helloName(n.o.Hostname)
	if host == "localhost" {
		host = "rempart.invalid"
	}
	h("From", m.From)
	h("To", strings.Join(m.To, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", ev.subject()))
	h("Date", n.o.Now().Format(time.RFC1123Z))
	h("Message-ID", "<"+ev.ID+"."+strconv.FormatInt(n.o.Now().UnixNano(), 36)+"@"+host+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	h("Auto-Submitted", "auto-generated")
	h("X-Rempart-Event", ev.Kind)
	if ev.AlertID != 0 {
		h("X-Rempart-Alert", strconv.FormatInt(ev.AlertID, 10))
	}
	b.WriteString("\r\n")
	qw := quotedprintable.NewWriter(&b)
	_, _ = qw.Write([]byte(strings.ReplaceAll(ev.body(), "\n", "\r\n")))
	_ = qw.Close()
	return b.Bytes()
}

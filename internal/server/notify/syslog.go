package notify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Syslog messages follow RFC 5424:
//
//	<PRI>1 TIMESTAMP HOSTNAME rempart PROCID MSGID [rempart@32473 k="v" ...] MSG
//
// with facility local0 (PRI = 128 + severity: 1 for an infected snapshot,
// 4 for a suspect one, 5 for a closed alert, 6 for a test), MSGID the
// event's kind, and the facts as structured data. 32473 is the enterprise
// number that RFC 5612 reserves for documentation: filter on APP-NAME
// "rempart". Over UDP, one message per datagram; over TCP, octet-counting
// framing (RFC 6587: "LENGTH SP MESSAGE").

const (
	facilityLocal0 = 16
	sdID           = "rempart@32473"
	syslogTimeout  = 10 * time.Second
	maxSyslogMsg   = 2048 // keeps a UDP datagram whole on every path
)

// syslogLine formats ev as one RFC 5424 message.
func (n *Notifier) syslogLine(ev Event, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<%d>1 %s %s rempart %d %s ", facilityLocal0*8+ev.severity(),
		now.UTC().Format("2006-01-02T15:04:05.000000Z"), header(n.o.Hostname, 255), os.Getpid(), header(ev.Kind, 32))
	b.WriteString("[" + sdID)
	param := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + `="` + sdEscape(v) + `"`)
		}
	}
	param("event", ev.Kind)
	param("id", ev.ID)
	param("tenant", ev.Tenant)
	if ev.AlertID != 0 {
		param("alert", strconv.FormatInt(ev.AlertID, 10))
	}
	param("snapshot", ev.Snapshot)
	param("verdict", ev.Verdict)
	param("source", ev.Source)
	param("clean_snapshot", ev.CleanSnapshot)
	param("closed_by", ev.ClosedBy)
	b.WriteString("] ")
	msg := b.String() + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, ev.summary())
	if len(msg) > maxSyslogMsg {
		cut := maxSyslogMsg
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return msg
}

// header makes a header field of printable US-ASCII without spaces, "-"
// when empty (RFC 5424 NILVALUE).
func header(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 33 || r > 126 {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return "-"
	}
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// sdEscape escapes a structured-data value: '"', '\' and ']'.
func sdEscape(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(v)
}

func sendSyslog(ctx context.Context, l *Syslog, msg string) error {
	d := net.Dialer{Timeout: syslogTimeout}
	conn, err := d.DialContext(ctx, l.Network, l.Address)
	if err != nil {
		return fmt.Errorf("syslog %s://%s: %w", l.Network, l.Address, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(syslogTimeout))
	frame := msg
	if l.Network == "tcp" {
		frame = strconv.Itoa(len(msg)) + " " + msg
	}
	if _, err := conn.Write([]byte(frame)); err != nil {
		return fmt.Errorf("syslog %s://%s: %w", l.Network, l.Address, err)
	}
	return nil
}

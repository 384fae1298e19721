package notify

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

var testTime = time.Date(2026, 11, 22, 4, 0, 0, 123456000, time.UTC)

func newTestNotifier(t *testing.T, o Options) *Notifier {
	t.Helper()
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Backoff == 0 {
		o.Backoff = 5 * time.Millisecond
	}
	o.Hostname = "backup-srv"
	o.Now = func() time.Time { return testTime }
	return New(o)
}

// alertEvent is an infected snapshot's alert.
func alertEvent(n *Notifier) Event {
	ev := n.NewEvent(KindAlertOpen, "mairie-a")
	rec, clean := testTime.Add(-time.Minute), testTime.Add(-24*time.Hour)
	ev.AlertID, ev.Snapshot, ev.Verdict, ev.Source, ev.SourceHost = 7, strings.Repeat("ab", 32), "infected", "agent:12", "pc-accueil"
	ev.Received, ev.CleanSnapshot, ev.CleanReceived = &rec, strings.Repeat("cd", 32), &clean
	return ev
}

func caPEM(ts *httptest.Server) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}))
}

// hookServer records webhook deliveries; fail tells how to answer the
// n-th (from 1).
type hookServer struct {
	*httptest.Server
	mu    sync.Mutex
	hits  int
	bodys [][]byte
	hdrs  []http.Header
}

func newHook(t *testing.T, fail func(n int) int) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.hits++
		n := h.hits
		h.bodys = append(h.bodys, b)
		h.hdrs = append(h.hdrs, r.Header.Clone())
		h.mu.Unlock()
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if code := fail(n); code != 0 {
			if code == http.StatusFound {
				http.Redirect(w, r, "https://elsewhere.example/", code)
				return
			}
			w.WriteHeader(code)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) count() int { h.mu.Lock(); defer h.mu.Unlock(); return h.hits }

func TestWebhookSignedOverPrivateCA(t *testing.T) {
	ctx := context.Background()
	n := newTestNotifier(t, Options{})
	hook := newHook(t, func(int) int { return 0 })
	secret := "a shared secret of the town's SOC"
	s := Settings{Webhook: &Webhook{URL: hook.URL + "/rempart?token=abc", Secret: secret, CAPEM: caPEM(hook.Server)}}
	ev := alertEvent(n)
	res := n.Send(ctx, s, ev, true)
	if len(res) != 1 || !res[0].OK || res[0].Channel != "webhook" || strings.Contains(res[0].Target, "abc") {
		t.Fatalf("Send = %+v", res)
	}
	if hook.count() != 1 {
		t.Fatalf("%d deliveries, want 1", hook.count())
	}
	body, hdr := hook.bodys[0], hook.hdrs[0]
	// The signature, computed here independently.
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); hdr.Get("X-Rempart-Signature") != want {
		t.Fatalf("signature %q, want %q", hdr.Get("X-Rempart-Signature"), want)
	}
	if !Verify(secret, body, hdr.Get(SignatureHeader)) || Verify("another secret of 16+", body, hdr.Get(SignatureHeader)) {
		t.Fatal("Verify disagrees with the signature")
	}
	if hdr.Get("Content-Type") != "application/json" || hdr.Get("X-Rempart-Event") != "alert.open" || hdr.Get("X-Rempart-Delivery") != ev.ID {
		t.Fatalf("headers %v", hdr)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"event": "alert.open", "tenant": "mairie-a", "alert_id": 7.0, "snapshot": ev.Snapshot,
		"verdict": "infected", "source": "agent:12", "clean_snapshot": ev.CleanSnapshot, "server": "backup-srv", "id": ev.ID} {
		if got[k] != v {
			t.Errorf("body[%s] = %v, want %v (body %s)", k, got[k], v, body)
		}
	}

	// Without the private CA the receiver is not trusted.
	s.Webhook.CAPEM = ""
	res = n.Send(ctx, s, ev, false)
	if res[0].OK || !strings.Contains(res[0].Error, "certificate") || strings.Contains(res[0].Error, "token=abc") {
		t.Fatalf("without the CA: %+v", res)
	}
	if hook.count() != 1 {
		t.Fatal("a message was delivered to an untrusted receiver")
	}
}

func TestWebhookRetries(t *testing.T) {
	ctx := context.Background()
	n := newTestNotifier(t, Options{})
	// Two failures, then success: three attempts.
	hook := newHook(t, func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return 0
	})
	s := Settings{Webhook: &Webhook{URL: hook.URL, CAPEM: caPEM(hook.Server)}}
	if res := n.Send(ctx, s, alertEvent(n), true); !res[0].OK || hook.count() != 3 {
		t.Fatalf("after two 503: %+v, %d attempts", res, hook.count())
	}
	// Always failing: 1 + 3 retries, then an error.
	down := newHook(t, func(int) int { return http.StatusBadGateway })
	s.Webhook = &Webhook{URL: down.URL, CAPEM: caPEM(down.Server)}
	if res := n.Send(ctx, s, alertEvent(n), true); res[0].OK || down.count() != 4 || !strings.Contains(res[0].Error, "502") ||
		!strings.Contains(res[0].Error, "4 attempts") {
		t.Fatalf("always 502: %+v, %d attempts", res, down.count())
	}
	// A 4xx and a redirect are not retried (nor followed).
	for _, code := range []int{http.StatusNotFound, http.StatusFound} {
		bad := newHook(t, func(int) int { return code })
		s.Webhook = &Webhook{URL: bad.URL, CAPEM: caPEM(bad.Server)}
		if res := n.Send(ctx, s, alertEvent(n), true); res[0].OK || bad.count() != 1 {
			t.Fatalf("answer %d: %+v, %d attempts", code, res, bad.count())
		}
	}
}

// rfc5424 parses "<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG".
var rfc5424 = regexp.MustCompile(`^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) (\[.*?[^\\]\]) (.*)$`)

var sdParam = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

func parseSyslog(t *testing.T, line string) (pri int, fields []string, params map[string]string, msg string) {
	t.Helper()
	m := rfc5424.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("not an RFC 5424 message: %q", line)
	}
	pri, _ = strconv.Atoi(m[1])
	params = map[string]string{}
	if !strings.HasPrefix(m[7], "[rempart@32473 ") {
		t.Fatalf("structured data %q", m[7])
	}
	for _, p := range sdParam.FindAllStringSubmatch(m[7], -1) {
		params[p[1]] = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\]`, `]`).Replace(p[2])
	}
	return pri, m[2:7], params, m[8]
}

func checkSyslog(t *testing.T, line string, ev Event) {
	t.Helper()
	pri, f, params, msg := parseSyslog(t, line)
	if pri != 16*8+1 {
		t.Errorf("PRI %d, want local0.alert (129)", pri)
	}
	if ts, err := time.Parse(time.RFC3339Nano, f[0]); err != nil || !ts.Equal(testTime) {
		t.Errorf("timestamp %q: %v", f[0], err)
	}
	if f[1] != "backup-srv" || f[2] != "rempart" || f[4] != "alert.open" {
		t.Errorf("header fields %q", f)
	}
	if params["tenant"] != "mairie-a" || params["snapshot"] != ev.Snapshot || params["verdict"] != "infected" || params["alert"] != "7" ||
		params["clean_snapshot"] != ev.CleanSnapshot || params["source"] != "agent:12" {
		t.Errorf("structured data %v", params)
	}
	if !strings.Contains(msg, "INFECTED") || !strings.Contains(msg, "mairie-a") || !strings.Contains(msg, "rempart alert close 7") {
		t.Errorf("message %q", msg)
	}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	n := newTestNotifier(t, Options{})
	ev := alertEvent(n)
	res := n.Send(context.Background(), Settings{Syslog: &Syslog{Network: "udp", Address: pc.LocalAddr().String()}}, ev, true)
	if !res[0].OK {
		t.Fatalf("Send = %+v", res)
	}
	buf := make([]byte, 4096)
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	checkSyslog(t, string(buf[:k]), ev)
}

func TestSyslogTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		// Octet-counting framing: "LENGTH SP MESSAGE".
		r := bufio.NewReader(c)
		lenText, err := r.ReadString(' ')
		if err != nil {
			got <- "no frame: " + err.Error()
			return
		}
		size, _ := strconv.Atoi(strings.TrimSpace(lenText))
		msg := make([]byte, size)
		if _, err := io.ReadFull(r, msg); err != nil {
			got <- "short frame: " + err.Error()
			return
		}
		got <- string(msg)
	}()
	n := newTestNotifier(t, Options{})
	ev := alertEvent(n)
	ev.Note = "] \" \\ tricky"
	ev.ClosedBy = `account:a"b]`
	res := n.Send(context.Background(), Settings{Syslog: &Syslog{Network: "tcp", Address: ln.Addr().String()}}, ev, true)
	if !res[0].OK {
		t.Fatalf("Send = %+v", res)
	}
	line := <-got
	checkSyslog(t, line, ev)
	if _, _, params, _ := parseSyslog(t, line); params["closed_by"] != `account:a"b]` {
		t.Errorf("escaped value read back as %q", params["closed_by"])
	}
}

// smtpBackend is a mail server for the tests: it records messages.
type smtpBackend struct {
	user, pass string
	mu         sync.Mutex
	msgs       []smtpMsg
	auths      atomic.Int32
}

type smtpMsg struct {
	from  string
	to    []string
	data  []byte
	tls   bool
	authd bool
}

type smtpSession struct {
	be    *smtpBackend
	c     *smtp.Conn
	msg   smtpMsg
	authd bool
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{be: b, c: c}, nil
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		s.be.auths.Add(1)
		if user != s.be.user || pass != s.be.pass {
			return errors.New("invalid credentials")
		}
		s.authd = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.be.user != "" && !s.authd {
		return smtp.ErrAuthRequired
	}
	s.msg = smtpMsg{from: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = b
	_, s.msg.tls = s.c.TLSConnectionState()
	s.msg.authd = s.authd
	s.be.mu.Lock()
	s.be.msgs = append(s.be.msgs, s.msg)
	s.be.mu.Unlock()
	return nil
}

// received returns the messages received so far.
func (b *smtpBackend) received() []smtpMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]smtpMsg(nil), b.msgs...)
}

func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// startSMTP starts a mail server on 127.0.0.1; with withTLS it offers
// STARTTLS with a certificate of a private CA, returned as PEM.
func startSMTP(t *testing.T, be *smtpBackend, withTLS bool) (addr, ca string) {
	t.Helper()
	srv := smtp.NewServer(be)
	srv.Domain = "mail.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if withTLS {
		// Borrow httptest's certificate (valid for 127.0.0.1) and its CA.
		ts := httptest.NewTLSServer(http.NotFoundHandler())
		srv.TLSConfig = &tls.Config{Certificates: ts.TLS.Certificates}
		ca = caPEM(ts)
		ts.Close()
	} else {
		// Credentials in clear to 127.0.0.1 only: net/smtp refuses it
		// elsewhere.
		srv.AllowInsecureAuth = true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), ca
}

func TestEmailSTARTTLSAndAuth(t *testing.T) {
	ctx := context.Background()
	be := &smtpBackend{user: "alertes@mairie-a.fr", pass: "smtp password that must never show"}
	addr, ca := startSMTP(t, be, true)
	n := newTestNotifier(t, Options{})
	ev := alertEvent(n)
	m := &Email{Server: addr, Username: be.user, Password: be.pass, From: "rempart@backup.example", To: []string{"dsi@mairie-a.fr", "soc@example.org"}, CAPEM: ca}
	res := n.Send(ctx, Settings{Email: m}, ev, true)
	if len(res) != 1 || !res[0].OK {
		t.Fatalf("Send = %+v", res)
	}
	if len(be.received()) != 1 {
		t.Fatalf("%d messages received", len(be.received()))
	}
	got := be.received()[0]
	if !got.tls || !got.authd || got.from != m.From || strings.Join(got.to, ",") != "dsi@mairie-a.fr,soc@example.org" {
		t.Fatalf("message: tls=%v auth=%v from=%s to=%v", got.tls, got.authd, got.from, got.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(got.data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || !strings.Contains(subject, "ALERTE n° 7") || !strings.Contains(subject, "INFECTÉE") || !strings.Contains(subject, "ALERT #7") ||
		!strings.Contains(subject, "mairie-a") {
		t.Fatalf("subject %q (%v)", subject, err)
	}
	if msg.Header.Get("Content-Type") != "text/plain; charset=utf-8" || msg.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Fatalf("headers %v", msg.Header)
	}
	if _, err := mail.ParseDate(msg.Header.Get("Date")); err != nil {
		t.Fatalf("Date: %v", err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Collectivité (tenant) : mairie-a", "Sauvegarde (snapshot) : " + ev.Snapshot, "INFECTÉE",
		"Que faire maintenant", "rempart restore " + ev.CleanSnapshot + " --target DOSSIER", "Reçue le              : 2026-11-22 03:59:00 UTC",
		"-- English --", "Tenant:   mairie-a", "Verdict:  INFECTED", "What to do next", "rempart alert close 7 --note",
		"agent:12 (pc-accueil)", "FROZEN"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the body lacks %q:\n%s", want, body)
		}
	}

	// A wrong password: refused, and never repeated in the error.
	m.Password = "wrong password also secret"
	res = n.Send(ctx, Settings{Email: m}, ev, true)
	if res[0].OK || !strings.Contains(res[0].Error, "authentication") || strings.Contains(res[0].Error, m.Password) {
		t.Fatalf("wrong password: %+v", res)
	}
	// Without the private CA, STARTTLS fails and nothing is sent.
	m.Password, m.CAPEM = be.pass, ""
	res = n.Send(ctx, Settings{Email: m}, ev, true)
	if res[0].OK || !strings.Contains(res[0].Error, "STARTTLS") || len(be.received()) != 1 {
		t.Fatalf("untrusted STARTTLS: %+v, %d messages", res, len(be.received()))
	}
}

func TestEmailWithoutTLS(t *testing.T) {
	ctx := context.Background()
	be := &smtpBackend{}
	addr, _ := startSMTP(t, be, false)
	n := newTestNotifier(t, Options{})
	m := &Email{Server: addr, From: "rempart@backup.example", To: []string{"dsi@mairie-a.fr"}}
	// STARTTLS is required unless explicitly not.
	res := n.Send(ctx, Settings{Email: m}, n.NewEvent(KindTest, "mairie-a"), true)
	if res[0].OK || !strings.Contains(res[0].Error, "does not offer STARTTLS") || len(be.received()) != 0 {
		t.Fatalf("plain-text server, TLS required: %+v, %d messages", res, len(be.received()))
	}
	m.AllowPlaintext = true
	res = n.Send(ctx, Settings{Email: m}, n.NewEvent(KindTest, "mairie-a"), true)
	if !res[0].OK || len(be.received()) != 1 || be.received()[0].tls {
		t.Fatalf("plain text allowed: %+v", res)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(be.received()[0].data)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if !strings.Contains(string(body), "Ceci est un message de test") || !strings.Contains(string(body), "This is a test message") {
		t.Fatalf("test message body:\n%s", body)
	}
}

func TestSettings(t *testing.T) {
	ca := func() string {
		ts := httptest.NewTLSServer(http.NotFoundHandler())
		defer ts.Close()
		return caPEM(ts)
	}()
	cur, err := Update(Settings{}, []byte(`{"webhook": {"url": "https://soc.example.org/h", "secret": "0123456789abcdef0123"},
		"email": {"server": "smtp.example.org:587", "username": "u", "password": "p4ss", "from": "a@b.example", "to": ["c@d.example", " e@f.example "]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if cur.Webhook.Secret != "0123456789abcdef0123" || cur.Email.Password != "p4ss" || len(cur.Email.To) != 2 || cur.Email.To[1] != "e@f.example" {
		t.Fatalf("Update: %+v %+v", cur.Webhook, cur.Email)
	}
	// The view masks secrets.
	view, _ := json.Marshal(cur.View())
	if strings.Contains(string(view), "0123456789abcdef") || strings.Contains(string(view), "p4ss") ||
		!strings.Contains(string(view), `"secret_set":true`) || !strings.Contains(string(view), `"password_set":true`) {
		t.Fatalf("view %s", view)
	}
	// Secrets absent from a change are kept; "" removes them; null turns
	// a channel off; channels not named stay.
	next, err := Update(cur, []byte(`{"webhook": {"url": "https://soc.example.org/h2", "ca_pem": `+strconv.Quote(ca)+`}, "syslog": {"network": "TCP", "address": "10.0.0.5:6514"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if next.Webhook.Secret != cur.Webhook.Secret || next.Webhook.URL != "https://soc.example.org/h2" || next.Webhook.CAPEM == "" ||
		next.Email == nil || next.Email.Password != "p4ss" || next.Syslog.Network != "tcp" {
		t.Fatalf("after a partial change: %+v %+v %+v", next.Webhook, next.Email, next.Syslog)
	}
	next, err = Update(next, []byte(`{"webhook": {"url": "https://soc.example.org/h2", "secret": ""}, "email": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if next.Webhook.Secret != "" || next.Webhook.CAPEM == "" || next.Email != nil || next.Syslog == nil {
		t.Fatalf("after removals: %+v %+v", next.Webhook, next.Email)
	}
	for change, want := range map[string]string{
		`[]`:                               "JSON object",
		`{"pager": {}}`:                    "unknown channel",
		`{"webhook": {"url": "ftp://x/"}}`: "not an http(s) URL",
		`{"webhook": {"url": "https://u:p@x.example/"}}`:                                                      "no user name or password",
		`{"webhook": {"url": "https://x.example/", "secret": "short"}}`:                                       "16 to 1024",
		`{"webhook": {"url": "http://x.example/", "ca_pem": "x"}}`:                                            "not https",
		`{"webhook": {"url": "https://x.example/", "ca_pem": "not a pem"}}`:                                   "not a PEM",
		`{"webhook": {"url": "https://x.example/", "timeout_seconds": 600}}`:                                  "timeout",
		`{"webhook": {"url": "https://x.example/", "bogus": 1}}`:                                              "unknown field",
		`{"syslog": {"network": "tls", "address": "x:514"}}`:                                                  "udp or tcp",
		`{"syslog": {"network": "udp", "address": "x"}}`:                                                      "HOST:PORT",
		`{"syslog": {"network": "udp", "address": "x:99999"}}`:                                                "port",
		`{"email": {"server": "smtp:25", "from": "a@b.c", "to": []}}`:                                         "no recipient",
		`{"email": {"server": "smtp:25", "from": "A <a@b.c>", "to": ["x@y.z"]}}`:                              "bare address",
		`{"email": {"server": "smtp:25", "from": "a@b.c", "to": ["x@y.z\r\nBcc: v@w.x"]}}`:                    "bare address",
		`{"email": {"server": "smtp:25", "from": "a@b.c", "to": ["x@y.z"], "username": "u", "password": ""}}`: "both",
		`{"email": {"server": "smtp", "from": "a@b.c", "to": ["x@y.z"]}}`:                                     "HOST:PORT",
	} {
		_, err := Update(cur, []byte(change))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Update(%s) = %v, want an error saying %q", change, err, want)
		}
	}
	// A stored form reads back.
	back, err := Parse(next.JSON())
	if err != nil || back.Webhook.URL != next.Webhook.URL || back.Syslog.Address != "10.0.0.5:6514" {
		t.Fatalf("Parse(JSON) = %+v, %v", back, err)
	}
	if s, err := Parse([]byte("{}")); err != nil || !s.Empty() {
		t.Fatalf("Parse({}) = %+v, %v", s, err)
	}
}

// TestNotifierBackground: events go out from the queue; failures are
// audited; a full queue drops and audits, never blocks.
func TestNotifierBackground(t *testing.T) {
	hook := newHook(t, func(int) int { return 0 })
	var mu sync.Mutex
	var audits []map[string]any
	settings := map[string]Settings{
		"mairie-a": {Webhook: &Webhook{URL: hook.URL, CAPEM: caPEM(hook.Server)}},
		"mairie-b": {Syslog: &Syslog{Network: "tcp", Address: "127.0.0.1:1"}}, // nothing listens
	}
	n := newTestNotifier(t, Options{
		Queue: 2,
		Load: func(_ context.Context, tenant string) (Settings, error) {
			return settings[tenant], nil
		},
		Audit: func(_ context.Context, actor, action, tenant string, d map[string]any) {
			mu.Lock()
			defer mu.Unlock()
			d["actor"], d["action"], d["tenant"] = actor, action, tenant
			audits = append(audits, d)
		},
	})
	// Not running yet: the third event does not fit.
	a, b := alertEvent(n), alertEvent(n)
	b.Tenant = "mairie-b"
	if !n.Enqueue(context.Background(), a) || !n.Enqueue(context.Background(), b) {
		t.Fatal("the queue refused an event with room left")
	}
	start := time.Now()
	if n.Enqueue(context.Background(), alertEvent(n)) || time.Since(start) > time.Second {
		t.Fatal("a full queue accepted an event, or blocked")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx, 1); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		k := len(audits)
		mu.Unlock()
		if (k >= 2 && hook.count() == 1) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if hook.count() != 1 || len(audits) != 2 {
		t.Fatalf("webhook deliveries %d, audits %v", hook.count(), audits)
	}
	for _, d := range audits {
		if d["action"] != "sentinel.notify.failed" || d["actor"] != "server" {
			t.Errorf("audit %v", d)
		}
	}
	if audits[0]["channel"] != "queue" || audits[0]["tenant"] != "mairie-a" {
		t.Errorf("first audit is not the dropped event: %v", audits[0])
	}
	if audits[1]["channel"] != "syslog" || audits[1]["tenant"] != "mairie-b" || audits[1]["alert_id"] != int64(7) {
		t.Errorf("second audit is not the syslog failure: %v", audits[1])
	}
}

// TestDrillAlertTexts: a failed drill names the drill to read; a request
// that could not run names the request and why, in both languages.
func TestDrillAlertTexts(t *testing.T) {
	d := Event{Kind: KindDrillAlert, Tenant: "mairie-a", AlertID: 4, DrillID: 12, Service: "paie", Result: "failed", Reasons: []string{"a file was damaged"}}
	if s := d.summary(); !strings.Contains(s, "rempart drill show 12") || !strings.Contains(s, "a file was damaged") {
		t.Errorf("drill summary: %s", s)
	}
	r := Event{Kind: KindDrillAlert, Tenant: "mairie-a", AlertID: 5, RequestID: 7, Service: "paie", Result: "failed", Reasons: []string{"wrong passphrase"}}
	s, b := r.summary(), r.body()
	if !strings.Contains(s, "requested restore drill 7") || !strings.Contains(s, "wrong passphrase") || strings.Contains(s, "drill show") {
		t.Errorf("request summary: %s", s)
	}
	for _, want := range []string{"demande n° 7", "request 7", "  - wrong passphrase", "rempart alert close 5", "rempart drill requests --tenant mairie-a"} {
		if !strings.Contains(b, want) {
			t.Errorf("request body lacks %q:\n%s", want, b)
		}
	}
}

package server

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rempart/rempart/internal/crisis/e2ee"
	"github.com/rempart/rempart/internal/server/pki"
	"github.com/rempart/rempart/internal/server/store"
)

// crisisDevice is a member's device with real keys, for the server tests.
type crisisDevice struct {
	name  string
	sign  ed25519.PrivateKey
	dh    *ecdh.PrivateKey
	id    string
	token string
	ck    []byte // chain key of the current epoch, at index i
	i     int64
	seq   int64
	prev  string
}

func newCrisisDevice(t *testing.T, name string) *crisisDevice {
	t.Helper()
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dh, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ck := make([]byte, 32)
	_, _ = rand.Read(ck)
	d := &crisisDevice{name: name, sign: sk, dh: dh, ck: ck}
	d.id = e2ee.MemberID(d.signPub())
	return d
}

func (d *crisisDevice) signPub() []byte { return d.sign.Public().(ed25519.PublicKey) }

func (d *crisisDevice) signed(label, room string, body []byte) e2ee.Signed {
	return e2ee.Signed{Body: string(body), Sig: e2ee.B64.EncodeToString(ed25519.Sign(d.sign, e2ee.SigningInput(label, room, body)))}
}

func (d *crisisDevice) joinFields(room string) map[string]any {
	proof := ed25519.Sign(d.sign, e2ee.Enc(e2ee.LabelJoin, room, d.name, d.signPub(), d.dh.PublicKey().Bytes()))
	return map[string]any{"name": d.name, "sign": e2ee.B64.EncodeToString(d.signPub()),
		"dh": e2ee.B64.EncodeToString(d.dh.PublicKey().Bytes()), "proof": e2ee.B64.EncodeToString(proof)}
}

func (d *crisisDevice) rosterEntry(room string, since int64) e2ee.RosterMember {
	f := d.joinFields(room)
	return e2ee.RosterMember{ID: d.id, Name: d.name, Sign: f["sign"].(string), DH: f["dh"].(string), Proof: f["proof"].(string), Since: since}
}

func hmac256(key []byte, b byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte{b})
	return m.Sum(nil)
}

func sealGCM(t *testing.T, key, nonce, plaintext, aad []byte) []byte {
	t.Helper()
	blk, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		t.Fatal(err)
	}
	return g.Seal(nil, nonce, plaintext, aad)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// envelope encrypts content under the sender key (docs/crisis-e2ee.md,
// "Sender keys" and "Envelopes") and signs the envelope.
func (d *crisisDevice) envelope(t *testing.T, room string, epoch int64, content []byte) e2ee.Signed {
	t.Helper()
	mk := hmac256(d.ck, 0x01)
	seq := d.seq + 1
	nonce := randBytes(12)
	ct := sealGCM(t, mk, nonce, content, e2ee.Enc(e2ee.LabelContent, room, epoch, d.id, seq, d.i))
	env := e2ee.Envelope{V: 1, Room: room, Epoch: epoch, Sender: d.id, Seq: seq, Prev: d.prev, Refs: []string{}, I: d.i,
		Nonce: e2ee.B64.EncodeToString(nonce), CT: e2ee.B64.EncodeToString(ct), Time: time.Now().UTC().Format("2006-01-02T15:04:05.000Z")}
	body, _ := json.Marshal(env)
	d.ck, d.i, d.seq, d.prev = hmac256(d.ck, 0x02), d.i+1, seq, e2ee.Hash(body)
	return d.signed(e2ee.LabelEnvelope, room, body)
}

// wraps wraps d's chain key for the recipients (ephemeral X25519, HKDF,
// AES-256-GCM), signed.
func (d *crisisDevice) wraps(t *testing.T, room string, epoch int64, to ...*crisisDevice) e2ee.Signed {
	t.Helper()
	b := e2ee.WrapBundle{V: 1, Room: room, Epoch: epoch, Sender: d.id}
	for _, r := range to {
		eph, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		shared, err := eph.ECDH(r.dh.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		info := e2ee.Enc(e2ee.LabelWrapKDF, room, epoch, d.id, r.id)
		salt := append(eph.PublicKey().Bytes(), r.dh.PublicKey().Bytes()...)
		kek, err := hkdf.Key(sha256.New, shared, salt, string(info), 32)
		if err != nil {
			t.Fatal(err)
		}
		nonce := randBytes(12)
		pt := binary.BigEndian.AppendUint32(nil, uint32(d.i))
		pt = append(pt, d.ck...)
		b.Wraps = append(b.Wraps, e2ee.Wrap{To: r.id, Eph: e2ee.B64.EncodeToString(eph.PublicKey().Bytes()),
			Nonce: e2ee.B64.EncodeToString(nonce), CT: e2ee.B64.EncodeToString(sealGCM(t, kek, nonce, pt, info))})
	}
	body, _ := json.Marshal(b)
	return d.signed(e2ee.LabelWraps, room, body)
}

// crisisClient calls a running server over HTTPS, trusting its CA.
type crisisClient struct {
	t    *testing.T
	url  string
	http *http.Client
}

func (c *crisisClient) call(token, method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if raw, ok := body.([]byte); ok {
		rd = bytes.NewReader(raw)
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (c *crisisClient) want(code int, token, method, path string, body any) map[string]any {
	c.t.Helper()
	got, out := c.call(token, method, path, body)
	if got != code {
		c.t.Fatalf("%s %s: %d %v, want %d", method, path, got, out, code)
	}
	return out
}

// startServer runs the whole server (Run) on a free port until the test
// ends, and returns a client that trusts its CA.
func startServer(t *testing.T, data string, app fs.FS) (*crisisClient, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Info, 1)
	done := make(chan error, 1)
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	go func() {
		done <- Run(ctx, Config{Listen: "127.0.0.1:0", Data: data, AdminPassword: "the admin password of the test",
			WebApp: app, Ready: func(i Info) { ready <- i }})
	}()
	var info Info
	select {
	case info = <-ready:
	case err := <-done:
		t.Fatalf("server: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not start")
	}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with %v", err)
		}
		slog.SetDefault(prev)
	}
	if info.CrisisURL != info.URL+"/crisis/" {
		t.Errorf("crisis URL %q", info.CrisisURL)
	}
	pin, err := pki.ParseFingerprint(info.CAFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := pki.ClientTLSConfig(pin, nil, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
	// The CA certificate that members install is the one whose
	// fingerprint the server printed.
	resp, err := hc.Get(info.URL + "/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	blk, _ := pem.Decode(caPEM)
	if resp.StatusCode != 200 || blk == nil || pki.FingerprintOf(blk.Bytes).String() != info.CAFingerprint ||
		resp.Header.Get("Content-Type") != "application/x-x509-ca-cert" {
		t.Errorf("/ca.crt: %d %v %q", resp.StatusCode, resp.Header, caPEM)
	}
	return &crisisClient{t: t, url: info.URL, http: hc}, stop
}

// A crisis session through the whole server, with known plaintext written
// under real end-to-end encryption; afterwards, no byte of the database or
// the data folder holds it.
func TestCrisisServerKeepsNoPlaintext(t *testing.T) {
	data := t.TempDir()
	c, stop := startServer(t, data, nil)
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	secrets := []string{
		"SECRET-LOGBOOK-7f3a9c: the mayor decides to cut the town hall off the network",
		"SECRET-CHAT-51be02: the insurer's hotline is 01 23 45 67 89",
		"SECRET-TITLE-c0ffee: Cyberattaque mairie",
		"SECRET-FILE-d00d42: payroll export",
	}
	control := "CONTROL-PLAINTEXT-0a1b2c" // written in clear on purpose: proves the scan sees the database

	// The operator makes a coordinator account, who signs in.
	admin := c.want(200, "", "POST", "/v1/login", map[string]string{"username": "admin", "password": "the admin password of the test"})["token"].(string)
	c.want(201, admin, "POST", "/v1/accounts", map[string]string{"username": "dgs", "role": "coordinator", "password": "the coordinator's password"})
	session := c.want(200, "", "POST", "/v1/login", map[string]string{"username": "dgs", "password": "the coordinator's password"})["token"].(string)

	// Room creation.
	room := e2ee.B64.EncodeToString(randBytes(16))
	coord, maire, dsi := newCrisisDevice(t, "Coordination"), newCrisisDevice(t, "Maire"), newCrisisDevice(t, "DSI")
	roster := func(version, epoch int64, members ...e2ee.RosterMember) e2ee.Signed {
		body, _ := json.Marshal(e2ee.Roster{V: 1, Room: room, Version: version, Epoch: epoch, Coordinator: coord.id,
			Time: "2026-12-05T09:00:00.000Z", Members: members, Removed: []string{}})
		return coord.signed(e2ee.LabelRoster, room, body)
	}
	in := coord.joinFields(room)
	in["roster"] = roster(1, 1, coord.rosterEntry(room, 1))
	coord.token = c.want(201, session, "POST", "/v1/crisis/rooms", in)["member_token"].(string)
	base := "/v1/crisis/rooms/" + room

	// Two members join and are admitted.
	for _, d := range []*crisisDevice{maire, dsi} {
		inv := c.want(201, coord.token, "POST", base+"/invites", map[string]any{})["token"].(string)
		j := d.joinFields(room)
		j["invite"] = inv
		d.token = c.want(201, "", "POST", base+"/join", j)["member_token"].(string)
	}
	c.want(200, coord.token, "PUT", base+"/roster", roster(2, 1, coord.rosterEntry(room, 1), maire.rosterEntry(room, 1), dsi.rosterEntry(room, 1)))

	// Everyone wraps its sender key for the others, then writes.
	all := []*crisisDevice{coord, maire, dsi}
	for _, d := range all {
		var others []*crisisDevice
		for _, o := range all {
			if o != d {
				others = append(others, o)
			}
		}
		c.want(201, d.token, "POST", base+"/wraps", d.wraps(t, room, 1, others...))
	}
	content := func(v map[string]any) []byte { b, _ := json.Marshal(v); return b }
	c.want(201, coord.token, "POST", base+"/events", coord.envelope(t, room, 1, content(map[string]any{"t": "meta", "title": secrets[2]})))
	c.want(201, maire.token, "POST", base+"/events", maire.envelope(t, room, 1, content(map[string]any{"t": "log", "kind": "decision", "text": secrets[0]})))
	c.want(201, dsi.token, "POST", base+"/events", dsi.envelope(t, room, 1, content(map[string]any{"t": "chat", "text": secrets[1]})))
	// An attachment: one 64 KiB chunk, last.
	key := randBytes(32)
	nonce := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(nil, 0), 0)
	blob := sealGCM(t, key, nonce, []byte(strings.Repeat(secrets[3]+"\n", 100)), e2ee.Enc(e2ee.LabelBlob, 0, "1"))
	c.want(201, dsi.token, "POST", base+"/blobs?id="+e2ee.Hash(blob), blob)
	// The control: an envelope body may carry unknown fields, stored as
	// they came. This one says the control marker in clear.
	ctl := maire.envelope(t, room, 1, []byte("{}"))
	var env map[string]any
	_ = json.Unmarshal([]byte(ctl.Body), &env)
	env["note"] = control
	body, _ := json.Marshal(env)
	ctl = maire.signed(e2ee.LabelEnvelope, room, body)
	c.want(201, maire.token, "POST", base+"/events", ctl)
	list := c.want(200, dsi.token, "GET", base+"/events?after=0", nil)["events"].([]any)
	if len(list) != 4 {
		t.Fatalf("%d events, want 4", len(list))
	}
	stop()
	stopped = true

	// Every byte of the data folder: database (and its WAL), blobs, CA.
	found := map[string]string{}
	sawNames := false
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range append(secrets, control) {
			// The plaintext, and its base64 forms (a relay that stored the
			// content merely encoded would be caught too).
			for _, form := range []string{s, e2ee.B64.EncodeToString([]byte(s))} {
				if bytes.Contains(b, []byte(form)) {
					found[s] = path
				}
			}
		}
		if bytes.Contains(b, []byte("Maire")) {
			sawNames = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawNames || found[control] == "" {
		t.Fatalf("the scan does not see what the server stores (member names found: %v, control found: %q)", sawNames, found[control])
	}
	for _, s := range secrets {
		if p := found[s]; p != "" {
			t.Errorf("plaintext %q found in %s", s, p)
		}
	}
}

// The relay is mounted with the server's own accounts: roles and agents.
func TestCrisisAccountsAdapter(t *testing.T) {
	f := newAcctFixture(t)
	ctx := context.Background()
	s := &srv{st: f.st, log: slog.New(slog.DiscardHandler), metrics: newMetrics()}
	h, err := s.newCrisis(Config{Data: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	s.crisis = h
	hs := httptest.NewServer(s.routes(http.NotFoundHandler()))
	t.Cleanup(hs.Close)
	f.url = hs.URL
	tn, err := f.st.TenantByName(ctx, "town-a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CreateAccount(ctx, store.NewAccount{Username: "dgs", Password: fixturePassword, Role: store.RoleCoordinator, TenantID: tn.ID}); err != nil {
		t.Fatal(err)
	}
	f.tokens["dgs"] = f.login(t, "dgs", fixturePassword, "")
	createBody := func() map[string]any {
		room := e2ee.B64.EncodeToString(randBytes(16))
		d := newCrisisDevice(t, "Coordination")
		in := d.joinFields(room)
		body, _ := json.Marshal(e2ee.Roster{V: 1, Room: room, Version: 1, Epoch: 1, Coordinator: d.id,
			Members: []e2ee.RosterMember{d.rosterEntry(room, 1)}, Removed: []string{}})
		in["roster"] = d.signed(e2ee.LabelRoster, room, body)
		return in
	}
	for who, code := range map[string]int{"dgs": 201, "admin-a": 201, "operator": 201, "auditor-a": 403, "agent-a": 401} {
		f.want(t, code, who, "POST", "/v1/crisis/rooms", createBody())
	}
	rooms := f.want(t, 200, "dgs", "GET", "/v1/crisis/rooms", nil)["rooms"].([]any)
	if len(rooms) != 2 { // dgs's and admin-a's: town-a
		t.Fatalf("coordinator of town-a sees %d rooms, want 2", len(rooms))
	}
	if r := rooms[0].(map[string]any); r["tenant"] != "town-a" || r["members"].(float64) != 1 {
		t.Fatalf("room: %v", r)
	}
	if n := len(f.want(t, 200, "admin-b", "GET", "/v1/crisis/rooms", nil)["rooms"].([]any)); n != 0 {
		t.Fatalf("admin of town-b sees %d rooms", n)
	}
	if n := len(f.want(t, 200, "operator", "GET", "/v1/crisis/rooms", nil)["rooms"].([]any)); n != 3 {
		t.Fatalf("operator sees %d rooms, want 3", n)
	}
	// Created rooms are in the audit trail.
	ev, err := f.st.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ev {
		if e.Action == "crisis.room.create" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d room creations audited, want 3", n)
	}
	// The coordinator role is accepted by the accounts API.
	f.want(t, 201, "admin-a", "POST", "/v1/accounts", map[string]string{"username": "com-a", "role": "coordinator"})
}

func TestCrisisWebApp(t *testing.T) {
	app := fstest.MapFS{
		"index.html":                 {Data: []byte("<!doctype html><title>Rempart</title>")},
		"assets/index-B3xk9_aZ.js":   {Data: []byte("console.log(1)")},
		"assets/index-B3xk9_aZ.css":  {Data: []byte("body{}")},
		"favicon.svg":                {Data: []byte("<svg/>")},
		"assets/sub/dir/index-x.txt": {Data: []byte("x")},
	}
	type answer struct {
		StatusCode int
		Header     http.Header
		Body       io.Reader
	}
	get := func(h http.Handler, path string) answer {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "mairie.local:8443"
		h.ServeHTTP(rec, req)
		return answer{rec.Code, rec.Header(), rec.Body}
	}
	s := &srv{log: slog.New(slog.DiscardHandler), metrics: newMetrics(), webapp: newWebApp(app)}
	h := s.routes(http.NotFoundHandler())
	resp := get(h, "/crisis/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<title>Rempart") || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("/crisis/: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "connect-src 'self' wss://mairie.local:8443", "img-src 'self' data: blob:", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "http:") || strings.Contains(csp, "https:") || strings.Contains(csp, "*") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows other hosts or unsafe sources: %q", csp)
	}
	if resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", resp.Header.Get("Referrer-Policy"))
	}
	if resp := get(h, "/crisis/assets/index-B3xk9_aZ.js"); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") ||
		!strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("hashed asset: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get(h, "/crisis/favicon.svg"); resp.StatusCode != 200 || strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("unhashed file: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get(h, "/crisis/nope.js"); resp.StatusCode != 404 {
		t.Fatalf("missing file: %d", resp.StatusCode)
	}
	if resp := get(h, "/crisis/../../etc/passwd"); resp.StatusCode == 200 {
		t.Fatal("path traversal served a file")
	}
	if resp := get(h, "/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("/: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get(h, "/v1/nope"); resp.StatusCode != 404 {
		t.Fatalf("unknown API path: %d", resp.StatusCode)
	}
	// Not built: a clear 503.
	for name, fsys := range map[string]fs.FS{"nil": nil, "empty": fstest.MapFS{".gitkeep": {}}} {
		s := &srv{log: slog.New(slog.DiscardHandler), metrics: newMetrics(), webapp: newWebApp(fsys)}
		resp := get(s.routes(http.NotFoundHandler()), "/crisis/")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 503 || !strings.Contains(string(body), "run make build") {
			t.Fatalf("%s app: %d %q", name, resp.StatusCode, body)
		}
	}
}

package crisis_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/crisis"
	"github.com/rempart/rempart/internal/crisis/e2ee"
	"github.com/rempart/rempart/internal/server/store"
)

// clock is a settable time source shared by the relay and its store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// accounts maps session tokens to principals.
type accounts map[string]crisis.Principal

func (a accounts) Authenticate(_ context.Context, bearer string) (crisis.Principal, error) {
	p, ok := a[bearer]
	if !ok {
		return crisis.Principal{}, crisis.ErrUnauthenticated
	}
	return p, nil
}

// auditLog records audited actions.
type auditLog struct {
	mu      sync.Mutex
	actions []string
}

func (l *auditLog) record(_ context.Context, _, action, _ string, _ map[string]any) {
	l.mu.Lock()
	l.actions = append(l.actions, action)
	l.mu.Unlock()
}

func (l *auditLog) count(action string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.actions {
		if a == action {
			n++
		}
	}
	return n
}

// relay is a crisis relay over a fresh SQLite store, served by httptest.
type relay struct {
	t     testing.TB
	url   string
	h     *crisis.Handler
	clock *clock
	audit *auditLog
	data  string
	st    *store.Store
}

func newRelay(t testing.TB) *relay {
	t.Helper()
	return newRelayCalls(t, nil)
}

// testJoins: the other tests join many devices from 127.0.0.1 (the join
// limits have their own test, with crisis.DefaultJoinLimits).
var testJoins = crisis.JoinLimits{Window: time.Minute, PerAddr: 100000, PerRoom: 100000, Pending: 100000}

// newRelayCalls is newRelay with calls wired to call (nil: off).
func newRelayCalls(t testing.TB, call *crisis.CallOptions) *relay {
	t.Helper()
	return newRelayOpts(t, call, &testJoins)
}

// newRelayOpts is newRelay with calls (nil: off) and join limits.
func newRelayOpts(t testing.TB, call *crisis.CallOptions, joins *crisis.JoinLimits) *relay {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	data := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(data, "rempart.db"), store.Options{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	al := &auditLog{}
	h, err := crisis.New(crisis.Options{
		Store: st.Crisis(),
		Accounts: accounts{
			"op":     {Username: "op", Role: "operator"},
			"coord":  {Username: "dgs", Role: "coordinator", Tenant: "town-a"},
			"admin":  {Username: "admin-a", Role: "tenant_admin", Tenant: "town-a"},
			"audit":  {Username: "cnil", Role: "auditor"},
			"coordb": {Username: "dgs-b", Role: "coordinator", Tenant: "town-b"},
		},
		Audit: al.record, DataDir: data, Logger: slog.New(slog.DiscardHandler), Now: clk.Now,
		Call: call, Joins: joins,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() { h.Close(); hs.Close() })
	return &relay{t: t, url: hs.URL, h: h, clock: clk, audit: al, data: data, st: st}
}

// device is a member's device with real keys.
type device struct {
	name  string
	sign  ed25519.PrivateKey
	dh    *ecdh.PrivateKey
	id    string
	token string
	since int64
	// chain head
	seq  int64
	prev string
}

func newDevice(t testing.TB, name string) *device {
	t.Helper()
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dh, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := &device{name: name, sign: sk, dh: dh}
	d.id = e2ee.MemberID(d.signPub())
	return d
}

func (d *device) signPub() []byte { return d.sign.Public().(ed25519.PublicKey) }

func (d *device) b64sign() string { return e2ee.B64.EncodeToString(d.signPub()) }

func (d *device) b64dh() string { return e2ee.B64.EncodeToString(d.dh.PublicKey().Bytes()) }

func (d *device) proof(room string) string {
	return e2ee.B64.EncodeToString(ed25519.Sign(d.sign, e2ee.Enc(e2ee.LabelJoin, room, d.name, d.signPub(), d.dh.PublicKey().Bytes())))
}

func (d *device) signed(label, room string, body []byte) e2ee.Signed {
	return e2ee.Signed{Body: string(body), Sig: e2ee.B64.EncodeToString(ed25519.Sign(d.sign, e2ee.SigningInput(label, room, body)))}
}

func (d *device) entry(room string) e2ee.RosterMember {
	return e2ee.RosterMember{ID: d.id, Name: d.name, Sign: d.b64sign(), DH: d.b64dh(), Proof: d.proof(room), Since: d.since}
}

func newRoomID(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return e2ee.B64.EncodeToString(b)
}

func randB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return e2ee.B64.EncodeToString(b)
}

// roster builds a roster body.
func rosterBody(room string, version, epoch int64, coord *device, members []*device, removed []string) []byte {
	r := e2ee.Roster{V: 1, Room: room, Version: version, Epoch: epoch, Coordinator: coord.id,
		Time: "2026-12-05T09:00:00.000Z", Removed: removed}
	if r.Removed == nil {
		r.Removed = []string{}
	}
	for _, m := range members {
		r.Members = append(r.Members, m.entry(room))
	}
	b, _ := json.Marshal(r)
	return b
}

// envelope builds d's next envelope (ct is opaque random bytes).
func (d *device) envelope(room string, epoch int64, refs ...string) (e2ee.Signed, string) {
	if refs == nil {
		refs = []string{}
	}
	env := e2ee.Envelope{V: 1, Room: room, Epoch: epoch, Sender: d.id, Seq: d.seq + 1, Prev: d.prev, Refs: refs,
		I: d.seq, Nonce: randB64(12), CT: randB64(48), Time: "2026-12-05T09:00:00.000Z"}
	b, _ := json.Marshal(env)
	return d.signed(e2ee.LabelEnvelope, room, b), e2ee.Hash(b)
}

// advance records that the envelope with this hash was accepted.
func (d *device) advance(hash string) {
	d.seq++
	d.prev = hash
}

// call sends a JSON request; body may be []byte (sent as is) or a value.
func (r *relay) call(method, path, token string, body any) (int, map[string]any) {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, r.url+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		out["raw"] = string(raw)
	}
	return resp.StatusCode, out
}

// want fails unless the status is code.
func want(t testing.TB, what string, got int, out map[string]any, code int) {
	t.Helper()
	if got != code {
		t.Fatalf("%s: status %d (%v), want %d", what, got, out, code)
	}
	if code >= 400 {
		if msg, _ := out["error"].(string); msg == "" {
			t.Fatalf("%s: error answer without a message: %v", what, out)
		}
	}
}

// room is a created room with its coordinator.
type room struct {
	id      string
	coord   *device
	version int64
	epoch   int64
	members []*device // listed, coordinator first
	removed []string
}

func (r *relay) createRoom(session string) *room {
	r.t.Helper()
	rm := &room{id: newRoomID(r.t), coord: newDevice(r.t, "Coordination"), version: 1, epoch: 1}
	rm.coord.since = 1
	rm.members = []*device{rm.coord}
	body := rosterBody(rm.id, 1, 1, rm.coord, rm.members, nil)
	code, out := r.call("POST", "/v1/crisis/rooms", session, map[string]any{
		"name": rm.coord.name, "sign": rm.coord.b64sign(), "dh": rm.coord.b64dh(), "proof": rm.coord.proof(rm.id),
		"roster": rm.coord.signed(e2ee.LabelRoster, rm.id, body),
	})
	want(r.t, "create room", code, out, http.StatusCreated)
	rm.coord.token, _ = out["member_token"].(string)
	if out["room"] != rm.id || out["member"] != rm.coord.id {
		r.t.Fatalf("create room: answer %v", out)
	}
	return rm
}

func (r *relay) invite(rm *room) string {
	r.t.Helper()
	code, out := r.call("POST", "/v1/crisis/rooms/"+rm.id+"/invites", rm.coord.token, map[string]any{"ttl_seconds": 3600})
	want(r.t, "invite", code, out, http.StatusCreated)
	return out["token"].(string)
}

func (r *relay) joinBody(rm *room, d *device, invite string) map[string]any {
	return map[string]any{"invite": invite, "name": d.name, "sign": d.b64sign(), "dh": d.b64dh(), "proof": d.proof(rm.id)}
}

// join makes a new device join with a fresh invitation (pending).
func (r *relay) join(rm *room, name string) *device {
	r.t.Helper()
	d := newDevice(r.t, name)
	code, out := r.call("POST", "/v1/crisis/rooms/"+rm.id+"/join", "", r.joinBody(rm, d, r.invite(rm)))
	want(r.t, "join "+name, code, out, http.StatusCreated)
	d.token = out["member_token"].(string)
	return d
}

// putRoster signs and sends the next roster with these listed members and
// removed ids; it does not update rm unless it is accepted.
func (r *relay) putRoster(rm *room, signer *device, version, epoch int64, members []*device, removed []string) (int, map[string]any) {
	r.t.Helper()
	body := rosterBody(rm.id, version, epoch, rm.coord, members, removed)
	return r.call("PUT", "/v1/crisis/rooms/"+rm.id+"/roster", rm.coord.token, signer.signed(e2ee.LabelRoster, rm.id, body))
}

// admit admits devices with a correctly signed roster.
func (r *relay) admit(rm *room, ds ...*device) {
	r.t.Helper()
	for _, d := range ds {
		d.since = rm.epoch
	}
	members := append(append([]*device(nil), rm.members...), ds...)
	code, out := r.putRoster(rm, rm.coord, rm.version+1, rm.epoch, members, rm.removed)
	want(r.t, "admit", code, out, http.StatusOK)
	rm.version++
	rm.members = members
}

// remove removes a listed device with a new epoch.
func (r *relay) remove(rm *room, d *device) {
	r.t.Helper()
	var members []*device
	for _, m := range rm.members {
		if m != d {
			members = append(members, m)
		}
	}
	removed := append(append([]string(nil), rm.removed...), d.id)
	code, out := r.putRoster(rm, rm.coord, rm.version+1, rm.epoch+1, members, removed)
	want(r.t, "remove", code, out, http.StatusOK)
	if out["version"].(float64) != float64(rm.version+1) || out["epoch"].(float64) != float64(rm.epoch+1) {
		r.t.Fatalf("roster answer %v", out)
	}
	rm.version++
	rm.epoch++
	rm.members = members
	rm.removed = removed
}

// post sends d's next envelope and returns its position.
func (r *relay) post(rm *room, d *device, refs ...string) (int64, string) {
	r.t.Helper()
	s, hash := d.envelope(rm.id, rm.epoch, refs...)
	code, out := r.call("POST", "/v1/crisis/rooms/"+rm.id+"/events", d.token, s)
	want(r.t, fmt.Sprintf("post by %s", d.name), code, out, http.StatusCreated)
	if out["hash"] != hash {
		r.t.Fatalf("post: hash %v, want %s", out["hash"], hash)
	}
	d.advance(hash)
	return int64(out["pos"].(float64)), hash
}

// events lists what d reads after a position.
func (r *relay) events(rm *room, d *device, after int64, limit int) ([]map[string]any, bool) {
	r.t.Helper()
	code, out := r.call("GET", fmt.Sprintf("/v1/crisis/rooms/%s/events?after=%d&limit=%d", rm.id, after, limit), d.token, nil)
	want(r.t, "events", code, out, http.StatusOK)
	var list []map[string]any
	for _, e := range out["events"].([]any) {
		list = append(list, e.(map[string]any))
	}
	return list, out["more"].(bool)
}

// callNoFatal is call for goroutines other than the test's.
func (r *relay) callNoFatal(method, path, token string, body any) (int, map[string]any) {
	j, err := json.Marshal(body)
	if err != nil {
		return 0, map[string]any{"marshal": err.Error()}
	}
	req, err := http.NewRequest(method, r.url+path, bytes.NewReader(j))
	if err != nil {
		return 0, map[string]any{"request": err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, map[string]any{"do": err.Error()}
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

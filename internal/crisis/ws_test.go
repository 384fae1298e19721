package crisis_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// live is a member's WebSocket, read by a goroutine (a read whose context
// expires closes a coder/websocket connection, so reads never time out
// here: the waits do).
type live struct {
	t    testing.TB
	c    *websocket.Conn
	msgs chan map[string]any
	end  chan websocket.StatusCode // the close status, once the reader stops
}

func (r *relay) wsURL(rm *room) string {
	return "ws" + strings.TrimPrefix(r.url, "http") + "/v1/crisis/rooms/" + rm.id + "/ws"
}

func (r *relay) connect(rm *room, d *device) *live {
	r.t.Helper()
	return r.dial(r.wsURL(rm), d)
}

// dial opens a WebSocket at u and authenticates as d.
func (r *relay) dial(u string, d *device) *live {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		r.t.Fatalf("dial: %v", err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	c.SetReadLimit(1 << 20)
	r.t.Cleanup(func() { _ = c.CloseNow() })
	auth, _ := json.Marshal(map[string]string{"type": "auth", "token": d.token})
	if err := c.Write(ctx, websocket.MessageText, auth); err != nil {
		r.t.Fatal(err)
	}
	l := &live{t: r.t, c: c, msgs: make(chan map[string]any, 1000), end: make(chan websocket.StatusCode, 1)}
	go func() {
		defer close(l.msgs)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				l.end <- websocket.CloseStatus(err)
				return
			}
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				l.msgs <- m
			}
		}
	}()
	return l
}

// next returns the next message of type typ, skipping the others; it fails
// after 5 s.
func (l *live) next(typ string) map[string]any {
	l.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-l.msgs:
			if !ok {
				l.t.Fatalf("waiting for a %q message: the connection closed (%v)", typ, <-l.end)
			}
			if m["type"] == typ {
				return m
			}
		case <-timeout:
			l.t.Fatalf("no %q message within 5 s", typ)
		}
	}
}

// closed waits for the connection to end and returns its close status,
// failing if a message of type forbidden arrives first.
func (l *live) closed(forbidden string) websocket.StatusCode {
	l.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m, ok := <-l.msgs:
			if !ok {
				return <-l.end
			}
			if m["type"] == forbidden {
				l.t.Fatalf("received %v before the close", m)
			}
		case <-timeout:
			l.t.Fatal("the connection stayed open")
		}
	}
}

// quiet fails if a message of type typ arrives within d.
func (l *live) quiet(typ string, d time.Duration) {
	l.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-l.msgs:
			if !ok {
				l.t.Fatalf("the connection closed (%v)", <-l.end)
			}
			if m["type"] == typ {
				l.t.Fatalf("received %v, want none", m)
			}
		case <-timeout:
			return
		}
	}
}

func TestWebSocketFanOut(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a, b := r.join(rm, "A"), r.join(rm, "B")
	r.admit(rm, a, b)
	p := r.join(rm, "Pending")
	conns := []*live{r.connect(rm, rm.coord), r.connect(rm, a), r.connect(rm, b)}
	lp := r.connect(rm, p)
	// Presence reaches three online members.
	for _, l := range conns {
		for {
			m := l.next("presence")
			if len(m["online"].([]any)) == 3 {
				break
			}
		}
	}
	pos, hash := r.post(rm, a)
	for i, l := range conns {
		m := l.next("event")
		env, err := e2ee.ParseEnvelope([]byte(m["body"].(string)))
		if err != nil || int64(m["pos"].(float64)) != pos || e2ee.Hash([]byte(m["body"].(string))) != hash || env.Sender != a.id || m["sig"] == "" {
			t.Fatalf("connection %d got %v", i, m)
		}
	}
	lp.quiet("event", 300*time.Millisecond)
	// The coordinator learns of a new pending member.
	q := r.join(rm, "Q")
	for {
		m := conns[0].next("pending")
		if ids := pendingIDs(m); slices.Contains(ids, q.id) {
			break
		}
	}
	// Admission: the pending member's live connection gets the roster,
	// then the events that follow.
	r.admit(rm, p)
	if m := lp.next("roster"); m["body"] == "" {
		t.Fatalf("roster push: %v", m)
	}
	pos2, _ := r.post(rm, b)
	if m := lp.next("event"); int64(m["pos"].(float64)) != pos2 {
		t.Fatalf("admitted member got %v, want pos %d", m, pos2)
	}
	// Wraps are pushed to their recipients only.
	w := e2ee.WrapBundle{V: 1, Room: rm.id, Epoch: rm.epoch, Sender: a.id,
		Wraps: []e2ee.Wrap{{To: b.id, Eph: randB64(32), Nonce: randB64(12), CT: randB64(52)}}}
	code, out := r.call("POST", "/v1/crisis/rooms/"+rm.id+"/wraps", a.token, a.signed(e2ee.LabelWraps, rm.id, mustMarshal(t, w)))
	want(t, "wraps", code, out, http.StatusCreated)
	if m := conns[2].next("wraps"); m["id"].(float64) != out["id"].(float64) {
		t.Fatalf("wraps push: %v", m)
	}
	conns[0].quiet("wraps", 300*time.Millisecond)
}

func pendingIDs(m map[string]any) []string {
	var ids []string
	for _, p := range m["pending"].([]any) {
		ids = append(ids, p.(map[string]any)["id"].(string))
	}
	return ids
}

func TestWebSocketRemovedMemberClosed(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a, b := r.join(rm, "A"), r.join(rm, "B")
	r.admit(rm, a, b)
	lb := r.connect(rm, b)
	la := r.connect(rm, a)
	lb.next("presence") // each is registered once it gets its first presence
	la.next("presence")
	r.remove(rm, b)
	lb.next("removed")
	if st := lb.closed("event"); st != websocket.StatusNormalClosure {
		t.Fatalf("removed member's connection closed with %v", st)
	}
	la.next("roster")
	r.post(rm, a)
	la.next("event")
	// Its token no longer opens a connection.
	again := r.connect(rm, b)
	if st := again.closed("event"); st != websocket.StatusPolicyViolation {
		t.Fatalf("removed token: close status %v", st)
	}
}

func TestWebSocketAuthAndOrigin(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	bad := &device{token: "rcm_" + randB64(32)}
	if st := r.connect(rm, bad).closed("presence"); st != websocket.StatusPolicyViolation {
		t.Fatalf("bad token: close status %v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h := http.Header{"Origin": {"https://evil.example"}}
	c, resp, err := websocket.Dial(ctx, r.wsURL(rm), &websocket.DialOptions{HTTPHeader: h})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err == nil {
		_ = c.CloseNow()
		t.Fatal("a WebSocket from another origin was accepted")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("other origin: %v", resp)
	}
	host := strings.TrimPrefix(r.url, "http://")
	h = http.Header{"Origin": {"https://" + host}}
	c, resp, err = websocket.Dial(ctx, r.wsURL(rm), &websocket.DialOptions{HTTPHeader: h})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("same-host origin refused: %v", err)
	}
	_ = c.CloseNow()
}

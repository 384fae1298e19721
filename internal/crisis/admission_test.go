package crisis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/crisis"
	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// writeConcurrently makes each device post n envelopes, in parallel; the
// function it returns waits until they are all stored (and fails the test
// on the first refusal).
func writeConcurrently(t *testing.T, r *relay, rm *room, n int, ds ...*device) func() {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(ds))
	for _, d := range ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				s, h := d.envelope(rm.id, rm.epoch)
				code, out := r.callNoFatal("POST", "/v1/crisis/rooms/"+rm.id+"/events", d.token, s)
				if code != http.StatusCreated {
					errs <- fmt.Errorf("%s: %d %v", d.name, code, out)
					return
				}
				d.advance(h)
			}
		}()
	}
	return func() {
		t.Helper()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// TestAdmissionPositionConcurrentWrites: a roster admitting members while
// others write takes effect at one position, and the relay says which:
// the PUT answer, the state and the live push agree; every event before it
// reached the live connections before the roster, every event from it on
// after; the newcomer reads exactly the events from it on.
func TestAdmissionPositionConcurrentWrites(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a, b, c := r.join(rm, "A"), r.join(rm, "B"), r.join(rm, "C")
	r.admit(rm, a, b, c)
	n1, n2 := r.join(rm, "N1"), r.join(rm, "N2")
	watch := r.connect(rm, a)
	// The relay registers a live connection a moment after its auth message:
	// write until the connection sees its own event, so that it is live
	// before the concurrent writes start.
	base, posts := int64(0), int64(0)
	for base == 0 {
		r.post(rm, a)
		posts++
		select {
		case m := <-watch.msgs:
			if m["type"] == "event" {
				base = num(m["pos"])
			}
		case <-time.After(100 * time.Millisecond):
		}
		if posts > 50 {
			t.Fatal("the live connection never received an event")
		}
	}
	const each = 30
	done := writeConcurrently(t, r, rm, each, a, b, c)

	// Two admissions in a row, while A, B and C write.
	var from [2]int64
	for i, n := range []*device{n1, n2} {
		time.Sleep(time.Duration(5+i*5) * time.Millisecond)
		n.since = rm.epoch
		members := append(append([]*device(nil), rm.members...), n)
		code, out := r.putRoster(rm, rm.coord, rm.version+1, rm.epoch, members, rm.removed)
		want(t, "admit "+n.name, code, out, http.StatusOK)
		rm.version++
		rm.members = members
		from[i] = num(out["visible_from"])
		if from[i] < 1 {
			t.Fatalf("admit %s: answer %v has no visible_from", n.name, out)
		}
	}
	done()
	total := posts + int64(3*each) // the first posts: the events that made the connection live
	t.Logf("admissions take effect at %v of %d events", from, total)
	if from[0] > from[1] || from[1] > total+1 {
		t.Fatalf("visible_from %v for %d events", from, total)
	}

	// The state tells every admitted member each member's position.
	code, st := r.call("GET", "/v1/crisis/rooms/"+rm.id+"/state", b.token, nil)
	want(t, "state", code, st, http.StatusOK)
	vis, _ := st["visible_from"].(map[string]any)
	if num(vis[n1.id]) != from[0] || num(vis[n2.id]) != from[1] || num(vis[rm.coord.id]) != 1 || num(vis[a.id]) != 1 {
		t.Fatalf("state visible_from %v, want N1 %d, N2 %d, coordinator and A 1", vis, from[0], from[1])
	}
	code, st = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/state", r.join(rm, "P").token, nil)
	want(t, "state of a pending member", code, st, http.StatusOK)
	if _, ok := st["visible_from"]; ok {
		t.Fatalf("a pending member gets the positions: %v", st)
	}

	// The live connection saw each roster exactly between the events
	// before its position and the events from it on.
	rosters, last := 0, base
	for last < total {
		var m map[string]any
		select {
		case m = <-watch.msgs:
		case <-time.After(5 * time.Second):
			t.Fatalf("no message within 5 s after event %d", last)
		}
		switch m["type"] {
		case "event":
			pos := num(m["pos"])
			if pos != last+1 {
				t.Fatalf("live event %d after %d", pos, last)
			}
			last = pos
		case "roster":
			if rosters == 2 {
				t.Fatal("a third roster push")
			}
			if last != from[rosters]-1 {
				t.Fatalf("roster %d pushed after event %d, but it takes effect at %d", rosters+1, last, from[rosters])
			}
			v, _ := m["visible_from"].(map[string]any)
			if num(v[[]*device{n1, n2}[rosters].id]) != from[rosters] {
				t.Fatalf("roster push %d: visible_from %v, want %d", rosters+1, v, from[rosters])
			}
			rosters++
		}
	}
	if rosters != 2 {
		t.Fatalf("%d roster pushes before the last event", rosters)
	}

	// The newcomers read from their position on, and each writer has an
	// envelope at or after it (whose index it hands the newcomer).
	for i, n := range []*device{n1, n2} {
		list, _ := r.events(rm, n, 0, 5000)
		if int64(len(list)) != total-from[i]+1 || (len(list) > 0 && num(list[0]["pos"]) != from[i]) {
			t.Fatalf("%s reads %d events, want %d from %d", n.name, len(list), total-from[i]+1, from[i])
		}
	}
}

// TestWrapOfEarlierEpoch: a member admitted just before a removal is owed,
// by each writer, the chain of the epoch that ended for the entries written
// after its admission; the relay takes that bundle, but only for members
// who can read one of the sender's entries of that epoch.
func TestWrapOfEarlierEpoch(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a, b, d := r.join(rm, "A"), r.join(rm, "B"), r.join(rm, "D")
	r.admit(rm, a, b, d)
	r.post(rm, a)
	r.post(rm, d)
	n := r.join(rm, "N")
	r.admit(rm, n)
	pos, _ := r.post(rm, a) // written in epoch 1, after N's admission
	r.remove(rm, b)         // epoch 2
	c := r.join(rm, "C")
	r.admit(rm, c)
	path := "/v1/crisis/rooms/" + rm.id + "/wraps"
	bundle := func(from *device, epoch int64, to ...*device) e2ee.Signed {
		w := e2ee.WrapBundle{V: 1, Room: rm.id, Epoch: epoch, Sender: from.id}
		for _, x := range to {
			w.Wraps = append(w.Wraps, e2ee.Wrap{To: x.id, Eph: randB64(32), Nonce: randB64(12), CT: randB64(52)})
		}
		return from.signed(e2ee.LabelWraps, rm.id, mustMarshal(t, w))
	}
	code, out := r.call("POST", path, a.token, bundle(a, 1, n))
	want(t, "epoch-1 chain for N from A", code, out, http.StatusCreated)
	code, out = r.call("POST", path, a.token, bundle(a, 1, c))
	want(t, "epoch-1 chain for C, admitted in epoch 2", code, out, http.StatusConflict)
	if out["code"] != crisis.CodeEpochConflict {
		t.Fatalf("code %v", out["code"])
	}
	code, out = r.call("POST", path, d.token, bundle(d, 1, n))
	want(t, "epoch-1 chain for N from D, who wrote nothing after N's admission", code, out, http.StatusConflict)
	code, out = r.call("POST", path, a.token, bundle(a, 3, n))
	want(t, "a future epoch", code, out, http.StatusConflict)
	code, out = r.call("POST", path, a.token, bundle(a, 2, n, c))
	want(t, "current epoch", code, out, http.StatusCreated)

	code, out = r.call("GET", path, n.token, nil)
	want(t, "N's wraps", code, out, http.StatusOK)
	if len(out["wraps"].([]any)) != 2 {
		t.Fatalf("N has %d bundles, want 2", len(out["wraps"].([]any)))
	}
	list, _ := r.events(rm, n, 0, 100)
	if len(list) == 0 || num(list[0]["pos"]) != pos {
		t.Fatalf("N reads from %v, want %d (A's epoch-1 entry)", list, pos)
	}
}

// TestJoinLimits: 429 with Retry-After and a code, per address, per room
// and for the pending members of a room; the window slides with the clock.
func TestJoinLimits(t *testing.T) {
	lim := crisis.DefaultJoinLimits
	r := newRelayOpts(t, nil, &lim)
	rm := r.createRoom("coord")
	path := "/v1/crisis/rooms/" + rm.id + "/join"
	body := func() map[string]any {
		return r.joinBody(rm, newDevice(t, "X"), "rci_"+randB64(32))
	}
	// Per address (the test client is 127.0.0.1): every request counts.
	for i := range lim.PerAddr {
		code, out := r.call("POST", path, "", body())
		want(t, fmt.Sprintf("join %d with an unknown invitation", i), code, out, http.StatusGone)
		if out["code"] != crisis.CodeInviteInvalid {
			t.Fatalf("code %v, want %s", out["code"], crisis.CodeInviteInvalid)
		}
	}
	_, resp := r.rawJoin(path, body())
	if resp.status != http.StatusTooManyRequests || resp.out["code"] != crisis.CodeJoinRateLimited {
		t.Fatalf("join %d: %d %v, want 429 %s", lim.PerAddr+1, resp.status, resp.out, crisis.CodeJoinRateLimited)
	}
	if ra, err := strconv.Atoi(resp.retryAfter); err != nil || ra != int(lim.Window.Seconds()) || num(resp.out["retry_after"]) != int64(ra) {
		t.Fatalf("Retry-After %q, body %v; want %d", resp.retryAfter, resp.out["retry_after"], int(lim.Window.Seconds()))
	}
	if r.audit.count("crisis.join.limited") != 1 {
		t.Fatal("the refusal is not audited")
	}
	r.clock.Add(lim.Window / 2)
	if _, resp := r.rawJoin(path, body()); resp.status != http.StatusTooManyRequests || resp.retryAfter != strconv.Itoa(int(lim.Window.Seconds()/2)) {
		t.Fatalf("half a window later: %d, Retry-After %s", resp.status, resp.retryAfter)
	}
	r.clock.Add(lim.Window / 2)
	code, out := r.call("POST", path, "", r.joinBody(rm, newDevice(t, "Late"), r.invite(rm)))
	want(t, "a join once the window has passed", code, out, http.StatusCreated)

	// Per room and pending members: from many addresses, through the
	// service (the test client has one address).
	ctx := context.Background()
	svc := r.h.Service()
	addr := 0
	join := func(name string) (*device, error) {
		d := newDevice(t, name)
		var in crisis.JoinRequest
		in.Invite, in.Name, in.Sign, in.DH, in.Proof = r.invite(rm), d.name, d.b64sign(), d.b64dh(), d.proof(rm.id)
		addr++
		res, err := svc.Join(ctx, rm.id, fmt.Sprintf("192.0.2.%d:5000", addr%250+1), in)
		d.token = res.MemberToken
		return d, err
	}
	refusal := func(err error) *crisis.Error {
		t.Helper()
		e, ok := err.(*crisis.Error)
		if !ok || e.Status != http.StatusTooManyRequests || e.RetryAfter < 1 {
			t.Fatalf("want a 429 with Retry-After, got %v", err)
		}
		return e
	}
	var waiting []*device
	for len(waiting) < lim.Pending-1 { // "Late" is pending too
		d, err := join(fmt.Sprintf("P%d", len(waiting)))
		if err != nil {
			t.Fatalf("join %d: %v", len(waiting), err)
		}
		waiting = append(waiting, d)
	}
	_, err := join("one too many")
	if e := refusal(err); e.Code != crisis.CodeTooManyPending {
		t.Fatalf("code %s, want %s", e.Code, crisis.CodeTooManyPending)
	}
	r.admit(rm, waiting[:20]...) // the coordinator admits 20: room for more
	for i := range lim.PerRoom - lim.Pending {
		if _, err := join(fmt.Sprintf("Q%d", i)); err != nil {
			t.Fatalf("join Q%d: %v", i, err)
		}
	}
	_, err = join("over the room's limit")
	if e := refusal(err); e.Code != crisis.CodeJoinRateLimited {
		t.Fatalf("code %s, want %s", e.Code, crisis.CodeJoinRateLimited)
	}
}

type rawAnswer struct {
	status     int
	out        map[string]any
	retryAfter string
}

// rawJoin posts a join and keeps the Retry-After header.
func (r *relay) rawJoin(path string, body map[string]any) (*http.Request, rawAnswer) {
	r.t.Helper()
	req, err := http.NewRequest("POST", r.url+path, bytesOf(r.t, body))
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = jsonDecode(resp, &out)
	return req, rawAnswer{status: resp.StatusCode, out: out, retryAfter: resp.Header.Get("Retry-After")}
}

// TestErrorCodes: refusals carry a stable code next to the message.
func TestErrorCodes(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a := r.join(rm, "A")
	inv := r.invite(rm)
	x := newDevice(t, "X")
	code, out := r.call("POST", "/v1/crisis/rooms/"+rm.id+"/join", "", r.joinBody(rm, x, inv))
	want(t, "join", code, out, http.StatusCreated)
	for _, c := range []struct {
		what, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"replayed invitation", "POST", "/v1/crisis/rooms/" + rm.id + "/join", "", r.joinBody(rm, newDevice(t, "Y"), inv), http.StatusGone, crisis.CodeInviteUsed},
		{"unknown room", "POST", "/v1/crisis/rooms/" + newRoomID(t) + "/join", "", r.joinBody(rm, newDevice(t, "Y"), inv), http.StatusNotFound, crisis.CodeRoomNotFound},
		{"pending member reads", "GET", "/v1/crisis/rooms/" + rm.id + "/events", a.token, nil, http.StatusForbidden, crisis.CodeNotAdmitted},
		{"no session", "GET", "/v1/crisis/rooms", "", nil, http.StatusUnauthorized, crisis.CodeNotSignedIn},
		{"expired session", "GET", "/v1/crisis/rooms", "nope", nil, http.StatusUnauthorized, crisis.CodeSessionExpired},
		{"no endpoint", "GET", "/v1/crisis/nowhere", "", nil, http.StatusNotFound, crisis.CodeNoEndpoint},
		{"bad token", "GET", "/v1/crisis/rooms/" + rm.id + "/state", "rcm_nope", nil, http.StatusUnauthorized, crisis.CodeTokenInvalid},
		{"auditor creates a room", "POST", "/v1/crisis/rooms", "audit", map[string]any{}, http.StatusForbidden, crisis.CodeRoleForbidden},
	} {
		code, out := r.call(c.method, c.path, c.token, c.body)
		want(t, c.what, code, out, c.status)
		if out["code"] != c.code {
			t.Errorf("%s: code %v, want %s (%v)", c.what, out["code"], c.code, out)
		}
	}
	r.admit(rm, a)
	code, out = r.call("POST", "/v1/crisis/rooms/"+rm.id+"/invites", a.token, map[string]any{})
	want(t, "invite by a member", code, out, http.StatusForbidden)
	if out["code"] != crisis.CodeNotCoordinator {
		t.Errorf("code %v", out["code"])
	}
	s, _ := a.envelope(rm.id, 7)
	code, out = r.call("POST", "/v1/crisis/rooms/"+rm.id+"/events", a.token, s)
	want(t, "envelope of another epoch", code, out, http.StatusConflict)
	if out["code"] != crisis.CodeEpochConflict || out["next_seq"] == nil {
		t.Errorf("code %v, extra fields %v", out["code"], out)
	}
}

func bytesOf(t testing.TB, v any) *bytes.Reader { return bytes.NewReader(mustMarshal(t, v)) }

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

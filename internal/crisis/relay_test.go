package crisis_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

func TestCreateRoomRoles(t *testing.T) {
	r := newRelay(t)
	for _, s := range []string{"op", "coord", "admin"} {
		r.createRoom(s)
	}
	d := newDevice(t, "X")
	id := newRoomID(t)
	d.since = 1
	good := func() map[string]any {
		return map[string]any{"name": d.name, "sign": d.b64sign(), "dh": d.b64dh(), "proof": d.proof(id),
			"roster": d.signed(e2ee.LabelRoster, id, rosterBody(id, 1, 1, d, []*device{d}, nil))}
	}
	code, out := r.call("POST", "/v1/crisis/rooms", "audit", good())
	want(t, "auditor creates a room", code, out, http.StatusForbidden)
	code, out = r.call("POST", "/v1/crisis/rooms", "", good())
	want(t, "no session", code, out, http.StatusUnauthorized)
	code, out = r.call("POST", "/v1/crisis/rooms", "nope", good())
	want(t, "bad session", code, out, http.StatusUnauthorized)
	other := good()
	other["tenant"] = "town-b"
	code, out = r.call("POST", "/v1/crisis/rooms", "coord", other)
	want(t, "coordinator of town-a creates for town-b", code, out, http.StatusForbidden)

	forged := good()
	intruder := newDevice(t, "X")
	forged["roster"] = intruder.signed(e2ee.LabelRoster, id, rosterBody(id, 1, 1, d, []*device{d}, nil))
	code, out = r.call("POST", "/v1/crisis/rooms", "coord", forged)
	want(t, "first roster signed by another key", code, out, http.StatusBadRequest)
	badProof := good()
	badProof["proof"] = intruder.proof(id)
	code, out = r.call("POST", "/v1/crisis/rooms", "coord", badProof)
	want(t, "forged join proof", code, out, http.StatusBadRequest)
	code, out = r.call("POST", "/v1/crisis/rooms", "coord", []byte(`{"name":`))
	want(t, "malformed JSON", code, out, http.StatusBadRequest)

	code, out = r.call("POST", "/v1/crisis/rooms", "coord", good())
	want(t, "good room", code, out, http.StatusCreated)
	code, out = r.call("POST", "/v1/crisis/rooms", "coord", good())
	want(t, "same room id again", code, out, http.StatusConflict)
	if n := r.audit.count("crisis.room.create"); n != 4 {
		t.Fatalf("audited %d room creations, want 4", n)
	}

	count := func(session string) int {
		code, out := r.call("GET", "/v1/crisis/rooms", session, nil)
		want(t, "list rooms", code, out, http.StatusOK)
		return len(out["rooms"].([]any))
	}
	if n := count("op"); n != 4 {
		t.Fatalf("operator sees %d rooms, want 4", n)
	}
	if n := count("coord"); n != 3 { // rooms of town-a: coord, admin, and the last one
		t.Fatalf("coordinator of town-a sees %d rooms, want 3", n)
	}
	if n := count("coordb"); n != 0 {
		t.Fatalf("coordinator of town-b sees %d rooms, want 0", n)
	}
}

func TestInvitationOneTime(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	inv := r.invite(rm)
	path := "/v1/crisis/rooms/" + rm.id + "/join"

	a := newDevice(t, "Maire")
	forged := r.joinBody(rm, a, inv)
	forged["proof"] = newDevice(t, "Maire").proof(rm.id)
	code, out := r.call("POST", path, "", forged)
	want(t, "forged join proof", code, out, http.StatusBadRequest)

	code, out = r.call("POST", path, "", r.joinBody(rm, a, inv))
	want(t, "join (the forged attempt did not use the invitation)", code, out, http.StatusCreated)
	coord := out["coordinator"].(map[string]any)
	if coord["id"] != rm.coord.id || coord["sign"] != rm.coord.b64sign() || coord["dh"] != rm.coord.b64dh() {
		t.Fatalf("join: coordinator %v", coord)
	}
	code, out = r.call("POST", path, "", r.joinBody(rm, newDevice(t, "Intrus"), inv))
	want(t, "replayed invitation", code, out, http.StatusGone)
	if r.audit.count("crisis.invite.replay") != 1 {
		t.Fatal("the replay was not audited")
	}

	inv2 := r.invite(rm) // 1 hour
	r.clock.Add(2 * time.Hour)
	code, out = r.call("POST", path, "", r.joinBody(rm, newDevice(t, "DGS"), inv2))
	want(t, "expired invitation", code, out, http.StatusGone)
	code, out = r.call("POST", path, "", r.joinBody(rm, newDevice(t, "DGS"), "rci_AAAA"))
	want(t, "garbage invitation", code, out, http.StatusGone)
	huge := r.joinBody(rm, newDevice(t, "DGS"), r.invite(rm))
	huge["padding"] = strings.Repeat("x", 65<<10)
	code, out = r.call("POST", path, "", huge)
	want(t, "join body over 64 KiB", code, out, http.StatusRequestEntityTooLarge)
	code, out = r.call("POST", "/v1/crisis/rooms/"+newRoomID(t)+"/join", "", r.joinBody(rm, newDevice(t, "DGS"), r.invite(rm)))
	want(t, "unknown room", code, out, http.StatusNotFound)

	// Only the coordinator invites.
	code, out = r.call("POST", "/v1/crisis/rooms/"+rm.id+"/invites", "", map[string]any{})
	want(t, "invite with no token", code, out, http.StatusUnauthorized)
	pending := r.join(rm, "Pending")
	code, out = r.call("POST", "/v1/crisis/rooms/"+rm.id+"/invites", pending.token, map[string]any{})
	want(t, "pending member invites", code, out, http.StatusForbidden)
	code, out = r.call("POST", "/v1/crisis/rooms/"+rm.id+"/invites", rm.coord.token, map[string]any{"ttl_seconds": 10})
	want(t, "ttl too short", code, out, http.StatusBadRequest)
	if n := r.audit.count("crisis.invite.create"); n != 5 {
		t.Fatalf("audited %d invitations, want 4", n)
	}
}

func TestPendingMemberCannotReadOrWrite(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	r.post(rm, rm.coord)
	p := r.join(rm, "Pending")
	base := "/v1/crisis/rooms/" + rm.id

	code, out := r.call("GET", base+"/state", p.token, nil)
	want(t, "state", code, out, http.StatusOK)
	if you := out["you"].(map[string]any); you["status"] != "pending" || you["id"] != p.id {
		t.Fatalf("pending state: %v", out)
	}
	if _, ok := out["pending"]; ok {
		t.Fatalf("a pending member sees the pending list: %v", out)
	}
	if _, ok := out["roster"].(map[string]any)["body"]; !ok {
		t.Fatalf("a pending member gets no roster: %v", out)
	}
	code, out = r.call("GET", base+"/events?after=0", p.token, nil)
	want(t, "pending reads events", code, out, http.StatusForbidden)
	s, _ := p.envelope(rm.id, 1)
	code, out = r.call("POST", base+"/events", p.token, s)
	want(t, "pending writes an event", code, out, http.StatusForbidden)
	code, out = r.call("GET", base+"/wraps", p.token, nil)
	want(t, "pending reads wraps", code, out, http.StatusForbidden)
	code, out = r.call("POST", base+"/blobs", p.token, []byte("ciphertext"))
	want(t, "pending uploads a blob", code, out, http.StatusForbidden)
	code, out = r.call("PUT", base+"/roster", p.token, p.signed(e2ee.LabelRoster, rm.id, rosterBody(rm.id, 2, 1, rm.coord, []*device{rm.coord, p}, nil)))
	want(t, "pending member sends a roster", code, out, http.StatusForbidden)

	// The coordinator sees it pending, with what it sent.
	code, out = r.call("GET", base+"/state", rm.coord.token, nil)
	want(t, "coordinator state", code, out, http.StatusOK)
	pend := out["pending"].([]any)
	if len(pend) != 1 || pend[0].(map[string]any)["id"] != p.id || pend[0].(map[string]any)["dh"] != p.b64dh() {
		t.Fatalf("pending list: %v", pend)
	}
	if out["epoch"].(float64) != 1 || out["last_pos"].(float64) != 1 {
		t.Fatalf("coordinator state: %v", out)
	}
}

func TestRosterRules(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a := r.join(rm, "Maire")
	b := r.join(rm, "DSI")
	r.admit(rm, a)
	if n := r.audit.count("crisis.member.admit"); n != 1 {
		t.Fatalf("audited %d admissions, want 1", n)
	}
	b.since = rm.epoch
	plus := func(ds ...*device) []*device { return append(append([]*device(nil), rm.members...), ds...) }
	cases := []struct {
		name    string
		signer  *device
		version int64
		epoch   int64
		members []*device
		removed []string
		code    int
	}{
		{"signed by a member, not the coordinator", a, rm.version + 1, rm.epoch, plus(b), nil, http.StatusBadRequest},
		{"version skipped", rm.coord, rm.version + 2, rm.epoch, plus(b), nil, http.StatusConflict},
		{"version replayed", rm.coord, rm.version, rm.epoch, plus(b), nil, http.StatusConflict},
		{"removal without a new epoch", rm.coord, rm.version + 1, rm.epoch, []*device{rm.coord}, []string{a.id}, http.StatusBadRequest},
		{"new epoch without a removal", rm.coord, rm.version + 1, rm.epoch + 1, plus(b), nil, http.StatusBadRequest},
		{"member dropped without being removed", rm.coord, rm.version + 1, rm.epoch + 1, []*device{rm.coord}, nil, http.StatusBadRequest},
		{"both listed and removed", rm.coord, rm.version + 1, rm.epoch + 1, plus(), []string{a.id}, http.StatusBadRequest},
		{"coordinator removed", rm.coord, rm.version + 1, rm.epoch + 1, []*device{a}, []string{rm.coord.id}, http.StatusBadRequest},
		{"unknown member listed", rm.coord, rm.version + 1, rm.epoch, plus(newDevice(t, "Ghost")), nil, http.StatusBadRequest},
	}
	for _, c := range cases {
		code, out := r.putRoster(rm, c.signer, c.version, c.epoch, c.members, c.removed)
		want(t, c.name, code, out, c.code)
	}
	// Keys swapped by the server or a bad client: same id and name, other dh.
	swapped := *b
	other := newDevice(t, "DSI")
	swapped.dh = other.dh
	code, out := r.putRoster(rm, rm.coord, rm.version+1, rm.epoch, plus(&swapped), nil)
	want(t, "swapped keys", code, out, http.StatusBadRequest)
	b.since = rm.epoch + 5
	code, out = r.putRoster(rm, rm.coord, rm.version+1, rm.epoch, plus(b), nil)
	want(t, "wrong since", code, out, http.StatusBadRequest)
	if r.audit.count("crisis.roster.refused") < len(cases) {
		t.Fatalf("refused rosters were not audited: %d", r.audit.count("crisis.roster.refused"))
	}
	// Nothing changed: the next good roster is still version 3.
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/state", b.token, nil)
	want(t, "state of b", code, out, http.StatusOK)
	if out["you"].(map[string]any)["status"] != "pending" {
		t.Fatalf("b was admitted by a refused roster: %v", out)
	}
	r.admit(rm, b)
	if rm.version != 3 {
		t.Fatalf("version %d", rm.version)
	}
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/state", a.token, nil)
	want(t, "state of a", code, out, http.StatusOK)
	if p, ok := out["pending"].([]any); !ok || len(p) != 0 {
		t.Fatalf("an admitted member's state without an empty pending list: %v", out)
	}
	if _, ok := out["online"].([]any); !ok {
		t.Fatalf("an admitted member's state without an online list: %v", out)
	}
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/state", b.token, nil)
	want(t, "state of b", code, out, http.StatusOK)
	if out["you"].(map[string]any)["status"] != "admitted" {
		t.Fatalf("b not admitted: %v", out)
	}
	// Removal with a new epoch; the removed id stays removed for ever.
	r.remove(rm, a)
	if n := r.audit.count("crisis.member.remove"); n != 1 {
		t.Fatalf("audited %d removals, want 1", n)
	}
	code, out = r.putRoster(rm, rm.coord, rm.version+1, rm.epoch, rm.members, nil)
	want(t, "removed list shrinks", code, out, http.StatusBadRequest)
	a.since = rm.epoch
	code, out = r.putRoster(rm, rm.coord, rm.version+1, rm.epoch, plus(a), rm.removed)
	want(t, "removed member admitted again", code, out, http.StatusBadRequest)
	// The same device cannot join again; new keys can.
	code, out = r.call("POST", "/v1/crisis/rooms/"+rm.id+"/join", "", r.joinBody(rm, a, r.invite(rm)))
	want(t, "removed device joins again", code, out, http.StatusConflict)
	// A rejected pending member: removed without a new epoch.
	p := r.join(rm, "Rejected")
	code, out = r.putRoster(rm, rm.coord, rm.version+1, rm.epoch, rm.members, append(append([]string(nil), rm.removed...), p.id))
	want(t, "reject a pending member", code, out, http.StatusOK)
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/state", p.token, nil)
	want(t, "rejected member's token", code, out, http.StatusUnauthorized)
}

func TestRemovedMemberTokenStops(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a := r.join(rm, "Maire")
	b := r.join(rm, "DSI")
	r.admit(rm, a, b)
	r.post(rm, b)
	r.remove(rm, b)
	base := "/v1/crisis/rooms/" + rm.id
	for _, c := range []struct{ method, path string }{{"GET", "/state"}, {"GET", "/events"}, {"GET", "/wraps"}} {
		code, out := r.call(c.method, base+c.path, b.token, nil)
		want(t, "removed member "+c.path, code, out, http.StatusUnauthorized)
	}
	s, _ := b.envelope(rm.id, rm.epoch)
	code, out := r.call("POST", base+"/events", b.token, s)
	want(t, "removed member posts", code, out, http.StatusUnauthorized)
	// The others go on, in the new epoch; old-epoch envelopes are refused.
	old, _ := a.envelope(rm.id, rm.epoch-1)
	code, out = r.call("POST", base+"/events", a.token, old)
	want(t, "envelope of the old epoch", code, out, http.StatusConflict)
	if out["epoch"].(float64) != float64(rm.epoch) {
		t.Fatalf("409 without the current epoch: %v", out)
	}
	r.post(rm, a)
}

func TestEnvelopeRules(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a := r.join(rm, "Maire")
	r.admit(rm, a)
	path := "/v1/crisis/rooms/" + rm.id + "/events"
	pos1, h1 := r.post(rm, a)

	// Forged signature: another key signs a's envelope.
	s, _ := a.envelope(rm.id, rm.epoch)
	forger := newDevice(t, "Maire")
	forged := forger.signed(e2ee.LabelEnvelope, rm.id, []byte(s.Body))
	code, out := r.call("POST", path, a.token, forged)
	want(t, "forged signature", code, out, http.StatusBadRequest)
	// Signed with the right key but another label (a roster signature).
	code, out = r.call("POST", path, a.token, a.signed(e2ee.LabelRoster, rm.id, []byte(s.Body)))
	want(t, "signature under another label", code, out, http.StatusBadRequest)
	// An envelope of the coordinator, sent with a's token.
	cs, _ := rm.coord.envelope(rm.id, rm.epoch)
	code, out = r.call("POST", path, a.token, cs)
	want(t, "someone else's envelope", code, out, http.StatusBadRequest)

	// Wrong epoch.
	we, _ := a.envelope(rm.id, rm.epoch+1)
	code, out = r.call("POST", path, a.token, we)
	want(t, "wrong epoch", code, out, http.StatusConflict)
	if out["epoch"].(float64) != 1 || out["next_seq"].(float64) != 2 || out["prev"] != h1 {
		t.Fatalf("409 answer: %v", out)
	}
	// Seq gap.
	a.seq++
	gap, _ := a.envelope(rm.id, rm.epoch)
	a.seq--
	code, out = r.call("POST", path, a.token, gap)
	want(t, "seq gap", code, out, http.StatusConflict)
	if out["next_seq"].(float64) != 2 || out["prev"] != h1 {
		t.Fatalf("409 answer: %v", out)
	}
	// Prev mismatch.
	realPrev := a.prev
	a.prev = randB64(32)
	bad, _ := a.envelope(rm.id, rm.epoch)
	a.prev = realPrev
	code, out = r.call("POST", path, a.token, bad)
	want(t, "prev mismatch", code, out, http.StatusConflict)
	// Missing ref.
	mr, _ := a.envelope(rm.id, rm.epoch, randB64(32))
	code, out = r.call("POST", path, a.token, mr)
	want(t, "missing ref", code, out, http.StatusBadRequest)
	// Too many refs.
	many, _ := a.envelope(rm.id, rm.epoch, h1, h1, h1, h1, h1)
	code, out = r.call("POST", path, a.token, many)
	want(t, "five refs", code, out, http.StatusBadRequest)
	// Malformed.
	code, out = r.call("POST", path, a.token, []byte(`{"body": 12`))
	want(t, "malformed JSON", code, out, http.StatusBadRequest)
	code, out = r.call("POST", path, a.token, a.signed(e2ee.LabelEnvelope, rm.id, []byte(`{"v":1,"room":`)))
	want(t, "malformed body", code, out, http.StatusBadRequest)
	v2 := a.signed(e2ee.LabelEnvelope, rm.id, []byte(`{"v":2,"room":"`+rm.id+`","sender":"`+a.id+`"}`))
	code, out = r.call("POST", path, a.token, v2)
	want(t, "unknown version", code, out, http.StatusBadRequest)
	big := e2ee.Envelope{V: 1, Room: rm.id, Epoch: 1, Sender: a.id, Seq: 2, Prev: h1, Refs: []string{}, Nonce: randB64(12), CT: randB64(300 << 10)}
	bb := mustMarshal(t, big)
	code, out = r.call("POST", path, a.token, a.signed(e2ee.LabelEnvelope, rm.id, bb))
	want(t, "envelope over 256 KiB", code, out, http.StatusRequestEntityTooLarge)

	// A good one citing the coordinator's entry; then its resend.
	cpos, ch := r.post(rm, rm.coord)
	good, gh := a.envelope(rm.id, rm.epoch, ch)
	code, out = r.call("POST", path, a.token, good)
	want(t, "good envelope", code, out, http.StatusCreated)
	pos := out["pos"].(float64)
	a.advance(gh)
	code, out = r.call("POST", path, a.token, good)
	want(t, "resend", code, out, http.StatusOK)
	if out["pos"].(float64) != pos || out["hash"] != gh {
		t.Fatalf("resend answered %v, want pos %v", out, pos)
	}
	if !(pos1 < cpos && float64(cpos) < pos) {
		t.Fatalf("positions %d %d %v", pos1, cpos, pos)
	}
	// Another envelope with an existing seq: a fork of the chain.
	a.seq, a.prev = 1, h1
	fork, _ := a.envelope(rm.id, rm.epoch)
	code, out = r.call("POST", path, a.token, fork)
	want(t, "fork of the chain", code, out, http.StatusConflict)
	if out["next_seq"].(float64) != 3 || out["prev"] != gh {
		t.Fatalf("fork 409: %v", out)
	}
	// Nothing else was stored.
	list, _ := r.events(rm, rm.coord, 0, 100)
	if len(list) != 3 {
		t.Fatalf("%d events stored, want 3", len(list))
	}
}

func TestOrderingConcurrentWriters(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	ds := []*device{r.join(rm, "A"), r.join(rm, "B"), r.join(rm, "C")}
	r.admit(rm, ds...)
	const each = 15
	writeConcurrently(t, r, rm, each, ds...)()
	var all []map[string]any
	after := int64(0)
	for {
		page, more := r.events(rm, rm.coord, after, 7)
		all = append(all, page...)
		if !more {
			break
		}
		after = int64(page[len(page)-1]["pos"].(float64))
	}
	if len(all) != each*len(ds) {
		t.Fatalf("%d events, want %d", len(all), each*len(ds))
	}
	lastSeq := map[string]int64{}
	for i, e := range all {
		if int64(e["pos"].(float64)) != int64(i+1) {
			t.Fatalf("event %d has pos %v: positions must be 1, 2, 3…", i, e["pos"])
		}
		env, err := e2ee.ParseEnvelope([]byte(e["body"].(string)))
		if err != nil {
			t.Fatal(err)
		}
		if env.Seq != lastSeq[env.Sender]+1 {
			t.Fatalf("sender %s: seq %d after %d", env.Sender, env.Seq, lastSeq[env.Sender])
		}
		lastSeq[env.Sender] = env.Seq
	}
}

func TestHistoryFromAdmission(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	for range 5 {
		r.post(rm, rm.coord)
	}
	b := r.join(rm, "Late")
	r.admit(rm, b)
	for range 3 {
		r.post(rm, rm.coord)
	}
	list, more := r.events(rm, b, 0, 100)
	if len(list) != 3 || more || list[0]["pos"].(float64) != 6 {
		t.Fatalf("a member admitted after pos 5 reads %d events from %v", len(list), list[0]["pos"])
	}
	page, more := r.events(rm, rm.coord, 0, 3)
	if len(page) != 3 || !more || page[2]["pos"].(float64) != 3 {
		t.Fatalf("first page: %d events, more %v", len(page), more)
	}
	page, more = r.events(rm, rm.coord, 6, 3)
	if len(page) != 2 || more || page[0]["pos"].(float64) != 7 {
		t.Fatalf("last page: %d events, more %v", len(page), more)
	}
	code, out := r.call("GET", "/v1/crisis/rooms/"+rm.id+"/events?limit=5001", rm.coord.token, nil)
	want(t, "limit over 5000", code, out, http.StatusBadRequest)
}

func TestWrapsOnlyToRecipients(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a, b, c := r.join(rm, "A"), r.join(rm, "B"), r.join(rm, "C")
	r.admit(rm, a, b, c)
	p := r.join(rm, "Pending")
	path := "/v1/crisis/rooms/" + rm.id + "/wraps"
	bundle := func(from *device, epoch int64, to ...*device) e2ee.Signed {
		w := e2ee.WrapBundle{V: 1, Room: rm.id, Epoch: epoch, Sender: from.id}
		for _, d := range to {
			w.Wraps = append(w.Wraps, e2ee.Wrap{To: d.id, Eph: randB64(32), Nonce: randB64(12), CT: randB64(52)})
		}
		return from.signed(e2ee.LabelWraps, rm.id, mustMarshal(t, w))
	}
	code, out := r.call("POST", path, a.token, bundle(a, 1, rm.coord, b))
	want(t, "wraps", code, out, http.StatusCreated)
	id := out["id"].(float64)
	code, out = r.call("POST", path, a.token, bundle(a, 1, p))
	want(t, "wrap for a pending member", code, out, http.StatusBadRequest)
	code, out = r.call("POST", path, a.token, bundle(a, 2, b))
	want(t, "wrap for another epoch", code, out, http.StatusConflict)
	code, out = r.call("POST", path, a.token, bundle(b, 1, c))
	want(t, "bundle of another sender", code, out, http.StatusBadRequest)
	forged := bundle(a, 1, c)
	forged.Sig = bundle(a, 1, b).Sig
	code, out = r.call("POST", path, a.token, forged)
	want(t, "forged bundle signature", code, out, http.StatusBadRequest)

	got := func(d *device, after int) int {
		code, out := r.call("GET", fmt.Sprintf("%s?after=%d", path, after), d.token, nil)
		want(t, "list wraps", code, out, http.StatusOK)
		return len(out["wraps"].([]any))
	}
	if got(b, 0) != 1 || got(rm.coord, 0) != 1 || got(c, 0) != 0 || got(a, 0) != 0 {
		t.Fatalf("wraps delivered to b %d, coord %d, c %d, a %d; want 1 1 0 0", got(b, 0), got(rm.coord, 0), got(c, 0), got(a, 0))
	}
	if got(b, int(id)) != 0 {
		t.Fatal("wraps?after=id returns the bundle itself")
	}
}

func TestBlobs(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	a := r.join(rm, "A")
	r.admit(rm, a)
	ct := []byte(randB64(100 << 10))
	id := e2ee.Hash(ct) // b64u(SHA-256)
	path := "/v1/crisis/rooms/" + rm.id + "/blobs"
	code, out := r.call("POST", path+"?id="+randB64(32), a.token, ct)
	want(t, "blob with the wrong id", code, out, http.StatusBadRequest)
	code, out = r.call("POST", path+"?id="+id, a.token, ct)
	want(t, "blob", code, out, http.StatusCreated)
	if out["id"] != id {
		t.Fatalf("blob id %v, want %s", out["id"], id)
	}
	code, out = r.call("POST", path, a.token, make([]byte, 25<<20+16*401+1))
	want(t, "blob over the limit", code, out, http.StatusRequestEntityTooLarge)

	req, _ := http.NewRequest("GET", r.url+path+"/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+rm.coord.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 200 || string(body) != string(ct) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(body))
	}
	code, out = r.call("GET", path+"/"+randB64(32), a.token, nil)
	want(t, "unknown blob", code, out, http.StatusNotFound)
	code, out = r.call("GET", path+"/..%2f..%2frempart.db", a.token, nil)
	if code == http.StatusOK {
		t.Fatalf("path traversal: %d %v", code, out)
	}
	entries := listFiles(t, r.data+"/crisis/blobs/"+rm.id)
	if !slices.Equal(entries, []string{id}) {
		t.Fatalf("blob folder holds %v, want only %s (no temporary file left)", entries, id)
	}
}

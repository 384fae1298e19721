package crisis_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// historyBody is a history share body (the relay never decrypts it: its
// box is opaque random bytes here).
func historyBody(t *testing.T, room, sender, to string, from int64) []byte {
	t.Helper()
	b, err := json.Marshal(e2ee.HistoryBundle{V: 1, Room: room, Sender: sender, To: to, From: from, Former: []e2ee.FormerMember{},
		Eph: randB64(32), Nonce: randB64(12), CT: randB64(80)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r *relay) share(rm *room, poster, signer *device, to string, from int64) (int, map[string]any) {
	r.t.Helper()
	body := historyBody(r.t.(*testing.T), rm.id, signer.id, to, from)
	return r.call("POST", "/v1/crisis/rooms/"+rm.id+"/history", poster.token, signer.signed(e2ee.LabelHistory, rm.id, body))
}

func positions(list []map[string]any) []int64 {
	var out []int64
	for _, e := range list {
		out = append(out, int64(e["pos"].(float64)))
	}
	return out
}

func firstPos(t *testing.T, r *relay, rm *room, d *device) int64 {
	t.Helper()
	list, _ := r.events(rm, d, 0, 100)
	if len(list) == 0 {
		return 0
	}
	return positions(list)[0]
}

func historyCount(t *testing.T, r *relay, rm *room, d *device) int {
	t.Helper()
	code, out := r.call("GET", "/v1/crisis/rooms/"+rm.id+"/history", d.token, nil)
	want(t, "history of "+d.name, code, out, http.StatusOK)
	return len(out["history"].([]any))
}

func TestHistoryShareLowersOnlyTheRecipientsReadPosition(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	maire := r.join(rm, "Maire")
	r.admit(rm, maire)
	for range 3 {
		r.post(rm, maire) // positions 1-3
	}
	x, y := r.join(rm, "X"), r.join(rm, "Y")
	r.admit(rm, x, y) // both read from position 4
	r.post(rm, maire) // position 4
	for _, d := range []*device{x, y} {
		if got := firstPos(t, r, rm, d); got != 4 {
			t.Fatalf("%s reads from %d before any share, want 4", d.name, got)
		}
	}
	code, out := r.share(rm, rm.coord, rm.coord, x.id, 2)
	want(t, "share with X", code, out, http.StatusCreated)
	if out["from"].(float64) != 2 {
		t.Fatalf("share answer %v", out)
	}
	list, _ := r.events(rm, x, 0, 100)
	if got := positions(list); fmt.Sprint(got) != "[2 3 4]" {
		t.Fatalf("X reads %v after a share from 2", got)
	}
	// A share to X does not let Y read earlier entries, whatever Y asks.
	if got := firstPos(t, r, rm, y); got != 4 {
		t.Fatalf("Y reads from %d after a share to X", got)
	}
	if historyCount(t, r, rm, x) != 1 || historyCount(t, r, rm, y) != 0 {
		t.Fatal("the share must be handed to its recipient only")
	}
	// The share is not a wrap bundle: GET wraps leaves it out.
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/wraps", x.token, nil)
	want(t, "wraps of X", code, out, http.StatusOK)
	if n := len(out["wraps"].([]any)); n != 0 {
		t.Fatalf("wraps of X hold %d bundles, want 0", n)
	}
	// A wider share lowers X's position again; a narrower one changes nothing.
	code, out = r.share(rm, rm.coord, rm.coord, x.id, 1)
	want(t, "share with X from 1", code, out, http.StatusCreated)
	code, out = r.share(rm, rm.coord, rm.coord, x.id, 3)
	want(t, "share with X from 3", code, out, http.StatusCreated)
	if got := firstPos(t, r, rm, x); got != 1 {
		t.Fatalf("X reads from %d after a share from 1", got)
	}
	if n := r.audit.count("crisis.history.share"); n != 3 {
		t.Fatalf("%d audited shares, want 3", n)
	}
}

func TestHistoryShareMembershipRules(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	maire, dgs := r.join(rm, "Maire"), r.join(rm, "DGS")
	r.admit(rm, maire, dgs)
	r.post(rm, maire)
	r.post(rm, maire)
	late := r.join(rm, "Tardif")
	r.admit(rm, late) // reads from 3
	r.post(rm, maire)
	pending := r.join(rm, "En attente")

	// A member who is not the coordinator cannot share, signed by itself
	// or carrying a bundle the coordinator signed.
	code, out := r.share(rm, maire, maire, late.id, 1)
	want(t, "share by a member", code, out, http.StatusForbidden)
	if out["code"] != "not_coordinator" {
		t.Fatalf("share by a member: %v", out)
	}
	code, out = r.share(rm, maire, rm.coord, late.id, 1)
	want(t, "coordinator's share posted by a member", code, out, http.StatusForbidden)
	// The coordinator posting a bundle signed by another key.
	code, out = r.share(rm, rm.coord, maire, late.id, 1)
	want(t, "share signed by a member", code, out, http.StatusBadRequest)
	// Nothing to a pending member, nor to the coordinator itself.
	code, out = r.share(rm, rm.coord, rm.coord, pending.id, 1)
	want(t, "share with a pending member", code, out, http.StatusBadRequest)
	code, out = r.share(rm, rm.coord, rm.coord, rm.coord.id, 1)
	want(t, "share with the coordinator", code, out, http.StatusBadRequest)
	// The position: from 1 on, and before the recipient's admission.
	for _, from := range []int64{0, 3, 4} {
		code, out = r.share(rm, rm.coord, rm.coord, late.id, from)
		want(t, fmt.Sprintf("share from %d", from), code, out, http.StatusBadRequest)
	}
	// A body naming another room.
	other := historyBody(t, newRoomID(t), rm.coord.id, late.id, 1)
	code, out = r.call("POST", "/v1/crisis/rooms/"+rm.id+"/history", rm.coord.token, rm.coord.signed(e2ee.LabelHistory, rm.id, other))
	want(t, "share naming another room", code, out, http.StatusBadRequest)
	// A wrap-bundle signature is not a history signature.
	body := historyBody(t, rm.id, rm.coord.id, late.id, 1)
	code, out = r.call("POST", "/v1/crisis/rooms/"+rm.id+"/history", rm.coord.token, rm.coord.signed(e2ee.LabelWraps, rm.id, body))
	want(t, "share signed under another label", code, out, http.StatusBadRequest)
	if got := firstPos(t, r, rm, late); got != 3 {
		t.Fatalf("refused shares moved Tardif's position to %d", got)
	}

	// A pending member gets nothing.
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/history", pending.token, nil)
	want(t, "history of a pending member", code, out, http.StatusForbidden)
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/events?after=0", pending.token, nil)
	want(t, "events of a pending member", code, out, http.StatusForbidden)

	// A member shared with, then removed: nothing more, and no share to
	// it is accepted.
	code, out = r.share(rm, rm.coord, rm.coord, late.id, 1)
	want(t, "share with Tardif", code, out, http.StatusCreated)
	r.remove(rm, late)
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/history", late.token, nil)
	want(t, "history of a removed member", code, out, http.StatusUnauthorized)
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/events?after=0", late.token, nil)
	want(t, "events of a removed member", code, out, http.StatusUnauthorized)
	code, out = r.share(rm, rm.coord, rm.coord, late.id, 1)
	want(t, "share with a removed member", code, out, http.StatusBadRequest)
	// The others are unchanged: DGS still reads everything from its admission.
	if got := firstPos(t, r, rm, dgs); got != 1 {
		t.Fatalf("DGS reads from %d", got)
	}
}

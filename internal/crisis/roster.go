package crisis

import (
	"bytes"
	"net/http"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// MaxMembers bounds a roster (docs/crisis-e2ee.md).
const MaxMembers = 500

// checkFirstRoster checks roster version 1, sent with the room's creation:
// the coordinator alone, in epoch 1, with the keys and proof of the request.
func checkFirstRoster(room string, coord Member, r *e2ee.Roster) error {
	switch {
	case r.Room != room:
		return badRequest("the roster names room %q, not %q: sign a roster for this room", r.Room, room)
	case r.Version != 1 || r.Epoch != 1:
		return badRequest("the first roster must have version 1 and epoch 1 (got version %d, epoch %d)", r.Version, r.Epoch)
	case r.Coordinator != coord.ID:
		return badRequest("the roster's coordinator %q is not the id of the key you sent (%q)", r.Coordinator, coord.ID)
	case len(r.Removed) != 0:
		return badRequest("the first roster cannot remove anyone")
	case len(r.Members) != 1:
		return badRequest("the first roster must list the coordinator alone")
	}
	if err := sameMember(r.Members[0], coord); err != nil {
		return err
	}
	if r.Members[0].Since != 1 {
		return badRequest("the coordinator's \"since\" must be 1 in the first roster")
	}
	return nil
}

// sameMember checks that a roster entry holds exactly what the device sent
// when it joined: the server will not let a roster swap anyone's keys.
func sameMember(e e2ee.RosterMember, m Member) error {
	sign, err1 := e2ee.B64.DecodeString(e.Sign)
	dh, err2 := e2ee.B64.DecodeString(e.DH)
	if err1 != nil || err2 != nil || e.ID != m.ID || e.Name != m.Name ||
		!bytes.Equal(sign, m.Sign) || !bytes.Equal(dh, m.DH) || e.Proof != m.Proof {
		return badRequest("roster entry %q does not match the name, keys and proof that device sent when it joined: build the roster from the server's pending list", e.ID)
	}
	return nil
}

// checkRoster applies the spec's rules to a roster that follows cur, given
// every member the room has seen, and says whom it admits and removes.
func checkRoster(room Room, cur, next *e2ee.Roster, members []Member) (RosterPlan, error) {
	var plan RosterPlan
	switch {
	case next.Room != room.ID:
		return plan, badRequest("the roster names room %q, not %q", next.Room, room.ID)
	case next.Coordinator != room.Coordinator:
		return plan, badRequest("the roster's coordinator %q is not the room's (%q)", next.Coordinator, room.Coordinator)
	case next.Version != cur.Version+1:
		return plan, &Error{Status: http.StatusConflict,
			Msg:   "the roster's version must be the current one plus 1: fetch the state and sign again",
			Extra: map[string]any{"version": cur.Version, "epoch": cur.Epoch}}
	case len(next.Members) > MaxMembers:
		return plan, badRequest("a room holds at most %d members", MaxMembers)
	}
	byID := make(map[string]Member, len(members))
	for _, m := range members {
		byID[m.ID] = m
	}
	wasListed := make(map[string]e2ee.RosterMember, len(cur.Members))
	for _, e := range cur.Members {
		wasListed[e.ID] = e
	}
	wasRemoved := make(map[string]bool, len(cur.Removed))
	for _, id := range cur.Removed {
		wasRemoved[id] = true
	}
	removed := make(map[string]bool, len(next.Removed))
	for _, id := range next.Removed {
		if removed[id] {
			return plan, badRequest("member %q is listed twice in \"removed\"", id)
		}
		removed[id] = true
		if wasRemoved[id] {
			continue
		}
		m, ok := byID[id]
		if !ok {
			return plan, badRequest("\"removed\" names %q, who never joined this room", id)
		}
		if id == room.Coordinator {
			return plan, badRequest("the coordinator cannot be removed")
		}
		if m.Status != StatusRemoved {
			plan.Remove = append(plan.Remove, id)
		}
	}
	for id := range wasRemoved {
		if !removed[id] {
			return plan, badRequest("\"removed\" must keep every member removed before (%q is missing): a removed member never comes back", id)
		}
	}
	listed := make(map[string]bool, len(next.Members))
	for _, e := range next.Members {
		if listed[e.ID] {
			return plan, badRequest("member %q is listed twice", e.ID)
		}
		listed[e.ID] = true
		if removed[e.ID] {
			return plan, badRequest("member %q is both listed and removed", e.ID)
		}
		m, ok := byID[e.ID]
		if !ok {
			return plan, badRequest("the roster lists %q, who never joined this room: only pending members can be admitted", e.ID)
		}
		if err := sameMember(e, m); err != nil {
			return plan, err
		}
		if prev, ok := wasListed[e.ID]; ok {
			if e.Since != prev.Since {
				return plan, badRequest("member %q: \"since\" changed from %d to %d; it stays the epoch of admission", e.ID, prev.Since, e.Since)
			}
			continue
		}
		if m.Status != StatusPending {
			return plan, badRequest("member %q is %s and cannot be admitted", e.ID, m.Status)
		}
		if e.Since != next.Epoch {
			return plan, badRequest("member %q is admitted now: its \"since\" must be the roster's epoch %d", e.ID, next.Epoch)
		}
		plan.Admit = append(plan.Admit, e.ID)
	}
	if !listed[room.Coordinator] {
		return plan, badRequest("the coordinator must stay listed")
	}
	dropped := false // a member of the last roster is no longer listed
	for id := range wasListed {
		if !listed[id] {
			if !removed[id] {
				return plan, badRequest("member %q left the list without being in \"removed\": remove members explicitly", id)
			}
			dropped = true
		}
	}
	want := cur.Epoch
	if dropped {
		want = cur.Epoch + 1
	}
	if next.Epoch != want {
		if dropped {
			return plan, badRequest("a removal starts a new epoch: the roster's epoch must be %d, not %d", want, next.Epoch)
		}
		return plan, badRequest("the epoch changes only when a member is removed: it must stay %d, not %d", want, next.Epoch)
	}
	return plan, nil
}

package crisis

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// History share v1 (docs/crisis-e2ee.md, "History share v1"): the
// coordinator's device hands a member the keys of entries written before
// that member's admission, in a bundle signed by the coordinator's device
// and addressed to one member. The relay stores it with the wrap bundles
// (crisis_wraps, with epoch HistoryEpoch: a wrap bundle's epoch is always
// 1 or more, so no schema change is needed), hands it to its recipient
// only, and serves that recipient the events from the bundle's "from" on.

// HistoryEpoch marks a history bundle among the stored wrap bundles.
const HistoryEpoch = 0

// isHistory tells a stored history bundle from a wrap bundle.
func isHistory(w WrapRecord) bool { return w.Epoch == HistoryEpoch }

// PostHistory stores a history bundle from the coordinator's device for
// one admitted member, and pushes it to that member.
func (s *Service) PostHistory(ctx context.Context, m Member, in e2ee.Signed) (int64, int64, error) {
	room, err := s.requireCoordinator(ctx, m)
	if err != nil {
		return 0, 0, err
	}
	if len(in.Body) > MaxSignedBody {
		return 0, 0, errf(http.StatusRequestEntityTooLarge, "the history share is larger than %d bytes: share a shorter period", MaxSignedBody)
	}
	if err := e2ee.Verify(room.CoordSign, e2ee.LabelHistory, room.ID, []byte(in.Body), in.Sig); err != nil {
		return 0, 0, badRequest("the history share is not signed by the room's coordinator key: sign it on the coordinator's device")
	}
	b, err := e2ee.ParseHistoryBundle([]byte(in.Body))
	if err != nil {
		return 0, 0, badRequest("the history share cannot be read: %v", err)
	}
	if b.Room != room.ID || b.Sender != m.ID {
		return 0, 0, badRequest("the history share must name this room and you as its sender")
	}
	if n, err := e2ee.B64.DecodeString(b.Nonce); err != nil || len(n) != nonceBytes {
		return 0, 0, badRequest("the history share has a bad nonce (12 bytes, base64url)")
	}
	if k, err := e2ee.B64.DecodeString(b.Eph); err != nil || len(k) != keyBytes {
		return 0, 0, badRequest("the history share has a bad ephemeral key (32 bytes, base64url)")
	}
	if ct, err := e2ee.B64.DecodeString(b.CT); err != nil || len(ct) < 16 {
		return 0, 0, badRequest("the history share's ct must be base64url ciphertext")
	}
	members, err := s.st.Members(ctx, m.Room)
	if err != nil {
		return 0, 0, fmt.Errorf("crisis: members of %s: %w", m.Room, err)
	}
	i := slices.IndexFunc(members, func(x Member) bool { return x.ID == b.To })
	if i < 0 || members[i].Status != StatusAdmitted || b.To == m.ID {
		return 0, 0, badRequest("the history share is addressed to %q, who is not an admitted member of the room: share only with admitted members", b.To)
	}
	to := members[i]
	if b.From < 1 || b.From >= to.VisibleFrom {
		return 0, 0, badRequest("the history share starts at position %d: it must start at 1 or later and before the member's admission (position %d)", b.From, to.VisibleFrom)
	}
	rec := WrapRecord{Room: m.Room, Epoch: HistoryEpoch, Sender: m.ID, To: []string{to.ID}, Body: in.Body, Sig: in.Sig, CreatedAt: s.now().UTC()}
	id, err := s.st.AddWraps(ctx, rec)
	if err != nil {
		return 0, 0, fmt.Errorf("crisis: store history share: %w", err)
	}
	s.audit(ctx, memberActor(m), "crisis.history.share", room.Tenant, map[string]any{"room": room.ID, "member": to.ID, "name": to.Name, "from": b.From})
	s.hub.sendTo(m.Room, to.ID, mustJSON(map[string]any{"type": "history", "id": id, "body": in.Body, "sig": in.Sig}))
	return id, b.From, nil
}

// allFor returns every stored bundle for member after id after, filtered
// by keep, paging through the store.
func (s *Service) allFor(ctx context.Context, room, member string, after int64, keep func(WrapRecord) bool, max int) ([]WrapRecord, error) {
	var out []WrapRecord
	for {
		list, err := s.st.WrapsFor(ctx, room, member, after, MaxWrapsPage)
		if err != nil {
			return nil, fmt.Errorf("crisis: wraps: %w", err)
		}
		for _, w := range list {
			if keep(w) {
				out = append(out, w)
			}
		}
		if len(list) < MaxWrapsPage || len(out) >= max {
			return out, nil
		}
		after = list[len(list)-1].ID
	}
}

// History returns the history shares addressed to m, id > after.
func (s *Service) History(ctx context.Context, m Member, after int64) ([]WrapRecord, error) {
	if err := requireAdmitted(m); err != nil {
		return nil, err
	}
	return s.allFor(ctx, m.Room, m.ID, after, isHistory, MaxWrapsPage)
}

// readFrom is the first position m may read: its admission, or earlier
// when the coordinator shared history with it (the smallest "from" of the
// shares addressed to it, each checked when it was stored).
func (s *Service) readFrom(ctx context.Context, m Member) (int64, error) {
	from := m.VisibleFrom
	list, err := s.allFor(ctx, m.Room, m.ID, 0, isHistory, int(^uint(0)>>1))
	if err != nil {
		return 0, err
	}
	for _, w := range list {
		b, err := e2ee.ParseHistoryBundle([]byte(w.Body))
		if err != nil || b.To != m.ID || b.From < 1 {
			continue
		}
		from = min(from, b.From)
	}
	return from, nil
}

func (h *Handler) postHistory(w http.ResponseWriter, r *http.Request, m Member) {
	in, err := readSigned(w, r)
	var id, from int64
	if err == nil {
		id, from, err = h.svc.PostHistory(r.Context(), m, in)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]int64{"id": id, "from": from})
}

func (h *Handler) getHistory(w http.ResponseWriter, r *http.Request, m Member) {
	after, err := queryInt(r, "after")
	var list []WrapRecord
	if err == nil {
		list, err = h.svc.History(r.Context(), m, after)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	type historyJSON struct {
		ID   int64  `json:"id"`
		Body string `json:"body"`
		Sig  string `json:"sig"`
	}
	out := make([]historyJSON, 0, len(list))
	for _, x := range list {
		out = append(out, historyJSON{x.ID, x.Body, x.Sig})
	}
	writeJSON(w, http.StatusOK, map[string]any{"history": out})
}

package crisis

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/coder/websocket"
)

// closeReason fits a message in a close frame (123 bytes at most).
func closeReason(s string) string {
	if len(s) <= 120 {
		return s
	}
	return s[:120]
}

// ws serves GET /v1/crisis/rooms/{room}/ws. Browsers cannot set headers on
// a WebSocket, so the member token comes in the first message; the Origin
// must be this host (websocket.Accept refuses other origins by default),
// so that another site open in the member's browser cannot use it.
func (h *Handler) ws(w http.ResponseWriter, r *http.Request) {
	room := r.PathValue("room")
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{})
	if err != nil {
		h.svc.log.DebugContext(r.Context(), "websocket refused", "err", err)
		return
	}
	c.SetReadLimit(maxClientMsg)
	ctx := h.ctx
	m, token, ok := h.firstAuth(ctx, c, room)
	if !ok {
		return
	}
	cn := &conn{ws: c, room: room, member: m.ID, status: m.Status, send: make(chan []byte, sendQueue), done: make(chan struct{})}
	hb := h.svc.hub
	hb.add(cn)
	defer hb.remove(cn)
	// A removal applied between the check above and add would have missed
	// this connection: check again now that it is registered.
	if again, err := h.svc.Authenticate(ctx, room, token); err != nil || again.Status != m.Status {
		if err != nil {
			cn.stop(websocket.StatusNormalClosure, "removed from the room", mustJSON(map[string]any{"type": "removed"}))
		} else {
			hb.each(room, func(x *conn) {
				if x == cn {
					x.status = again.Status
				}
			})
		}
	}
	go func() {
		// Client messages after auth are read and ignored (writes go through
		// the REST calls); reading is what processes pings and close frames.
		for {
			if _, _, err := c.Read(ctx); err != nil {
				cn.stop(websocket.StatusNormalClosure, "", nil)
				return
			}
		}
	}()
	cn.writer(ctx, h.svc.log)
}

// firstAuth reads the first message of a WebSocket, {"type":"auth",
// "token":"rcm_…"} (browsers cannot set headers on a WebSocket), and finds
// the member. On failure it closes c with what to do and returns false.
func (h *Handler) firstAuth(ctx context.Context, c *websocket.Conn, room string) (Member, string, bool) {
	actx, cancel := context.WithTimeout(ctx, authTimeout)
	_, data, err := c.Read(actx)
	cancel()
	if err != nil {
		c.Close(websocket.StatusPolicyViolation, "send {\"type\":\"auth\",\"token\":\"rcm_…\"} first")
		return Member{}, "", false
	}
	var auth struct {
		Type  string `json:"type"`
		Token string `json:"token"`
	}
	if json.Unmarshal(data, &auth) != nil || auth.Type != "auth" {
		c.Close(websocket.StatusPolicyViolation, "the first message must be {\"type\":\"auth\",\"token\":\"rcm_…\"}")
		return Member{}, "", false
	}
	m, err := h.svc.Authenticate(ctx, room, auth.Token)
	if err != nil {
		msg := "cannot check the member token; try again"
		if e, ok := asError(err); ok {
			msg = e.Msg
		} else {
			h.svc.log.ErrorContext(ctx, "websocket authentication failed", "room", room, "err", err)
		}
		c.Close(websocket.StatusPolicyViolation, closeReason(msg))
		return Member{}, "", false
	}
	return m, auth.Token, true
}

package crisis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/rempart/rempart/internal/crisis/sfu"
)

// CallOptions connect the relay to the crisis cell's SFU (package sfu):
// the relay authenticates members and carries the SFU's signalling on a
// WebSocket of the same HTTPS listener, ends a removed member's call and
// tells the others when the epoch, hence the media keys, changes. Media is
// end-to-end encrypted in the browsers (SFrame keys derived from sender
// keys): the server only forwards it.
type CallOptions struct {
	SFU *sfu.Server
	// TURN is the embedded relay for browsers behind a firewall; nil: none.
	TURN *sfu.TURN
	// TURNTTL is how long a member's TURN credentials last (default 24 h).
	// An allocation cannot be refreshed once they expire, so this is longer
	// than a meeting; a browser that joins again gets new ones.
	TURNTTL time.Duration
}

// DefaultTURNTTL is the lifetime of TURN credentials.
const DefaultTURNTTL = 24 * time.Hour

// callConfigJSON is what a browser needs before it creates its
// RTCPeerConnection: whether calls run here, the ICE servers to use (empty
// on a LAN: host candidates are enough), and the epoch whose sender keys
// feed the media keys.
type callConfigJSON struct {
	Type       string             `json:"type,omitempty"`
	Enabled    bool               `json:"enabled"`
	Member     string             `json:"member,omitempty"`
	Epoch      int64              `json:"epoch"`
	ICEServers []webrtc.ICEServer `json:"ice_servers"`
}

// callConfig is the config for member m (TURN credentials are per member).
func (h *Handler) callConfig(ctx context.Context, m Member) (callConfigJSON, error) {
	out := callConfigJSON{Enabled: h.callOpts.SFU != nil, Member: m.ID, ICEServers: []webrtc.ICEServer{}}
	room, err := h.svc.st.Room(ctx, m.Room)
	if err != nil {
		return out, fmt.Errorf("crisis: room %s: %w", m.Room, err)
	}
	out.Epoch = room.Epoch
	if out.Enabled && h.callOpts.TURN != nil {
		ttl := h.callOpts.TURNTTL
		if ttl <= 0 {
			ttl = DefaultTURNTTL
		}
		ice, err := h.callOpts.TURN.ICEServer(m.ID, ttl)
		if err != nil {
			return out, fmt.Errorf("crisis: call: %w", err)
		}
		out.ICEServers = append(out.ICEServers, ice)
	}
	return out, nil
}

// getCallConfig serves GET /v1/crisis/rooms/{room}/call/config.
func (h *Handler) getCallConfig(w http.ResponseWriter, r *http.Request, m Member) {
	if err := requireAdmitted(m); err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.callConfig(r.Context(), m)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// call serves GET /v1/crisis/rooms/{room}/call: the call's signalling, on a
// WebSocket with the room WebSocket's rules (same origin, member token in
// the first message). Only admitted members get in; the participant id in
// the SFU is the member id, which the browser's SFrame key ids refer to.
func (h *Handler) call(w http.ResponseWriter, r *http.Request) {
	if h.callOpts.SFU == nil {
		writeError(w, http.StatusServiceUnavailable, "calls are turned off on this server (call.enabled is false in its rempart.yaml)")
		return
	}
	room := r.PathValue("room")
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{})
	if err != nil {
		h.svc.log.DebugContext(r.Context(), "call websocket refused", "err", err)
		return
	}
	c.SetReadLimit(maxCallMsg)
	ctx := h.ctx
	m, token, ok := h.firstAuth(ctx, c, room)
	if !ok {
		return
	}
	if m.Status != StatusAdmitted {
		c.Close(websocket.StatusPolicyViolation, "you are not admitted yet: the coordinator admits you after comparing safety numbers")
		return
	}
	sess := newCallSession(room, m.ID, 0)
	calls := h.svc.calls
	calls.add(sess)
	defer calls.remove(sess)
	// A removal applied between the check above and add would have missed
	// this session: check again now that it is registered.
	again, err := h.svc.Authenticate(ctx, room, token)
	if _, refused := asError(err); err != nil && !refused {
		h.svc.log.ErrorContext(ctx, "call: check the member again", "room", room, "err", err)
		c.Close(websocket.StatusInternalError, "cannot check the member token; try again")
		return
	}
	if err != nil || again.Status != StatusAdmitted {
		h.endCall(c, callEndRemoved, nil)
		return
	}
	conf, err := h.callConfig(ctx, m)
	if err != nil {
		h.svc.log.ErrorContext(ctx, "call configuration", "room", room, "err", err)
		c.Close(websocket.StatusInternalError, "cannot prepare the call; try again")
		return
	}
	// Pushed on every roster from now on; the config tells the epoch as of
	// now, and a roster applied meanwhile is pushed by the writer.
	sess.setEpoch(conf.Epoch)
	conf.Type = "config"
	sig := newCallSignal(c)
	if err := sig.write(ctx, mustJSON(conf)); err != nil {
		_ = c.CloseNow()
		return
	}
	connCtx, cancelConn := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelConn()
	go sig.readLoop(connCtx)
	go h.callWriter(connCtx, sess, sig, conf.Epoch)
	joinCtx, cancelJoin := context.WithCancel(connCtx)
	go func() {
		select {
		case <-sess.done:
		case <-ctx.Done(): // the relay is closing
			sess.stop(callEndStop)
		case <-joinCtx.Done():
		}
		cancelJoin()
	}()
	h.svc.log.DebugContext(ctx, "call: join", "room", room, "member", m.ID)
	err = h.callOpts.SFU.Join(joinCtx, room, m.ID, sig)
	cancelJoin()
	h.svc.log.DebugContext(ctx, "call: leave", "room", room, "member", m.ID, "reason", err)
	h.endCall(c, sess.reason(), err)
}

// callWriter pushes epoch changes and pings the browser (which keeps
// proxies from closing a quiet socket and finds a half-open one).
func (h *Handler) callWriter(ctx context.Context, s *callSession, sig *callSignal, sent int64) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-s.kick:
			n := s.currentEpoch()
			if n <= sent {
				continue
			}
			if err := sig.write(ctx, mustJSON(map[string]any{"type": "epoch", "epoch": n})); err != nil {
				return // the read side fails too and ends the session
			}
			sent = n
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := sig.c.Ping(pctx)
			cancel()
			if err != nil {
				_ = sig.c.CloseNow() // ends the read, hence the session
				return
			}
		}
	}
}

// endCall closes the call socket with a reason the browser can show.
func (h *Handler) endCall(c *websocket.Conn, why callEnd, err error) {
	code, reason := websocket.StatusNormalClosure, "left the call"
	switch {
	case why == callEndRemoved:
		wctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		_ = c.Write(wctx, websocket.MessageText, mustJSON(map[string]any{"type": "removed"}))
		cancel()
		reason = "removed from the room"
	case why == callEndStop:
		code, reason = websocket.StatusGoingAway, "the server is stopping: reconnect later"
	case err == nil:
	case errors.Is(err, sfu.ErrReplaced):
		reason = "replaced by a newer call session of this device"
	case errors.Is(err, sfu.ErrGone):
		code, reason = websocket.StatusGoingAway, "the media connection was lost: join the call again"
	case errors.Is(err, sfu.ErrTimeout):
		code, reason = websocket.StatusGoingAway, closeReason("the media connection never connected: "+h.udpHint())
	default:
		// The browser closed the socket, or the SFU could not start the
		// session (logged by the SFU).
		_ = c.CloseNow()
		return
	}
	_ = c.Close(code, reason)
}

// udpHint names what a firewall must let through for media.
func (h *Handler) udpHint() string {
	if a, ok := h.callOpts.SFU.UDPAddr().(*net.UDPAddr); ok && a != nil {
		return fmt.Sprintf("UDP port %d of the server must be reachable", a.Port)
	}
	return "the server's UDP ports must be reachable"
}

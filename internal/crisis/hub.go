package crisis

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// Live connections. Each connection has a bounded send queue drained by its
// own writer goroutine: a member on a slow link that lets the queue fill is
// dropped rather than slowing the room down; its client reconnects and
// catches up with events?after=.
const (
	sendQueue    = 256
	writeTimeout = 10 * time.Second
	pingEvery    = 25 * time.Second
	authTimeout  = 10 * time.Second
	maxClientMsg = 4 << 10
)

// hub knows every live connection, by room.
type hub struct {
	mu    sync.Mutex
	rooms map[string]map[*conn]struct{}
	log   *slog.Logger
}

func newHub(log *slog.Logger) *hub {
	return &hub{rooms: map[string]map[*conn]struct{}{}, log: log}
}

// conn is one member's WebSocket.
type conn struct {
	ws     *websocket.Conn
	room   string
	member string
	status MemberStatus // guarded by hub.mu
	send   chan []byte
	done   chan struct{}

	once   sync.Once
	code   websocket.StatusCode
	reason string
	final  []byte // sent before closing, if not nil
}

// stop ends the connection: its writer sends final (if any) and closes.
func (c *conn) stop(code websocket.StatusCode, reason string, final []byte) {
	c.once.Do(func() {
		c.code, c.reason, c.final = code, reason, final
		close(c.done)
	})
}

// enqueue queues msg, or drops a connection whose queue is full.
func (c *conn) enqueue(msg []byte) {
	select {
	case c.send <- msg:
	default:
		c.stop(websocket.StatusTryAgainLater, "too slow: reconnect and fetch events?after=", nil)
	}
}

// writer sends queued messages and pings until the connection stops.
func (c *conn) writer(ctx context.Context, log *slog.Logger) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case msg := <-c.send:
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := c.ws.Write(wctx, websocket.MessageText, msg)
			cancel()
			if err != nil {
				c.stop(websocket.StatusGoingAway, "write failed", nil)
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				c.stop(websocket.StatusGoingAway, "no answer to ping", nil)
			}
		case <-ctx.Done():
			c.stop(websocket.StatusGoingAway, "the server is stopping: reconnect later", nil)
		case <-c.done:
			if c.final != nil {
				wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
				_ = c.ws.Write(wctx, websocket.MessageText, c.final)
				cancel()
			}
			if err := c.ws.Close(c.code, c.reason); err != nil {
				log.Debug("websocket closed", "room", c.room, "member", c.member, "err", err)
			}
			return
		}
	}
}

func (h *hub) add(c *conn) {
	h.mu.Lock()
	set := h.rooms[c.room]
	if set == nil {
		set = map[*conn]struct{}{}
		h.rooms[c.room] = set
	}
	set[c] = struct{}{}
	h.mu.Unlock()
	h.presence(c.room)
}

func (h *hub) remove(c *conn) {
	h.mu.Lock()
	if set := h.rooms[c.room]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.rooms, c.room)
		}
	}
	h.mu.Unlock()
	h.presence(c.room)
}

// online lists the admitted members with a live connection, sorted.
func (h *hub) online(room string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.onlineLocked(room)
}

func (h *hub) onlineLocked(room string) []string {
	out := []string{}
	for c := range h.rooms[room] {
		if c.status == StatusAdmitted && !slices.Contains(out, c.member) {
			out = append(out, c.member)
		}
	}
	slices.Sort(out)
	return out
}

// each calls fn for every connection of room, under the lock.
func (h *hub) each(room string, fn func(*conn)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.rooms[room] {
		fn(c)
	}
}

func (h *hub) presence(room string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	msg := mustJSON(map[string]any{"type": "presence", "online": h.onlineLocked(room)})
	for c := range h.rooms[room] {
		if c.status == StatusAdmitted {
			c.enqueue(msg)
		}
	}
}

func (h *hub) sendTo(room, member string, msg []byte) {
	h.each(room, func(c *conn) {
		if c.member == member {
			c.enqueue(msg)
		}
	})
}

// pushEvent sends an event to the room's admitted members. Callers hold the
// room's append lock, so events leave in position order.
func (h *hub) pushEvent(ev Event) {
	msg := mustJSON(map[string]any{"type": "event", "pos": ev.Pos, "body": ev.Body, "sig": ev.Sig, "received_at": fmtTime(ev.ReceivedAt)})
	h.each(ev.Room, func(c *conn) {
		if c.status == StatusAdmitted {
			c.enqueue(msg)
		}
	})
}

func (h *hub) pushWraps(w WrapRecord) {
	msg := mustJSON(map[string]any{"type": "wraps", "id": w.ID, "body": w.Body, "sig": w.Sig})
	h.each(w.Room, func(c *conn) {
		if c.status == StatusAdmitted && slices.Contains(w.To, c.member) {
			c.enqueue(msg)
		}
	})
}

// applyRoster pushes a new roster to everyone in the room, promotes the
// admitted members' connections and closes the removed members'. Admitted
// members also get each member's admission position (vis); pending ones
// the roster only, as in the state.
func (h *hub) applyRoster(room string, s e2ee.Signed, plan RosterPlan, vis map[string]int64) {
	msg := mustJSON(map[string]any{"type": "roster", "body": s.Body, "sig": s.Sig, "visible_from": vis})
	bare := mustJSON(map[string]any{"type": "roster", "body": s.Body, "sig": s.Sig})
	removed := mustJSON(map[string]any{"type": "removed"})
	h.each(room, func(c *conn) {
		switch {
		case slices.Contains(plan.Remove, c.member):
			c.status = StatusRemoved
			c.stop(websocket.StatusNormalClosure, "removed from the room", removed)
		default:
			if slices.Contains(plan.Admit, c.member) {
				c.status = StatusAdmitted
			}
			if c.status == StatusAdmitted {
				c.enqueue(msg)
			} else {
				c.enqueue(bare)
			}
		}
	})
	if len(plan.Admit)+len(plan.Remove) > 0 {
		h.presence(room)
	}
}

// closeAll stops every connection (server shutdown).
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range h.rooms {
		for c := range set {
			c.stop(websocket.StatusGoingAway, "the server is stopping: reconnect later", nil)
		}
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("crisis: marshal a push: " + err.Error())
	}
	return b
}

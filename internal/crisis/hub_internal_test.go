package crisis

import (
	"log/slog"
	"testing"

	"github.com/coder/websocket"
)

// A connection whose queue is full is dropped; the others in the room keep
// receiving.
func TestSlowConsumerDropped(t *testing.T) {
	h := newHub(slog.New(slog.DiscardHandler))
	slow := &conn{room: "r", member: "slow", status: StatusAdmitted, send: make(chan []byte, 2), done: make(chan struct{})}
	fast := &conn{room: "r", member: "fast", status: StatusAdmitted, send: make(chan []byte, 100), done: make(chan struct{})}
	h.add(slow)
	h.add(fast)
	// Drain what add queued (presence).
	drain := func(c *conn) int {
		n := 0
		for {
			select {
			case <-c.send:
				n++
			default:
				return n
			}
		}
	}
	drain(slow)
	drain(fast)
	for i := range 3 {
		h.pushEvent(Event{Room: "r", Pos: int64(i + 1)})
	}
	select {
	case <-slow.done:
	default:
		t.Fatal("the slow connection was not dropped")
	}
	if slow.code != websocket.StatusTryAgainLater {
		t.Fatalf("close status %v, want %v", slow.code, websocket.StatusTryAgainLater)
	}
	select {
	case <-fast.done:
		t.Fatal("the fast connection was dropped too")
	default:
	}
	if n := drain(fast); n != 3 {
		t.Fatalf("the fast connection got %d events, want 3", n)
	}
}

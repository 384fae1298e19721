package crisis

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/coder/websocket"

	"github.com/rempart/rempart/internal/crisis/sfu"
)

// maxCallMsg bounds one signalling message from a browser. Descriptions are
// the large ones: an answer lists one m-line per received track (a 25-person
// room with cameras, screens and microphones: about 75 m-lines of 1 to
// 2 KiB), so 1 MiB leaves ample room while keeping a hostile client from
// making the server buffer more.
const maxCallMsg = 1 << 20

// callSignal carries the SFU's signalling (sfu.Signal) over the call
// WebSocket, one JSON object per text message.
//
// The WebSocket is read by its own goroutine with the connection's context,
// not with the context the SFU passes to Recv: coder/websocket closes the
// connection without a close frame when a read's context ends, and the
// relay wants to end a call with a reason ("removed from the room") after
// the SFU session is over.
type callSignal struct {
	c    *websocket.Conn
	in   chan sfu.Message
	errc chan error // the read error, once
}

func newCallSignal(c *websocket.Conn) *callSignal {
	return &callSignal{c: c, in: make(chan sfu.Message), errc: make(chan error, 1)}
}

// Send writes m; Pion and the SFU's writer call it from several goroutines,
// which coder/websocket allows.
func (s *callSignal) Send(m sfu.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("crisis: call: encode %s: %w", m.Type, err)
	}
	return s.write(context.Background(), b)
}

// write sends one text message within writeTimeout (a client that stops
// reading is dropped, not waited for).
func (s *callSignal) write(ctx context.Context, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := s.c.Write(wctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("crisis: call: write: %w", err)
	}
	return nil
}

// Recv returns the next message from the browser.
func (s *callSignal) Recv(ctx context.Context) (sfu.Message, error) {
	select {
	case m := <-s.in:
		return m, nil
	case err := <-s.errc:
		s.errc <- err // later calls see it too
		return sfu.Message{}, err
	case <-ctx.Done():
		return sfu.Message{}, fmt.Errorf("crisis: call: %w", ctx.Err())
	}
}

// readLoop reads the browser's messages until the connection fails or ctx
// ends. A message that is not a JSON object with a type is answered with an
// error and skipped: the SFU only ever sees well-formed messages.
func (s *callSignal) readLoop(ctx context.Context) {
	for {
		typ, b, err := s.c.Read(ctx)
		if err != nil {
			s.errc <- fmt.Errorf("crisis: call: read: %w", err)
			return
		}
		var m sfu.Message
		if typ != websocket.MessageText || json.Unmarshal(b, &m) != nil || m.Type == "" {
			_ = s.Send(sfu.Message{Type: sfu.TypeError, Error: "send JSON text messages with a \"type\" (see docs/crisis-e2ee.md, \"Calls\")"})
			continue
		}
		select {
		case s.in <- m:
		case <-ctx.Done():
			s.errc <- fmt.Errorf("crisis: call: %w", ctx.Err())
			return
		}
	}
}

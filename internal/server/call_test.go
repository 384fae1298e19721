package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/rempart/rempart/internal/crisis/e2ee"
	"github.com/rempart/rempart/internal/crisis/sfu"
	"github.com/rempart/rempart/internal/crisis/sfu/sfuclient"
)

// callSocket is the test's side of GET /v1/crisis/rooms/{room}/call: an
// sfu.Signal over the authenticated WebSocket, as the browser speaks it.
// The relay's own messages (config, epoch, removed) are set apart from the
// SFU's.
type callSocket struct {
	c      *websocket.Conn
	config map[string]any
	in     chan sfu.Message
	relay  chan map[string]any // epoch, removed
	done   chan struct{}       // closed when the read side ends
	err    error               // why it ended, set before done is closed
}

// dialCall opens the call socket and authenticates with token. It returns
// the socket once the server sent its config, or the close error.
func dialCall(t *testing.T, c *crisisClient, room, token string) (*callSocket, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// coder/websocket refuses an http.Client with a Timeout: same
	// transport, no timeout (the context bounds the dial).
	hc := &http.Client{Transport: c.http.Transport}
	u := "wss" + strings.TrimPrefix(c.url, "https") + "/v1/crisis/rooms/" + room + "/call"
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	ws.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	auth, _ := json.Marshal(map[string]string{"type": "auth", "token": token})
	if err := ws.Write(ctx, websocket.MessageText, auth); err != nil {
		return nil, err
	}
	// Reads use a context that never ends: a coder/websocket read whose
	// context expires closes the connection.
	_, b, err := ws.Read(context.Background())
	if err != nil {
		return nil, err
	}
	s := &callSocket{c: ws, in: make(chan sfu.Message, 256), relay: make(chan map[string]any, 16), done: make(chan struct{})}
	if err := json.Unmarshal(b, &s.config); err != nil || s.config["type"] != "config" {
		t.Fatalf("first message %q, want the call config", b)
	}
	go s.read()
	return s, nil
}

func (s *callSocket) read() {
	defer close(s.done)
	for {
		_, b, err := s.c.Read(context.Background())
		if err != nil {
			s.err = err
			return
		}
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(b, &head)
		switch head.Type {
		case "epoch", "removed", "config":
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			s.relay <- m
		default:
			var m sfu.Message
			if err := json.Unmarshal(b, &m); err != nil {
				s.err = fmt.Errorf("bad message %q: %w", b, err)
				return
			}
			s.in <- m
		}
	}
}

// Send implements sfu.Signal.
func (s *callSocket) Send(m sfu.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.c.Write(ctx, websocket.MessageText, b)
}

// Recv implements sfu.Signal.
func (s *callSocket) Recv(ctx context.Context) (sfu.Message, error) {
	select {
	case m := <-s.in:
		return m, nil
	case <-s.done:
		return sfu.Message{}, fmt.Errorf("call socket closed: %w", s.err)
	case <-ctx.Done():
		return sfu.Message{}, ctx.Err()
	}
}

// waitRelay waits for a relay message of type typ.
func (s *callSocket) waitRelay(t *testing.T, typ string, d time.Duration) map[string]any {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-s.relay:
			if m["type"] == typ {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q message on the call socket within %v", typ, d)
			return nil
		}
	}
}

// refused dials the call socket with token and returns the close error.
func refused(t *testing.T, c *crisisClient, room, token string) websocket.CloseError {
	t.Helper()
	s, err := dialCall(t, c, room, token)
	if err == nil {
		t.Fatalf("token %.8s…: the call socket was opened (config %v)", token, s.config)
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("token %.8s…: %v, want a close frame", token, err)
	}
	return ce
}

// mediaKey stands for a key the browsers derive from their sender keys
// (SFrame); the server never sees it.
var mediaKey = bytes.Repeat([]byte{0x5a}, 16)

func sealFrame(n uint64) []byte {
	blk, _ := aes.NewCipher(mediaKey)
	g, _ := cipher.NewGCM(blk)
	nonce := binary.BigEndian.AppendUint64(make([]byte, 4), n)
	// SFrame-like: a clear counter, then the ciphertext of a frame.
	return g.Seal(binary.BigEndian.AppendUint64(nil, n), nonce, []byte(fmt.Sprintf("frame %d of the mayor's camera", n)), nil)
}

func openFrame(p []byte) (uint64, string, error) {
	if len(p) < 8 {
		return 0, "", errors.New("short")
	}
	n := binary.BigEndian.Uint64(p)
	blk, _ := aes.NewCipher(mediaKey)
	g, _ := cipher.NewGCM(blk)
	pt, err := g.Open(nil, binary.BigEndian.AppendUint64(make([]byte, 4), n), p[8:], nil)
	return n, string(pt), err
}

// scrape reads one metric from /metrics.
func scrape(t *testing.T, c *crisisClient, name string) float64 {
	t.Helper()
	resp, err := c.http.Get(c.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", name, v)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// A call through the whole server (Run on loopback): two admitted members
// join over the authenticated call socket, one publishes encrypted RTP, the
// other receives it byte for byte and decrypts it with a key the server
// never had; a pending member and a bad token are refused; removing a member
// ends its call at once and tells the others the new epoch; /metrics counts
// the forwarded packets.
func TestCallThroughServer(t *testing.T) {
	c, stop := startServer(t, t.TempDir(), nil)
	defer stop()

	admin := c.want(200, "", "POST", "/v1/login", map[string]string{"username": "admin", "password": "the admin password of the test"})["token"].(string)
	c.want(201, admin, "POST", "/v1/accounts", map[string]string{"username": "dgs", "role": "coordinator", "password": "the coordinator's password"})
	session := c.want(200, "", "POST", "/v1/login", map[string]string{"username": "dgs", "password": "the coordinator's password"})["token"].(string)
	room := e2ee.B64.EncodeToString(randBytes(16))
	coord, maire, dsi, late := newCrisisDevice(t, "Coordination"), newCrisisDevice(t, "Maire"), newCrisisDevice(t, "DSI"), newCrisisDevice(t, "Retard")
	roster := func(version, epoch int64, removed []string, members ...*crisisDevice) e2ee.Signed {
		var list []e2ee.RosterMember
		for _, d := range members {
			list = append(list, d.rosterEntry(room, 1))
		}
		body, _ := json.Marshal(e2ee.Roster{V: 1, Room: room, Version: version, Epoch: epoch, Coordinator: coord.id,
			Time: "2026-12-05T09:00:00.000Z", Members: list, Removed: removed})
		return coord.signed(e2ee.LabelRoster, room, body)
	}
	in := coord.joinFields(room)
	in["roster"] = roster(1, 1, []string{}, coord)
	coord.token = c.want(201, session, "POST", "/v1/crisis/rooms", in)["member_token"].(string)
	base := "/v1/crisis/rooms/" + room
	for _, d := range []*crisisDevice{maire, dsi, late} {
		inv := c.want(201, coord.token, "POST", base+"/invites", map[string]any{})["token"].(string)
		j := d.joinFields(room)
		j["invite"] = inv
		d.token = c.want(201, "", "POST", base+"/join", j)["member_token"].(string)
	}
	c.want(200, coord.token, "PUT", base+"/roster", roster(2, 1, []string{}, coord, maire, dsi))

	// The config endpoint: admitted members only; no TURN by default.
	conf := c.want(200, maire.token, "GET", base+"/call/config", nil)
	if conf["enabled"] != true || conf["epoch"].(float64) != 1 || len(conf["ice_servers"].([]any)) != 0 {
		t.Fatalf("call config %v", conf)
	}
	c.want(403, late.token, "GET", base+"/call/config", nil)

	// Refusals: a pending member, a token that is not one.
	if ce := refused(t, c, room, late.token); ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "not admitted") {
		t.Errorf("pending member: %v", ce)
	}
	if ce := refused(t, c, room, "rcm_"+e2ee.B64.EncodeToString(randBytes(32))); ce.Code != websocket.StatusPolicyViolation || !strings.Contains(ce.Reason, "not valid") {
		t.Errorf("bad token: %v", ce)
	}
	if ce := refused(t, c, room, "hello"); ce.Code != websocket.StatusPolicyViolation {
		t.Errorf("malformed token: %v", ce)
	}

	// The mayor publishes a camera; the DSI receives it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pub, err := sfuclient.New(sfuclient.Options{Logger: callTestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	cam, err := pub.AddVideo("cam", nil)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := sfuclient.New(sfuclient.Options{Logger: callTestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var mu sync.Mutex
	var got [][]byte
	sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, append([]byte(nil), p.Payload...))
			mu.Unlock()
		}
	})
	maireCall, err := dialCall(t, c, room, maire.token)
	if err != nil {
		t.Fatal(err)
	}
	if maireCall.config["member"] != maire.id || maireCall.config["epoch"].(float64) != 1 {
		t.Errorf("config on the socket: %v", maireCall.config)
	}
	dsiCall, err := dialCall(t, c, room, dsi.token)
	if err != nil {
		t.Fatal(err)
	}
	pubDone, subDone := make(chan error, 1), make(chan error, 1)
	go func() { pubDone <- pub.Run(ctx, maireCall) }()
	go func() { subDone <- sub.Run(ctx, dsiCall) }()
	sent := map[uint64][]byte{}
	var sentMu sync.Mutex
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := uint64(0); ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			p := sealFrame(n)
			sentMu.Lock()
			sent[n] = p
			sentMu.Unlock()
			_ = cam[0].Write(p, uint32(n*1800), true, 0) //nolint:gosec // test clock
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the DSI received %d packets in 30 s, want 25", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	for _, p := range got {
		n, text, err := openFrame(p)
		sentMu.Lock()
		want := sent[n]
		sentMu.Unlock()
		if !bytes.Equal(p, want) {
			t.Fatalf("packet %d: payload changed on the way", n)
		}
		if err != nil || !strings.HasPrefix(text, "frame ") {
			t.Fatalf("packet %d does not decrypt with the members' key: %v", n, err)
		}
	}
	mu.Unlock()
	if v := scrape(t, c, "rempart_call_forwarded_packets_total"); v < 25 {
		t.Errorf("rempart_call_forwarded_packets_total %v, want ≥ 25", v)
	}
	if v := scrape(t, c, "rempart_call_participants"); v != 2 {
		t.Errorf("rempart_call_participants %v, want 2", v)
	}

	// The coordinator removes the DSI (new epoch): its call ends at once,
	// the mayor learns the epoch and that the DSI left.
	removedAt := time.Now()
	c.want(200, coord.token, "PUT", base+"/roster", roster(3, 2, []string{dsi.id}, coord, maire))
	dsiCall.waitRelay(t, "removed", 5*time.Second)
	select {
	case <-dsiCall.done:
		if ce := (websocket.CloseError{}); !errors.As(dsiCall.err, &ce) || ce.Reason != "removed from the room" {
			t.Errorf("removed member's call socket closed with %v", dsiCall.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the removed member's call socket is still open")
	}
	select {
	case err := <-subDone:
		if err == nil {
			t.Error("the removed member's client ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the removed member's client still runs")
	}
	t.Logf("call ended %v after the roster", time.Since(removedAt))
	if m := maireCall.waitRelay(t, "epoch", 5*time.Second); m["epoch"].(float64) != 2 {
		t.Errorf("epoch message %v, want 2", m)
	}
	waitSFU(t, pub, 10*time.Second, func(m sfu.Message) bool { return m.Type == sfu.TypeLeave && m.Participant == dsi.id })
	if ce := refused(t, c, room, dsi.token); !strings.Contains(ce.Reason, "removed") {
		t.Errorf("removed member joining again: %v", ce)
	}
	if v := scrape(t, c, "rempart_call_participants"); v != 1 {
		t.Errorf("rempart_call_participants %v after the removal, want 1", v)
	}

	// The mayor leaves: Join returns, the socket closes normally.
	if err := pub.Send(sfu.Message{Type: sfu.TypeLeave}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-maireCall.done:
		if websocket.CloseStatus(maireCall.err) != websocket.StatusNormalClosure {
			t.Errorf("after leave: %v", maireCall.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the call socket is still open after leave")
	}
	cancel()
	if err := <-pubDone; err == nil {
		t.Error("the client ran on after its context ended")
	}
}

// callTestLogger shows the clients' warnings (the server's log is off).
func callTestLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// waitSFU waits for an SFU message matching ok on a client.
func waitSFU(t *testing.T, c *sfuclient.Client, d time.Duration, ok func(sfu.Message) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-c.Messages:
			if ok(m) {
				return
			}
		case <-deadline:
			t.Fatalf("no matching SFU message within %v", d)
		}
	}
}

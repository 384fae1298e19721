package crisis_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rempart/rempart/internal/crisis"
	"github.com/rempart/rempart/internal/crisis/sfu"
)

func (r *relay) callURL(rm *room) string {
	return "ws" + strings.TrimPrefix(r.url, "http") + "/v1/crisis/rooms/" + rm.id + "/call"
}

// newCallRelay is a relay with an SFU on a loopback UDP port.
func newCallRelay(t *testing.T) *relay {
	t.Helper()
	srv, err := sfu.NewServer(sfu.Config{UDPMux: "127.0.0.1:0", Loopback: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return newRelayCalls(t, &crisis.CallOptions{SFU: srv})
}

// Without an SFU the call endpoints say so instead of failing.
func TestCallOff(t *testing.T) {
	r := newRelay(t)
	rm := r.createRoom("coord")
	code, out := r.call("GET", "/v1/crisis/rooms/"+rm.id+"/call", "", nil)
	want(t, "call socket", code, out, http.StatusServiceUnavailable)
	code, out = r.call("GET", "/v1/crisis/rooms/"+rm.id+"/call/config", rm.coord.token, nil)
	want(t, "call config", code, out, http.StatusOK)
	if out["enabled"] != false {
		t.Fatalf("call config %v: want enabled false", out)
	}
}

// The call socket's relay side, without media: the config comes first;
// rosters that keep the epoch push nothing, a removal pushes the new epoch
// once; garbage is answered and does not end the call; closing the relay
// ends the call with "going away".
func TestCallSocketEpochsAndStop(t *testing.T) {
	r := newCallRelay(t)
	rm := r.createRoom("coord")
	a := r.join(rm, "Maire")
	b := r.join(rm, "DSI")
	r.admit(rm, a)

	l := r.dial(r.callURL(rm), rm.coord)
	conf := l.next("config")
	if conf["member"] != rm.coord.id || conf["epoch"].(float64) != 1 || conf["enabled"] != true {
		t.Fatalf("config %v", conf)
	}
	if list, ok := conf["ice_servers"].([]any); !ok || len(list) != 0 {
		t.Fatalf("ice_servers %v: want an empty list without TURN", conf["ice_servers"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.c.Write(ctx, websocket.MessageText, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if m := l.next("error"); m["error"] == "" {
		t.Fatalf("error %v", m)
	}

	r.admit(rm, b)  // same epoch: nothing to rotate
	r.remove(rm, a) // epoch 2
	m := l.next("epoch")
	if m["epoch"].(float64) != 2 {
		t.Fatalf("first epoch message %v, want epoch 2 (admitting changes no key)", m)
	}
	l.quiet("epoch", 300*time.Millisecond)

	r.h.Close()
	if code := l.closed("epoch"); code != websocket.StatusGoingAway {
		t.Fatalf("closed with %v, want going away", code)
	}
}

// A member removed while its call socket opens never gets into the call,
// and a member who joins after a removal gets the new epoch in its config.
func TestCallAfterRemoval(t *testing.T) {
	r := newCallRelay(t)
	rm := r.createRoom("coord")
	a := r.join(rm, "Maire")
	r.admit(rm, a)
	r.remove(rm, a)
	l := r.dial(r.callURL(rm), a)
	if code := l.closed("config"); code != websocket.StatusPolicyViolation {
		t.Fatalf("removed member: %v", code)
	}
	l = r.dial(r.callURL(rm), rm.coord)
	if conf := l.next("config"); conf["epoch"].(float64) != 2 {
		t.Fatalf("config %v: want epoch 2", conf)
	}
}

// With the embedded TURN server, members get time-limited credentials for
// it, in the config message and from call/config.
func TestCallConfigTURN(t *testing.T) {
	srv, err := sfu.NewServer(sfu.Config{UDPMux: "127.0.0.1:0", Loopback: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	turn, err := sfu.StartTURN(sfu.TURNConfig{Listen: "127.0.0.1:0", RelayIP: "127.0.0.1", Secret: "test secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = turn.Close() })
	r := newRelayCalls(t, &crisis.CallOptions{SFU: srv, TURN: turn, TURNTTL: time.Hour})
	rm := r.createRoom("coord")
	code, out := r.call("GET", "/v1/crisis/rooms/"+rm.id+"/call/config", rm.coord.token, nil)
	want(t, "call config", code, out, http.StatusOK)
	list, _ := out["ice_servers"].([]any)
	if len(list) != 1 {
		t.Fatalf("ice_servers %v", out["ice_servers"])
	}
	ice := list[0].(map[string]any)
	user, _ := ice["username"].(string)
	urls, _ := ice["urls"].([]any)
	if !strings.HasSuffix(user, ":"+rm.coord.id) || ice["credential"] == "" || len(urls) != 1 || !strings.HasPrefix(urls[0].(string), "turn:127.0.0.1:") {
		t.Fatalf("ice server %v", ice)
	}
	l := r.dial(r.callURL(rm), rm.coord)
	if conf := l.next("config"); len(conf["ice_servers"].([]any)) != 1 {
		t.Fatalf("config %v", conf)
	}
}

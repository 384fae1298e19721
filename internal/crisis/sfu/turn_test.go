package sfu_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/rempart/rempart/internal/crisis/sfu"
	"github.com/rempart/rempart/internal/crisis/sfu/sfuclient"
)

// TestTURNRelay: a client that may only use relay candidates (a strict
// firewall) still publishes and receives through the embedded TURN server.
func TestTURNRelay(t *testing.T) {
	srv := newServer(t)
	tr, err := sfu.StartTURN(sfu.TURNConfig{Listen: "127.0.0.1:0", RelayIP: "127.0.0.1", Secret: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	ice, err := tr.ICEServer("bob", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ice.URLs[0], "turn:127.0.0.1:") {
		t.Fatalf("ICE server URL %q", ice.URLs[0])
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	publishCamera(ctx, t, alice)
	bob := join(t, srv, "cell", "bob", sfuclient.Options{ICEServers: []webrtc.ICEServer{ice}, RelayOnly: true},
		func(p *peer) { publishCamera(ctx, t, p) })
	got := collect(bob.Client)
	eventually(t, 15*time.Second, "alice's video at bob through TURN", func() bool { return len(got.snapshot("video")) > 5 })
	alice.waitMessage(t, 10*time.Second, hasTracks(1))

	// Bad credentials are refused: no relay, no connection.
	ice.Credential = "wrong"
	carol := join(t, srv, "cell", "carol", sfuclient.Options{ICEServers: []webrtc.ICEServer{ice}, RelayOnly: true},
		func(p *peer) { publishCamera(ctx, t, p) })
	time.Sleep(3 * time.Second)
	if s := carol.PC().ICEConnectionState(); s == webrtc.ICEConnectionStateConnected {
		t.Fatal("client with bad TURN credentials connected")
	}
	for {
		select {
		case m := <-alice.Messages:
			if m.Type == sfu.TypeTracks && len(m.Tracks) > 1 {
				t.Fatal("carol's camera reached alice without a relay")
			}
			continue
		default:
		}
		break
	}
}

// TestPublicAddress: with a 1:1 NAT address configured, the server
// advertises it instead of the interface address; host names resolve.
func TestPublicAddress(t *testing.T) {
	if s, err := sfu.NewServer(sfu.Config{Loopback: true, PublicIPs: []string{"localhost"}}); err != nil {
		t.Fatalf("host name as public address: %v", err)
	} else {
		_ = s.Close()
	}
	if _, err := sfu.NewServer(sfu.Config{PublicIPs: []string{"no-such-host.invalid"}}); err == nil {
		t.Fatal("unresolvable public address accepted")
	}
	// The socket listens on every address; the "NAT" maps 127.0.0.2 to it.
	srv, err := sfu.NewServer(sfu.Config{UDPMux: "0.0.0.0:0", Loopback: true, PublicIPs: []string{"127.0.0.2"}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	alice := join(t, srv, "cell", "alice", sfuclient.Options{}, func(p *peer) { publishCamera(ctx, t, p) })
	eventually(t, 10*time.Second, "alice connected", func() bool {
		return alice.PC().ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	// What the server advertised: host candidates with the public address
	// only (a real NAT would then carry the traffic; loopback cannot
	// emulate the reply path, so the pair may end up peer-reflexive).
	var hosts []string
	for _, st := range alice.PC().GetStats() {
		if c, ok := st.(webrtc.ICECandidateStats); ok && c.Type == webrtc.StatsTypeRemoteCandidate &&
			c.CandidateType == webrtc.ICECandidateTypeHost {
			hosts = append(hosts, c.IP)
		}
	}
	if len(hosts) == 0 {
		t.Fatal("no host candidate from the server")
	}
	for _, ip := range hosts {
		if ip != "127.0.0.2" {
			t.Fatalf("server advertised host candidate %s, want only the public 127.0.0.2", ip)
		}
	}
}

package sfu_test

import (
	"context"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/rempart/rempart/internal/crisis/sfu"
	"github.com/rempart/rempart/internal/crisis/sfu/sfuclient"
)

// TestNACKRetransmission: packets lost between the SFU and a subscriber
// are NACKed by the subscriber and resent from the SFU's cache.
func TestNACKRetransmission(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	vids, err := alice.AddVideo("cam", nil)
	if err != nil {
		t.Fatal(err)
	}
	go pump(ctx, vids[0], 9, 20*time.Millisecond, 2, 90000)

	// Loss on the wire (SRTP leaves RTP headers in clear), so the
	// retransmission is a fresh packet for the client's SRTP context.
	drop := newNetConn(t)
	drop.dropVideo = func(seq uint16) bool { return seq%10 == 5 }
	bob := join(t, srv, "cell", "bob", sfuclient.Options{UDPConn: drop})
	got := collect(bob.Client)
	eventually(t, 10*time.Second, "5 packets lost on the way to bob", func() bool { return len(drop.lost()) >= 5 })
	lost := drop.lost()
	eventually(t, 5*time.Second, "lost packets retransmitted", func() bool {
		seen := map[uint16]bool{}
		for _, p := range got.snapshot("video") {
			seen[p.seq] = true
		}
		for _, s := range lost {
			if !seen[s] {
				return false
			}
		}
		return true
	})
	if n := srv.Metrics().Retransmitted; n < uint64(len(lost)) {
		t.Errorf("SFU retransmitted %d packets, want at least %d", n, len(lost))
	}
}

// TestPLIRelay: a subscriber's PLI reaches the publisher (rate limited).
func TestPLIRelay(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	vids, err := alice.AddVideo("cam", nil)
	if err != nil {
		t.Fatal(err)
	}
	go pump(ctx, vids[0], 9, 20*time.Millisecond, 1, 90000)
	bob := join(t, srv, "cell", "bob", sfuclient.Options{})
	got := collect(bob.Client)
	eventually(t, 10*time.Second, "video at bob", func() bool { return len(got.snapshot("video")) > 5 })
	// Let the SFU's own initial keyframe request go by.
	time.Sleep(500 * time.Millisecond)
	before, relayed := vids[0].PLIs.Load(), srv.Metrics().PLIReceived
	ssrc := uint32(got.ssrcOf("video"))
	for range 5 { // a burst: the publisher must see one, not five
		if err := bob.PC().WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 3*time.Second, "PLI at alice", func() bool { return vids[0].PLIs.Load() > before })
	eventually(t, time.Second, "PLI counted", func() bool { return srv.Metrics().PLIReceived >= relayed+5 })
	time.Sleep(200 * time.Millisecond)
	if n := vids[0].PLIs.Load() - before; n != 1 {
		t.Errorf("publisher got %d PLIs for a burst of 5, want 1 (rate limit)", n)
	}
}

// TestMuteRelay: a mute from the publisher reaches the others.
func TestMuteRelay(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	mic, err := alice.AddAudio("mic")
	if err != nil {
		t.Fatal(err)
	}
	go pump(ctx, mic, 0, 20*time.Millisecond, 1, 48000)
	bob := join(t, srv, "cell", "bob", sfuclient.Options{})
	bob.waitMessage(t, 10*time.Second, func(m sfu.Message) bool { return m.Type == sfu.TypeTracks && len(m.Tracks) == 1 })
	if err := alice.Send(sfu.Message{Type: sfu.TypeMute, Track: "mic", Muted: true}); err != nil {
		t.Fatal(err)
	}
	bob.waitMessage(t, 3*time.Second, func(m sfu.Message) bool {
		return m.Type == sfu.TypeMute && m.Participant == "alice" && m.Track == "mic" && m.Muted
	})
}

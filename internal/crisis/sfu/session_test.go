package sfu_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/crisis/sfu"
	"github.com/rempart/rempart/internal/crisis/sfu/sfuclient"
)

func publishCamera(ctx context.Context, t *testing.T, p *peer) {
	t.Helper()
	vids, err := p.AddVideo("cam-"+p.id, nil)
	if err != nil {
		t.Fatal(err)
	}
	go pump(ctx, vids[0], 9, 20*time.Millisecond, 1, 90000)
}

func hasTracks(n int) func(sfu.Message) bool {
	return func(m sfu.Message) bool { return m.Type == sfu.TypeTracks && len(m.Tracks) == n }
}

// TestLeaveRejoin: "leave" ends the session cleanly, the others are told
// and stop receiving the leaver's track; a new session of the same
// participant receives and publishes again.
func TestLeaveRejoin(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	publishCamera(ctx, t, alice)
	bobCtx, bobStop := context.WithCancel(ctx)
	bob := join(t, srv, "cell", "bob", sfuclient.Options{})
	publishCamera(bobCtx, t, bob)
	alice.waitMessage(t, 10*time.Second, hasTracks(1))
	bob.waitMessage(t, 10*time.Second, hasTracks(1))

	if err := bob.Send(sfu.Message{Type: sfu.TypeLeave}); err != nil {
		t.Fatal(err)
	}
	if err := bob.waitJoinEnd(t, 3*time.Second); err != nil {
		t.Fatalf("Join after leave = %v, want nil", err)
	}
	bobStop()
	alice.waitMessage(t, 3*time.Second, func(m sfu.Message) bool { return m.Type == sfu.TypeLeave && m.Participant == "bob" })
	alice.waitMessage(t, 3*time.Second, hasTracks(0))
	if n := srv.Metrics().Participants["cell"]; n != 1 {
		t.Fatalf("participants after leave = %d, want 1", n)
	}

	aliceGot := collect(alice.Client)
	bob2 := join(t, srv, "cell", "bob", sfuclient.Options{}, func(p *peer) { publishCamera(ctx, t, p) })
	got := collect(bob2.Client)
	eventually(t, 10*time.Second, "alice's video at the rejoined bob", func() bool { return len(got.snapshot("video")) > 5 })
	alice.waitMessage(t, 10*time.Second, hasTracks(1))
	eventually(t, 10*time.Second, "the rejoined bob's video at alice", func() bool { return len(aliceGot.snapshot("video")) > 5 })
	// The m-line that carried the first bob's camera carries the second's:
	// alice's own camera plus one received video, not two.
	if n := len(alice.PC().GetTransceivers()); n != 2 {
		t.Errorf("alice has %d transceivers after bob rejoined, want 2 (reused)", n)
	}

	// A second session for the same id replaces the first.
	bob3 := join(t, srv, "cell", "bob", sfuclient.Options{})
	if err := bob2.waitJoinEnd(t, 3*time.Second); !errors.Is(err, sfu.ErrReplaced) {
		t.Fatalf("replaced session ended with %v, want ErrReplaced", err)
	}
	_ = bob3
	eventually(t, 3*time.Second, "two participants", func() bool { return srv.Metrics().Participants["cell"] == 2 })
}

// TestVanishedPeerRemoved: a peer that goes silent on the network without
// "leave" (its signalling connection still open) is removed after the ICE
// timeouts, and the others lose its tracks; so is a peer whose
// PeerConnection closes (DTLS close) without "leave", and at once one whose
// signalling transport breaks.
func TestVanishedPeerRemoved(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	conn := newNetConn(t)
	carol := join(t, srv, "cell", "carol", sfuclient.Options{UDPConn: conn})
	publishCamera(ctx, t, carol)
	dave := join(t, srv, "cell", "dave", sfuclient.Options{})
	publishCamera(ctx, t, dave)
	alice.waitMessage(t, 10*time.Second, hasTracks(2))

	start := time.Now()
	conn.silent.Store(true)
	if err := carol.waitJoinEnd(t, 8*time.Second); !errors.Is(err, sfu.ErrGone) {
		t.Fatalf("vanished session ended with %v, want ErrGone", err)
	}
	t.Logf("silent peer removed after %v", time.Since(start).Round(100*time.Millisecond))
	alice.waitMessage(t, 3*time.Second, func(m sfu.Message) bool { return m.Type == sfu.TypeLeave && m.Participant == "carol" })
	alice.waitMessage(t, 3*time.Second, hasTracks(1))

	_ = dave.Close()
	if err := dave.waitJoinEnd(t, 8*time.Second); !errors.Is(err, sfu.ErrGone) {
		t.Fatalf("closed session ended with %v, want ErrGone", err)
	}
	alice.waitMessage(t, 3*time.Second, hasTracks(0))

	// A broken signalling transport ends the session at once.
	erin := join(t, srv, "cell", "erin", sfuclient.Options{}, func(p *peer) { publishCamera(ctx, t, p) })
	alice.waitMessage(t, 10*time.Second, hasTracks(1))
	erin.cancel()
	if err := erin.waitJoinEnd(t, 3*time.Second); err == nil {
		t.Fatal("session with a broken signalling transport ended without error")
	}
	alice.waitMessage(t, 3*time.Second, func(m sfu.Message) bool { return m.Type == sfu.TypeLeave && m.Participant == "erin" })
	alice.waitMessage(t, 3*time.Second, hasTracks(0))
	if n := srv.Metrics().Participants["cell"]; n != 1 {
		t.Fatalf("participants = %d, want 1", n)
	}
}

// TestActiveSpeaker: the loudest audio level (header extension, never the
// payload) wins, and the change is broadcast.
func TestActiveSpeaker(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var levels [2]chan uint8
	var peers [2]*peer
	for i, id := range []string{"alice", "bob"} {
		peers[i] = join(t, srv, "cell", id, sfuclient.Options{})
		mic, err := peers[i].AddAudio("mic")
		if err != nil {
			t.Fatal(err)
		}
		levels[i] = make(chan uint8, 1)
		go speak(ctx, mic, levels[i])
	}
	observer := join(t, srv, "cell", "observer", sfuclient.Options{})
	observer.waitMessage(t, 10*time.Second, hasTracks(2))

	levels[0] <- 20 // alice talks at -20 dBov, bob silent
	m := observer.waitMessage(t, 5*time.Second, func(m sfu.Message) bool { return m.Type == sfu.TypeSpeaker })
	if m.Participant != "alice" {
		t.Fatalf("speaker = %q, want alice", m.Participant)
	}
	levels[0] <- 127
	levels[1] <- 15
	observer.waitMessage(t, 5*time.Second, func(m sfu.Message) bool { return m.Type == sfu.TypeSpeaker && m.Participant == "bob" })
}

// speak sends 20 ms Opus-sized packets at the level last received on lv.
func speak(ctx context.Context, s *sfuclient.Stream, lv chan uint8) {
	level := uint8(127)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var ts uint32
	for {
		select {
		case <-ctx.Done():
			return
		case level = <-lv:
		case <-tick.C:
			ts += 960
			_ = s.Write(make([]byte, 60), ts, false, level)
		}
	}
}

// TestParticipantsAnnounced: everyone in the call is announced on every join
// and leave, a participant that publishes nothing (listening only)
// included, to itself as well; a replaced session announces nothing new.
func TestParticipantsAnnounced(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	isList := func(want ...string) func(sfu.Message) bool {
		return func(m sfu.Message) bool {
			return m.Type == sfu.TypeParticipants && slices.Equal(m.Participants, want)
		}
	}
	alice := join(t, srv, "cell", "alice", sfuclient.Options{}, func(p *peer) { publishCamera(ctx, t, p) })
	alice.waitMessage(t, 5*time.Second, isList("alice"))
	// bob listens only: no track, yet alice is told he is here.
	bob := join(t, srv, "cell", "bob", sfuclient.Options{})
	bob.waitMessage(t, 5*time.Second, isList("alice", "bob"))
	alice.waitMessage(t, 5*time.Second, isList("alice", "bob"))
	// Another room is another list.
	other := join(t, srv, "elsewhere", "carol", sfuclient.Options{})
	other.waitMessage(t, 5*time.Second, isList("carol"))

	// bob's second session replaces the first: still two in the call.
	bob2 := join(t, srv, "cell", "bob", sfuclient.Options{})
	bob2.waitMessage(t, 5*time.Second, isList("alice", "bob"))
	if err := bob.waitJoinEnd(t, 3*time.Second); !errors.Is(err, sfu.ErrReplaced) {
		t.Fatalf("replaced session ended with %v, want ErrReplaced", err)
	}

	if err := bob2.Send(sfu.Message{Type: sfu.TypeLeave}); err != nil {
		t.Fatal(err)
	}
	m := alice.waitMessage(t, 5*time.Second, func(m sfu.Message) bool {
		return m.Type == sfu.TypeParticipants && len(m.Participants) == 1
	})
	if !slices.Equal(m.Participants, []string{"alice"}) {
		t.Fatalf("after bob left: participants %v, want [alice]", m.Participants)
	}
}

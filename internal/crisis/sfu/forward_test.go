package sfu_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/crisis/sfu"
	"github.com/rempart/rempart/internal/crisis/sfu/sfuclient"
)

// TestForwarding: payloads reach the subscriber byte for byte (the SFU
// forwards what it cannot read), with the track announced under the
// publisher's id, and the counters move.
func TestForwarding(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	vids, err := alice.AddVideo("cam", nil)
	if err != nil {
		t.Fatal(err)
	}
	mic, err := alice.AddAudio("mic")
	if err != nil {
		t.Fatal(err)
	}
	go pump(ctx, vids[0], 9, 20*time.Millisecond, 2, 90000)
	go pump(ctx, mic, 0, 20*time.Millisecond, 1, 48000)

	bob := join(t, srv, "cell", "bob", sfuclient.Options{})
	got := collect(bob.Client)

	m := bob.waitMessage(t, 10*time.Second, func(m sfu.Message) bool {
		return m.Type == sfu.TypeTracks && len(m.Tracks) == 2
	})
	for _, tr := range m.Tracks {
		if tr.Participant != "alice" || tr.Stream != "alice" || tr.Mid == "" {
			t.Errorf("track info %+v: want participant/stream alice and a mid", tr)
		}
	}
	eventually(t, 10*time.Second, "video and audio at bob", func() bool {
		return len(got.snapshot("video")) >= 40 && len(got.snapshot("audio")) >= 20
	})
	for _, kind := range []string{"video", "audio"} {
		pkts := got.snapshot(kind)
		for _, p := range pkts {
			n := binary.BigEndian.Uint32(p.payload[1:])
			layer := byte(9)
			if kind == "audio" {
				layer = 0
			}
			if !bytes.Equal(p.payload, synthPayload(layer, n)) {
				t.Fatalf("%s packet %d: payload altered", kind, n)
			}
		}
		for i := 1; i < len(pkts); i++ {
			if pkts[i].seq != pkts[i-1].seq+1 {
				t.Errorf("%s: sequence jumps %d -> %d", kind, pkts[i-1].seq, pkts[i].seq)
			}
		}
	}
	met := srv.Metrics()
	if met.PacketsForwarded < 60 || met.BytesForwarded < 60*100 {
		t.Errorf("metrics %+v: want at least 60 packets / 6000 bytes forwarded", met)
	}
	if met.Participants["cell"] != 2 {
		t.Errorf("participants %v, want cell:2", met.Participants)
	}
}

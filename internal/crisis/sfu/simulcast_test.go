package sfu_test

import (
	"context"
	"testing"
	"time"

	"github.com/rempart/rempart/internal/crisis/sfu"
	"github.com/rempart/rempart/internal/crisis/sfu/sfuclient"
)

// TestSimulcastLayerSwitch: a receiver asking for "q" then "f" gets the
// matching rid's packets, as one stream with continuous sequence numbers
// and non-decreasing timestamps, switching only at frame starts; each
// switch asks the publisher for a keyframe on the new layer.
func TestSimulcastLayerSwitch(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	layers, err := alice.AddVideo("cam", []string{"q", "h", "f"})
	if err != nil {
		t.Fatal(err)
	}
	// Distinct frame sizes per layer, 3 packets per frame on "f".
	for i, s := range layers {
		go pump(ctx, s, byte(i), 33*time.Millisecond, i+1, 90000)
	}

	bob := join(t, srv, "cell", "bob", sfuclient.Options{})
	got := collect(bob.Client)
	lastLayer := func() int {
		pkts := got.snapshot("video")
		if len(pkts) == 0 {
			return -1
		}
		return int(pkts[len(pkts)-1].payload[0])
	}
	eventually(t, 10*time.Second, "video at bob", func() bool { return lastLayer() >= 0 })
	// Automatic choice with ample bandwidth: the highest layer.
	eventually(t, 5*time.Second, "layer f by default", func() bool { return lastLayer() == 2 })

	plisBefore := layers[0].PLIs.Load()
	if err := bob.Send(sfu.Message{Type: sfu.TypeLayer, Participant: "alice", Track: "cam", Layer: "q"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "layer q after request", func() bool { return lastLayer() == 0 })
	bob.waitMessage(t, 2*time.Second, func(m sfu.Message) bool { return m.Type == sfu.TypeLayer && m.Layer == "q" })
	if layers[0].PLIs.Load() <= plisBefore {
		t.Error("switching to q sent no PLI for q")
	}
	time.Sleep(300 * time.Millisecond)
	if err := bob.Send(sfu.Message{Type: sfu.TypeLayer, Participant: "alice", Track: "cam", Layer: "f"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "layer f after request", func() bool { return lastLayer() == 2 })
	time.Sleep(200 * time.Millisecond)

	pkts := got.snapshot("video")
	var switches int
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1], pkts[i]
		if b.seq != a.seq+1 {
			t.Fatalf("sequence gap %d -> %d at packet %d", a.seq, b.seq, i)
		}
		if int32(b.ts-a.ts) < 0 {
			t.Fatalf("timestamp goes back %d -> %d at packet %d", a.ts, b.ts, i)
		}
		if a.payload[0] != b.payload[0] {
			switches++
			if b.ts == a.ts {
				t.Fatalf("switch inside a frame at packet %d", i)
			}
			// The new layer starts at its frame's first packet.
			n := uint32(b.payload[1])<<24 | uint32(b.payload[2])<<16 | uint32(b.payload[3])<<8 | uint32(b.payload[4])
			if per := uint32(b.payload[0]) + 1; n%per != 0 {
				t.Fatalf("switch to layer %d in the middle of a frame (packet %d)", b.payload[0], n)
			}
		}
	}
	if switches < 2 {
		t.Fatalf("saw %d layer switches, want at least 2", switches)
	}
}

// TestWeakReceiverGetsLowerLayer: when a subscriber's link loses packets,
// the transport-wide congestion controller's estimate drops and the SFU
// moves it to a lower layer on its own, instead of letting it freeze.
func TestWeakReceiverGetsLowerLayer(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	layers, err := alice.AddVideo("cam", []string{"q", "h", "f"})
	if err != nil {
		t.Fatal(err)
	}
	// About 120 kbit/s, 400 kbit/s and 1.2 Mbit/s.
	shapes := []struct{ pkts, size int }{{1, 500}, {2, 800}, {5, 1000}}
	for i, s := range layers {
		go pumpSized(ctx, s, byte(i), 33*time.Millisecond, shapes[i].pkts, shapes[i].size)
	}
	conn := newNetConn(t)
	bob := join(t, srv, "cell", "bob", sfuclient.Options{UDPConn: conn})
	got := collect(bob.Client)
	eventually(t, 10*time.Second, "layer f at bob", func() bool {
		pkts := got.snapshot("video")
		return len(pkts) > 0 && pkts[len(pkts)-1].payload[0] == 2
	})
	conn.mu.Lock()
	conn.dropVideo = func(seq uint16) bool { return seq%3 == 0 } // a third of the video lost
	conn.mu.Unlock()
	m := bob.waitMessage(t, 15*time.Second, func(m sfu.Message) bool { return m.Type == sfu.TypeLayer && m.Layer != "f" })
	t.Logf("bob moved to layer %s under loss", m.Layer)
}

func pumpSized(ctx context.Context, s *sfuclient.Stream, layer byte, interval time.Duration, pkts, size int) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var ts uint32
	buf := make([]byte, size)
	buf[0] = layer
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ts += uint32(interval.Seconds() * 90000)
		for i := range pkts {
			_ = s.Write(buf, ts, i == pkts-1, 0)
		}
	}
}

// TestSwitchWaitsForMarkedKeyframe: when the publisher marks frames with a
// dependency descriptor (header extension, readable under SFrame), a layer
// switch starts exactly at a keyframe of the new layer, never at a delta
// frame.
func TestSwitchWaitsForMarkedKeyframe(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	alice := join(t, srv, "cell", "alice", sfuclient.Options{})
	layers, err := alice.AddVideo("cam", []string{"q", "h", "f"})
	if err != nil {
		t.Fatal(err)
	}
	// Keyframes every 15th frame (about 0.5 s), at different phases per
	// layer; payload byte 5 says whether the frame is a keyframe.
	for i, s := range layers {
		go pumpKeyframes(ctx, s, byte(i), 15, i*5)
	}
	bob := join(t, srv, "cell", "bob", sfuclient.Options{})
	got := collect(bob.Client)
	lastLayer := func() int {
		pkts := got.snapshot("video")
		if len(pkts) == 0 {
			return -1
		}
		return int(pkts[len(pkts)-1].payload[0])
	}
	eventually(t, 10*time.Second, "layer f at bob", func() bool { return lastLayer() == 2 })
	if err := bob.Send(sfu.Message{Type: sfu.TypeLayer, Participant: "alice", Track: "cam", Layer: "q"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "layer q", func() bool { return lastLayer() == 0 })
	if err := bob.Send(sfu.Message{Type: sfu.TypeLayer, Participant: "alice", Track: "cam", Layer: "h"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "layer h", func() bool { return lastLayer() == 1 })

	pkts := got.snapshot("video")
	switches := 0
	for i := 1; i < len(pkts); i++ {
		if pkts[i].payload[0] != pkts[i-1].payload[0] {
			switches++
			if pkts[i].payload[5] != 1 {
				t.Fatalf("switch to layer %d at a delta frame (packet %d)", pkts[i].payload[0], i)
			}
		}
	}
	if switches < 2 {
		t.Fatalf("%d switches, want 2", switches)
	}
}

// pumpKeyframes sends one-packet frames at 30 frames/s with a dependency
// descriptor: start and end of frame, template structure attached on
// keyframes (every period frames, from phase).
func pumpKeyframes(ctx context.Context, s *sfuclient.Stream, layer byte, period, phase int) {
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	var ts uint32
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ts += 3000
		key := (n+phase)%period == 0
		dd := []byte{0xc0, byte(n >> 8), byte(n)} // start+end of frame, template 0, frame number
		if key {
			dd = append(dd, 0x80, 0, 0, 0) // template_dependency_structure_present_flag (+ filler)
		}
		payload := make([]byte, 50)
		payload[0] = layer
		if key {
			payload[5] = 1
		}
		_ = s.WriteDD(payload, ts, true, 0, dd)
	}
}

package sfu_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/rempart/rempart/internal/crisis/sfu"
	"github.com/rempart/rempart/internal/crisis/sfu/sfuclient"
)

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("SFU_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// newServer starts an SFU on one loopback UDP port with short timeouts.
func newServer(t *testing.T) *sfu.Server {
	t.Helper()
	srv, err := sfu.NewServer(sfu.Config{
		UDPMux:                 "127.0.0.1:0",
		Loopback:               true,
		ICEDisconnectedTimeout: time.Second,
		ICEFailedTimeout:       2 * time.Second,
		ICEKeepalive:           250 * time.Millisecond,
		ConnectTimeout:         10 * time.Second,
		Logger:                 testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// peer is a test participant: a Pion client joined over an in-memory pipe.
type peer struct {
	*sfuclient.Client
	id     string
	cancel context.CancelFunc // ends the client's signalling (its side of the pipe closes)
	joined chan error         // Server.Join's result
}

// join connects a participant; before runs before signalling starts, so
// tracks published there go in the client's first offer (no glare).
func join(t *testing.T, srv *sfu.Server, room, id string, opts sfuclient.Options, before ...func(*peer)) *peer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	c, err := sfuclient.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	srvCtx, srvCancel := context.WithCancel(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	p := &peer{Client: c, id: id, cancel: cancel, joined: make(chan error, 1)}
	for _, f := range before {
		f(p)
	}
	go func() { p.joined <- srv.Join(srvCtx, room, id, sfu.NewStreamSignal(a)) }()
	go func() { _ = c.Run(ctx, sfu.NewStreamSignal(b)) }()
	t.Cleanup(func() {
		cancel()
		srvCancel()
		_ = c.Close()
	})
	return p
}

// waitJoinEnd waits for the server side of p's session to end.
func (p *peer) waitJoinEnd(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.joined:
		return err
	case <-time.After(d):
		t.Fatalf("%s: session still running after %v", p.id, d)
		return nil
	}
}

// waitMessage waits for a server message matching ok.
func (p *peer) waitMessage(t *testing.T, d time.Duration, ok func(sfu.Message) bool) sfu.Message {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-p.Messages:
			if ok(m) {
				return m
			}
		case <-deadline:
			t.Fatalf("%s: no matching message within %v", p.id, d)
			return sfu.Message{}
		}
	}
}

// pump writes synthetic packets on a stream until ctx ends: frames of
// pktsPerFrame packets every interval; the payload carries the layer, a
// packet counter and an incrementing byte pattern.
func pump(ctx context.Context, s *sfuclient.Stream, layer byte, interval time.Duration, pktsPerFrame int, clock uint32) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var ts, n uint32
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ts += uint32(interval.Seconds() * float64(clock))
		for i := range pktsPerFrame {
			_ = s.Write(synthPayload(layer, n), ts, i == pktsPerFrame-1, 30)
			n++
		}
	}
}

func synthPayload(layer byte, n uint32) []byte {
	b := make([]byte, 100)
	b[0] = layer
	binary.BigEndian.PutUint32(b[1:], n)
	for i := 5; i < len(b); i++ {
		b[i] = byte(n) + byte(i)
	}
	return b
}

// received collects what a subscriber got on its tracks.
type received struct {
	mu   sync.Mutex
	pkts map[string][]recvPkt // by kind
	ssrc map[string]webrtc.SSRC
}

type recvPkt struct {
	seq     uint16
	ts      uint32
	payload []byte
}

func collect(c *sfuclient.Client) *received {
	r := &received{pkts: map[string][]recvPkt{}, ssrc: map[string]webrtc.SSRC{}}
	c.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		kind := tr.Kind().String()
		r.mu.Lock()
		r.ssrc[kind] = tr.SSRC()
		r.mu.Unlock()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					return
				}
				return
			}
			r.mu.Lock()
			r.pkts[kind] = append(r.pkts[kind], recvPkt{p.SequenceNumber, p.Timestamp, append([]byte(nil), p.Payload...)})
			r.mu.Unlock()
		}
	})
	return r
}

func (r *received) snapshot(kind string) []recvPkt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recvPkt(nil), r.pkts[kind]...)
}

func (r *received) ssrcOf(kind string) webrtc.SSRC {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ssrc[kind]
}

// eventually polls cond until it holds or d elapses.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

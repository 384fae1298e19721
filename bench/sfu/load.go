package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/rempart/rempart/internal/crisis/sfu"
	"github.com/rempart/rempart/internal/crisis/sfu/sfuclient"
)

// Synthetic camera: 30 frames/s on every layer, sized like a VP8 simulcast
// at 180p/360p/720p (about 150 kbit/s, 500 kbit/s, 1.3 Mbit/s).
var layerShape = []struct {
	rid        string
	pkts, size int
}{{"q", 1, 600}, {"h", 2, 1000}, {"f", 5, 1100}}

const (
	frameInterval = time.Second / 30
	audioInterval = 20 * time.Millisecond
	audioSize     = 80
)

// latency is a histogram of send-to-receive delays in 50 µs buckets.
type latency struct {
	buckets [40000]atomic.Int64 // up to 2 s
}

func (l *latency) add(d time.Duration) {
	i := int(d / (50 * time.Microsecond))
	if i < 0 {
		i = 0
	}
	if i >= len(l.buckets) {
		i = len(l.buckets) - 1
	}
	l.buckets[i].Add(1)
}

func (l *latency) reset() {
	for i := range l.buckets {
		l.buckets[i].Store(0)
	}
}

func (l *latency) quantile(q float64) time.Duration {
	var total int64
	for i := range l.buckets {
		total += l.buckets[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := int64(q * float64(total))
	var acc int64
	for i := range l.buckets {
		acc += l.buckets[i].Load()
		if acc > want {
			return time.Duration(i+1) * 50 * time.Microsecond
		}
	}
	return time.Duration(len(l.buckets)) * 50 * time.Microsecond
}

// load is the set of synthetic participants.
type load struct {
	o        options
	ch       *child
	lat      latency
	received atomic.Int64
	tracks   atomic.Int64 // tracks being received, all participants
	log      *slog.Logger
	wg       sync.WaitGroup
}

func (l *load) join(ctx context.Context, id string, publish bool, speaker string) error {
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return fmt.Errorf("bench: client socket: %w", err)
	}
	_ = udp.SetReadBuffer(1 << 20)
	c, err := sfuclient.New(sfuclient.Options{NoNACK: true, Logger: l.log, UDPConn: udp})
	if err != nil {
		return fmt.Errorf("bench: client: %w", err)
	}
	c.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { l.receive(t) })
	if publish {
		// Published before signalling starts so the first offer carries
		// them (see sfuclient on glare).
		rids := make([]string, 0, l.o.layers)
		for _, s := range layerShape[:l.o.layers] {
			rids = append(rids, s.rid)
		}
		if l.o.layers == 1 {
			rids = nil
		}
		vids, err := c.AddVideo("cam", rids)
		if err != nil {
			return fmt.Errorf("bench: add video: %w", err)
		}
		mic, err := c.AddAudio("mic")
		if err != nil {
			return fmt.Errorf("bench: add audio: %w", err)
		}
		l.wg.Add(2)
		go func() { defer l.wg.Done(); sendVideo(ctx, vids) }()
		go func() { defer l.wg.Done(); sendAudio(ctx, mic) }()
	}
	conn, err := l.ch.dial(id)
	if err != nil {
		return err
	}
	sig := sfu.NewStreamSignal(conn)
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		_ = c.Run(ctx, sig)
		_ = c.Close()
	}()
	go func() { defer l.wg.Done(); l.requestLayers(ctx, c, speaker) }()
	return nil
}

// requestLayers plays the grid: every tile small (q) but the speaker's (f).
func (l *load) requestLayers(ctx context.Context, c *sfuclient.Client, speaker string) {
	asked := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-c.Messages:
			if m.Type != sfu.TypeTracks || !l.o.grid {
				continue
			}
			for _, t := range m.Tracks {
				if t.Kind != "video" || len(t.Layers) == 0 || asked[t.Participant] {
					continue
				}
				asked[t.Participant] = true
				layer := "q"
				if t.Participant == speaker {
					layer = layerShape[l.o.layers-1].rid
				}
				_ = c.Send(sfu.Message{Type: sfu.TypeLayer, Participant: t.Participant, Track: t.Track, Layer: layer})
			}
		}
	}
}

// receive counts packets and measures the delay from the send timestamp
// carried in the first 8 payload bytes.
func (l *load) receive(t *webrtc.TrackRemote) {
	l.tracks.Add(1)
	defer l.tracks.Add(-1)
	buf := make([]byte, 1500)
	for {
		n, _, err := t.Read(buf)
		if err != nil {
			if err != io.EOF {
				return
			}
			return
		}
		now := time.Now()
		l.received.Add(1)
		if off := payloadOffset(buf[:n]); off > 0 && n >= off+8 {
			sent := int64(binary.BigEndian.Uint64(buf[off:])) //nolint:gosec // our own timestamps
			l.lat.add(now.Sub(time.Unix(0, sent)))
		}
	}
}

// payloadOffset skips the RTP header, CSRCs and extensions.
func payloadOffset(b []byte) int {
	if len(b) < 12 {
		return -1
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return -1
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	return off
}

func stamp(b []byte) {
	binary.BigEndian.PutUint64(b, uint64(time.Now().UnixNano())) //nolint:gosec // positive
}

func sendVideo(ctx context.Context, layers []*sfuclient.Stream) {
	tick := time.NewTicker(frameInterval)
	defer tick.Stop()
	var ts uint32
	bufs := make([][]byte, len(layers))
	for i := range layers {
		bufs[i] = make([]byte, layerShape[i].size)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ts += 3000
		for i, s := range layers {
			shape := layerShape[i]
			for k := range shape.pkts {
				stamp(bufs[i])
				_ = s.Write(bufs[i], ts, k == shape.pkts-1, 0)
			}
		}
	}
}

func sendAudio(ctx context.Context, s *sfuclient.Stream) {
	tick := time.NewTicker(audioInterval)
	defer tick.Stop()
	var ts uint32
	buf := make([]byte, audioSize)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ts += 960
		stamp(buf)
		_ = s.Write(buf, ts, false, 40)
	}
}

// result is one measurement window.
type result struct {
	wall                 time.Duration
	sfuCPU, clientCPU    float64 // seconds
	forwarded, received  int64
	rssKB, hwmKB         int64
	p50, p95, p99        time.Duration
	sfu50, sfu99         time.Duration
	stalls               uint64
	expectedTracks, seen int64
}

func run(ctx context.Context, o options) (*result, error) {
	ch, err := startChild(ctx, o)
	if err != nil {
		return nil, err
	}
	defer ch.stop()
	lctx, stop := context.WithCancel(ctx)
	l := &load{o: o, ch: ch, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	defer func() { stop(); l.wg.Wait() }()

	for i := range o.publishers {
		if err := l.join(lctx, fmt.Sprintf("pub%02d", i), true, "pub00"); err != nil {
			return nil, err
		}
		time.Sleep(30 * time.Millisecond)
	}
	for i := range o.subscribers {
		if err := l.join(lctx, fmt.Sprintf("sub%02d", i), false, "pub00"); err != nil {
			return nil, err
		}
		time.Sleep(30 * time.Millisecond)
	}
	// Every participant receives audio + video of every other publisher.
	expected := int64(o.publishers*(o.publishers-1)*2 + o.subscribers*o.publishers*2)
	deadline := time.Now().Add(60 * time.Second)
	for l.tracks.Load() < expected && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(o.warmup)

	pid := ch.cmd.Process.Pid
	self := os.Getpid()
	m0, err := ch.metrics()
	if err != nil {
		return nil, err
	}
	c0, _ := cpuSeconds(pid)
	s0, _ := cpuSeconds(self)
	r0 := l.received.Load()
	l.lat.reset()
	start := time.Now()
	select {
	case <-time.After(o.duration):
	case <-ctx.Done():
		return nil, fmt.Errorf("bench: %w", ctx.Err())
	}
	res := &result{wall: time.Since(start), expectedTracks: expected, seen: l.tracks.Load()}
	m1, err := ch.metrics()
	if err != nil {
		return nil, err
	}
	c1, _ := cpuSeconds(pid)
	s1, _ := cpuSeconds(self)
	res.sfuCPU, res.clientCPU = c1-c0, s1-s0
	res.forwarded = int64(m1.PacketsForwarded - m0.PacketsForwarded) //nolint:gosec // counters
	res.received = l.received.Load() - r0
	res.rssKB, res.hwmKB = memKB(pid, "VmRSS"), memKB(pid, "VmHWM")
	res.p50, res.p95, res.p99 = l.lat.quantile(0.5), l.lat.quantile(0.95), l.lat.quantile(0.99)
	var window sfu.Metrics
	for i := range window.ForwardDelay {
		window.ForwardDelay[i] = m1.ForwardDelay[i] - m0.ForwardDelay[i]
	}
	res.sfu50, res.sfu99 = window.DelayQuantile(0.5), window.DelayQuantile(0.99)
	res.stalls = m1.SendStalls - m0.SendStalls
	return res, nil
}

func (r *result) print(w io.Writer, o options) {
	secs := r.wall.Seconds()
	parts := o.publishers + o.subscribers
	pps := float64(r.forwarded) / secs
	cores := r.sfuCPU / secs
	perCore := 0.0
	if r.sfuCPU > 0 {
		perCore = float64(r.forwarded) / r.sfuCPU
	}
	grid := "grid (q tiles, speaker f)"
	if !o.grid {
		grid = "automatic (bandwidth estimate)"
	}
	fmt.Fprintf(w, "| SFU load test | value |\n|---|---|\n")
	fmt.Fprintf(w, "| participants | %d publishers (audio + %d-layer camera) + %d subscribers |\n", o.publishers, o.layers, o.subscribers)
	fmt.Fprintf(w, "| layer choice | %s; bwe=%v |\n", grid, o.bwe)
	fmt.Fprintf(w, "| tracks received / expected | %d / %d |\n", r.seen, r.expectedTracks)
	fmt.Fprintf(w, "| window | %.1f s |\n", secs)
	fmt.Fprintf(w, "| forwarded packets/s | %.0f |\n", pps)
	fmt.Fprintf(w, "| received by clients / forwarded | %.3f |\n", float64(r.received)/max(1, float64(r.forwarded)))
	fmt.Fprintf(w, "| SFU CPU | %.2f cores (%.0f%% of the %d-core machine) |\n", cores, 100*cores/float64(numCPU()), numCPU())
	fmt.Fprintf(w, "| **forwarded packets/s per SFU core** | **%.0f** |\n", perCore)
	fmt.Fprintf(w, "| SFU CPU per participant | %.1f%% of a core |\n", 100*cores/float64(parts))
	fmt.Fprintf(w, "| SFU memory (RSS / peak) | %.1f MiB / %.1f MiB |\n", float64(r.rssKB)/1024, float64(r.hwmKB)/1024)
	fmt.Fprintf(w, "| SFU memory per participant | %.2f MiB |\n", float64(r.rssKB)/1024/float64(parts))
	fmt.Fprintf(w, "| time inside the SFU p50 / p99 (power-of-2 buckets) | ≤ %v / ≤ %v |\n", r.sfu50, r.sfu99)
	fmt.Fprintf(w, "| sends that waited for the socket writer | %d (%.2f%%) |\n", r.stalls, 100*float64(r.stalls)/max(1, float64(r.forwarded)))
	fmt.Fprintf(w, "| end-to-end latency p50 / p95 / p99 (client send to client read) | %v / %v / %v |\n", r.p50, r.p95, r.p99)
	fmt.Fprintf(w, "| load clients' CPU (same machine) | %.2f cores |\n", r.clientCPU/secs)
}

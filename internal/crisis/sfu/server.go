package sfu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
)

// Server is the SFU: rooms of participants sharing one network setup.
type Server struct {
	cfg      Config
	log      *slog.Logger
	settings webrtc.SettingEngine
	mux      ice.UDPMux
	udp      net.PacketConn
	batch    *batchConn

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool

	metrics counters
}

// NewServer prepares the network (the UDP mux socket when configured).
func NewServer(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, rooms: map[string]*room{}}
	if cfg.UDPMux != "" {
		addr, err := net.ResolveUDPAddr("udp4", cfg.UDPMux)
		if err != nil {
			return nil, fmt.Errorf("sfu: udp mux address: %w", err)
		}
		conn, err := net.ListenUDP("udp4", addr)
		if err != nil {
			return nil, fmt.Errorf("sfu: listen udp mux: %w", err)
		}
		// Every participant's media arrives on this one socket: a deep
		// kernel buffer absorbs bursts (keyframes, scheduling hiccups).
		_ = conn.SetReadBuffer(4 << 20)
		_ = conn.SetWriteBuffer(4 << 20)
		bc := newBatchConn(conn, s.log)
		s.udp, s.batch = bc, bc
		s.mux = webrtc.NewICEUDPMux(logging.NewDefaultLoggerFactory().NewLogger("sfu-mux"), bc)
	}
	se, err := newSettingEngine(cfg, s.mux)
	if err != nil {
		s.closeMux()
		return nil, err
	}
	s.settings = se
	return s, nil
}

// UDPAddr is the shared UDP socket's address, or nil without a mux.
func (s *Server) UDPAddr() net.Addr {
	if s.udp == nil {
		return nil
	}
	return s.udp.LocalAddr()
}

func (s *Server) closeMux() {
	if s.mux != nil {
		_ = s.mux.Close()
	}
	if s.udp != nil {
		_ = s.udp.Close()
	}
}

// Close ends every session and releases the UDP socket.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	var parts []*participant
	for _, r := range s.rooms {
		parts = append(parts, r.all()...)
	}
	s.mu.Unlock()
	for _, p := range parts {
		p.end(errors.New("sfu: server closing"))
	}
	s.closeMux()
	return nil
}

// Join runs participantID's session in roomName over sig until the client
// says "leave" (nil), ctx ends, the signal transport fails, or the
// PeerConnection is lost (ErrGone, after the ICE timeouts) or replaced by a
// new session of the same participant (ErrReplaced). The caller has
// authenticated the participant and authorised the room.
func (s *Server) Join(ctx context.Context, roomName, participantID string, sig Signal) error {
	r, err := s.enter(roomName)
	if err != nil {
		return err
	}
	defer s.exit(r)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	p := newParticipant(s, r, participantID, sig)
	if err := p.setup(); err != nil {
		return err
	}
	p.log.Info("sfu: join")
	r.add(p)
	err = p.run(ctx)
	r.remove(p)
	p.close()
	p.log.Info("sfu: leave", "reason", err)
	return err
}

func (s *Server) enter(name string) (*room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("sfu: server closed")
	}
	r := s.rooms[name]
	if r == nil {
		r = newRoom(s, name)
		s.rooms[name] = r
	}
	r.members++
	return r, nil
}

func (s *Server) exit(r *room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.members--
	if r.members == 0 {
		r.cancel()
		delete(s.rooms, r.name)
	}
}

// counters are updated on the forwarding path, hence atomics.
type counters struct {
	packets, bytes   atomic.Uint64
	pliReceived      atomic.Uint64
	keyframeRequests atomic.Uint64
	retransmitted    atomic.Uint64
	// delay[i] counts forwarded packets that spent [2^i, 2^(i+1)) µs
	// between leaving the publisher's SRTP session and being handed to the
	// subscriber's socket.
	delay [delayBuckets]atomic.Uint64
}

const delayBuckets = 20

func (c *counters) observeDelay(d time.Duration) {
	us := uint64(max(d.Microseconds(), 1)) //nolint:gosec // positive
	c.delay[min(bits.Len64(us)-1, delayBuckets-1)].Add(1)
}

// Metrics is a snapshot of the SFU's activity, for Prometheus export.
type Metrics struct {
	PacketsForwarded uint64 // RTP packets sent to subscribers
	BytesForwarded   uint64 // RTP payload bytes sent to subscribers
	PLIReceived      uint64 // keyframe requests from subscribers
	KeyframeRequests uint64 // PLIs sent to publishers (rate limited)
	Retransmitted    uint64 // packets resent to subscribers on NACK
	SendStalls       uint64 // sends that waited for the shared socket's writer
	// ForwardDelay[i] counts packets that spent [2^i, 2^(i+1)) µs inside
	// the SFU (read from the publisher to handed to the subscriber's
	// socket), a histogram for the added-latency export.
	ForwardDelay [delayBuckets]uint64
	Participants map[string]int // per room
}

// Metrics returns the current counters.
func (s *Server) Metrics() Metrics {
	m := Metrics{
		PacketsForwarded: s.metrics.packets.Load(),
		BytesForwarded:   s.metrics.bytes.Load(),
		PLIReceived:      s.metrics.pliReceived.Load(),
		KeyframeRequests: s.metrics.keyframeRequests.Load(),
		Retransmitted:    s.metrics.retransmitted.Load(),
		Participants:     map[string]int{},
	}
	if s.batch != nil {
		m.SendStalls = s.batch.stalls.Load()
	}
	for i := range m.ForwardDelay {
		m.ForwardDelay[i] = s.metrics.delay[i].Load()
	}
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		m.Participants[r.name] = len(r.parts)
		r.mu.Unlock()
	}
	return m
}

// DelayQuantile estimates the q-quantile of ForwardDelay (upper bucket
// bound), or 0 without data.
func (m Metrics) DelayQuantile(q float64) time.Duration {
	var total uint64
	for _, n := range m.ForwardDelay {
		total += n
	}
	if total == 0 {
		return 0
	}
	want := uint64(q * float64(total))
	var acc uint64
	for i, n := range m.ForwardDelay {
		acc += n
		if acc > want {
			return time.Duration(1<<(i+1)) * time.Microsecond
		}
	}
	return time.Duration(1<<delayBuckets) * time.Microsecond
}

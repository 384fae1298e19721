package sfu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"
)

// Errors ending a participant's session.
var (
	ErrGone     = errors.New("sfu: peer connection lost")
	ErrReplaced = errors.New("sfu: replaced by a new session of the same participant")
	ErrTimeout  = errors.New("sfu: peer connection never connected")
)

// participant is one member in a room with its PeerConnection. All
// signalling (descriptions, transceivers) happens in its run goroutine;
// other goroutines post ops and kick it.
type participant struct {
	id   string
	room *room
	srv  *Server
	sig  Signal
	api  *webrtc.API
	pc   *webrtc.PeerConnection
	log  *slog.Logger

	gone     chan error // first error ends the session
	goneOnce sync.Once
	kick     chan struct{}

	mu      sync.Mutex
	ops     []func() error
	ups     map[string]*upTrack
	downs   map[*upTrack]*downTrack
	est     cc.BandwidthEstimator
	closed  bool
	pending []webrtc.ICECandidateInit // remote candidates before a remote description

	// Transceivers whose track went away, reused for the next track of the
	// same kind so that m-lines do not pile up as people come and go.
	// Owned by run.
	free map[webrtc.RTPCodecType][]*webrtc.RTPTransceiver

	needNeg     bool      // owned by run
	negotiating bool      // first description applied; the connect timer runs
	joined      time.Time // for firstOfferDelay
	clientSpoke bool      // the client sent its first offer

	outMu  sync.Mutex
	out    []Message
	outSig chan struct{}
}

func newParticipant(srv *Server, r *room, id string, sig Signal) *participant {
	return &participant{
		id: id, room: r, srv: srv, sig: sig,
		log:    srv.log.With("room", r.name, "participant", id),
		gone:   make(chan error, 1),
		joined: time.Now(),
		kick:   make(chan struct{}, 1),
		outSig: make(chan struct{}, 1),
		ups:    map[string]*upTrack{},
		downs:  map[*upTrack]*downTrack{},
		free:   map[webrtc.RTPCodecType][]*webrtc.RTPTransceiver{},
	}
}

func (p *participant) end(err error) {
	p.goneOnce.Do(func() { p.gone <- err })
}

func (p *participant) estimator() cc.BandwidthEstimator {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.est
}

func (p *participant) downList() []*downTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*downTrack, 0, len(p.downs))
	for _, d := range p.downs {
		out = append(out, d)
	}
	return out
}

// post queues an op for the run goroutine.
func (p *participant) post(op func() error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.ops = append(p.ops, op)
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// send queues a message; a writer goroutine keeps slow clients from
// blocking the forwarding or signalling paths.
func (p *participant) send(m Message) {
	p.outMu.Lock()
	p.out = append(p.out, m)
	p.outMu.Unlock()
	select {
	case p.outSig <- struct{}{}:
	default:
	}
}

func (p *participant) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.outSig:
		}
		p.outMu.Lock()
		batch := p.out
		p.out = nil
		p.outMu.Unlock()
		for _, m := range batch {
			if err := p.sig.Send(m); err != nil {
				p.end(fmt.Errorf("sfu: signal: %w", err))
				return
			}
		}
	}
}

// setup creates the PeerConnection and its callbacks.
func (p *participant) setup() error {
	api, err := p.srv.newAPI(func(e cc.BandwidthEstimator) {
		p.mu.Lock()
		p.est = e
		p.mu.Unlock()
	})
	if err != nil {
		return err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return fmt.Errorf("sfu: new peer connection: %w", err)
	}
	p.api, p.pc = api, pc
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		p.send(Message{Type: TypeCandidate, Candidate: &init})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("sfu: connection state", "state", s.String())
		switch s {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			p.end(fmt.Errorf("%w: %s", ErrGone, s))
		}
	})
	pc.OnTrack(p.onTrack)
	return nil
}

func (p *participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	t := p.ups[remote.ID()]
	isNew := t == nil
	if isNew {
		t = newUpTrack(p, remote)
		p.ups[t.id] = t
	}
	p.mu.Unlock()
	l := t.addLayer(remote, recv)
	if l == nil {
		return
	}
	p.log.Debug("sfu: publishing", "track", t.id, "kind", t.kind.String(), "rid", l.rid)
	go drainRTCP(recv, remote.RID())
	if isNew {
		p.room.publish(t)
	}
	go func() {
		l.readLoop()
		if t.removeLayer(l) {
			p.mu.Lock()
			if p.ups[t.id] == t {
				delete(p.ups, t.id)
			}
			p.mu.Unlock()
			p.room.unpublish(t)
		}
	}()
}

// subscribe makes p receive t.
func (p *participant) subscribe(t *upTrack) {
	d := newDownTrack(t, p)
	p.mu.Lock()
	if p.closed || p.downs[t] != nil {
		p.mu.Unlock()
		return
	}
	p.downs[t] = d
	// Under p.mu so that a concurrent remove either sees d or runs first.
	t.addDown(d)
	p.mu.Unlock()
	p.post(func() error {
		sender, err := p.addSender(d)
		if err != nil {
			return fmt.Errorf("sfu: add track %s/%s: %w", t.pub.id, t.id, err)
		}
		d.sender = sender
		go d.readRTCP()
		if t.kind == webrtc.RTPCodecTypeVideo {
			d.choose(time.Now(), float64(p.srv.cfg.InitialBitrate), true)
		}
		p.needNeg = true
		return nil
	})
}

// unsubscribe stops sending t to p.
func (p *participant) unsubscribe(t *upTrack) {
	p.mu.Lock()
	d := p.downs[t]
	delete(p.downs, t)
	p.mu.Unlock()
	if d == nil {
		return
	}
	t.removeDown(d)
	p.post(func() error {
		if d.sender == nil {
			return nil
		}
		var tr *webrtc.RTPTransceiver
		for _, x := range p.pc.GetTransceivers() {
			if x.Sender() == d.sender {
				tr = x
			}
		}
		if err := p.pc.RemoveTrack(d.sender); err != nil {
			if errors.Is(err, webrtc.ErrConnectionClosed) {
				return nil
			}
			return fmt.Errorf("sfu: remove track: %w", err)
		}
		if tr != nil {
			p.free[t.kind] = append(p.free[t.kind], tr)
		}
		p.needNeg = true
		return nil
	})
}

// addSender sends d on a free transceiver of its kind, or a new one.
func (p *participant) addSender(d *downTrack) (*webrtc.RTPSender, error) {
	kind := d.Kind()
	for len(p.free[kind]) > 0 {
		tr := p.free[kind][0]
		p.free[kind] = p.free[kind][1:]
		if tr.Sender() != nil || tr.Direction() != webrtc.RTPTransceiverDirectionInactive {
			continue // no longer idle (should not happen), leave it alone
		}
		sender, err := p.api.NewRTPSender(d, p.pc.SCTP().Transport())
		if err != nil {
			return nil, fmt.Errorf("sfu: new sender: %w", err)
		}
		if err := tr.SetSender(sender, d); err != nil {
			_ = sender.Stop()
			return nil, fmt.Errorf("sfu: reuse transceiver: %w", err)
		}
		return sender, nil
	}
	tr, err := p.pc.AddTransceiverFromTrack(d, webrtc.RTPTransceiverInit{
		Direction: webrtc.RTPTransceiverDirectionSendonly,
	})
	if err != nil {
		return nil, fmt.Errorf("sfu: add transceiver: %w", err)
	}
	return tr.Sender(), nil
}

// close tears the PeerConnection down; the room already forgot p.
func (p *participant) close() {
	p.mu.Lock()
	p.closed = true
	p.ops = nil
	p.mu.Unlock()
	if err := p.pc.Close(); err != nil {
		p.log.Debug("sfu: close peer connection", "err", err)
	}
}

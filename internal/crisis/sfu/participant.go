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

// adaptInterval is how often each subscriber's layers are re-chosen.
const adaptInterval = 500 * time.Millisecond

// firstOfferDelay holds the server's first offer back so that a client
// publishing at once makes the first offer: glare cannot happen on the
// very first exchange, the one every session goes through. A client with
// nothing to publish gets the server's offer after this delay.
const firstOfferDelay = time.Second

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

// run is the participant's signalling loop; it returns nil on "leave".
func (p *participant) run(ctx context.Context) error {
	recv := make(chan Message)
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := p.sig.Recv(ctx)
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case recv <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	go p.writeLoop(ctx)
	tick := time.NewTicker(adaptInterval)
	defer tick.Stop()
	// The connect timer starts with the first applied description: a
	// client may legitimately wait before publishing or subscribing.
	connect := time.NewTimer(time.Hour)
	connect.Stop()
	defer connect.Stop()
	var connectTimer <-chan time.Time
	for {
		if p.negotiating && connectTimer == nil {
			connect.Reset(p.srv.cfg.ConnectTimeout)
			connectTimer = connect.C
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sfu: session: %w", ctx.Err())
		case err := <-recvErr:
			return fmt.Errorf("sfu: signal: %w", err)
		case err := <-p.gone:
			return err
		case <-connectTimer:
			if p.pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
				return ErrTimeout
			}
		case m := <-recv:
			if m.Type == TypeLeave {
				return nil
			}
			if err := p.handle(m); err != nil {
				p.log.Warn("sfu: signalling", "type", m.Type, "err", err)
				p.send(Message{Type: TypeError, Error: err.Error()})
			}
		case <-p.kick:
		case now := <-tick.C:
			p.adapt(now, nil)
		}
		if err := p.runOps(); err != nil {
			p.log.Warn("sfu: track update", "err", err)
		}
		if err := p.negotiate(); err != nil {
			p.log.Warn("sfu: negotiate", "err", err)
		}
	}
}

func (p *participant) runOps() error {
	p.mu.Lock()
	ops := p.ops
	p.ops = nil
	p.mu.Unlock()
	var errs []error
	for _, op := range ops {
		if err := op(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// negotiate sends a server offer if tracks changed and no offer/answer
// exchange is in flight.
func (p *participant) negotiate() error {
	if !p.needNeg || p.pc.SignalingState() != webrtc.SignalingStateStable {
		return nil
	}
	if !p.clientSpoke && time.Since(p.joined) < firstOfferDelay {
		return nil // retried on the next tick
	}
	p.needNeg = false
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("sfu: create offer: %w", err)
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("sfu: set local offer: %w", err)
	}
	p.sendTracks()
	p.send(Message{Type: TypeOffer, SDP: offer.SDP})
	return nil
}

// sendTracks tells the client which mid carries whose track.
func (p *participant) sendTracks() {
	mids := map[webrtc.TrackLocal]string{}
	for _, tr := range p.pc.GetTransceivers() {
		if s := tr.Sender(); s != nil && s.Track() != nil {
			mids[s.Track()] = tr.Mid()
		}
	}
	tracks := []TrackInfo{}
	for _, d := range p.downList() {
		tracks = append(tracks, TrackInfo{
			Participant: d.up.pub.id, Track: d.up.id, Stream: d.up.pub.id,
			Kind: d.up.kind.String(), Mid: mids[d], Layers: d.up.rids(), Muted: d.up.muted.Load(),
		})
	}
	p.send(Message{Type: TypeTracks, Tracks: tracks})
}

func (p *participant) handle(m Message) error {
	switch m.Type {
	case TypeOffer:
		if p.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
			// Glare: the server is the impolite peer, the client rolls back.
			return nil
		}
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
			return fmt.Errorf("sfu: set remote offer: %w", err)
		}
		p.negotiating, p.clientSpoke = true, true
		p.flushCandidates()
		answer, err := p.pc.CreateAnswer(nil)
		if err != nil {
			return fmt.Errorf("sfu: create answer: %w", err)
		}
		if err := p.pc.SetLocalDescription(answer); err != nil {
			return fmt.Errorf("sfu: set local answer: %w", err)
		}
		p.send(Message{Type: TypeAnswer, SDP: answer.SDP})
	case TypeAnswer:
		if p.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
			return nil // stale answer to an offer superseded by a rollback
		}
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			return fmt.Errorf("sfu: set remote answer: %w", err)
		}
		p.negotiating = true
		p.flushCandidates()
	case TypeCandidate:
		if m.Candidate == nil {
			return nil
		}
		if p.pc.RemoteDescription() == nil {
			p.pending = append(p.pending, *m.Candidate)
			return nil
		}
		if err := p.pc.AddICECandidate(*m.Candidate); err != nil {
			return fmt.Errorf("sfu: add candidate: %w", err)
		}
	case TypeLayer:
		return p.requestLayer(m)
	case TypeMute:
		p.mu.Lock()
		t := p.ups[m.Track]
		p.mu.Unlock()
		if t == nil {
			return fmt.Errorf("sfu: mute: unknown track %q", m.Track)
		}
		t.muted.Store(m.Muted)
		p.room.broadcast(p, Message{Type: TypeMute, Participant: p.id, Track: t.id, Muted: m.Muted})
	default:
		return fmt.Errorf("sfu: unknown message type %q", m.Type)
	}
	return nil
}

func (p *participant) flushCandidates() {
	for _, c := range p.pending {
		if err := p.pc.AddICECandidate(c); err != nil {
			p.log.Debug("sfu: add candidate", "err", err)
		}
	}
	p.pending = nil
}

func (p *participant) requestLayer(m Message) error {
	rank := maxLayers - 1
	if m.Layer != "" {
		rank = -1
		for i, n := range layerNames {
			if n == m.Layer {
				rank = i
			}
		}
		if rank < 0 {
			return fmt.Errorf("sfu: unknown layer %q", m.Layer)
		}
	}
	var d *downTrack
	for _, x := range p.downList() {
		if x.up.pub.id == m.Participant && x.up.id == m.Track {
			d = x
		}
	}
	if d == nil {
		return fmt.Errorf("sfu: layer: no track %s/%s", m.Participant, m.Track)
	}
	d.mu.Lock()
	d.requested = rank
	d.mu.Unlock()
	p.adapt(time.Now(), d)
	return nil
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

package sfu

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
)

// adaptInterval is how often each subscriber's layers are re-chosen.
const adaptInterval = 500 * time.Millisecond

// firstOfferDelay holds the server's first offer back so that a client
// publishing at once makes the first offer: glare cannot happen on the
// very first exchange, the one every session goes through. A client with
// nothing to publish gets the server's offer after this delay.
const firstOfferDelay = time.Second

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

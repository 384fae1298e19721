// Package sfuclient owns a Pion-based client of the crisis room SFU. It
// publishes synthetic media and receives tracks; the SFU's tests and the
// load tool (bench/sfu) use it in place of a browser. It speaks the same
// signalling protocol as the web app, as the polite peer of perfect
// negotiation.
package sfuclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/rempart/rempart/internal/crisis/sfu"
)

// Options configure a Client.
type Options struct {
	// Receive interceptors placed before the standard ones, so they see
	// incoming packets first (tests drop packets there to provoke NACKs).
	Interceptors []interceptor.Factory
	// Without NACK generation toward the SFU (the load tool saves CPU).
	NoNACK bool
	// UDPConn, when set, carries all of the client's ICE traffic (tests
	// wrap it to make the client vanish from the network).
	UDPConn net.PacketConn
	// ICEServers (the SFU's embedded TURN server) and RelayOnly, to prove
	// that a client behind a firewall gets through the relay.
	ICEServers []webrtc.ICEServer
	RelayOnly  bool
	Logger     *slog.Logger
}

// Client is one participant.
type Client struct {
	pc  *webrtc.PeerConnection
	log *slog.Logger
	sig sfu.Signal

	// Messages receives every non-negotiation message from the server
	// (tracks, layer, mute, speaker, leave, error). It is buffered; the
	// oldest messages are dropped when nobody reads.
	Messages chan sfu.Message

	mu      sync.Mutex
	onTrack func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	needNeg bool
	pending []webrtc.ICECandidateInit
	kick    chan struct{}
	streams []*Stream
}

// New creates a client restricted to loopback host candidates.
func New(opts Options) (*Client, error) {
	m, err := sfu.NewMediaEngine()
	if err != nil {
		return nil, fmt.Errorf("sfuclient: media engine: %w", err)
	}
	reg := &interceptor.Registry{}
	for _, f := range opts.Interceptors {
		reg.Add(f)
	}
	if !opts.NoNACK {
		gen, err := nack.NewGeneratorInterceptor()
		if err != nil {
			return nil, fmt.Errorf("sfuclient: nack generator: %w", err)
		}
		reg.Add(gen)
	}
	resp, err := nack.NewResponderInterceptor()
	if err != nil {
		return nil, fmt.Errorf("sfuclient: nack responder: %w", err)
	}
	reg.Add(resp)
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("sfuclient: reports: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return nil, fmt.Errorf("sfuclient: twcc: %w", err)
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetIncludeLoopbackCandidate(true)
	se.SetReceiveMTU(4096)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	if opts.UDPConn != nil {
		se.SetICEUDPMux(ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: opts.UDPConn}))
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	conf := webrtc.Configuration{ICEServers: opts.ICEServers}
	if opts.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	pc, err := api.NewPeerConnection(conf)
	if err != nil {
		return nil, fmt.Errorf("sfuclient: peer connection: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Client{pc: pc, log: log, Messages: make(chan sfu.Message, 256), kick: make(chan struct{}, 1)}
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		c.mu.Lock()
		f := c.onTrack
		c.mu.Unlock()
		if f != nil {
			f(t, r)
			return
		}
		go drain(t)
	})
	return c, nil
}

func drain(t *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
	}
}

// PC exposes the PeerConnection (tests write RTCP or inspect state).
func (c *Client) PC() *webrtc.PeerConnection { return c.pc }

// OnTrack sets the handler of received tracks; it must read the track.
func (c *Client) OnTrack(f func(*webrtc.TrackRemote, *webrtc.RTPReceiver)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onTrack = f
}

// Close closes the PeerConnection (a vanishing peer, unless Leave ran).
func (c *Client) Close() error {
	if err := c.pc.Close(); err != nil {
		return fmt.Errorf("sfuclient: close: %w", err)
	}
	return nil
}

// Send sends one message (layer, mute, leave) to the server.
func (c *Client) Send(m sfu.Message) error {
	c.mu.Lock()
	sig := c.sig
	c.mu.Unlock()
	if sig == nil {
		return errors.New("sfuclient: not running")
	}
	if err := sig.Send(m); err != nil {
		return fmt.Errorf("sfuclient: send: %w", err)
	}
	return nil
}

func (c *Client) renegotiate() {
	c.mu.Lock()
	c.needNeg = true
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Run performs signalling over sig until ctx ends or sig fails.
func (c *Client) Run(ctx context.Context, sig sfu.Signal) error {
	c.mu.Lock()
	c.sig = sig
	c.mu.Unlock()
	c.pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		init := cand.ToJSON()
		_ = sig.Send(sfu.Message{Type: sfu.TypeCandidate, Candidate: &init})
	})
	recv := make(chan sfu.Message)
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := sig.Recv(ctx)
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
	c.renegotiate()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("sfuclient: %w", ctx.Err())
		case err := <-recvErr:
			return fmt.Errorf("sfuclient: signal: %w", err)
		case m := <-recv:
			if err := c.handle(m); err != nil {
				c.log.Warn("sfuclient: signalling", "type", m.Type, "err", err)
			}
		case <-c.kick:
		}
		if err := c.negotiate(); err != nil {
			c.log.Warn("sfuclient: negotiate", "err", err)
		}
	}
}

func (c *Client) negotiate() error {
	c.mu.Lock()
	need := c.needNeg && c.pc.SignalingState() == webrtc.SignalingStateStable && len(c.streams) > 0
	if need {
		c.needNeg = false
	}
	c.mu.Unlock()
	if !need {
		return nil
	}
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		return fmt.Errorf("create offer: %w", err)
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("set local offer: %w", err)
	}
	return c.sig.Send(sfu.Message{Type: sfu.TypeOffer, SDP: offer.SDP})
}

func (c *Client) handle(m sfu.Message) error {
	switch m.Type {
	case sfu.TypeOffer:
		if c.pc.SignalingState() == webrtc.SignalingStateHaveLocalOffer {
			// Polite peer: drop our offer, take the server's, offer again.
			// Pion's rollback does not release the mids our offer assigned,
			// so callers avoid glare by publishing before Run (the server
			// holds its first offer back for that); this path is a
			// best-effort fallback.
			pending := c.pc.PendingLocalDescription()
			if pending == nil {
				return errors.New("have-local-offer without a pending description")
			}
			if err := c.pc.SetLocalDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeRollback, SDP: pending.SDP}); err != nil {
				return fmt.Errorf("rollback: %w", err)
			}
			c.mu.Lock()
			c.needNeg = true
			c.mu.Unlock()
		}
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: m.SDP}); err != nil {
			return fmt.Errorf("set remote offer: %w", err)
		}
		c.flush()
		answer, err := c.pc.CreateAnswer(nil)
		if err != nil {
			return fmt.Errorf("create answer: %w", err)
		}
		if err := c.pc.SetLocalDescription(answer); err != nil {
			return fmt.Errorf("set local answer: %w", err)
		}
		return c.sig.Send(sfu.Message{Type: sfu.TypeAnswer, SDP: answer.SDP})
	case sfu.TypeAnswer:
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.SDP}); err != nil {
			return fmt.Errorf("set remote answer: %w", err)
		}
		c.flush()
		c.bindStreams()
	case sfu.TypeCandidate:
		if m.Candidate == nil {
			return nil
		}
		if c.pc.RemoteDescription() == nil {
			c.pending = append(c.pending, *m.Candidate)
			return nil
		}
		if err := c.pc.AddICECandidate(*m.Candidate); err != nil {
			return fmt.Errorf("add candidate: %w", err)
		}
	default:
		select {
		case c.Messages <- m:
		default:
			select {
			case <-c.Messages:
			default:
			}
			c.Messages <- m
		}
	}
	return nil
}

func (c *Client) flush() {
	for _, cand := range c.pending {
		_ = c.pc.AddICECandidate(cand)
	}
	c.pending = nil
}

// AddVideo publishes a VP8 track; rids non-empty makes it simulcast.
func (c *Client) AddVideo(id string, rids []string) ([]*Stream, error) {
	capab := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	if len(rids) == 0 {
		rids = []string{""}
	}
	var streams []*Stream
	for _, rid := range rids {
		var opts []func(*webrtc.TrackLocalStaticRTP)
		if rid != "" {
			opts = append(opts, webrtc.WithRTPStreamID(rid))
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(capab, id, "synthetic", opts...)
		if err != nil {
			return nil, fmt.Errorf("sfuclient: video track: %w", err)
		}
		streams = append(streams, &Stream{RID: rid, track: tr})
	}
	tx, err := c.pc.AddTransceiverFromTrack(streams[0].track, webrtc.RTPTransceiverInit{
		Direction: webrtc.RTPTransceiverDirectionSendonly,
	})
	if err != nil {
		return nil, fmt.Errorf("sfuclient: add video: %w", err)
	}
	for _, s := range streams[1:] {
		if err := tx.Sender().AddEncoding(s.track); err != nil {
			return nil, fmt.Errorf("sfuclient: add encoding %s: %w", s.RID, err)
		}
	}
	c.register(tx.Sender(), streams)
	return streams, nil
}

// AddAudio publishes an Opus track carrying the audio level extension.
func (c *Client) AddAudio(id string) (*Stream, error) {
	capab := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	tr, err := webrtc.NewTrackLocalStaticRTP(capab, id, "synthetic")
	if err != nil {
		return nil, fmt.Errorf("sfuclient: audio track: %w", err)
	}
	s := &Stream{track: tr, audio: true}
	tx, err := c.pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{
		Direction: webrtc.RTPTransceiverDirectionSendonly,
	})
	if err != nil {
		return nil, fmt.Errorf("sfuclient: add audio: %w", err)
	}
	c.register(tx.Sender(), []*Stream{s})
	return s, nil
}

func (c *Client) register(sender *webrtc.RTPSender, streams []*Stream) {
	c.mu.Lock()
	for _, s := range streams {
		s.sender = sender
		c.streams = append(c.streams, s)
		go s.readRTCP()
	}
	c.mu.Unlock()
	c.renegotiate()
}

// bindStreams learns mids and extension ids once an answer is applied.
func (c *Client) bindStreams() {
	mids := map[*webrtc.RTPSender]string{}
	for _, tr := range c.pc.GetTransceivers() {
		mids[tr.Sender()] = tr.Mid()
	}
	c.mu.Lock()
	streams := append([]*Stream(nil), c.streams...)
	c.mu.Unlock()
	for _, s := range streams {
		params := s.sender.GetParameters()
		s.mu.Lock()
		s.mid = mids[s.sender]
		for _, e := range params.HeaderExtensions {
			switch e.URI {
			case sdp.SDESMidURI:
				s.midID = uint8(e.ID) //nolint:gosec // ids are 1..255
			case sdp.SDESRTPStreamIDURI:
				s.ridID = uint8(e.ID) //nolint:gosec // ids are 1..255
			case sdp.AudioLevelURI:
				s.levelID = uint8(e.ID) //nolint:gosec // ids are 1..255
			case sfu.DependencyDescriptorURI:
				s.ddID = uint8(e.ID) //nolint:gosec // ids are 1..255
			}
		}
		s.mu.Unlock()
	}
}

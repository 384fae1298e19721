package sfu

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// downTrack is one upTrack as sent to one subscriber. It implements
// webrtc.TrackLocal itself (rather than using TrackLocalStaticRTP) so that
// it can rewrite sequence numbers and timestamps across simulcast switches
// and translate header extension ids, without a second copy per packet.
type downTrack struct {
	up  *upTrack
	sub *participant

	sender *webrtc.RTPSender // set by the subscriber's loop

	mu           sync.Mutex
	bound        bool
	writer       webrtc.TrackLocalWriter
	ssrc         uint32
	pt           uint8
	clockRate    uint32
	audioLevelID uint8
	ddID         uint8

	requested int // highest layer the client wants
	current   int // layer being forwarded, -1 before the first packet
	target    int // layer to switch to at the next usable frame start
	switchReq time.Time
	upSince   time.Time // when the estimate first allowed a higher layer

	started    bool
	switchSeq  uint16 // first incoming sequence number of the current layer
	seqOffset  uint16
	tsOffset   uint32
	lastSeq    uint16
	lastTS     uint32
	lastWrite  time.Time
	sentLayers int      // layer last announced to the client
	sent       *sentMap // video only, for NACKs
}

func newDownTrack(up *upTrack, sub *participant) *downTrack {
	d := &downTrack{up: up, sub: sub, requested: maxLayers - 1, current: -1, target: 0, sentLayers: -1}
	if up.kind == webrtc.RTPCodecTypeVideo {
		d.sent = &sentMap{}
	}
	return d
}

// ID, RID, StreamID and Kind implement webrtc.TrackLocal. The stream id is
// the publisher's participant id so the browser groups a person's tracks.
func (d *downTrack) ID() string                { return d.up.id }
func (d *downTrack) RID() string               { return "" }
func (d *downTrack) StreamID() string          { return d.up.pub.id }
func (d *downTrack) Kind() webrtc.RTPCodecType { return d.up.kind }

// Bind picks the publisher's codec among those negotiated with the
// subscriber: payloads are forwarded untouched, so no other codec will do.
func (d *downTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	want := d.up.codec
	var match *webrtc.RTPCodecParameters
	for _, c := range ctx.CodecParameters() {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if match == nil || c.SDPFmtpLine == want.SDPFmtpLine {
			match = &c
		}
	}
	if match == nil {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("sfu: subscriber %s cannot receive %s: %w",
			d.sub.id, want.MimeType, webrtc.ErrUnsupportedCodec)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bound = true
	d.writer = ctx.WriteStream()
	d.ssrc = uint32(ctx.SSRC())
	d.pt = uint8(match.PayloadType)
	d.clockRate = match.ClockRate
	d.audioLevelID, d.ddID = 0, 0
	for _, e := range ctx.HeaderExtensions() {
		switch e.URI {
		case sdp.AudioLevelURI:
			d.audioLevelID = uint8(e.ID) //nolint:gosec // ids are 1..255
		case DependencyDescriptorURI:
			d.ddID = uint8(e.ID) //nolint:gosec // ids are 1..255
		}
	}
	// A new receiver needs a keyframe before it can show anything.
	d.switchReq = time.Now()
	go d.up.requestKeyframe(d.target)
	return *match, nil
}

// Unbind implements webrtc.TrackLocal.
func (d *downTrack) Unbind(webrtc.TrackLocalContext) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bound = false
	d.writer = nil
	return nil
}

// write forwards one packet if it belongs to the layer this subscriber
// receives, switching layers at a frame start when one is pending.
func (d *downTrack) write(info *pktInfo, p *rtp.Packet, now time.Time) {
	rank := info.layer.rank
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.bound {
		return
	}
	if rank == d.target && d.target != d.current && d.canSwitch(info) {
		d.switchTo(rank, p, now)
	}
	if rank != d.current || int16(p.SequenceNumber-d.switchSeq) < 0 {
		return
	}
	seq := p.SequenceNumber + d.seqOffset
	ts := p.Timestamp + d.tsOffset
	if int16(seq-d.lastSeq) > 0 {
		d.lastSeq, d.lastTS, d.lastWrite = seq, ts, now
	}
	if d.sent != nil {
		d.sent.record(seq, p.SequenceNumber, rank, ts)
	}
	if d.send(info.layer, p, seq, ts) {
		m := &d.sub.srv.metrics
		m.packets.Add(1)
		m.bytes.Add(uint64(len(p.Payload)))
		m.observeDelay(time.Since(now))
	}
}

// send writes p under the subscriber's SSRC, payload type, sequence number
// and timestamp. Called with d.mu held.
func (d *downTrack) send(l *upLayer, p *rtp.Packet, seq uint16, ts uint32) bool {
	h := p.Header
	h.SSRC, h.PayloadType, h.SequenceNumber, h.Timestamp = d.ssrc, d.pt, seq, ts
	// Publisher-side extension ids mean nothing to the subscriber: keep
	// only the ones we understand, under the subscriber's ids.
	h.Extension, h.Extensions, h.ExtensionProfile = false, nil, 0
	if l.audioLevelID != 0 && d.audioLevelID != 0 {
		if v := p.GetExtension(l.audioLevelID); v != nil {
			_ = h.SetExtension(d.audioLevelID, v)
		}
	}
	if l.ddID != 0 && d.ddID != 0 {
		if v := p.GetExtension(l.ddID); v != nil {
			_ = h.SetExtension(d.ddID, v)
		}
	}
	_, err := d.writer.WriteRTP(&h, p.Payload)
	return err == nil
}

// retransmit answers a NACK from the shared layer caches.
func (d *downTrack) retransmit(nack *rtcp.TransportLayerNack) {
	var p rtp.Packet
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			d.mu.Lock()
			e, ok := d.sent.lookup(seq)
			d.mu.Unlock()
			if !ok {
				continue
			}
			l := d.up.layer(int(e.layer))
			if l == nil || l.cache == nil || !l.cache.get(e.in, &p) {
				continue
			}
			d.mu.Lock()
			sent := d.bound && d.send(l, &p, e.out, e.ts)
			d.mu.Unlock()
			if sent {
				d.sub.srv.metrics.retransmitted.Add(1)
			}
		}
	}
}

// canSwitch decides whether this packet may start the target layer. Audio
// and the very first packet of a non-video stream start anywhere; video
// waits for a frame start, and for a keyframe when the publisher marks
// them in a dependency descriptor. See the package documentation.
func (d *downTrack) canSwitch(info *pktInfo) bool {
	if d.up.kind == webrtc.RTPCodecTypeAudio {
		return true
	}
	if !info.frameStart {
		return false
	}
	if info.hasDD {
		return info.keyframe
	}
	return true
}

func (d *downTrack) switchTo(rank int, p *rtp.Packet, now time.Time) {
	if d.started {
		// Continue right after the last packet sent, and advance the
		// timestamp by the wall-clock time elapsed so jitter buffers see
		// a plausible gap.
		d.seqOffset = d.lastSeq + 1 - p.SequenceNumber
		d.tsOffset = d.lastTS + tsAdvance(now.Sub(d.lastWrite), d.clockRate) - p.Timestamp
	} else {
		d.started = true
		d.lastSeq = p.SequenceNumber - 1
		d.lastTS = p.Timestamp
	}
	d.current = rank
	d.switchSeq = p.SequenceNumber
	if now.After(d.lastWrite) {
		d.lastWrite = now
	}
	if d.up.kind == webrtc.RTPCodecTypeVideo && d.sentLayers != rank && d.up.simulcast() {
		d.sentLayers = rank
		d.sub.send(Message{Type: TypeLayer, Participant: d.up.pub.id, Track: d.up.id, Layer: layerNames[rank]})
	}
}

// tsAdvance is how far the timestamp moves at a layer switch: the time
// elapsed since the last packet sent, in RTP clock ticks, at least 1.
// Packets of different layers are read by different goroutines, so the
// switching packet may have been read (now) a little before the last one
// sent: a negative elapsed time must not turn into a huge unsigned step,
// which would send the timestamp backwards.
func tsAdvance(elapsed time.Duration, clockRate uint32) uint32 {
	if elapsed <= 0 {
		return 1
	}
	ticks := elapsed.Seconds() * float64(clockRate)
	if ticks < 1 {
		return 1
	}
	if ticks > float64(1<<31) {
		return 1 << 31
	}
	return uint32(ticks)
}

// setTarget asks for a layer; the switch happens at the next usable frame.
func (d *downTrack) setTarget(rank int, now time.Time) {
	d.mu.Lock()
	if rank == d.target {
		d.mu.Unlock()
		return
	}
	d.target = rank
	d.switchReq = now
	d.mu.Unlock()
	d.up.requestKeyframe(rank)
}

// readRTCP relays the subscriber's keyframe requests to the publisher and
// answers its NACKs; TWCC feedback was consumed by the congestion
// controller on the way.
func (d *downTrack) readRTCP() {
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.TransportLayerNack:
				if d.sent != nil {
					d.retransmit(pkt)
				}
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.mu.Lock()
				layer := d.current
				if d.target != d.current {
					layer = d.target
				}
				d.mu.Unlock()
				d.sub.srv.metrics.pliReceived.Add(1)
				d.up.requestKeyframe(layer)
			}
		}
	}
}

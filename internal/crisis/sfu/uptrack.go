package sfu

import (
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// maxLayers is the number of simulcast layers a video track may carry.
const maxLayers = 3

// pliInterval rate-limits keyframe requests toward a publisher: a keyframe
// costs several delta frames of bandwidth, and many subscribers asking at
// once must not turn into a keyframe storm.
const pliInterval = 300 * time.Millisecond

// layerNames orders the rids browsers are told to use (quarter, half, full).
var layerNames = [maxLayers]string{"q", "h", "f"}

// layerRank maps a rid to its layer index; a track without simulcast has
// the single layer 0.
func layerRank(rid string) int {
	for i, n := range layerNames {
		if rid == n {
			return i
		}
	}
	return 0
}

// upTrack is one track published by a participant, with its simulcast
// layers. Its subscribers are read lock-free by the forwarding goroutines.
type upTrack struct {
	pub   *participant
	id    string
	kind  webrtc.RTPCodecType
	codec webrtc.RTPCodecParameters
	muted atomic.Bool

	mu     sync.Mutex
	layers [maxLayers]*upLayer
	live   int

	downs atomic.Pointer[[]*downTrack]

	// Audio level accumulators, read and reset by the room's speaker tick.
	levelSum, levelCount atomic.Int64
	smoothed             float64 // owned by the room's speaker goroutine
}

// upLayer is one RTP stream (one rid) of an upTrack.
type upLayer struct {
	t            *upTrack
	rank         int
	rid          string
	remote       *webrtc.TrackRemote
	ssrc         uint32
	ddID         uint8
	audioLevelID uint8
	cache        *packetCache // video only: answers subscribers' NACKs

	lastPLI  atomic.Int64 // unix nanos
	bytes    atomic.Int64 // since the last rate sample
	rate     atomic.Int64 // bit/s, sampled by the subscriber controllers
	sampled  atomic.Int64 // unix nanos of the last rate sample
	lastSeen atomic.Int64 // unix nanos

	// Frame boundary detection, owned by the reader goroutine.
	prevTS   uint32
	prevSeq  uint16
	havePrev bool
}

// pktInfo is what the reader learnt about one packet from its header.
type pktInfo struct {
	layer      *upLayer
	frameStart bool // first packet seen of a new frame
	hasDD      bool // the packet carries a dependency descriptor
	keyframe   bool // frameStart of a keyframe, per the dependency descriptor
}

func newUpTrack(pub *participant, remote *webrtc.TrackRemote) *upTrack {
	t := &upTrack{pub: pub, id: remote.ID(), kind: remote.Kind(), codec: remote.Codec()}
	t.downs.Store(&[]*downTrack{})
	return t
}

func extID(params webrtc.RTPParameters, uri string) uint8 {
	for _, e := range params.HeaderExtensions {
		if e.URI == uri {
			return uint8(e.ID) //nolint:gosec // extension ids are 1..255
		}
	}
	return 0
}

// addLayer registers a newly received rid and returns it, or nil if a
// layer with that rank already exists.
func (t *upTrack) addLayer(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) *upLayer {
	params := recv.GetParameters()
	l := &upLayer{
		t: t, rank: layerRank(remote.RID()), rid: remote.RID(), remote: remote,
		ssrc:         uint32(remote.SSRC()),
		ddID:         extID(params, DependencyDescriptorURI),
		audioLevelID: extID(params, sdp.AudioLevelURI),
	}
	if t.kind == webrtc.RTPCodecTypeVideo {
		l.cache = &packetCache{}
	}
	l.lastSeen.Store(time.Now().UnixNano())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.layers[l.rank] != nil {
		return nil
	}
	t.layers[l.rank] = l
	t.live++
	return l
}

// removeLayer reports whether the track has no layer left.
func (t *upTrack) removeLayer(l *upLayer) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.layers[l.rank] == l {
		t.layers[l.rank] = nil
		t.live--
	}
	return t.live == 0
}

func (t *upTrack) layer(rank int) *upLayer {
	if rank < 0 || rank >= maxLayers {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.layers[rank]
}

// rids lists the layers currently received, lowest first.
func (t *upTrack) rids() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, l := range t.layers {
		if l != nil && l.rid != "" {
			out = append(out, l.rid)
		}
	}
	return out
}

func (t *upTrack) simulcast() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.layers {
		if l != nil && l.rid != "" {
			return true
		}
	}
	return false
}

func (t *upTrack) addDown(d *downTrack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.downs.Load()
	next := make([]*downTrack, 0, len(old)+1)
	next = append(next, old...)
	next = append(next, d)
	t.downs.Store(&next)
}

func (t *upTrack) removeDown(d *downTrack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.downs.Load()
	next := make([]*downTrack, 0, len(old))
	for _, x := range old {
		if x != d {
			next = append(next, x)
		}
	}
	t.downs.Store(&next)
}

// takeDowns detaches every subscriber (the track is going away).
func (t *upTrack) takeDowns() []*downTrack {
	t.mu.Lock()
	defer t.mu.Unlock()
	return *t.downs.Swap(&[]*downTrack{})
}

// requestKeyframe sends a PLI for one layer, at most once per pliInterval.
func (t *upTrack) requestKeyframe(rank int) {
	l := t.layer(rank)
	if l == nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(pliInterval) || !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	err := t.pub.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}})
	if err == nil {
		t.pub.srv.metrics.keyframeRequests.Add(1)
	}
}

// sampleRate updates the layer's measured bitrate; it is called by every
// subscriber's controller, the first one in each period does the work.
func (l *upLayer) sampleRate(now time.Time) int64 {
	last := l.sampled.Load()
	if dt := now.UnixNano() - last; dt >= int64(500*time.Millisecond) && l.sampled.CompareAndSwap(last, now.UnixNano()) {
		b := l.bytes.Swap(0)
		if last != 0 {
			l.rate.Store(b * 8 * int64(time.Second) / dt)
		}
	}
	return l.rate.Load()
}

func (l *upLayer) active(now time.Time) bool {
	return now.UnixNano()-l.lastSeen.Load() < int64(1500*time.Millisecond)
}

// readLoop forwards every packet of the layer until the publisher stops it.
func (l *upLayer) readLoop() {
	t := l.t
	srv := t.pub.srv
	audio := t.kind == webrtc.RTPCodecTypeAudio
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := l.remote.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "closed") {
				srv.log.Debug("sfu: read rtp", "participant", t.pub.id, "track", t.id, "err", err)
			}
			return
		}
		if err := p.Unmarshal(buf[:n]); err != nil {
			continue
		}
		if l.cache != nil {
			l.cache.put(p.SequenceNumber, buf[:n])
		}
		now := time.Now()
		l.lastSeen.Store(now.UnixNano())
		l.bytes.Add(int64(n))
		info := pktInfo{layer: l}
		if !l.havePrev || (p.Timestamp != l.prevTS && int16(p.SequenceNumber-l.prevSeq) > 0) {
			info.frameStart = true
		}
		if !l.havePrev || int16(p.SequenceNumber-l.prevSeq) > 0 {
			l.prevTS, l.prevSeq, l.havePrev = p.Timestamp, p.SequenceNumber, true
		}
		if l.ddID != 0 {
			if dd := p.GetExtension(l.ddID); dd != nil {
				info.hasDD = true
				info.keyframe = info.frameStart && ddKeyframe(dd)
			}
		}
		if audio && l.audioLevelID != 0 {
			if ext := p.GetExtension(l.audioLevelID); len(ext) > 0 {
				t.levelSum.Add(int64(ext[0] & 0x7f))
				t.levelCount.Add(1)
			}
		}
		for _, d := range *t.downs.Load() {
			d.write(&info, &p, now)
		}
	}
}

// ddKeyframe reports whether a dependency descriptor marks the start of a
// keyframe: start_of_frame set and the template dependency structure
// attached, which encoders do on keyframes (AV1 RTP spec, appendix A).
func ddKeyframe(ext []byte) bool {
	if len(ext) < 4 {
		return false // mandatory fields only: no structure attached
	}
	startOfFrame := ext[0]&0x80 != 0
	structurePresent := ext[3]&0x80 != 0
	return startOfFrame && structurePresent
}

// drainRTCP reads the publisher's RTCP so the receive interceptors run.
func drainRTCP(recv *webrtc.RTPReceiver, rid string) {
	for {
		var err error
		if rid != "" {
			_, _, err = recv.ReadSimulcastRTCP(rid)
		} else {
			_, _, err = recv.ReadRTCP()
		}
		if err != nil {
			return
		}
	}
}

package sfuclient

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Stream is one outgoing RTP stream (one simulcast layer, or a whole
// non-simulcast track) with its own sequence numbers.
type Stream struct {
	RID    string
	track  *webrtc.TrackLocalStaticRTP
	sender *webrtc.RTPSender
	audio  bool

	mu           sync.Mutex
	seq          uint16
	mid          string
	midID, ridID uint8
	levelID      uint8
	ddID         uint8

	// PLIs counts keyframe requests received for this stream.
	PLIs atomic.Int64
}

func (s *Stream) readRTCP() {
	for {
		var pkts []rtcp.Packet
		var err error
		if s.RID != "" {
			pkts, _, err = s.sender.ReadSimulcastRTCP(s.RID)
		} else {
			pkts, _, err = s.sender.ReadRTCP()
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.PLIs.Add(1)
			}
		}
	}
}

// Write sends one packet. level (0 loudest .. 127 silent) is attached as
// the audio level extension on audio streams. Like browsers, packets carry
// mid and rid so the SFU can demultiplex simulcast without SSRCs in the
// SDP; simulcast packets written before negotiation are dropped.
func (s *Stream) Write(payload []byte, ts uint32, marker bool, level uint8) error {
	return s.WriteDD(payload, ts, marker, level, nil)
}

// WriteDD is Write with a dependency descriptor header extension (the way
// Chrome marks frames and keyframes for SFUs); dd nil omits it.
func (s *Stream) WriteDD(payload []byte, ts uint32, marker bool, level uint8, dd []byte) error {
	s.mu.Lock()
	if s.RID != "" && s.mid == "" {
		// Not negotiated yet: a simulcast packet without mid and rid
		// would make the SFU give up probing this SSRC.
		s.mu.Unlock()
		return nil
	}
	h := rtp.Header{Version: 2, SequenceNumber: s.seq, Timestamp: ts, Marker: marker}
	s.seq++
	if s.mid != "" && s.midID != 0 {
		_ = h.SetExtension(s.midID, []byte(s.mid))
		if s.RID != "" && s.ridID != 0 {
			_ = h.SetExtension(s.ridID, []byte(s.RID))
		}
	}
	if s.audio && s.levelID != 0 {
		_ = h.SetExtension(s.levelID, []byte{level & 0x7f})
	}
	if dd != nil && s.ddID != 0 {
		_ = h.SetExtension(s.ddID, dd)
	}
	s.mu.Unlock()
	if err := s.track.WriteRTP(&rtp.Packet{Header: h, Payload: payload}); err != nil {
		return fmt.Errorf("sfuclient: write: %w", err)
	}
	return nil
}

// Seq is the next sequence number Write will use.
func (s *Stream) Seq() uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq
}

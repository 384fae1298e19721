package sfu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// DependencyDescriptorURI is the AV1 RTP dependency descriptor header
// extension; Chrome also sends it for VP8 and VP9 when it is negotiated. It
// tells the SFU where frames and keyframes start without touching the
// (encrypted) payload.
const DependencyDescriptorURI = "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"

// NewMediaEngine returns the codecs and header extensions the crisis room
// negotiates. Browsers encrypt whole frames with SFrame inside encoded
// transforms. VP8 and VP9 packetizers treat a frame as opaque bytes, so
// they carry ciphertext; H.264 is not offered because its packetizer splits
// frames at NAL start codes, which ciphertext does not have. RTX and FEC
// are left out: retransmissions reuse the original SSRC so the SFU's packet
// caches serve them.
func NewMediaEngine() (*webrtc.MediaEngine, error) {
	m := &webrtc.MediaEngine{}
	videoFB := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: webrtc.TypeRTCPFBTransportCC},
	}
	codecs := []struct {
		c   webrtc.RTPCodecParameters
		typ webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
		}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB,
		}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: videoFB,
		}, PayloadType: 98}, webrtc.RTPCodecTypeVideo},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.c, c.typ); err != nil {
			return nil, fmt.Errorf("sfu: register codec %s: %w", c.c.MimeType, err)
		}
	}
	exts := []struct {
		uri string
		typ webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
		{sdp.AudioLevelURI, webrtc.RTPCodecTypeAudio},
		{DependencyDescriptorURI, webrtc.RTPCodecTypeVideo},
		{sdp.TransportCCURI, webrtc.RTPCodecTypeVideo},
		{sdp.TransportCCURI, webrtc.RTPCodecTypeAudio},
	}
	for _, e := range exts {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.typ); err != nil {
			return nil, fmt.Errorf("sfu: register extension %s: %w", e.uri, err)
		}
	}
	return m, nil
}

// receiveMTU bounds any packet the SFU or the test client reads.
const receiveMTU = 4096

// newAPI builds one participant's API: its own interceptor registry so its
// bandwidth estimator is its own (the cc factory reports estimators per
// PeerConnection, and one API per participant keeps the mapping trivial).
func (s *Server) newAPI(onEstimator func(cc.BandwidthEstimator)) (*webrtc.API, error) {
	m, err := NewMediaEngine()
	if err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if !s.cfg.DisableBWE {
		ccf, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
			// No pacer: the SFU forwards at the publisher's pace, and a
			// leaky bucket would add latency and a goroutine per peer.
			return gcc.NewSendSideBWE(
				gcc.SendSideBWEInitialBitrate(s.cfg.InitialBitrate),
				gcc.SendSideBWEMaxBitrate(50_000_000),
				gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
			)
		})
		if err != nil {
			return nil, fmt.Errorf("sfu: congestion controller: %w", err)
		}
		ccf.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { onEstimator(e) })
		// Added before the TWCC header extension interceptor so that, on
		// the write path, the sequence number exists when GCC records it.
		reg.Add(ccf)
		if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
			return nil, fmt.Errorf("sfu: twcc header extension: %w", err)
		}
	}
	// NACKs toward publishers come from Pion's generator; NACKs from
	// subscribers are answered by the SFU itself from shared caches
	// (cache.go), so no nack responder here. Registering the nack feedback
	// makes both directions negotiate it.
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, fmt.Errorf("sfu: nack generator: %w", err)
	}
	reg.Add(gen)
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, fmt.Errorf("sfu: rtcp reports: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(m, reg); err != nil {
		return nil, fmt.Errorf("sfu: twcc feedback: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(s.settings)), nil
}

// newSettingEngine applies the network part of the configuration.
func newSettingEngine(cfg Config, mux ice.UDPMux) (webrtc.SettingEngine, error) {
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// Crisis networks may be cut off from the internet: host candidates
	// only, no mDNS obfuscation (browsers resolve it on the LAN, but the
	// server's own candidates must be plain addresses).
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(cfg.ICEDisconnectedTimeout, cfg.ICEFailedTimeout, cfg.ICEKeepalive)
	// RTCP compounds (receiver reports for dozens of streams, TWCC
	// feedback after a scheduling stall) can exceed Pion's 1460-byte
	// default and would be dropped.
	se.SetReceiveMTU(receiveMTU)
	if cfg.Loopback {
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	}
	if len(cfg.PublicIPs) > 0 {
		ips, err := resolveIPv4(cfg.PublicIPs)
		if err != nil {
			return se, err
		}
		// 1:1 NAT: advertise the public addresses instead of the local ones.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: ips, AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode: webrtc.ICEAddressRewriteReplace,
		}); err != nil {
			return se, fmt.Errorf("sfu: public addresses: %w", err)
		}
	}
	if mux != nil {
		se.SetICEUDPMux(mux)
	} else if cfg.UDPPortMin != 0 || cfg.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return se, fmt.Errorf("sfu: port range: %w", err)
		}
	}
	return se, nil
}

// resolveIPv4 turns host names into their IPv4 addresses.
func resolveIPv4(hosts []string) ([]string, error) {
	var out []string
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			out = append(out, ip.String())
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, h)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("sfu: resolve public address %q: %w", h, err)
		}
		for _, a := range addrs {
			if v4 := a.IP.To4(); v4 != nil {
				out = append(out, v4.String())
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("sfu: no IPv4 public address")
	}
	return out, nil
}

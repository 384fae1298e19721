// Package sfu owns the crisis room's selective forwarding unit: the Pion
// WebRTC server that carries the crisis cell's audio, camera and screen
// tracks between participants without ever being able to read them.
//
// Media is end-to-end encrypted in the browser (SFrame, RFC 9605, see
// docs/crisis-e2ee.md). The SFU therefore never parses codec payloads: it
// forwards RTP payloads byte for byte and takes every decision (simulcast
// layer switches, keyframe requests, active speaker) from RTP headers,
// header extensions and RTCP only.
//
// # Model
//
// A Server holds rooms; a room holds participants. Each participant has one
// PeerConnection that both publishes (the client's offers carry its tracks,
// simulcast with rids q/h/f for cameras) and subscribes (the server adds one
// sendonly transceiver per track published by the others and sends its own
// offers). Signalling runs over the abstract Signal interface so the crisis
// relay can carry it on its authenticated WebSocket.
//
// # Signalling messages
//
// Every message is a JSON object with a "type" field (see Message).
//
// Client to server:
//
//	{"type":"offer","sdp":"..."}        publish or change tracks (client offers)
//	{"type":"answer","sdp":"..."}       answer to a server offer
//	{"type":"candidate","candidate":{"candidate":"...","sdpMid":"0","sdpMLineIndex":0}}
//	{"type":"layer","participant":"bob","track":"<track id>","layer":"q"|"h"|"f"|""}
//	                                    preferred simulcast layer for one
//	                                    received track ("" = automatic, best
//	                                    that fits the bandwidth estimate)
//	{"type":"mute","track":"<own track id>","muted":true}
//	{"type":"leave"}                    goodbye; Join returns nil
//
// Server to client:
//
//	{"type":"offer","sdp":"..."}        tracks were added or removed
//	{"type":"answer","sdp":"..."}       answer to the client's offer
//	{"type":"candidate","candidate":{...}}
//	{"type":"tracks","tracks":[{"participant":"bob","track":"...","stream":"bob",
//	  "kind":"video","mid":"3","layers":["q","h","f"],"muted":false}]}
//	                                    the complete list of tracks this client
//	                                    receives, sent just before every server
//	                                    offer (tracks come and go only through
//	                                    one); the msid stream id of every
//	                                    received track is the publisher's
//	                                    participant id
//	{"type":"layer","participant":"bob","track":"...","layer":"h"}
//	                                    the layer now forwarded to this client
//	{"type":"mute","participant":"bob","track":"...","muted":true}
//	{"type":"speaker","participant":"bob","speakers":[{"participant":"bob","level":92}]}
//	                                    dominant speaker changed; level is
//	                                    127 minus the smoothed dBov
//	{"type":"participants","participants":["alice","bob","carol"]}
//	                                    everyone in the call, this client
//	                                    included, sorted; sent to everyone on
//	                                    every join and leave, so that a
//	                                    participant who publishes nothing
//	                                    (listening only) is known too
//	{"type":"leave","participant":"bob"} bob left or vanished
//	{"type":"error","error":"..."}      a request was rejected
//
// Negotiation follows the "perfect negotiation" pattern with the server as
// the impolite peer: an offer that arrives while the server has an offer of
// its own outstanding is ignored, and the client (polite) rolls back, answers
// the server's offer, then offers again. To keep the first exchange free of
// glare, the server holds its first offer back until the client's first
// offer has been answered, or for one second if the client publishes
// nothing. A client should therefore add its tracks before its first offer.
//
// # Feedback and bandwidth
//
// Publishers: the SFU sends NACKs (Pion's generator), TWCC feedback and
// receiver reports, and forwards subscribers' PLI/FIR as PLIs, at most one
// per layer every 300 ms. Subscribers: the SFU answers their NACKs itself
// from one packet cache per incoming layer (not one per subscriber: a
// 25-person room would otherwise keep 600 copies of the same video), sends
// sender reports, and estimates each subscriber's bandwidth with
// transport-wide congestion control (TWCC feedback into Google congestion
// control, without a pacer). Every 500 ms the estimate, minus audio, is
// shared between the subscriber's video tracks and each gets the highest
// layer that fits and does not exceed the layer the client asked for. Going
// down is immediate; going up needs 25% headroom held for 3 s, except after
// an explicit request. REMB is not used.
//
// # Network
//
// ICE uses host candidates only (no STUN: crisis networks may be cut off),
// without mDNS, on one shared UDP port when Config.UDPMux is set; sends on
// that socket are batched (sendmmsg). Config.PublicIPs covers a 1:1 NAT.
// StartTURN runs an optional embedded TURN server with time-limited
// credentials for clients behind a strict firewall; it is off unless the
// server starts it and hands its ICEServer to clients.
//
// # Layer switching under end-to-end encryption
//
// SFUs such as Galène or LiveKit find keyframes by reading the VP8 payload.
// With encoded transforms the RTP packetizer still writes the VP8 payload
// descriptor (RFC 7741 section 4.2) in clear, but the keyframe bit lives in
// the VP8 payload header (section 4.3), the first byte of the encoded frame,
// which SFrame (RFC 9605) encrypts with the rest of the frame. The WebRTC
// sample that leaves the first 10/3 bytes of VP8 frames in clear so an SFU
// can parse them is not what the crisis room does. This SFU therefore never
// looks into payloads. When a receiver must move to another layer the SFU
// sends a PLI for that layer to the publisher and switches at:
//
//   - the first packet carrying an AV1 Dependency Descriptor (a header
//     extension, readable) with start_of_frame and the template structure
//     attached, which marks a keyframe. Chrome sends the descriptor for VP8
//     and VP9 when it is negotiated (it is offered here, with
//     extmap-allow-mixed) and the sender has a scalabilityMode, so the web
//     app should set scalabilityMode (e.g. "L1T1") on each encoding;
//   - otherwise the first frame boundary (new RTP timestamp) of the target
//     layer after the PLI. The receiver may then get a few delta frames it
//     cannot decode until the requested keyframe arrives a round trip later;
//     its decoder's own PLI (relayed, rate limited) repairs the picture.
//
// Sequence numbers and timestamps are rewritten so that every receiver sees
// one continuous stream per track whatever layer feeds it.
package sfu

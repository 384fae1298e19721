package sfu

import (
	"log/slog"
	"time"
)

// Config configures a Server. The zero value is usable: ephemeral UDP
// ports, host candidates on every non-loopback IPv4 interface, bandwidth
// estimation on.
type Config struct {
	// UDPMux, when set ("0.0.0.0:50000", "127.0.0.1:0"), makes every
	// participant share this single UDP socket, so a firewall needs one
	// port only.
	UDPMux string
	// UDPPortMin and UDPPortMax bound the ephemeral ports used when UDPMux
	// is empty.
	UDPPortMin, UDPPortMax uint16
	// PublicIPs (addresses or host names, resolved once at start) are
	// advertised instead of the interface addresses when the server sits
	// behind a 1:1 NAT.
	PublicIPs []string
	// Loopback restricts ICE to 127.0.0.1 (tests and the load tool).
	Loopback bool

	// ICEDisconnectedTimeout and ICEFailedTimeout decide how fast a peer
	// that vanished without a "leave" is removed; ICEKeepalive is the STUN
	// consent interval. Defaults 5 s, 10 s and 2 s.
	ICEDisconnectedTimeout, ICEFailedTimeout, ICEKeepalive time.Duration
	// ConnectTimeout removes a participant whose PeerConnection never
	// connects. Default 30 s.
	ConnectTimeout time.Duration

	// DisableBWE turns off transport-wide congestion control toward
	// subscribers; layers then follow explicit requests only.
	DisableBWE bool
	// InitialBitrate is the bandwidth estimate a new subscriber starts
	// from, in bit/s. Default 2.5 Mbit/s.
	InitialBitrate int

	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.ICEDisconnectedTimeout == 0 {
		c.ICEDisconnectedTimeout = 5 * time.Second
	}
	if c.ICEFailedTimeout == 0 {
		c.ICEFailedTimeout = 10 * time.Second
	}
	if c.ICEKeepalive == 0 {
		c.ICEKeepalive = 2 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.InitialBitrate == 0 {
		c.InitialBitrate = 2_500_000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

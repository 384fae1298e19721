package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/rempart/rempart/internal/crisis"
	"github.com/rempart/rempart/internal/crisis/sfu"
)

// CallConfig is the `call:` section of rempart.yaml: the crisis room's
// audio and video. Media does not go through the HTTPS listener: browsers
// send it over UDP to the SFU, end-to-end encrypted, so a firewall must
// let one UDP port through besides the HTTPS port.
type CallConfig struct {
	// Enabled turns calls on (nil: true).
	Enabled *bool `yaml:"enabled"`
	// UDPPort is the single UDP port that carries every participant's
	// media (an ICE UDP mux). 0: the HTTPS port's number (8443 unless
	// --listen says otherwise; a free port when --listen says port 0).
	UDPPort int `yaml:"udp_port"`
	// PublicAddresses (IP addresses or host names) are announced to
	// browsers instead of the machine's own addresses, for a server behind
	// a 1:1 NAT. Empty: the addresses of the machine's interfaces.
	PublicAddresses []string `yaml:"public_addresses"`
	// TURN is the optional embedded TURN server, for browsers behind a
	// firewall that lets nothing but one port through.
	TURN CallTURNConfig `yaml:"turn"`
}

// CallTURNConfig is `call.turn:`.
type CallTURNConfig struct {
	// Enabled starts the TURN server (default false).
	Enabled bool `yaml:"enabled"`
	// Listen is its UDP address (default ":3478"; without a host, the
	// host of --listen).
	Listen string `yaml:"listen"`
	// Realm is the TURN realm (default "rempart").
	Realm string `yaml:"realm"`
}

// On says whether calls run.
func (c CallConfig) On() bool { return c.Enabled == nil || *c.Enabled }

// DefaultTURNListen is where the embedded TURN server listens.
const DefaultTURNListen = ":3478"

// callService is what startCalls started; Close releases it.
type callService struct {
	sfu  *sfu.Server
	turn *sfu.TURN
}

func (c *callService) Close() {
	if c == nil {
		return
	}
	if c.turn != nil {
		_ = c.turn.Close()
	}
	_ = c.sfu.Close()
}

// options is the relay's view of the calls (nil: off).
func (c *callService) options() *crisis.CallOptions {
	if c == nil {
		return nil
	}
	return &crisis.CallOptions{SFU: c.sfu, TURN: c.turn}
}

// startCalls starts the SFU (and TURN) on the interface of the HTTPS
// listener: a server on 127.0.0.1 keeps its media on loopback too. It
// returns nil when calls are off.
func startCalls(cfg Config, log *slog.Logger) (*callService, error) {
	if !cfg.Call.On() {
		return nil, nil
	}
	host, httpsPort, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("server: listen address %q: %w", cfg.Listen, err)
	}
	udpHost, loopback, err := callHost(host)
	if err != nil {
		return nil, err
	}
	port := cfg.Call.UDPPort
	if port == 0 {
		if port, err = strconv.Atoi(httpsPort); err != nil {
			return nil, fmt.Errorf("server: calls: the port of --listen %q is not a number; set call.udp_port", cfg.Listen)
		}
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("server: configuration call.udp_port %d: use a port between 1 and 65535", cfg.Call.UDPPort)
	}
	udpAddr := net.JoinHostPort(udpHost, strconv.Itoa(port))
	srv, err := sfu.NewServer(sfu.Config{UDPMux: udpAddr, PublicIPs: cfg.Call.PublicAddresses, Loopback: loopback, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("server: calls on UDP %s: %w (is another program using that port? set call.udp_port, or call.enabled: false)", udpAddr, err)
	}
	cs := &callService{sfu: srv}
	if cfg.Call.TURN.Enabled {
		if cs.turn, err = startTURN(cfg.Call, udpHost, log); err != nil {
			_ = srv.Close()
			return nil, err
		}
	}
	return cs, nil
}

// callHost is the UDP host for media given the host of --listen: IPv4 only
// (the SFU's ICE is IPv4), every interface when the listener takes every
// interface.
func callHost(host string) (udpHost string, loopback bool, err error) {
	if host == "" {
		return "0.0.0.0", false, nil
	}
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		addrs, err := net.LookupIP(host)
		if err != nil {
			return "", false, fmt.Errorf("server: calls: resolve the --listen host %q: %w", host, err)
		}
		for _, a := range addrs {
			if v4 := a.To4(); v4 != nil {
				return v4.String(), v4.IsLoopback(), nil
			}
		}
		return "", false, fmt.Errorf("server: calls: the --listen host %q has no IPv4 address: calls need one (or set call.enabled: false)", host)
	case ip.IsUnspecified():
		return "0.0.0.0", false, nil
	case ip.To4() == nil:
		return "", false, fmt.Errorf("server: calls: --listen %s is IPv6, calls use IPv4: listen on an IPv4 address or 0.0.0.0 (or set call.enabled: false)", host)
	}
	return ip.String(), ip.IsLoopback(), nil
}

// startTURN starts the embedded TURN server with a secret drawn at start:
// credentials are handed to members per call session and never outlive
// the process that signs them, so there is nothing to keep.
func startTURN(c CallConfig, udpHost string, log *slog.Logger) (*sfu.TURN, error) {
	listen := c.TURN.Listen
	if listen == "" {
		listen = DefaultTURNListen
	}
	h, p, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("server: configuration call.turn.listen %q: %w (use HOST:PORT or :PORT)", listen, err)
	}
	if h == "" {
		listen = net.JoinHostPort(udpHost, p)
		h = udpHost
	}
	relay := h
	if ip := net.ParseIP(h); ip == nil || ip.IsUnspecified() {
		if relay, err = firstIPv4(); err != nil {
			return nil, err
		}
	}
	public := relay
	if len(c.PublicAddresses) > 0 {
		public = c.PublicAddresses[0]
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("server: turn secret: %w", err)
	}
	t, err := sfu.StartTURN(sfu.TURNConfig{Listen: listen, RelayIP: relay, PublicHost: public, Realm: c.TURN.Realm,
		Secret: base64.RawURLEncoding.EncodeToString(secret), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("server: calls: TURN on %s: %w", listen, err)
	}
	return t, nil
}

// firstIPv4 is the machine's first non-loopback IPv4 address, where TURN
// opens its relays when it listens on every interface.
func firstIPv4() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("server: turn: interface addresses: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("server: turn: this machine has no IPv4 address but loopback: set call.turn.listen to an address")
}

// info fills in what the person starting the server needs for a firewall.
func (c *callService) info(i *Info) {
	if c == nil {
		return
	}
	if a := c.sfu.UDPAddr(); a != nil {
		i.CallUDP = a.String()
	}
	if c.turn != nil {
		if ice, err := c.turn.ICEServer("info", time.Minute); err == nil && len(ice.URLs) > 0 {
			i.CallTURN = ice.URLs[0]
		}
	}
}

package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"
)

// TURNConfig configures the optional embedded TURN server, for clients
// behind a firewall that lets nothing but one UDP port through. It is off
// unless the server wires it in.
type TURNConfig struct {
	// Listen is the UDP address of the TURN server ("0.0.0.0:3478").
	Listen string
	// RelayIP is the address relays are opened on and advertised with: the
	// host's LAN address (loopback in tests).
	RelayIP string
	// PublicHost is the host name or address clients reach Listen at.
	PublicHost string
	// Realm defaults to "rempart".
	Realm string
	// Secret signs time-limited credentials (the TURN REST scheme), so the
	// web app can hand them out per session without a user database here.
	Secret string
	Logger *slog.Logger
}

// TURN is a running embedded TURN server.
type TURN struct {
	cfg  TURNConfig
	port int
	srv  *turn.Server
}

// StartTURN listens and serves TURN allocations until Close.
func StartTURN(cfg TURNConfig) (*TURN, error) {
	if cfg.Secret == "" {
		return nil, errors.New("sfu: turn: a secret is required")
	}
	if cfg.Realm == "" {
		cfg.Realm = "rempart"
	}
	relayIP := net.ParseIP(cfg.RelayIP)
	if relayIP == nil {
		return nil, fmt.Errorf("sfu: turn: relay address %q is not an IP", cfg.RelayIP)
	}
	conn, err := net.ListenPacket("udp4", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("sfu: turn: listen: %w", err)
	}
	lf := logging.NewDefaultLoggerFactory()
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   turn.LongTermTURNRESTAuthHandler(cfg.Secret, lf.NewLogger("turn")),
		LoggerFactory: lf,
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: conn,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{
				RelayAddress: relayIP, Address: relayIP.String(),
			},
		}},
	})
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("sfu: turn: %w", err)
	}
	port := 0
	if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		port = ua.Port
	}
	if cfg.Logger != nil {
		cfg.Logger.Info("sfu: turn server listening", "addr", conn.LocalAddr().String())
	}
	return &TURN{cfg: cfg, port: port, srv: srv}, nil
}

// ICEServer returns a TURN entry for a client's RTCPeerConnection, with
// credentials for user valid for ttl.
func (t *TURN) ICEServer(user string, ttl time.Duration) (webrtc.ICEServer, error) {
	name, pass, err := turn.GenerateLongTermTURNRESTCredentials(t.cfg.Secret, user, ttl)
	if err != nil {
		return webrtc.ICEServer{}, fmt.Errorf("sfu: turn credentials: %w", err)
	}
	host := t.cfg.PublicHost
	if host == "" {
		host = t.cfg.RelayIP
	}
	return webrtc.ICEServer{
		URLs:       []string{fmt.Sprintf("turn:%s?transport=udp", net.JoinHostPort(host, fmt.Sprint(t.port)))},
		Username:   name,
		Credential: pass,
	}, nil
}

// Close stops the TURN server.
func (t *TURN) Close() error {
	if err := t.srv.Close(); err != nil {
		return fmt.Errorf("sfu: turn: close: %w", err)
	}
	return nil
}

package sfu_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// netConn is a client's UDP socket with fault injection: it can lose the
// first copy of chosen video packets (read from the RTP header, which SRTP
// leaves in clear) or go silent altogether, like a laptop whose lid closed.
type netConn struct {
	net.PacketConn
	dropVideo func(seq uint16) bool
	silent    atomic.Bool

	mu      sync.Mutex
	dropped map[uint16]bool
}

func newNetConn(t *testing.T) *netConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &netConn{PacketConn: c, dropped: map[uint16]bool{}}
}

// videoPT is the VP8 payload type of sfu.NewMediaEngine.
const videoPT = 96

func (c *netConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		if c.silent.Load() {
			continue
		}
		c.mu.Lock()
		drop := c.dropVideo
		c.mu.Unlock()
		if drop != nil && n >= 12 && b[0]>>6 == 2 && b[1]&0x7f == videoPT {
			seq := uint16(b[2])<<8 | uint16(b[3])
			if drop(seq) {
				c.mu.Lock()
				first := !c.dropped[seq]
				c.dropped[seq] = true
				c.mu.Unlock()
				if first {
					continue
				}
			}
		}
		return n, addr, nil
	}
}

func (c *netConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.silent.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *netConn) lost() []uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]uint16, 0, len(c.dropped))
	for s := range c.dropped {
		out = append(out, s)
	}
	return out
}

package sfu

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
)

// batchConn is the shared UDP socket with batched sends. One incoming
// packet fans out to every subscriber in a burst; sending each with its own
// sendto made the system call the largest cost of forwarding. Writes are
// queued and a single writer goroutine flushes whatever is queued with one
// sendmmsg, so batches form by themselves under load and cost one goroutine
// hand-off when idle.
type batchConn struct {
	*net.UDPConn
	pc   *ipv4.PacketConn
	q    chan outPacket
	done chan struct{}
	once sync.Once
	pool sync.Pool
	log  *slog.Logger
}

type outPacket struct {
	buf  *[]byte
	addr netip.AddrPort
}

const (
	batchSize = 64
	// batchQueue bounds the latency the queue can add (about 20 ms at
	// 50,000 packets/s); when it is full, senders wait as they would on a
	// full socket buffer.
	batchQueue = 1024
)

func newBatchConn(conn *net.UDPConn, log *slog.Logger) *batchConn {
	c := &batchConn{
		UDPConn: conn, pc: ipv4.NewPacketConn(conn),
		q: make(chan outPacket, batchQueue), done: make(chan struct{}), log: log,
	}
	c.pool.New = func() any { b := make([]byte, 0, 1500); return &b }
	go c.writer()
	return c
}

// WriteToAddrPort queues b; the ICE mux uses this form when available.
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	bp, _ := c.pool.Get().(*[]byte)
	*bp = append((*bp)[:0], b...)
	select {
	case c.q <- outPacket{buf: bp, addr: addr}:
		return len(b), nil
	case <-c.done:
		return 0, net.ErrClosed
	}
}

// WriteTo queues b.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.UDPConn.WriteTo(b, addr)
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

// Close stops the writer and closes the socket.
func (c *batchConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return c.UDPConn.Close()
}

func (c *batchConn) writer() {
	msgs := make([]ipv4.Message, batchSize)
	pending := make([]outPacket, 0, batchSize)
	for {
		select {
		case p := <-c.q:
			pending = append(pending, p)
		case <-c.done:
			return
		}
	fill:
		for len(pending) < batchSize {
			select {
			case p := <-c.q:
				pending = append(pending, p)
			default:
				break fill
			}
		}
		for i, p := range pending {
			msgs[i].Buffers = [][]byte{*p.buf}
			msgs[i].Addr = net.UDPAddrFromAddrPort(p.addr)
		}
		for sent := 0; sent < len(pending); {
			n, err := c.pc.WriteBatch(msgs[sent:len(pending)], 0)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				c.log.Debug("sfu: udp send", "err", err)
				n = max(n, 1) // skip the packet the kernel refused
			}
			sent += n
		}
		for i, p := range pending {
			c.pool.Put(p.buf)
			msgs[i].Buffers, msgs[i].Addr = nil, nil
		}
		pending = pending[:0]
	}
}

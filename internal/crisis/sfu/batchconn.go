package sfu

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/net/ipv4"
)

// batchConn is the shared UDP socket with batched sends. One incoming
// packet fans out to every subscriber in a burst; sending each with its own
// sendto made the system call the largest cost of forwarding. Writes are
// queued and writer goroutines flush whatever is queued with one sendmmsg,
// so batches form by themselves under load and cost one goroutine hand-off
// when idle. There is one writer per CPU, each owning the destinations that
// hash to it: sends to one peer stay in order, and one descheduled writer
// does not hold up every peer.
type batchConn struct {
	*net.UDPConn
	pc   *ipv4.PacketConn
	qs   []chan outPacket
	done chan struct{}
	once sync.Once
	pool sync.Pool
	log  *slog.Logger

	stalls atomic.Uint64 // writes that waited for a full queue
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
	c := &batchConn{UDPConn: conn, pc: ipv4.NewPacketConn(conn), done: make(chan struct{}), log: log}
	c.pool.New = func() any { b := make([]byte, 0, 1500); return &b }
	for range max(2, runtime.GOMAXPROCS(0)) {
		q := make(chan outPacket, batchQueue)
		c.qs = append(c.qs, q)
		go c.writer(q)
	}
	return c
}

// queue picks the writer that owns addr.
func (c *batchConn) queue(addr netip.AddrPort) chan outPacket {
	h := uint32(addr.Port())
	for _, b := range addr.Addr().AsSlice() {
		h = h*31 + uint32(b)
	}
	return c.qs[h%uint32(len(c.qs))] //nolint:gosec // len is small
}

// WriteToAddrPort queues b; the ICE mux uses this form when available.
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	bp, _ := c.pool.Get().(*[]byte)
	*bp = append((*bp)[:0], b...)
	p := outPacket{buf: bp, addr: addr}
	q := c.queue(addr)
	select {
	case q <- p:
		return len(b), nil
	default:
	}
	c.stalls.Add(1)
	select {
	case q <- p:
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

func (c *batchConn) writer(q chan outPacket) {
	msgs := make([]ipv4.Message, batchSize)
	pending := make([]outPacket, 0, batchSize)
	for {
		select {
		case p := <-q:
			pending = append(pending, p)
		case <-c.done:
			return
		}
	fill:
		for len(pending) < batchSize {
			select {
			case p := <-q:
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

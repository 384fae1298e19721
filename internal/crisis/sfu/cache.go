package sfu

import (
	"sync"

	"github.com/pion/rtp"
)

// Retransmission caches. Pion's nack responder keeps a copy of every packet
// per outgoing stream: in a 25-person room that is 600 copies of the same
// video and about 20 MiB per participant. Instead each incoming layer keeps
// one cache of what it received, and each subscription keeps a small map
// from the sequence numbers it sent back to the layer and original sequence
// number, so a NACK is answered from the shared copy.

// packetCacheSize is per incoming video layer: about 1.7 s of a 720p
// layer, far more at lower layers; a LAN round trip is a few ms.
const packetCacheSize = 256

type cachedPacket struct {
	seq  uint16
	size int
	buf  []byte
}

// packetCache is a ring of raw RTP packets indexed by sequence number.
type packetCache struct {
	mu   sync.Mutex
	ring [packetCacheSize]cachedPacket
}

func (c *packetCache) put(seq uint16, raw []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &c.ring[seq%packetCacheSize]
	if cap(e.buf) < len(raw) {
		e.buf = make([]byte, len(raw), max(len(raw), 1200))
	}
	e.buf = e.buf[:len(raw)]
	copy(e.buf, raw)
	e.seq, e.size = seq, len(raw)
}

// get parses the cached packet seq into p (a copy: the ring slot may be
// overwritten as soon as the lock is released).
func (c *packetCache) get(seq uint16, p *rtp.Packet) bool {
	c.mu.Lock()
	e := &c.ring[seq%packetCacheSize]
	if e.size == 0 || e.seq != seq {
		c.mu.Unlock()
		return false
	}
	raw := append([]byte(nil), e.buf[:e.size]...)
	c.mu.Unlock()
	return p.Unmarshal(raw) == nil
}

// sentMapSize bounds how far back a subscriber's NACK can reach.
const sentMapSize = 512

type sentEntry struct {
	valid bool
	layer int8
	out   uint16
	in    uint16
	ts    uint32
}

// sentMap remembers, per outgoing sequence number, where the packet came
// from. Guarded by the downTrack's mutex.
type sentMap [sentMapSize]sentEntry

func (m *sentMap) record(out, in uint16, layer int, ts uint32) {
	m[out%sentMapSize] = sentEntry{valid: true, layer: int8(layer), out: out, in: in, ts: ts} //nolint:gosec // layer < 3
}

func (m *sentMap) lookup(out uint16) (sentEntry, bool) {
	e := m[out%sentMapSize]
	return e, e.valid && e.out == out
}

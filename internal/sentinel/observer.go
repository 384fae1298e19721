package sentinel

import (
	"bytes"
	"sync"

	"github.com/rempart/rempart/internal/sentinel/container"
)

// Sampling. The observer sees every byte of every new or changed file in
// the backup, so it keeps only what judging a file needs: the first 64
// KiB whole (magic bytes, headers, ransom-note text, canary marker), the
// last 64 KiB whole plus 4 KiB (trailers: ZIP central directory, PDF
// %%EOF, PNG IEND; a ZIP comment may reach 64 KiB back from the end) and
// up to 16 blocks of 4 KiB spread evenly through the middle. Everything in
// between is skipped at the cost of a few comparisons per Write; of the
// head and tail, the statistics count only some blocks (see counted), so
// the hot path is the byte counting of at most about 32 blocks per file
// (well over 1 GB/s per core, see BenchmarkObserver).
const (
	headSize  = 64 << 10
	tailSize  = 64 << 10
	tailCap   = tailSize + 4<<10
	midBlocks = 16
	// midStrideUnknown spaces middle samples when the size is not known
	// in advance.
	midStrideUnknown = 1 << 20
	// noteMax is the largest file read for ransom-note words: notes are a
	// few KiB of text or HTML.
	noteMax = 64 << 10
)

// CanaryMarker is written in every decoy that `rempart canary plant`
// places, in the first 64 KiB or the last 4 KiB of the file (for ZIP-based
// decoys, in the archive comment). A file that carries it is a canary.
const CanaryMarker = "REMPART-CANARY-1:"

// buffers are the sampled bytes of one file; they are pooled (about 200
// KiB each) so that observing costs no allocation in steady state.
type buffers struct {
	head     [headSize]byte
	tail     [tailCap]byte
	mid      [midBlocks][blockSize]byte
	midOff   [midBlocks]int64
	midFill  [midBlocks]int
	h        hist4
	fileHist [256]uint64
}

var pool = sync.Pool{New: func() any { return new(buffers) }}

// Observer learns a file's Features from its bytes as the backup reads
// them, in order, once. It samples, so that it costs little. An Observer
// is not safe for concurrent use; Reset lets one be reused for the next
// file.
type Observer struct {
	name string
	size int64 // as announced, -1 unknown
	n    int64 // bytes written so far

	b         *buffers
	headLen   int
	tailStart int64 // first offset copied into the tail ring
	tailPos   int   // next write position in the ring
	tailLen   int   // bytes held in the ring
	nmid      int   // planned middle samples
	nextMid   int   // first planned sample not yet complete

	done bool
	f    Features
}

// NewObserver starts observing the file called name (its base name, for
// the extension) of the given size (-1 if unknown).
func NewObserver(name string, size int64) *Observer {
	o := &Observer{}
	o.Reset(name, size)
	return o
}

// Reset starts observing another file with the same Observer, so that a
// worker reading many files allocates nothing per file.
func (o *Observer) Reset(name string, size int64) {
	if o.b != nil {
		pool.Put(o.b)
	}
	*o = Observer{name: name, size: size}
}

func (o *Observer) init() {
	o.b = pool.Get().(*buffers)
	o.b.fileHist = [256]uint64{}
	o.b.h = hist4{}
	switch {
	case o.size < 0:
		// Unknown size: keep every byte past the head in the ring and
		// sample the middle at a fixed stride.
		o.tailStart = headSize
		for i := 0; i < midBlocks; i++ {
			o.b.midOff[i] = headSize + int64(i)*midStrideUnknown
		}
		o.nmid = midBlocks
	case o.size <= headSize:
		// The head holds it all; the ring only takes what a growing
		// file adds.
		o.tailStart = headSize
	default:
		o.tailStart = max(0, o.size-tailCap)
		o.nmid = planMiddle(&o.b.midOff, o.size)
	}
	for i := 0; i < o.nmid; i++ {
		o.b.midFill[i] = 0
	}
}

// planMiddle spreads up to 16 block-aligned samples evenly between the
// head and the tail and returns how many it planned.
func planMiddle(off *[midBlocks]int64, size int64) int {
	first := int64(headSize / blockSize)
	last := (size - tailSize) / blockSize // blocks [first, last) are whole and before the tail
	m := last - first
	if m <= 0 {
		return 0
	}
	k := int64(midBlocks)
	if m < k {
		k = m
	}
	for i := int64(0); i < k; i++ {
		off[i] = (first + (2*i+1)*m/(2*k)) * blockSize
	}
	return int(k)
}

// Write feeds the next bytes of the file; it never fails.
func (o *Observer) Write(p []byte) (int, error) {
	if o.done || len(p) == 0 {
		return len(p), nil
	}
	if o.b == nil {
		o.init()
	}
	start := o.n
	end := start + int64(len(p))
	o.n = end
	b := o.b
	if start < headSize {
		o.headLen += copy(b.head[start:], p)
	}
	for o.nextMid < o.nmid {
		off := b.midOff[o.nextMid]
		if off >= end {
			break
		}
		if off+blockSize <= start {
			o.nextMid++ // skipped: cannot happen with in-order writes
			continue
		}
		lo := max(off, start)
		hi := min(off+blockSize, end)
		b.midFill[o.nextMid] += copy(b.mid[o.nextMid][lo-off:], p[lo-start:hi-start])
		if hi < off+blockSize {
			break
		}
		o.nextMid++
	}
	if end > o.tailStart {
		q := p[max(o.tailStart-start, 0):]
		if len(q) > tailCap {
			q = q[len(q)-tailCap:]
		}
		for len(q) > 0 {
			c := copy(b.tail[o.tailPos:], q)
			q = q[c:]
			o.tailPos = (o.tailPos + c) % tailCap
			o.tailLen = min(o.tailLen+c, tailCap)
		}
	}
	return len(p), nil
}

// tail returns the ring's bytes in file order (rotating the ring in place).
func (o *Observer) tail() []byte {
	t := o.b.tail[:]
	if o.tailLen < tailCap {
		return t[:o.tailLen]
	}
	if o.tailPos != 0 {
		rotate(t, o.tailPos)
		o.tailPos = 0
	}
	return t
}

// rotate moves b[k:] before b[:k] without allocating.
func rotate(b []byte, k int) {
	reverse(b[:k])
	reverse(b[k:])
	reverse(b)
}

func reverse(b []byte) {
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
}

// Features returns what was learnt once every byte was written. The
// first call computes them and releases the buffers; later calls return
// the same value.
func (o *Observer) Features() Features {
	if o.done {
		return o.f
	}
	o.done = true
	if o.b == nil || o.n == 0 {
		return o.f
	}
	o.f = o.compute()
	pool.Put(o.b)
	o.b = nil
	return o.f
}

func (o *Observer) compute() Features {
	b := o.b
	n := o.n
	head := b.head[:o.headLen]
	tail := head
	if n > int64(o.headLen) {
		tail = o.tail()
	}
	tailFrom := n - int64(len(tail)) // file offset of tail[0]

	// Blocks: the head, then the middle samples, then the last 64 KiB,
	// each block aligned on a 4 KiB file offset. The counts of the first
	// block serve the text test.
	var acc blockAcc
	var first [256]uint64
	for i, off := 0, 0; off < o.headLen; i, off = i+1, off+blockSize {
		if !counted(i, (o.headLen+blockSize-1)/blockSize) {
			continue
		}
		acc.add(o.block(head[off:min(off+blockSize, o.headLen)]), off == 0)
		if off == 0 {
			first = b.fileHist
		}
	}
	var f Features
	f.Kind, f.Valid = container.DetectCounted(head, tail, n, &first)
	if len(tail) == 0 {
		// The file shrank while it was read: its end was never seen.
		f.Valid = container.Unknown
	}
	tailBlocks := max(int64(headSize), (n-tailSize+blockSize-1)/blockSize*blockSize)
	for i := 0; i < o.nmid; i++ {
		off := b.midOff[i]
		if b.midFill[i] == blockSize && off >= int64(o.headLen) && off+blockSize <= tailBlocks {
			acc.add(o.block(b.mid[i][:]), false)
		}
	}
	nt := int((n - tailBlocks + blockSize - 1) / blockSize)
	for i, off := 0, tailBlocks; off < n; i, off = i+1, off+blockSize {
		if off < tailFrom || !counted(nt-1-i, nt) {
			continue // (off < tailFrom only when the announced size was wrong)
		}
		acc.add(o.block(tail[off-tailFrom:min(off+blockSize, n)-tailFrom]), false)
	}

	var total uint64
	for _, c := range b.fileHist {
		total += c
	}
	f.Entropy = round3(fileEntropy(&b.fileHist, total))
	f.Chi = round3(min(fileChi(&b.fileHist, total), 99999))
	f.Blocks = acc.blocks
	if acc.blocks > 0 {
		f.High = round3(float32(acc.random) / float32(acc.blocks))
		f.Stripes = round3(float32(acc.striped) / float32(acc.blocks))
	}
	f.Head = acc.headRandom
	f.Text = round3(textShare(&b.fileHist, total))
	if f.Kind == container.Text {
		f.Encoded = encodedBlob(&b.fileHist, total, &first)
	}
	f.Canary = bytes.Contains(head, []byte(CanaryMarker)) ||
		bytes.Contains(tail[max(0, len(tail)-4096):], []byte(CanaryMarker))
	if f.Kind == container.Text && n <= noteMax && !f.Encoded {
		// Last use of the head: lowercased in place.
		f.Note = ransomNote(head, &b.fileHist)
	}
	return f
}

// counted chooses which of the head's (or the tail's) n blocks are
// counted, i being the distance from the file's nearer end: the two at
// the end and one in four further in (a file of 8 KiB or less whole).
// Head and tail are kept whole for the format checks, but their
// statistics need no more: a fully encrypted file shows in any block, a
// header in the first, stripes in every block; and counting bytes is the
// observer's main cost, paid on every small file of a backup.
func counted(i, n int) bool { return n <= 2 || i < 2 || i%4 == 0 }

// block computes one block's statistics and counts its bytes in the file
// histogram.
func (o *Observer) block(p []byte) blockStat {
	o.b.h.count(p)
	return o.b.h.finish(len(p), &o.b.fileHist)
}

type blockAcc struct {
	blocks, random, striped int
	headRandom              bool
}

// add counts a block that is large enough to judge; the file's first
// block is also remembered on its own (header encryption).
func (a *blockAcc) add(st blockStat, first bool) {
	if st.n < minBlock {
		return
	}
	if first {
		a.headRandom = st.random
	}
	a.blocks++
	if st.random {
		a.random++
	}
	if st.striped {
		a.striped++
	}
}

package sentinel

import "math"

// Block statistics. A sampled block is at most 4 KiB and starts at a file
// offset that is a multiple of 4 KiB, so that its 16-byte stripes line up
// with the file's (intermittent encryption works on file offsets).
const (
	blockSize = 4096
	stripe    = 16
	// minBlock is the smallest block whose randomness is judged: below
	// that a chi-square or an entropy says little.
	minBlock = 512
	// chiRandom bounds the chi-square (255 degrees of freedom: mean 255,
	// standard deviation 22.6 whatever the block size) of a block that
	// looks like ciphertext. At 380 about one real ciphertext block in a
	// million fails the test (Wilson-Hilferty: z = 4.8), which matters for
	// header-only encryption where the first block is the only evidence;
	// text, code, tables, images and most compressed formats are far above
	// it (deflate and JPEG data at 4 KiB mostly are).
	chiRandom = 380
	// stripeChiPlain is the chi-square above which a stripe parity is
	// certainly not ciphertext (+33 standard deviations); with the other
	// parity under chiRandom it makes a striped block even when the plain
	// stripes are noisy (audio, photos), where entropies differ little.
	stripeChiPlain = 1000
)

// nlog2n[c] = c*log2(c), so that a block's entropy needs no logarithm.
var nlog2n = func() (t [blockSize + 1]float32) {
	for c := 2; c <= blockSize; c++ {
		t[c] = float32(float64(c) * math.Log2(float64(c)))
	}
	return t
}()

// hist4 holds the byte counts of one block in four tables: even stripes
// (two tables, alternating bytes) and odd stripes (two tables). Splitting
// the counts lets the CPU run increments in parallel (a run of equal bytes
// would otherwise wait on the same counter) and gives the stripe
// histograms for free.
type hist4 [4][256]uint16

// count adds b (at most one block) to h. b starts on a stripe boundary.
//
// It is the observer's hot loop: every sampled byte costs a load and an
// increment. It touches only the observer's private buffers (never shared
// between goroutines), so it is left out of race instrumentation, which
// would make it some fifty times slower and the evaluation test too slow
// for CI under -race; the copies into those buffers (Write) stay
// instrumented.
//
//go:norace
func (h *hist4) count(b []byte) {
	e0, e1, o0, o1 := &h[0], &h[1], &h[2], &h[3]
	for len(b) >= 32 {
		s := b[:32:32]
		e0[s[0]]++
		e1[s[1]]++
		e0[s[2]]++
		e1[s[3]]++
		e0[s[4]]++
		e1[s[5]]++
		e0[s[6]]++
		e1[s[7]]++
		e0[s[8]]++
		e1[s[9]]++
		e0[s[10]]++
		e1[s[11]]++
		e0[s[12]]++
		e1[s[13]]++
		e0[s[14]]++
		e1[s[15]]++
		o0[s[16]]++
		o1[s[17]]++
		o0[s[18]]++
		o1[s[19]]++
		o0[s[20]]++
		o1[s[21]]++
		o0[s[22]]++
		o1[s[23]]++
		o0[s[24]]++
		o1[s[25]]++
		o0[s[26]]++
		o1[s[27]]++
		o0[s[28]]++
		o1[s[29]]++
		o0[s[30]]++
		o1[s[31]]++
		b = b[32:]
	}
	for i, c := range b {
		if i < stripe {
			e0[c]++
		} else {
			o0[c]++
		}
	}
}

// blockStat is what one sampled block says.
type blockStat struct {
	n       int
	chi     float32 // Pearson chi-square against uniform bytes
	random  bool    // indistinguishable from ciphertext
	striped bool    // one stripe parity ciphertext-like, the other not
}

// finish turns the block's counts into its statistics, adds them to the
// file's counts and clears h for the next block. Private memory only, as
// count.
//
// Only chi-squares are needed, in integers: a block under chiRandom has
// an entropy within 0.07 bit of the maximum anyway (H ≈ 8 - chi²/(2n ln
// 2)), and a stripe parity over stripeChiPlain is at least 0.35 bit below
// it.
//
//go:norace
func (h *hist4) finish(n int, file *[256]uint64) blockStat {
	var sq, sqe, sqo, ne, no int
	for i := 0; i < 256; i++ {
		e := int(h[0][i]) + int(h[1][i])
		o := int(h[2][i]) + int(h[3][i])
		a := e + o
		sq += a * a
		sqe += e * e
		sqo += o * o
		ne += e
		no += o
		file[i] += uint64(a)
	}
	*h = hist4{}
	st := blockStat{n: n}
	if n == 0 {
		return st
	}
	// chi² = Σ(c-e)²/e = Σc²·256/n - n.
	st.chi = stripeChi(sq, n)
	st.random = n >= minBlock && st.chi < chiRandom
	if n == blockSize && ne > 0 && no > 0 {
		// Even and odd stripes of natural data are two samples of the
		// same bytes (16 has nothing to do with the content's layout), so
		// they look alike whatever the format; one parity random and the
		// other not is encryption of every other 16 bytes.
		ce, co := stripeChi(sqe, ne), stripeChi(sqo, no)
		st.striped = min(ce, co) < chiRandom && max(ce, co) > stripeChiPlain
	}
	return st
}

// nlogn is v*log2(v), from the table when it can.
func nlogn(v uint64) float64 {
	if v <= blockSize {
		return float64(nlog2n[v])
	}
	return float64(v) * math.Log2(float64(v))
}

// stripeChi is the chi-square against uniform of n bytes whose counts
// squares sum to sq.
func stripeChi(sq, n int) float32 {
	return float32(float64(sq)*256/float64(n) - float64(n))
}

// fileEntropy and fileChi summarise the counts of every sampled byte.
func fileEntropy(c *[256]uint64, n uint64) float32 {
	if n <= 1 {
		return 0
	}
	var s float64
	for _, v := range c {
		s += nlogn(v)
	}
	return float32(max(math.Log2(float64(n))-s/float64(n), 0))
}

// fileChi is the reduced chi-square (chi-square over its 255 degrees of
// freedom) of the sampled bytes against uniform: about 1 for ciphertext at
// any sample size, growing with the sample for anything else.
func fileChi(c *[256]uint64, n uint64) float32 {
	if n == 0 {
		return 0
	}
	e := float64(n) / 256
	var s float64
	for _, v := range c {
		d := float64(v) - e
		s += d * d
	}
	return float32(s / e / 255)
}

// round3 keeps three decimals: features are stored per file.
func round3(x float32) float32 {
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return 0
	}
	return float32(math.Round(float64(x)*1000) / 1000)
}

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
	// stripeGap is how many bits per byte the entropies of a block's
	// alternating 16-byte stripes must differ by for the block to count
	// as striped ("every other 16 bytes" encryption), the higher one being
	// ciphertext-like.
	stripeGap = 1.0
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
	ent     float32 // bits per byte
	chi     float32 // Pearson chi-square against uniform bytes
	random  bool    // indistinguishable from ciphertext
	striped bool    // one stripe parity ciphertext-like, the other not
}

// finish turns the block's counts into its statistics, adds them to the
// file's counts and clears h for the next block. Private memory only, as
// count.
//
//go:norace
func (h *hist4) finish(n int, file *[256]uint64) blockStat {
	var se, so, sa float32 // sums of c*log2(c)
	var ne, no int
	var sq float64
	for i := 0; i < 256; i++ {
		e := int(h[0][i]) + int(h[1][i])
		o := int(h[2][i]) + int(h[3][i])
		a := e + o
		se += nlog2n[e]
		so += nlog2n[o]
		sa += nlog2n[a]
		ne += e
		no += o
		sq += float64(a * a)
		file[i] += uint64(a)
	}
	*h = hist4{}
	st := blockStat{n: n}
	if n == 0 {
		return st
	}
	st.ent = entropyOf(sa, n)
	// chi² = Σ(c-e)²/e = Σc²/e - n, with e = n/256.
	st.chi = float32(sq*256/float64(n) - float64(n))
	if n >= minBlock {
		st.random = st.chi < chiRandom && st.ent >= expectedRandomEntropy(n)-0.1
	}
	if n == blockSize && ne > 0 && no > 0 {
		he, ho := entropyOf(se, ne), entropyOf(so, no)
		hi, lo := max(he, ho), min(he, ho)
		st.striped = hi >= expectedRandomEntropy(blockSize/2)-0.1 && hi-lo >= stripeGap
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

func entropyOf(sumNlogN float32, n int) float32 {
	if n <= 1 {
		return 0
	}
	h := float32(math.Log2(float64(n))) - sumNlogN/float32(n)
	return max(h, 0)
}

// expectedRandomEntropy is the entropy measured, on average, over n
// uniformly random bytes: less than 8 because a finite sample never fills
// every count evenly (Miller-Madow: 8 - 255/(2n ln 2)).
func expectedRandomEntropy(n int) float32 {
	if n <= 0 {
		return 0
	}
	return float32(8 - 255/(2*float64(n)*math.Ln2))
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

package main

import (
	"hash/fnv"
	"math"
)

// rng is a tiny splitmix64 generator. We use our own instead of math/rand so
// the corpus bytes never depend on the Go version's RNG algorithms.
type rng struct{ s uint64 }

// newRNG derives an independent stream from a label and some integers, so
// every file has its own seed and files can be generated in any order or in
// parallel with identical results.
func newRNG(seed uint64, label string, parts ...uint64) *rng {
	h := fnv.New64a()
	h.Write([]byte(label))
	s := h.Sum64() ^ seed*0x9e3779b97f4a7c15
	r := &rng{s: s}
	for _, p := range parts {
		r.s ^= p + 0x632be59bd9b4e019
		r.u64()
	}
	r.u64()
	return r
}

func (r *rng) u64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0,n). The modulo bias is irrelevant here.
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int(r.u64() % uint64(n))
}

// rangeInt returns a value in [lo,hi].
func (r *rng) rangeInt(lo, hi int) int { return lo + r.intn(hi-lo+1) }

func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

func (r *rng) chance(p float64) bool { return r.float() < p }

// logUniform returns a size between lo and hi with a log-uniform
// distribution: many small values, a few big ones (like real file sizes).
func (r *rng) logUniform(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	l, h := math.Log(float64(lo)), math.Log(float64(hi))
	return int(math.Exp(l + r.float()*(h-l)))
}

func (r *rng) fill(b []byte) {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		v := r.u64()
		b[i] = byte(v)
		b[i+1] = byte(v >> 8)
		b[i+2] = byte(v >> 16)
		b[i+3] = byte(v >> 24)
		b[i+4] = byte(v >> 32)
		b[i+5] = byte(v >> 40)
		b[i+6] = byte(v >> 48)
		b[i+7] = byte(v >> 56)
	}
	if i < len(b) {
		v := r.u64()
		for ; i < len(b); i++ {
			b[i] = byte(v)
			v >>= 8
		}
	}
}

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }

func hash01(label string) float64 {
	h := fnv.New64a()
	h.Write([]byte(label))
	return float64(h.Sum64()>>11) / (1 << 53)
}

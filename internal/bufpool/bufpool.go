// Package bufpool recycles small byte buffers by size class.
//
// A backup passes every new byte through short-lived buffers (the
// compressed and sealed form of each blob). Allocating one per blob, for
// 60,000 small files, keeps the garbage collector and the kernel (zeroing
// fresh pages) busy for nothing. Size classes keep a 40 KiB file from
// holding a large buffer, so memory stays bounded by what is in flight.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 12 // 4 KiB: the smallest class
	// 256 KiB: larger requests are not pooled. Most files of a town's
	// shares fit below it; the few buffers of whole chunks (1 to 8 MiB)
	// would otherwise stay held in the pool, tens of MiB for little CPU.
	maxShift = 18
)

// Two classes per power of two (4, 6, 8, 12, 16, 24 KiB...): a buffer is at
// most a third larger than asked for.
var pools [2*(maxShift-minShift) + 1]sync.Pool

// size is the capacity of the buffers of class c.
func size(c int) int {
	if c%2 == 0 {
		return 1 << (minShift + c/2)
	}
	return 3 << (minShift + c/2 - 1)
}

// class is the smallest class whose buffers hold n bytes.
func class(n int) int {
	if n <= 1<<minShift {
		return 0
	}
	b := bits.Len(uint(n - 1)) // 1<<(b-1) < n <= 1<<b
	if n <= 3<<(b-2) {
		return 2*(b-1-minShift) + 1
	}
	return 2 * (b - minShift)
}

// floorClass is the largest class whose buffers fit in n bytes.
func floorClass(n int) int {
	b := bits.Len(uint(n)) - 1 // 1<<b <= n < 1<<(b+1)
	if n >= 3<<(b-1) {
		return 2*(b-minShift) + 1
	}
	return 2 * (b - minShift)
}

// Get returns an empty buffer with a capacity of at least n. Give it back
// with Put once nothing refers to it any more.
func Get(n int) []byte {
	c := class(n)
	if c >= len(pools) {
		return make([]byte, 0, n)
	}
	if p, ok := pools[c].Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, size(c))
}

// Put recycles a buffer obtained from Get (or any buffer: it goes to the
// largest class its capacity fills). The caller must not use b afterwards.
func Put(b []byte) {
	n := cap(b)
	if n < 1<<minShift {
		return
	}
	c := floorClass(n)
	if c >= len(pools) {
		return
	}
	b = b[:0]
	pools[c].Put(&b)
}

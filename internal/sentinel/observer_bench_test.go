package sentinel

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// benchData is pseudo-random text-like bytes (words and spaces) mixed
// with runs of random bytes: the byte counting cost does not depend much
// on the content, but runs of equal bytes are its worst case.
func benchData(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("le conseil municipal de la commune a délibéré sur le budget primitif et les " +
		"subventions aux associations pour l'année en cours ; le maire présente le rapport financier " +
		"avec le chiffre des dépenses de fonctionnement 2024 12 345,67 EUR")
	b := make([]byte, 0, n)
	for len(b) < n {
		if len(b)%65536 < 49152 {
			b = append(b, words[r.IntN(len(words))]...)
			b = append(b, " \n"[r.IntN(12)/11])
		} else {
			b = append(b, byte(r.Uint32()))
		}
	}
	return b[:n]
}

// BenchmarkObserver reports the observer's throughput (MB/s) on files of
// several sizes, fed in 1 MiB writes as the archiver reads them. Every
// byte of a file of 192 KiB or less is counted; larger files are sampled.
func BenchmarkObserver(b *testing.B) {
	for _, size := range []int{4 << 10, 32 << 10, 192 << 10, 1 << 20, 64 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			data := benchData(size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			var o Observer
			for b.Loop() {
				o.Reset("file.txt", int64(size))
				for p := data; len(p) > 0; {
					n := min(len(p), 1<<20)
					_, _ = o.Write(p[:n])
					p = p[n:]
				}
				_ = o.Features()
			}
		})
	}
}

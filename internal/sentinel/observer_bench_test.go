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
// byte of a file of 32 KiB or less is counted; larger files are sampled.
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

// BenchmarkAssess judges a large snapshot: 50,000 files of which 10,000
// were replaced by encrypted copies in one folder (originals deleted),
// the worst case of pairing.
func BenchmarkAssess(b *testing.B) {
	doc := Features{Kind: "zip", Valid: 1, Entropy: 7.6, Chi: 40, Blocks: 12}
	enc := Features{Entropy: 7.999, Chi: 1, High: 1, Head: true, Blocks: 30}
	var in Input
	for i := 0; i < 40000; i++ {
		in.Changes = append(in.Changes, Change{Path: fmt.Sprintf("share/d%03d/f%05d.docx", i%500, i), Cur: doc, ContentKey: fmt.Sprint("n", i)})
	}
	for i := 0; i < 10000; i++ {
		p := fmt.Sprintf("share/big/report-%05d.docx", i)
		in.Deleted = append(in.Deleted, Deletion{Path: p, Prev: &doc, ContentKey: fmt.Sprint("o", i)})
		in.Changes = append(in.Changes, Change{Path: p + ".locked", Cur: enc, ContentKey: fmt.Sprint("e", i)})
	}
	in.ParentID = "p"
	b.ReportAllocs()
	for b.Loop() {
		if r := Assess(in); r.Verdict != Infected {
			b.Fatal(r.Verdict)
		}
	}
}

package sentinel

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestFeaturesAppendJSON: the hand-written encoder writes what
// encoding/json writes, for every field set or unset and for odd values.
func TestFeaturesAppendJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	kinds := []string{"", "zip", "pdf", "text", "mp4", `we"ird`, "<é>"}
	floats := []float32{0, 1, 0.001, 7.999, 99999, 3539.137, 1e-7, 1e22, -0.5, 0.333}
	for i := 0; i < 5000; i++ {
		f := Features{
			Kind:    kinds[r.IntN(len(kinds))],
			Valid:   int8(r.IntN(3) - 1),
			Entropy: floats[r.IntN(len(floats))],
			High:    floats[r.IntN(len(floats))],
			Text:    round3(r.Float32()),
			Canary:  r.IntN(2) == 0,
			Note:    r.IntN(2) == 0,
			Chi:     floats[r.IntN(len(floats))],
			Blocks:  r.IntN(40),
			Head:    r.IntN(2) == 0,
			Stripes: floats[r.IntN(len(floats))],
			Encoded: r.IntN(2) == 0,
		}
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.AppendJSON(nil); string(got) != string(want) {
			t.Fatalf("%+v:\n got %s\nwant %s", f, got, want)
		}
	}
}

func BenchmarkFeaturesJSON(b *testing.B) {
	f := Features{Kind: "zip", Valid: 1, Entropy: 7.912, High: 0.25, Text: 0.1, Chi: 12.5, Blocks: 20, Stripes: 0.05}
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for i := 0; i < b.N; i++ {
			buf = f.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, _ = json.Marshal(f)
		}
	})
}

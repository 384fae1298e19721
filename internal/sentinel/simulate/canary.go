package simulate

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/rempart/rempart/internal/canary"
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0xca7+stream)) }

// canaryFolders are where the evaluation plants decoys, as a town would
// in its shared folders.
var canaryFolders = []string{"Secretariat", "Finances", "RH", "Etat-civil"}

// PlantCanaries places decoys in root exactly as `rempart canary plant`
// does (internal/canary), one per folder of canaryFolders that exists,
// (four kinds in the first, one elsewhere), and returns their paths.
func PlantCanaries(root string, seed uint64) ([]string, error) {
	var out []string
	when := time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC).Add(time.Duration(seed%1000) * time.Minute)
	for i, d := range canaryFolders {
		dir := filepath.Join(root, d)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		n := 1
		if i == 0 {
			n = 4 // spreadsheets, a register and a password list
		}
		planted, err := canary.Plant(dir, n, when)
		if err != nil {
			return nil, fmt.Errorf("plant canaries: %w", err)
		}
		for _, p := range planted {
			rel, err := filepath.Rel(root, p.Path)
			if err != nil {
				return nil, err
			}
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out, nil
}

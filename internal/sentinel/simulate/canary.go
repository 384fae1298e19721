package simulate

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/rempart/rempart/internal/sentinel"
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0xca7+stream)) }

// PlantCanaries places decoys in root the way `rempart canary plant` is
// meant to: realistic names that sort first in their folder, the marker
// in a ZIP comment, a PDF comment or a text line. It returns their paths.
func PlantCanaries(root string, seed uint64) ([]string, error) {
	r := newRand(seed, 0xdec0)
	g := &gen{r: r, root: root, t0: time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC)}
	id := fmt.Sprintf("%016x", r.Uint64())
	marker := sentinel.CanaryMarker + id
	var out []string
	plant := func(rel string, data []byte) error {
		if _, err := os.Stat(filepath.Dir(abs(root, rel))); err != nil {
			return nil // no such folder in this corpus
		}
		out = append(out, rel)
		return g.write(rel, data)
	}
	var ps []string
	for i := 0; i < 12; i++ {
		ps = append(ps, g.paragraph())
	}
	doc, err := zipBytes(docxParts(ps), marker)
	if err != nil {
		return nil, err
	}
	if err := plant("Secretariat/_Mots-de-passe-messagerie.docx", doc); err != nil {
		return nil, err
	}
	sheet, err := zipBytes(docxParts(ps[:4]), marker)
	if err != nil {
		return nil, err
	}
	if err := plant("Finances/_RIB-fournisseurs-2025.xlsx", sheet); err != nil {
		return nil, err
	}
	txt := fmt.Sprintf("Grille des salaires 2025 - CONFIDENTIEL\n\n%s\n\n%s\n", ps[0], marker)
	if err := plant("RH/_Salaires-2025-CONFIDENTIEL.txt", []byte(txt)); err != nil {
		return nil, err
	}
	pdf := pdfBytes([]string{"Index des registres d'etat civil", ps[1]}, nil, 0, 0)
	pdf = append(pdf[:len(pdf)-len("%%EOF\n")], []byte("%"+marker+"\n%%EOF\n")...)
	if err := plant("Etat-civil/_Index-registres.pdf", pdf); err != nil {
		return nil, err
	}
	return out, nil
}

package demo

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MakeSample writes a small, deterministic town-hall folder and returns its
// file count and size.
func MakeSample(dir string) (int, int64, error) {
	rng := rand.New(rand.NewPCG(2026, 11))
	sw := &sampleWriter{root: dir}
	write := sw.write
	first, last := firstNames, lastNames
	for i := 0; i < 40; i++ {
		txt := fmt.Sprintf("Acte de naissance n° 2026-%04d\nNom : %s\nPrénom : %s\nNé(e) le %d/%d/2026 à Saint-Rempart\n",
			i, last[rng.IntN(len(last))], first[rng.IntN(len(first))], 1+rng.IntN(28), 1+rng.IntN(12))
		if err := write(fmt.Sprintf("etat-civil/naissance-2026-%04d.txt", i), []byte(txt)); err != nil {
			return 0, 0, err
		}
	}
	for m := 1; m <= 10; m++ {
		var sb strings.Builder
		fmt.Fprintf(&sb, "Compte rendu du conseil municipal, séance de %02d/2026\n\n", m)
		for p := 1; p <= 6; p++ {
			fmt.Fprintf(&sb, "Point %d : délibération sur le budget de la commune, voirie, écoles, eau potable. Adopté.\n", p)
		}
		if err := write(fmt.Sprintf("conseil/compte-rendu-2026-%02d.txt", m), []byte(sb.String())); err != nil {
			return 0, 0, err
		}
	}
	var csv strings.Builder
	csv.WriteString("matricule;nom;prenom;service;brut\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&csv, "%05d;%s;%s;%s;%d.%02d\n", i, last[rng.IntN(10)], first[rng.IntN(10)], []string{"voirie", "ecoles", "etat-civil", "eau"}[rng.IntN(4)], 1800+rng.IntN(2000), rng.IntN(100))
	}
	if err := write("rh/paie-2026-10.csv", []byte(csv.String())); err != nil {
		return 0, 0, err
	}
	for i := 0; i < 3; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 320, 240))
		for y := 0; y < 240; y++ {
			for x := 0; x < 320; x++ {
				img.Set(x, y, color.RGBA{uint8(x + rng.IntN(40)), uint8(y + rng.IntN(40)), uint8(i * 80), 255})
			}
		}
		f, err := os.Create(filepath.Join(dir, "communication", fmt.Sprintf("photo-%d.jpg", i)))
		if os.IsNotExist(err) {
			_ = os.MkdirAll(filepath.Join(dir, "communication"), 0o755)
			f, err = os.Create(filepath.Join(dir, "communication", fmt.Sprintf("photo-%d.jpg", i)))
		}
		if err != nil {
			return 0, 0, err
		}
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 85})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return 0, 0, err
		}
		if st, err := os.Stat(f.Name()); err == nil {
			sw.n++
			sw.size += st.Size()
		}
	}
	// A sparse disk image: 64 MiB with a little data at both ends.
	img, err := os.Create(filepath.Join(dir, "serveur", "disque.img"))
	if os.IsNotExist(err) {
		_ = os.MkdirAll(filepath.Join(dir, "serveur"), 0o755)
		img, err = os.Create(filepath.Join(dir, "serveur", "disque.img"))
	}
	if err != nil {
		return 0, 0, err
	}
	head := make([]byte, 1<<20)
	for i := range head {
		head[i] = byte(rng.IntN(256))
	}
	if _, err = img.Write(head); err == nil {
		_, err = img.WriteAt([]byte("end of disk\n"), 64<<20-12)
	}
	if cerr := img.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, 0, err
	}
	sw.n++
	sw.size += 64 << 20
	_ = os.MkdirAll(filepath.Join(dir, "archives", "vide"), 0o755)
	_ = os.Symlink("../conseil/compte-rendu-2026-10.txt", filepath.Join(dir, "etat-civil", "dernier-conseil.txt"))
	old := time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)
	_ = os.Chtimes(filepath.Join(dir, "rh", "paie-2026-10.csv"), old, old)
	return sw.n, sw.size, nil
}

// Names of the sample documents' people.
var (
	firstNames = []string{"Camille", "Louis", "Emma", "Jules", "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Nathan"}
	lastNames  = []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"}
)

// sampleWriter writes a sample's files under root, counting them and
// their bytes.
type sampleWriter struct {
	root string
	n    int
	size int64
}

func (w *sampleWriter) write(rel string, data []byte) error {
	p := filepath.Join(w.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	w.n++
	w.size += int64(len(data))
	return os.WriteFile(p, data, 0o644)
}

package sentinel

import (
	"archive/zip"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// observe feeds data in writes of the given size (0: one write).
func observe(name string, data []byte, size int64, chunk int) Features {
	o := NewObserver(name, size)
	if chunk <= 0 {
		chunk = len(data) + 1
	}
	for b := data; len(b) > 0; {
		n := min(chunk, len(b))
		if w, err := o.Write(b[:n]); w != n || err != nil {
			panic("short write")
		}
		b = b[n:]
	}
	return o.Features()
}

func obs(data []byte) Features { return observe("f", data, int64(len(data)), 1<<20) }

func prose(r *rand.Rand, n int) []byte {
	words := strings.Fields("le conseil municipal de la commune a délibéré sur le budget primitif et les subventions aux associations pour l'année ; rapport financier dépenses 2024 12 345,67 EUR")
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func ctr(seed byte) cipher.Stream {
	key := make([]byte, 32)
	key[0] = seed
	b, _ := aes.NewCipher(key)
	return cipher.NewCTR(b, make([]byte, 16))
}

// encrypt returns data with the ranges sel chooses (by offset, in steps)
// encrypted.
func encrypt(data []byte, step int, sel func(off int) bool) []byte {
	s := ctr(1)
	out := append([]byte(nil), data...)
	for off := 0; off < len(out); off += step {
		end := min(off+step, len(out))
		if sel(off) {
			s.XORKeyStream(out[off:end], out[off:end])
		}
	}
	return out
}

func every(int) bool { return true }

// TestObserverChunking: the features do not depend on how the bytes are
// cut into writes, nor (much) on whether the size was announced.
func TestObserverChunking(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, size := range []int{0, 1, 100, 511, 4096, 4097, 65535, 65536, 70000, 140000, 200000, 3 << 20} {
		data := prose(r, size)
		if size > 100000 {
			copy(data[size/2:], encrypt(data[size/2:size/2+50000], 1<<20, every))
		}
		want := observe("f.txt", data, int64(size), 0)
		for _, chunk := range []int{1, 7, 4096, 65537, 1 << 20} {
			if chunk == 1 && size > 300000 {
				continue
			}
			if got := observe("f.txt", data, int64(size), chunk); got != want {
				t.Errorf("size %d chunk %d: %+v, want %+v", size, chunk, got, want)
			}
		}
		// Unknown size: the head, the tail and the kind are the same.
		got := observe("f.txt", data, -1, 65536)
		if got.Kind != want.Kind || got.Valid != want.Valid || got.Canary != want.Canary || got.Head != want.Head {
			t.Errorf("size %d unknown: %+v, want %+v", size, got, want)
		}
	}
}

// TestObserverWrongSize: a file that grows or shrinks while it is read
// gives sane features (its real end is what the tail holds).
func TestObserverWrongSize(t *testing.T) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	r := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < 30; i++ {
		w, _ := zw.Create(fmt.Sprint("part", i))
		if _, err := w.Write(prose(r, 20000)); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	z := b.Bytes()
	for _, announced := range []int64{int64(len(z)) - 5000, int64(len(z)) + 5000, 100, 0} {
		f := observe("a.zip", z, announced, 4096)
		if f.Kind != "zip" || f.Valid != 1 {
			t.Errorf("announced %d of %d: %+v", announced, len(z), f)
		}
	}
}

func TestObserverFeatures(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	text := prose(r, 300000)
	f := obs(text)
	if f.Kind != "text" || f.High != 0 || f.Head || f.Stripes != 0 || f.Text < 0.9 || f.Entropy > 5.5 || f.Chi < 100 {
		t.Errorf("text: %+v", f)
	}
	full := obs(encrypt(text, 1<<20, every))
	if full.Kind != "" || full.High < 0.95 || !full.Head || full.Entropy < 7.9 || full.Chi > 1.5 {
		t.Errorf("encrypted: %+v", full)
	}
	head := obs(encrypt(text, 4096, func(off int) bool { return off == 0 }))
	if head.Kind != "" || !head.Head || head.High > 0.1 {
		t.Errorf("header encrypted: %+v", head)
	}
	striped := obs(encrypt(text, 16, func(off int) bool { return off%32 == 0 }))
	if striped.Stripes < 0.9 {
		t.Errorf("every other 16 bytes: %+v", striped)
	}
	blocks := obs(encrypt(text, 64<<10, func(off int) bool { return off/(64<<10)%10 == 0 }))
	if !blocks.Head || blocks.High < 0.15 || blocks.High > 0.6 { // 64 KiB of 300 KB: about 0.2
		t.Errorf("one block in ten: %+v", blocks)
	}
}

func TestCanaryMarker(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	mark := []byte(CanaryMarker + "0123456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		at   func(n int) int
		n    int
		want bool
	}{
		{func(int) int { return 0 }, 1000, true},
		{func(int) int { return 60000 }, 1 << 20, true},
		{func(n int) int { return n - len(mark) }, 1 << 20, true},
		{func(n int) int { return n - 4000 }, 3 << 20, true},
		{func(n int) int { return n / 2 }, 3 << 20, false}, // the middle is not searched
	} {
		data := prose(r, tc.n)
		copy(data[tc.at(tc.n):], mark)
		if got := obs(data).Canary; got != tc.want {
			t.Errorf("marker at %d of %d: canary %v", tc.at(tc.n), tc.n, got)
		}
	}
	// In a ZIP comment, as rempart canary plant does.
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("xl/workbook.xml")
	if _, err := w.Write(prose(r, 200000)); err != nil {
		t.Fatal(err)
	}
	if err := zw.SetComment(string(mark)); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	if f := obs(b.Bytes()); !f.Canary || f.Kind != "zip" || f.Valid != 1 {
		t.Errorf("zip decoy: %+v", f)
	}
}

func TestRansomNote(t *testing.T) {
	notes := []string{
		"!!! VOS FICHIERS ONT ÉTÉ CHIFFRÉS !!!\nPour les récupérer, payez 1 BTC. Contact: http://xyz.onion",
		"All your files have been encrypted!\nTo decrypt them, send 0.5 bitcoin to the wallet below.",
		"Your network has been penetrated. All files are encrypted. Download Tor Browser to contact us.",
		"<html><body><h1>YOUR FILES ARE ENCRYPTED</h1><p>Pay the ransom</p></body></html>",
		"Tous vos documents ont été cryptés. Rançon : 2 BTC.",
	}
	for _, n := range notes {
		if f := obs([]byte(n)); !f.Note {
			t.Errorf("not a note: %q (%+v)", n, f)
		}
	}
	benign := []string{
		"Le chiffre d'affaires et le paiement des factures de la commune sont présentés en annexe.",
		"Procès-verbal du conseil municipal : vote du budget, subventions, travaux de voirie.",
		"Le chiffrement des postes est assuré par BitLocker.", // encryption mentioned, nothing else
		"Note de service : la cryptographie est enseignée au lycée.",
	}
	for _, n := range benign {
		if f := obs([]byte(n)); f.Note {
			t.Errorf("taken for a note: %q", n)
		}
	}
	// Large files are not read for notes.
	big := append(prose(rand.New(rand.NewPCG(5, 5)), 100000), notes[0]...)
	if obs(big).Note {
		t.Error("a 100 KB text was read for note words")
	}
}

func TestEncodedBlob(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	random := make([]byte, 60000)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	b64 := base64.StdEncoding.EncodeToString(random)
	var wrapped strings.Builder
	for s := b64; len(s) > 0; s = s[min(76, len(s)):] {
		wrapped.WriteString(s[:min(76, len(s))] + "\n")
	}
	for name, data := range map[string]string{
		"base64, one line":   b64,
		"base64, 76 columns": wrapped.String(),
		"hex":                hex.EncodeToString(random),
	} {
		if f := obs([]byte(data)); !f.Encoded || f.Kind != "text" {
			t.Errorf("%s: %+v", name, f)
		}
	}
	mail := "From: Mairie <contact@mairie.fr>\r\nTo: x@y.fr\r\nSubject: Photos de la fête\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrapped.String()
	text := string(prose(r, 60000))
	b64text := base64.StdEncoding.EncodeToString([]byte(text))
	for name, data := range map[string]string{
		"mail with an attachment": mail,
		"prose":                   text,
		"base64 of prose":         b64text,
	} {
		if f := obs([]byte(data)); f.Encoded {
			t.Errorf("%s taken for an encoded blob: %+v", name, f)
		}
	}
}

func TestLowerASCII(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 200; i++ {
		b := make([]byte, r.IntN(100))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		want := make([]byte, len(b))
		for j, c := range b {
			if c >= 'A' && c <= 'Z' {
				c += 32
			}
			want[j] = c
		}
		lowerASCII(b)
		if !bytes.Equal(b, want) {
			t.Fatalf("lowerASCII: % x, want % x", b, want)
		}
	}
}

// TestObserverNoAlloc: in steady state (Reset between files) observing
// allocates nothing.
func TestObserverNoAlloc(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	data := prose(r, 500000)
	var o Observer
	o.Reset("x.txt", int64(len(data)))
	_, _ = o.Write(data)
	o.Features()
	allocs := testing.AllocsPerRun(50, func() {
		o.Reset("x.txt", int64(len(data)))
		for b := data; len(b) > 0; b = b[min(len(b), 65536):] {
			_, _ = o.Write(b[:min(len(b), 65536)])
		}
		o.Features()
	})
	if allocs > 0.1 {
		t.Errorf("%.1f allocations per file", allocs)
	}
}

func TestFeaturesIdempotent(t *testing.T) {
	o := NewObserver("a.txt", 5)
	_, _ = o.Write([]byte("hello"))
	a := o.Features()
	_, _ = o.Write([]byte("more"))
	if b := o.Features(); a != b {
		t.Errorf("second Features differs: %+v %+v", a, b)
	}
	if f := NewObserver("empty", 0).Features(); f != (Features{}) {
		t.Errorf("empty file: %+v", f)
	}
}

// FuzzObserver: any bytes, cut anywhere, with any announced size: no
// panic, every byte accepted, features in range.
func FuzzObserver(f *testing.F) {
	f.Add([]byte("PK\x03\x04 hello"), uint16(3), int64(-1))
	f.Add([]byte("%PDF-1.4\n%%EOF\n"), uint16(1), int64(16))
	f.Add(bytes.Repeat([]byte{0xFF, 0xFE, 'a', 0}, 2000), uint16(500), int64(8000))
	f.Add([]byte(CanaryMarker+"x your files are encrypted bitcoin"), uint16(7), int64(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16, size int64) {
		o := NewObserver("fuzz.bin", size)
		c := int(chunk)%8192 + 1
		for b := data; len(b) > 0; {
			n := min(c, len(b))
			if w, err := o.Write(b[:n]); w != n || err != nil {
				t.Fatalf("Write(%d) = %d, %v", n, w, err)
			}
			b = b[n:]
		}
		ft := o.Features()
		if ft.Entropy < 0 || ft.Entropy > 8.001 || ft.High < 0 || ft.High > 1 || ft.Text < 0 || ft.Text > 1 || ft.Stripes < 0 || ft.Stripes > 1 {
			t.Fatalf("features out of range: %+v", ft)
		}
		if ft.Valid < -1 || ft.Valid > 1 {
			t.Fatalf("valid %d", ft.Valid)
		}
	})
}

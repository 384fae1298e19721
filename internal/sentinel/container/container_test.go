package container

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// detect runs Detect as the observer does: head is the first 64 KiB,
// tail the last 68 KiB.
func detect(data []byte) (string, int8) {
	head := data[:min(len(data), 64<<10)]
	tail := data[max(0, len(data)-68<<10):]
	return Detect(head, tail, int64(len(data)))
}

func check(t *testing.T, what string, data []byte, kind string, valid int8) {
	t.Helper()
	k, v := detect(data)
	if k != kind || v != valid {
		t.Errorf("%s: got (%q, %d), want (%q, %d)", what, k, v, kind, valid)
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// encryptTail overwrites the last n bytes with random ones.
func encryptTail(data []byte, n int, r *rand.Rand) []byte {
	out := append([]byte(nil), data...)
	copy(out[max(0, len(out)-n):], randBytes(r, n))
	return out
}

func zipFile(t *testing.T, files int, size int, comment string) []byte {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < files; i++ {
		f, err := w.Create(fmt.Sprintf("word/part%d.xml", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(append([]byte("<w:t>"), randBytes(r, size)...)); err != nil {
			t.Fatal(err)
		}
	}
	if comment != "" {
		if err := w.SetComment(comment); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestZip(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	small := zipFile(t, 3, 1000, "")
	check(t, "small zip", small, Zip, Valid)
	big := zipFile(t, 40, 8000, "")
	check(t, "big zip (directory beyond the head)", big, Zip, Valid)
	check(t, "zip with a comment", zipFile(t, 3, 1000, "REMPART-CANARY-1:0123"), Zip, Valid)
	var empty bytes.Buffer
	zip.NewWriter(&empty).Close()
	check(t, "empty zip", empty.Bytes(), Zip, Valid)
	check(t, "truncated zip", small[:len(small)-30], Zip, Broken)
	check(t, "zip with its tail encrypted", encryptTail(big, 4096, r), Zip, Broken)
	// A record whose directory offset points elsewhere.
	bad := append([]byte(nil), small...)
	binary.LittleEndian.PutUint32(bad[len(bad)-22+16:], 7)
	binary.LittleEndian.PutUint32(bad[len(bad)-22+12:], binary.LittleEndian.Uint32(bad[len(bad)-22+12:])+10)
	check(t, "zip whose directory offset and size are wrong", bad, Zip, Broken)
	huge := append([]byte(nil), small...)
	binary.LittleEndian.PutUint32(huge[len(huge)-22+12:], 1<<30)
	check(t, "zip whose directory is larger than the file", huge, Zip, Broken)
	// Bytes prepended (a self-extractor): the directory still ends
	// before the record.
	sfx := append(bytes.Repeat([]byte("MZstub"), 100), small...)
	sfx = append([]byte("PK\x03\x04"), sfx...)
	check(t, "zip with a prefix", sfx, Zip, Valid)
	// Zip64: a hand-made end of directory that defers to the zip64 record.
	z64 := zip64Sample(small)
	check(t, "zip64", z64, Zip, Valid)
	broken64 := append([]byte(nil), z64...)
	copy(broken64[len(broken64)-22-20-56:], "XXXX")
	check(t, "zip64 with its record damaged", broken64, Zip, Broken)
}

// zip64Sample rewrites a small zip's end of directory as zip64.
func zip64Sample(z []byte) []byte {
	eocd := z[len(z)-22:]
	entries := binary.LittleEndian.Uint16(eocd[10:])
	cdSize := binary.LittleEndian.Uint32(eocd[12:])
	cdOff := binary.LittleEndian.Uint32(eocd[16:])
	out := append([]byte(nil), z[:len(z)-22]...)
	recOff := len(out)
	rec := make([]byte, 56)
	copy(rec, "PK\x06\x06")
	binary.LittleEndian.PutUint64(rec[4:], 44)
	binary.LittleEndian.PutUint64(rec[24:], uint64(entries))
	binary.LittleEndian.PutUint64(rec[32:], uint64(entries))
	binary.LittleEndian.PutUint64(rec[40:], uint64(cdSize))
	binary.LittleEndian.PutUint64(rec[48:], uint64(cdOff))
	out = append(out, rec...)
	loc := make([]byte, 20)
	copy(loc, "PK\x06\x07")
	binary.LittleEndian.PutUint64(loc[8:], uint64(recOff))
	binary.LittleEndian.PutUint32(loc[16:], 1)
	out = append(out, loc...)
	end := make([]byte, 22)
	copy(end, "PK\x05\x06")
	binary.LittleEndian.PutUint16(end[8:], 0xFFFF)
	binary.LittleEndian.PutUint16(end[10:], 0xFFFF)
	binary.LittleEndian.PutUint32(end[12:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(end[16:], 0xFFFFFFFF)
	return append(out, end...)
}

func pdfSample(pad int) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
	b.WriteString(strings.Repeat("% filler line\n", pad))
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 2\n0000000000 65535 f \n0000000009 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

func TestPDF(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	check(t, "pdf", pdfSample(10), PDF, Valid)
	check(t, "big pdf", pdfSample(20000), PDF, Valid)
	check(t, "pdf with junk before the header", append([]byte("\x00\x00junk\n"), pdfSample(10)...), PDF, Valid)
	p := pdfSample(10)
	check(t, "truncated pdf", p[:len(p)-20], PDF, Broken)
	check(t, "pdf with its tail encrypted", encryptTail(pdfSample(2000), 2048, r), PDF, Broken)
	bad := bytes.Replace(pdfSample(10), []byte("startxref\n"), []byte("startxref\n99999999"), 1)
	check(t, "pdf whose startxref points past the end", bad, PDF, Broken)
	shifted := bytes.Replace(pdfSample(10), []byte("xref\n0 2"), []byte("XXXX\n0 2"), 1)
	check(t, "pdf whose startxref does not point to a cross-reference", shifted, PDF, Broken)
	nostart := bytes.Replace(pdfSample(10), []byte("startxref"), []byte("start_ref"), 1)
	check(t, "pdf without startxref", nostart, PDF, Broken)
	check(t, "text mentioning %PDF- loosely", []byte("the %PDF- header is described below\n"), Text, Unknown)
}

func picture(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(4, 4))
	for i := range img.Pix {
		img.Pix[i] = byte(i/7) + byte(r.IntN(16))
	}
	return img
}

func TestJPEG(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, picture(640, 480), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	j := b.Bytes()
	check(t, "jpeg", j, JPEG, Valid)
	check(t, "jpeg with padding after EOI", append(append([]byte(nil), j...), 0, 0, 0, 0), JPEG, Valid)
	check(t, "truncated jpeg", j[:len(j)-1000], JPEG, Broken)
	bad := append([]byte(nil), j...)
	bad[2+2+int(binary.BigEndian.Uint16(j[4:]))] = 0x12 // the second marker's FF
	check(t, "jpeg with a broken segment chain", bad, JPEG, Broken)
}

func TestPNG(t *testing.T) {
	var b bytes.Buffer
	if err := png.Encode(&b, picture(300, 200)); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	check(t, "png", p, PNG, Valid)
	var big bytes.Buffer
	if err := png.Encode(&big, picture(1500, 1000)); err != nil {
		t.Fatal(err)
	}
	check(t, "big png (IEND beyond the head)", big.Bytes(), PNG, Valid)
	bad := append([]byte(nil), p...)
	bad[20] ^= 0xFF // inside IHDR: its CRC fails
	check(t, "png with a bad IHDR CRC", bad, PNG, Broken)
	check(t, "truncated big png", big.Bytes()[:big.Len()-100], PNG, Broken)
	noIHDR := append([]byte(nil), p...)
	copy(noIHDR[12:], "tEXt")
	check(t, "png without IHDR first", noIHDR, PNG, Broken)
}

func TestGIF(t *testing.T) {
	var b bytes.Buffer
	pal := image.NewPaletted(image.Rect(0, 0, 50, 40), []color.Color{color.Black, color.White})
	if err := gif.Encode(&b, pal, nil); err != nil {
		t.Fatal(err)
	}
	check(t, "gif", b.Bytes(), GIF, Valid)
	check(t, "truncated gif", b.Bytes()[:b.Len()-3], GIF, Broken)
}

func TestGzip(t *testing.T) {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Name = "journal.log"
	if _, err := w.Write(bytes.Repeat([]byte("ligne de journal\n"), 1000)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	check(t, "gzip", b.Bytes(), Gzip, Valid)
	bad := append([]byte(nil), b.Bytes()...)
	bad[3] |= 0x80
	check(t, "gzip with reserved flags", bad, Gzip, Broken)
	isize := append([]byte(nil), b.Bytes()...)
	binary.LittleEndian.PutUint32(isize[len(isize)-4:], 0xDEADBEEF)
	check(t, "gzip whose trailer size is impossible", isize, Gzip, Broken)
	// Members appended: the last one's size is small, still valid.
	var more bytes.Buffer
	w2 := gzip.NewWriter(&more)
	if _, err := w2.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	check(t, "gzip with an appended member", append(append([]byte(nil), b.Bytes()...), more.Bytes()...), Gzip, Valid)
}

func TestArchivesAndCompressors(t *testing.T) {
	// bzip2: header and block magic.
	check(t, "bzip2", append([]byte("BZh91AY&SY"), make([]byte, 100)...), Bzip2, Valid)
	check(t, "bzip2 without a block", append([]byte("BZh9xxxxxx"), make([]byte, 100)...), Bzip2, Broken)

	// xz: stream header with its CRC, footer with the same flags.
	xz := []byte("\xFD7zXZ\x00\x00\x04")
	xz = binary.LittleEndian.AppendUint32(xz, crc32.ChecksumIEEE(xz[6:8]))
	xz = append(xz, make([]byte, 200)...)
	foot := make([]byte, 12)
	binary.LittleEndian.PutUint32(foot[4:], 10)
	foot[8], foot[9] = 0x00, 0x04
	copy(foot[10:], "YZ")
	binary.LittleEndian.PutUint32(foot, crc32.ChecksumIEEE(foot[4:10]))
	check(t, "xz", append(xz, foot...), XZ, Valid)
	check(t, "truncated xz", xz, XZ, Broken)

	check(t, "zstd", append([]byte("\x28\xB5\x2F\xFD\x20"), make([]byte, 40)...), Zstd, Valid)
	check(t, "zstd with a reserved bit", append([]byte("\x28\xB5\x2F\xFD\x28"), make([]byte, 40)...), Zstd, Broken)

	// 7z: start header CRC over the next header's offset, size and CRC.
	sz := []byte("7z\xBC\xAF\x27\x1C\x00\x04")
	next := make([]byte, 20)
	binary.LittleEndian.PutUint64(next, 100)
	binary.LittleEndian.PutUint64(next[8:], 30)
	sz = binary.LittleEndian.AppendUint32(sz, crc32.ChecksumIEEE(next))
	sz = append(sz, next...)
	sz = append(sz, make([]byte, 130)...)
	check(t, "7z", sz, SevenZ, Valid)
	check(t, "truncated 7z", sz[:100], SevenZ, Broken)
	bad := append([]byte(nil), sz...)
	bad[9] ^= 1
	check(t, "7z with a bad start header CRC", bad, SevenZ, Broken)

	check(t, "rar", append([]byte("Rar!\x1A\x07\x01\x00"), make([]byte, 50)...), RAR, Unknown)

	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	if err := tw.WriteHeader(&tar.Header{Name: "registre.txt", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	check(t, "tar", tb.Bytes(), Tar, Valid)
	badTar := append([]byte(nil), tb.Bytes()...)
	badTar[0] = 'X'
	check(t, "tar with a bad checksum", badTar, Tar, Broken)
}

func ole2Sample(size int) []byte {
	b := make([]byte, size)
	copy(b, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
	binary.LittleEndian.PutUint16(b[24:], 0x3E)
	binary.LittleEndian.PutUint16(b[26:], 3)
	binary.LittleEndian.PutUint16(b[28:], 0xFFFE)
	binary.LittleEndian.PutUint16(b[30:], 9)
	binary.LittleEndian.PutUint16(b[32:], 6)
	binary.LittleEndian.PutUint32(b[44:], 1)
	binary.LittleEndian.PutUint32(b[48:], 1)
	binary.LittleEndian.PutUint32(b[56:], 4096)
	return b
}

func TestOLE2(t *testing.T) {
	check(t, "ole2", ole2Sample(512*8), OLE2, Valid)
	bad := ole2Sample(512 * 8)
	b2 := append([]byte(nil), bad...)
	binary.LittleEndian.PutUint16(b2[30:], 12) // v3 with 4 KiB sectors
	check(t, "ole2 with a wrong sector size", b2, OLE2, Broken)
	b3 := append([]byte(nil), bad...)
	binary.LittleEndian.PutUint32(b3[48:], 1000) // directory past the end
	check(t, "ole2 with its directory past the end", b3, OLE2, Broken)
}

func sqliteSample(pages int) []byte {
	b := make([]byte, 4096*pages)
	copy(b, "SQLite format 3\x00")
	binary.BigEndian.PutUint16(b[16:], 4096)
	b[18], b[19], b[21], b[22], b[23] = 1, 1, 64, 32, 32
	binary.BigEndian.PutUint32(b[24:], 5)
	binary.BigEndian.PutUint32(b[28:], uint32(pages))
	binary.BigEndian.PutUint32(b[92:], 5)
	return b
}

func TestSQLite(t *testing.T) {
	check(t, "sqlite", sqliteSample(3), SQLite, Valid)
	check(t, "truncated sqlite", sqliteSample(3)[:4096*2+100], SQLite, Broken)
	bad := sqliteSample(3)
	bad[21] = 0
	check(t, "sqlite with a bad payload fraction", bad, SQLite, Broken)
	short := sqliteSample(3)
	binary.BigEndian.PutUint32(short[28:], 9)
	check(t, "sqlite shorter than its header says", short, SQLite, Broken)
}

func TestExecutables(t *testing.T) {
	// A program built by a C toolchain keeps its section headers at the
	// end: cutting the file loses them.
	if data, err := os.ReadFile("/bin/ls"); err == nil && bytes.HasPrefix(data, []byte("\x7FELF")) {
		check(t, "/bin/ls", data, ELF, Valid)
		check(t, "a truncated /bin/ls", data[:len(data)/2], ELF, Broken)
	}
	elf := make([]byte, 4096)
	copy(elf, "\x7FELF\x02\x01\x01")
	binary.LittleEndian.PutUint64(elf[40:], 4096-64*3)
	binary.LittleEndian.PutUint16(elf[58:], 64)
	binary.LittleEndian.PutUint16(elf[60:], 3)
	check(t, "elf", elf, ELF, Valid)
	binary.LittleEndian.PutUint16(elf[60:], 30)
	check(t, "elf whose sections run past the end", elf, ELF, Broken)

	pe := make([]byte, 1024)
	copy(pe, "MZ")
	binary.LittleEndian.PutUint32(pe[0x3C:], 0x80)
	copy(pe[0x80:], "PE\x00\x00")
	check(t, "pe", pe, PE, Valid)
	copy(pe[0x80:], "XX\x00\x00")
	check(t, "MZ without PE signature", pe, "", Unknown)
}

func mp3Frame() []byte {
	// MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417 bytes.
	f := make([]byte, 417)
	copy(f, "\xFF\xFB\x90\x00")
	return f
}

func TestMedia(t *testing.T) {
	check(t, "mp3 with ID3", append([]byte("ID3\x03\x00\x00\x00\x00\x01\x00"), make([]byte, 500)...), MP3, Valid)
	var frames []byte
	for i := 0; i < 5; i++ {
		frames = append(frames, mp3Frame()...)
	}
	check(t, "mp3 frames", frames, MP3, Valid)
	check(t, "one lone frame header", append(mp3Frame(), bytes.Repeat([]byte{1}, 500)...), "", Unknown)

	mp4 := make([]byte, 0, 64)
	mp4 = binary.BigEndian.AppendUint32(mp4, 24)
	mp4 = append(mp4, "ftypisom\x00\x00\x02\x00isomiso2"...)
	mp4 = binary.BigEndian.AppendUint32(mp4, 16)
	mp4 = append(mp4, "free\x00\x00\x00\x00\x00\x00\x00\x00"...)
	check(t, "mp4", mp4, MP4, Valid)
	bad := append([]byte(nil), mp4...)
	copy(bad[28:], "\x00\x01\x02\x03")
	check(t, "mp4 with a garbled box", bad, MP4, Broken)

	wav := make([]byte, 44+1000)
	copy(wav, "RIFF")
	binary.LittleEndian.PutUint32(wav[4:], uint32(len(wav)-8))
	copy(wav[8:], "WAVEfmt ")
	check(t, "wav", wav, WAV, Valid)
	check(t, "truncated wav", wav[:500], WAV, Broken)

	bmp := make([]byte, 54+300)
	copy(bmp, "BM")
	binary.LittleEndian.PutUint32(bmp[2:], uint32(len(bmp)))
	binary.LittleEndian.PutUint32(bmp[10:], 54)
	binary.LittleEndian.PutUint32(bmp[14:], 40)
	check(t, "bmp", bmp, BMP, Valid)
	check(t, "truncated bmp", bmp[:200], BMP, Broken)

	tiff := make([]byte, 200)
	copy(tiff, "II*\x00")
	binary.LittleEndian.PutUint32(tiff[4:], 8)
	binary.LittleEndian.PutUint16(tiff[8:], 3)
	check(t, "tiff", tiff, TIFF, Valid)
	binary.LittleEndian.PutUint32(tiff[4:], 5000)
	check(t, "tiff whose directory is past the end", tiff, TIFF, Broken)

	ogg := append([]byte("OggS\x00\x02"), make([]byte, 60)...)
	check(t, "ogg", ogg, Ogg, Valid)
	check(t, "flac", append([]byte("fLaC\x00\x00\x00\x22"), make([]byte, 60)...), FLAC, Valid)
	check(t, "flac without STREAMINFO", append([]byte("fLaC\x04\x00\x00\x22"), make([]byte, 60)...), FLAC, Broken)
}

func TestEncryptedFormats(t *testing.T) {
	check(t, "age", []byte("age-encryption.org/v1\n-> X25519 abc\nxyz\n--- mac\n\x01\x02"), Age, Valid)
	check(t, "armored age", []byte("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"), Age, Valid)
	check(t, "armored gpg", []byte("\n-----BEGIN PGP MESSAGE-----\n\njA0ECQMC\n-----END PGP MESSAGE-----\n"), GPG, Valid)
	// Symmetric session key packet (old format, tag 3): version 4, AES256,
	// iterated and salted S2K with SHA-256.
	skesk := append([]byte{0x8C, 0x0D, 4, 9, 3, 8}, make([]byte, 200)...)
	check(t, "gpg symmetric", skesk, GPG, Valid)
	// Public-key session key packet (new format, tag 1): version 3, key
	// ID, RSA.
	pkesk := append([]byte{0xC1, 0x40, 3, 1, 2, 3, 4, 5, 6, 7, 8, 1}, make([]byte, 200)...)
	check(t, "gpg public key", pkesk, GPG, Valid)
	// A literal data packet first: what random bytes would claim.
	check(t, "literal packet", append([]byte{0xCB, 0x40, 'b'}, make([]byte, 200)...), "", Unknown)

	gpg, err := exec.LookPath("gpg")
	if err != nil {
		t.Log("no gpg binary: real gpg output not tested")
		return
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "doc.txt")
	if err := os.WriteFile(in, bytes.Repeat([]byte("budget primitif\n"), 500), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, armor := range []bool{false, true} {
		out := filepath.Join(dir, fmt.Sprint("doc.gpg", armor))
		args := []string{"--batch", "--yes", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "x", "--symmetric", "-o", out}
		if armor {
			args = append(args, "--armor")
		}
		cmd := exec.Command(gpg, append(args, in)...)
		cmd.Env = append(os.Environ(), "GNUPGHOME="+dir)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Logf("gpg failed, not tested: %v %s", err, b)
			return
		}
		data, _ := os.ReadFile(out)
		check(t, fmt.Sprintf("real gpg output (armor %v)", armor), data, GPG, Valid)
	}
}

func TestText(t *testing.T) {
	check(t, "ascii", []byte("Procès-verbal de la séance du conseil municipal.\nOrdre du jour :\n"), Text, Unknown)
	check(t, "latin-1", []byte("Proc\xe8s-verbal de la s\xe9ance du conseil municipal.\n"), Text, Unknown)
	utf16 := []byte{0xFF, 0xFE}
	for _, c := range "Délibération n° 2024-12\r\n" {
		utf16 = binary.LittleEndian.AppendUint16(utf16, uint16(c))
	}
	check(t, "utf-16", utf16, Text, Unknown)
	check(t, "rtf", []byte("{\\rtf1\\ansi Bonjour}\n"), RTF, Valid)
	check(t, "truncated rtf", []byte("{\\rtf1\\ansi Bonjour"), RTF, Broken)
	check(t, "binary", []byte("\x00\x01\x02hello"), "", Unknown)
}

// TestRandomIsUnknown: random bytes (what encryption leaves) must almost
// never be taken for a format, or an encrypted file would keep a kind.
func TestRandomIsUnknown(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	known := 0
	const n = 20000
	for i := 0; i < n; i++ {
		b := randBytes(r, 4096)
		if k, _ := detect(b); k != "" {
			known++
			t.Logf("random bytes taken for %s: % x", k, b[:12])
		}
	}
	if known*10000 > n { // 1 in 10,000
		t.Errorf("%d of %d random buffers got a kind", known, n)
	}
	// With a forced BOM, random UTF-16 is not text either.
	for i := 0; i < 1000; i++ {
		b := randBytes(r, 4096)
		b[0], b[1] = 0xFF, 0xFE
		if k, _ := detect(b); k == Text {
			t.Fatalf("random bytes after a BOM taken for text")
		}
	}
}

func TestDetectCountedAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	samples := [][]byte{
		[]byte("plain ascii text\n"),
		[]byte("Proc\xe8s-verbal \xe9t\xe9\n"),
		[]byte("\xEF\xBB\xBFUTF-8 with a BOM: d\xc3\xa9lib\xc3\xa9ration\n"),
		[]byte("ctrl \x01\x02\x03\x04 chars"),
		randBytes(r, 5000),
		append([]byte("text then "), randBytes(r, 100)...),
	}
	for _, s := range samples {
		var c [256]uint64
		for _, b := range s[:min(len(s), 4096)] {
			c[b]++
		}
		k1, v1 := Detect(s, s, int64(len(s)))
		k2, v2 := DetectCounted(s, s, int64(len(s)), &c)
		if k1 != k2 || v1 != v2 {
			t.Errorf("%q: Detect (%q,%d) but DetectCounted (%q,%d)", s[:min(20, len(s))], k1, v1, k2, v2)
		}
	}
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte("PK\x05\x06"), []byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), int64(22))
	f.Add([]byte("%PDF-1.4\n"), []byte("startxref\n9\n%%EOF"), int64(100))
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"), []byte("IEND"), int64(40))
	f.Add([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF"), []byte("\xFF\xD9"), int64(12))
	f.Add([]byte("7z\xBC\xAF\x27\x1C"), []byte{}, int64(6))
	f.Add([]byte("\x7FELF\x02\x01\x01"), []byte{}, int64(64))
	f.Add([]byte{0x8C, 0x0D, 4, 9, 3, 8}, []byte{}, int64(6))
	f.Fuzz(func(t *testing.T, head, tail []byte, size int64) {
		Detect(head, tail, size)
		var c [256]uint64
		for _, b := range head[:min(len(head), 4096)] {
			c[b]++
		}
		DetectCounted(head, tail, size, &c)
	})
}

// Package container recognises file formats from their magic bytes and
// checks, from the first and last bytes of a file only, that the
// container's structure still holds together (ZIP central directory, PDF
// trailer, JPEG segments, PNG chunks and their CRCs, 7z start header CRC,
// sqlite header...).
//
// Why: ransomware that encrypts a whole file, its header, its first
// megabyte, every other 16 bytes or one block in ten always destroys
// either the magic bytes or the structure that ties the head of a file to
// its tail. Documents, photos and archives are already high-entropy, so
// entropy alone cannot tell a re-saved docx from an encrypted one; the
// structure can. Everything here reads at most the head and tail buffers
// the observer keeps (64 KiB each), never the file, and never allocates.
package container

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"unicode/utf8"
)

// Validity of a container's structure.
const (
	Broken  int8 = -1 // the structure is damaged
	Unknown int8 = 0  // no check for this kind, or not enough bytes to check
	Valid   int8 = 1  // every check that the head and tail allow passed
)

// Kinds that Detect returns. They are stored per file, so they are short
// and stable: never rename one.
const (
	Zip    = "zip" // also OOXML (docx, xlsx, pptx), ODF (odt, ods, odp), jar, epub
	PDF    = "pdf"
	JPEG   = "jpeg"
	PNG    = "png"
	GIF    = "gif"
	Gzip   = "gzip"
	Bzip2  = "bzip2"
	XZ     = "xz"
	Zstd   = "zstd"
	SevenZ = "7z"
	RAR    = "rar"
	OLE2   = "ole2" // old Office (doc, xls, ppt), msg, msi; also password-protected OOXML
	SQLite = "sqlite"
	ELF    = "elf"
	PE     = "pe"
	MP3    = "mp3"
	MP4    = "mp4" // ISO base media: mp4, mov, m4a, heic, 3gp
	GPG    = "gpg" // OpenPGP, binary or armored
	Age    = "age"
	Text   = "text"
	RTF    = "rtf"
	Tar    = "tar"
	WAV    = "wav"
	AVI    = "avi"
	WebP   = "webp"
	RIFF   = "riff"
	BMP    = "bmp"
	TIFF   = "tiff"
	Ogg    = "ogg"
	FLAC   = "flac"
	MKV    = "mkv" // Matroska and WebM
	PSD    = "psd"
	CAB    = "cab"
	LZ4    = "lz4"
	MachO  = "macho"
	WOFF   = "woff"
)

// Encrypted reports whether kind is a format that people use to encrypt
// files on purpose (and that ransomware could borrow): it is recognised,
// not suspicious in itself.
func Encrypted(kind string) bool { return kind == GPG || kind == Age || kind == SevenZ }

// Compressed reports whether a kind's content is normally high-entropy
// throughout, so that random-looking blocks in it say nothing.
func Compressed(kind string) bool {
	switch kind {
	case Zip, JPEG, PNG, GIF, Gzip, Bzip2, XZ, Zstd, SevenZ, RAR, MP3, MP4, GPG, Age, Ogg, FLAC, MKV, WebP, CAB, LZ4, WOFF:
		return true
	}
	return false
}

// Detect returns the kind of a file and the validity of its structure.
// head is the file's first bytes (up to 64 KiB), tail its last bytes (up
// to 68 KiB; the same bytes as the end of head when the file is small) and
// size its length. It never panics, whatever the bytes.
func Detect(head, tail []byte, size int64) (kind string, valid int8) {
	return DetectCounted(head, tail, size, nil)
}

// DetectCounted is Detect for a caller that already counted the bytes of
// the first 4 KiB of the file (first[b] is how many times byte b occurs in
// head[:min(len(head), 4096)]): the text test then reads the counts
// instead of the bytes.
func DetectCounted(head, tail []byte, size int64, first *[256]uint64) (kind string, valid int8) {
	if len(head) == 0 {
		return "", Unknown
	}
	if int64(len(tail)) > size {
		// Defensive: a tail longer than the file makes no sense.
		tail = tail[int64(len(tail))-max(size, 0):]
	}
	switch {
	case hasPrefix(head, "PK\x03\x04"), hasPrefix(head, "PK\x05\x06"), hasPrefix(head, "PK\x07\x08"):
		return Zip, checkZip(head, tail, size)
	case hasPrefix(head, "\x89PNG\r\n\x1a\n"):
		return PNG, checkPNG(head, tail)
	case len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF:
		return JPEG, checkJPEG(head, tail, size)
	case hasPrefix(head, "GIF87a"), hasPrefix(head, "GIF89a"):
		return GIF, checkGIF(head, tail)
	case len(head) >= 3 && head[0] == 0x1F && head[1] == 0x8B && head[2] == 8:
		return Gzip, checkGzip(head, tail, size)
	case hasPrefix(head, "BZh") && len(head) >= 4 && head[3] >= '1' && head[3] <= '9':
		return Bzip2, checkBzip2(head)
	case hasPrefix(head, "\xFD7zXZ\x00"):
		return XZ, checkXZ(head, tail)
	case hasPrefix(head, "\x28\xB5\x2F\xFD"):
		return Zstd, checkZstd(head)
	case hasPrefix(head, "7z\xBC\xAF\x27\x1C"):
		return SevenZ, check7z(head, size)
	case hasPrefix(head, "Rar!\x1A\x07\x00"), hasPrefix(head, "Rar!\x1A\x07\x01\x00"):
		return RAR, Unknown
	case hasPrefix(head, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"):
		return OLE2, checkOLE2(head, size)
	case hasPrefix(head, "SQLite format 3\x00"):
		return SQLite, checkSQLite(head, size)
	case hasPrefix(head, "\x7FELF"):
		return ELF, checkELF(head, size)
	case hasPrefix(head, "age-encryption.org/v1\n"), hasPrefix(trimSpace(head), "-----BEGIN AGE ENCRYPTED FILE-----"):
		return Age, Valid
	case hasPrefix(trimSpace(head), "-----BEGIN PGP MESSAGE-----"):
		return GPG, Valid
	case hasPrefix(head, "{\\rtf"):
		return RTF, checkRTF(tail)
	case hasPrefix(head, "RIFF") && len(head) >= 12:
		return checkRIFF(head, size)
	case hasPrefix(head, "OggS\x00"):
		return Ogg, checkOgg(head)
	case hasPrefix(head, "fLaC"):
		return FLAC, checkFLAC(head)
	case hasPrefix(head, "II*\x00"), hasPrefix(head, "MM\x00*"):
		return TIFF, checkTIFF(head, size)
	case hasPrefix(head, "II+\x00"), hasPrefix(head, "MM\x00+"):
		return TIFF, Unknown // BigTIFF
	case hasPrefix(head, "\x1A\x45\xDF\xA3"):
		return MKV, Unknown
	case hasPrefix(head, "8BPS\x00\x01"), hasPrefix(head, "8BPS\x00\x02"):
		return PSD, Unknown
	case hasPrefix(head, "MSCF\x00\x00\x00\x00"):
		return CAB, checkCAB(head, size)
	case hasPrefix(head, "\x04\x22\x4D\x18"):
		return LZ4, Unknown
	case hasPrefix(head, "wOFF"), hasPrefix(head, "wOF2"):
		return WOFF, Unknown
	case isMachO(head):
		return MachO, Unknown
	}
	if at := pdfHeader(head); at >= 0 {
		return PDF, checkPDF(head, tail, size, int64(at))
	}
	if len(head) >= 12 && string(head[4:8]) == "ftyp" {
		return MP4, checkMP4(head, size)
	}
	if len(head) >= 263 && string(head[257:262]) == "ustar" {
		return Tar, checkTar(head)
	}
	if k, v, ok := detectPE(head); ok {
		return k, v
	}
	if k, v, ok := detectBMP(head, size); ok {
		return k, v
	}
	if k, v, ok := detectMP3(head); ok {
		return k, v
	}
	if isOpenPGP(head, size) {
		return GPG, Valid
	}
	if first != nil && looksTextCounted(head, first) || first == nil && looksText(head) {
		return Text, Unknown
	}
	return "", Unknown
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

// trimSpace drops leading white space (and a UTF-8 BOM) from at most the
// first 64 bytes, enough for armored files written with a blank line.
func trimSpace(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	for i := 0; i < len(b) && i < 64; i++ {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b[i:]
	}
	return nil
}

func u16le(b []byte, off int) (uint16, bool) {
	if off < 0 || off+2 > len(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint16(b[off:]), true
}

func u32le(b []byte, off int) (uint32, bool) {
	if off < 0 || off+4 > len(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[off:]), true
}

func u64le(b []byte, off int) (uint64, bool) {
	if off < 0 || off+8 > len(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[off:]), true
}

func u16be(b []byte, off int) (uint16, bool) {
	if off < 0 || off+2 > len(b) {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[off:]), true
}

func u32be(b []byte, off int) (uint32, bool) {
	if off < 0 || off+4 > len(b) {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[off:]), true
}

// at returns the bytes [off, off+n) of the file when head or tail holds
// them (tail ends at size), or nil.
func at(head, tail []byte, size, off int64, n int) []byte {
	if off < 0 || n < 0 || off+int64(n) > size {
		return nil
	}
	if off+int64(n) <= int64(len(head)) {
		return head[off : off+int64(n)]
	}
	tailStart := size - int64(len(tail))
	if off >= tailStart {
		return tail[off-tailStart : off-tailStart+int64(n)]
	}
	return nil
}

// checkZip finds the end-of-central-directory record in the tail and
// checks that the central directory it points to lies inside the file and
// starts with a central header where the buffers hold it. Every ZIP-based
// office document has one; encryption of the tail, a truncation or bytes
// overwritten at the end lose it.
func checkZip(head, tail []byte, size int64) int8 {
	if size < 22 || len(tail) < 22 {
		return Broken
	}
	tailStart := size - int64(len(tail))
	// The record is 22 bytes plus a comment of up to 65535 bytes: scan
	// backwards from the last place it can start.
	for i := len(tail) - 22; i >= 0 && len(tail)-i <= 22+65535; i-- {
		if tail[i] != 'P' || tail[i+1] != 'K' || tail[i+2] != 5 || tail[i+3] != 6 {
			continue
		}
		comment := int(binary.LittleEndian.Uint16(tail[i+20:]))
		if i+22+comment > len(tail) {
			continue // a signature inside data, or a record that does not fit
		}
		if v := zipDirectory(head, tail, size, tailStart+int64(i), tail[i:]); v != Broken {
			return v
		}
	}
	return Broken
}

func zipDirectory(head, tail []byte, size, eocdOff int64, eocd []byte) int8 {
	entries := uint64(binary.LittleEndian.Uint16(eocd[10:]))
	cdSize := uint64(binary.LittleEndian.Uint32(eocd[12:]))
	cdOff := uint64(binary.LittleEndian.Uint32(eocd[16:]))
	end := eocdOff // where the central directory must end
	if entries == 0xFFFF || cdSize == 0xFFFFFFFF || cdOff == 0xFFFFFFFF {
		// Zip64: a locator just before the record points to the zip64
		// end-of-central-directory record.
		loc := at(head, tail, size, eocdOff-20, 20)
		if loc == nil || string(loc[:4]) != "PK\x06\x07" {
			return Broken
		}
		recOff := int64(binary.LittleEndian.Uint64(loc[8:]))
		rec := at(head, tail, size, recOff, 56)
		if rec == nil {
			return Unknown // outside the buffers: cannot tell
		}
		if string(rec[:4]) != "PK\x06\x06" {
			return Broken
		}
		entries = binary.LittleEndian.Uint64(rec[32:])
		cdSize = binary.LittleEndian.Uint64(rec[40:])
		cdOff = binary.LittleEndian.Uint64(rec[48:])
		end = recOff
	}
	if cdSize > uint64(end) || cdOff > uint64(end) || (entries > 0 && cdSize < 46*entries) || (entries == 0 && cdSize != 0) {
		return Broken
	}
	if entries == 0 {
		return Valid
	}
	// The directory normally starts at cdOff; with bytes prepended (a
	// self-extractor) it still ends right before the record.
	for _, off := range [2]int64{int64(cdOff), end - int64(cdSize)} {
		if sig := at(head, tail, size, off, 4); sig != nil {
			if string(sig) == "PK\x01\x02" {
				return Valid
			}
			continue
		}
		return Valid // outside the buffers: the record's numbers were sane
	}
	return Broken
}

// pdfHeader finds "%PDF-1.x" or "%PDF-2.x" in the first KiB and returns
// its offset (-1: none): real files sometimes carry a few bytes of junk
// before it, which readers forgive (offsets then count from the header).
func pdfHeader(head []byte) int {
	b := head[:min(len(head), 1024)]
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte("%PDF-"))
		if i < 0 || off+i+8 > len(b) {
			return -1
		}
		i += off
		if (b[i+5] == '1' || b[i+5] == '2') && b[i+6] == '.' && b[i+7] >= '0' && b[i+7] <= '9' {
			return i
		}
		off = i + 5
	}
}

// checkPDF looks for the end-of-file marker near the end, the startxref
// keyword before it, and, where the buffers hold it, the cross-reference
// section the offset after startxref points to ("xref", or "N G obj" for
// a cross-reference stream). Every PDF writer puts them there; the last
// one ties the tail of the file to its structure, so that encryption that
// spares a few bytes here and there rarely keeps all three.
func checkPDF(head, tail []byte, size, hdr int64) int8 {
	end := tail
	if len(end) > 2048 {
		end = end[len(end)-2048:]
	}
	eof := bytes.LastIndex(end, []byte("%%EOF"))
	if eof < 0 {
		return Broken
	}
	sx := bytes.LastIndex(end[:eof], []byte("startxref"))
	if sx < 0 {
		return Broken
	}
	var n int64
	digits := 0
	for _, c := range end[sx+len("startxref") : eof] {
		switch {
		case c >= '0' && c <= '9':
			if n > size {
				return Broken
			}
			n = n*10 + int64(c-'0')
			digits++
		case c == ' ' || c == '\r' || c == '\n' || c == '\t':
			if digits > 0 {
				goto done
			}
		default:
			return Broken
		}
	}
done:
	if digits == 0 || n >= size {
		return Broken
	}
	seen := false
	for k, off := range [2]int64{n, n + hdr} {
		if off >= size || k == 1 && hdr == 0 {
			continue
		}
		x := at(head, tail, size, off, int(min(64, size-off)))
		if x == nil {
			continue
		}
		seen = true
		x = bytes.TrimLeft(x, " \r\n\t\x00")
		if bytes.HasPrefix(x, []byte("xref")) || objHeader(x) {
			return Valid
		}
	}
	if seen {
		return Broken
	}
	return Valid // outside the buffers
}

// objHeader reports whether b starts with "N G obj".
func objHeader(b []byte) bool {
	i := 0
	for f := 0; f < 2; f++ {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i {
			return false
		}
		i = j
		for i < len(b) && (b[i] == ' ' || b[i] == '\r' || b[i] == '\n') {
			i++
		}
	}
	return bytes.HasPrefix(b[i:], []byte("obj"))
}

// checkJPEG walks the marker segments from SOI to the start of scan (in
// the head) and looks for EOI at the very end (trailing padding allowed).
func checkJPEG(head, tail []byte, size int64) int8 {
	i := 2
	sos := false
	for i+4 <= len(head) {
		if head[i] != 0xFF {
			return Broken
		}
		m := head[i+1]
		switch {
		case m == 0xFF: // fill byte
			i++
			continue
		case m == 0xD8 || m == 0x00:
			return Broken
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7):
			i += 2
			continue
		case m == 0xD9:
			// EOI before any scan: only a thumbnail-less stub.
			return Broken
		}
		l := int(binary.BigEndian.Uint16(head[i+2:]))
		if l < 2 {
			return Broken
		}
		if m == 0xDA {
			sos = true
			break
		}
		i += 2 + l
	}
	if !sos && int64(len(head)) >= size {
		return Broken // the whole file was seen and there is no scan
	}
	// EOI: FF D9 within the last bytes, after which only padding or a
	// short trailer (some cameras and editors add a few bytes).
	end := tail
	if len(end) > 32 {
		end = end[len(end)-32:]
	}
	for j := len(end) - 2; j >= 0; j-- {
		if end[j] == 0xFF && end[j+1] == 0xD9 {
			return Valid
		}
	}
	return Broken
}

var pngIEND = []byte("\x00\x00\x00\x00IEND\xAE\x42\x60\x82")

// checkPNG checks that IHDR comes first, walks the chunks in the head
// (lengths, type letters and CRCs) and finds IEND at the end.
func checkPNG(head, tail []byte) int8 {
	i := 8
	first := true
	for i+12 <= len(head) {
		l, _ := u32be(head, i)
		if l > 1<<31-1 {
			return Broken
		}
		typ := head[i+4 : i+8]
		for _, c := range typ {
			if (c|0x20) < 'a' || (c|0x20) > 'z' {
				return Broken
			}
		}
		if first && (string(typ) != "IHDR" || l != 13) {
			return Broken
		}
		first = false
		end := i + 12 + int(l)
		if end > len(head) || end < i {
			break
		}
		want, _ := u32be(head, end-4)
		if crc32.ChecksumIEEE(head[i+4:end-4]) != want {
			return Broken
		}
		if string(typ) == "IEND" {
			return Valid
		}
		i = end
	}
	if first {
		return Broken
	}
	end := tail
	if len(end) > 64 {
		end = end[len(end)-64:]
	}
	if bytes.Contains(end, pngIEND) {
		return Valid
	}
	return Broken
}

// checkGIF checks the logical screen and the trailer byte (0x3B) at the
// end, past any zero padding.
func checkGIF(head, tail []byte) int8 {
	w, ok1 := u16le(head, 6)
	h, ok2 := u16le(head, 8)
	if !ok1 || !ok2 || w == 0 || h == 0 {
		return Broken
	}
	j := len(tail) - 1
	for j >= 0 && len(tail)-j <= 16 && (tail[j] == 0 || tail[j] == '\n' || tail[j] == '\r') {
		j--
	}
	if j >= 0 && tail[j] == 0x3B {
		return Valid
	}
	return Broken
}

// checkGzip checks the member header: reserved flags clear, a known
// compression level hint and a NUL-terminated name where one is flagged.
func checkGzip(head, tail []byte, size int64) int8 {
	if len(head) < 18 {
		return Broken
	}
	flg := head[3]
	if flg&0xE0 != 0 {
		return Broken
	}
	if x := head[8]; x != 0 && x != 2 && x != 4 {
		return Broken
	}
	i := 10
	if flg&4 != 0 { // FEXTRA
		l, ok := u16le(head, i)
		if !ok {
			return Broken
		}
		i += 2 + int(l)
	}
	for _, f := range [2]byte{8, 16} { // FNAME, FCOMMENT
		if flg&f == 0 {
			continue
		}
		if i >= len(head) {
			return Unknown
		}
		z := bytes.IndexByte(head[i:], 0)
		if z < 0 {
			if len(head) < 64<<10 {
				return Broken
			}
			return Unknown
		}
		i += z + 1
	}
	if i > len(head) {
		return Broken
	}
	// The trailer's ISIZE is the last member's uncompressed size modulo
	// 4 GiB: while that cannot wrap (a file under 4 MB), deflate cannot
	// have shrunk it more than 1032 to 1. Random bytes there pass one time
	// in a hundred. (No lower bound: members appended to a file make the
	// last one small.)
	if len(tail) >= 8 && size > 18 && size < 4<<20 {
		isize := int64(binary.LittleEndian.Uint32(tail[len(tail)-4:]))
		if isize > 1032*(size-18)+1024 {
			return Broken
		}
	}
	return Valid
}

func checkBzip2(head []byte) int8 {
	if len(head) < 10 {
		return Broken
	}
	switch string(head[4:10]) {
	case "\x31\x41\x59\x26\x53\x59", "\x17\x72\x45\x38\x50\x90":
		return Valid
	}
	return Broken
}

// checkXZ checks the stream header CRC and that the stream footer, at the
// very end, carries the same flags and its magic.
func checkXZ(head, tail []byte) int8 {
	if len(head) < 12 || len(tail) < 12 {
		return Broken
	}
	crc, _ := u32le(head, 8)
	if crc32.ChecksumIEEE(head[6:8]) != crc {
		return Broken
	}
	f := tail[len(tail)-12:]
	if string(f[10:12]) != "YZ" || f[8] != head[6] || f[9] != head[7] {
		return Broken
	}
	if c, _ := u32le(f, 0); crc32.ChecksumIEEE(f[4:10]) != c {
		return Broken
	}
	return Valid
}

func checkZstd(head []byte) int8 {
	if len(head) < 6 {
		return Broken
	}
	if head[4]&0x08 != 0 { // reserved bit of the frame header descriptor
		return Broken
	}
	return Valid
}

// check7z verifies the start header's CRC and that the header it points
// to ends inside the file.
func check7z(head []byte, size int64) int8 {
	if len(head) < 32 {
		return Broken
	}
	crc, _ := u32le(head, 8)
	if crc32.ChecksumIEEE(head[12:32]) != crc {
		return Broken
	}
	off, _ := u64le(head, 12)
	n, _ := u64le(head, 20)
	if off > uint64(size) || n > uint64(size) || 32+off+n > uint64(size) {
		return Broken
	}
	return Valid
}

// checkOLE2 checks the compound file header: byte order mark, a version
// that matches its sector size, mini sectors of 64 bytes, and a directory
// that starts inside the file.
func checkOLE2(head []byte, size int64) int8 {
	if len(head) < 512 {
		return Broken
	}
	bom, _ := u16le(head, 28)
	major, _ := u16le(head, 26)
	shift, _ := u16le(head, 30)
	mini, _ := u16le(head, 32)
	if bom != 0xFFFE || mini != 6 || !((major == 3 && shift == 9) || (major == 4 && shift == 12)) {
		return Broken
	}
	dir, _ := u32le(head, 48)
	sect := int64(1) << shift
	if dir < 0xFFFFFFFA && (int64(dir)+1)*sect+sect > size+sect {
		return Broken
	}
	return Valid
}

// checkSQLite checks the database header fields that never vary and that
// the file is made of whole pages.
func checkSQLite(head []byte, size int64) int8 {
	if len(head) < 100 {
		return Broken
	}
	ps, _ := u16be(head, 16)
	page := int64(ps)
	if ps == 1 {
		page = 65536
	}
	if page < 512 || page&(page-1) != 0 {
		return Broken
	}
	if head[18] < 1 || head[18] > 2 || head[19] < 1 || head[19] > 2 || head[21] != 64 || head[22] != 32 || head[23] != 32 {
		return Broken
	}
	if size%page != 0 {
		return Broken
	}
	pages, _ := u32be(head, 28)
	change, _ := u32be(head, 24)
	validFor, _ := u32be(head, 92)
	if pages != 0 && validFor == change && int64(pages)*page > size {
		return Broken
	}
	return Valid
}

// checkELF checks the identification bytes and that the program and
// section header tables lie inside the file.
func checkELF(head []byte, size int64) int8 {
	if len(head) < 52 {
		return Broken
	}
	class, data := head[4], head[5]
	if class < 1 || class > 2 || data < 1 || data > 2 || head[6] != 1 {
		return Broken
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if data == 2 {
		bo = binary.BigEndian
	}
	var phoff, shoff uint64
	var phnum, phent, shnum, shent uint16
	if class == 1 {
		phoff, shoff = uint64(bo.Uint32(head[28:])), uint64(bo.Uint32(head[32:]))
		phent, phnum, shent, shnum = bo.Uint16(head[42:]), bo.Uint16(head[44:]), bo.Uint16(head[46:]), bo.Uint16(head[48:])
	} else {
		if len(head) < 64 {
			return Broken
		}
		phoff, shoff = bo.Uint64(head[32:]), bo.Uint64(head[40:])
		phent, phnum, shent, shnum = bo.Uint16(head[54:]), bo.Uint16(head[56:]), bo.Uint16(head[58:]), bo.Uint16(head[60:])
	}
	s := uint64(size)
	if phnum > 0 && (phoff > s || phoff+uint64(phnum)*uint64(phent) > s) {
		return Broken
	}
	if shnum > 0 && (shoff > s || shoff+uint64(shnum)*uint64(shent) > s) {
		return Broken
	}
	return Valid
}

// detectPE recognises a Windows executable: "MZ" and a PE signature where
// the DOS header says. Two bytes alone are too weak to name a kind.
func detectPE(head []byte) (string, int8, bool) {
	if !hasPrefix(head, "MZ") || len(head) < 64 {
		return "", 0, false
	}
	off, _ := u32le(head, 0x3C)
	if off < 64 || off > 1<<20 {
		return "", 0, false
	}
	if int(off)+4 > len(head) {
		return PE, Unknown, true
	}
	if string(head[off:off+4]) != "PE\x00\x00" {
		return "", 0, false
	}
	return PE, Valid, true
}

func detectBMP(head []byte, size int64) (string, int8, bool) {
	if !hasPrefix(head, "BM") || len(head) < 26 {
		return "", 0, false
	}
	dib, _ := u32le(head, 14)
	switch dib {
	case 12, 16, 40, 52, 56, 64, 108, 124:
	default:
		return "", 0, false
	}
	fsize, _ := u32le(head, 2)
	dataOff, _ := u32le(head, 10)
	if int64(dataOff) > size || dataOff < 14+dib {
		return BMP, Broken, true
	}
	if fsize != 0 && int64(fsize) > size {
		return BMP, Broken, true
	}
	return BMP, Valid, true
}

// detectMP3 recognises an ID3 tag, or two MPEG audio frame headers in a
// row (one alone is too easily found in random bytes).
func detectMP3(head []byte) (string, int8, bool) {
	if hasPrefix(head, "ID3") && len(head) >= 10 {
		if head[3] < 2 || head[3] > 4 {
			return "", 0, false
		}
		for _, c := range head[6:10] {
			if c >= 0x80 {
				return MP3, Broken, true
			}
		}
		return MP3, Valid, true
	}
	n := mpegFrame(head)
	if n <= 0 || n+4 > len(head) || mpegFrame(head[n:]) <= 0 {
		return "", 0, false
	}
	return MP3, Valid, true
}

// mpegFrame returns the length of the MPEG audio frame whose header starts
// b, or 0 when b does not start with a layer III header.
func mpegFrame(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return 0
	}
	version := (b[1] >> 3) & 3 // 0: 2.5, 2: 2, 3: 1
	layer := (b[1] >> 1) & 3   // 1: layer III
	br := b[2] >> 4
	sr := (b[2] >> 2) & 3
	if version == 1 || layer != 1 || br == 0 || br == 15 || sr == 3 {
		return 0
	}
	v1 := [15]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	v2 := [15]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}
	rates := [3]int{44100, 48000, 32000}
	rate := rates[sr]
	kbps := v1[br]
	coef := 144
	if version != 3 {
		kbps = v2[br]
		coef = 72
		rate /= 2
		if version == 0 {
			rate /= 2
		}
	}
	pad := int(b[2]>>1) & 1
	return coef*kbps*1000/rate + pad
}

// isOpenPGP recognises a binary OpenPGP message or key: the first packet
// must be one that starts such a file and its first fields must make
// sense, so that random bytes are very unlikely to pass.
func isOpenPGP(head []byte, size int64) bool {
	if len(head) < 8 || head[0]&0x80 == 0 {
		return false
	}
	var tag byte
	var body int
	var blen int64
	if head[0]&0x40 != 0 { // new format
		tag = head[0] & 0x3F
		switch l := head[1]; {
		case l < 192:
			blen, body = int64(l), 2
		case l < 224:
			blen, body = int64(l-192)<<8+int64(head[2])+192, 3
		case l == 255:
			v, _ := u32be(head, 2)
			blen, body = int64(v), 6
		default:
			blen, body = -1, 2 // partial length: allowed for data packets
		}
	} else {
		tag = (head[0] >> 2) & 0x0F
		switch head[0] & 3 {
		case 0:
			blen, body = int64(head[1]), 2
		case 1:
			v, _ := u16be(head, 1)
			blen, body = int64(v), 3
		case 2:
			v, _ := u32be(head, 1)
			blen, body = int64(v), 5
		default:
			blen, body = -1, 1
		}
	}
	if blen > size || body+4 > len(head) {
		return false
	}
	p := head[body:]
	switch tag {
	case 1: // public-key encrypted session key: version 3, key ID, algorithm
		return p[0] == 3 && blen >= 10 && len(p) > 9 && pkAlgo(p[9])
	case 3: // symmetric-key encrypted session key
		switch p[0] {
		case 4: // cipher, then a string-to-key specifier and its hash
			return blen >= 4 && p[1] >= 1 && p[1] <= 13 && (p[2] == 0 || p[2] == 1 || p[2] == 3) && p[3] >= 1 && p[3] <= 14
		case 5, 6: // cipher and AEAD mode
			return blen >= 8 && p[1] >= 7 && p[1] <= 13 && p[2] >= 1 && p[2] <= 3
		}
		return false
	case 5, 6: // secret or public key: version 4, creation time, algorithm
		return p[0] == 4 && blen >= 12 && len(p) > 5 && pkAlgo(p[5])
	}
	// Other packets (literal data, compressed data, signatures) do not
	// start the files people encrypt, and would be found in random bytes
	// once in a few hundred files.
	return false
}

func pkAlgo(a byte) bool {
	switch a {
	case 1, 2, 16, 18, 20, 22, 25, 26:
		return true
	}
	return false
}

// checkRTF: an RTF document is one group, so its last non-space character
// closes it.
func checkRTF(tail []byte) int8 {
	t := bytes.TrimRight(tail, " \t\r\n\x00")
	if len(t) > 0 && t[len(t)-1] == '}' {
		return Valid
	}
	return Broken
}

func checkRIFF(head []byte, size int64) (string, int8) {
	kind := RIFF
	switch string(head[8:12]) {
	case "WAVE":
		kind = WAV
	case "AVI ":
		kind = AVI
	case "WEBP":
		kind = WebP
	}
	n, _ := u32le(head, 4)
	switch {
	case n == 0 || n == 0xFFFFFFFF:
		return kind, Unknown // written while streaming
	case int64(n)+8 > size+1:
		return kind, Broken // truncated
	}
	return kind, Valid
}

func checkOgg(head []byte) int8 {
	if len(head) < 27 || head[5]&0xF8 != 0 || head[5]&2 == 0 {
		return Broken
	}
	return Valid
}

func checkFLAC(head []byte) int8 {
	if len(head) < 8 || head[4]&0x7F != 0 {
		return Broken
	}
	if l := int(head[5])<<16 | int(head[6])<<8 | int(head[7]); l != 34 {
		return Broken
	}
	return Valid
}

func checkTIFF(head []byte, size int64) int8 {
	var bo binary.ByteOrder = binary.LittleEndian
	if head[0] == 'M' {
		bo = binary.BigEndian
	}
	if len(head) < 8 {
		return Broken
	}
	off := int64(bo.Uint32(head[4:]))
	if off < 8 || off+2 > size {
		return Broken
	}
	if off+2 <= int64(len(head)) {
		n := int64(bo.Uint16(head[off:]))
		if n == 0 || off+2+12*n+4 > size {
			return Broken
		}
	}
	return Valid
}

func checkCAB(head []byte, size int64) int8 {
	n, ok := u32le(head, 8)
	if !ok || int64(n) > size {
		return Broken
	}
	return Valid
}

func isMachO(head []byte) bool {
	if len(head) < 16 {
		return false
	}
	switch string(head[:4]) {
	case "\xFE\xED\xFA\xCE", "\xFE\xED\xFA\xCF", "\xCE\xFA\xED\xFE", "\xCF\xFA\xED\xFE":
		return true
	}
	return false
}

// checkMP4 walks the top-level boxes present in the head: sizes that fit
// the file and four-character types.
func checkMP4(head []byte, size int64) int8 {
	var off int64
	for n := 0; off+8 <= int64(len(head)) && n < 64; n++ {
		l := int64(binary.BigEndian.Uint32(head[off:]))
		for _, c := range head[off+4 : off+8] {
			if c < 0x20 || c > 0x7E {
				return Broken
			}
		}
		switch l {
		case 0:
			return Valid // runs to the end of the file
		case 1:
			if off+16 > int64(len(head)) {
				return Unknown
			}
			l = int64(binary.BigEndian.Uint64(head[off+8:]))
			if l < 16 {
				return Broken
			}
		default:
			if l < 8 {
				return Broken
			}
		}
		if off+l > size {
			return Broken
		}
		off += l
		if off == size {
			return Valid
		}
	}
	return Valid
}

// checkTar verifies the first header's checksum.
func checkTar(head []byte) int8 {
	var sum int64
	for i, c := range head[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	field := bytes.Trim(head[148:156], " \x00")
	var want int64
	if len(field) == 0 {
		return Broken
	}
	for _, c := range field {
		if c < '0' || c > '7' {
			return Broken
		}
		want = want*8 + int64(c-'0')
	}
	if want != sum {
		return Broken
	}
	return Valid
}

// looksText decides whether the first bytes are text a person wrote:
// UTF-16 with a byte order mark, or bytes without NULs and with few
// control characters, whose high bytes are valid UTF-8 or rare enough for
// a legacy 8-bit encoding (Latin-1, CP1252). Random bytes fail every test
// (a quarter of them are control characters).
func looksText(head []byte) bool {
	b := head
	if len(b) > 4096 {
		b = b[:4096]
	}
	if len(b) >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF)) {
		return utf16Text(b)
	}
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	if len(b) == 0 {
		return false
	}
	var ctrl, high int
	for i := 0; i < len(b); {
		// Fast path: eight printable ASCII bytes (0x20..0x7E) at once.
		if i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			const ones, highs = 0x0101010101010101, 0x8080808080808080
			low := (w - ones*0x20) & ^w & highs // some byte < 0x20
			del := ((w + ones) | w) & highs     // some byte >= 0x7F
			if low|del == 0 {
				i += 8
				continue
			}
		}
		c := b[i]
		i++
		switch {
		case c == 0:
			return false
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1B:
			ctrl++
		case c == 0x7F:
			ctrl++
		case c >= 0x80:
			high++
		}
	}
	if ctrl*100 > len(b) {
		return false
	}
	if high == 0 {
		return true
	}
	if validUTF8Prefix(b) {
		return true
	}
	return high*100 <= len(b)*30
}

// looksTextCounted is looksText from the byte counts of the first 4 KiB.
func looksTextCounted(head []byte, c *[256]uint64) bool {
	b := head[:min(len(head), 4096)]
	if len(b) >= 2 && ((b[0] == 0xFF && b[1] == 0xFE) || (b[0] == 0xFE && b[1] == 0xFF)) {
		return utf16Text(b)
	}
	if c[0] > 0 {
		return false
	}
	var ctrl, high uint64
	for i := 1; i < 0x20; i++ {
		switch i {
		case '\t', '\n', '\r', '\f', 0x1B:
		default:
			ctrl += c[i]
		}
	}
	ctrl += c[0x7F]
	for i := 0x80; i < 256; i++ {
		high += c[i]
	}
	n := uint64(len(b))
	if bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		high -= min(high, 3)
		n -= 3
	}
	if n == 0 || ctrl*100 > n {
		return false
	}
	return high == 0 || high*100 <= n*30 || validUTF8Prefix(b)
}

// validUTF8Prefix is utf8.Valid that forgives a sequence cut by the end
// of the sample.
func validUTF8Prefix(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	for i := 1; i <= 3 && i < len(b); i++ {
		if utf8.Valid(b[:len(b)-i]) {
			return true
		}
	}
	return false
}

// utf16Text: after a byte order mark, code units whose high bytes come
// from a few script blocks (one for Latin text, a hundred at most for
// CJK), not from all 256 values as in random bytes, and no controls.
func utf16Text(b []byte) bool {
	be := b[0] == 0xFE
	var seen [256]bool
	distinct, n, ctrl := 0, 0, 0
	for i := 2; i+1 < len(b); i += 2 {
		hi, lo := b[i+1], b[i]
		if be {
			hi, lo = b[i], b[i+1]
		}
		n++
		if !seen[hi] {
			seen[hi] = true
			distinct++
		}
		if hi == 0 && lo < 0x20 && lo != '\t' && lo != '\n' && lo != '\r' {
			ctrl++
		}
	}
	return n == 0 || distinct <= 100 && ctrl*100 <= n
}

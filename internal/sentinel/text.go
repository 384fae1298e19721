package sentinel

import (
	"bytes"
	"encoding/binary"
	"math"
)

// textShare is the share of sampled bytes that are printable ASCII or
// line white space. (UTF-8 accents are not counted: a French text is
// still well above 0.9.)
func textShare(c *[256]uint64, n uint64) float32 {
	if n == 0 {
		return 0
	}
	t := c['\t'] + c['\n'] + c['\r']
	for b := 0x20; b < 0x7F; b++ {
		t += c[b]
	}
	return float32(float64(t) / float64(n))
}

// Encoded-blob test. Ransomware that base64-encodes its ciphertext (or
// writes it as hex) produces text, with the entropy of text, that no
// entropy threshold can tell from a document; but no document is made
// only of the base64 alphabet in long lines, with the ~6 bits per
// character of encoded random bytes (base64 of text or of a picture with
// headers stays lower).
const (
	encodedOther   = 0.002 // at most this share of bytes outside the alphabet (a PEM header line)
	encodedLine    = 60    // average line length at least (76 for MIME, 64 for PEM, none at all)
	encodedMinSize = 256
	base64Entropy  = 5.75 // bits per character, of 6 at most
	hexEntropy     = 3.85 // of 4 at most
)

// Alphabets of the encodings.
var b64Alphabet, hexAlphabet = func() (b, h [256]bool) {
	for c := 0; c < 256; c++ {
		b[c] = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
		h[c] = c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	return
}()

// encodedBlob reports whether the sampled bytes (counts c of n bytes,
// first of the first 4 KiB alone) look like base64 or hex of random
// bytes. The first block must pass on its own: a mail, whose attachments
// are base64 too, starts with headers; ciphertext written as text starts
// at the first byte.
func encodedBlob(c *[256]uint64, n uint64, first *[256]uint64) bool {
	if n < encodedMinSize {
		return false
	}
	var nf uint64
	for _, v := range first {
		nf += v
	}
	for _, a := range []struct {
		in  *[256]bool
		ent float64
	}{{&b64Alphabet, base64Entropy}, {&hexAlphabet, hexEntropy}} {
		if encodedIn(c, n, a.in, a.ent) && encodedIn(first, nf, a.in, 0) {
			return true
		}
	}
	return false
}

func encodedIn(c *[256]uint64, n uint64, in *[256]bool, minEnt float64) bool {
	var alpha uint64
	for b := 0; b < 256; b++ {
		if in[b] {
			alpha += c[b]
		}
	}
	lines := c['\n']
	other := n - alpha - lines - c['\r']
	if alpha == 0 || float64(other) > encodedOther*float64(n) || alpha/(lines+1) < encodedLine {
		return false
	}
	var s float64
	for b := 0; b < 256; b++ {
		if in[b] {
			s += nlogn(c[b])
		}
	}
	return math.Log2(float64(alpha))-s/float64(alpha) >= minEnt
}

// Ransom-note words, in English and French, lowercase. A note says that
// files were encrypted (every note does: "encrypted", "decrypt",
// "chiffrés", "cryptés") and then how to pay, how to get in touch or what
// the victim lost. Requiring the first family keeps the check cheap (most
// texts never mention encryption, and are rejected after two searches)
// and keeps a finance memo ("chiffre d'affaires", "paiement") out. The
// weight of a lone note is low anyway: what counts is the same note
// appearing in many folders.
var (
	notePay     = [][]byte{[]byte("bitcoin"), []byte("btc"), []byte("monero"), []byte("ransom"), []byte("ran\xc3\xa7on"), []byte("ran\xc3\x87on"), []byte("rancon"), []byte("wallet"), []byte("payment"), []byte("paiement"), []byte("to pay"), []byte("payer")}
	noteContact = [][]byte{[]byte(".onion"), []byte("tor browser"), []byte("torproject"), []byte("qtox"), []byte("tox id"), []byte("protonmail"), []byte("onionmail"), []byte("@proton.me"), []byte("jabber")}
	noteVictim  = [][]byte{[]byte("your files"), []byte("vos fichiers"), []byte("all your"), []byte("tous vos"), []byte("your data"), []byte("vos donn"), []byte("your network"), []byte("votre r\xc3\xa9seau"), []byte("votre reseau"), []byte("private key"), []byte("cl\xc3\xa9 priv"), []byte("decryption key"), []byte("recover your"), []byte("r\xc3\xa9cup\xc3\xa9rer vos")}
)

// noteScan is how much of a small text file is read for note words.
const noteScan = 32 << 10

// ransomNote looks for note words in the first noteScan bytes of b; it
// lowercases them (ASCII, in place) only when encryption is mentioned.
// counts are the byte counts of the whole file (which b is part of): a
// search for a word whose letters never occur is skipped.
func ransomNote(b []byte, counts *[256]uint64) bool {
	if len(b) > noteScan {
		b = b[:noteScan]
	}
	if !mentionsEncryption(b, counts) {
		return false
	}
	lowerASCII(b)
	return anyOf(b, notePay) || anyOf(b, noteContact) || anyOf(b, noteVictim)
}

// mentionsEncryption finds "crypt" (encrypted, decrypt, cryptés) or the
// French "chiffré", "chiffrement", "déchiffrer" (but not "chiffre", a
// figure), in lower or upper case. It searches the rare "ypt" and "ffr"
// and looks around them, which keeps it at memory speed on ordinary text.
func mentionsEncryption(b []byte, counts *[256]uint64) bool {
	return findAround(b, "ypt", isCrypt, counts) || findAround(b, "YPT", isCrypt, counts) ||
		findAround(b, "ffr", isChiffr, counts) || findAround(b, "FFR", isChiffr, counts)
}

func findAround(b []byte, anchor string, ok func(b []byte, k int) bool, counts *[256]uint64) bool {
	for i := 0; i < len(anchor); i++ {
		if counts != nil && counts[anchor[i]] == 0 {
			return false
		}
	}
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], []byte(anchor))
		if j < 0 {
			return false
		}
		if ok(b, i+j) {
			return true
		}
		i += j + len(anchor)
	}
	return false
}

// isCrypt: "cr" before the "ypt" at k.
func isCrypt(b []byte, k int) bool { return k >= 2 && b[k-2]|0x20 == 'c' && b[k-1]|0x20 == 'r' }

// isChiffr: "chi" before the "ffr" at k, then "é" or "ement", or "dé"
// before.
func isChiffr(b []byte, k int) bool {
	if k < 3 || b[k-3]|0x20 != 'c' || b[k-2]|0x20 != 'h' || b[k-1]|0x20 != 'i' {
		return false
	}
	rest := b[k+3:]
	if bytes.HasPrefix(rest, []byte("\xc3\xa9")) || bytes.HasPrefix(rest, []byte("\xc3\x89")) ||
		len(rest) >= 5 && bytes.EqualFold(rest[:5], []byte("ement")) {
		return true
	}
	return k >= 6 && b[k-6]|0x20 == 'd' && b[k-5] == 0xc3 && (b[k-4] == 0xa9 || b[k-4] == 0x89)
}

// lowerASCII lowercases ASCII letters eight bytes at a time.
func lowerASCII(b []byte) {
	const ones = 0x0101010101010101
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		// High bit of each byte set where 'A' <= byte <= 'Z' (bytes >=
		// 0x80 excluded).
		ge := (w | 0x8080808080808080) - ones*'A'
		gt := (w | 0x8080808080808080) - ones*('Z'+1)
		m := ge &^ gt &^ w & 0x8080808080808080
		binary.LittleEndian.PutUint64(b, w|m>>2)
		b = b[8:]
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
}

func anyOf(b []byte, words [][]byte) bool {
	for _, w := range words {
		if bytes.Contains(b, w) {
			return true
		}
	}
	return false
}

package simulate

import (
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func newGzip(w io.Writer) *gzip.Writer { return gzip.NewWriter(w) }

// wrap64 is base64 in lines of width characters (no line breaks when
// width is 0).
func wrap64(data []byte, width int, eol string) string {
	s := base64.StdEncoding.EncodeToString(data)
	if width <= 0 {
		return s
	}
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width])
		b.WriteString(eol)
		s = s[width:]
	}
	b.WriteString(s)
	return b.String()
}

// keystream returns an AES-256-CTR stream under a fresh random key that
// nobody keeps: what ransomware does, minus the ransom.
func keystream() cipher.Stream {
	var key [32]byte
	var iv [aes.BlockSize]byte
	if _, err := rand.Read(key[:]); err != nil {
		panic(err)
	}
	if _, err := rand.Read(iv[:]); err != nil {
		panic(err)
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err)
	}
	return cipher.NewCTR(block, iv[:])
}

// listFiles returns the regular files under root, as sorted slash paths
// relative to root.
func listFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func abs(root, rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }

// rewrite replaces a file's content in place (same inode, as ransomware
// that encrypts in place does).
func rewrite(p string, data []byte) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

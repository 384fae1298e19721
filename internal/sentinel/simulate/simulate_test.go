package simulate

import (
	"archive/zip"
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"

	"github.com/rempart/rempart/internal/sentinel/container"
)

// TestAgeRoundTrip decrypts what ageEncrypt wrote, following the age v1
// specification independently: the scrypt stanza, the header MAC, the
// payload chunks and their last-chunk flag.
func TestAgeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 1000, 64 << 10, 64<<10 + 1, 200000} {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = byte(r.Uint32())
		}
		enc, err := ageEncrypt(rngReader{r}, "secret", plain)
		if err != nil {
			t.Fatal(err)
		}
		if k, v := container.Detect(enc[:min(len(enc), 64<<10)], enc, int64(len(enc))); k != container.Age || v != container.Valid {
			t.Fatalf("kind %q %d", k, v)
		}
		got, err := ageDecrypt(enc, "secret")
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("%d bytes: round trip differs", n)
		}
		if _, err := ageDecrypt(enc, "wrong"); err == nil {
			t.Fatal("a wrong passphrase decrypted")
		}
	}
}

func ageDecrypt(file []byte, pass string) ([]byte, error) {
	end := bytes.Index(file, []byte("\n---"))
	if end < 0 {
		return nil, io.ErrUnexpectedEOF
	}
	lines := strings.Split(string(file[:end]), "\n")
	if lines[0] != "age-encryption.org/v1" || !strings.HasPrefix(lines[1], "-> scrypt ") {
		return nil, io.ErrUnexpectedEOF
	}
	args := strings.Fields(lines[1])
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(args[2])
	if err != nil {
		return nil, err
	}
	logN, err := strconv.Atoi(args[3])
	if err != nil {
		return nil, err
	}
	body, err := b64.DecodeString(strings.Join(lines[2:], ""))
	if err != nil {
		return nil, err
	}
	key, err := scrypt.Key([]byte(pass), append([]byte("age-encryption.org/v1/scrypt"), salt...), 1<<logN, 8, 1, 32)
	if err != nil {
		return nil, err
	}
	aead, _ := chacha20poly1305.New(key)
	fileKey, err := aead.Open(nil, make([]byte, 12), body, nil)
	if err != nil {
		return nil, err
	}
	macLine := end + len("\n---")
	nl := bytes.IndexByte(file[macLine:], '\n')
	mac, err := b64.DecodeString(strings.TrimSpace(string(file[macLine : macLine+nl])))
	if err != nil {
		return nil, err
	}
	hk, _ := hkdf.Key(sha256.New, fileKey, nil, "header", 32)
	m := hmac.New(sha256.New, hk)
	m.Write(file[:macLine])
	if !hmac.Equal(m.Sum(nil), mac) {
		return nil, io.ErrUnexpectedEOF
	}
	rest := file[macLine+nl+1:]
	nonce, rest := rest[:16], rest[16:]
	pk, _ := hkdf.Key(sha256.New, fileKey, nonce, "payload", 32)
	aead, _ = chacha20poly1305.New(pk)
	var out []byte
	var counter [12]byte
	for i := 0; ; i++ {
		n := min(64<<10+16, len(rest))
		last := n == len(rest)
		if last {
			counter[11] = 1
		}
		p, err := aead.Open(nil, counter[:], rest[:n], nil)
		if err != nil {
			return nil, err
		}
		out = append(out, p...)
		rest = rest[n:]
		if last {
			return out, nil
		}
		counter[10]++ // enough for these sizes
	}
}

// TestCopiesNeverWriteThrough: scenario copies are hard links to the
// base; every way a scenario writes leaves the base intact.
func TestCopiesNeverWriteThrough(t *testing.T) {
	dir := t.TempDir()
	base, cp := filepath.Join(dir, "base"), filepath.Join(dir, "copy")
	if err := os.MkdirAll(filepath.Join(base, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"d/a", "d/b", "d/c", "d/e"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(base, n), []byte("original "+n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := LinkTree(base, cp); err != nil {
		t.Fatal(err)
	}
	if err := rewrite(filepath.Join(cp, "d/a"), []byte("encrypted")); err != nil {
		t.Fatal(err)
	}
	f, err := openInPlace(filepath.Join(cp, "d/b"), os.O_APPEND|os.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(" appended"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := writeNew(filepath.Join(cp, "d/c"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := saveAs(filepath.Join(cp, "d/e"), []byte("saved")); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		got, _ := os.ReadFile(filepath.Join(base, n))
		if string(got) != "original "+n {
			t.Errorf("base %s is now %q", n, got)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(cp, "d/b")); string(got) != "original d/b appended" {
		t.Errorf("copy d/b: %q", got)
	}
}

func TestResaveOffice(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	doc, err := zipBytes(docxParts([]string{"Délibération", "Vote du budget"}), "")
	if err != nil {
		t.Fatal(err)
	}
	out, ok := resaveOffice(doc, r)
	if !ok {
		t.Fatal("not re-saved")
	}
	zr, err := zip.NewReader(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	for _, f := range zr.File {
		if f.Name == "word/document.xml" {
			rc, _ := f.Open()
			body, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	if !bytes.Contains(body, []byte("révision")) || !bytes.HasSuffix(body, []byte("</w:document>")) {
		t.Errorf("edited part: %s", body)
	}
	if k, v := container.Detect(out, out, int64(len(out))); k != container.Zip || v != container.Valid {
		t.Errorf("re-saved: %s %d", k, v)
	}
}

func TestReadManifest(t *testing.T) {
	dir := t.TempDir()
	m := "path\tsize\tsha256\ttype\tsource_repo\tsource_path\tlicence\tbenign_encrypted\tnotes\n" +
		"7z/a.7z\t1\tx\t7z\tr\tp\tl\tyes\tpassword\n" +
		"txt/b.txt\t1\tx\ttxt\tr\tp\tl\tno\t\n"
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST.tsv"), []byte(m), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readManifest(dir)
	if err != nil || len(got) != 1 || !got[sharedDir+"/7z/a.7z"] {
		t.Errorf("%v %v", got, err)
	}
}

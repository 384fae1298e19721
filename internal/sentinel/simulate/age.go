package simulate

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/scrypt"
)

// ageEncrypt writes an age v1 file (age-encryption.org/v1) with a scrypt
// (passphrase) recipient, written from the format's specification: a
// text header with one stanza wrapping a random file key, the header MAC,
// then the payload in 64 KiB ChaCha20-Poly1305 chunks. The simulator uses
// it for "a user encrypts a file on purpose with age" without adding the
// age module to the project; rand supplies the file key, salt and nonce.
func ageEncrypt(rand io.Reader, passphrase string, plain []byte) ([]byte, error) {
	fileKey := make([]byte, 16)
	salt := make([]byte, 16)
	nonce := make([]byte, 16)
	for _, b := range [][]byte{fileKey, salt, nonce} {
		if _, err := io.ReadFull(rand, b); err != nil {
			return nil, err
		}
	}
	const logN = 10 // low work factor: this is a simulation
	wrapKey, err := scrypt.Key([]byte(passphrase), append([]byte("age-encryption.org/v1/scrypt"), salt...), 1<<logN, 8, 1, 32)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.New(wrapKey)
	if err != nil {
		return nil, err
	}
	wrapped := aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), fileKey, nil)
	b64 := base64.RawStdEncoding
	var hdr bytes.Buffer
	fmt.Fprintf(&hdr, "age-encryption.org/v1\n-> scrypt %s %d\n", b64.EncodeToString(salt), logN)
	body := b64.EncodeToString(wrapped)
	for len(body) >= 64 {
		hdr.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	hdr.WriteString(body + "\n")
	hdr.WriteString("---")
	macKey, err := hkdf.Key(sha256.New, fileKey, nil, "header", 32)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, macKey)
	m.Write(hdr.Bytes())
	fmt.Fprintf(&hdr, " %s\n", b64.EncodeToString(m.Sum(nil)))

	out := bytes.NewBuffer(hdr.Bytes())
	out.Write(nonce)
	payloadKey, err := hkdf.Key(sha256.New, fileKey, nonce, "payload", 32)
	if err != nil {
		return nil, err
	}
	if aead, err = chacha20poly1305.New(payloadKey); err != nil {
		return nil, err
	}
	const chunk = 64 << 10
	var counter [12]byte
	for i := 0; ; i++ {
		n := min(chunk, len(plain))
		last := n == len(plain)
		counter[11] = 0
		if last {
			counter[11] = 1
		}
		out.Write(aead.Seal(nil, counter[:], plain[:n], nil))
		plain = plain[n:]
		if last {
			break
		}
		// Big-endian 88-bit counter in the first 11 bytes.
		for k := 10; k >= 0; k-- {
			counter[k]++
			if counter[k] != 0 {
				break
			}
		}
	}
	return out.Bytes(), nil
}

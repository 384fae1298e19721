package crisis

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"

	"github.com/rempart/rempart/internal/crisis/e2ee"
)

// MaxBlob is the largest attachment ciphertext: 25 MiB of content plus the
// 16-byte tag of each 64 KiB chunk.
const MaxBlob = 25<<20 + 16*(25<<20/(64<<10)+1)

var blobIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// blobDir keeps attachment ciphertexts as files: <root>/<room>/<id>, where
// id is b64u(SHA-256(ciphertext)). Files are written to a temporary name,
// synced, then renamed, so that a crash never leaves a truncated file
// under a valid id.
type blobDir struct{ root string }

// put stores the ciphertext read from r (at most MaxBlob bytes) and returns
// its id and size. want, if not "", is the id the client computed.
func (b *blobDir) put(room string, r io.Reader, want string) (string, int64, error) {
	dir := filepath.Join(b.root, room)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", 0, fmt.Errorf("crisis: blob folder: %w", err)
	}
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return "", 0, fmt.Errorf("crisis: blob: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, MaxBlob+1))
	if err != nil {
		f.Close()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", 0, errf(http.StatusRequestEntityTooLarge, "an attachment holds at most 25 MiB")
		}
		return "", 0, fmt.Errorf("crisis: receive blob: %w", err)
	}
	if n > MaxBlob {
		f.Close()
		return "", 0, errf(http.StatusRequestEntityTooLarge, "an attachment holds at most 25 MiB")
	}
	if n == 0 {
		f.Close()
		return "", 0, badRequest("the attachment is empty: send its ciphertext as the request body")
	}
	id := e2ee.B64.EncodeToString(h.Sum(nil))
	if want != "" && want != id {
		f.Close()
		return "", 0, badRequest("the attachment's SHA-256 is %s, not the id %s you gave: it was damaged on the way, send it again", id, want)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", 0, fmt.Errorf("crisis: sync blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", 0, fmt.Errorf("crisis: close blob: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, id)); err != nil {
		return "", 0, fmt.Errorf("crisis: store blob: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return id, n, nil
}

func (b *blobDir) open(room, id string) (*os.File, error) {
	return os.Open(filepath.Join(b.root, room, id))
}

// PutBlob stores an attachment's ciphertext uploaded by m.
func (s *Service) PutBlob(ctx context.Context, m Member, r io.Reader, want string) (string, error) {
	if err := requireAdmitted(m); err != nil {
		return "", err
	}
	if want != "" && !blobIDRe.MatchString(want) {
		return "", badRequest("the id must be the base64url SHA-256 of the ciphertext (43 characters)")
	}
	id, n, err := s.blobs.put(m.Room, r, want)
	if err != nil {
		return "", err
	}
	if err := s.st.PutBlob(ctx, BlobMeta{Room: m.Room, ID: id, Size: n, Uploader: m.ID, CreatedAt: s.now().UTC()}); err != nil && !errors.Is(err, ErrExists) {
		return "", fmt.Errorf("crisis: record blob: %w", err)
	}
	return id, nil
}

// OpenBlob opens an attachment for an admitted member.
func (s *Service) OpenBlob(ctx context.Context, m Member, id string) (*os.File, BlobMeta, error) {
	if err := requireAdmitted(m); err != nil {
		return nil, BlobMeta{}, err
	}
	if !blobIDRe.MatchString(id) {
		return nil, BlobMeta{}, badRequest("a blob id is the base64url SHA-256 of the ciphertext (43 characters)")
	}
	meta, err := s.st.Blob(ctx, m.Room, id)
	if errors.Is(err, ErrNotFound) {
		return nil, BlobMeta{}, errf(http.StatusNotFound, "no such attachment in this room")
	}
	if err != nil {
		return nil, BlobMeta{}, fmt.Errorf("crisis: blob %s: %w", id, err)
	}
	f, err := s.blobs.open(m.Room, id)
	if err != nil {
		return nil, BlobMeta{}, fmt.Errorf("crisis: open blob %s: %w", id, err)
	}
	return f, meta, nil
}

package repoapi

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/rempart/rempart/internal/vault/backend"
)

// Errors a Storage returns; callers test them with errors.Is.
var (
	ErrNotFound = errors.New("not stored")
	ErrExists   = errors.New("already stored")
	ErrNoSpace  = errors.New("the server's storage is full")
)

// File names one stored file of a tenant. Config has an empty Name.
type File struct {
	Type backend.FileType
	Name string
}

// Info describes a stored file.
type Info struct {
	Name    string
	Size    int64
	ModTime time.Time
	// Writer is the principal that wrote the file, when it was recorded
	// (locks only).
	Writer string
}

// Object is an open stored file: seekable, so that byte ranges are served
// without reading what comes before.
type Object interface {
	io.ReadSeekCloser
	Info() Info
}

// PutOptions tune Storage.Put.
type PutOptions struct {
	// Verify, when set, is called once the whole body has been read and
	// before anything becomes visible; an error aborts the put.
	Verify func() error
	// Replace allows overwriting an existing file (locks only). Without it,
	// an existing name fails with ErrExists and is left untouched.
	Replace bool
	// Writer is recorded with the file (locks only).
	Writer string
}

// Storage is where the repository files of every tenant live. Puts are
// atomic: a failed or interrupted put leaves nothing visible.
type Storage interface {
	Stat(ctx context.Context, tenant string, f File) (Info, error)
	Open(ctx context.Context, tenant string, f File) (Object, error)
	Put(ctx context.Context, tenant string, f File, body io.Reader, opts PutOptions) error
	List(ctx context.Context, tenant string, t backend.FileType, fn func(Info) error) error
	Delete(ctx context.Context, tenant string, f File) error
}

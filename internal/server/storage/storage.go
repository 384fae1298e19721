// Package storage owns where the server keeps the repository files of its
// tenants: a local folder (the default) or an S3-compatible bucket with
// Object Lock. Both give the same guarantees to the layers above: puts are
// atomic and never replace a file (locks excepted), and a file under a
// retention lock cannot be deleted before its date. The folder relies on the
// server's own rules for that; S3 in compliance mode enforces it even
// against the server's own credentials.
package storage

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
	// ErrLocked: the file is under a retention lock that has not expired.
	ErrLocked = errors.New("locked by its retention date")
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
	// RetainUntil is the file's retention lock as the storage enforces it;
	// zero when the storage enforces none (folder storage).
	RetainUntil time.Time
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
	// RetainUntil, when not zero, locks the new file until then: a storage
	// that enforces locks (Immutable) refuses to delete it before.
	RetainUntil time.Time
}

// Storage is where the repository files of every tenant live. Puts are
// atomic: a failed or interrupted put leaves nothing visible.
type Storage interface {
	Stat(ctx context.Context, tenant string, f File) (Info, error)
	Open(ctx context.Context, tenant string, f File) (Object, error)
	Put(ctx context.Context, tenant string, f File, body io.Reader, opts PutOptions) error
	List(ctx context.Context, tenant string, t backend.FileType, fn func(Info) error) error
	// Delete removes a file; ErrLocked if its retention lock has not
	// expired.
	Delete(ctx context.Context, tenant string, f File) error
	// Retain extends the retention lock of a stored file to until. A lock
	// is never shortened: an earlier until leaves it as it is.
	Retain(ctx context.Context, tenant string, f File, until time.Time) error
	// Immutable reports whether the storage itself enforces retention
	// locks, even against the server's own credentials.
	Immutable() bool
}

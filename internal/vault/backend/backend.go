// Package backend defines where a repository's files live. A backend stores
// named, immutable files of a few types; it knows nothing of keys or formats.
// The local folder is the first backend; the append-only server and S3 follow
// the same contract, so the engine above never changes.
package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// FileType is the kind of a stored file; each has its own namespace.
type FileType string

// The file types of a repository (see docs/format.md).
const (
	Config   FileType = "config"
	Key      FileType = "keys"
	Pack     FileType = "data"
	Index    FileType = "index"
	Snapshot FileType = "snapshots"
	Lock     FileType = "locks"
)

// Handle names one stored file. Config has an empty Name.
type Handle struct {
	Type FileType
	Name string
}

func (h Handle) String() string {
	if h.Type == Config {
		return "config"
	}
	return fmt.Sprintf("%s/%s", h.Type, h.Name)
}

// FileInfo describes a listed file.
type FileInfo struct {
	Name string
	Size int64
}

// Backend stores the files of one repository.
//
// Save must be atomic: after a crash the file is either absent or complete.
// Saving a name that already exists fails with ErrExists unless the content
// is identical (content-addressed files may be uploaded twice).
type Backend interface {
	// Location describes the backend for messages (a path or URL).
	Location() string
	Save(ctx context.Context, h Handle, data []byte) error
	// SaveFile stores the complete temporary file f under h and takes
	// ownership of it (it is closed, and moved or removed). Packs are built
	// in such files so that memory stays small.
	SaveFile(ctx context.Context, h Handle, f *os.File) error
	// TempDir is where temporary pack files should be created ("" means the
	// system's temporary folder). A folder backend returns one inside the
	// repository so that a finished pack is renamed, not copied.
	TempDir() string
	// Load returns length bytes at offset (length 0 means to the end).
	Load(ctx context.Context, h Handle, offset, length int64) ([]byte, error)
	// Open streams a whole file.
	Open(ctx context.Context, h Handle) (io.ReadCloser, error)
	Stat(ctx context.Context, h Handle) (FileInfo, error)
	List(ctx context.Context, t FileType, fn func(FileInfo) error) error
	Remove(ctx context.Context, h Handle) error
	Close() error
}

// BufferLoader is implemented by backends that can read a range into the
// caller's buffer. A restore reads thousands of ranges of a few MiB: reusing
// one buffer per worker keeps the process's memory flat instead of leaving
// the garbage collector a trail of large buffers.
type BufferLoader interface {
	// LoadInto reads exactly len(buf) bytes at offset into buf.
	LoadInto(ctx context.Context, h Handle, offset int64, buf []byte) error
}

// LoadInto reads length bytes at offset, into buf's storage when it is large
// enough and the backend can (BufferLoader), else as Load does.
func LoadInto(ctx context.Context, be Backend, h Handle, offset, length int64, buf []byte) ([]byte, error) {
	bl, ok := be.(BufferLoader)
	if !ok || length <= 0 {
		return be.Load(ctx, h, offset, length)
	}
	if int64(cap(buf)) < length {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	if err := bl.LoadInto(ctx, h, offset, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// Errors that callers test with errors.Is.
var (
	ErrNotFound = errors.New("file not found")
	ErrExists   = errors.New("file already exists with other content")
	ErrNoSpace  = errors.New("no space left on the storage")
	// ErrNotRepository means the location cannot hold a repository.
	ErrNotRepository = errors.New("not a Rempart repository")
)

// ErrPacksMissing means storage refused a snapshot because its plain pack
// list names packs that are not stored. A server commits a snapshot only
// when every pack it names is there; a pack can be missing because its
// garbage collection deleted it while the backup that reused it ran.
var ErrPacksMissing = errors.New("the snapshot names packs that are not stored")

// PacksMissingError is ErrPacksMissing with what the storage said: the
// packs it named (hex IDs; empty when it named none) and its message.
type PacksMissingError struct {
	Packs   []string
	Message string
}

func (e *PacksMissingError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("%v (server: %s)", ErrPacksMissing, e.Message)
	}
	return ErrPacksMissing.Error()
}

// Is makes errors.Is(err, ErrPacksMissing) true.
func (e *PacksMissingError) Is(target error) bool { return target == ErrPacksMissing }

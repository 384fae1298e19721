// Package local stores a repository in a folder of the local file system.
// Every file is written to a temporary name, synced, then renamed, and the
// folder is synced: a crash leaves either the whole file or nothing.
package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/rempart/rempart/internal/atomicfile"
	"github.com/rempart/rempart/internal/vault/backend"
)

// Local is a repository folder.
type Local struct {
	root string
}

var allTypes = []backend.FileType{backend.Key, backend.Pack, backend.Index, backend.Snapshot, backend.Lock, "tmp"}

// Create makes the folder layout. The folder must be absent or empty.
func Create(root string) (*Local, error) {
	if entries, err := os.ReadDir(root); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: choose a new or empty folder for the repository", root)
	}
	for _, t := range allTypes {
		if err := os.MkdirAll(filepath.Join(root, string(t)), 0o700); err != nil {
			return nil, wrapErr(fmt.Errorf("creating repository folder: %w", err))
		}
	}
	for i := 0; i < 256; i++ {
		if err := os.MkdirAll(filepath.Join(root, string(backend.Pack), fmt.Sprintf("%02x", i)), 0o700); err != nil {
			return nil, wrapErr(fmt.Errorf("creating repository folder: %w", err))
		}
	}
	return &Local{root: root}, nil
}

// Open uses an existing folder.
func Open(root string) (*Local, error) {
	st, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("repository %s does not exist: %w", root, backend.ErrNotFound)
		}
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("repository %s is not a folder: %w", root, backend.ErrNotRepository)
	}
	return &Local{root: root}, nil
}

// Location returns the folder path.
func (l *Local) Location() string { return l.root }

func (l *Local) path(h backend.Handle) string {
	switch h.Type {
	case backend.Config:
		return filepath.Join(l.root, "config")
	case backend.Pack:
		if len(h.Name) >= 2 {
			return filepath.Join(l.root, string(h.Type), h.Name[:2], h.Name)
		}
	}
	return filepath.Join(l.root, string(h.Type), h.Name)
}

func validName(h backend.Handle) error {
	if h.Type == backend.Config {
		return nil
	}
	if h.Name == "" || strings.ContainsAny(h.Name, `/\`) || strings.HasPrefix(h.Name, ".") {
		return fmt.Errorf("invalid file name %q", h.Name)
	}
	return nil
}

func wrapErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %v", backend.ErrNoSpace, err)
	}
	return err
}

// Save writes data atomically.
func (l *Local) Save(ctx context.Context, h backend.Handle, data []byte) error {
	if err := validName(h); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := l.path(h)
	if old, err := os.ReadFile(p); err == nil {
		if bytes.Equal(old, data) {
			return nil
		}
		return fmt.Errorf("%s: %w", h, backend.ErrExists)
	}
	dir := filepath.Dir(p)
	f, err := atomicfile.Create(dir)
	if err != nil {
		return wrapErr(fmt.Errorf("saving %s: %w", h, err))
	}
	if _, err := f.Write(data); err != nil {
		atomicfile.Discard(f)
		return wrapErr(fmt.Errorf("saving %s: %w", h, err))
	}
	if err := atomicfile.Seal(f); err != nil {
		return wrapErr(fmt.Errorf("saving %s: %w", h, err))
	}
	tmp := f.Name()
	// Link refuses to replace an existing file: two writers of the same
	// content-addressed name cannot clobber each other.
	replace := h.Type == backend.Lock || h.Type == backend.Config
	err = atomicfile.Place(tmp, p, replace)
	if !replace && errors.Is(err, fs.ErrExist) {
		if old, rerr := os.ReadFile(p); rerr == nil && bytes.Equal(old, data) {
			return nil
		}
		return fmt.Errorf("%s: %w", h, backend.ErrExists)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return wrapErr(fmt.Errorf("saving %s: %w", h, err))
	}
	return syncDir(dir)
}

func syncDir(dir string) error { return wrapErr(atomicfile.SyncDir(dir)) }

func notFound(h backend.Handle, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", h, backend.ErrNotFound)
	}
	return err
}

// Load reads a byte range.
func (l *Local) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	if err := validName(h); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path(h))
	if err != nil {
		return nil, notFound(h, err)
	}
	defer f.Close()
	if length <= 0 {
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		length = st.Size() - offset
		if length < 0 {
			return nil, fmt.Errorf("reading %s at %d: beyond end of file (%d bytes)", h, offset, st.Size())
		}
	}
	buf := make([]byte, length)
	if err := readAt(f, h, offset, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// LoadInto reads len(buf) bytes at offset into buf (backend.BufferLoader).
func (l *Local) LoadInto(ctx context.Context, h backend.Handle, offset int64, buf []byte) error {
	if err := validName(h); err != nil {
		return err
	}
	f, err := os.Open(l.path(h))
	if err != nil {
		return notFound(h, err)
	}
	defer f.Close()
	return readAt(f, h, offset, buf)
}

func readAt(f *os.File, h backend.Handle, offset int64, buf []byte) error {
	n, err := f.ReadAt(buf, offset)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(buf)) {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %s: file is shorter than expected (truncated?): %w", h, io.ErrUnexpectedEOF)
		}
		return fmt.Errorf("reading %s: %w", h, err)
	}
	return nil
}

// Open streams a file.
func (l *Local) Open(ctx context.Context, h backend.Handle) (io.ReadCloser, error) {
	if err := validName(h); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path(h))
	if err != nil {
		return nil, notFound(h, err)
	}
	return f, nil
}

// Stat returns a file's size.
func (l *Local) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := validName(h); err != nil {
		return backend.FileInfo{}, err
	}
	st, err := os.Stat(l.path(h))
	if err != nil {
		return backend.FileInfo{}, notFound(h, err)
	}
	return backend.FileInfo{Name: h.Name, Size: st.Size()}, nil
}

// List calls fn for every file of type t, skipping temporary files.
func (l *Local) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	dirs := []string{filepath.Join(l.root, string(t))}
	if t == backend.Pack {
		sub, err := os.ReadDir(dirs[0])
		if err != nil {
			return notFound(backend.Handle{Type: t}, err)
		}
		dirs = dirs[:0]
		for _, s := range sub {
			if s.IsDir() {
				dirs = append(dirs, filepath.Join(l.root, string(t), s.Name()))
			}
		}
	}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			return notFound(backend.Handle{Type: t}, err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			if err := fn(backend.FileInfo{Name: e.Name(), Size: info.Size()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// TempDir is the repository's own temporary folder.
func (l *Local) TempDir() string { return filepath.Join(l.root, "tmp") }

// SaveFile fsyncs f and links it into place (or copies it when it lives on
// another file system), then removes the temporary name.
func (l *Local) SaveFile(ctx context.Context, h backend.Handle, f *os.File) error {
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := validName(h); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return wrapErr(fmt.Errorf("saving %s: %w", h, err))
	}
	_ = f.Chmod(0o400)
	if err := f.Close(); err != nil {
		return wrapErr(fmt.Errorf("saving %s: %w", h, err))
	}
	p := l.path(h)
	if _, err := os.Stat(p); err == nil {
		return nil // content-addressed: same name, same bytes
	}
	err := os.Link(tmp, p)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		// Another file system (or no hard links): copy the bytes.
		data, rerr := os.ReadFile(tmp)
		if rerr != nil {
			return fmt.Errorf("saving %s: %w", h, rerr)
		}
		return l.Save(ctx, h, data)
	}
	return syncDir(filepath.Dir(p))
}

// Remove deletes a file.
func (l *Local) Remove(ctx context.Context, h backend.Handle) error {
	if err := validName(h); err != nil {
		return err
	}
	if err := os.Remove(l.path(h)); err != nil {
		return notFound(h, err)
	}
	return nil
}

// RemoveTemporary deletes temporary files left by an interrupted writer.
//
// Called only when no writer runs (under an exclusive lock).
func (l *Local) RemoveTemporary() {
	_ = filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), atomicfile.TempPrefix) || filepath.Dir(p) == l.TempDir() {
			_ = os.Remove(p)
		}
		return nil
	})
}

// Close releases nothing for a folder.
func (l *Local) Close() error { return nil }

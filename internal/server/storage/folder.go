package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rempart/rempart/internal/atomicfile"
	"github.com/rempart/rempart/internal/vault/backend"
)

// Folder stores each tenant's repository in its own sub-folder of a root,
// with the layout of a local repository (docs/format.md). Files are written
// to a temporary name, synced, then linked into place (renamed for locks),
// and the folder is synced. Only locks are ever replaced or deleted.
type Folder struct {
	root string
}

// writerPrefix names the hidden file that records who wrote a lock.
const writerPrefix = ".writer-"

// NewFolder uses (and creates if needed) root.
func NewFolder(root string) (*Folder, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("storage: storage folder: %w", err)
	}
	return &Folder{root: root}, nil
}

func (s *Folder) dir(tenant string, t backend.FileType, name string) string {
	switch {
	case t == backend.Config:
		return filepath.Join(s.root, tenant)
	case t == backend.Pack && len(name) >= 2:
		return filepath.Join(s.root, tenant, string(t), name[:2])
	}
	return filepath.Join(s.root, tenant, string(t))
}

func (s *Folder) path(tenant string, f File) string {
	if f.Type == backend.Config {
		return filepath.Join(s.root, tenant, "config")
	}
	return filepath.Join(s.dir(tenant, f.Type, f.Name), f.Name)
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %v", ErrNoSpace, err)
	}
	return err
}

// Stat describes a stored file.
func (s *Folder) Stat(ctx context.Context, tenant string, f File) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	p := s.path(tenant, f)
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, mapErr(err)
	}
	info := Info{Name: f.Name, Size: st.Size(), ModTime: st.ModTime()}
	if f.Type == backend.Lock {
		if w, err := os.ReadFile(filepath.Join(filepath.Dir(p), writerPrefix+f.Name)); err == nil {
			info.Writer = string(w)
		}
	}
	return info, nil
}

type osObject struct {
	*os.File
	info Info
}

func (o osObject) Info() Info { return o.info }

// Open opens a stored file for reading.
func (s *Folder) Open(ctx context.Context, tenant string, f File) (Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fh, err := os.Open(s.path(tenant, f))
	if err != nil {
		return nil, mapErr(err)
	}
	st, err := fh.Stat()
	if err != nil {
		_ = fh.Close()
		return nil, mapErr(err)
	}
	return osObject{File: fh, info: Info{Name: f.Name, Size: st.Size(), ModTime: st.ModTime()}}, nil
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put stores body under f atomically.
func (s *Folder) Put(ctx context.Context, tenant string, f File, body io.Reader, opts PutOptions) error {
	dir := s.dir(tenant, f.Type, f.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return mapErr(fmt.Errorf("creating %s: %w", dir, err))
	}
	p := s.path(tenant, f)
	if !opts.Replace {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s: %w", f.Name, ErrExists)
		}
	}
	tmp, err := writeTemp(ctx, dir, body, opts.Verify)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if opts.Writer != "" {
		wtmp, err := writeTemp(ctx, dir, strings.NewReader(opts.Writer), nil)
		if err != nil {
			return err
		}
		if err := os.Rename(wtmp, filepath.Join(dir, writerPrefix+f.Name)); err != nil {
			_ = os.Remove(wtmp)
			return mapErr(fmt.Errorf("recording writer: %w", err))
		}
	}
	// Link (without Replace) never replaces an existing file.
	err = atomicfile.Place(tmp, p, opts.Replace)
	if !opts.Replace && errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", f.Name, ErrExists)
	}
	if err != nil {
		return mapErr(fmt.Errorf("storing %s: %w", f.Name, err))
	}
	return syncDir(dir)
}

// writeTemp copies body into a synced, read-only temporary file in dir and
// returns its path; verify runs before the file is closed.
func writeTemp(ctx context.Context, dir string, body io.Reader, verify func() error) (string, error) {
	fh, err := atomicfile.Create(dir)
	if err != nil {
		return "", mapErr(fmt.Errorf("creating temporary file: %w", err))
	}
	if _, err := io.Copy(fh, ctxReader{ctx, body}); err != nil {
		atomicfile.Discard(fh)
		return "", mapErr(err)
	}
	if verify != nil {
		if err := verify(); err != nil {
			atomicfile.Discard(fh)
			return "", err
		}
	}
	if err := atomicfile.Seal(fh); err != nil {
		return "", mapErr(err)
	}
	return fh.Name(), nil
}

func syncDir(dir string) error { return mapErr(atomicfile.SyncDir(dir)) }

// List calls fn for each stored file of type t (none when the tenant has
// stored nothing yet).
func (s *Folder) List(ctx context.Context, tenant string, t backend.FileType, fn func(Info) error) error {
	base := filepath.Join(s.root, tenant, string(t))
	dirs := []string{base}
	if t == backend.Pack {
		sub, err := os.ReadDir(base)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing %s: %w", t, err)
		}
		dirs = dirs[:0]
		for _, e := range sub {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(base, e.Name()))
			}
		}
	}
	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := os.ReadDir(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("listing %s: %w", t, err)
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			st, err := e.Info()
			if err != nil {
				continue // deleted meanwhile (a lock)
			}
			if err := fn(Info{Name: e.Name(), Size: st.Size(), ModTime: st.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete removes a file and its recorded writer.
func (s *Folder) Delete(ctx context.Context, tenant string, f File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.path(tenant, f)
	if err := os.Remove(p); err != nil {
		return mapErr(err)
	}
	_ = os.Remove(filepath.Join(filepath.Dir(p), writerPrefix+f.Name))
	return syncDir(filepath.Dir(p))
}

// Retain does nothing: a folder cannot lock a file against its owner. The
// server's own rules (retention and garbage collection) keep locked files.
func (s *Folder) Retain(ctx context.Context, tenant string, f File, until time.Time) error {
	return ctx.Err()
}

// Immutable is false: root on the server's machine can delete files.
func (s *Folder) Immutable() bool { return false }

// Package atomicfile owns the crash-safe way to put a file in a folder: the
// bytes go to a temporary file in that folder, which is synced, made
// read-only and closed, then linked into place (never replacing a file) or
// renamed into place (replacing one), and the folder is synced. A crash
// leaves either the whole file or nothing under its name. It maps no
// errors: what a full disk or a missing file means is the callers' business.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// TempPrefix begins the name of every temporary file.
const TempPrefix = ".tmp-"

// Create creates a new temporary file in dir.
func Create(dir string) (*os.File, error) {
	return os.CreateTemp(dir, TempPrefix)
}

// Discard closes and removes a temporary file that will not be kept.
func Discard(f *os.File) {
	_ = f.Close()
	_ = os.Remove(f.Name())
}

// Seal syncs the temporary file f, makes it read-only (0400) and closes it.
// On error the file is removed.
func Seal(f *os.File) error {
	if err := f.Sync(); err != nil {
		Discard(f)
		return err
	}
	if err := f.Chmod(0o400); err != nil {
		Discard(f)
		return err
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(f.Name())
		return err
	}
	return nil
}

// Place puts the sealed temporary file tmp at p, in the same folder. With
// replace it renames tmp over whatever p holds. Without, it hard-links tmp
// to p, which fails with an error matching fs.ErrExist when p exists (two
// writers of one content-addressed name never clobber each other), then
// removes tmp whatever the outcome. The folder is not synced: see SyncDir.
func Place(tmp, p string, replace bool) error {
	if replace {
		return os.Rename(tmp, p)
	}
	err := os.Link(tmp, p)
	_ = os.Remove(tmp)
	return err
}

// SyncDir syncs a folder so that the names placed in it last. File systems
// that cannot sync a folder (EINVAL) are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

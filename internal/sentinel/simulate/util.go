package simulate

import (
	"compress/gzip"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
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

// wrap64b is wrap64 with "\n" line ends, into one buffer.
func wrap64b(data []byte, width int) []byte {
	enc := make([]byte, base64.StdEncoding.EncodedLen(len(data)))
	base64.StdEncoding.Encode(enc, data)
	if width <= 0 {
		return enc
	}
	out := make([]byte, 0, len(enc)+len(enc)/width+1)
	for len(enc) > width {
		out = append(out, enc[:width]...)
		out = append(out, '\n')
		enc = enc[width:]
	}
	return append(out, enc...)
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

// unlinked makes p a file of its own when it is a hard link into the
// shared base copy (LinkTree), so that writing it changes no other copy.
func unlinked(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink <= 1 {
		return nil
	}
	tmp := p + ".~unlink"
	if _, err := copyFile(p, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}

// openInPlace opens a file of a scenario's copy for writing in place
// (after unlinked: the base copy stays intact).
func openInPlace(p string, flag int) (*os.File, error) {
	if err := unlinked(p); err != nil {
		return nil, err
	}
	return os.OpenFile(p, flag, 0)
}

// rewrite replaces a file's content (as ransomware that encrypts files
// where they are does).
func rewrite(p string, data []byte) error { return writeNew(p, data) }

// writeNew writes data to p as a new file: an existing file (maybe a hard
// link into the base copy) is unlinked first, never written through.
func writeNew(p string, data []byte) error {
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// TempWork makes a work folder for an evaluation, in memory (/dev/shm)
// when there is room: the evaluation writes and deletes a few GB of
// copies, and a disk mounted with discard makes each deletion slow.
func TempWork(prefix string) (string, error) {
	var st syscall.Statfs_t
	if syscall.Statfs("/dev/shm", &st) == nil && uint64(st.Bavail)*uint64(st.Bsize) > 4<<30 {
		if d, err := os.MkdirTemp("/dev/shm", prefix); err == nil {
			return d, nil
		}
	}
	return os.MkdirTemp("", prefix)
}

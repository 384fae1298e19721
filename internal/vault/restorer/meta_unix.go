//go:build unix

package restorer

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/rempart/rempart/internal/vault/tree"
)

func fileMode(n *tree.Node) fs.FileMode {
	m := fs.FileMode(n.Mode & 0o777)
	if n.Mode&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if n.Mode&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if n.Mode&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// applyMeta restores owner (as root), mode and times, in that order: chown
// clears set-uid bits, and chmod must not follow a symlink.
func (rs *restorer) applyMeta(path string, n *tree.Node) error {
	if rs.asRoot {
		if err := os.Lchown(path, int(n.UID), int(n.GID)); err != nil {
			return err
		}
	}
	if n.Type != tree.Symlink {
		if err := os.Chmod(path, fileMode(n)); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(n.ModTime.UnixNano()), unix.NsecToTimespec(n.ModTime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func mkfifo(path string, mode uint32) error { return unix.Mkfifo(path, mode&0o777) }

func mknod(path string, n *tree.Node) error {
	kind := uint32(unix.S_IFBLK)
	if n.Type == tree.CharDev {
		kind = unix.S_IFCHR
	}
	return unix.Mknod(path, kind|(n.Mode&0o777), int(n.Rdev))
}

// applyMetaFD is applyMeta through an open regular file.
func (rs *restorer) applyMetaFD(f *os.File, n *tree.Node) error {
	if rs.asRoot {
		if err := f.Chown(int(n.UID), int(n.GID)); err != nil {
			return err
		}
	}
	if err := f.Chmod(fileMode(n)); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(n.ModTime.UnixNano()), unix.NsecToTimespec(n.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(int(f.Fd()), "", ts, unix.AT_EMPTY_PATH); err != nil {
		// Kernels without AT_EMPTY_PATH for utimensat: by path.
		return unix.UtimesNanoAt(unix.AT_FDCWD, f.Name(), ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

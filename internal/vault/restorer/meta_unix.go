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

// createWhole creates (or replaces) a file with data (or a hole of that
// size when zero), and sets owner (as root), mode and times through the same
// descriptor. Raw system calls: no poller registration, no mode switches.
func createWhole(path string, data []byte, zero bool, n *tree.Node, asRoot bool) error {
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: path, Err: err}
	}
	err = fillFD(fd, data, zero)
	if err == nil && asRoot {
		err = unix.Fchown(fd, int(n.UID), int(n.GID))
	}
	if err == nil {
		err = unix.Fchmod(fd, uint32(fileMode(n).Perm())|specialBits(n))
	}
	if err == nil {
		ts := []unix.Timespec{unix.NsecToTimespec(n.ModTime.UnixNano()), unix.NsecToTimespec(n.ModTime.UnixNano())}
		if err = unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
			// Kernels without AT_EMPTY_PATH for utimensat: by path.
			err = unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW)
		}
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return &os.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

func fillFD(fd int, data []byte, zero bool) error {
	if zero {
		return unix.Ftruncate(fd, int64(len(data)))
	}
	for len(data) > 0 {
		n, err := unix.Write(fd, data)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// specialBits are set-uid, set-gid and sticky as chmod(2) wants them.
func specialBits(n *tree.Node) uint32 {
	return n.Mode & 0o7000
}

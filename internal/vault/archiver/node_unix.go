//go:build unix

package archiver

import (
	"io"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rempart/rempart/internal/vault/tree"
)

// names caches uid/gid to name lookups.
type names struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

func (n *names) user(uid uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.users[uid]; ok {
		return s
	}
	s := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		s = u.Username
	}
	n.users[uid] = s
	return s
}

func (n *names) group(gid uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.groups[gid]; ok {
		return s
	}
	s := ""
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		s = g.Name
	}
	n.groups[gid] = s
	return s
}

// nodeFromInfo fills a node's metadata from lstat information.
func (a *archiver) nodeFromInfo(name string, fi fs.FileInfo) *tree.Node {
	n := &tree.Node{Name: name, Mode: uint32(fi.Mode().Perm())}
	m := fi.Mode()
	if m&fs.ModeSetuid != 0 {
		n.Mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		n.Mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		n.Mode |= 0o1000
	}
	switch {
	case m.IsRegular():
		n.Type = tree.File
		n.Size = uint64(fi.Size())
	case m.IsDir():
		n.Type = tree.Dir
	case m&fs.ModeSymlink != 0:
		n.Type = tree.Symlink
	case m&fs.ModeCharDevice != 0:
		n.Type = tree.CharDev
	case m&fs.ModeDevice != 0:
		n.Type = tree.Dev
	case m&fs.ModeNamedPipe != 0:
		n.Type = tree.FIFO
	case m&fs.ModeSocket != 0:
		n.Type = tree.Socket
	default:
		n.Type = tree.File
	}
	n.ModTime = fi.ModTime().UTC()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		n.ChangeTime = time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)).UTC()
		n.UID, n.GID = st.Uid, st.Gid
		n.Inode = uint64(st.Ino)
		n.DeviceID = uint64(st.Dev)
		n.Links = uint64(st.Nlink)
		if n.Type == tree.Dev || n.Type == tree.CharDev {
			n.Rdev = uint64(st.Rdev)
		}
		n.User = a.names.user(st.Uid)
		n.Group = a.names.group(st.Gid)
	}
	return n
}

// openNoAtime opens a file for reading without updating its access time
// when the kernel allows it (owner or root).
func openNoAtime(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOATIME, 0)
	if err != nil {
		f, err = os.Open(path)
	}
	return f, err
}

// rawFile reads a file through its descriptor alone. An os.File registers
// every file it opens with the runtime's network poller (fcntl, epoll_ctl
// that a regular file refuses): system calls that a backup of 60,000 small
// files would pay for nothing.
type rawFile struct {
	fd   int
	name string
}

// openRaw opens a file for reading, without updating its access time when
// the kernel allows it (owner or root).
func openRaw(path string) (*rawFile, error) {
	for _, flags := range []int{syscall.O_RDONLY | syscall.O_CLOEXEC | syscall.O_NOATIME, syscall.O_RDONLY | syscall.O_CLOEXEC} {
		fd, err := syscall.Open(path, flags, 0)
		if err == syscall.EINTR {
			fd, err = syscall.Open(path, flags, 0)
		}
		if err == nil {
			return &rawFile{fd: fd, name: path}, nil
		}
		if err != syscall.EPERM || flags&syscall.O_NOATIME == 0 {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
	}
	panic("unreachable")
}

func (f *rawFile) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, err := syscall.Read(f.fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

func (f *rawFile) Seek(offset int64, whence int) (int64, error) {
	off, err := syscall.Seek(f.fd, offset, whence)
	if err != nil {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: err}
	}
	return off, nil
}

func (f *rawFile) Close() error {
	if err := syscall.Close(f.fd); err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

//go:build unix

package archiver

import (
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

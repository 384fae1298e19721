package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Mounting needs root (or CAP_SYS_ADMIN) and a sandbox that allows it.
// Every helper here unmounts in t.Cleanup, which runs before t.TempDir's
// own cleanup removes the folder.

func unmountLater(t *testing.T, dir string) {
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			// Busy (a process still inside): detach it anyway.
			if err2 := unix.Unmount(dir, unix.MNT_DETACH); err2 != nil {
				t.Errorf("umount %s: %v, %v", dir, err, err2)
			}
		}
	})
}

// mountTmpfs mounts a tmpfs of size bytes on dir.
func mountTmpfs(t *testing.T, dir string, size int64) error {
	t.Helper()
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root")
	}
	if err := unix.Mount("rempart-e2e", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		return fmt.Errorf("mount -t tmpfs: %w", err)
	}
	unmountLater(t, dir)
	return nil
}

// mountLoop makes an ext4 image of size bytes and loop-mounts it on dir.
func mountLoop(t *testing.T, dir string, size int64) error {
	t.Helper()
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root")
	}
	for _, tool := range []string{"mkfs.ext4", "mount", "losetup"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found", tool)
		}
	}
	img := filepath.Join(t.TempDir(), "fs.img")
	f, err := os.Create(img)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// No reserved blocks: the whole image is usable, so "full" is full.
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", img).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %v: %s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("mount -o loop: %v: %s", err, out)
	}
	unmountLater(t, dir)
	return nil
}

// bindReadOnly makes dst a read-only view of src.
func bindReadOnly(t *testing.T, src, dst string) error {
	t.Helper()
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root")
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount --bind: %w", err)
	}
	unmountLater(t, dst)
	if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("mount -o remount,bind,ro: %w", err)
	}
	// Prove that writes really fail, even for root.
	if f, err := os.CreateTemp(dst, "probe"); err == nil {
		name := f.Name()
		_ = f.Close()
		_ = os.Remove(name)
		return fmt.Errorf("read-only bind mount is writable")
	}
	return nil
}

// freeBytes is the space left for root on the file system holding dir.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bfree) * st.Bsize
}

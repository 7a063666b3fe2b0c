package fs_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dfsproject/dfs/fs/fstest"
)

// inodesUsed is the inode count of statfs on mnt: live inodes, orphans
// not reclaimed yet included.
func inodesUsed(t *testing.T, mnt string) uint64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	return st.Files - st.Ffree
}

// waitInodes waits until statfs on mnt counts want inodes in use.
func waitInodes(t *testing.T, mnt string, want uint64, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := inodesUsed(t, mnt)
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d inodes in use, want %d: %s", n, want, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTmpfileOnMount: on a real mount, an O_TMPFILE file is written, then
// linked into place through /proc/self/fd (or with AT_EMPTY_PATH) and is
// then an ordinary file with its data; one made with O_EXCL cannot be
// linked; one never linked leaves no inode behind once closed.
func TestTmpfileOnMount(t *testing.T) {
	d := fstest.Start(t, fstest.Options{})
	base := inodesUsed(t, d.Mountpoint)
	dir := filepath.Join(d.Mountpoint, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmpfile := func(flags int, data string) int {
		t.Helper()
		fd, err := unix.Open(dir, unix.O_TMPFILE|flags, 0o640)
		if err != nil {
			t.Fatalf("open O_TMPFILE: %v", err)
		}
		if _, err := unix.Pwrite(fd, []byte(data), 0); err != nil {
			t.Fatalf("pwrite: %v", err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Nlink != 0 || st.Size != int64(len(data)) ||
			st.Mode != syscall.S_IFREG|0o640 {
			t.Fatalf("fstat of the tmpfile: %+v, %v", st, err)
		}
		return fd
	}
	wantFile := func(name, data string) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != data {
			t.Fatalf("%s: %q, %v", name, got, err)
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(dir, name), &st); err != nil || st.Nlink != 1 {
			t.Fatalf("stat %s: nlink %d, %v", name, st.Nlink, err)
		}
	}

	// Linked by its /proc/self/fd path, before and after close.
	fd := tmpfile(unix.O_RDWR, "linked through /proc")
	err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), unix.AT_FDCWD, filepath.Join(dir, "proc"), unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		t.Fatalf("linkat /proc/self/fd: %v", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Nlink != 1 {
		t.Errorf("fstat after linkat: nlink %d, %v", st.Nlink, err)
	}
	if _, err := unix.Pwrite(fd, []byte("after"), 100); err != nil {
		t.Fatalf("pwrite after linkat: %v", err)
	}
	unix.Close(fd)
	want := "linked through /proc" + string(make([]byte, 80)) + "after"
	wantFile("proc", want)

	// Linked with AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH: the mount
	// tests run as root).
	fd = tmpfile(unix.O_WRONLY, "linked by descriptor")
	if err := unix.Linkat(fd, "", unix.AT_FDCWD, filepath.Join(dir, "empty"), unix.AT_EMPTY_PATH); err != nil {
		t.Fatalf("linkat AT_EMPTY_PATH: %v", err)
	}
	unix.Close(fd)
	wantFile("empty", "linked by descriptor")

	// O_EXCL: the kernel refuses to link it; it goes at close.
	fd = tmpfile(unix.O_RDWR|unix.O_EXCL, "never linked")
	err = unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), unix.AT_FDCWD, filepath.Join(dir, "excl"), unix.AT_SYMLINK_FOLLOW)
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("linkat of an O_EXCL tmpfile: %v, want ENOENT", err)
	}
	unix.Close(fd)

	// Never linked: gone at close, with its data.
	for range 10 {
		fd := tmpfile(unix.O_RDWR, "scratch data")
		unix.Close(fd)
	}
	waitInodes(t, d.Mountpoint, base+3, "tmpfiles never linked were not reclaimed")
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 2 {
		t.Fatalf("%s lists %d entries, %v: want proc and empty", dir, len(ents), err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitInodes(t, d.Mountpoint, base, "inodes leaked")
}

// TestRemovedDirectoryOnMount: a directory removed (rmdir, or rename over
// it) while open keeps answering fstat, with nlink 0, takes no new
// entries, and is reclaimed once closed.
func TestRemovedDirectoryOnMount(t *testing.T) {
	d := fstest.Start(t, fstest.Options{})
	mnt := d.Mountpoint
	base := inodesUsed(t, mnt)
	for _, name := range []string{"gone", "replaced", "other"} {
		if err := os.Mkdir(filepath.Join(mnt, name), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var st0 syscall.Stat_t
	if err := syscall.Stat(filepath.Join(mnt, "gone"), &st0); err != nil {
		t.Fatal(err)
	}
	open := func(name string) int {
		t.Helper()
		fd, err := syscall.Open(filepath.Join(mnt, name), syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	gone, replaced := open("gone"), open("replaced")
	if err := syscall.Rmdir(filepath.Join(mnt, "gone")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Rename(filepath.Join(mnt, "other"), filepath.Join(mnt, "replaced")); err != nil {
		t.Fatal(err)
	}
	for _, fd := range []int{gone, replaced} {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			t.Fatalf("fstat of a removed directory: %v", err)
		}
		if st.Mode != syscall.S_IFDIR|0o700 || st.Nlink != 0 {
			t.Errorf("removed directory: mode %o, nlink %d", st.Mode, st.Nlink)
		}
		if err := unix.Mkdirat(fd, "x", 0o755); !errors.Is(err, unix.ENOENT) {
			t.Errorf("mkdir in a removed directory: %v, want ENOENT", err)
		}
		if fd, err := unix.Openat(fd, "x", unix.O_CREAT|unix.O_WRONLY, 0o644); !errors.Is(err, unix.ENOENT) {
			if err == nil {
				unix.Close(fd)
			}
			t.Errorf("create in a removed directory: %v, want ENOENT", err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(gone, &st); err != nil || st.Ino != st0.Ino {
		t.Errorf("fstat: ino %d, want %d (%v)", st.Ino, st0.Ino, err)
	}
	waitInodes(t, mnt, base+3, "removed directories held open")
	syscall.Close(gone)
	syscall.Close(replaced)
	if err := os.Remove(filepath.Join(mnt, "replaced")); err != nil {
		t.Fatal(err)
	}
	waitInodes(t, mnt, base, "removed directories not reclaimed")
}

package fs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/fs/fstest"
)

// TestUnlinkedInodesAreReclaimed: on a real mount, files unlinked or
// renamed over, some while open, keep working through their descriptors
// and are all reclaimed once closed and forgotten by the kernel (the inode
// count of statfs comes back), none leaks.
func TestUnlinkedInodesAreReclaimed(t *testing.T) {
	d := fstest.Start(t, fstest.Options{})
	base := inodesUsed(t, d.Mountpoint)
	dir := filepath.Join(d.Mountpoint, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var open []*os.File
	for i := range 60 {
		p := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, f)
		}
		if i%2 == 0 {
			if err := os.WriteFile(p+".tmp", []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p+".tmp", p); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range open {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			t.Errorf("fstat of an unlinked open file: %v", err)
		}
		buf := make([]byte, 5)
		if n, err := f.ReadAt(buf, 0); n != 5 || string(buf) != "hello" {
			t.Errorf("read of an unlinked open file: %q, %v", buf[:n], err)
		}
		f.Close()
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	waitInodes(t, d.Mountpoint, base, "unlinked inodes not reclaimed")
}

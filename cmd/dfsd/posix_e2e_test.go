package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/fs/fstest"
	"golang.org/x/sys/unix"
)

// asNobody runs a shell command as uid/gid 65534 and returns its combined
// output and whether it succeeded.
func asNobody(t *testing.T, script string) (string, bool) {
	t.Helper()
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// TestPermissions checks that the kernel enforces permissions on a dfs
// mount for a non-root user, as on ext4 (default_permissions).
func TestPermissions(t *testing.T) {
	d := fstest.Start(t, fstest.Options{})
	mnt := d.Mountpoint
	// t.TempDir makes 0700 directories: let nobody reach the mount.
	for dir := filepath.Dir(mnt); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sh(t, mnt, "echo secret > private && chmod 600 private && echo open > public && chmod 644 public")
	sh(t, mnt, "mkdir rootdir && chmod 755 rootdir && mkdir sticky && chmod 1777 sticky")
	sh(t, mnt, "mkdir sticky/owned && echo x > sticky/rootfile && chmod 666 sticky/rootfile")

	for _, tc := range []struct {
		script string
		ok     bool
		why    string
	}{
		{"cat " + mnt + "/public", true, "a 0644 file is readable by others"},
		{"cat " + mnt + "/private", false, "a 0600 root file is not readable by others"},
		{"echo x >> " + mnt + "/public", false, "a 0644 root file is not writable by others"},
		{"touch " + mnt + "/rootdir/f", false, "a 0755 root directory refuses new entries from others"},
		{"chmod 777 " + mnt + "/public", false, "only the owner may chmod"},
		{"touch " + mnt + "/sticky/mine && chmod 600 " + mnt + "/sticky/mine", true, "anyone may create in a 1777 directory"},
		{"rm -f " + mnt + "/sticky/rootfile", false, "the sticky bit keeps others from removing root's file"},
		{"echo y >> " + mnt + "/sticky/rootfile", true, "a 0666 file is writable by others"},
	} {
		out, ok := asNobody(t, tc.script)
		if ok != tc.ok {
			t.Errorf("%s: %q as nobody: success %v, want %v (%s)", tc.why, tc.script, ok, tc.ok, out)
		}
		if !tc.ok && !strings.Contains(out, "ermission denied") && !strings.Contains(out, "Operation not permitted") {
			t.Errorf("%s: want a permission error, got %q", tc.why, out)
		}
	}
	st, err := os.Stat(filepath.Join(mnt, "sticky/mine"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 65534 || sys.Gid != 65534 || st.Mode().Perm() != 0o600 {
		t.Errorf("file made by nobody: uid %d gid %d mode %v; want 65534 65534 -rw-------", sys.Uid, sys.Gid, st.Mode())
	}
	// Root may remove what nobody made, even in a sticky directory.
	sh(t, mnt, "rm sticky/mine")
}

// TestNameLimits checks the 255-byte name limit and a deep path.
func TestNameLimits(t *testing.T) {
	d := fstest.Start(t, fstest.Options{})
	long := strings.Repeat("n", 255)
	if err := os.WriteFile(filepath.Join(d.Mountpoint, long), []byte("x"), 0o644); err != nil {
		t.Fatalf("255-byte name: %v", err)
	}
	err := os.WriteFile(filepath.Join(d.Mountpoint, long+"n"), []byte("x"), 0o644)
	if !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Fatalf("256-byte name: %v, want ENAMETOOLONG", err)
	}
	// A path of about 4000 bytes: 15 directories of 255 bytes.
	p := d.Mountpoint
	for i := 0; i < 15; i++ {
		p = filepath.Join(p, strings.Repeat(string(rune('a'+i)), 255))
	}
	rel, _ := filepath.Rel(d.Mountpoint, p)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatalf("deep path (%d bytes): %v", len(rel), err)
	}
	d.Restart(t)
	if st, err := os.Stat(p); err != nil || !st.IsDir() {
		t.Fatalf("deep path after restart: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d.Mountpoint, long)); err != nil {
		t.Fatalf("255-byte name after restart: %v", err)
	}
}

// TestSparse100GiB writes a few bytes far into a 100 GiB file: holes read
// as zeros, SEEK_DATA/SEEK_HOLE find the data, and only the written chunk
// is stored.
func TestSparse100GiB(t *testing.T) {
	d := fstest.Start(t, fstest.Options{})
	path := filepath.Join(d.Mountpoint, "sparse")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const size = 100 << 30
	const at = 60<<30 + 12345
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("needle"), at); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st, _ := f.Stat(); st.Size() != size {
		t.Fatalf("size %d, want %d", st.Size(), size)
	}
	buf := make([]byte, 6)
	if _, err := f.ReadAt(buf, at); err != nil || string(buf) != "needle" {
		t.Fatalf("read at 60 GiB: %q, %v", buf, err)
	}
	if _, err := f.ReadAt(buf, 30<<30); err != nil || string(buf) != "\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("read in a hole: %q, %v", buf, err)
	}
	fd := int(f.Fd())
	data, err := unix.Seek(fd, 0, unix.SEEK_DATA)
	if err != nil || data > at || data < at-(4<<20) {
		t.Fatalf("SEEK_DATA from 0 = %d, %v; want the chunk holding %d", data, err, int64(at))
	}
	hole, err := unix.Seek(fd, at, unix.SEEK_HOLE)
	if err != nil || hole <= at || hole > at+(4<<20) {
		t.Fatalf("SEEK_HOLE from %d = %d, %v", int64(at), hole, err)
	}
	if _, err := unix.Seek(fd, size, unix.SEEK_DATA); !errors.Is(err, syscall.ENXIO) {
		t.Fatalf("SEEK_DATA at EOF: %v, want ENXIO", err)
	}
	objects := 0
	filepath.WalkDir(filepath.Join(d.DataDir, "chunks", "chunks"), func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			objects++
		}
		return nil
	})
	if objects != 1 {
		t.Fatalf("%d chunk objects stored for one written chunk, want 1", objects)
	}
}

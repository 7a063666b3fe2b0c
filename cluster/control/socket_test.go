package control

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// umask0 sets the process umask to 0 for the rest of the test, as dfsd
// runs.
func umask0(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
}

func checkSocketMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want a socket with mode 0600", path, fi.Mode())
	}
}

func TestListenMode(t *testing.T) {
	umask0(t)
	path := SocketPath(t.TempDir())
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	checkSocketMode(t, path)
}

// The socket is 0600 from the moment it is bound, before Listen's chmod.
func TestListenPrivateModeAtBind(t *testing.T) {
	umask0(t)
	path := SocketPath(t.TempDir())
	ln, err := listenPrivate(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	checkSocketMode(t, path)
}

func TestListenServesAndCloseRemoves(t *testing.T) {
	path := serveSocket(t, newFakeSource())
	c := &Client{Socket: path}
	st, err := c.Status(context.Background())
	if err != nil || st.Self != "n1" {
		t.Fatalf("Status over %s: %+v, %v", path, st, err)
	}

	path2 := SocketPath(t.TempDir())
	ln, err := Listen(path2)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := os.Lstat(path2); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after Close, Lstat(%s) = %v, want not exist", path2, err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := SocketPath(t.TempDir())
	// A socket whose server died: the file stays, nothing listens.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}

	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	h, err := NewHandler(HandlerConfig{Source: newFakeSource()})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, h)
	if _, err := (&Client{Socket: path}).Status(context.Background()); err != nil {
		t.Fatalf("Status over the replaced socket: %v", err)
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	path := serveSocket(t, newFakeSource())
	ln, err := Listen(path)
	if err == nil {
		ln.Close()
		t.Fatal("Listen on a live socket: no error")
	}
	if !errors.Is(err, ErrSocketInUse) || !strings.Contains(err.Error(), "another dfsd is serving "+path) {
		t.Fatalf("Listen on a live socket: %v", err)
	}
	// The live server is untouched.
	if _, err := (&Client{Socket: path}).Status(context.Background()); err != nil {
		t.Fatalf("the first server no longer answers: %v", err)
	}
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := SocketPath(t.TempDir())
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(path)
	if err == nil {
		ln.Close()
		t.Fatal("Listen over a regular file: no error")
	}
	if !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a regular file: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Fatalf("the file was changed: %q, %v", b, err)
	}
}

func TestListenRefusesLongPath(t *testing.T) {
	dir := t.TempDir()
	// dir/ddd…d/dfsd.sock, one byte over the limit.
	n := MaxSocketPath + 1 - len(dir) - 2 - len(SocketName)
	if n < 2 {
		t.Skipf("the temporary directory %s is too long for this test", dir)
	}
	long := filepath.Join(dir, strings.Repeat("d", n))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	path := SocketPath(long)
	if len(path) != MaxSocketPath+1 {
		t.Fatalf("test path is %d bytes", len(path))
	}
	_, err := Listen(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), strconv.Itoa(MaxSocketPath)) {
		t.Fatalf("Listen(%d-byte path) = %v, want an error naming the path and the limit", len(path), err)
	}
	// One byte shorter is fine.
	short := SocketPath(long[:len(long)-1])
	if err := os.Mkdir(filepath.Dir(short), 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(short)
	if err != nil {
		t.Fatalf("Listen(%d-byte path): %v", len(short), err)
	}
	ln.Close()
}

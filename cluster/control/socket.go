package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// SocketName is the control socket's name in dfsd's data directory.
const SocketName = "dfsd.sock"

// MaxSocketPath is the longest unix socket path, in bytes: sun_path holds
// 108 bytes with the terminating NUL.
const MaxSocketPath = 107

// socketMode is the control socket's mode: only its owner (and root) may
// connect.
const socketMode = 0o600

// probeTimeout bounds the connect Listen makes to tell a live socket from a
// stale one.
const probeTimeout = 2 * time.Second

// SocketPath returns the control socket's path in the data directory
// dataDir.
func SocketPath(dataDir string) string {
	return filepath.Join(dataDir, SocketName)
}

// Listen listens on a unix socket at path with mode 0600 whatever the
// process umask is. The mode is set on the socket before it is bound
// (Linux takes a socket file's mode from its inode, minus the umask), so
// the socket is never connectable by others, not even for an instant
// between bind and chmod.
//
// A socket already at path is probed: if something accepts a connection
// on it, Listen fails with an error wrapping ErrSocketInUse; if not, it is
// a stale socket left by a dfsd that died, and is removed. Anything else at
// path (a file, a directory) is left alone and refused. A path longer than
// MaxSocketPath bytes is refused. Closing the listener removes the socket.
func Listen(path string) (net.Listener, error) {
	if len(path) > MaxSocketPath {
		return nil, fmt.Errorf("the control socket path %s is %d bytes, longer than the %d bytes a unix socket path may have: use a shorter data directory",
			path, len(path), MaxSocketPath)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("listen on unix socket %s: %w", path, err)
	}
	// Already 0600 unless the umask took owner bits away; make it exact.
	if err := os.Chmod(path, socketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on unix socket %s: %w", path, err)
	}
	return ln, nil
}

// listenPrivate binds a unix socket at path whose mode is socketMode minus
// the umask from the moment it exists: the mode is set with fchmod on the
// socket before bind. The listener removes the socket file on Close.
func listenPrivate(path string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) { err = syscall.Fchmod(int(fd), socketMode) }); cerr != nil {
			return cerr
		}
		if err != nil {
			return fmt.Errorf("set the socket's mode: %w", err)
		}
		return nil
	}}
	return lc.Listen(context.Background(), "unix", path)
}

// removeStale removes a socket at path that nothing answers on. It refuses
// a live socket and anything that is not a socket.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check the control socket %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket: move it away", path)
	}
	conn, err := net.DialTimeout("unix", path, probeTimeout)
	switch {
	case err == nil:
		conn.Close()
		return fmt.Errorf("another dfsd is serving %s: %w", path, ErrSocketInUse)
	case errors.Is(err, syscall.ECONNREFUSED):
		// Stale: nothing is listening.
	case errors.Is(err, syscall.ENOENT):
		return nil // removed meanwhile
	default:
		return fmt.Errorf("check whether another dfsd is serving %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the stale control socket %s: %w", path, err)
	}
	return nil
}

package fstest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/fs"
	"github.com/dfsproject/dfs/store/s3test"
)

// Options say how to start a daemon.
type Options struct {
	// Backend is dfsd's --backend URL; empty means the directory backend
	// under the data directory.
	Backend string
	// Args are extra dfsd flags.
	Args []string
	// Env is extra environment (KEY=VALUE) for the daemon.
	Env []string
	// DataDir and Mountpoint, when set, are used instead of fresh
	// temporary directories (to restart a filesystem in a new daemon).
	DataDir, Mountpoint string
	// NoMount starts the daemon without --mount; it is ready when its
	// control socket answers.
	NoMount bool
	// Wrap is a command the daemon runs under, such as
	// {"ip", "netns", "exec", "ns1"}; it must exec dfsd (so that its
	// process is dfsd's, for Kill9).
	Wrap []string
}

// Daemon is one dfsd subprocess serving a mount.
type Daemon struct {
	Mountpoint string
	DataDir    string

	opts Options
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// Start starts dfsd with a fresh data directory and mountpoint (unless
// opts names them), waits until the filesystem is mounted, and registers a
// cleanup that stops the daemon and makes sure nothing stays mounted.
func Start(t testing.TB, opts Options) *Daemon {
	t.Helper()
	RequireFUSE(t)
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.Mountpoint == "" && !opts.NoMount {
		opts.Mountpoint = filepath.Join(t.TempDir(), "mnt")
		if err := os.Mkdir(opts.Mountpoint, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := &Daemon{Mountpoint: opts.Mountpoint, DataDir: opts.DataDir, opts: opts}
	t.Cleanup(func() { d.cleanup(t) })
	d.start(t)
	return d
}

// RequireFUSE skips the test when this machine cannot mount FUSE
// filesystems (no /dev/fuse, or not root).
func RequireFUSE(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("mount test skipped in -short mode")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skip("no /dev/fuse: cannot mount FUSE filesystems here")
	}
	if os.Geteuid() != 0 {
		t.Skip("mount tests run as root (allow_other, chown, mknod)")
	}
}

// Args returns dfsd's full command line for these options.
func (d *Daemon) Args() []string {
	args := []string{"--data", d.DataDir, "--log-level", "debug"}
	if !d.opts.NoMount {
		args = append(args, "--mount", d.Mountpoint)
	}
	if d.opts.Backend != "" {
		args = append(args, "--backend", d.opts.Backend)
	}
	return append(args, d.opts.Args...)
}

func (d *Daemon) start(t testing.TB) {
	t.Helper()
	d.log = &syncBuffer{}
	argv := append(slices.Clone(d.opts.Wrap), Binary(t))
	d.cmd = exec.Command(argv[0], append(argv[1:], d.Args()...)...)
	d.cmd.Env = append(os.Environ(), d.opts.Env...)
	d.cmd.Stdout = d.log
	d.cmd.Stderr = d.log
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start dfsd: %v", err)
	}
	d.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(d.cmd, d.done)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if d.ready() {
			return
		}
		select {
		case <-d.done:
			t.Fatalf("dfsd exited before it was ready (%v):\n%s", d.cmd.ProcessState, d.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dfsd was not ready (mounted, control socket answering) within 30s:\n%s", d.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ready reports whether the daemon serves its mount (if any) and answers
// on its control socket.
func (d *Daemon) ready() bool {
	if !d.opts.NoMount {
		if ok, _ := fs.IsMounted(d.Mountpoint); !ok {
			return false
		}
	}
	c, err := net.DialTimeout("unix", control.SocketPath(d.DataDir), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Running reports whether the daemon process is running.
func (d *Daemon) Running() bool { return d.cmd != nil }

// Log returns what the daemon has printed so far.
func (d *Daemon) Log() string { return d.log.String() }

// Stop sends SIGTERM and waits for a clean exit and unmount.
func (d *Daemon) Stop(t testing.TB) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		t.Errorf("dfsd did not stop within 60s of SIGTERM:\n%s", d.log.String())
	}
	state := d.cmd.ProcessState
	d.cmd = nil
	if !state.Success() {
		t.Errorf("dfsd exited with %v after SIGTERM:\n%s", state, d.log.String())
	}
	if m, _ := fs.IsMounted(d.Mountpoint); m && d.Mountpoint != "" {
		t.Errorf("%s still mounted after dfsd stopped", d.Mountpoint)
		unmount(d.Mountpoint)
	}
}

// Kill9 kills the daemon with SIGKILL (no flush, no unmount) and removes
// the dead mount.
func (d *Daemon) Kill9(t testing.TB) {
	t.Helper()
	if d.cmd == nil {
		return
	}
	syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	<-d.done
	d.cmd = nil
	unmount(d.Mountpoint)
}

// WaitExit waits up to timeout for the daemon to exit by itself, and
// returns how it exited; the test fails if it is still running then.
func (d *Daemon) WaitExit(t testing.TB, timeout time.Duration) *os.ProcessState {
	t.Helper()
	if d.cmd == nil {
		t.Fatal("WaitExit: daemon not running")
	}
	select {
	case <-d.done:
	case <-time.After(timeout):
		t.Fatalf("dfsd did not exit within %v:\n%s", timeout, tail(d.log.String(), 100))
	}
	state := d.cmd.ProcessState
	d.cmd = nil
	unmount(d.Mountpoint)
	return state
}

// Restart stops the daemon cleanly and starts it again on the same data.
func (d *Daemon) Restart(t testing.TB) {
	t.Helper()
	d.Stop(t)
	d.start(t)
}

// StartAgain starts a stopped or killed daemon again on the same data.
func (d *Daemon) StartAgain(t testing.TB) {
	t.Helper()
	if d.cmd != nil {
		t.Fatal("StartAgain: daemon still running")
	}
	d.start(t)
}

func (d *Daemon) cleanup(t testing.TB) {
	if d.cmd != nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-d.done
		}
		d.cmd = nil
	}
	unmount(d.Mountpoint)
	if t.Failed() && d.log != nil {
		t.Logf("dfsd log:\n%s", tail(d.log.String(), 200))
	}
}

// unmount makes sure nothing is mounted at dir: fusermount3 -u, then a
// lazy umount.
func unmount(dir string) {
	if dir == "" {
		return
	}
	for i := 0; i < 3; i++ {
		if m, _ := fs.IsMounted(dir); !m {
			return
		}
		exec.Command("fusermount3", "-u", dir).Run()
		if m, _ := fs.IsMounted(dir); !m {
			return
		}
		exec.Command("umount", "-l", dir).Run()
	}
}

var (
	buildMu  sync.Mutex
	built    = map[string]string{} // command name → binary path
	buildDir string
)

// Main runs a package's tests and then removes the binaries Binary and
// Dfsctl built, if any. Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(fstest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// Binary returns the path of a dfsd binary: $DFS_TEST_DFSD if set (the
// Makefile builds one for all packages), else one built once per test
// process.
func Binary(t testing.TB) string {
	t.Helper()
	return command(t, "dfsd", "DFS_TEST_DFSD")
}

// Dfsctl returns the path of a dfsctl binary: $DFS_TEST_DFSCTL if set,
// else one built once per test process.
func Dfsctl(t testing.TB) string {
	t.Helper()
	return command(t, "dfsctl", "DFS_TEST_DFSCTL")
}

func command(t testing.TB, name, env string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p := built[name]; p != "" {
		return p
	}
	if buildDir == "" {
		dir, err := os.MkdirTemp("", "dfstest-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = dir
	}
	p := filepath.Join(buildDir, name)
	out, err := exec.Command("go", "build", "-o", p, "github.com/dfsproject/dfs/cmd/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	built[name] = p
	return p
}

// MinIOBackend returns a --backend URL for a fresh bucket on the test
// MinIO server; it skips the test when there is none (see store/s3test).
func MinIOBackend(t testing.TB) string {
	t.Helper()
	return s3test.URL(t)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() > 64<<20 {
		s.b.Reset()
		s.b.WriteString("[log truncated]\n")
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

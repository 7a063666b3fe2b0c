package fs

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store/meta"
)

// Server is a mounted dfs filesystem, served until it is unmounted.
type Server struct {
	srv        *fuse.Server
	mountpoint string
	log        *slog.Logger

	mu        sync.Mutex
	unmounted bool
}

// Mount mounts v at mountpoint (an existing directory) and serves it in
// the background until Unmount, or an unmount from outside (fusermount3
// -u); Wait blocks until then. The root directory is meta.RootIno.
func Mount(mountpoint string, v vfs.FileSystem, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	abs, err := filepath.Abs(mountpoint)
	if err != nil {
		return nil, fmt.Errorf("mountpoint %s: %v", mountpoint, err)
	}
	root := &node{fs: newFsys(v, cfg)}
	srv, err := gofs.Mount(abs, root, options(cfg))
	if err != nil {
		return nil, fmt.Errorf("mount %s: %w", abs, err)
	}
	return &Server{srv: srv, mountpoint: abs, log: cfg.Logger}, nil
}

// maxBackground is how many asynchronous requests (readahead, and the
// pages of large reads) the kernel may have outstanding; the kernel's
// default of 12 starves a backend whose latency is a network round trip.
const maxBackground = 64

// options are the go-fuse options for cfg. What is on, and why:
//
//   - default_permissions: the kernel checks mode bits, owners and
//     sticky directories against the caller, so no ACCESS requests and
//     no permission logic here;
//   - fsname cfg.FSName and subtype "dfs" (mount shows fuse.dfs);
//   - MaxWrite (1 MiB by default) as the largest READ and WRITE, with
//     big writes and max_pages, which go-fuse negotiates whenever
//     MaxWrite is above 4 KiB;
//   - DirectMount when root (mount(2) directly; go-fuse falls back to
//     fusermount3 if that fails), with nosuid and nodev as fusermount3
//     sets them;
//   - parallel directory operations (lookups and readdirs in one directory
//     run concurrently in the kernel), async reads and automatic page
//     cache invalidation when a GETATTR shows a new mtime or size: go-fuse
//     asks for all three by default;
//   - READDIRPLUS, plus READDIRPLUS_AUTO so the kernel falls back to plain
//     READDIR when a listing is not followed by stats (ls vs ls -l);
//   - symlink caching: a symlink's target never changes and inode numbers
//     are never reused, so a cached target never goes stale;
//   - MaxBackground 64 (see maxBackground);
//   - NullPermissions: a mode of 0 stays 0 instead of go-fuse's 0644/0755
//     stand-in;
//   - the root's inode number is meta.RootIno.
//
// Kernel entry, attribute and negative caches last cfg's timeouts; data
// pages are kept across opens only while unchanged (FOPEN_KEEP_CACHE, see
// pageCache). Left off on purpose: the writeback cache (the kernel would
// own size and mtime and merge writes, which breaks close-to-open across
// hosts and O_APPEND), atomic O_TRUNC (the kernel then skips clearing
// setuid/setgid when an unprivileged caller truncates), kernel-forwarded
// POSIX and flock locks (locks stay local to each host, which the kernel
// does by itself), directory caching (FOPEN_CACHE_DIR would keep listings
// after changes from other hosts). Splice is go-fuse's default and only
// applies to replies read from a file descriptor; our data is in memory.
func options(cfg Config) *gofs.Options {
	cfg = cfg.withDefaults()
	entry, attr, negative := cfg.EntryTimeout, cfg.AttrTimeout, cfg.NegativeTimeout
	// go-fuse writes its request trace (Debug) and its rare complaints to
	// one log.Logger: debug level when tracing, else warnings.
	fuseLevel := slog.LevelWarn
	if cfg.Debug {
		fuseLevel = slog.LevelDebug
	}
	o := &gofs.Options{
		MountOptions: fuse.MountOptions{
			Options:              []string{"default_permissions"},
			AllowOther:           cfg.AllowOther,
			FsName:               cfg.FSName,
			Name:                 "dfs",
			MaxWrite:             cfg.MaxWrite,
			MaxBackground:        maxBackground,
			DirectMount:          os.Geteuid() == 0,
			EnableSymlinkCaching: true,
			ExtraCapabilities:    fuse.CAP_READDIRPLUS_AUTO,
			Debug:                cfg.Debug,
			Logger:               slog.NewLogLogger(cfg.Logger.Handler(), fuseLevel),
			PanicHandler: func(v any) fuse.Status {
				cfg.Logger.Error("panic in a FUSE request, answered EIO", "panic", v, "stack", string(debug.Stack()))
				return fuse.EIO
			},
		},
		EntryTimeout:    &entry,
		AttrTimeout:     &attr,
		NullPermissions: true,
		RootStableAttr:  &gofs.StableAttr{Ino: uint64(meta.RootIno), Gen: 1},
		Logger:          log.New(slogWriter{cfg.Logger}, "", 0),
	}
	if negative > 0 {
		o.NegativeTimeout = &negative
	}
	return o
}

// slogWriter turns go-fuse's diagnostic log lines into warnings.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn("go-fuse: " + string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && p[len(p)-1] == '\n' {
		p = p[:len(p)-1]
	}
	return p
}

// Mountpoint returns the absolute path the filesystem is mounted at.
func (s *Server) Mountpoint() string { return s.mountpoint }

// Wait blocks until the filesystem is unmounted and every request has been
// answered.
func (s *Server) Wait() { s.srv.Wait() }

// Unmount unmounts the filesystem. While it is busy (a process has its
// working directory or an open file inside) it retries for about two
// seconds, then detaches it lazily: the mountpoint is free at once, and
// the processes still inside keep being served until they leave, after
// which Wait returns. Calling Unmount again is a no-op.
func (s *Server) Unmount() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unmounted {
		return nil
	}
	var err error
	delay := 100 * time.Millisecond
	for try := 0; try < 3; try++ {
		if mounted, merr := IsMounted(s.mountpoint); merr == nil && !mounted {
			// Unmounted from outside; go-fuse's serve loop has ended
			// or is ending.
			s.unmounted = true
			return nil
		}
		// go-fuse itself tries five times over about 0.3 s.
		if err = s.srv.Unmount(); err == nil {
			s.unmounted = true
			return nil
		}
		time.Sleep(delay)
		delay *= 2
	}
	s.log.Warn("mountpoint busy: detaching it lazily; processes inside keep being served until they leave",
		"mountpoint", s.mountpoint, "err", err)
	if lerr := lazyUnmount(s.mountpoint); lerr != nil {
		return fmt.Errorf("unmount %s: %v; lazy unmount: %v", s.mountpoint, err, lerr)
	}
	s.unmounted = true
	return nil
}

// lazyUnmount detaches dir with MNT_DETACH (root) or fusermount3 -u -z.
func lazyUnmount(dir string) error {
	if os.Geteuid() == 0 {
		err := syscall.Unmount(dir, syscall.MNT_DETACH)
		if err == nil || !errors.Is(err, syscall.EPERM) {
			return err
		}
	}
	out, err := exec.Command("fusermount3", "-u", "-z", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fusermount3 -u -z: %v: %s", err, out)
	}
	return nil
}

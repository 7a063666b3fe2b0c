package fs

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store/meta"
)

// handle is an open regular file: the go-fuse FileHandle around the vfs
// layer's handle.
type handle struct {
	h *vfs.Handle
}

// fileOf returns the vfs handle behind a go-fuse FileHandle. Every READ,
// WRITE, FLUSH ... carries the handle OPEN or CREATE returned, so a
// missing one is a kernel or go-fuse bug, answered with EBADF.
func fileOf(f gofs.FileHandle) (*vfs.Handle, syscall.Errno) {
	h, ok := f.(*handle)
	if !ok || h.h == nil {
		return nil, syscall.EBADF
	}
	return h.h, 0
}

// pageCache remembers, per inode, the size and mtime the file had when it
// was last opened on this host. The kernel drops a file's cached pages at
// open unless the reply has FOPEN_KEEP_CACHE; we set it only when size and
// mtime are unchanged since that last open, i.e. nobody committed a new
// version in between (close-to-open consistency). Writes made on this host
// go through the page cache (no writeback cache), so they never make it
// stale; any commit, here or elsewhere, changes mtime and so costs one
// re-read at the next open. While a file stays open, the kernel's
// auto-invalidation (CAP_AUTO_INVAL_DATA) drops its pages when a GETATTR
// shows a new mtime or size.
type pageCache struct {
	mu sync.Mutex
	m  map[meta.Ino]cacheVersion
}

type cacheVersion struct {
	size  uint64
	mtime int64
}

func newPageCache() *pageCache {
	return &pageCache{m: make(map[meta.Ino]cacheVersion)}
}

// opened records a's version as the one this host's page cache now holds
// for a.Ino, and reports whether the pages already cached may be kept.
func (c *pageCache) opened(a *meta.Attr) (keep bool) {
	v := cacheVersion{size: a.Size, mtime: a.Mtime}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[a.Ino]
	c.m[a.Ino] = v
	return ok && old == v
}

// forget drops what is known about ino's cached pages.
func (c *pageCache) forget(ino meta.Ino) {
	c.mu.Lock()
	delete(c.m, ino)
	c.mu.Unlock()
}

// openFlags are the FOPEN_* flags for a file opened with open(2) flags:
//
//   - FOPEN_KEEP_CACHE when this host's cached pages are still current
//     (see pageCache);
//   - FOPEN_NOFLUSH for read-only opens: close(2) of a file that cannot
//     have been written has nothing to commit, so the kernel skips the
//     FLUSH round trip (POSIX locks are kernel-local here and released by
//     the kernel itself).
func (n *node) openFlags(ctx context.Context, flags uint32) uint32 {
	var ff uint32
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		ff |= fuse.FOPEN_NOFLUSH
	}
	// After vfs Open, which waited for this host's metadata to catch up
	// with the cluster, so a is at least as new as any close elsewhere.
	if a, err := n.fs.v.GetAttr(ctx, n.ino()); err == nil && n.fs.cache.opened(&a) {
		ff |= fuse.FOPEN_KEEP_CACHE
	} else {
		// The kernel may hold attributes from a lookup made before
		// another host's close (within the attribute timeout): its cached
		// size would cut reads short. Invalidating the inode makes the
		// next read past that size, and the next fstat, ask again.
		n.NotifyContent(0, 0)
	}
	return ff
}

var _ = (gofs.NodeOpener)((*node)(nil))

// Open opens a regular file. flags are open(2)'s without O_CREAT, O_EXCL
// and O_NOCTTY; O_TRUNC never arrives here (we do not ask for atomic
// O_TRUNC, the kernel truncates with SETATTR first). A file replaced on
// another host while this kernel's name cache still pointed at the old
// inode is ESTALE, and the kernel retries the open after looking the name
// up again: close-to-open holds for files replaced by rename too.
func (n *node) Open(ctx context.Context, flags uint32) (gofs.FileHandle, uint32, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	h, err := n.fs.v.Open(ctx, caller(ctx), n.ino(), flags)
	if err != nil {
		return nil, 0, n.fs.inodeErrno(err)
	}
	return &handle{h: h}, n.openFlags(ctx, flags), 0
}

var _ = (gofs.NodeReader)((*node)(nil))

// Read fills dest from off. The data is copied into dest by the vfs layer
// (no splice: our bytes are in memory, not in a file descriptor).
func (n *node) Read(ctx context.Context, f gofs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	h, errno := fileOf(f)
	if errno != 0 {
		return nil, errno
	}
	cnt, err := n.fs.v.Read(ctx, h, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, n.fs.toErrno(err)
	}
	return fuse.ReadResultData(dest[:cnt]), 0
}

var _ = (gofs.NodeWriter)((*node)(nil))

// Write writes data at off (at the end of file for O_APPEND handles). data
// belongs to go-fuse and is reused after Write returns: the vfs layer
// copies what it keeps.
func (n *node) Write(ctx context.Context, f gofs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	h, errno := fileOf(f)
	if errno != 0 {
		return 0, errno
	}
	cnt, err := n.fs.v.Write(ctx, h, data, off)
	if err != nil {
		return 0, n.fs.toErrno(err)
	}
	return uint32(cnt), 0
}

var _ = (gofs.NodeFlusher)((*node)(nil))

// Flush runs at every close(2) of a descriptor (and its dups) of a file
// opened for writing: the vfs layer uploads and commits pending writes, and
// the errors it returns are close(2)'s. The request's cancellation is
// ignored: a signal to the closing process must not leave its writes
// uncommitted.
func (n *node) Flush(ctx context.Context, f gofs.FileHandle) syscall.Errno {
	h, errno := fileOf(f)
	if errno != 0 {
		return errno
	}
	return n.fs.toErrno(n.fs.v.Flush(context.WithoutCancel(ctx), h))
}

var _ = (gofs.NodeFsyncer)((*node)(nil))

// Fsync is fsync(2) and fdatasync(2) on a file, and fsync(2) on a
// directory (f is then go-fuse's directory stream). Directory operations
// are committed before they return, so fsync of a directory has nothing
// left to do. Like Flush, it ignores the request's cancellation.
func (n *node) Fsync(ctx context.Context, f gofs.FileHandle, flags uint32) syscall.Errno {
	h, ok := f.(*handle)
	if !ok {
		return 0
	}
	const fdatasync = 1 // FUSE_FSYNC_FDATASYNC
	return n.fs.toErrno(n.fs.v.Fsync(context.WithoutCancel(ctx), h.h, flags&fdatasync != 0))
}

var _ = (gofs.NodeReleaser)((*node)(nil))

// Release drops a handle after its last descriptor is closed. The kernel
// does not wait for the answer and a signal to the closing process must
// not leave the handle half released, so the request's cancellation is
// ignored.
func (n *node) Release(ctx context.Context, f gofs.FileHandle) syscall.Errno {
	h, errno := fileOf(f)
	if errno != 0 {
		return errno
	}
	return n.fs.toErrno(n.fs.v.Release(context.WithoutCancel(ctx), h))
}

var _ = (gofs.NodeAllocater)((*node)(nil))

// Allocate is fallocate(2); mode carries FALLOC_FL_KEEP_SIZE,
// FALLOC_FL_PUNCH_HOLE and FALLOC_FL_ZERO_RANGE as the vfs layer defines
// them (others are the vfs layer's EOPNOTSUPP).
func (n *node) Allocate(ctx context.Context, f gofs.FileHandle, off uint64, size uint64, mode uint32) syscall.Errno {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	h, errno := fileOf(f)
	if errno != 0 {
		return errno
	}
	return n.fs.toErrno(n.fs.v.Fallocate(ctx, h, off, size, mode))
}

var _ = (gofs.NodeLseeker)((*node)(nil))

// Lseek answers SEEK_DATA and SEEK_HOLE (the kernel handles the other
// whence values itself).
func (n *node) Lseek(ctx context.Context, f gofs.FileHandle, off uint64, whence uint32) (uint64, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	h, errno := fileOf(f)
	if errno != 0 {
		return 0, errno
	}
	pos, err := n.fs.v.Lseek(ctx, h, int64(off), int(whence))
	if err != nil {
		return 0, n.fs.toErrno(err)
	}
	return uint64(pos), 0
}

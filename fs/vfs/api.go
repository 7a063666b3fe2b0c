package vfs

// This file is the contract between the FUSE node layer (package fs) and
// the semantics layer. Every method takes ctx first, works on inode
// numbers and returns errors that are syscall.Errno values for POSIX
// conditions (ENOENT, EEXIST, EIO, ENOSPC, EINTR on a cancelled ctx ...).
// Any other error is a failure the node layer logs once and turns into EIO.

import (
	"context"

	"github.com/dfsproject/dfs/store/meta"
)

// Caller is the identity of the process making a request.
type Caller struct {
	Uid, Gid uint32
	Pid      uint32
}

// SetAttrIn says what SetAttr changes. Valid is a mask of meta.Set* bits.
// Handle, when non-nil, is the open file the change came through
// (ftruncate, futimens).
type SetAttrIn struct {
	Valid  uint32
	Mode   uint32 // permission bits only
	Uid    uint32
	Gid    uint32
	Size   uint64
	Atime  int64 // Unix ns
	Mtime  int64 // Unix ns
	Handle *Handle
}

// StatFS is filesystem capacity for statfs(2).
type StatFS struct {
	BlockSize   uint32
	Blocks      uint64
	BlocksFree  uint64
	BlocksAvail uint64
	Files       uint64
	FilesFree   uint64
	NameMax     uint32
}

// Fallocate modes, as fallocate(2).
const (
	FallocKeepSize  = 0x01
	FallocPunchHole = 0x02
	FallocZeroRange = 0x10
)

// Whence values for Lseek beyond SEEK_SET/CUR/END.
const (
	SeekData = 3
	SeekHole = 4
)

// FileSystem is what the node layer needs. *VFS implements it.
type FileSystem interface {
	Lookup(ctx context.Context, parent meta.Ino, name string) (meta.Attr, error)
	GetAttr(ctx context.Context, ino meta.Ino) (meta.Attr, error)
	SetAttr(ctx context.Context, c Caller, ino meta.Ino, in SetAttrIn) (meta.Attr, error)

	// Create makes a regular file and opens it; flags are open(2) flags.
	// Without O_EXCL an existing regular file is opened (and truncated if
	// O_TRUNC) instead.
	Create(ctx context.Context, c Caller, parent meta.Ino, name string, mode uint32, flags uint32) (meta.Attr, *Handle, error)
	// Tmpfile makes an anonymous regular file for open(2) with O_TMPFILE
	// in directory parent and opens it (flags: O_WRONLY or O_RDWR, maybe
	// O_APPEND). It has nlink 0 and is in no directory: an orphan,
	// reclaimed like an unlinked file once its last handle is released and
	// the kernel forgets it, unless Link gives it a name first.
	Tmpfile(ctx context.Context, c Caller, parent meta.Ino, mode uint32, flags uint32) (meta.Attr, *Handle, error)
	// Mknod makes a FIFO, socket or device node (mode holds the type bits).
	Mknod(ctx context.Context, c Caller, parent meta.Ino, name string, mode, rdev uint32) (meta.Attr, error)
	Mkdir(ctx context.Context, c Caller, parent meta.Ino, name string, mode uint32) (meta.Attr, error)
	Symlink(ctx context.Context, c Caller, parent meta.Ino, name, target string) (meta.Attr, error)
	// Link gives ino one more name. An unlinked inode refuses (ENOENT),
	// but for a Tmpfile never linked yet, which stops being an orphan.
	Link(ctx context.Context, ino, newParent meta.Ino, newName string) (meta.Attr, error)
	Readlink(ctx context.Context, ino meta.Ino) (string, error)
	Unlink(ctx context.Context, parent meta.Ino, name string) error
	// Rmdir removes an empty directory. The directory becomes an orphan
	// (nlink 0) that keeps its attributes while the kernel holds it, and
	// takes no new entries (ENOENT).
	Rmdir(ctx context.Context, parent meta.Ino, name string) error
	// Rename takes meta.RenameNoReplace / meta.RenameExchange flags. A
	// file or empty directory it replaces is treated as removed.
	Rename(ctx context.Context, parent meta.Ino, name string, newParent meta.Ino, newName string, flags uint32) error
	ReadDir(ctx context.Context, ino meta.Ino) ([]meta.DirEntry, error)

	// Open opens a regular file with open(2) flags (O_TRUNC truncates,
	// O_APPEND makes every write go to the end of file).
	Open(ctx context.Context, c Caller, ino meta.Ino, flags uint32) (*Handle, error)
	// Read fills dest from off; it returns fewer bytes only at end of file.
	Read(ctx context.Context, h *Handle, dest []byte, off int64) (int, error)
	// Write writes data at off (at end of file for O_APPEND handles).
	Write(ctx context.Context, h *Handle, data []byte, off int64) (int, error)
	// Flush uploads and commits the file's pending writes (close(2)).
	Flush(ctx context.Context, h *Handle) error
	// Fsync is Flush plus a durable sync of the metadata.
	Fsync(ctx context.Context, h *Handle, dataOnly bool) error
	// Release drops the handle; the last release of an unlinked file
	// reclaims it.
	Release(ctx context.Context, h *Handle) error
	Fallocate(ctx context.Context, h *Handle, off, length uint64, mode uint32) error
	Lseek(ctx context.Context, h *Handle, off int64, whence int) (int64, error)

	GetXattr(ctx context.Context, ino meta.Ino, name string) ([]byte, error)
	ListXattr(ctx context.Context, ino meta.Ino) ([]string, error)
	SetXattr(ctx context.Context, ino meta.Ino, name string, value []byte, flags uint32) error
	RemoveXattr(ctx context.Context, ino meta.Ino, name string) error

	StatFS(ctx context.Context) (StatFS, error)
}

var _ FileSystem = (*VFS)(nil)

// KernelTracker is the optional ability of a FileSystem to be told which
// inodes the kernel holds, found by type assertion (as io/fs does). An
// unlinked inode the kernel still holds may still be opened or stat'ed
// through it (a lookup that found it before the unlink, an open racing
// the rename that replaced it), so it is reclaimed only after the kernel
// forgets it as well as after its last Release. *VFS implements it.
//
// The node layer calls Remember once for each kernel inode (go-fuse Inode)
// it makes for ino, before handing it to the kernel, and Forget once when
// the kernel has dropped that inode. Both are safe for concurrent use and
// do not block on I/O, except that the Forget that leaves an orphan
// unreferenced reclaims it (one metadata command; cancellation of ctx is
// ignored).
type KernelTracker interface {
	Remember(ino meta.Ino)
	Forget(ctx context.Context, ino meta.Ino)
}

package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/dfsproject/dfs/store/meta"
)

// The methods in this file run on directories (the kernel never sends
// them for other file types). Each one that makes a name returns the new
// inode's attributes in out and its go-fuse Inode; go-fuse adds it to its
// tree and sets the configured entry and attribute timeouts.

var _ = (gofs.NodeCreater)((*node)(nil))

// Create is open(2) with O_CREAT of a name the kernel believes absent. flags
// keep O_EXCL, O_TRUNC and O_APPEND; mode has the caller's umask applied by
// the kernel. Without O_EXCL the vfs layer opens a file that appeared
// meanwhile (created on another host) instead of failing.
func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	a, h, err := n.fs.v.Create(ctx, caller(ctx), n.ino(), name, syscall.S_IFREG|mode&07777, flags)
	if err != nil {
		return nil, nil, 0, n.fs.toErrno(err)
	}
	fillAttr(&a, &out.Attr)
	ch := n.child(ctx, &a)
	var ff uint32
	if flags&syscall.O_ACCMODE == syscall.O_RDONLY {
		ff |= fuse.FOPEN_NOFLUSH
	}
	// A new file has no cached pages to keep; remember its version so the
	// next open can keep what this one caches.
	n.fs.cache.opened(&a)
	return ch, &handle{h: h}, ff, 0
}

var _ = (gofs.NodeTmpfiler)((*node)(nil))

// Tmpfile is open(2) with O_TMPFILE: an anonymous regular file in no
// directory, open for writing (flags keep O_WRONLY or O_RDWR, and
// O_APPEND), owned as a file created here would be. It has nlink 0 and is
// reclaimed when the last descriptor is closed and the kernel forgets it,
// unless linkat(2) gives it a name first (Link); the kernel refuses that
// when O_EXCL was given. go-fuse registers the node under no name.
func (n *node) Tmpfile(ctx context.Context, flags uint32, mode uint32, out *fuse.EntryOut) (*gofs.Inode, gofs.FileHandle, uint32, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	a, h, err := n.fs.v.Tmpfile(ctx, caller(ctx), n.ino(), mode&07777, flags)
	if err != nil {
		return nil, nil, 0, n.fs.toErrno(err)
	}
	fillAttr(&a, &out.Attr)
	ch := n.child(ctx, &a)
	n.fs.cache.opened(&a)
	return ch, &handle{h: h}, 0, 0
}

var _ = (gofs.NodeMkdirer)((*node)(nil))

// Mkdir makes a directory; mode is permission bits (and sticky), umask
// applied.
func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	a, err := n.fs.v.Mkdir(ctx, caller(ctx), n.ino(), name, mode&07777)
	if err != nil {
		return nil, n.fs.toErrno(err)
	}
	fillAttr(&a, &out.Attr)
	return n.child(ctx, &a), 0
}

var _ = (gofs.NodeMknoder)((*node)(nil))

// Mknod makes a FIFO, socket, character or block device (mode has the
// type bits; dev is the device number for devices), or a regular file for
// mknod(2) with S_IFREG.
func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	if mode&syscall.S_IFMT == 0 {
		mode |= syscall.S_IFREG // mknod(2): zero type means a regular file
	}
	a, err := n.fs.v.Mknod(ctx, caller(ctx), n.ino(), name, mode, dev)
	if err != nil {
		return nil, n.fs.toErrno(err)
	}
	fillAttr(&a, &out.Attr)
	return n.child(ctx, &a), 0
}

var _ = (gofs.NodeSymlinker)((*node)(nil))

// Symlink makes name a symbolic link to target.
func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	a, err := n.fs.v.Symlink(ctx, caller(ctx), n.ino(), name, target)
	if err != nil {
		return nil, n.fs.toErrno(err)
	}
	fillAttr(&a, &out.Attr)
	return n.child(ctx, &a), 0
}

var _ = (gofs.NodeLinker)((*node)(nil))

// Link makes name a hard link to target. The result has target's inode
// number, so go-fuse gives back target's own Inode.
func (n *node) Link(ctx context.Context, target gofs.InodeEmbedder, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	t, ok := target.(*node)
	if !ok {
		return nil, syscall.EXDEV
	}
	a, err := n.fs.v.Link(ctx, t.ino(), n.ino(), name)
	if err != nil {
		return nil, n.fs.toErrno(err)
	}
	fillAttr(&a, &out.Attr)
	return n.child(ctx, &a), 0
}

var _ = (gofs.NodeReadlinker)((*node)(nil))

// Readlink returns a symlink's target. A symlink's target never changes
// and inode numbers are never reused, so the kernel may cache it for good
// (the mount asks for symlink caching).
func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	target, err := n.fs.v.Readlink(ctx, n.ino())
	if err != nil {
		return nil, n.fs.inodeErrno(err)
	}
	return []byte(target), 0
}

var _ = (gofs.NodeUnlinker)((*node)(nil))

// Unlink removes a non-directory name. A file still open stays readable
// and writable through its handles until the last release.
func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	return n.fs.toErrno(n.fs.v.Unlink(ctx, n.ino(), name))
}

var _ = (gofs.NodeRmdirer)((*node)(nil))

// Rmdir removes an empty directory. One the kernel still holds (open, a
// working directory) keeps answering GETATTR, with nlink 0, until the
// kernel forgets it.
func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	return n.fs.toErrno(n.fs.v.Rmdir(ctx, n.ino(), name))
}

// renameat2(2) flags.
const (
	renameNoReplace = 1 << 0 // RENAME_NOREPLACE
	renameExchange  = 1 << 1 // RENAME_EXCHANGE
)

var _ = (gofs.NodeRenamer)((*node)(nil))

// Rename is rename(2) and renameat2(2) with RENAME_NOREPLACE or
// RENAME_EXCHANGE. Other flags (RENAME_WHITEOUT, for overlayfs upper
// layers) and both together are EINVAL, as on Linux filesystems that do not
// support them.
func (n *node) Rename(ctx context.Context, name string, newParent gofs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	np, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	var mf uint32
	switch flags {
	case 0:
	case renameNoReplace:
		mf = meta.RenameNoReplace
	case renameExchange:
		mf = meta.RenameExchange
	default:
		return syscall.EINVAL
	}
	return n.fs.toErrno(n.fs.v.Rename(ctx, n.ino(), name, np.ino(), newName, mf))
}

var _ = (gofs.NodeOpendirer)((*node)(nil))

// Opendir checks that the directory still exists (it may have been
// removed on another host while the kernel's entry was cached), so the
// error comes at opendir(3) rather than as an empty listing.
func (n *node) Opendir(ctx context.Context) syscall.Errno {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	a, err := n.fs.v.GetAttr(ctx, n.ino())
	if err != nil {
		return n.fs.inodeErrno(err)
	}
	if !a.IsDir() {
		return syscall.ENOTDIR
	}
	return 0
}

var _ = (gofs.NodeReaddirer)((*node)(nil))

// Readdir opens the listing of an open directory handle. The directory is
// read at the first READDIR; seekdir within the handle replays that
// snapshot (offsets are positions in it), so telldir cookies stay valid
// while others change the directory, and rewinddir reads it afresh, as
// POSIX asks. "." and ".." come first; ".." of the root is the root. With
// READDIRPLUS go-fuse looks each name up (except "." and "..") to return
// its attributes in the same reply.
func (n *node) Readdir(ctx context.Context) (gofs.DirStream, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	ds := &dirStream{n: n}
	if errno := ds.load(ctx); errno != 0 {
		return nil, errno
	}
	return ds, 0
}

// dirStream is one open directory handle's listing. go-fuse serializes
// the calls on one handle.
type dirStream struct {
	n    *node
	ents []fuse.DirEntry
	next int
}

var (
	_ = (gofs.DirStream)((*dirStream)(nil))
	_ = (gofs.FileSeekdirer)((*dirStream)(nil))
)

func (d *dirStream) load(ctx context.Context) syscall.Errno {
	n := d.n
	ents, err := n.fs.v.ReadDir(ctx, n.ino())
	if err != nil {
		// ENOENT for a directory gone from the metadata (removed and
		// reclaimed on another host). One removed here lists nothing
		// (the kernel itself refuses to read a removed directory).
		return n.fs.toErrno(err)
	}
	list := make([]fuse.DirEntry, 0, len(ents)+2)
	list = append(list,
		fuse.DirEntry{Name: ".", Ino: uint64(n.ino()), Mode: syscall.S_IFDIR},
		fuse.DirEntry{Name: "..", Ino: n.parentIno(), Mode: syscall.S_IFDIR})
	for _, e := range ents {
		list = append(list, fuse.DirEntry{Name: e.Name, Ino: uint64(e.Ino), Mode: e.Mode & syscall.S_IFMT})
	}
	d.ents, d.next = list, 0
	return 0
}

func (d *dirStream) HasNext() bool { return d.next < len(d.ents) }

// Next returns the next entry; its offset (the telldir cookie) is its
// position plus one, so seeking to it resumes after it.
func (d *dirStream) Next() (fuse.DirEntry, syscall.Errno) {
	e := d.ents[d.next]
	d.next++
	e.Off = uint64(d.next)
	return e, 0
}

// Seekdir moves to a cookie from Next, or to 0: rewinddir, which lists
// the directory again.
func (d *dirStream) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if off == 0 {
		ctx, done := d.n.fs.opCtx(ctx)
		defer done()
		return d.load(ctx)
	}
	if off > uint64(len(d.ents)) {
		return syscall.EINVAL
	}
	d.next = int(off)
	return 0
}

func (d *dirStream) Close() {}

// parentIno is the inode number of the directory's parent as go-fuse's
// tree knows it (a directory has one parent), the root's own for the root.
func (n *node) parentIno() uint64 {
	if n.IsRoot() {
		return uint64(n.ino())
	}
	if _, p := n.Parent(); p != nil {
		return p.StableAttr().Ino
	}
	// Not in the tree (only possible for a directory reached by inode
	// number alone): no better answer than our own number.
	return uint64(n.ino())
}

package vfs

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"syscall"

	"github.com/dfsproject/dfs/store/meta"
)

// Lookup implements FileSystem.
func (v *VFS) Lookup(ctx context.Context, parent meta.Ino, name string) (meta.Attr, error) {
	if err := ctxErr(ctx); err != nil {
		return meta.Attr{}, err
	}
	a, err := v.r.Lookup(ctx, parent, name)
	if errors.Is(err, syscall.ENOENT) && v.barrier(ctx) {
		a, err = v.r.Lookup(ctx, parent, name)
	}
	if err != nil {
		return meta.Attr{}, v.errno("lookup", err)
	}
	v.overlay(&a)
	return a, nil
}

// barrier runs Config.Barrier, if any, and reports whether the local copy
// may have changed. A failure is logged at debug level only: without a
// quorum the local copy is what can be served.
func (v *VFS) barrier(ctx context.Context) bool {
	if v.cfg.Barrier == nil {
		return false
	}
	if err := v.cfg.Barrier(ctx); err != nil {
		v.log.Debug("vfs: namespace barrier failed; serving the local copy", slog.Any("err", err))
		return false
	}
	return true
}

// GetAttr implements FileSystem. An inode open here reports its current
// size and mtime, uncommitted writes included.
func (v *VFS) GetAttr(ctx context.Context, ino meta.Ino) (meta.Attr, error) {
	if err := ctxErr(ctx); err != nil {
		return meta.Attr{}, err
	}
	a, err := v.r.GetAttr(ctx, ino)
	if err != nil {
		return meta.Attr{}, v.errno("getattr", err)
	}
	v.overlay(&a)
	return a, nil
}

// SetAttr implements FileSystem. A change of size or mtime on an inode
// open here first commits its pending writes.
func (v *VFS) SetAttr(ctx context.Context, c Caller, ino meta.Ino, in SetAttrIn) (meta.Attr, error) {
	if err := ctxErr(ctx); err != nil {
		return meta.Attr{}, err
	}
	if in.Valid&meta.SetSize != 0 && in.Size > math.MaxInt64 {
		return meta.Attr{}, syscall.EFBIG
	}
	cmd := &meta.Cmd{
		Op: meta.OpSetAttr, Ino: ino, Valid: in.Valid, Mode: in.Mode & 0o7777,
		Uid: in.Uid, Gid: in.Gid, Size: in.Size, Atime: in.Atime, Mtime: in.Mtime,
		ChunkSize: uint64(v.csize),
	}
	f := v.openFile(ino)
	if in.Handle != nil && in.Handle.f != nil {
		f = in.Handle.f
	}
	if f != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.loaded {
			a, err := v.setAttrLocked(ctx, f, cmd)
			if err != nil {
				return meta.Attr{}, err
			}
			a.Size, a.Mtime = uint64(f.size), f.mtime
			return a, nil
		}
	}
	res, err := v.propose(ctx, cmd)
	if err != nil {
		return meta.Attr{}, err
	}
	if res.Attr == nil {
		return meta.Attr{}, v.errno("setattr", errNoAttr)
	}
	return *res.Attr, nil
}

// Create implements FileSystem.
func (v *VFS) Create(ctx context.Context, c Caller, parent meta.Ino, name string, mode uint32, flags uint32) (meta.Attr, *Handle, error) {
	if err := ctxErr(ctx); err != nil {
		return meta.Attr{}, nil, err
	}
	if v.isClosed() {
		return meta.Attr{}, nil, syscall.EIO
	}
	res, err := v.propose(ctx, &meta.Cmd{
		Op: meta.OpCreate, Parent: parent, Name: name, Mode: syscall.S_IFREG | mode&0o7777,
		Uid: c.Uid, Gid: c.Gid, Excl: flags&syscall.O_EXCL != 0,
	})
	if err != nil {
		return meta.Attr{}, nil, err
	}
	if res.Attr == nil {
		return meta.Attr{}, nil, v.errno("create", errNoAttr)
	}
	a := *res.Attr
	switch {
	case a.IsDir():
		return meta.Attr{}, nil, syscall.EISDIR
	case !a.IsReg():
		return meta.Attr{}, nil, syscall.EEXIST
	}
	var known *meta.Attr
	if a.Size == 0 {
		known = &a // nothing to load: an empty file, new or not
	}
	h, err := v.openIno(ctx, a.Ino, flags, known)
	if err != nil {
		return meta.Attr{}, nil, err
	}
	a.Size, a.Mtime = uint64(h.f.pubSize.Load()), h.f.pubMtime.Load()
	return a, h, nil
}

// Tmpfile implements FileSystem. The file is opened before it is
// registered as an orphan, so that registering it does not reclaim it at
// once; if the open fails it is reclaimed at once.
func (v *VFS) Tmpfile(ctx context.Context, c Caller, parent meta.Ino, mode uint32, flags uint32) (meta.Attr, *Handle, error) {
	if err := ctxErr(ctx); err != nil {
		return meta.Attr{}, nil, err
	}
	if v.isClosed() {
		return meta.Attr{}, nil, syscall.EIO
	}
	res, err := v.propose(ctx, &meta.Cmd{
		Op: meta.OpTmpfile, Parent: parent, Mode: syscall.S_IFREG | mode&0o7777, Uid: c.Uid, Gid: c.Gid,
	})
	if err != nil {
		return meta.Attr{}, nil, err
	}
	if res.Attr == nil {
		v.handleOrphans(ctx, res.Orphans)
		return meta.Attr{}, nil, v.errno("tmpfile", errNoAttr)
	}
	a := *res.Attr
	h, err := v.openIno(ctx, a.Ino, flags&^syscall.O_TRUNC, &a)
	v.handleOrphans(ctx, res.Orphans)
	if err != nil {
		return meta.Attr{}, nil, err
	}
	a.Size, a.Mtime = uint64(h.f.pubSize.Load()), h.f.pubMtime.Load()
	return a, h, nil
}

// Mknod implements FileSystem.
func (v *VFS) Mknod(ctx context.Context, c Caller, parent meta.Ino, name string, mode, rdev uint32) (meta.Attr, error) {
	if mode&syscall.S_IFMT == 0 {
		mode |= syscall.S_IFREG
	}
	return v.make(ctx, &meta.Cmd{
		Op: meta.OpCreate, Parent: parent, Name: name, Mode: mode, Uid: c.Uid, Gid: c.Gid,
		Rdev: rdev, Excl: true,
	})
}

// Mkdir implements FileSystem.
func (v *VFS) Mkdir(ctx context.Context, c Caller, parent meta.Ino, name string, mode uint32) (meta.Attr, error) {
	return v.make(ctx, &meta.Cmd{
		Op: meta.OpMkdir, Parent: parent, Name: name, Mode: mode & 0o7777, Uid: c.Uid, Gid: c.Gid,
	})
}

// Symlink implements FileSystem.
func (v *VFS) Symlink(ctx context.Context, c Caller, parent meta.Ino, name, target string) (meta.Attr, error) {
	return v.make(ctx, &meta.Cmd{
		Op: meta.OpSymlink, Parent: parent, Name: name, Target: target, Uid: c.Uid, Gid: c.Gid,
	})
}

// Link implements FileSystem. A Tmpfile that gets its name is no longer
// an orphan to reclaim, and its last Release commits its writes again.
// (The kernel links only an inode it holds, so its reclaim cannot have
// been decided; if it had, OpReclaim would find it linked and leave it.)
func (v *VFS) Link(ctx context.Context, ino, newParent meta.Ino, newName string) (meta.Attr, error) {
	a, err := v.make(ctx, &meta.Cmd{Op: meta.OpLink, Ino: ino, Parent: newParent, Name: newName})
	if err != nil {
		return a, err
	}
	v.mu.Lock()
	delete(v.orphans, ino)
	v.mu.Unlock()
	v.overlay(&a)
	return a, nil
}

// make proposes a command that returns an inode's attributes.
func (v *VFS) make(ctx context.Context, cmd *meta.Cmd) (meta.Attr, error) {
	if err := ctxErr(ctx); err != nil {
		return meta.Attr{}, err
	}
	res, err := v.propose(ctx, cmd)
	if err != nil {
		return meta.Attr{}, err
	}
	if res.Attr == nil {
		return meta.Attr{}, v.errno("create", errNoAttr)
	}
	return *res.Attr, nil
}

// Readlink implements FileSystem.
func (v *VFS) Readlink(ctx context.Context, ino meta.Ino) (string, error) {
	if err := ctxErr(ctx); err != nil {
		return "", err
	}
	t, err := v.r.Readlink(ctx, ino)
	if err != nil {
		return "", v.errno("readlink", err)
	}
	return t, nil
}

// Unlink implements FileSystem. An inode whose last link goes is reclaimed
// at once, or by its last Release if it is open here.
func (v *VFS) Unlink(ctx context.Context, parent meta.Ino, name string) error {
	return v.remove(ctx, &meta.Cmd{Op: meta.OpUnlink, Parent: parent, Name: name})
}

// Rmdir implements FileSystem. The directory is reclaimed at once, or
// when the kernel forgets it if it holds it (an open directory, a working
// directory): until then it answers GetAttr with nlink 0, and ReadDir
// with no entries.
func (v *VFS) Rmdir(ctx context.Context, parent meta.Ino, name string) error {
	return v.remove(ctx, &meta.Cmd{Op: meta.OpRmdir, Parent: parent, Name: name})
}

// Rename implements FileSystem. A file replaced by the rename is treated
// as unlinked, an empty directory as removed by Rmdir.
func (v *VFS) Rename(ctx context.Context, parent meta.Ino, name string, newParent meta.Ino, newName string, flags uint32) error {
	if flags&^uint32(meta.RenameNoReplace|meta.RenameExchange) != 0 ||
		flags == meta.RenameNoReplace|meta.RenameExchange {
		return syscall.EINVAL
	}
	return v.remove(ctx, &meta.Cmd{
		Op: meta.OpRename, Parent: parent, Name: name, NewParent: newParent, NewName: newName, Flags: flags,
	})
}

func (v *VFS) remove(ctx context.Context, cmd *meta.Cmd) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	res, err := v.propose(ctx, cmd)
	if err != nil {
		return err
	}
	v.handleOrphans(ctx, res.Orphans)
	return nil
}

// ReadDir implements FileSystem.
func (v *VFS) ReadDir(ctx context.Context, ino meta.Ino) ([]meta.DirEntry, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	v.barrier(ctx)
	ents, err := v.r.ReadDir(ctx, ino)
	if err != nil {
		return nil, v.errno("readdir", err)
	}
	return ents, nil
}

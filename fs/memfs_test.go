package fs

import (
	"context"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store/meta"
)

// memFS is an in-memory vfs.FileSystem for testing the node layer alone:
// POSIX semantics on one host, every call recorded, any operation made to
// fail on demand.
type memFS struct {
	mu      sync.Mutex
	nodes   map[meta.Ino]*memNode
	next    meta.Ino
	handles map[*vfs.Handle]*memHandle

	// Recorded arguments of the last calls, for tests.
	lastSetAttr vfs.SetAttrIn
	lastCaller  vfs.Caller
	lastFlags   uint32 // Create, Open, Rename, SetXattr, Fallocate mode
	lastMode    uint32 // Create, Mkdir, Mknod
	calls       []string

	// fail makes the named operation ("Lookup", "Read" ...) return err.
	fail map[string]error
}

type memNode struct {
	attr    meta.Attr
	data    []byte
	target  string
	xattr   map[string][]byte
	entries map[string]meta.Ino
	open    int
	tmpfile bool // made by Tmpfile, never linked: Link may name it
}

type memHandle struct {
	ino    meta.Ino
	append bool
}

func newMemFS() *memFS {
	m := &memFS{
		nodes:   map[meta.Ino]*memNode{},
		next:    meta.RootIno + 1,
		handles: map[*vfs.Handle]*memHandle{},
		fail:    map[string]error{},
	}
	now := time.Now().UnixNano()
	m.nodes[meta.RootIno] = &memNode{
		attr:    meta.Attr{Ino: meta.RootIno, Mode: syscall.S_IFDIR | 0o755, Nlink: 2, Atime: now, Mtime: now, Ctime: now},
		entries: map[string]meta.Ino{},
		xattr:   map[string][]byte{},
	}
	return m
}

// enter locks m and records op. Like the vfs layer, it fails with EINTR
// when ctx is cancelled.
func (m *memFS) enter(ctx context.Context, op string) error {
	m.mu.Lock()
	m.calls = append(m.calls, op)
	if err := m.fail[op]; err != nil {
		return err
	}
	if ctx.Err() != nil {
		return syscall.EINTR
	}
	return nil
}

func (m *memFS) failOn(op string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail[op] = err
}

func (m *memFS) called() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

func (m *memFS) dir(ino meta.Ino) (*memNode, error) {
	d, ok := m.nodes[ino]
	if !ok {
		return nil, syscall.ENOENT
	}
	if !d.attr.IsDir() {
		return nil, syscall.ENOTDIR
	}
	return d, nil
}

func checkName(name string) error {
	if len(name) > meta.MaxNameLen {
		return syscall.ENAMETOOLONG
	}
	return nil
}

func (m *memFS) touch(n *memNode, mtime bool) {
	now := time.Now().UnixNano()
	n.attr.Ctime = now
	if mtime {
		n.attr.Mtime = now
	}
}

func (m *memFS) newNode(c vfs.Caller, mode uint32) *memNode {
	now := time.Now().UnixNano()
	n := &memNode{
		attr:  meta.Attr{Ino: m.next, Mode: mode, Uid: c.Uid, Gid: c.Gid, Nlink: 1, Atime: now, Mtime: now, Ctime: now},
		xattr: map[string][]byte{},
	}
	if n.attr.IsDir() {
		n.attr.Nlink = 2
		n.entries = map[string]meta.Ino{}
	}
	m.nodes[m.next] = n
	m.next++
	return n
}

// add makes a new inode named name in parent.
func (m *memFS) add(c vfs.Caller, parent meta.Ino, name string, mode uint32) (*memNode, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	d, err := m.dir(parent)
	if err != nil {
		return nil, err
	}
	if _, ok := d.entries[name]; ok {
		return nil, syscall.EEXIST
	}
	n := m.newNode(c, mode)
	d.entries[name] = n.attr.Ino
	if n.attr.IsDir() {
		d.attr.Nlink++
	}
	m.touch(d, true)
	return n, nil
}

// drop decrements ino's link count, deleting it once unlinked and closed.
func (m *memFS) drop(n *memNode) {
	if n.attr.IsDir() {
		n.attr.Nlink = 0
	} else {
		n.attr.Nlink--
	}
	m.touch(n, false)
	if n.attr.Nlink == 0 && n.open == 0 {
		delete(m.nodes, n.attr.Ino)
	}
}

func (m *memFS) Lookup(ctx context.Context, parent meta.Ino, name string) (meta.Attr, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Lookup"); err != nil {
		return meta.Attr{}, err
	}
	d, err := m.dir(parent)
	if err != nil {
		return meta.Attr{}, err
	}
	ino, ok := d.entries[name]
	if !ok {
		return meta.Attr{}, syscall.ENOENT
	}
	return m.nodes[ino].attr, nil
}

func (m *memFS) GetAttr(ctx context.Context, ino meta.Ino) (meta.Attr, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "GetAttr"); err != nil {
		return meta.Attr{}, err
	}
	n, ok := m.nodes[ino]
	if !ok {
		return meta.Attr{}, syscall.ENOENT
	}
	return n.attr, nil
}

func (m *memFS) SetAttr(ctx context.Context, c vfs.Caller, ino meta.Ino, in vfs.SetAttrIn) (meta.Attr, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "SetAttr"); err != nil {
		return meta.Attr{}, err
	}
	m.lastSetAttr, m.lastCaller = in, c
	n, ok := m.nodes[ino]
	if !ok {
		return meta.Attr{}, syscall.ENOENT
	}
	if in.Valid&meta.SetSize != 0 {
		if n.attr.IsDir() {
			return meta.Attr{}, syscall.EISDIR
		}
		n.data = resize(n.data, in.Size)
		n.attr.Size = in.Size
		m.touch(n, true)
	}
	if in.Valid&meta.SetMode != 0 {
		n.attr.Mode = n.attr.Mode&syscall.S_IFMT | in.Mode&0o7777
	}
	if in.Valid&meta.SetUid != 0 {
		n.attr.Uid = in.Uid
	}
	if in.Valid&meta.SetGid != 0 {
		n.attr.Gid = in.Gid
	}
	if in.Valid&meta.SetAtime != 0 {
		n.attr.Atime = in.Atime
	}
	if in.Valid&meta.SetMtime != 0 {
		n.attr.Mtime = in.Mtime
	}
	n.attr.Ctime = time.Now().UnixNano()
	return n.attr, nil
}

func resize(b []byte, size uint64) []byte {
	if uint64(len(b)) >= size {
		return b[:size]
	}
	return append(b, make([]byte, size-uint64(len(b)))...)
}

func (m *memFS) openLocked(n *memNode, flags uint32) *vfs.Handle {
	if flags&syscall.O_TRUNC != 0 && n.attr.Size > 0 {
		n.data, n.attr.Size = nil, 0
		m.touch(n, true)
	}
	n.open++
	h := new(vfs.Handle)
	m.handles[h] = &memHandle{ino: n.attr.Ino, append: flags&syscall.O_APPEND != 0}
	return h
}

func (m *memFS) Create(ctx context.Context, c vfs.Caller, parent meta.Ino, name string, mode uint32, flags uint32) (meta.Attr, *vfs.Handle, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Create"); err != nil {
		return meta.Attr{}, nil, err
	}
	m.lastCaller, m.lastFlags, m.lastMode = c, flags, mode
	d, err := m.dir(parent)
	if err != nil {
		return meta.Attr{}, nil, err
	}
	if ino, ok := d.entries[name]; ok {
		if flags&syscall.O_EXCL != 0 {
			return meta.Attr{}, nil, syscall.EEXIST
		}
		n := m.nodes[ino]
		if n.attr.IsDir() {
			return meta.Attr{}, nil, syscall.EISDIR
		}
		h := m.openLocked(n, flags)
		return n.attr, h, nil
	}
	n, err := m.add(c, parent, name, syscall.S_IFREG|mode&0o7777)
	if err != nil {
		return meta.Attr{}, nil, err
	}
	h := m.openLocked(n, flags)
	return n.attr, h, nil
}

func (m *memFS) Tmpfile(ctx context.Context, c vfs.Caller, parent meta.Ino, mode uint32, flags uint32) (meta.Attr, *vfs.Handle, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Tmpfile"); err != nil {
		return meta.Attr{}, nil, err
	}
	m.lastCaller, m.lastFlags, m.lastMode = c, flags, mode
	if _, err := m.dir(parent); err != nil {
		return meta.Attr{}, nil, err
	}
	n := m.newNode(c, syscall.S_IFREG|mode&0o7777)
	n.attr.Nlink = 0
	n.tmpfile = true
	h := m.openLocked(n, flags)
	return n.attr, h, nil
}

func (m *memFS) Mknod(ctx context.Context, c vfs.Caller, parent meta.Ino, name string, mode, rdev uint32) (meta.Attr, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Mknod"); err != nil {
		return meta.Attr{}, err
	}
	m.lastCaller, m.lastMode = c, mode
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG, syscall.S_IFIFO, syscall.S_IFSOCK, syscall.S_IFCHR, syscall.S_IFBLK:
	default:
		return meta.Attr{}, syscall.EINVAL
	}
	n, err := m.add(c, parent, name, mode)
	if err != nil {
		return meta.Attr{}, err
	}
	n.attr.Rdev = rdev
	return n.attr, nil
}

func (m *memFS) Mkdir(ctx context.Context, c vfs.Caller, parent meta.Ino, name string, mode uint32) (meta.Attr, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Mkdir"); err != nil {
		return meta.Attr{}, err
	}
	m.lastCaller, m.lastMode = c, mode
	n, err := m.add(c, parent, name, syscall.S_IFDIR|mode&0o7777)
	if err != nil {
		return meta.Attr{}, err
	}
	return n.attr, nil
}

func (m *memFS) Symlink(ctx context.Context, c vfs.Caller, parent meta.Ino, name, target string) (meta.Attr, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Symlink"); err != nil {
		return meta.Attr{}, err
	}
	n, err := m.add(c, parent, name, syscall.S_IFLNK|0o777)
	if err != nil {
		return meta.Attr{}, err
	}
	n.target = target
	n.attr.Size = uint64(len(target))
	return n.attr, nil
}

func (m *memFS) Link(ctx context.Context, ino, newParent meta.Ino, newName string) (meta.Attr, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Link"); err != nil {
		return meta.Attr{}, err
	}
	n, ok := m.nodes[ino]
	if !ok || n.attr.Nlink == 0 && !n.tmpfile {
		return meta.Attr{}, syscall.ENOENT
	}
	if n.attr.IsDir() {
		return meta.Attr{}, syscall.EPERM
	}
	d, err := m.dir(newParent)
	if err != nil {
		return meta.Attr{}, err
	}
	if _, ok := d.entries[newName]; ok {
		return meta.Attr{}, syscall.EEXIST
	}
	d.entries[newName] = ino
	m.touch(d, true)
	n.tmpfile = false
	n.attr.Nlink++
	m.touch(n, false)
	return n.attr, nil
}

func (m *memFS) Readlink(ctx context.Context, ino meta.Ino) (string, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Readlink"); err != nil {
		return "", err
	}
	n, ok := m.nodes[ino]
	if !ok {
		return "", syscall.ENOENT
	}
	if !n.attr.IsSymlink() {
		return "", syscall.EINVAL
	}
	return n.target, nil
}

func (m *memFS) Unlink(ctx context.Context, parent meta.Ino, name string) error {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Unlink"); err != nil {
		return err
	}
	d, err := m.dir(parent)
	if err != nil {
		return err
	}
	ino, ok := d.entries[name]
	if !ok {
		return syscall.ENOENT
	}
	n := m.nodes[ino]
	if n.attr.IsDir() {
		return syscall.EISDIR
	}
	delete(d.entries, name)
	m.touch(d, true)
	m.drop(n)
	return nil
}

func (m *memFS) Rmdir(ctx context.Context, parent meta.Ino, name string) error {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Rmdir"); err != nil {
		return err
	}
	d, err := m.dir(parent)
	if err != nil {
		return err
	}
	ino, ok := d.entries[name]
	if !ok {
		return syscall.ENOENT
	}
	n := m.nodes[ino]
	if !n.attr.IsDir() {
		return syscall.ENOTDIR
	}
	if len(n.entries) > 0 {
		return syscall.ENOTEMPTY
	}
	delete(d.entries, name)
	d.attr.Nlink--
	m.touch(d, true)
	m.drop(n)
	return nil
}

func (m *memFS) Rename(ctx context.Context, parent meta.Ino, name string, newParent meta.Ino, newName string, flags uint32) error {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Rename"); err != nil {
		return err
	}
	m.lastFlags = flags
	if err := checkName(newName); err != nil {
		return err
	}
	d, err := m.dir(parent)
	if err != nil {
		return err
	}
	nd, err := m.dir(newParent)
	if err != nil {
		return err
	}
	ino, ok := d.entries[name]
	if !ok {
		return syscall.ENOENT
	}
	src := m.nodes[ino]
	dstIno, exists := nd.entries[newName]
	switch {
	case flags == meta.RenameExchange:
		if !exists {
			return syscall.ENOENT
		}
		d.entries[name], nd.entries[newName] = dstIno, ino
		dst := m.nodes[dstIno]
		if parent != newParent && src.attr.IsDir() != dst.attr.IsDir() {
			if src.attr.IsDir() {
				d.attr.Nlink--
				nd.attr.Nlink++
			} else {
				d.attr.Nlink++
				nd.attr.Nlink--
			}
		}
		m.touch(d, true)
		m.touch(nd, true)
		return nil
	case exists && flags == meta.RenameNoReplace:
		return syscall.EEXIST
	case exists && dstIno == ino:
		return nil
	case exists:
		dst := m.nodes[dstIno]
		switch {
		case src.attr.IsDir() && !dst.attr.IsDir():
			return syscall.ENOTDIR
		case !src.attr.IsDir() && dst.attr.IsDir():
			return syscall.EISDIR
		case dst.attr.IsDir() && len(dst.entries) > 0:
			return syscall.ENOTEMPTY
		}
		if dst.attr.IsDir() {
			nd.attr.Nlink--
		}
		m.drop(dst)
	}
	delete(d.entries, name)
	nd.entries[newName] = ino
	if src.attr.IsDir() && parent != newParent {
		d.attr.Nlink--
		nd.attr.Nlink++
	}
	m.touch(d, true)
	m.touch(nd, true)
	m.touch(src, false)
	return nil
}

func (m *memFS) ReadDir(ctx context.Context, ino meta.Ino) ([]meta.DirEntry, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "ReadDir"); err != nil {
		return nil, err
	}
	d, err := m.dir(ino)
	if err != nil {
		return nil, err
	}
	out := make([]meta.DirEntry, 0, len(d.entries))
	for name, ino := range d.entries {
		out = append(out, meta.DirEntry{Name: name, Ino: ino, Mode: m.nodes[ino].attr.Mode & syscall.S_IFMT})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *memFS) Open(ctx context.Context, c vfs.Caller, ino meta.Ino, flags uint32) (*vfs.Handle, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Open"); err != nil {
		return nil, err
	}
	m.lastCaller, m.lastFlags = c, flags
	n, ok := m.nodes[ino]
	if !ok {
		return nil, syscall.ENOENT
	}
	if n.attr.IsDir() {
		return nil, syscall.EISDIR
	}
	return m.openLocked(n, flags), nil
}

func (m *memFS) handle(h *vfs.Handle) (*memHandle, *memNode, error) {
	mh, ok := m.handles[h]
	if !ok {
		return nil, nil, syscall.EBADF
	}
	return mh, m.nodes[mh.ino], nil
}

func (m *memFS) Read(ctx context.Context, h *vfs.Handle, dest []byte, off int64) (int, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Read"); err != nil {
		return 0, err
	}
	_, n, err := m.handle(h)
	if err != nil {
		return 0, err
	}
	if off >= int64(len(n.data)) {
		return 0, nil
	}
	return copy(dest, n.data[off:]), nil
}

func (m *memFS) Write(ctx context.Context, h *vfs.Handle, data []byte, off int64) (int, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Write"); err != nil {
		return 0, err
	}
	mh, n, err := m.handle(h)
	if err != nil {
		return 0, err
	}
	if mh.append {
		off = int64(len(n.data))
	}
	if end := uint64(off) + uint64(len(data)); end > uint64(len(n.data)) {
		n.data = resize(n.data, end)
		n.attr.Size = end
	}
	copy(n.data[off:], data)
	m.touch(n, true)
	return len(data), nil
}

func (m *memFS) Flush(ctx context.Context, h *vfs.Handle) error {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Flush"); err != nil {
		return err
	}
	_, _, err := m.handle(h)
	return err
}

func (m *memFS) Fsync(ctx context.Context, h *vfs.Handle, dataOnly bool) error {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Fsync"); err != nil {
		return err
	}
	_, _, err := m.handle(h)
	return err
}

func (m *memFS) Release(ctx context.Context, h *vfs.Handle) error {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Release"); err != nil {
		return err
	}
	mh, n, err := m.handle(h)
	if err != nil {
		return err
	}
	delete(m.handles, h)
	n.open--
	if n.open == 0 && n.attr.Nlink == 0 {
		delete(m.nodes, mh.ino)
	}
	return nil
}

func (m *memFS) Fallocate(ctx context.Context, h *vfs.Handle, off, length uint64, mode uint32) error {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Fallocate"); err != nil {
		return err
	}
	m.lastFlags = mode
	_, n, err := m.handle(h)
	if err != nil {
		return err
	}
	end := off + length
	switch mode &^ vfs.FallocKeepSize {
	case 0:
	case vfs.FallocPunchHole, vfs.FallocZeroRange:
		if mode == vfs.FallocPunchHole {
			return syscall.EINVAL // PUNCH_HOLE needs KEEP_SIZE
		}
		clear(n.data[min(off, uint64(len(n.data))):min(end, uint64(len(n.data)))])
	default:
		return syscall.EOPNOTSUPP
	}
	if mode&vfs.FallocKeepSize == 0 && end > n.attr.Size {
		n.data = resize(n.data, end)
		n.attr.Size = end
	}
	m.touch(n, true)
	return nil
}

func (m *memFS) Lseek(ctx context.Context, h *vfs.Handle, off int64, whence int) (int64, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "Lseek"); err != nil {
		return 0, err
	}
	_, n, err := m.handle(h)
	if err != nil {
		return 0, err
	}
	size := int64(n.attr.Size)
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if off >= size {
		return 0, syscall.ENXIO
	}
	switch whence {
	case vfs.SeekData:
		return off, nil
	case vfs.SeekHole:
		return size, nil
	}
	return 0, syscall.EINVAL
}

func (m *memFS) GetXattr(ctx context.Context, ino meta.Ino, name string) ([]byte, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "GetXattr"); err != nil {
		return nil, err
	}
	n, ok := m.nodes[ino]
	if !ok {
		return nil, syscall.ENOENT
	}
	v, ok := n.xattr[name]
	if !ok {
		return nil, syscall.ENODATA
	}
	return slices.Clone(v), nil
}

func (m *memFS) ListXattr(ctx context.Context, ino meta.Ino) ([]string, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "ListXattr"); err != nil {
		return nil, err
	}
	n, ok := m.nodes[ino]
	if !ok {
		return nil, syscall.ENOENT
	}
	var names []string
	for k := range n.xattr {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, nil
}

func (m *memFS) SetXattr(ctx context.Context, ino meta.Ino, name string, value []byte, flags uint32) error {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "SetXattr"); err != nil {
		return err
	}
	m.lastFlags = flags
	n, ok := m.nodes[ino]
	if !ok {
		return syscall.ENOENT
	}
	if len(name) > meta.MaxXattrName {
		return syscall.ERANGE
	}
	if len(value) > meta.MaxXattrValue {
		return syscall.E2BIG
	}
	_, exists := n.xattr[name]
	switch {
	case flags&meta.XattrCreate != 0 && exists:
		return syscall.EEXIST
	case flags&meta.XattrReplace != 0 && !exists:
		return syscall.ENODATA
	}
	n.xattr[name] = slices.Clone(value)
	m.touch(n, false)
	return nil
}

func (m *memFS) RemoveXattr(ctx context.Context, ino meta.Ino, name string) error {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "RemoveXattr"); err != nil {
		return err
	}
	n, ok := m.nodes[ino]
	if !ok {
		return syscall.ENOENT
	}
	if _, ok := n.xattr[name]; !ok {
		return syscall.ENODATA
	}
	delete(n.xattr, name)
	m.touch(n, false)
	return nil
}

func (m *memFS) StatFS(ctx context.Context) (vfs.StatFS, error) {
	defer m.mu.Unlock()
	if err := m.enter(ctx, "StatFS"); err != nil {
		return vfs.StatFS{}, err
	}
	return vfs.StatFS{BlockSize: 4096, Blocks: 1 << 20, BlocksFree: 1 << 19, BlocksAvail: 1 << 19,
		Files: 1 << 20, FilesFree: 1<<20 - uint64(len(m.nodes)), NameMax: meta.MaxNameLen}, nil
}

var _ vfs.FileSystem = (*memFS)(nil)

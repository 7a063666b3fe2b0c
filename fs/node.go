package fs

import (
	"context"
	"math"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store/meta"
)

// fsys is what every node of one mount shares. It is safe for concurrent
// use: go-fuse calls nodes from many goroutines at once.
type fsys struct {
	v     vfs.FileSystem
	kt    vfs.KernelTracker // v's, if it has the ability; else nil
	cfg   Config
	errs  *errLog
	cache *pageCache

	mu    sync.Mutex
	nodes map[meta.Ino]*node // the node of every inode the kernel may hold
}

func newFsys(v vfs.FileSystem, cfg Config) *fsys {
	cfg = cfg.withDefaults()
	kt, _ := v.(vfs.KernelTracker)
	return &fsys{
		v:     v,
		kt:    kt,
		cfg:   cfg,
		errs:  &errLog{log: cfg.Logger, now: time.Now},
		cache: newPageCache(),
		nodes: make(map[meta.Ino]*node),
	}
}

// node is one inode as go-fuse sees it. Every node of the tree is a node,
// whatever its type; the file type is fixed in its StableAttr. A node
// holds no state of its own beyond its inode number (StableAttr().Ino,
// always the metadata inode number): attributes, names and data are asked
// of the vfs layer each time, and the kernel caches them for the
// configured timeouts.
type node struct {
	gofs.Inode
	fs *fsys
}

func (n *node) ino() meta.Ino { return meta.Ino(n.StableAttr().Ino) }

// stable is the go-fuse identity of an inode: its metadata inode number
// and file type. Inode numbers are never reused, so the generation is
// always 1; hard links share one number and so one go-fuse Inode.
func stable(a *meta.Attr) gofs.StableAttr {
	return gofs.StableAttr{Ino: uint64(a.Ino), Mode: a.Mode & syscall.S_IFMT, Gen: 1}
}

// child returns the go-fuse Inode to give the kernel for a: every method
// that answers with an inode (LOOKUP, CREATE, MKDIR ..., and the
// lookups of READDIRPLUS) gets it here, and no Inode is made anywhere
// else (but the root's, which is never reclaimed).
//
// One inode number has one node for as long as the kernel may hold it
// (fs.nodes, from here to its OnForget): a hard link, a racing lookup, a
// lookup of a name the kernel had forgotten all get the node already
// known. go-fuse would otherwise register only the first of two nodes for
// one number and drop the other without an OnForget, and the vfs layer,
// told of each new node (KernelTracker.Remember, before the kernel can
// see it) and of each forgotten one, would count a reference that never
// ends.
func (n *node) child(ctx context.Context, a *meta.Attr) *gofs.Inode {
	fs := n.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	c := fs.nodes[a.Ino]
	if c == nil {
		c = &node{fs: fs}
		n.NewInode(ctx, c, stable(a))
		fs.nodes[a.Ino] = c
		if fs.kt != nil {
			fs.kt.Remember(a.Ino)
		}
	}
	return c.EmbeddedInode()
}

// caller is the identity of the process behind a request.
func caller(ctx context.Context) vfs.Caller {
	c, ok := fuse.FromContext(ctx)
	if !ok {
		return vfs.Caller{}
	}
	return vfs.Caller{Uid: c.Uid, Gid: c.Gid, Pid: c.Pid}
}

// fillAttr converts metadata attributes to the kernel's. st_blocks counts
// 512-byte units of the file size (holes are not subtracted: the metadata
// does not track allocation).
func fillAttr(a *meta.Attr, out *fuse.Attr) {
	out.Ino = uint64(a.Ino)
	out.Size = a.Size
	out.Blocks = (a.Size + 511) / 512
	out.Blksize = blockSize
	out.Atime, out.Atimensec = splitNs(a.Atime)
	out.Mtime, out.Mtimensec = splitNs(a.Mtime)
	out.Ctime, out.Ctimensec = splitNs(a.Ctime)
	out.Mode = a.Mode
	out.Nlink = a.Nlink
	out.Uid = a.Uid
	out.Gid = a.Gid
	out.Rdev = a.Rdev
}

// blockSize is st_blksize, the I/O size programs are told to prefer.
const blockSize = 4096

// splitNs splits Unix nanoseconds into the seconds (two's complement for
// times before 1970, as the kernel reads them) and nanoseconds of FUSE.
func splitNs(ns int64) (uint64, uint32) {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	return uint64(sec), uint32(nsec)
}

// joinNs is the inverse of splitNs, clamped to the years 1678 to 2262
// that Unix nanoseconds can hold (ext4 clamps out-of-range times the same
// way, to its own range).
func joinNs(sec uint64, nsec uint32) int64 {
	const maxSec = math.MaxInt64/int64(time.Second) - 1
	s := int64(sec)
	switch {
	case s > maxSec:
		return math.MaxInt64
	case s < -maxSec:
		return math.MinInt64
	}
	return s*int64(time.Second) + int64(nsec)
}

var _ = (gofs.NodeLookuper)((*node)(nil))

// Lookup finds name in this directory. A missing name is ENOENT, which
// go-fuse turns into a negative entry cached for NegativeTimeout.
func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*gofs.Inode, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	a, err := n.fs.v.Lookup(ctx, n.ino(), name)
	if err != nil {
		return nil, n.fs.toErrno(err)
	}
	fillAttr(&a, &out.Attr)
	return n.child(ctx, &a), 0
}

var _ = (gofs.NodeGetattrer)((*node)(nil))

// Getattr answers stat(2). The kernel sends no file handle even for
// fstat, so attributes always come by inode number; an unlinked but still
// open file keeps answering (with nlink 0) until its last release. An
// inode removed on another host is ESTALE (see inodeErrno).
func (n *node) Getattr(ctx context.Context, f gofs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	a, err := n.fs.v.GetAttr(ctx, n.ino())
	if err != nil {
		return n.fs.inodeErrno(err)
	}
	fillAttr(&a, &out.Attr)
	return 0
}

var _ = (gofs.NodeSetattrer)((*node)(nil))

// Setattr answers chmod, chown, truncate, ftruncate and utimens. f is the
// open file for ftruncate and futimens (FATTR_FH), nil otherwise.
// UTIME_OMIT arrives as an absent FATTR_[AM]TIME bit and UTIME_NOW as
// FATTR_[AM]TIME_NOW; "now" is this host's clock, as for every time the
// metadata layer sets.
func (n *node) Setattr(ctx context.Context, f gofs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	set := setAttrIn(in, time.Now)
	if h, ok := f.(*handle); ok {
		set.Handle = h.h
	}
	var a meta.Attr
	var err error
	if set.Valid == 0 {
		// Nothing we keep changes (FATTR_FH, FATTR_LOCKOWNER or the
		// writeback-only FATTR_CTIME alone): answer with the attributes.
		a, err = n.fs.v.GetAttr(ctx, n.ino())
	} else {
		a, err = n.fs.v.SetAttr(ctx, caller(ctx), n.ino(), set)
	}
	if err != nil {
		return n.fs.inodeErrno(err)
	}
	if set.Valid&meta.SetSize != 0 {
		n.fs.cache.forget(n.ino())
	}
	fillAttr(&a, &out.Attr)
	// go-fuse sets the configured timeout on GETATTR replies but not on
	// SETATTR's: without this the kernel would treat these fresh
	// attributes as expired and ask again at the next stat.
	out.SetTimeout(n.fs.cfg.AttrTimeout)
	return 0
}

// setAttrIn translates the kernel's SETATTR into the vfs request (without
// the handle).
func setAttrIn(in *fuse.SetAttrIn, now func() time.Time) vfs.SetAttrIn {
	var s vfs.SetAttrIn
	if m, ok := in.GetMode(); ok {
		s.Valid |= meta.SetMode
		s.Mode = m & 07777
	}
	if u, ok := in.GetUID(); ok {
		s.Valid |= meta.SetUid
		s.Uid = u
	}
	if g, ok := in.GetGID(); ok {
		s.Valid |= meta.SetGid
		s.Gid = g
	}
	if sz, ok := in.GetSize(); ok {
		s.Valid |= meta.SetSize
		s.Size = sz
	}
	var nowNs int64
	clock := func() int64 {
		if nowNs == 0 {
			nowNs = now().UnixNano()
		}
		return nowNs
	}
	if in.Valid&fuse.FATTR_ATIME != 0 {
		s.Valid |= meta.SetAtime
		if in.Valid&fuse.FATTR_ATIME_NOW != 0 {
			s.Atime = clock()
		} else {
			s.Atime = joinNs(in.Atime, in.Atimensec)
		}
	}
	if in.Valid&fuse.FATTR_MTIME != 0 {
		s.Valid |= meta.SetMtime
		if in.Valid&fuse.FATTR_MTIME_NOW != 0 {
			s.Mtime = clock()
		} else {
			s.Mtime = joinNs(in.Mtime, in.Mtimensec)
		}
	}
	return s
}

var _ = (gofs.NodeStatfser)((*node)(nil))

// Statfs answers statfs(2) with the capacity the vfs layer reports.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	s, err := n.fs.v.StatFS(ctx)
	if err != nil {
		return n.fs.toErrno(err)
	}
	out.Blocks = s.Blocks
	out.Bfree = s.BlocksFree
	out.Bavail = s.BlocksAvail
	out.Files = s.Files
	out.Ffree = s.FilesFree
	out.Bsize = s.BlockSize
	out.Frsize = s.BlockSize
	out.NameLen = s.NameMax
	return 0
}

var _ = (gofs.NodeOnForgetter)((*node)(nil))

// OnForget runs when the kernel has dropped the inode, and with it the
// inode's page cache: what we remember about that cache goes too, and the
// vfs layer is told (KernelTracker.Forget), so an unlinked inode nothing
// else holds is reclaimed.
//
// A lookup may have handed this node out again while go-fuse was
// forgetting it (see child); go-fuse then registers it again ("revival",
// see gofs.NodeOnForgetter) and will call OnForget once more when the
// kernel drops it next. A revived node has a name in go-fuse's tree again,
// which a forgotten one has not (only names since taken by other nodes
// may still point back to it), so it stays. A revival whose registration
// has not happened yet when this runs cannot be told apart; go-fuse gives
// no hook for it, and the window is a LOOKUP finding an inode while the
// kernel evicts that very inode.
func (n *node) OnForget() {
	ino := n.ino()
	n.fs.cache.forget(ino)
	fs := n.fs
	fs.mu.Lock()
	gone := fs.nodes[ino] == n && !revived(&n.Inode)
	if gone {
		delete(fs.nodes, ino)
	}
	fs.mu.Unlock()
	if gone && fs.kt != nil {
		// Never cancelled: the reclaim it may start must finish.
		fs.kt.Forget(context.Background(), ino)
	}
}

// revived reports whether the go-fuse Inode i, just forgotten, is back in
// the tree: whether its newest parent still lists it under that name.
func revived(i *gofs.Inode) bool {
	name, p := i.Parent()
	return p != nil && p.GetChild(name) == i
}

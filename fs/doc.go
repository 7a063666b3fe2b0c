// Package fs mounts a dfs filesystem through FUSE: the thin go-fuse node
// layer between the kernel and the filesystem semantics of package fs/vfs.
//
// # Layering
//
//	kernel ── /dev/fuse ── go-fuse (fuse, fs) ── package fs ── fs/vfs ── store, cluster
//
// This package only translates. Each FUSE request becomes one call of
// vfs.FileSystem on inode numbers; the answer becomes the kernel's reply.
// Filesystem semantics (permissions aside, which the kernel checks), the
// write buffers, the read barrier of close-to-open consistency and every
// decision about data live below, in fs/vfs. This package imports only
// fs/vfs and store/meta (for types), never a backend or the Raft layer.
//
// # Nodes
//
// Every inode is a node, an embedded go-fuse Inode with one method per
// go-fuse capability interface (NodeLookuper, NodeCreater, NodeReader ...,
// each with its compile-time assertion beside it). Directory methods are
// in dir.go, open-file methods in file.go, extended attributes in
// xattr.go, the rest in node.go. A node's go-fuse StableAttr is
// {Ino: metadata inode number, Mode: file type, Gen: 1}: inode numbers
// come from the metadata, never from go-fuse, are never reused (hence one
// generation), and hard links share one number and so one node. The root
// is meta.RootIno. An open file is a handle wrapping the vfs Handle.
//
// The caller of each request (uid, gid, pid from fuse.FromContext) is
// passed to the vfs for the operations that create or change inodes.
//
// # Kernel features used
//
// See options in mount.go for the full list and the reasons:
// default_permissions, 1 MiB requests, parallel directory operations,
// async reads, READDIRPLUS (auto), symlink caching, FOPEN_KEEP_CACHE when
// a file is unchanged since this host last opened it, FOPEN_NOFLUSH for
// read-only opens, and a direct mount(2) when running as root. The
// writeback cache, atomic O_TRUNC, kernel-forwarded locks and directory
// caching are deliberately off.
//
// # Caching and timeouts
//
// The kernel caches names, attributes and missing names for
// Config.EntryTimeout, AttrTimeout and NegativeTimeout (1 s by default):
// a change on another host may stay unseen here that long, except across
// open, which waits for this host's metadata copy (close-to-open). Data
// pages survive an open only if the file's size and mtime are what they
// were at the previous open on this host.
//
// # Errors
//
// Every vfs error goes through toErrno (errno.go): a syscall.Errno passes
// through to the caller; a cancelled request (the kernel sends INTERRUPT
// when the calling process gets a signal) is EINTR; anything else is
// logged, rate-limited, and becomes EIO. ENOSYS is turned into EOPNOTSUPP
// because the kernel disables an operation for good on ENOSYS. For
// requests addressed to an inode rather than a name (GETATTR, SETATTR,
// OPEN, READLINK, xattrs), ENOENT means the inode was removed on another
// host while this kernel still had it cached: it becomes ESTALE, on which
// the kernel looks the name up again and retries (inodeErrno).
//
// # What is not supported
//
// O_TMPFILE (the vfs has no anonymous create), POSIX ACLs (refused rather
// than stored unenforced, see xattr.go), locks across hosts (fcntl and
// flock locks are kept by each host's kernel), and NFS export.
//
// # Concurrency
//
// go-fuse calls node methods from many goroutines at once, for the same
// node too (parallel lookups and reads in one directory or file). Nodes
// keep no state of their own; what is shared per mount (the vfs, the
// page-cache versions, the error log limiter) is safe for concurrent use.
// Release ignores cancellation: a handle is always released.
package fs

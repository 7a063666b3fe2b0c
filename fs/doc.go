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
// fs/vfs and store/meta (for types) and the Prometheus client (Instrument,
// in metrics.go), never a backend or the Raft layer.
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
// One inode number has one node while the kernel may hold it: child
// (node.go), through which every reply that hands the kernel an inode
// goes, reuses the node already known for the number, from its creation
// to its OnForget. go-fuse would otherwise keep the first of two nodes
// made for one number and drop the other silently.
//
// # Kernel references
//
// The kernel can use an inode it holds after its last name is gone: a
// lookup answered before an unlink or a rename over it, then an open, a
// stat; an open or working directory removed; an O_TMPFILE file, which
// never had a name. If the vfs layer has the vfs.KernelTracker ability (found by type
// assertion; *vfs.VFS has it), it is told of each node made for an inode
// (Remember, before the kernel sees it) and of each node the kernel forgot
// (Forget, from OnForget), and reclaims an unlinked inode only when no
// handle is open and the kernel has forgotten it. Otherwise such an inode
// goes at its unlink or last release, and the kernel gets ESTALE for it.
// The kernel forgets an inode whose last link it saw go as soon as nothing
// uses it; one it still believes linked (a hard link removed on another
// host, then the last one here) stays cached, and its space used, until
// the kernel evicts it or the next start. The one race left is go-fuse's
// "revival" (see OnForget in node.go).
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
// through to the caller; a cancelled request (interrupted and still
// running after the grace, see Interrupts) is EINTR; anything else is
// logged, rate-limited, and becomes EIO. ENOSYS is turned into EOPNOTSUPP
// because the kernel disables an operation for good on ENOSYS. For
// requests addressed to an inode rather than a name (GETATTR, SETATTR,
// OPEN, READLINK, xattrs), ENOENT means the inode was removed on another
// host while this kernel still had it cached: it becomes ESTALE, on which
// the kernel looks the name up again and retries (inodeErrno).
//
// # Interrupts
//
// The kernel sends INTERRUPT for a request whose caller got a signal, and
// go-fuse cancels the request's context. Most such signals are not meant
// to stop anything (a Go program gets SIGURG, the runtime's preemption,
// many times a second), and open, rename, stat and most other system
// calls are not restarted after EINTR. So every call into the vfs gets a
// context (opCtx, opctx.go) that is cancelled only if the request is
// still running Config.InterruptGrace (2 s) after the interrupt: an
// interrupt of a request that would finish anyway changes nothing, and
// Ctrl-C on a call stuck on an unreachable backend still ends it with
// EINTR. Flush, Fsync and Release are never cancelled: close(2) and
// fsync(2) must commit. opCtx costs one small allocation per request; it
// starts a goroutine (then a timer) only for a request that waits on its
// context's Done channel, and stops it when the request ends.
//
// # What is not supported
//
// POSIX ACLs (refused rather than stored unenforced, see xattr.go), locks
// across hosts (fcntl and flock locks are kept by each host's kernel), and
// NFS export. O_TMPFILE is supported (Tmpfile in dir.go), with linkat(2)
// of the file into a directory later.
//
// # Concurrency
//
// go-fuse calls node methods from many goroutines at once, for the same
// node too (parallel lookups and reads in one directory or file). Nodes
// keep no state of their own; what is shared per mount (the vfs, the
// table of nodes, the page-cache versions, the error log limiter) is safe
// for concurrent use. The table's lock (fsys.mu) is taken before the vfs
// layer's locks (Remember is called under it) and never across a call
// that can block. Release ignores cancellation: a handle is always
// released.
package fs

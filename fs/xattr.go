package fs

import (
	"context"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
)

// Extended attributes of every namespace are stored as given, except
// POSIX ACLs. With default_permissions the kernel checks the caller's right
// to touch trusted.* and security.* before the request reaches us.
//
// POSIX ACLs (system.posix_acl_access and _default) are not supported:
// the mount does not negotiate FUSE_POSIX_ACL, so the kernel would not
// enforce them, and it still forwards them as plain xattrs. Storing them
// would make setfacl report success while granting or denying nothing, so
// setting one is EOPNOTSUPP (as on a filesystem mounted with noacl), and
// reading or removing one answers "no ACL" (ENODATA) without asking the
// vfs layer: ls -l asks for both on every file.
//
// getxattr(2) and listxattr(2) with size 0 ask for the size needed: dest is
// then empty, and we return the size with ERANGE, which go-fuse turns into
// a successful size reply. A non-empty dest that is too small is ERANGE.

var _ = (gofs.NodeGetxattrer)((*node)(nil))

// Getxattr copies the value of attr into dest.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if isACL(attr) {
		return 0, syscall.ENODATA
	}
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	v, err := n.fs.v.GetXattr(ctx, n.ino(), attr)
	if err != nil {
		return 0, n.fs.inodeErrno(err)
	}
	if len(v) > len(dest) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

var _ = (gofs.NodeListxattrer)((*node)(nil))

// Listxattr copies the attribute names into dest, each followed by a NUL.
func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	names, err := n.fs.v.ListXattr(ctx, n.ino())
	if err != nil {
		return 0, n.fs.inodeErrno(err)
	}
	size := 0
	for _, nm := range names {
		size += len(nm) + 1
	}
	if size > len(dest) {
		return uint32(size), syscall.ERANGE
	}
	off := 0
	for _, nm := range names {
		off += copy(dest[off:], nm)
		dest[off] = 0
		off++
	}
	return uint32(size), 0
}

var _ = (gofs.NodeSetxattrer)((*node)(nil))

// Setxattr sets attr to data; flags are XATTR_CREATE and XATTR_REPLACE,
// which have the same values as meta.XattrCreate and meta.XattrReplace.
func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if isACL(attr) {
		return syscall.EOPNOTSUPP
	}
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	return n.fs.inodeErrno(n.fs.v.SetXattr(ctx, n.ino(), attr, data, flags))
}

var _ = (gofs.NodeRemovexattrer)((*node)(nil))

// Removexattr removes attr (ENODATA if it is not set).
func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if isACL(attr) {
		return syscall.ENODATA
	}
	ctx, done := n.fs.opCtx(ctx)
	defer done()
	return n.fs.inodeErrno(n.fs.v.RemoveXattr(ctx, n.ino(), attr))
}

// isACL reports whether name is one of the POSIX ACL attributes.
func isACL(name string) bool {
	return name == "system.posix_acl_access" || name == "system.posix_acl_default"
}

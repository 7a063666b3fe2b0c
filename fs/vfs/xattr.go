package vfs

import (
	"context"
	"strings"
	"syscall"

	"github.com/dfsproject/dfs/store/meta"
)

// xattrNamespaces are the name prefixes Linux knows; others are
// EOPNOTSUPP, as on ext4.
var xattrNamespaces = []string{"user.", "trusted.", "security.", "system."}

// checkXattrName validates name for the xattr calls: ERANGE when empty or
// too long, EOPNOTSUPP outside the known namespaces, EINVAL for a bare
// prefix. Setting a POSIX ACL is EOPNOTSUPP: ACLs are not enforced, so
// storing one would only mislead.
func checkXattrName(name string, set bool) error {
	if name == "" || len(name) > meta.MaxXattrName {
		return syscall.ERANGE
	}
	known := false
	for _, p := range xattrNamespaces {
		if strings.HasPrefix(name, p) {
			if len(name) == len(p) {
				return syscall.EINVAL
			}
			known = true
			break
		}
	}
	if !known {
		return syscall.EOPNOTSUPP
	}
	if set && (name == "system.posix_acl_access" || name == "system.posix_acl_default") {
		return syscall.EOPNOTSUPP
	}
	return nil
}

// GetXattr implements FileSystem.
func (v *VFS) GetXattr(ctx context.Context, ino meta.Ino, name string) ([]byte, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if err := checkXattrName(name, false); err != nil {
		return nil, err
	}
	val, err := v.r.GetXattr(ctx, ino, name)
	if err != nil {
		return nil, v.errno("getxattr", err)
	}
	return val, nil
}

// ListXattr implements FileSystem.
func (v *VFS) ListXattr(ctx context.Context, ino meta.Ino) ([]string, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	names, err := v.r.ListXattr(ctx, ino)
	if err != nil {
		return nil, v.errno("listxattr", err)
	}
	return names, nil
}

// SetXattr implements FileSystem. flags are meta.XattrCreate and
// meta.XattrReplace.
func (v *VFS) SetXattr(ctx context.Context, ino meta.Ino, name string, value []byte, flags uint32) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkXattrName(name, true); err != nil {
		return err
	}
	if flags&^uint32(meta.XattrCreate|meta.XattrReplace) != 0 {
		return syscall.EINVAL
	}
	if len(value) > meta.MaxXattrValue {
		return syscall.E2BIG
	}
	_, err := v.propose(ctx, &meta.Cmd{
		Op: meta.OpSetXattr, Ino: ino, Name: name, Value: value, Flags: flags,
	})
	return err
}

// RemoveXattr implements FileSystem.
func (v *VFS) RemoveXattr(ctx context.Context, ino meta.Ino, name string) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := checkXattrName(name, false); err != nil {
		return err
	}
	_, err := v.propose(ctx, &meta.Cmd{Op: meta.OpRemoveXattr, Ino: ino, Name: name})
	return err
}

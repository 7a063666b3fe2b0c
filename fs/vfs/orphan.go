package vfs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/dfsproject/dfs/store/meta"
)

// An orphan is an inode with nlink 0: a file whose last link went away, a
// removed directory, or a Tmpfile not linked (yet). It is reclaimed
// (OpReclaim) once nobody on this host can still reach it: no handle is
// open (files) and, when the node layer reports them through
// KernelTracker, the kernel holds no reference to it (kernel). Three events
// can be the last one, in any order: the command that made the orphan
// (handleOrphans: unlink, rmdir, rename, or Tmpfile once its handle is
// open), the last Release (putFile) and the kernel's forget (Forget). A
// Tmpfile that Link names leaves v.orphans (Link). Each changes its part of the state and decides under
// v.mu, in takeOrphanLocked, whether the orphan goes now; exactly one of
// them takes it out of v.orphans, and only that one proposes the reclaim,
// after v.mu is released. Between that decision and the end of the
// reclaim the inode is in v.reclaiming, where Open refuses it (ENOENT), so
// no handle can be opened on an inode being deleted.

var _ KernelTracker = (*VFS)(nil)

// Remember implements KernelTracker.
func (v *VFS) Remember(ino meta.Ino) {
	v.mu.Lock()
	v.kernel[ino]++
	v.mu.Unlock()
}

// Forget implements KernelTracker. A Forget without a matching Remember is
// ignored.
func (v *VFS) Forget(ctx context.Context, ino meta.Ino) {
	v.mu.Lock()
	switch n := v.kernel[ino]; {
	case n > 1:
		v.kernel[ino] = n - 1
	case n == 1:
		delete(v.kernel, ino)
	}
	take := v.takeOrphanLocked(ino)
	v.mu.Unlock()
	if take {
		v.reclaimLogged(ctx, ino)
	}
}

// takeOrphanLocked reports whether ino is an orphan that nothing here
// references any more. If so it is no longer an orphan to wait for but
// one being reclaimed, and the caller must call reclaim.
func (v *VFS) takeOrphanLocked(ino meta.Ino) bool {
	if _, ok := v.orphans[ino]; !ok || v.files[ino] != nil || v.kernel[ino] > 0 {
		return false
	}
	delete(v.orphans, ino)
	v.reclaiming[ino] = struct{}{}
	return true
}

// handleOrphans takes note of inodes whose last link went away: those
// nothing here references are reclaimed at once, the others by their
// last Release or Forget.
func (v *VFS) handleOrphans(ctx context.Context, orphans []meta.Ino) {
	for _, ino := range orphans {
		v.mu.Lock()
		v.orphans[ino] = struct{}{}
		take := v.takeOrphanLocked(ino)
		v.mu.Unlock()
		if take {
			v.reclaimLogged(ctx, ino)
		}
	}
}

// reclaim deletes orphan inode ino, which takeOrphanLocked gave to the
// caller; cancellation of ctx is ignored. An inode already reclaimed (by
// another host, or at start) is not an error.
func (v *VFS) reclaim(ctx context.Context, ino meta.Ino) error {
	_, err := v.propose(context.WithoutCancel(ctx), &meta.Cmd{Op: meta.OpReclaim, Ino: ino})
	v.mu.Lock()
	delete(v.reclaiming, ino)
	v.mu.Unlock()
	if errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return err
}

// reclaimLogged is reclaim with the failure logged: the orphan stays
// listed in the metadata and ReclaimOrphans retries at the next start.
func (v *VFS) reclaimLogged(ctx context.Context, ino meta.Ino) {
	if err := v.reclaim(ctx, ino); err != nil {
		v.log.Warn("vfs: reclaim orphan", slog.Uint64("ino", uint64(ino)), slog.Any("err", err))
	}
}

// ReclaimOrphans reclaims every orphan inode (nlink 0) the metadata lists:
// unlinked files, removed directories, tmpfiles never linked.
// A single node calls it at start, when no handle can be open anywhere
// and the kernel knows no inode; one that is referenced here all the same
// is left to its last Release or Forget. It returns the first failure.
func (v *VFS) ReclaimOrphans(ctx context.Context) error {
	inos, err := v.r.Orphans(ctx)
	if err != nil {
		return v.errno("list orphans", err)
	}
	var first error
	for _, ino := range inos {
		v.mu.Lock()
		v.orphans[ino] = struct{}{}
		take := v.takeOrphanLocked(ino)
		v.mu.Unlock()
		if !take {
			continue
		}
		if err := v.reclaim(ctx, ino); err != nil && first == nil {
			first = err
		}
	}
	return first
}

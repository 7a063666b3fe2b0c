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
//
// In a cluster (Config.OthersHold) another host may hold the orphan open:
// before reclaiming, a host asks the others, and leaves an orphan that one
// of them holds (or that a host could not be asked about) alone. The host
// whose last handle goes then finds the inode at nlink 0 in its copy of
// the namespace and reclaims it, asking the others in turn
// (orphanedElsewhere); and the GC host sweeps, every OrphanSweep, the
// orphans that no host has held for two sweeps in a row (a holder that
// crashed, or a last close that came before its copy knew of the unlink).
// Across hosts only open handles count, not the kernel's references: a
// kernel keeps the inode of a name it cached, without a handle, until it
// looks the name up again.

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
// listed in the metadata and ReclaimOrphans retries at the next start (in
// a cluster, the sweep). In a cluster, an orphan another host holds open
// (or that a host could not be asked about) is left to that host's last
// close, or to the sweep.
func (v *VFS) reclaimLogged(ctx context.Context, ino meta.Ino) {
	if v.cfg.OthersHold != nil {
		held, err := v.cfg.OthersHold(ctx, ino)
		if held || err != nil {
			v.mu.Lock()
			delete(v.reclaiming, ino)
			v.mu.Unlock()
			v.log.Debug("vfs: orphan left to the hosts that hold it", slog.Uint64("ino", uint64(ino)), slog.Bool("held", held), slog.Any("err", err))
			return
		}
	}
	if err := v.reclaim(ctx, ino); err != nil {
		v.log.Warn("vfs: reclaim orphan", slog.Uint64("ino", uint64(ino)), slog.Any("err", err))
	}
}

// Holds reports whether this host has inode ino open: what a peer asks
// (Config.OthersHold) before it reclaims an orphan.
func (v *VFS) Holds(ino meta.Ino) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, reclaiming := v.reclaiming[ino]
	return v.files[ino] != nil && !reclaiming
}

// orphanedElsewhere is called in a cluster when this host's last handle
// on ino goes: if another host removed the file meanwhile (nlink 0 in the
// local copy), this host may be the last to hold it and reclaims it,
// unless another host still does.
func (v *VFS) orphanedElsewhere(ctx context.Context, ino meta.Ino) {
	a, err := v.r.GetAttr(ctx, ino)
	if err != nil || a.Nlink != 0 {
		return
	}
	// The kernel may keep a reference without a handle for as long as it
	// caches the name (it learns of another host's unlink only when it
	// looks the name up again): in a cluster only open handles count.
	v.mu.Lock()
	_, reclaiming := v.reclaiming[ino]
	take := v.files[ino] == nil && !reclaiming
	if take {
		delete(v.orphans, ino)
		v.reclaiming[ino] = struct{}{}
	}
	v.mu.Unlock()
	if take {
		v.reclaimLogged(ctx, ino)
	}
}

// sweepOrphans reclaims, on the GC host of a cluster, the orphans that no
// host holds: those whose holder crashed, or whose last close happened
// before this host's copy knew they were orphans. An orphan is reclaimed
// only when it was already unheld at the previous sweep, so that a
// Tmpfile being opened right now is not taken. It returns the orphans
// reclaimed.
func (v *VFS) sweepOrphans(ctx context.Context) (int, error) {
	inos, err := v.r.Orphans(ctx)
	if err != nil {
		return 0, err
	}
	unheld := make(map[meta.Ino]bool, len(inos))
	n := 0
	for _, ino := range inos {
		// Only open handles count, here as on the other hosts: a kernel
		// may cache a removed file's name for long without a handle.
		v.mu.Lock()
		_, reclaiming := v.reclaiming[ino]
		local := reclaiming || v.files[ino] != nil
		v.mu.Unlock()
		if local {
			continue
		}
		held, err := v.cfg.OthersHold(ctx, ino)
		if held || err != nil {
			continue
		}
		unheld[ino] = true
		if !v.unheld[ino] {
			continue // wait for the next sweep
		}
		v.mu.Lock()
		if v.files[ino] != nil {
			v.mu.Unlock()
			continue
		}
		delete(v.orphans, ino)
		v.reclaiming[ino] = struct{}{}
		v.mu.Unlock()
		if err := v.reclaim(ctx, ino); err != nil {
			v.log.Warn("vfs: sweep: reclaim orphan", slog.Uint64("ino", uint64(ino)), slog.Any("err", err))
			continue
		}
		n++
	}
	v.unheld = unheld
	return n, nil
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

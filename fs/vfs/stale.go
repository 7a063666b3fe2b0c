package vfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// The writer's side of the chunk tombstones (see meta.Tombstone). Every
// upload records the index the local copy of the namespace had applied
// before it (put), and the commit sends it with each chunk
// (meta.ChunkRef.UploadIndex). Apply refuses the commit
// (meta.ErrnoStaleUpload) if a garbage collector, on any host, is deleting
// one of its chunks or finished deleting it after the upload began: the
// upload may be gone. The flush then takes back the bytes of those chunks
// (the copy put kept of a chunk that was at risk, or the store while a
// copy is left), waits until no deletion of them is pending (closing the
// tombstones of dead collectors), uploads them again and retries, for up
// to staleRetryFor; then it fails with EIO and the changes stay for a
// later flush. A chunk whose bytes are gone by then fails the flush with
// EIO: the write is lost, and reported, instead of a file that references
// a deleted chunk.

// appliedIndexer is the optional ability of a meta.Reader to tell the
// index of the last command its copy applied (meta.FSM has it). Without
// it, commits carry no upload index and only deletions still pending
// refuse them.
type appliedIndexer interface {
	AppliedIndex() uint64
}

// chunkGCReader is the optional ability of a meta.Reader to tell a
// chunk's reference count and tombstone (meta.FSM has it). Without it,
// a refused flush just waits and tries again.
type chunkGCReader interface {
	ChunkGC(ctx context.Context, id store.ChunkID) (meta.ChunkGC, error)
}

const (
	// staleRetryFor bounds how long a flush keeps trying once a commit
	// was refused because of a tombstone. Deletions take milliseconds;
	// a collector that stalls holds commits of its chunks off for up to
	// its lease, and this flush gives up before that.
	staleRetryFor = 5 * time.Second
	// staleRetryWait is the pause between two looks at a pending
	// deletion.
	staleRetryWait = 150 * time.Millisecond
	// staleUploadAge: a pending chunk uploaded longer ago than this is
	// looked for in the store before it is committed, because the
	// tombstone of a deletion since then may be purged by the commit
	// (meta.TombstoneKeep), which would then not be refused.
	staleUploadAge = meta.TombstoneKeep / 2
)

// appliedIndex returns the local copy's applied index, 0 if unknown.
func (v *VFS) appliedIndex() uint64 {
	if r, ok := v.r.(appliedIndexer); ok {
		return r.AppliedIndex()
	}
	return 0
}

// chunkAtRisk reports whether a collector may delete chunk id before a
// writer that uploaded it now commits it: it is garbage already or
// tombstoned (see meta.ChunkGC.AtRisk).
func (v *VFS) chunkAtRisk(ctx context.Context, id store.ChunkID) bool {
	r, ok := v.r.(chunkGCReader)
	if !ok {
		return false
	}
	g, err := r.ChunkGC(ctx, id)
	return err == nil && g.AtRisk()
}

// flushLocked is flushOnceLocked, retried while its commit is refused
// because of tombstones, for up to staleRetryFor.
func (v *VFS) flushLocked(ctx context.Context, f *file) error {
	var deadline time.Time
	for {
		err := v.flushOnceLocked(ctx, f)
		if !errors.Is(err, meta.ErrnoStaleUpload) {
			return err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(staleRetryFor)
		} else if time.Now().After(deadline) {
			return v.staleGiveUp(f)
		}
		if err := v.retryCommitLocked(ctx, f, deadline); err != nil {
			return err
		}
	}
}

// retryCommitLocked prepares f for another commit after one was refused:
// the pending slots whose chunk a deletion refuses become dirty again
// with their bytes, once no deletion of their chunks is pending. It
// fails with EIO past deadline.
func (v *VFS) retryCommitLocked(ctx context.Context, f *file, deadline time.Time) error {
	v.barrier(ctx)
	gc, ok := v.r.(chunkGCReader)
	if !ok {
		return v.staleWait(ctx, f, deadline)
	}
	var ids []store.ChunkID
	for _, s := range f.sortedSlots() {
		if s.state != slotPending {
			continue
		}
		g, err := gc.ChunkGC(ctx, s.ref.ID)
		if err != nil {
			return v.errno("read chunk state", err)
		}
		if !g.Tombstoned || !g.Tombstone.Refuses(s.upIndex) {
			continue
		}
		// Take the bytes back at once, before a deletion under way
		// removes them.
		ids = append(ids, s.ref.ID)
		if err := v.reloadSlotLocked(ctx, s); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		// The local copy does not show why yet (no quorum for the
		// barrier?): wait and try again.
		return v.staleWait(ctx, f, deadline)
	}
	// Upload them again once their deletions are over.
	for {
		now := time.Now().UnixNano()
		var expired []store.ChunkID
		busy := false
		for _, id := range ids {
			g, err := gc.ChunkGC(ctx, id)
			if err != nil {
				return v.errno("read chunk state", err)
			}
			switch t := g.Tombstone; {
			case t.Expired(now):
				expired = append(expired, id)
			case t.Open(now):
				busy = true
			}
		}
		if len(expired) > 0 {
			// Their collectors stopped: nothing deletes them any more.
			if err := meta.NewTombstones(v.p).CloseExpired(ctx, expired); err != nil {
				return v.errno("close expired tombstones", err)
			}
		}
		if !busy {
			return nil
		}
		if err := v.staleWait(ctx, f, deadline); err != nil {
			return err
		}
		v.barrier(ctx)
	}
}

// staleWait pauses before another look at pending deletions, or fails
// with EIO past deadline.
func (v *VFS) staleWait(ctx context.Context, f *file, deadline time.Time) error {
	if time.Now().Add(staleRetryWait).After(deadline) {
		return v.staleGiveUp(f)
	}
	t := time.NewTimer(staleRetryWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return syscall.EINTR
	case <-t.C:
		return nil
	}
}

// reloadSlotLocked turns pending slot s back into a dirty one holding its
// bytes, taken from the copy put kept or from the store (verified), to be
// uploaded again. If they are gone, the slot's changes are lost: EIO.
func (v *VFS) reloadSlotLocked(ctx context.Context, s *slot) error {
	id := s.ref.ID
	data := v.pending.copyOf(id)
	if data == nil {
		var err error
		if data, err = v.cs.Get(ctx, id); err != nil {
			if ctx.Err() != nil {
				return syscall.EINTR
			}
			v.log.Error("vfs: an uploaded chunk was deleted before its commit; the changes to its slot are lost",
				slog.String("chunk", id.String()), slog.Uint64("slot", s.idx), slog.Any("err", err))
			return syscall.EIO
		}
	}
	if len(data) < s.n {
		return v.errno("reload chunk", fmt.Errorf("%w: chunk %s holds %d bytes, the slot %d", store.ErrCorrupt, id, len(data), s.n))
	}
	buf := v.newBuf(v.bufCap(s.idx, s.n))[:s.n]
	copy(buf, data)
	v.mem.force(int64(cap(buf)))
	v.pending.release(id)
	s.state, s.buf, s.fill, s.err = slotDirty, buf, s.n, nil
	s.ref, s.upIndex, s.upAt = meta.ChunkRef{}, 0, time.Time{}
	return nil
}

// checkOldUploadsLocked looks in the store for the chunks of f's pending
// slots uploaded more than staleUploadAge ago. One still there counts as
// uploaded again now (as the store's deduplication would have it); one
// gone is reloaded (from a kept copy) to be uploaded again, or fails the
// flush.
func (v *VFS) checkOldUploadsLocked(ctx context.Context, f *file) error {
	for _, s := range f.sortedSlots() {
		if s.state != slotPending || time.Since(s.upAt) < staleUploadAge {
			continue
		}
		index, at := v.appliedIndex(), time.Now()
		_, err := v.cs.Backend().Stat(ctx, s.ref.ID.Key())
		switch {
		case err == nil:
			s.upIndex, s.upAt = index, at
		case errors.Is(err, store.ErrNotFound):
			if err := v.reloadSlotLocked(ctx, s); err != nil {
				return err
			}
		default:
			return v.errno("look for an uploaded chunk", err)
		}
	}
	return nil
}

// staleGiveUp ends the retries of a commit refused because of tombstones.
func (v *VFS) staleGiveUp(f *file) error {
	v.log.Warn("vfs: commit refused while chunks of it are being deleted; the changes stay for a later flush",
		slog.Uint64("ino", uint64(f.ino)))
	return syscall.EIO
}

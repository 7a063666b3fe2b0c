package vfs

import (
	"context"
	"syscall"

	"github.com/dfsproject/dfs/store/meta"
)

// Flush implements FileSystem: it commits the file's pending writes (those
// of every handle of the inode on this host).
func (v *VFS) Flush(ctx context.Context, h *Handle) error {
	if h == nil || h.f == nil {
		return syscall.EBADF
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if !h.write {
		return nil
	}
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	return v.flushLocked(ctx, f)
}

// Fsync implements FileSystem: Flush, then a durable sync of the metadata
// when the proposer can do one. Chunks are durable once uploaded.
func (v *VFS) Fsync(ctx context.Context, h *Handle, dataOnly bool) error {
	if h == nil || h.f == nil {
		return syscall.EBADF
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	f := h.f
	f.mu.Lock()
	err := v.flushLocked(ctx, f)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if s, ok := v.p.(syncer); ok {
		if err := s.Sync(ctx); err != nil {
			return v.errno("sync metadata", err)
		}
	}
	return nil
}

// flushOnceLocked uploads every changed slot of f, waits for the uploads
// and commits the new chunk list, size and mtime in one OpCommit. If an
// upload fails nothing is committed: the changes stay for a later flush,
// and the committed file is unchanged. A file that ends up at most
// InlineMax bytes long, with its bytes at hand, is committed inline
// instead. A commit refused because of tombstones returns
// meta.ErrnoStaleUpload, for flushLocked to retry (stale.go).
func (v *VFS) flushOnceLocked(ctx context.Context, f *file) error {
	if !f.dirty {
		return nil
	}
	if content, ok := v.inlineContentLocked(f); ok {
		return v.commitLocked(ctx, f, &meta.Cmd{
			Op: meta.OpCommit, Ino: f.ino, Size: uint64(f.size), Mtime: f.mtime,
			ChunkSize: uint64(v.csize), SetInline: true, Inline: content,
		})
	}
	if f.isInline && len(f.inline) > 0 && f.slots[0] == nil {
		// The file stops being inline: its bytes become slot 0.
		n := min(len(f.inline), int(f.size))
		buf := make([]byte, n, v.bufCap(0, n))
		copy(buf, f.inline)
		v.mem.force(int64(cap(buf)))
		f.slots[0] = &slot{idx: 0, state: slotDirty, buf: buf, n: n, fill: n}
	}

	if err := v.checkOldUploadsLocked(ctx, f); err != nil {
		return err
	}
	// Upload all that is not uploaded yet.
	for _, s := range f.sortedSlots() {
		v.reapLocked(s)
		switch {
		case s.state == slotDirty && s.n > 0:
			v.startUploadLocked(f, s, false)
		case s.state == slotSpilled:
			if err := v.uploadSpilledLocked(ctx, f, s); err != nil {
				return err
			}
		}
	}
	var failed error
	for _, s := range f.slots {
		if err := v.waitUploadLocked(ctx, s); err != nil {
			return err
		}
		if s.state != slotPending && s.err != nil && failed == nil {
			failed = s.err
		}
	}
	if failed != nil {
		return v.errno("upload chunk", failed)
	}

	cmd := &meta.Cmd{
		Op: meta.OpCommit, Ino: f.ino, Size: uint64(f.size), Mtime: f.mtime,
		ChunkSize: uint64(v.csize),
	}
	for _, s := range f.sortedSlots() {
		r := meta.ChunkRef{Index: s.idx} // a hole
		if s.state == slotPending {
			r = s.ref
			r.UploadIndex = s.upIndex
		}
		cmd.Chunks = append(cmd.Chunks, r)
	}
	return v.commitLocked(ctx, f, cmd)
}

// uploadSpilledLocked reads spilled slot s back and uploads it. Within the
// memory bound if possible; else one spilled slot at a time (all files
// together) may go over it, so a flush never waits on memory that only a
// writer blocked on this file's lock could free.
func (v *VFS) uploadSpilledLocked(ctx context.Context, f *file, s *slot) error {
	buf := v.newBuf(v.bufCap(s.idx, s.n))[:s.n]
	c := int64(cap(buf))
	token := false
	if !v.mem.tryReserve(c) {
		select {
		case v.readback <- struct{}{}:
		case <-ctx.Done():
			return syscall.EINTR
		}
		token = true
		v.mem.force(c)
	}
	if err := v.spill.readAt(buf, s.spillOff, 0); err != nil {
		v.freeBuf(buf)
		v.mem.release(c)
		if token {
			<-v.readback
		}
		return v.errno("read spill file", err)
	}
	v.spill.release(s.spillOff)
	s.state, s.buf = slotDirty, buf
	v.startUploadLocked(f, s, token)
	return nil
}

// inlineContentLocked returns the whole content of f when it may be
// committed inline: its size is at most InlineMax and its bytes are in
// memory, in the spill file or inline already (not only in a chunk).
func (v *VFS) inlineContentLocked(f *file) ([]byte, bool) {
	if f.size > int64(v.cfg.InlineMax) || (v.cfg.InlineMax == 0 && f.size > 0) {
		return nil, false
	}
	content := make([]byte, f.size)
	for idx, s := range f.slots {
		if idx != 0 {
			if s.state == slotHole {
				continue
			}
			return nil, false
		}
		switch s.state {
		case slotDirty:
			copy(content, s.buf[:s.n])
		case slotSpilled:
			if err := v.spill.readAt(content[:min(s.n, len(content))], s.spillOff, 0); err != nil {
				return nil, false
			}
		case slotHole:
		default: // uploading, pending: in a chunk
			return nil, false
		}
	}
	if f.slots[0] == nil {
		switch {
		case f.isInline:
			copy(content, f.inline)
		case f.committed[0].ID.IsZero():
		default:
			return nil, false
		}
	}
	return content, true
}

// commitLocked proposes cmd (an OpCommit) and, once applied, makes its
// content f's committed version.
func (v *VFS) commitLocked(ctx context.Context, f *file, cmd *meta.Cmd) error {
	res, err := v.propose(ctx, cmd)
	if err != nil {
		return err
	}
	for _, s := range f.slots {
		if s.state == slotUploading { // only if inlined with a full slot 0
			<-s.up.done
			v.reapLocked(s)
		}
		switch {
		case cmd.SetInline:
		case s.state == slotPending:
			f.committed[s.idx] = s.ref
		default:
			delete(f.committed, s.idx)
		}
		v.freeSlotLocked(s) // a committed chunk needs no pending reference
	}
	f.slots = make(map[uint64]*slot)
	switch {
	case cmd.SetInline:
		f.committed = make(map[uint64]meta.ChunkRef)
		f.isInline, f.inline = true, cmd.Inline
	case f.isInline && len(cmd.Chunks) == 0:
		// Stays inline (a size change only).
	default:
		f.isInline, f.inline = false, nil
	}
	if a := res.Attr; a != nil {
		f.setCommittedAttrLocked(a)
		if a.Inline != f.isInline {
			// Apply decided otherwise: load what it did.
			f.loaded = false
			if err := v.refreshLocked(ctx, f, nil); err != nil {
				return err
			}
		}
	} else {
		f.metaSize, f.metaMtime = f.size, f.mtime
	}
	f.trimLocked(v.csize, f.size)
	f.dirty = false
	f.publishLocked()
	return nil
}

// dropPastLocked forgets the uncommitted bytes of f at or past size.
func (v *VFS) dropPastLocked(ctx context.Context, f *file, size int64) error {
	for idx, s := range f.slots {
		limit := size - int64(idx)*v.csize
		if limit > 0 && limit >= int64(s.n) {
			continue
		}
		if err := v.waitUploadLocked(ctx, s); err != nil {
			return err
		}
		if limit <= 0 {
			v.freeSlotLocked(s)
			delete(f.slots, idx)
			continue
		}
		n := int(limit)
		switch s.state {
		case slotDirty:
			clear(s.buf[n:s.n]) // bytes past n stay zero
			s.buf = s.buf[:n]
		case slotPending:
			s.ref.Len = uint32(n)
		}
		s.n, s.fill = n, min(s.fill, n)
	}
	return nil
}

// setAttrLocked proposes an OpSetAttr on open file f, first committing
// its pending writes when the change is to the size or mtime (so a later
// commit cannot undo it), and updates f to the result.
func (v *VFS) setAttrLocked(ctx context.Context, f *file, cmd *meta.Cmd) (meta.Attr, error) {
	if cmd.Valid&meta.SetSize != 0 && int64(cmd.Size) < f.size {
		// Writes past the new end need no upload: a truncate must work
		// on a full backend, to make room.
		if err := v.dropPastLocked(ctx, f, int64(cmd.Size)); err != nil {
			return meta.Attr{}, err
		}
		f.size = int64(cmd.Size)
		f.publishLocked()
	}
	if cmd.Valid&(meta.SetSize|meta.SetMtime) != 0 {
		if len(f.slots) == 0 && cmd.Valid&meta.SetSize != 0 {
			// Only the size or mtime changed, and this sets both.
			f.dirty = false
		}
		if err := v.flushLocked(ctx, f); err != nil {
			return meta.Attr{}, err
		}
	}
	cmd.ChunkSize = uint64(v.csize)
	res, err := v.propose(ctx, cmd)
	if err != nil {
		return meta.Attr{}, err
	}
	if res.Attr == nil {
		return meta.Attr{}, v.errno("setattr", errNoAttr)
	}
	a := *res.Attr
	if cmd.Valid&(meta.SetSize|meta.SetMtime) == 0 {
		// Only ctime changed in the committed version: no reason to
		// reload it at the next open.
		f.metaCtime = a.Ctime
		return a, nil
	}
	// f was flushed: it is the committed version now.
	if cmd.Valid&meta.SetSize != 0 {
		f.size = int64(cmd.Size)
		f.trimLocked(v.csize, f.size)
	}
	f.mtime = a.Mtime
	f.setCommittedAttrLocked(&a)
	if a.Inline != f.isInline || int64(a.Size) != f.size {
		f.loaded = false
		if err := v.refreshLocked(ctx, f, nil); err != nil {
			return meta.Attr{}, err
		}
	}
	f.publishLocked()
	return a, nil
}

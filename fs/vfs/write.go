package vfs

import (
	"context"
	"fmt"
	"math"
	"syscall"
	"time"

	"github.com/dfsproject/dfs/store"
)

// minBuf is the smallest slot buffer: small files grow theirs by doubling.
const minBuf = 4 << 10

// bufCap is the capacity of a buffer for n bytes of slot idx. Slot 0 grows
// by doubling, so small files stay small; later slots belong to big files
// and get a whole chunk at once, which saves copies while streaming.
func (v *VFS) bufCap(idx uint64, n int) int {
	if idx > 0 {
		return int(v.csize)
	}
	c := minBuf
	for c < n {
		c <<= 1
	}
	return min(c, int(v.csize))
}

// newBuf returns an empty buffer of capacity c, from the pool when c is a
// whole chunk. Its bytes are not zeroed: writers zero any gap they leave.
func (v *VFS) newBuf(c int) []byte {
	if c == int(v.csize) {
		if b, ok := v.bufPool.Get().(*[]byte); ok {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, c)
}

// freeBuf returns b to the pool. Nothing may use b after.
func (v *VFS) freeBuf(b []byte) {
	if cap(b) == int(v.csize) {
		b = b[:0]
		v.bufPool.Put(&b)
	}
}

// Write implements FileSystem.
func (v *VFS) Write(ctx context.Context, h *Handle, data []byte, off int64) (int, error) {
	if h == nil || h.f == nil || !h.write {
		return 0, syscall.EBADF
	}
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if v.isClosed() {
		return 0, syscall.EIO
	}
	f := h.f
	var credit int64 // dirty memory reserved and not used yet
	defer func() { v.mem.release(credit) }()
	if h.append {
		// Reserve before taking the lock: an append must not drop it
		// between choosing its offset and writing there.
		if !v.mem.tryReserve(v.csize) {
			if err := v.acquire(ctx, v.csize, f); err != nil {
				return 0, err
			}
		}
		credit = v.csize
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if h.released {
		return 0, syscall.EBADF
	}
	if h.append {
		off = f.size
	}
	if len(data) == 0 {
		return 0, nil
	}
	if off > math.MaxInt64-int64(len(data)) {
		return 0, syscall.EFBIG
	}
	done := 0
	for done < len(data) {
		pos := off + int64(done)
		idx, so := uint64(pos/v.csize), int(pos%v.csize)
		k := min(int(v.csize)-so, len(data)-done)
		if err := v.writeSlotLocked(ctx, f, idx, so, data[done:done+k], &credit); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		done += k
		f.size = max(f.size, pos+int64(k))
		f.mtime = time.Now().UnixNano()
		f.dirty = true
		f.publishLocked()
	}
	return done, nil
}

// writeSlotLocked writes p at offset so of slot idx. It takes the memory
// it needs from *credit (dirty memory reserved by the caller, who gives
// back what is left), reserving more when short; it unlocks f.mu if it
// must wait for memory, and looks at everything again after. A slot
// written contiguously up to its end is uploaded in the background.
func (v *VFS) writeSlotLocked(ctx context.Context, f *file, idx uint64, so int, p []byte, credit *int64) error {
	end := so + len(p)
	for {
		s := f.slots[idx]
		if s != nil && s.state == slotUploading {
			// The upload reads the buffer: wait, then patch a copy of
			// the uploaded chunk.
			if err := v.waitUploadLocked(ctx, s); err != nil {
				return err
			}
		}
		var need int64
		var base int
		var load bool
		if s != nil && s.state == slotDirty {
			need = int64(max(v.bufCap(idx, max(s.n, end))-cap(s.buf), 0))
		} else {
			base = v.baseLenLocked(f, idx, s)
			// Loading is needed unless the write covers the old data.
			load = base > 0 && (so > 0 || end < base)
			n := end
			if load {
				n = max(base, end)
			}
			need = int64(v.bufCap(idx, n))
		}
		if need > *credit {
			if !v.mem.tryReserve(need - *credit) {
				// Out of memory: if this file's uploads fail, say so
				// now rather than buffer more that cannot be stored.
				if err := v.uploadErrLocked(f); err != nil {
					return v.errno("upload chunk", err)
				}
				f.mu.Unlock()
				err := v.acquire(ctx, need-*credit, f)
				f.mu.Lock()
				if err != nil {
					return err
				}
				*credit = need
				continue // f may have changed meanwhile
			}
			*credit = need
		}

		if s == nil || s.state != slotDirty {
			n := 0
			buf := v.newBuf(int(need))
			if load {
				buf = buf[:base]
				if err := v.loadLocked(ctx, f, idx, s, buf); err != nil {
					v.freeBuf(buf)
					return err
				}
				n = base
			}
			if s != nil {
				v.freeSlotLocked(s)
			}
			s = &slot{idx: idx, state: slotDirty, buf: buf, n: n, fill: n}
			f.slots[idx] = s
		} else if need > 0 {
			nb := v.newBuf(cap(s.buf) + int(need))[:s.n]
			copy(nb, s.buf[:s.n])
			v.freeBuf(s.buf)
			s.buf = nb
		}
		*credit -= need

		if end > s.n {
			s.buf = s.buf[:end]
			if so > s.n {
				clear(s.buf[s.n:so]) // a gap reads as zeros
			}
			s.n = end
		}
		copy(s.buf[so:], p)
		f.tick++
		s.touched, s.err = f.tick, nil
		prev := s.fill
		if so <= s.fill {
			s.fill = max(s.fill, end)
		}
		if prev < int(v.csize) && s.fill == int(v.csize) {
			v.startUploadLocked(f, s, false)
		}
		return nil
	}
}

// uploadErrLocked returns the error of a failed upload of f's, if any.
func (v *VFS) uploadErrLocked(f *file) error {
	for _, s := range f.slots {
		v.reapLocked(s)
		if s.state == slotDirty && s.err != nil {
			return s.err
		}
	}
	return nil
}

// baseLenLocked is the length of the current data of slot idx (whose
// changed state is s, or nil), clipped to the file size.
func (v *VFS) baseLenLocked(f *file, idx uint64, s *slot) int {
	limit := f.size - int64(idx)*v.csize
	if limit <= 0 {
		return 0
	}
	var n int
	switch {
	case s != nil:
		switch s.state {
		case slotDirty, slotUploading, slotSpilled:
			n = s.n
		case slotPending:
			n = int(s.ref.Len)
		}
	case idx == 0 && f.isInline:
		n = len(f.inline)
	default:
		n = int(f.committed[idx].Len)
	}
	return int(min(int64(n), limit))
}

// loadLocked fills buf with the current data of slot idx (changed state s
// or nil): from the spill file, the uploaded chunk, the committed chunk or
// the inline bytes.
func (v *VFS) loadLocked(ctx context.Context, f *file, idx uint64, s *slot, buf []byte) error {
	switch {
	case s != nil && s.state == slotSpilled:
		if err := v.spill.readAt(buf, s.spillOff, 0); err != nil {
			return v.errno("read spill file", err)
		}
		return nil
	case s != nil && s.state == slotPending:
		return v.readChunk(ctx, s.ref.ID, buf)
	case s != nil:
		clear(buf)
		return nil
	case idx == 0 && f.isInline:
		copy(buf, f.inline)
		return nil
	}
	ref, ok := f.committed[idx]
	if !ok {
		clear(buf)
		return nil
	}
	return v.readChunk(ctx, ref.ID, buf)
}

// readChunk copies the first len(buf) bytes of chunk id into buf.
func (v *VFS) readChunk(ctx context.Context, id store.ChunkID, buf []byte) error {
	data, err := v.getChunk(ctx, id, len(buf))
	if err != nil {
		return v.chunkErrno(ctx, id, err)
	}
	copy(buf, data)
	return nil
}

// getChunk returns the verified bytes of chunk id (shared: not to be
// modified), at least need of them.
func (v *VFS) getChunk(ctx context.Context, id store.ChunkID, need int) ([]byte, error) {
	data, ok := v.recent.get(id)
	if !ok {
		var err error
		data, err = v.cs.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		v.recent.add(id, data)
	}
	if len(data) < need {
		return nil, fmt.Errorf("%w: chunk %s holds %d bytes, the file needs %d", store.ErrCorrupt, id, len(data), need)
	}
	return data, nil
}

// chunkErrno turns a failure to read chunk id into EINTR or EIO: a chunk
// that is corrupt, missing or short is logged once per chunk, and never
// gives wrong bytes.
func (v *VFS) chunkErrno(ctx context.Context, id store.ChunkID, err error) error {
	if ctx.Err() != nil {
		return syscall.EINTR
	}
	v.logOnce("read chunk "+id.String(), err)
	return syscall.EIO
}

// numSlots is how many slots a file of size bytes spans.
func (v *VFS) numSlots(size int64) uint64 {
	n := uint64(size / v.csize)
	if size%v.csize != 0 {
		n++
	}
	return n
}

// startUploadLocked hands s's buffer to a background upload. token says
// the upload holds the readback token, given back when it ends. When the
// upload ends, the goroutine reaps s itself (under f.mu, after leaving the
// task group, so neither a flush holding f.mu nor Close waiting for tasks
// can deadlock with it): the buffer goes back to the pool at once, instead
// of staying live until the next write or flush of the file touches s.
func (v *VFS) startUploadLocked(f *file, s *slot, token bool) {
	up := &upload{done: make(chan struct{})}
	s.state, s.up = slotUploading, up
	data := s.buf[:s.n]
	c := int64(cap(s.buf))
	v.mem.startUpload(c)
	v.tasks.add()
	go func() {
		up.id, up.index, up.at, up.err = v.put(data)
		v.mem.endUpload(c, up.err == nil)
		if token {
			<-v.readback
		}
		close(up.done)
		v.tasks.done()
		f.mu.Lock()
		if f.slots[s.idx] == s && s.up == up {
			v.reapLocked(s)
		}
		f.mu.Unlock()
	}()
}

// put stores data as a chunk, holding a pending reference on its ID from
// before the upload (so the GC on this host cannot delete a chunk
// deduplicated onto). On success the reference stays, for the slot to
// drop once committed. It returns the applied index read before the
// upload (the commit's meta.Cmd.UploadIndex, which orders it with the
// deletions of any host: see meta.Tombstone) and when the upload began.
// A chunk at risk of such a deletion (garbage already, or tombstoned) is
// kept in memory too, while room allows, so that a refused commit can
// upload it again (see stale.go).
func (v *VFS) put(data []byte) (store.ChunkID, uint64, time.Time, error) {
	ctx := v.bg
	select {
	case v.upSem <- struct{}{}:
	case <-ctx.Done():
		return store.ChunkID{}, 0, time.Time{}, ctx.Err()
	}
	defer func() { <-v.upSem }()
	id := store.Sum(data)
	if err := v.pending.add(ctx, id); err != nil {
		return id, 0, time.Time{}, err
	}
	// After add: a deletion by this host's GC that add waited for is
	// absolved by now, so the index covers it.
	index, at := v.appliedIndex(), time.Now()
	if err := v.cs.PutID(ctx, id, data); err != nil {
		v.pending.release(id)
		return id, 0, time.Time{}, err
	}
	if v.chunkAtRisk(ctx, id) {
		v.pending.keep(id, data)
	}
	return id, index, at, nil
}

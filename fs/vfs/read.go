package vfs

import (
	"context"
	"errors"
	"syscall"

	"github.com/dfsproject/dfs/store"
)

// chunkRead is part of a read served from a chunk, fetched without the file
// lock held.
type chunkRead struct {
	id store.ChunkID
	n  int    // bytes of the chunk that belong to the slot
	so int    // offset in the slot of d[0]
	d  []byte // destination
}

// Read implements FileSystem. Bytes come from the slot's buffer, the spill
// file, the uploaded or committed chunk, the inline bytes, or are zeros.
func (v *VFS) Read(ctx context.Context, h *Handle, dest []byte, off int64) (int, error) {
	n, err := v.read(ctx, h, dest, off, false)
	if errors.Is(err, store.ErrNotFound) {
		// The chunk list changed since the read looked at it, and the
		// chunk it had was collected (possible with a short GCGrace):
		// look again.
		n, err = v.read(ctx, h, dest, off, true)
	}
	return n, err
}

// read is Read; a missing chunk is returned as such unless last.
func (v *VFS) read(ctx context.Context, h *Handle, dest []byte, off int64, last bool) (int, error) {
	if h == nil || h.f == nil || !h.read {
		return 0, syscall.EBADF
	}
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	f := h.f
	f.mu.Lock()
	if h.released {
		f.mu.Unlock()
		return 0, syscall.EBADF
	}
	if off >= f.size || len(dest) == 0 {
		f.mu.Unlock()
		return 0, nil
	}
	n := int(min(int64(len(dest)), f.size-off))
	dest = dest[:n]
	var fetches []chunkRead
	for pos := 0; pos < n; {
		abs := off + int64(pos)
		idx, so := uint64(abs/v.csize), int(abs%v.csize)
		k := min(int(v.csize)-so, n-pos)
		d := dest[pos : pos+k]
		pos += k
		s := f.slots[idx]
		if s == nil {
			switch ref, ok := f.committed[idx]; {
			case ok:
				fetches = append(fetches, chunkRead{id: ref.ID, n: int(ref.Len), so: so, d: d})
			case idx == 0 && f.isInline:
				copyAt(d, f.inline, so)
			default:
				clear(d)
			}
			continue
		}
		v.reapLocked(s)
		switch s.state {
		case slotDirty, slotUploading:
			copyAt(d, s.buf[:s.n], so)
		case slotSpilled:
			m := max(min(len(d), s.n-so), 0)
			if m > 0 {
				if err := v.spill.readAt(d[:m], s.spillOff, int64(so)); err != nil {
					f.mu.Unlock()
					return 0, v.errno("read spill file", err)
				}
			}
			clear(d[m:])
		case slotPending:
			fetches = append(fetches, chunkRead{id: s.ref.ID, n: int(s.ref.Len), so: so, d: d})
		case slotHole:
			clear(d)
		}
	}
	ahead := v.readAheadLocked(h, f, off, n)
	f.mu.Unlock()

	for _, fr := range fetches {
		if fr.so >= fr.n {
			clear(fr.d)
			continue
		}
		m := min(len(fr.d), fr.n-fr.so)
		data, err := v.getChunk(ctx, fr.id, fr.so+m)
		if err != nil {
			if !last && ctx.Err() == nil && errors.Is(err, store.ErrNotFound) {
				return 0, err
			}
			return 0, v.chunkErrno(ctx, fr.id, err)
		}
		copy(fr.d, data[fr.so:fr.so+m])
		clear(fr.d[m:])
	}
	v.prefetch(ahead)
	return n, nil
}

// copyAt copies src[so:] into d and zeros the rest of d.
func copyAt(d, src []byte, so int) {
	c := 0
	if so < len(src) {
		c = copy(d, src[so:])
	}
	clear(d[c:])
}

// readAheadLocked notes where h's read ended and, when the read is
// sequential and enters a new slot, returns the chunks of the next
// ReadAheadChunks slots to fetch in the background.
func (v *VFS) readAheadLocked(h *Handle, f *file, off int64, n int) []store.ChunkID {
	last := h.lastEnd.Swap(off + int64(n))
	if v.cfg.ReadAheadChunks == 0 || off != last {
		return nil
	}
	if off > 0 && uint64((off-1)/v.csize) == uint64((off+int64(n)-1)/v.csize) {
		return nil // still in the slot the previous read was in
	}
	end := uint64((off + int64(n) - 1) / v.csize)
	var ids []store.ChunkID
	for i := end + 1; i <= end+uint64(v.cfg.ReadAheadChunks); i++ {
		if i >= v.numSlots(f.size) {
			break
		}
		if s := f.slots[i]; s != nil {
			if s.state == slotPending {
				ids = append(ids, s.ref.ID)
			}
			continue
		}
		if ref, ok := f.committed[i]; ok {
			ids = append(ids, ref.ID)
		}
	}
	return ids
}

// prefetch loads chunks into the chunk store's cache in the background, as
// many at once as ReadAheadChunks; more are skipped, not queued.
func (v *VFS) prefetch(ids []store.ChunkID) {
	for _, id := range ids {
		if _, ok := v.recent.get(id); ok {
			continue
		}
		select {
		case v.raSem <- struct{}{}:
		default:
			return
		}
		v.tasks.add()
		go func() {
			defer v.tasks.done()
			defer func() { <-v.raSem }()
			if data, err := v.cs.Get(v.bg, id); err == nil {
				v.recent.add(id, data)
			}
		}()
	}
}

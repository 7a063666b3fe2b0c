package vfs

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// slotState is where the current bytes of a changed slot are.
type slotState uint8

const (
	slotDirty     slotState = iota // in buf[:n]
	slotUploading                  // in buf[:n], immutable while up runs
	slotSpilled                    // in the spill file at spillOff, n bytes
	slotPending                    // in chunk ref.ID, uploaded but not committed
	slotHole                       // cleared by a hole punch: zeros
)

// upload is one background chunk upload. id, index, at and err are set
// before done is closed.
type upload struct {
	done  chan struct{}
	id    store.ChunkID
	index uint64    // the applied index read before the upload (see put)
	at    time.Time // when the upload began
	err   error
}

// slot is one ChunkSize-long slot of a file changed since the last commit.
// Bytes from n to the end of the slot (up to the file size) read as zeros.
type slot struct {
	idx      uint64
	state    slotState
	n        int    // length of the slot's data
	fill     int    // bytes [0, fill) were written (or loaded) contiguously
	buf      []byte // slotDirty, slotUploading; cap counted in VFS.mem
	spillOff int64  // slotSpilled
	ref      meta.ChunkRef
	upIndex  uint64    // slotPending: the upload's applied index (meta.Cmd.UploadIndex)
	upAt     time.Time // slotPending: when the upload began
	up       *upload
	err      error  // the last failed upload of this data
	touched  uint64 // file.tick at the last write, for choosing what to spill
}

// file is the state shared by all handles of one inode on this host.
type file struct {
	ino meta.Ino

	refs int // guarded by VFS.mu

	mu sync.Mutex
	// Guarded by mu.
	size      int64
	mtime     int64
	dirty     bool                     // something changed since the last commit
	committed map[uint64]meta.ChunkRef // the committed chunk list
	isInline  bool                     // committed content is inline
	inline    []byte                   // ... and these are its bytes (shared, never modified)
	slots     map[uint64]*slot         // slots changed since the last commit
	tick      uint64
	// The committed version: its size, mtime and ctime (to skip reloads).
	metaSize, metaMtime, metaCtime int64
	loaded                         bool

	// Size and mtime published for GetAttr, which must not wait for mu
	// (held during flushes).
	pubSize, pubMtime atomic.Int64
	pubLoaded         atomic.Bool
}

func (f *file) publishLocked() {
	f.pubSize.Store(f.size)
	f.pubMtime.Store(f.mtime)
	f.pubLoaded.Store(f.loaded)
}

// getFile returns ino's open state with one more reference, or ENOENT
// for an inode being reclaimed.
func (v *VFS) getFile(ino meta.Ino) (*file, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.reclaiming[ino]; ok {
		return nil, syscall.ENOENT
	}
	f := v.files[ino]
	if f == nil {
		f = &file{
			ino:       ino,
			committed: make(map[uint64]meta.ChunkRef),
			slots:     make(map[uint64]*slot),
		}
		v.files[ino] = f
	}
	f.refs++
	return f, nil
}

// openFile returns ino's open state if it has one.
func (v *VFS) openFile(ino meta.Ino) *file {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.files[ino]
}

// overlay replaces the size and mtime in attr by those of the local open
// state: it includes writes not committed yet, and commits the local
// replica may not have applied yet.
func (v *VFS) overlay(attr *meta.Attr) {
	if f := v.openFile(attr.Ino); f != nil && attr.IsReg() {
		if f.pubLoaded.Load() {
			attr.Size = uint64(f.pubSize.Load())
			attr.Mtime = f.pubMtime.Load()
		}
	}
}

// refreshLocked loads the committed version of f from the metadata
// (close-to-open), keeping local changes not committed yet. A known attr
// (from a Create) saves the lookup.
func (v *VFS) refreshLocked(ctx context.Context, f *file, known *meta.Attr) error {
	var attr meta.Attr
	if known != nil {
		attr = *known
	} else {
		a, err := v.r.GetAttr(ctx, f.ino)
		if err != nil {
			return v.errno("getattr", err)
		}
		attr = a
	}
	if attr.IsDir() {
		return syscall.EISDIR
	}
	if !attr.IsReg() {
		return syscall.EINVAL
	}
	if f.loaded && attr.Ctime == f.metaCtime && uint64(f.metaSize) == attr.Size {
		return nil
	}
	committed := make(map[uint64]meta.ChunkRef)
	var inline []byte
	switch {
	case attr.Size == 0:
	case attr.Inline:
		b, err := v.r.Inline(ctx, f.ino)
		if err != nil {
			return v.errno("read inline", err)
		}
		inline = b
	default:
		refs, err := v.r.Chunks(ctx, f.ino)
		if err != nil {
			return v.errno("read chunk list", err)
		}
		for _, r := range refs {
			if !r.ID.IsZero() {
				committed[r.Index] = r
			}
		}
	}
	f.committed, f.inline, f.isInline = committed, inline, attr.Inline
	f.setCommittedAttrLocked(&attr)
	if !f.dirty {
		f.size, f.mtime = f.metaSize, f.metaMtime
	}
	f.loaded = true
	f.publishLocked()
	return nil
}

// setCommittedAttrLocked records the attributes of the committed version.
func (f *file) setCommittedAttrLocked(a *meta.Attr) {
	f.metaSize, f.metaMtime, f.metaCtime = int64(a.Size), a.Mtime, a.Ctime
}

// trimLocked drops committed slots at or past size and shortens the one
// holding the end of file, as Apply does on a truncate.
func (f *file) trimLocked(csize, size int64) {
	for idx, r := range f.committed {
		start := int64(idx) * csize
		switch {
		case start >= size:
			delete(f.committed, idx)
		case size-start < int64(r.Len):
			r.Len = uint32(size - start)
			f.committed[idx] = r
		}
	}
	if f.isInline && int64(len(f.inline)) > size {
		f.inline = f.inline[:size]
	}
}

// reapLocked records the outcome of s's upload if it has finished.
func (v *VFS) reapLocked(s *slot) {
	if s.state != slotUploading {
		return
	}
	select {
	case <-s.up.done:
	default:
		return
	}
	if s.up.err == nil {
		v.freeBuf(s.buf)
		s.state, s.buf, s.err = slotPending, nil, nil
		s.ref = meta.ChunkRef{Index: s.idx, ID: s.up.id, Len: uint32(s.n)}
		s.upIndex, s.upAt = s.up.index, s.up.at
	} else {
		s.state, s.err = slotDirty, s.up.err
	}
	s.up = nil
}

// waitUploadLocked waits for s's upload to finish (uploads take no file
// lock) and reaps it.
func (v *VFS) waitUploadLocked(ctx context.Context, s *slot) error {
	if s.state != slotUploading {
		return nil
	}
	select {
	case <-s.up.done:
	case <-ctx.Done():
		return syscall.EINTR
	}
	v.reapLocked(s)
	return nil
}

// freeSlotLocked gives back what s holds. s must not be uploading.
func (v *VFS) freeSlotLocked(s *slot) {
	switch s.state {
	case slotDirty:
		v.mem.release(int64(cap(s.buf)))
		v.freeBuf(s.buf)
		s.buf = nil
	case slotSpilled:
		v.spill.release(s.spillOff)
	case slotPending:
		// The uploaded chunk is superseded: never referenced, its
		// object is left to the backend sweep of unreferenced chunks.
		v.pending.release(s.ref.ID)
	case slotUploading:
		panic("vfs: freeing a slot being uploaded")
	}
}

// discardLocked drops every uncommitted change of f, after its uploads end.
func (v *VFS) discardLocked(f *file) {
	for _, s := range f.slots {
		if s.state == slotUploading {
			<-s.up.done
			v.reapLocked(s)
		}
		v.freeSlotLocked(s)
	}
	f.slots = make(map[uint64]*slot)
	if f.dirty {
		f.dirty = false
		f.size, f.mtime = f.metaSize, f.metaMtime
		f.trimLocked(v.csize, f.size)
		f.publishLocked()
	}
}

// sortedSlots returns f's changed slots by index.
func (f *file) sortedSlots() []*slot {
	out := make([]*slot, 0, len(f.slots))
	for _, s := range f.slots {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].idx < out[j].idx })
	return out
}

// Open implements FileSystem.
func (v *VFS) Open(ctx context.Context, c Caller, ino meta.Ino, flags uint32) (*Handle, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if v.isClosed() {
		return nil, syscall.EIO
	}
	v.barrier(ctx)
	return v.openIno(ctx, ino, flags, nil)
}

func (v *VFS) openIno(ctx context.Context, ino meta.Ino, flags uint32, known *meta.Attr) (*Handle, error) {
	h := &Handle{}
	switch flags & syscall.O_ACCMODE {
	case syscall.O_RDONLY:
		h.read = true
	case syscall.O_WRONLY:
		h.write = true
	case syscall.O_RDWR:
		h.read, h.write = true, true
	default:
		return nil, syscall.EINVAL
	}
	h.append = flags&syscall.O_APPEND != 0
	f, err := v.getFile(ino)
	if err != nil {
		return nil, err
	}
	h.f = f
	f.mu.Lock()
	err = v.refreshLocked(ctx, f, known)
	if err == nil && flags&syscall.O_TRUNC != 0 && h.write && (f.size != 0 || f.dirty) {
		_, err = v.setAttrLocked(ctx, f, &meta.Cmd{Op: meta.OpSetAttr, Ino: ino, Valid: meta.SetSize})
	}
	f.mu.Unlock()
	if err != nil {
		v.putFile(ctx, f, false)
		return nil, err
	}
	return h, nil
}

// Release implements FileSystem. The last handle of an inode flushes what
// is left (a failed earlier flush), drops what still cannot be committed,
// and reclaims the inode if it was unlinked.
func (v *VFS) Release(ctx context.Context, h *Handle) error {
	if h == nil || h.f == nil {
		return syscall.EBADF
	}
	f := h.f
	f.mu.Lock()
	if h.released {
		f.mu.Unlock()
		return syscall.EBADF
	}
	h.released = true
	f.mu.Unlock()
	v.putFile(ctx, f, true)
	return nil
}

// putFile drops one reference on f. The last one flushes what is left
// (unless the inode is an orphan: nobody can read it any more), drops
// what still cannot be committed, and reclaims an orphan that the kernel
// no longer references either.
func (v *VFS) putFile(ctx context.Context, f *file, flush bool) {
	ctx = context.WithoutCancel(ctx)
	v.mu.Lock()
	_, orphan := v.orphans[f.ino]
	last := f.refs == 1
	v.mu.Unlock()
	if last && !orphan && flush {
		// Whatever handle made them, writes not committed yet (a
		// failed flush) get a last chance.
		f.mu.Lock()
		if f.dirty {
			if err := v.flushLocked(ctx, f); err != nil {
				v.log.Warn("vfs: release: writes not committed are lost",
					slog.Uint64("ino", uint64(f.ino)), slog.Any("err", err))
			}
		}
		f.mu.Unlock()
	}
	v.mu.Lock()
	f.refs--
	last = f.refs == 0
	take := false
	if last {
		delete(v.files, f.ino)
		take = v.takeOrphanLocked(f.ino)
	}
	v.mu.Unlock()
	if !last {
		return
	}
	f.mu.Lock()
	v.discardLocked(f)
	f.mu.Unlock()
	switch {
	case take:
		v.reclaimLogged(ctx, f.ino)
	case !orphan && v.cfg.OthersHold != nil:
		v.orphanedElsewhere(ctx, f.ino)
	}
}

package vfs

import (
	"context"
	"math"
	"syscall"
	"time"
)

// Fallocate implements FileSystem. Mode 0 extends the size (the new range
// is a hole: nothing is stored) and never shrinks; FallocKeepSize alone
// only validates; FallocPunchHole|FallocKeepSize and FallocZeroRange (with
// or without FallocKeepSize) turn slots whose data lies wholly in the range
// into holes and write zeros over the rest, through the write path. Other
// modes are EOPNOTSUPP.
func (v *VFS) Fallocate(ctx context.Context, h *Handle, off, length uint64, mode uint32) error {
	if h == nil || h.f == nil || !h.write {
		return syscall.EBADF
	}
	if err := ctxErr(ctx); err != nil {
		return err
	}
	switch mode {
	case 0, FallocKeepSize, FallocPunchHole | FallocKeepSize, FallocZeroRange, FallocZeroRange | FallocKeepSize:
	default:
		return syscall.EOPNOTSUPP
	}
	if length == 0 || off > math.MaxInt64 || length > math.MaxInt64 {
		return syscall.EINVAL
	}
	if off > math.MaxInt64-length {
		return syscall.EFBIG
	}
	start, end := int64(off), int64(off+length)
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if h.released {
		return syscall.EBADF
	}
	switch mode {
	case FallocKeepSize:
		return nil
	case 0:
		if end > f.size {
			f.size, f.mtime, f.dirty = end, time.Now().UnixNano(), true
			f.publishLocked()
		}
		return nil
	}
	f.dirty = true
	if start < f.size {
		if err := v.zeroLocked(ctx, f, start, min(end, f.size)); err != nil {
			return err
		}
	}
	if mode == FallocZeroRange && end > f.size {
		f.size = end
	}
	f.mtime, f.dirty = time.Now().UnixNano(), true
	f.publishLocked()
	return nil
}

// zeroLocked makes [a, b) of f read as zeros (b <= size): a slot whose data
// lies wholly in the range becomes a hole, data partly in it is
// overwritten with zeros.
func (v *VFS) zeroLocked(ctx context.Context, f *file, a, b int64) error {
	for pos := a; pos < b; {
		idx, so := uint64(pos/v.csize), int(pos%v.csize)
		k := int(min(v.csize-int64(so), b-pos))
		pos += int64(k)
		s := f.slots[idx]
		if s != nil {
			if err := v.waitUploadLocked(ctx, s); err != nil {
				return err
			}
		}
		n := v.baseLenLocked(f, idx, s)
		switch {
		case so >= n:
			// Zeros already.
		case so == 0 && k >= n:
			if s != nil {
				v.freeSlotLocked(s)
			}
			f.slots[idx] = &slot{idx: idx, state: slotHole}
		default:
			var credit int64
			zeros := make([]byte, min(k, n-so))
			err := v.writeSlotLocked(ctx, f, idx, so, zeros, &credit)
			v.mem.release(credit)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Lseek implements FileSystem for SeekData and SeekHole, at slot
// granularity: a slot with data (in memory, spilled, uploaded or
// committed) is data up to its end or the end of file; the end of file is
// a hole. SEEK_SET, SEEK_CUR and SEEK_END are the kernel's: EINVAL here.
func (v *VFS) Lseek(ctx context.Context, h *Handle, off int64, whence int) (int64, error) {
	if h == nil || h.f == nil {
		return 0, syscall.EBADF
	}
	if err := ctxErr(ctx); err != nil {
		return 0, err
	}
	if whence != SeekData && whence != SeekHole {
		return 0, syscall.EINVAL
	}
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < 0 || off >= f.size {
		return 0, syscall.ENXIO
	}
	idx := uint64(off / v.csize)
	if whence == SeekData {
		if v.hasDataLocked(f, idx) {
			return off, nil
		}
		next, ok := uint64(0), false
		consider := func(i uint64) {
			if i > idx && (!ok || i < next) && v.hasDataLocked(f, i) {
				next, ok = i, true
			}
		}
		for i := range f.slots {
			consider(i)
		}
		for i := range f.committed {
			consider(i)
		}
		if !ok || int64(next)*v.csize >= f.size {
			return 0, syscall.ENXIO
		}
		return int64(next) * v.csize, nil
	}
	if !v.hasDataLocked(f, idx) {
		return off, nil
	}
	i := idx + 1
	for i < v.numSlots(f.size) && v.hasDataLocked(f, i) {
		i++
	}
	return min(int64(i)*v.csize, f.size), nil
}

// hasDataLocked reports whether slot idx of f holds data.
func (v *VFS) hasDataLocked(f *file, idx uint64) bool {
	if s := f.slots[idx]; s != nil {
		return s.state != slotHole && s.n > 0
	}
	if idx == 0 && f.isInline {
		return len(f.inline) > 0
	}
	_, ok := f.committed[idx]
	return ok
}

package vfs

import (
	"context"
	"errors"
	"sort"
	"sync"
	"syscall"
	"time"
)

// dirtyMem accounts for the write buffers of all open files (by capacity).
// Writers reserve before they grow or load a slot buffer, without holding
// a file lock; running uploads give their buffer's bytes back when they
// finish. All fields are protected by mu, a leaf lock.
type dirtyMem struct {
	mu       sync.Mutex
	max      int64
	used     int64 // bytes of slot buffers (dirty, uploading) and reservations
	inflight int64 // part of used held by running uploads
	peak     int64
	wake     chan struct{} // closed and replaced whenever bytes are released
}

func newDirtyMem(max int64) *dirtyMem {
	return &dirtyMem{max: max, wake: make(chan struct{})}
}

// tryReserve adds n to used if that stays within max.
func (m *dirtyMem) tryReserve(n int64) bool {
	if n <= 0 {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used+n > m.max {
		return false
	}
	m.addLocked(n)
	return true
}

// force adds n to used even beyond max. Callers bound how much they force.
func (m *dirtyMem) force(n int64) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	m.addLocked(n)
	m.mu.Unlock()
}

func (m *dirtyMem) addLocked(n int64) {
	m.used += n
	m.peak = max(m.peak, m.used)
}

// release gives back n bytes and wakes waiters.
func (m *dirtyMem) release(n int64) {
	if n <= 0 {
		return
	}
	m.mu.Lock()
	m.used -= n
	m.wakeLocked()
	m.mu.Unlock()
}

func (m *dirtyMem) wakeLocked() {
	close(m.wake)
	m.wake = make(chan struct{})
}

// startUpload moves n bytes of used into inflight.
func (m *dirtyMem) startUpload(n int64) {
	m.mu.Lock()
	m.inflight += n
	m.mu.Unlock()
}

// endUpload takes n bytes out of inflight, and out of used when the upload
// succeeded (the buffer is no longer needed); a failed upload's buffer stays
// dirty.
func (m *dirtyMem) endUpload(n int64, ok bool) {
	m.mu.Lock()
	m.inflight -= n
	if ok {
		m.used -= n
	}
	m.wakeLocked()
	m.mu.Unlock()
}

func (m *dirtyMem) state() (wake <-chan struct{}, inflight int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.wake, m.inflight
}

// stats returns used and peak (for tests and metrics).
func (m *dirtyMem) stats() (used, peak int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used, m.peak
}

// acquire reserves n bytes of dirty memory, waiting while the bound is
// reached: for running uploads to finish if there are any, else after
// spilling partial slots of idle files to disk. The caller holds no file
// lock. If nothing at all frees memory for stallLimit (the spill directory
// is full or broken, say), it goes over the bound rather than hang, and
// logs it once.
func (v *VFS) acquire(ctx context.Context, n int64, self *file) error {
	stall := time.Duration(0)
	for {
		if v.mem.tryReserve(n) {
			return nil
		}
		wake, inflight := v.mem.state()
		if inflight == 0 && v.spillSome(n, self) > 0 {
			stall = 0
			continue
		}
		if inflight == 0 && stall >= stallLimit {
			v.logOnce("dirty memory bound exceeded: nothing could be uploaded or spilled", errStalled)
			v.mem.force(n)
			return nil
		}
		// Uploads will free memory, or a busy file could not be spilled
		// now: wait for a release, and look again after a while.
		const tick = 20 * time.Millisecond
		t := time.NewTimer(tick)
		select {
		case <-ctx.Done():
			t.Stop()
			return syscall.EINTR
		case <-wake:
			stall = 0
		case <-t.C:
			stall += tick
		}
		t.Stop()
	}
}

// stallLimit is how long acquire waits without any memory freed before it
// goes over the bound.
const stallLimit = 2 * time.Second

var errStalled = errors.New("no upload running and no slot could be spilled")

// spillSome writes partial slot buffers of open files to the spill file
// until want bytes are freed, other files before self, least recently
// written slots first. Files whose lock is taken are skipped: a busy file
// frees its memory itself. It returns the bytes freed.
func (v *VFS) spillSome(want int64, self *file) int64 {
	v.mu.Lock()
	files := make([]*file, 0, len(v.files))
	for _, f := range v.files {
		if f != self {
			files = append(files, f)
		}
	}
	v.mu.Unlock()
	if self != nil {
		files = append(files, self)
	}
	var freed int64
	for _, f := range files {
		if freed >= want {
			break
		}
		if !f.mu.TryLock() {
			continue
		}
		freed += v.spillFileLocked(f, want-freed)
		f.mu.Unlock()
	}
	return freed
}

// spillFileLocked spills f's dirty slots that are not uploading, oldest
// write first, until want bytes are freed.
func (v *VFS) spillFileLocked(f *file, want int64) int64 {
	var cand []*slot
	for _, s := range f.slots {
		if s.state == slotDirty && s.buf != nil {
			cand = append(cand, s)
		}
	}
	sort.Slice(cand, func(i, j int) bool { return cand[i].touched < cand[j].touched })
	var freed int64
	for _, s := range cand {
		if freed >= want {
			break
		}
		off, err := v.spill.write(s.buf[:s.n])
		if err != nil {
			v.logOnce("spill", err)
			return freed
		}
		c := int64(cap(s.buf))
		v.freeBuf(s.buf)
		s.buf, s.state, s.spillOff = nil, slotSpilled, off
		v.mem.release(c)
		freed += c
	}
	return freed
}

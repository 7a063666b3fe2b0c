package vfs

import (
	"fmt"
	"os"
	"sync"
)

// spillFile keeps partially written slots that do not fit in the dirty
// memory bound. It is one unlinked temporary file under Config.SpillDir,
// cut into extents of ChunkSize bytes that are reused once freed, so a
// crash leaves nothing behind and its size stays at the peak of spilled
// slots. It is safe for concurrent use (mu is a leaf lock; reads and
// writes of distinct extents run in parallel).
type spillFile struct {
	dir    string
	extent int64

	mu   sync.Mutex
	f    *os.File
	end  int64   // extents in [0, end) have been handed out once
	free []int64 // offsets of freed extents
}

func newSpillFile(dir string, extent int64) *spillFile {
	if dir == "" {
		dir = os.TempDir()
	}
	return &spillFile{dir: dir, extent: extent}
}

func (s *spillFile) alloc() (*os.File, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, 0, fmt.Errorf("spill dir: %w", err)
		}
		f, err := os.CreateTemp(s.dir, "vfs-spill-*")
		if err != nil {
			return nil, 0, fmt.Errorf("spill file: %w", err)
		}
		// Unlinked at once: the space goes back to the system when the
		// file is closed, even after a crash.
		_ = os.Remove(f.Name())
		s.f = f
	}
	if n := len(s.free); n > 0 {
		off := s.free[n-1]
		s.free = s.free[:n-1]
		return s.f, off, nil
	}
	off := s.end
	s.end += s.extent
	return s.f, off, nil
}

// write stores data (at most one extent) and returns its offset.
func (s *spillFile) write(data []byte) (int64, error) {
	f, off, err := s.alloc()
	if err != nil {
		return 0, err
	}
	if _, err := f.WriteAt(data, off); err != nil {
		s.release(off)
		return 0, fmt.Errorf("spill write: %w", err)
	}
	return off, nil
}

// readAt reads len(p) bytes spilled at off+pos.
func (s *spillFile) readAt(p []byte, off, pos int64) error {
	s.mu.Lock()
	f := s.f
	s.mu.Unlock()
	if _, err := f.ReadAt(p, off+pos); err != nil {
		return fmt.Errorf("spill read: %w", err)
	}
	return nil
}

// release frees the extent at off.
func (s *spillFile) release(off int64) {
	s.mu.Lock()
	s.free = append(s.free, off)
	s.mu.Unlock()
}

// close removes the spill file.
func (s *spillFile) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f, s.end, s.free = nil, 0, nil
	return err
}

// idle reports whether no extent is in use.
func (s *spillFile) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.free))*s.extent == s.end
}

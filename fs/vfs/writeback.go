package vfs

import (
	"context"
	"log/slog"
	"time"
)

// Writeback. A chunk uploaded for a file that stays open is referenced
// only once the file is flushed (closed or fsynced). The chunk collectors
// of every node delete an object that no reference needs once it is older
// than GCGrace (an upload a crashed writer never committed), and Raft
// tombstones make such a deletion refuse the late commit, which then
// fails: a file written for longer than the grace without a flush would
// lose its early chunks. So Run commits, as an fsync would, every open
// file whose oldest uncommitted upload began more than a third of the
// grace ago: uploads are referenced well within the grace, whatever the
// writer does.

// writebackAge is how old an uncommitted upload may get before Run
// commits its file; 0 (no grace) turns writeback off.
func (v *VFS) writebackAge() time.Duration {
	return v.cfg.GCGrace / 3
}

// commitOldUploads flushes the open files that hold an upload older than
// age. A file busy with another operation is left for the next round.
func (v *VFS) commitOldUploads(ctx context.Context, age time.Duration) {
	v.mu.Lock()
	files := make([]*file, 0, len(v.files))
	for _, f := range v.files {
		files = append(files, f)
	}
	v.mu.Unlock()
	now := time.Now()
	for _, f := range files {
		if !f.mu.TryLock() {
			continue
		}
		old := false
		for _, s := range f.slots {
			v.reapLocked(s)
			if s.state == slotPending && !s.upAt.IsZero() && now.Sub(s.upAt) > age {
				old = true
				break
			}
		}
		if old {
			if err := v.flushLocked(ctx, f); err != nil && ctx.Err() == nil {
				v.log.Warn("vfs: writeback of a file open for long", slog.Uint64("ino", uint64(f.ino)), slog.Any("err", err))
			}
		}
		f.mu.Unlock()
	}
}

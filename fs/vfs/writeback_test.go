package vfs

import (
	"context"
	"testing"
	"time"
)

// TestWritebackCommitsOldUploads: a file kept open after a chunk was
// uploaded is committed by Run once the upload is older than a third of
// the grace, without a flush from the writer; a file whose upload is
// young is not.
func TestWritebackCommitsOldUploads(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.GCGrace = 600 * time.Millisecond }})
	data := pattern(int(e.cfg.ChunkSize), 3)
	h := uploadPending(e, e.v, "open", data)
	defer e.v.Release(e.ctx, h)
	ino := h.f.ino
	size := func() uint64 {
		a, err := e.fsm.GetAttr(e.ctx, ino)
		if err != nil {
			t.Fatal(err)
		}
		return a.Size
	}
	e.v.commitOldUploads(e.ctx, time.Hour)
	if got := size(); got != 0 {
		t.Fatalf("committed %d bytes of a young upload", got)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.v.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	eventually(t, "the writeback commit", func() bool { return size() == uint64(len(data)) })
	refs, err := e.fsm.Chunks(e.ctx, ino)
	if err != nil || len(refs) != 1 {
		t.Fatalf("chunks after writeback: %v, %v", refs, err)
	}
	if n, err := e.fsm.ChunkRefCount(e.ctx, refs[0].ID); err != nil || n != 1 {
		t.Fatalf("the chunk has %d references (%v); want 1", n, err)
	}
}

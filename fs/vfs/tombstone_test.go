package vfs

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// Two hosts: A (e.v) runs the chunk GC, B writes. They share the
// namespace and the chunk store's backend, as two nodes of a cluster do,
// but not the pending set that guards writers on the GC's own host.

// writeFile creates name on v, writes data and flushes; it returns the
// inode and the flush's error (the handle is released).
func writeFile(e *env, v *VFS, name string, data []byte) (meta.Ino, error) {
	e.t.Helper()
	a, h, err := v.Create(e.ctx, root, meta.RootIno, name, 0o644, syscall.O_RDWR)
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	if n, err := v.Write(e.ctx, h, data, 0); err != nil || n != len(data) {
		e.t.Fatalf("write %s: %d, %v", name, n, err)
	}
	err = v.Flush(e.ctx, h)
	if rerr := v.Release(e.ctx, h); rerr != nil {
		e.t.Fatalf("release %s: %v", name, rerr)
	}
	return a.Ino, err
}

// garbage writes data to a file on A and removes it, so that its chunks
// have no reference.
func garbage(e *env, name string, data []byte) {
	e.t.Helper()
	if _, err := writeFile(e, e.v, name, data); err != nil {
		e.t.Fatal(err)
	}
	if err := e.v.Unlink(e.ctx, meta.RootIno, name); err != nil {
		e.t.Fatal(err)
	}
}

// uploadPending writes one whole chunk of data to a new file on v (which
// uploads it at once) and waits until the slot is uploaded, not
// committed.
func uploadPending(e *env, v *VFS, name string, data []byte) *Handle {
	e.t.Helper()
	_, h, err := v.Create(e.ctx, root, meta.RootIno, name, 0o644, syscall.O_RDWR)
	if err != nil {
		e.t.Fatal(err)
	}
	if n, err := v.Write(e.ctx, h, data, 0); err != nil || n != len(data) {
		e.t.Fatalf("write: %d, %v", n, err)
	}
	eventually(e.t, "the upload", func() bool {
		h.f.mu.Lock()
		defer h.f.mu.Unlock()
		s := h.f.slots[0]
		v.reapLocked(s)
		return s.state == slotPending
	})
	return h
}

// TestFlushAfterRemoteGC: host B uploaded (found stored) a garbage chunk;
// host A's GC deletes it before B commits. The commit is refused, B
// uploads its kept copy again and commits: the file reads back.
func TestFlushAfterRemoteGC(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.freshVFS()
	data := pattern(int(e.cfg.ChunkSize), 1)
	garbage(e, "old", data)
	h := uploadPending(e, b, "new", data)
	if n, err := e.v.collectGarbage(e.ctx); err != nil || n != 1 || e.objects() != 0 {
		t.Fatalf("gc: %d deleted (%v), %d objects left; want the chunk B found stored deleted", n, err, e.objects())
	}
	if err := b.Flush(e.ctx, h); err != nil {
		t.Fatalf("flush after the GC deleted the upload: %v", err)
	}
	e.release(b, h)
	ino, err := e.v.Lookup(e.ctx, meta.RootIno, "new")
	if err != nil {
		t.Fatal(err)
	}
	equalBytes(t, "new", e.readAll(e.freshVFS(), ino.Ino), data)
}

// TestFlushAfterRemoteGCLost: without a kept copy (and with the object
// deleted) B's flush fails with EIO rather than commit a deleted chunk.
func TestFlushAfterRemoteGCLost(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.freshVFS()
	b.pending.keepMax = 0
	data := pattern(int(e.cfg.ChunkSize), 2)
	garbage(e, "old", data)
	h := uploadPending(e, b, "new", data)
	if n, err := e.v.collectGarbage(e.ctx); err != nil || n != 1 {
		t.Fatalf("gc: %d deleted (%v)", n, err)
	}
	wantErrno(t, b.Flush(e.ctx, h), syscall.EIO)
	a, err := e.fsm.Lookup(e.ctx, meta.RootIno, "new")
	if err != nil {
		t.Fatal(err)
	}
	if refs, _ := e.fsm.Chunks(e.ctx, a.Ino); len(refs) != 0 || a.Size != 0 {
		t.Fatalf("a deleted chunk was committed: %v, size %d", refs, a.Size)
	}
	b.Release(e.ctx, h)
}

// TestFlushWaitsForDeletion: a commit refused while a deletion is
// pending waits for its absolve; one refused by a collector that died
// (its lease over) closes the tombstone itself.
func TestFlushWaitsForDeletion(t *testing.T) {
	e := newEnv(t, envOpt{})
	b := e.freshVFS()
	ts := meta.NewTombstones(e.p)
	data := pattern(int(e.cfg.ChunkSize), 3)
	garbage(e, "old", data)
	id := store.Sum(data)

	h := uploadPending(e, b, "new", data)
	if got, err := ts.Condemn(e.ctx, []store.ChunkID{id}); err != nil || len(got) != 1 {
		t.Fatalf("condemn: %v, %v", got, err)
	}
	go func() {
		time.Sleep(3 * staleRetryWait)
		ts.Absolve(context.Background(), []store.ChunkID{id})
	}()
	start := time.Now()
	if err := b.Flush(e.ctx, h); err != nil {
		t.Fatalf("flush while a deletion is pending: %v", err)
	}
	if time.Since(start) < 2*staleRetryWait {
		t.Fatal("the commit did not wait for the pending deletion")
	}
	e.release(b, h)

	// A dead collector: its tombstone, condemned a lease ago, refuses
	// commits until the writer closes it.
	garbage(e, "old2", pattern(int(e.cfg.ChunkSize), 4))
	id2 := store.Sum(pattern(int(e.cfg.ChunkSize), 4))
	old := time.Now().Add(-meta.CondemnLease - time.Second).UnixNano()
	res, err := e.p.Propose(e.ctx, &meta.Cmd{Op: meta.OpCondemn, Now: old, ChunkIDs: []store.ChunkID{id2}})
	if err != nil || len(res.Condemned) != 1 {
		t.Fatalf("condemn: %+v, %v", res, err)
	}
	h = uploadPending(e, b, "new2", pattern(int(e.cfg.ChunkSize), 4))
	if err := b.Flush(e.ctx, h); err != nil {
		t.Fatalf("flush against an expired tombstone: %v", err)
	}
	e.release(b, h)
	if g, _ := e.fsm.ChunkGC(e.ctx, id2); g.Tombstone.Pending != 0 || g.Refs != 1 {
		t.Fatalf("chunk after the flush: %+v", g)
	}
}

// TestFlushChecksOldUploads: a pending chunk uploaded longer ago than a
// tombstone is kept is looked for before the commit; gone, the flush
// fails rather than commit it.
func TestFlushChecksOldUploads(t *testing.T) {
	e := newEnv(t, envOpt{})
	data := pattern(int(e.cfg.ChunkSize), 5)
	h := uploadPending(e, e.v, "f", data)
	age := func() {
		h.f.mu.Lock()
		h.f.slots[0].upAt = time.Now().Add(-staleUploadAge)
		h.f.mu.Unlock()
	}
	age()
	before := e.fsm.AppliedIndex()
	e.flush(h)
	// Another one, deleted behind the writer's back (its tombstone long
	// purged).
	e.write(h, e.cfg.ChunkSize, data[:100])
	e.write(h, 0, pattern(int(e.cfg.ChunkSize), 6))
	eventually(t, "the upload", func() bool {
		h.f.mu.Lock()
		defer h.f.mu.Unlock()
		s := h.f.slots[0]
		e.v.reapLocked(s)
		return s.state == slotPending
	})
	age()
	if err := e.mem.Delete(e.ctx, store.Sum(pattern(int(e.cfg.ChunkSize), 6)).Key()); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, e.v.Flush(e.ctx, h), syscall.EIO)
	e.v.Release(e.ctx, h)
	a, _ := e.fsm.Lookup(e.ctx, meta.RootIno, "f")
	if refs, _ := e.fsm.Chunks(e.ctx, a.Ino); len(refs) != 1 || refs[0].ID != store.Sum(data) || e.fsm.AppliedIndex() <= before {
		t.Fatalf("committed chunks %v; want only the first version's", refs)
	}
}

// TestGCRacesWriters races host A's GC against writers on host B of the
// content the GC is deleting, round after round: every file B commits
// must read back whole from the backend.
func TestGCRacesWriters(t *testing.T) {
	rounds, writers := 40, 4
	if testing.Short() {
		rounds = 10
	}
	e := newEnv(t, envOpt{})
	b := e.freshVFS()
	for round := range rounds {
		// Two whole chunks (uploaded while written) and a part (at the
		// flush).
		data := pattern(int(2*e.cfg.ChunkSize+e.cfg.ChunkSize/3), byte(round))
		garbage(e, fmt.Sprintf("old-%d", round), data)
		ctx, stop := context.WithCancel(e.ctx)
		var gc sync.WaitGroup
		gc.Go(func() {
			for ctx.Err() == nil {
				if _, err := e.v.collectGarbage(ctx); err != nil && ctx.Err() == nil {
					t.Errorf("gc: %v", err)
					return
				}
			}
		})
		inos := make([]meta.Ino, writers)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				ino, err := writeFile(e, b, fmt.Sprintf("r%d-w%d", round, w), data)
				if err != nil {
					t.Errorf("round %d, writer %d: flush: %v", round, w, err)
				}
				inos[w] = ino
			})
		}
		wg.Wait()
		stop()
		gc.Wait()
		if t.Failed() {
			t.FailNow()
		}
		r := e.freshVFS()
		for w, ino := range inos {
			h, err := r.Open(e.ctx, root, ino, syscall.O_RDONLY)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, len(data)+1)
			n, err := r.Read(e.ctx, h, buf, 0)
			if err != nil || n != len(data) {
				t.Fatalf("round %d, writer %d: read back %d bytes, %v; want %d (a committed chunk was deleted)", round, w, n, err, len(data))
			}
			equalBytes(t, fmt.Sprintf("round %d, writer %d", round, w), buf[:n], data)
			r.Release(e.ctx, h)
		}
	}
}

package vfs

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// pendingChunks counts, per chunk ID, the slots on this host that were
// uploaded to (or deduplicated onto) that chunk but are not committed yet.
// The chunk GC never deletes such a chunk, and a writer never adds a chunk
// that the GC is deleting at that moment (it waits, then uploads again),
// so on this host a writer that deduplicates onto a zero-reference chunk
// never even meets a tombstone. It also keeps a copy of the bytes of
// pending chunks at risk of a deletion by another host (see put), up to
// keepMax bytes, for a refused commit to upload again. mu is a leaf lock.
type pendingChunks struct {
	mu       sync.Mutex
	refs     map[store.ChunkID]int
	deleting map[store.ChunkID]chan struct{}
	kept     map[store.ChunkID][]byte
	keptSize int64
	keepMax  int64
}

func newPendingChunks(keepMax int64) *pendingChunks {
	return &pendingChunks{
		refs:     make(map[store.ChunkID]int),
		deleting: make(map[store.ChunkID]chan struct{}),
		kept:     make(map[store.ChunkID][]byte),
		keepMax:  keepMax,
	}
}

// add takes a reference on id, first waiting for a deletion of id to end.
func (p *pendingChunks) add(ctx context.Context, id store.ChunkID) error {
	for {
		p.mu.Lock()
		ch, busy := p.deleting[id]
		if !busy {
			p.refs[id]++
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release drops a reference taken by add; the last one drops the kept
// copy.
func (p *pendingChunks) release(id store.ChunkID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch n := p.refs[id]; {
	case n > 1:
		p.refs[id] = n - 1
	case n == 1:
		delete(p.refs, id)
		if b, ok := p.kept[id]; ok {
			p.keptSize -= int64(len(b))
			delete(p.kept, id)
		}
	}
}

// keep copies data, the bytes of pending chunk id, if there is room.
func (p *pendingChunks) keep(id store.ChunkID, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refs[id] == 0 || p.kept[id] != nil || p.keptSize+int64(len(data)) > p.keepMax {
		return
	}
	p.kept[id] = bytes.Clone(data)
	p.keptSize += int64(len(data))
}

// copyOf returns the kept bytes of id (shared: not to be modified), or
// nil.
func (p *pendingChunks) copyOf(id store.ChunkID) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.kept[id]
}

// claim marks id as being deleted unless it has a pending reference.
func (p *pendingChunks) claim(id store.ChunkID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refs[id] > 0 || p.deleting[id] != nil {
		return false
	}
	p.deleting[id] = make(chan struct{})
	return true
}

// unclaim ends a deletion started by claim.
func (p *pendingChunks) unclaim(id store.ChunkID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ch := p.deleting[id]; ch != nil {
		close(ch)
		delete(p.deleting, id)
	}
}

// gcBatch is how many zero-reference chunks one GC round handles at most.
const gcBatch = 1000

// Run runs the background work until ctx is done, and returns nil then:
// the chunk GC, every GCInterval, the writeback of files open for long
// (writeback.go), every sixth of GCGrace, and in a cluster the sweep of
// orphans no host holds, every OrphanSweep (both on the GC host only).
func (v *VFS) Run(ctx context.Context) error {
	t := time.NewTicker(v.cfg.GCInterval)
	defer t.Stop()
	var wb, sweep <-chan time.Time
	if age := v.writebackAge(); age > 0 {
		wt := time.NewTicker(max(age/2, 50*time.Millisecond))
		defer wt.Stop()
		wb = wt.C
	}
	if v.cfg.OthersHold != nil {
		st := time.NewTicker(v.cfg.OrphanSweep)
		defer st.Stop()
		sweep = st.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wb:
			v.commitOldUploads(ctx, v.writebackAge())
			continue
		case <-sweep:
			if v.cfg.GCEnabled == nil || v.cfg.GCEnabled() {
				if n, err := v.sweepOrphans(ctx); err != nil && ctx.Err() == nil {
					v.log.Warn("vfs: orphan sweep", slog.Any("err", err))
				} else if n > 0 {
					v.log.Info("vfs: orphans no host held reclaimed", slog.Int("orphans", n))
				}
			}
			continue
		case <-t.C:
		}
		if v.cfg.GCEnabled != nil && !v.cfg.GCEnabled() {
			continue
		}
		if _, err := v.collectGarbage(ctx); err != nil && ctx.Err() == nil {
			v.log.Warn("vfs: chunk gc", slog.Any("err", err))
		}
	}
}

// collectGarbage deletes chunks whose reference count has been zero for at
// least GCGrace and that no local writer is about to commit, then tells the
// metadata to forget them. Each batch is condemned first (meta.Tombstones):
// only the chunks the namespace tombstoned, still without a reference, are
// deleted, while the lease allows, and the batch is absolved after. It
// returns how many chunks it deleted.
func (v *VFS) collectGarbage(ctx context.Context) (int, error) {
	ts := meta.NewTombstones(v.p)
	total := 0
	for {
		before := time.Now().Add(-v.cfg.GCGrace).UnixNano()
		ids, err := v.r.ZeroRefChunks(ctx, before, gcBatch)
		if err != nil {
			return total, err
		}
		gone, err := v.collectBatch(ctx, ts, ids)
		total += len(gone)
		if err != nil {
			return total, err
		}
		// A full batch of which some were deleted: there may be more.
		if len(ids) < gcBatch || len(gone) == 0 {
			return total, nil
		}
	}
}

// collectBatch deletes what it may of ids and returns the chunks deleted
// and forgotten.
func (v *VFS) collectBatch(ctx context.Context, ts *meta.Tombstones, ids []store.ChunkID) ([]store.ChunkID, error) {
	// Chunks a writer here is about to commit are skipped, and while
	// claimed they gain no new writer here.
	var claimed []store.ChunkID
	for _, id := range ids {
		if v.pending.claim(id) {
			claimed = append(claimed, id)
		}
	}
	defer func() {
		for _, id := range claimed {
			v.pending.unclaim(id)
		}
	}()
	if len(claimed) == 0 {
		return nil, nil
	}
	start := time.Now()
	condemned, err := ts.Condemn(ctx, claimed)
	if err != nil {
		// Some may be condemned: their lease ends them.
		return nil, err
	}
	var gone []store.ChunkID
	for _, id := range condemned {
		if time.Since(start) >= meta.CondemnLease/2 {
			v.log.Warn("vfs: chunk gc: lease running out, deletions left for the next round", slog.Int("left", len(condemned)-len(gone)))
			break
		}
		if err := v.cs.Delete(ctx, id); err != nil {
			v.log.Warn("vfs: chunk gc: delete", slog.String("chunk", id.String()), slog.Any("err", err))
			continue
		}
		v.recent.remove(id)
		gone = append(gone, id)
	}
	if time.Since(start) >= meta.CondemnLease/2 {
		// Too late to absolve (a newer lease may have started): the
		// lease expires by itself.
		return nil, nil
	}
	if err := ts.Absolve(ctx, condemned); err != nil {
		return nil, err
	}
	if len(gone) == 0 {
		return nil, nil
	}
	res, err := v.p.Propose(ctx, &meta.Cmd{Op: meta.OpForgetChunks, Now: time.Now().UnixNano(), ChunkIDs: gone})
	if err != nil {
		return nil, err
	}
	if res.Errno != 0 {
		return nil, res.Errno
	}
	return gone, nil
}

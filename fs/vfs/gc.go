package vfs

import (
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
// so a writer that deduplicates onto a zero-reference chunk cannot lose it.
// mu is a leaf lock.
type pendingChunks struct {
	mu       sync.Mutex
	refs     map[store.ChunkID]int
	deleting map[store.ChunkID]chan struct{}
}

func newPendingChunks() *pendingChunks {
	return &pendingChunks{
		refs:     make(map[store.ChunkID]int),
		deleting: make(map[store.ChunkID]chan struct{}),
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

// release drops a reference taken by add.
func (p *pendingChunks) release(id store.ChunkID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch n := p.refs[id]; {
	case n > 1:
		p.refs[id] = n - 1
	case n == 1:
		delete(p.refs, id)
	}
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

// Run runs the background work (the chunk GC, every GCInterval) until ctx
// is done, and returns nil then.
func (v *VFS) Run(ctx context.Context) error {
	t := time.NewTicker(v.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
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
// metadata to forget them. It returns how many chunks it deleted.
func (v *VFS) collectGarbage(ctx context.Context) (int, error) {
	total := 0
	for {
		before := time.Now().Add(-v.cfg.GCGrace).UnixNano()
		ids, err := v.r.ZeroRefChunks(ctx, before, gcBatch)
		if err != nil {
			return total, err
		}
		var gone []store.ChunkID
		for _, id := range ids {
			if !v.pending.claim(id) {
				continue
			}
			// The list may be stale: a writer here may have deduplicated
			// onto id and committed since. Claimed, id cannot gain a new
			// local writer until unclaimed.
			n, err := v.r.ChunkRefCount(ctx, id)
			if err == nil && n == 0 {
				err = v.cs.Delete(ctx, id)
			} else if err == nil {
				v.pending.unclaim(id)
				continue
			}
			v.pending.unclaim(id)
			if err != nil {
				v.log.Warn("vfs: chunk gc: delete", slog.String("chunk", id.String()), slog.Any("err", err))
				continue
			}
			v.recent.remove(id)
			gone = append(gone, id)
		}
		if len(gone) > 0 {
			cmd := &meta.Cmd{Op: meta.OpForgetChunks, Now: time.Now().UnixNano(), ChunkIDs: gone}
			res, err := v.p.Propose(ctx, cmd)
			if err != nil {
				return total, err
			}
			if res.Errno != 0 {
				return total, res.Errno
			}
			total += len(gone)
		}
		// A full batch of which some were deleted: there may be more.
		if len(ids) < gcBatch || len(gone) == 0 {
			return total, nil
		}
	}
}

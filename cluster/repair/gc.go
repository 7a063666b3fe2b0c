package repair

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/dfsproject/dfs/store"
)

// GC deletes the local copies of chunks that have had no reference for at
// least Config.GCGrace: chunks whose reference count has been 0 since
// before the grace (Chunks.ZeroRefChunks), and chunks with no reference
// record at all (uploaded by a writer that never committed, or already
// forgotten by the namespace after a cluster-wide deletion) whose object
// is older than the grace — by its modification time, or, for a backend
// that gives none, by when this keeper first saw it unreferenced (kept in
// memory across passes, so a restart starts that clock again). The
// reference count is read again right before each deletion, and a chunk
// that has a reference again is kept (counted in Raced). GC touches only
// the local backend and needs no layout. progress is as for Rebalance.
func (k *Keeper) GC(ctx context.Context, progress func(done, total int64)) (GCReport, error) {
	k.gcMu.Lock()
	defer k.gcMu.Unlock()
	ctx, cancel := k.passContext(ctx)
	defer cancel()
	var r GCReport
	r.Start = k.cfg.Clock.Now()
	if p := k.cfg.Placer(); p != nil {
		r.Layout = p.Version()
	}
	err := k.gc(ctx, &r, progress)
	k.finish("gc", &r.Counts, err)
	return r, err
}

// gcPass is the state of one GC pass.
type gcPass struct {
	k   *Keeper
	r   *GCReport
	now time.Time
	// The zero-reference records, read when the first unreferenced object
	// is met: expired have been zero since before the grace, zeroed is
	// every record of count 0.
	expired, zeroed map[store.ChunkID]bool
	// seen becomes Keeper.firstSeen: the unreferenced objects without a
	// modification time that are still there.
	seen map[store.ChunkID]time.Time
}

func (k *Keeper) gc(ctx context.Context, r *GCReport, progress func(done, total int64)) error {
	if err := k.open(ctx); err != nil {
		return err
	}
	total, err := k.countLocal(ctx, progress)
	if err != nil {
		return err
	}
	g := &gcPass{k: k, r: r, now: r.Start, seen: make(map[store.ChunkID]time.Time)}
	var done int64
	err = k.walkLocal(ctx, func(page []localObject) error {
		for _, o := range page {
			if err := g.collect(ctx, o.id, o.info); err != nil {
				return err
			}
			done++
		}
		if progress != nil {
			progress(done, total)
		}
		return nil
	})
	if err != nil {
		// Keep the clocks of the objects this pass did not reach.
		for id, t := range k.firstSeen {
			if _, ok := g.seen[id]; !ok {
				g.seen[id] = t
			}
		}
	}
	k.firstSeen = g.seen
	if err == nil && ctx.Err() != nil {
		err = ctxErr(ctx)
	}
	return err
}

// loadZero reads the zero-reference records, once per pass.
func (g *gcPass) loadZero(ctx context.Context) error {
	if g.expired != nil {
		return nil
	}
	ids, err := g.k.cfg.Chunks.ZeroRefChunks(ctx, g.now.Add(-g.k.cfg.GCGrace).UnixNano(), 0)
	if err != nil {
		return fmt.Errorf("zero-reference chunks: %w", err)
	}
	expired := setOf(ids)
	ids, err = g.k.cfg.Chunks.ZeroRefChunks(ctx, math.MaxInt64, 0)
	if err != nil {
		return fmt.Errorf("zero-reference chunks: %w", err)
	}
	g.expired, g.zeroed = expired, setOf(ids)
	return nil
}

// collect deletes one local object if it is garbage past the grace.
func (g *gcPass) collect(ctx context.Context, id store.ChunkID, info store.ObjectInfo) error {
	k, r := g.k, g.r
	r.Chunks++
	r.Bytes += info.Size
	refs, err := k.cfg.Chunks.ChunkRefCount(ctx, id)
	if err != nil {
		return fmt.Errorf("reference count of %s: %w", id, err)
	}
	if refs > 0 {
		r.Referenced++
		return nil
	}
	if err := g.loadZero(ctx); err != nil {
		return err
	}
	var old bool
	switch {
	case g.expired[id]:
		old = true
	case g.zeroed[id]:
		// Zero since less than the grace.
	default:
		// No record: the object's age decides.
		t := info.ModTime
		if t.IsZero() {
			t = g.now
			if first, ok := k.firstSeen[id]; ok {
				t = first
			}
			g.seen[id] = t
		}
		old = g.now.Sub(t) >= k.cfg.GCGrace
	}
	if !old {
		r.Young++
		return nil
	}
	// The lists may be stale: a commit may reference the chunk by now.
	refs, err = k.cfg.Chunks.ChunkRefCount(ctx, id)
	if err != nil {
		return fmt.Errorf("reference count of %s: %w", id, err)
	}
	if refs > 0 {
		r.Raced++
		delete(g.seen, id)
		return nil
	}
	// A writer that deduplicates onto this chunk now (it found the object
	// and will commit a reference without uploading) loses it: see the
	// package doc.
	if err := k.cfg.Local.Delete(ctx, id.Key()); err != nil {
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
		k.log.Warn("repair: gc: delete failed", slog.String("chunk", id.String()), slog.Any("err", err))
		r.Failed++
		return nil
	}
	delete(g.seen, id)
	r.Deleted++
	r.DeletedBytes += info.Size
	return nil
}

func setOf(ids []store.ChunkID) map[store.ChunkID]bool {
	m := make(map[store.ChunkID]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

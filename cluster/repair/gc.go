package repair

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// GC deletes the local copies of chunks that have had no reference for at
// least Config.GCGrace: chunks whose reference count has been 0 since
// before the grace (Chunks.ZeroRefChunks), and chunks with no reference
// record at all (uploaded by a writer that never committed, or already
// forgotten by the namespace after a cluster-wide deletion) whose object
// is older than the grace — by its modification time, or, for a backend
// that gives none, by when this keeper first saw it unreferenced (kept in
// memory across passes, so a restart starts that clock again). The
// candidates of each page of the local listing are condemned together
// (Config.Condemner): only those the namespace tombstoned are deleted,
// within half the lease, and then absolved; the others have a reference
// by then (counted in Raced). Without a Condemner the reference count is
// read again right before each deletion instead. GC touches only the
// local backend and needs no layout. progress is as for Rebalance.
func (k *Keeper) GC(ctx context.Context, progress func(done, total int64)) (GCReport, error) {
	var r GCReport
	err := k.pass(ctx, "gc", &k.gcMu, &r.Counts, func(ctx context.Context) error {
		if p := k.cfg.Placer(); p != nil {
			r.Layout = p.Version()
		}
		return k.gc(ctx, &r, progress)
	}, nil)
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
	if s, ok := k.cfg.Local.(store.TempSweeper); ok {
		if n := s.RemoveStaleTemp(); n > 0 {
			k.log.Info("repair: gc: removed temporary files left by interrupted writes", slog.Int("files", n))
		}
	}
	total, err := k.countLocal(ctx, progress)
	if err != nil {
		return err
	}
	g := &gcPass{k: k, r: r, now: r.Start, seen: make(map[store.ChunkID]time.Time)}
	var done int64
	err = k.walkLocal(ctx, func(page []localObject) error {
		var garbage []localObject
		for _, o := range page {
			old, err := g.old(ctx, o.id, o.info)
			if err != nil {
				return err
			}
			if old {
				garbage = append(garbage, o)
			}
			done++
		}
		if err := g.collect(ctx, garbage); err != nil {
			return err
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

// old counts one local object and reports whether it is garbage past
// the grace.
func (g *gcPass) old(ctx context.Context, id store.ChunkID, info store.ObjectInfo) (bool, error) {
	k, r := g.k, g.r
	r.Chunks++
	r.Bytes += info.Size
	refs, err := k.cfg.Chunks.ChunkRefCount(ctx, id)
	if err != nil {
		return false, fmt.Errorf("reference count of %s: %w", id, err)
	}
	if refs > 0 {
		r.Referenced++
		return false, nil
	}
	if err := g.loadZero(ctx); err != nil {
		return false, err
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
	}
	return old, nil
}

// condemnWindow is how long after condemning chunks GC may delete them:
// half the lease, so that its deletions are over well before the lease
// ends even if the clocks of the hosts differ a little.
const condemnWindow = meta.CondemnLease / 2

// collect deletes the local objects of garbage that may be deleted.
func (g *gcPass) collect(ctx context.Context, garbage []localObject) error {
	if len(garbage) == 0 {
		return nil
	}
	k, r := g.k, g.r
	if k.cfg.Condemner == nil {
		for _, o := range garbage {
			// The lists may be stale: a commit may reference the chunk
			// by now. A writer that stores the same content between
			// this check and the deletion is the race the Condemner
			// closes (see the package doc).
			refs, err := k.cfg.Chunks.ChunkRefCount(ctx, o.id)
			if err != nil {
				return fmt.Errorf("reference count of %s: %w", o.id, err)
			}
			if refs > 0 {
				r.Raced++
				delete(g.seen, o.id)
				continue
			}
			if err := g.delete(ctx, o); err != nil {
				return err
			}
		}
		return nil
	}
	ids := make([]store.ChunkID, len(garbage))
	for i, o := range garbage {
		ids[i] = o.id
	}
	start := k.cfg.Clock.Now()
	condemned, err := k.cfg.Condemner.Condemn(ctx, ids)
	if err != nil {
		// Those condemned already are released by their lease.
		return fmt.Errorf("condemn %d chunks: %w", len(ids), err)
	}
	ok := setOf(condemned)
	late := 0
	for _, o := range garbage {
		switch {
		case !ok[o.id]:
			// Referenced again since the listing.
			r.Raced++
			delete(g.seen, o.id)
		case k.cfg.Clock.Now().Sub(start) >= condemnWindow:
			late++
			r.Failed++
		default:
			if err := g.delete(ctx, o); err != nil {
				return err
			}
		}
	}
	if late > 0 {
		// Too late to absolve too: a newer lease may have started on
		// these chunks. Theirs expires by itself.
		k.log.Warn("repair: gc: condemnation lease running out, deletions left for the next pass", slog.Int("left", late))
		return nil
	}
	if err := k.cfg.Condemner.Absolve(ctx, condemned); err != nil {
		return fmt.Errorf("absolve %d chunks: %w", len(condemned), err)
	}
	return nil
}

// delete deletes the local object o.
func (g *gcPass) delete(ctx context.Context, o localObject) error {
	k, r := g.k, g.r
	if err := k.cfg.Local.Delete(ctx, o.id.Key()); err != nil {
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
		k.log.Warn("repair: gc: delete failed", slog.String("chunk", o.id.String()), slog.Any("err", err))
		r.Failed++
		return nil
	}
	delete(g.seen, o.id)
	r.Deleted++
	r.DeletedBytes += o.info.Size
	return nil
}

func setOf(ids []store.ChunkID) map[store.ChunkID]bool {
	m := make(map[store.ChunkID]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

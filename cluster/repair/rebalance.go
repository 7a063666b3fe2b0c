package repair

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/store"
)

// rebalanceJob is one local chunk not placed on this node.
type rebalanceJob struct {
	id     store.ChunkID
	size   int64 // of the local copy
	placed []string
	state  []holding // what the inventories say about placed[i]
}

// Rebalance walks the chunks of the local backend that are not placed on
// this node. For each referenced one it copies the chunk to the placed
// nodes that lack it, then, once every placed node is seen to hold a copy
// of the right size (asked right before the deletion, not taken from an
// inventory), deletes the local copy. It never deletes while a placed node
// is dead, while fewer nodes are placed than the layout's R, or before the
// layout has been current for Config.Settle; unreferenced chunks are left
// to GC. If the layout changes during the pass, the pass stops with
// ErrLayoutChanged before deleting anything under the new one. progress,
// if not nil, is called now and then with the local chunks done and their
// total (listed once first), never concurrently.
func (k *Keeper) Rebalance(ctx context.Context, progress func(done, total int64)) (RebalanceReport, error) {
	var r RebalanceReport
	err := k.pass(ctx, "rebalance", &k.rebalanceMu, &r.Counts, func(ctx context.Context) error {
		return k.rebalance(ctx, &r, progress)
	}, func() {
		k.mu.Lock()
		k.health.RebalancedAt = r.Start.Add(r.Took)
		k.health.ToMove = r.Kept
		k.health.ToMoveBytes = r.KeptBytes
		k.health.Held = r.Chunks - r.Moved
		k.health.HeldBytes = r.Bytes - r.DeletedBytes
		k.mu.Unlock()
	})
	return r, err
}

func (k *Keeper) rebalance(ctx context.Context, r *RebalanceReport, progress func(done, total int64)) error {
	p, total, err := k.beginLocal(ctx, &r.Counts, progress)
	if err != nil {
		return err
	}
	cursors := k.cursors(p)
	var (
		mu      sync.Mutex // guards r from the workers
		done    atomic.Int64
		changed atomic.Bool // the layout changed: stop
		wg      sync.WaitGroup
		jobs    = make(chan rebalanceJob)
	)
	for range k.cfg.Concurrency {
		wg.Go(func() {
			for j := range jobs {
				o := k.rebalanceChunk(ctx, p, j)
				if o.changed {
					changed.Store(true)
				}
				mu.Lock()
				o.addTo(r, j.size)
				mu.Unlock()
				if o.moved {
					// Health shows a drain's progress before the pass ends.
					k.mu.Lock()
					k.health.Held = max(0, k.health.Held-1)
					k.health.HeldBytes = max(0, k.health.HeldBytes-j.size)
					k.mu.Unlock()
				}
				done.Add(1)
			}
		})
	}
	dispatch := func() error {
		page := k.localLister()
		var after store.ChunkID
		for {
			batch, more, err := page(ctx, after)
			if err != nil {
				return err
			}
			for _, c := range batch {
				if changed.Load() {
					return ErrLayoutChanged
				}
				j, ok := k.prepareMove(ctx, p, cursors, c)
				if !ok {
					mu.Lock()
					r.Chunks++
					r.Bytes += c.Size
					r.Placed++
					mu.Unlock()
					done.Add(1)
					continue
				}
				select {
				case jobs <- j:
				case <-ctx.Done():
					return ctxErr(ctx)
				}
			}
			if progress != nil {
				progress(done.Load(), total)
			}
			if !more {
				return nil
			}
			after = batch[len(batch)-1].ID
		}
	}
	err = dispatch()
	close(jobs)
	wg.Wait()
	if progress != nil {
		progress(done.Load(), total)
	}
	if err == nil && changed.Load() {
		err = ErrLayoutChanged
	}
	if err == nil && ctx.Err() != nil {
		err = ctxErr(ctx)
	}
	return err
}

// beginLocal starts a pass over the local chunks (Rebalance, Scrub): the
// current layout, recorded in c, and the local chunks' total for progress
// (countLocal).
func (k *Keeper) beginLocal(ctx context.Context, c *Counts, progress func(done, total int64)) (*placement.Placer, int64, error) {
	p, err := k.begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	c.Layout = p.Version()
	total, err := k.countLocal(ctx, progress)
	return p, total, err
}

// countLocal counts the local chunks when progress wants a total (-1
// otherwise: no listing is spent on it).
func (k *Keeper) countLocal(ctx context.Context, progress func(done, total int64)) (int64, error) {
	if progress == nil {
		return -1, nil
	}
	var n int64
	err := k.listLocal(ctx, store.ChunkID{}, func(store.ChunkID, store.ObjectInfo) error {
		n++
		return nil
	})
	progress(0, n)
	return n, err
}

// prepareMove returns the job for a local chunk, false when the chunk is
// placed here.
func (k *Keeper) prepareMove(ctx context.Context, p *placement.Placer, cursors map[string]*cursor, c peer.ChunkInfo) (rebalanceJob, bool) {
	placed := p.Place(c.ID)
	if slices.Contains(placed, k.cfg.Node) {
		return rebalanceJob{}, false
	}
	j := rebalanceJob{id: c.ID, size: c.Size, placed: placed, state: make([]holding, len(placed))}
	for i, n := range placed {
		cur := cursors[n]
		if cur == nil {
			j.state[i] = unavailable
			continue
		}
		has, _, err := cur.find(ctx, c.ID)
		switch {
		case err != nil:
			j.state[i] = unavailable
		case has:
			j.state[i] = holds
		}
	}
	return j, true
}

type rebalanceOutcome struct {
	unreferenced, moved, deferred bool
	changed                       bool
	copied, copiedBytes, failed   int64
}

func (o rebalanceOutcome) addTo(r *RebalanceReport, size int64) {
	r.Chunks++
	r.Bytes += size
	switch {
	case o.unreferenced:
		r.Unreferenced++
	case o.moved:
		r.Moved++
		r.Deleted++
		r.DeletedBytes += size
	default:
		r.Kept++
		r.KeptBytes += size
	}
	if o.deferred {
		r.Deferred++
	}
	r.Copied += o.copied
	r.CopiedBytes += o.copiedBytes
	r.Failed += o.failed
}

// rebalanceChunk moves one local chunk that is not placed here to its
// placed nodes, then deletes the local copy if that is safe.
func (k *Keeper) rebalanceChunk(ctx context.Context, p *placement.Placer, j rebalanceJob) rebalanceOutcome {
	var o rebalanceOutcome
	logFail := func(msg string, node string, err error) {
		if ctx.Err() == nil {
			k.log.Warn("repair: rebalance: "+msg, slog.String("chunk", j.id.String()), slog.String("node", node), slog.Any("err", err))
			o.failed++
		}
	}
	refs, err := k.cfg.Chunks.ChunkRefCount(ctx, j.id)
	if err != nil {
		logFail("reference count failed", "", err)
		return o
	}
	if refs == 0 {
		o.unreferenced = true
		return o
	}
	// Fewer placed nodes than R (too few active nodes), or a placed node
	// that cannot be reached: the local copy may be one of the R.
	if len(j.placed) < p.Replicas() || slices.Contains(j.state, unavailable) {
		return o
	}
	var lacking []string
	for i, n := range j.placed {
		if j.state[i] == holds {
			continue
		}
		has, _, err := k.stat(ctx, n, j.id)
		if err != nil {
			logFail("stat failed", n, err)
			return o
		}
		if !has {
			lacking = append(lacking, n)
		}
	}
	if len(lacking) > 0 {
		data, err := k.readLocal(ctx, j.id)
		if err != nil {
			// A corrupt copy is Scrub's business.
			logFail("local read failed", k.cfg.Node, err)
			return o
		}
		for _, n := range lacking {
			if err := k.store(ctx, n, j.id, data); err != nil {
				logFail("copy failed", n, err)
				return o
			}
			o.copied++
			o.copiedBytes += int64(len(data))
		}
	}
	if !k.settled(p) {
		o.deferred = true
		return o
	}
	for _, n := range j.placed {
		has, size, err := k.stat(ctx, n, j.id)
		if err != nil {
			logFail("stat before delete failed", n, err)
			return o
		}
		if !has || size != j.size {
			return o // lost or replaced since: the next pass will see
		}
	}
	if cur := k.cfg.Placer(); cur == nil || cur.Version() != p.Version() {
		o.changed = true
		return o
	}
	if err := k.cfg.Local.Delete(ctx, j.id.Key()); err != nil {
		logFail("delete failed", k.cfg.Node, err)
		return o
	}
	o.moved = true
	return o
}

// settled reports whether p's layout version has been current for
// Config.Settle; if not, it notes when it will be, for Run.
func (k *Keeper) settled(p *placement.Placer) bool {
	since := k.noteVersion(p.Version())
	at := since.Add(k.cfg.Settle)
	if !k.cfg.Clock.Now().Before(at) {
		return true
	}
	k.mu.Lock()
	if k.settleWake.IsZero() || at.Before(k.settleWake) {
		k.settleWake = at
	}
	k.mu.Unlock()
	return false
}

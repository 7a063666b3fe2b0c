package repair

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/store"
)

// repairJob is one chunk for a Repair worker: its placement and what the
// inventories say about it.
type repairJob struct {
	id     store.ChunkID
	placed []string
	// state[i] is what the inventories say about placed[i].
	state []holding
	// others are live nodes outside the placement whose inventory lists
	// the chunk (stand-ins of a write made while a placed node was down),
	// asked only when a placed copy is lacking.
	others []string
	size   int64 // from an inventory; -1 when unknown
}

type holding uint8

const (
	lacks       holding = iota // listed as not holding (to be confirmed)
	holds                      // listed as holding
	unavailable                // dead, no address, or its listing failed
)

// Repair walks the referenced chunks for which this node is the first live
// node of the chunk's order, checks that every placed node holds a copy,
// and copies it from a node that does to those that do not. Dead placed
// nodes are neither counted as holding a copy nor written to. A chunk no
// live node holds is reported through Hooks.Missing. progress, if not nil,
// is called now and then with the namespace's chunks walked so far and
// their total (counted first, by one more walk of the namespace), never
// concurrently. An error that ends the pass early (no layout, the
// namespace failed, ctx ended) is returned with the counts so far, and
// Health keeps the previous pass's state; failures of single chunks are
// counted in Failed and logged.
func (k *Keeper) Repair(ctx context.Context, progress func(done, total int64)) (RepairReport, error) {
	var r RepairReport
	err := k.pass(ctx, "repair", &k.repairMu, &r.Counts, func(ctx context.Context) error {
		return k.repair(ctx, &r, progress)
	}, func() {
		k.mu.Lock()
		k.health.RepairedAt = r.Start.Add(r.Took)
		k.health.Layout = r.Layout
		k.health.Replicated = r.Replicated + r.Misplaced + r.Repaired
		k.health.ReplicatedBytes = r.ReplicatedBytes + r.MisplacedBytes + r.RepairedBytes
		k.health.Under = r.Under - r.Repaired
		k.health.UnderBytes = r.UnderBytes - r.RepairedBytes
		k.health.Short = r.StillShort
		k.health.Missing = r.Missing
		k.mu.Unlock()
	})
	return r, err
}

func (k *Keeper) repair(ctx context.Context, r *RepairReport, progress func(done, total int64)) error {
	p, err := k.begin(ctx)
	if err != nil {
		return err
	}
	r.Layout = p.Version()
	total := int64(-1)
	if progress != nil {
		total = 0
		err := k.walkChunks(ctx, func(batch []chunkRef) error {
			total += int64(len(batch))
			return nil
		})
		if err != nil {
			return err
		}
		progress(0, total)
	}
	cursors := k.cursors(p)

	var (
		mu   sync.Mutex // guards r from the workers
		done atomic.Int64
		wg   sync.WaitGroup
		jobs = make(chan repairJob)
	)
	for range k.cfg.Concurrency {
		wg.Go(func() {
			for j := range jobs {
				o := k.repairChunk(ctx, j)
				mu.Lock()
				o.addTo(r)
				mu.Unlock()
				done.Add(1)
			}
		})
	}
	dispatch := func() error {
		return k.walkChunks(ctx, func(batch []chunkRef) error {
			for _, c := range batch {
				j, mine := k.prepare(ctx, p, cursors, c.id, c.refs, r, &mu)
				if !mine {
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
			return nil
		})
	}
	err = dispatch()
	close(jobs)
	wg.Wait()
	if progress != nil {
		progress(done.Load(), total)
	}
	for _, c := range cursors {
		if c.err != nil {
			k.log.Warn("repair: inventory failed; its node's copies count as unavailable", slog.String("node", c.node), slog.Any("err", c.err))
		}
	}
	if err == nil && ctx.Err() != nil {
		err = ctxErr(ctx)
	}
	return err
}

// cursors returns an inventory cursor for every live node of the layout,
// this one included.
func (k *Keeper) cursors(p *placement.Placer) map[string]*cursor {
	out := make(map[string]*cursor)
	for _, n := range p.Layout().Nodes {
		if n.State == placement.Removed {
			continue
		}
		if n.Name == k.cfg.Node {
			out[n.Name] = newCursor(n.Name, k.localLister())
		} else if c := k.peer(n.Name); c != nil {
			out[n.Name] = newCursor(n.Name, k.peerLister(c))
		}
	}
	return out
}

// prepare decides whether this node repairs id, and if so builds its job
// from the inventories. It counts the chunks it turns away in r.
func (k *Keeper) prepare(ctx context.Context, p *placement.Placer, cursors map[string]*cursor, id store.ChunkID, refs uint64, r *RepairReport, mu *sync.Mutex) (repairJob, bool) {
	if refs == 0 {
		mu.Lock()
		r.Unreferenced++
		mu.Unlock()
		return repairJob{}, false
	}
	placed := p.Place(id)
	if k.firstLive(p, id, placed) != k.cfg.Node {
		mu.Lock()
		r.Skipped++
		mu.Unlock()
		return repairJob{}, false
	}
	j := repairJob{id: id, placed: placed, state: make([]holding, len(placed)), size: -1}
	complete := true
	for i, n := range placed {
		c := cursors[n]
		if c == nil {
			j.state[i] = unavailable
			complete = false
			continue
		}
		has, size, err := c.find(ctx, id)
		switch {
		case err != nil:
			j.state[i] = unavailable
			complete = false
		case has:
			j.state[i] = holds
			j.size = size
		default:
			complete = false
		}
	}
	if !complete {
		for _, n := range p.Order(id)[len(placed):] {
			if c := cursors[n]; c != nil {
				if has, size, err := c.find(ctx, id); err == nil && has {
					j.others = append(j.others, n)
					if j.size < 0 {
						j.size = size
					}
				}
			}
		}
	}
	return j, true
}

// repairOutcome is what one chunk adds to the report.
type repairOutcome struct {
	size                        int64
	replicated, under, missing  bool
	misplaced                   bool
	short, stillShort, unavail  int64
	repaired                    bool
	copied, copiedBytes, failed int64
}

func (o repairOutcome) addTo(r *RepairReport) {
	r.Chunks++
	size := max(o.size, 0)
	r.Bytes += size
	switch {
	case o.replicated:
		r.Replicated++
		r.ReplicatedBytes += size
	case o.misplaced:
		r.Misplaced++
		r.MisplacedBytes += size
	case o.missing:
		r.Missing++
	case o.under:
		r.Under++
		r.UnderBytes += size
	}
	r.Short += o.short
	r.StillShort += o.stillShort
	r.Unavailable += o.unavail
	if o.repaired {
		r.Repaired++
		r.RepairedBytes += size
	}
	r.Copied += o.copied
	r.CopiedBytes += o.copiedBytes
	r.Failed += o.failed
}

// repairChunk confirms what the inventories said, with a stat of each
// placed node listed as lacking the chunk (the chunk may have been written
// since the listing), then copies the chunk to the placed nodes that lack
// it.
func (k *Keeper) repairChunk(ctx context.Context, j repairJob) repairOutcome {
	o := repairOutcome{size: j.size}
	var holders, lacking []string
	for i, n := range j.placed {
		switch j.state[i] {
		case unavailable:
			o.unavail++
		case holds:
			holders = append(holders, n)
		case lacks:
			has, size, err := k.stat(ctx, n, j.id)
			switch {
			case err != nil:
				if ctx.Err() == nil {
					k.log.Warn("repair: stat failed", slog.String("chunk", j.id.String()), slog.String("node", n), slog.Any("err", err))
					o.failed++
				}
				o.unavail++
			case has:
				holders = append(holders, n)
				if o.size < 0 {
					o.size = size
				}
			default:
				lacking = append(lacking, n)
			}
		}
	}
	if len(holders) == len(j.placed) {
		o.replicated = true
		return o
	}
	if len(holders) == 0 && len(j.others) == 0 {
		o.missing = true
		k.log.Error("repair: no live node holds a referenced chunk", slog.String("chunk", j.id.String()))
		if k.cfg.Hooks.Missing != nil {
			k.cfg.Hooks.Missing(j.id)
		}
		return o
	}
	// Copies on live nodes outside the placement (a draining node, a
	// stand-in) still count: a chunk with enough copies is only misplaced
	// (Rebalance and this copy move it), not under-replicated.
	if len(holders)+len(j.others) >= len(j.placed) {
		o.misplaced = true
	} else {
		o.under = true
		o.short = int64(len(j.placed) - len(holders) - len(j.others))
		o.stillShort = o.short
	}
	if len(lacking) == 0 {
		return o
	}
	// Read from this node first when it holds the chunk: it costs no
	// network transfer.
	sources := make([]string, 0, len(holders)+len(j.others))
	for _, n := range holders {
		if n == k.cfg.Node {
			sources = append(sources, n)
		}
	}
	for _, n := range holders {
		if n != k.cfg.Node {
			sources = append(sources, n)
		}
	}
	sources = append(sources, j.others...)
	data, _, err := k.fetch(ctx, j.id, sources)
	if err != nil {
		if ctx.Err() == nil {
			k.log.Warn("repair: no good copy could be read", slog.String("chunk", j.id.String()), slog.Any("err", err))
			o.failed++
		}
		return o
	}
	o.size = int64(len(data))
	for _, n := range lacking {
		if err := k.store(ctx, n, j.id, data); err != nil {
			if ctx.Err() == nil {
				k.log.Warn("repair: copy failed", slog.String("chunk", j.id.String()), slog.String("node", n), slog.Any("err", err))
				o.failed++
			}
			continue
		}
		o.copied++
		o.copiedBytes += int64(len(data))
		o.stillShort = max(0, o.stillShort-1)
	}
	o.repaired = o.under && o.stillShort == 0
	return o
}

// chunkRef is a chunk of the namespace and its reference count.
type chunkRef struct {
	id   store.ChunkID
	refs uint64
}

// walkChunks calls fn with the namespace's chunks in ID order, k.batch
// at a time, each batch read by its own ForEachChunk call.
func (k *Keeper) walkChunks(ctx context.Context, fn func([]chunkRef) error) error {
	var after store.ChunkID
	batch := make([]chunkRef, 0, k.batch)
	for {
		batch = batch[:0]
		err := k.cfg.Chunks.ForEachChunk(ctx, after, func(id store.ChunkID, refs uint64) error {
			if len(batch) == k.batch {
				return errStop
			}
			batch = append(batch, chunkRef{id, refs})
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return fmt.Errorf("walk the namespace's chunks: %w", err)
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
		}
		if len(batch) < k.batch {
			return nil
		}
		after = batch[len(batch)-1].id
	}
}

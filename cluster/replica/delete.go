package replica

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dfsproject/dfs/store"
)

// Delete removes the chunk under key from this node and from every alive
// node of the chunk's order, at once; deleting a missing chunk is not an
// error. Nodes that gossip reports dead are not asked (each would hold a
// Concurrency slot for up to Timeout): their copies are garbage for the
// garbage collector and repair. It fails (wrapping store.ErrUnreachable)
// only when this node or an alive placed node could not delete its copy; a
// failure on an alive stand-in node is only logged.
func (b *Backend) Delete(ctx context.Context, key string) error {
	id, err := chunkID(key)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	octx, end, err := b.begin(ctx)
	if err != nil {
		return fmt.Errorf("delete chunk %s: %w", id, err)
	}
	defer end()

	order, r := b.placement(id)
	placed := order[:r]
	nodes := append([]string{b.self}, without(order, b.self)...)
	errs := make([]error, len(nodes))
	done := make(chan struct{}, len(nodes))
	started := 0
	for i, n := range nodes {
		if !b.alive(n) {
			continue
		}
		started++
		go func() {
			defer func() { done <- struct{}{} }()
			if n == b.self {
				start := b.now()
				errs[i] = b.local.Delete(octx, key)
				b.observeLocal(octx, OpDelete, 0, start, errs[i])
				return
			}
			errs[i] = b.call(octx, n, OpDelete, func(ctx context.Context, rem Remote) (int64, error) {
				return 0, rem.DeleteChunk(ctx, id)
			})
		}()
	}
	for range started {
		<-done
	}
	if stop := b.stopped(ctx); stop != nil {
		return fmt.Errorf("delete chunk %s: %w", id, stop)
	}
	var fails failures
	for i, n := range nodes {
		switch {
		case errs[i] == nil:
		case n == b.self || slices.Contains(placed, n):
			fails.add(n, errs[i])
		default:
			b.log.Warn("could not delete a stand-in copy; garbage collection will", "chunk", id.String(), "node", n, "err", errs[i])
		}
	}
	if len(fails) > 0 {
		return fmt.Errorf("delete chunk %s: %w: %d copies could not be deleted (%s)", id, store.ErrUnreachable, len(fails), fails)
	}
	return nil
}

// Replica is what Locate found on one placed node.
type Replica struct {
	Node string
	// Has reports that the node holds the chunk; Size is its size then.
	Has  bool
	Size int64
	// Err is why the node could not say (nil when it answered, also when
	// it answered that it lacks the chunk). A node that gossip reports
	// dead is not asked: its Err wraps store.ErrUnreachable.
	Err error
}

// Locate asks each placed node of chunk id, at once, whether it holds the
// chunk (for "dfsctl info"). The result is in placement order. Only the
// placement is asked, not stand-in nodes.
func (b *Backend) Locate(ctx context.Context, id store.ChunkID) []Replica {
	order, r := b.placement(id)
	reps := make([]Replica, r)
	for i, n := range order[:r] {
		reps[i].Node = n
	}
	octx, end, err := b.begin(ctx)
	if err != nil {
		for i := range reps {
			reps[i].Err = err
		}
		return reps
	}
	defer end()
	done := make(chan struct{}, r)
	started := 0
	for i := range reps {
		rep := &reps[i]
		if !b.alive(rep.Node) {
			rep.Err = errDead(rep.Node)
			continue
		}
		started++
		go func() {
			defer func() { done <- struct{}{} }()
			var size int64
			var err error
			if rep.Node == b.self {
				var info store.ObjectInfo
				start := b.now()
				info, err = b.local.Stat(octx, id.Key())
				b.observeLocal(octx, OpStat, 0, start, err)
				size = info.Size
			} else {
				err = b.call(octx, rep.Node, OpStat, func(ctx context.Context, rem Remote) (_ int64, err error) {
					size, err = rem.StatChunk(ctx, id)
					return 0, err
				})
			}
			switch {
			case err == nil:
				rep.Has, rep.Size = true, size
			case !errors.Is(err, store.ErrNotFound):
				rep.Err = err
			}
		}()
	}
	for range started {
		<-done
	}
	if stop := b.stopped(ctx); stop != nil {
		for i := range reps {
			if reps[i].Err != nil {
				reps[i].Err = fmt.Errorf("%w (%v)", stop, reps[i].Err)
			}
		}
	}
	return reps
}

package repair

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/store"
)

// Scrub re-reads every local chunk, at most ScrubBytesPerSec, and checks
// that it hashes to its ID. A copy that does not (wrong or truncated
// bytes) is reported through Hooks.Corrupt; if this node is placed for
// the chunk, a good copy is fetched from a live node (verified) and
// written over it, else, or when no good copy can be had, the local copy
// is deleted. Hooks.Resolved follows once the chunk is sound here again
// (at once, or in a later pass) or no longer this node's to hold. Reads
// that fail for another reason are counted in Failed and retried next
// pass. progress is as for Rebalance.
func (k *Keeper) Scrub(ctx context.Context, progress func(done, total int64)) (ScrubReport, error) {
	var r ScrubReport
	err := k.pass(ctx, "scrub", &k.scrubMu, &r.Counts, func(ctx context.Context) error {
		return k.scrub(ctx, &r, progress)
	}, nil)
	return r, err
}

func (k *Keeper) scrub(ctx context.Context, r *ScrubReport, progress func(done, total int64)) error {
	p, total, err := k.beginLocal(ctx, &r.Counts, progress)
	if err != nil {
		return err
	}
	seen := make(map[store.ChunkID]bool)
	var done int64
	err = k.walkLocal(ctx, func(page []localObject) error {
		for _, o := range page {
			if err := k.scrubChunk(ctx, p, r, o); err != nil {
				return err
			}
			seen[o.id] = true
			done++
		}
		if progress != nil {
			progress(done, total)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A corrupt chunk dropped earlier that is no longer this node's to
	// hold is resolved too.
	for id := range k.unresolved {
		if !seen[id] && !slices.Contains(p.Place(id), k.cfg.Node) {
			k.resolve(id)
		}
	}
	return ctxErr(ctx)
}

// scrubChunk checks one local chunk.
func (k *Keeper) scrubChunk(ctx context.Context, p *placement.Placer, r *ScrubReport, o localObject) error {
	if err := k.scrubBkt.take(ctx, o.info.Size); err != nil {
		return ctxErr(ctx)
	}
	_, err := k.readLocal(ctx, o.id)
	switch {
	case err == nil:
		r.Chunks++
		r.Bytes += o.info.Size
		if k.unresolved[o.id] {
			k.resolve(o.id)
		}
		return nil
	case ctx.Err() != nil:
		return ctxErr(ctx)
	case errors.Is(err, store.ErrNotFound):
		return nil // deleted since the listing
	case !errors.Is(err, store.ErrCorrupt):
		k.log.Warn("repair: scrub: read failed", slog.String("chunk", o.id.String()), slog.Any("err", err))
		r.Failed++
		return nil
	}
	r.Chunks++
	r.Bytes += o.info.Size
	r.Corrupt++
	k.log.Error("repair: scrub: corrupt local copy", slog.String("chunk", o.id.String()), slog.Any("err", err))
	k.unresolved[o.id] = true
	if k.cfg.Hooks.Corrupt != nil {
		k.cfg.Hooks.Corrupt(o.id, err)
	}
	if slices.Contains(p.Place(o.id), k.cfg.Node) {
		var sources []string
		for _, n := range p.Order(o.id) {
			if n != k.cfg.Node && k.isAlive(n) {
				sources = append(sources, n)
			}
		}
		data, _, ferr := k.fetch(ctx, o.id, sources)
		if ferr == nil {
			ferr = k.store(ctx, k.cfg.Node, o.id, data)
		}
		if ferr == nil {
			r.Fixed++
			r.Copied++
			r.CopiedBytes += int64(len(data))
			k.resolve(o.id)
			return nil
		}
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
		k.log.Warn("repair: scrub: no good copy to replace a corrupt one; deleting it", slog.String("chunk", o.id.String()), slog.Any("err", ferr))
	}
	if err := k.cfg.Local.Delete(ctx, o.id.Key()); err != nil {
		if ctx.Err() != nil {
			return ctxErr(ctx)
		}
		k.log.Warn("repair: scrub: delete of a corrupt copy failed", slog.String("chunk", o.id.String()), slog.Any("err", err))
		r.Failed++
		return nil
	}
	r.Dropped++
	r.Deleted++
	r.DeletedBytes += o.info.Size
	if !slices.Contains(p.Place(o.id), k.cfg.Node) {
		k.resolve(o.id)
	}
	return nil
}

// resolve ends a corrupt-chunk report. Called with scrubMu held.
func (k *Keeper) resolve(id store.ChunkID) {
	delete(k.unresolved, id)
	if k.cfg.Hooks.Resolved != nil {
		k.cfg.Hooks.Resolved(id)
	}
}

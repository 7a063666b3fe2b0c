package repair

import (
	"context"
	"slices"

	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/store"
)

// RemovalReport says what taking a node out of the layout would leave of
// the referenced chunks, as the inventories tell it now.
type RemovalReport struct {
	// Node is the node to remove.
	Node string
	// Chunks: referenced chunks walked.
	Chunks int64
	// Held: referenced chunks the node holds; -1 when its inventory could
	// not be read (it is dead or does not answer).
	Held int64
	// Need is the copies each chunk must keep on the other nodes: the
	// layout's R, even when fewer nodes would be left (then every chunk
	// is short: removing a node of a cluster of R or fewer takes --force).
	Need int
	// Short: referenced chunks of which the other live nodes hold fewer
	// than Need copies; Examples are some of them.
	Short    int64
	Examples []store.ChunkID
	// Unavailable are the other nodes whose copies could not be counted
	// (dead, no address, listing failed): counted as holding nothing.
	Unavailable []string
}

// maxExamples bounds RemovalReport.Examples.
const maxExamples = 5

// CheckRemoval walks the referenced chunks and counts, from the live
// nodes' inventories, the copies each would keep if node left the layout.
// Copies on nodes that cannot be listed do not count, so the answer errs
// on the side of refusing. It changes nothing; the caller decides (dfsctl
// node remove refuses when Short > 0 unless forced). It is as expensive as
// a Repair pass's walk: one listing of every node and of the namespace.
func (k *Keeper) CheckRemoval(ctx context.Context, node string) (RemovalReport, error) {
	ctx, cancel := k.passContext(ctx)
	defer cancel()
	r := RemovalReport{Node: node, Held: -1}
	p, err := k.begin(ctx)
	if err != nil {
		return r, err
	}
	r.Need = p.Replicas()
	cursors := k.cursors(p)
	target := cursors[node]
	delete(cursors, node)
	for _, n := range p.Layout().Nodes {
		if n.Name != node && n.State != placement.Removed && cursors[n.Name] == nil {
			r.Unavailable = append(r.Unavailable, n.Name)
		}
	}
	if target != nil {
		r.Held = 0
	}
	err = k.walkChunks(ctx, func(batch []chunkRef) error {
		for _, c := range batch {
			if c.refs == 0 {
				continue
			}
			r.Chunks++
			if target != nil {
				has, _, err := target.find(ctx, c.id)
				switch {
				case err != nil:
					r.Held = -1
					target = nil
				case has:
					r.Held++
				}
			}
			copies := 0
			for _, cur := range cursors {
				if has, _, err := cur.find(ctx, c.id); err == nil && has {
					copies++
				}
			}
			if copies < r.Need {
				r.Short++
				if len(r.Examples) < maxExamples {
					r.Examples = append(r.Examples, c.id)
				}
			}
		}
		return ctx.Err()
	})
	for name, cur := range cursors {
		if cur.err != nil && !slices.Contains(r.Unavailable, name) {
			r.Unavailable = append(r.Unavailable, name)
		}
	}
	slices.Sort(r.Unavailable)
	if err != nil && ctx.Err() != nil {
		err = ctxErr(ctx)
	}
	return r, err
}

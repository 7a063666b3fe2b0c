package repair_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/dfsproject/dfs/cluster/repair"
	"github.com/dfsproject/dfs/store"
)

func TestHealthMatchesReality(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3", "n4", "n5")
	ids := writeChunks(c, 40, 150)
	rng := rand.New(rand.NewPCG(41, 41))
	ctx := context.Background()

	// A deliberately damaged set: n2 dead but still in the layout; some
	// chunks lose one live copy (repairable), some lose every live copy
	// (missing), and n4 is full, so copies to it fail.
	c.kill("n2")
	for _, id := range ids[:20] {
		placed := c.placer.Load().Place(id)
		c.nodes[placed[rng.IntN(len(placed))]].mem.Delete(ctx, id.Key())
	}
	for _, id := range ids[20:26] {
		for _, n := range c.nodes {
			n.mem.Delete(ctx, id.Key())
		}
	}
	for _, id := range ids[26:40] {
		c.nodes["n4"].mem.Delete(ctx, id.Key())
	}
	c.nodes["n4"].mem.SetCapacity(memUsed(t, c, "n4") + 1)

	ks := c.keepers(nil)
	var failed int64
	for _, r := range repairAll(t, ks) {
		failed += r.Failed
	}
	if failed == 0 {
		t.Error("no copy failed, though n4 is full")
	}

	// What the backends hold now.
	var want repair.Health
	for _, id := range ids {
		placed := c.placer.Load().Place(id)
		var size int64
		copies := 0
		any := false
		for name, n := range c.nodes {
			info, err := n.mem.Stat(ctx, id.Key())
			if err != nil || !c.Alive(name) {
				continue
			}
			any = true
			size = info.Size
			copies++ // placed or not: a copy elsewhere is moving
		}
		switch {
		case !any:
			want.Missing++
		case copies >= len(placed):
			want.Replicated++
			want.ReplicatedBytes += size
		default:
			want.Under++
			want.UnderBytes += size
			want.Short += int64(len(placed) - copies)
		}
	}
	if want.Under == 0 || want.Missing == 0 || want.Replicated == 0 {
		t.Fatalf("the damaged set is not damaged enough: %+v", want)
	}
	var got repair.Health
	for _, k := range ks {
		h := k.Health()
		if h.RepairedAt.IsZero() || h.Layout != c.placer.Load().Version() {
			t.Errorf("health: repaired at %v under layout %d, want a time and %d", h.RepairedAt, h.Layout, c.placer.Load().Version())
		}
		got.Replicated += h.Replicated
		got.ReplicatedBytes += h.ReplicatedBytes
		got.Under += h.Under
		got.UnderBytes += h.UnderBytes
		got.Short += h.Short
		got.Missing += h.Missing
	}
	if got != want {
		t.Errorf("health summed over the nodes:\n got %+v\nwant %+v", got, want)
	}
}

// memUsed is the bytes held by node's backend.
func memUsed(t *testing.T, c *testCluster, node string) int64 {
	t.Helper()
	var n int64
	err := c.nodes[node].mem.List(context.Background(), "", func(info store.ObjectInfo) error {
		n += info.Size
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

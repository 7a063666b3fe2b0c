package repair_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/dfsproject/dfs/cluster/repair"
)

// BenchmarkRepairCheck measures a Repair pass on every node of a healthy
// 5-node cluster (inventories, placement, no copies): ns/op per pass of
// the whole cluster over 5000 chunks.
func BenchmarkRepairCheck(b *testing.B) {
	c := newTestCluster(b, "n1", "n2", "n3", "n4", "n5")
	rng := rand.New(rand.NewPCG(60, 60))
	for range 5000 {
		c.write(rng, 1<<10)
	}
	ks := benchKeepers(b, c)
	b.ResetTimer()
	for b.Loop() {
		for _, k := range ks {
			if _, err := k.Repair(context.Background(), nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(5000*b.N)/b.Elapsed().Seconds(), "chunks/s")
}

// BenchmarkRepairCopy measures copying: a node of three loses every
// chunk (200 of 256 KiB) and the cluster's Repair passes copy them back.
func BenchmarkRepairCopy(b *testing.B) {
	c := newTestCluster(b, "n1", "n2", "n3")
	rng := rand.New(rand.NewPCG(61, 61))
	for range 200 {
		c.write(rng, 256<<10)
	}
	ks := benchKeepers(b, c)
	b.SetBytes(200 * 256 << 10)
	for b.Loop() {
		b.StopTimer()
		for _, id := range c.chunks.ids() {
			c.nodes["n3"].mem.Delete(context.Background(), id.Key())
		}
		b.StartTimer()
		for _, name := range c.liveNames() {
			if _, err := ks[name].Repair(context.Background(), nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchKeepers(b *testing.B, c *testCluster) map[string]*repair.Keeper {
	out := map[string]*repair.Keeper{}
	for _, name := range c.liveNames() {
		cfg := c.config(name)
		cfg.ListLimit = 0
		k, err := repair.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { k.Close() })
		out[name] = k
	}
	return out
}

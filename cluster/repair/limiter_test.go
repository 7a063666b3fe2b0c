package repair_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/repair"
)

// dropFrom deletes every chunk of ids from node's backend.
func dropAll(t *testing.T, c *testCluster, node string) int64 {
	t.Helper()
	var n int64
	for _, id := range c.chunks.ids() {
		info, err := c.nodes[node].mem.Stat(context.Background(), id.Key())
		if err == nil {
			n += info.Size
			c.nodes[node].mem.Delete(context.Background(), id.Key())
		}
	}
	return n
}

func TestRepairBandwidthFakeClock(t *testing.T) {
	// With one worker and a clock that moves by every wait, the waits add
	// up to the bytes charged over the rate, less the bucket.
	c := newTestCluster(t, "n1", "n2", "n3")
	writeChunks(c, 30, 40)
	lost := dropAll(t, c, "n3")
	clk := newFakeClock()
	clk.autoSleep = true
	const rate, burst = 256 << 10, 16 << 10
	ks := c.keepers(func(cfg *repair.Config) {
		cfg.Clock = clk
		cfg.BytesPerSec = rate
		cfg.Burst = burst
		cfg.Concurrency = 1
	})
	var copied int64
	for _, name := range c.liveNames() { // one after the other: one clock
		r, err := ks[name].Repair(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		copied += r.CopiedBytes
	}
	if copied != lost {
		t.Fatalf("copied %d bytes, want the %d lost", copied, lost)
	}
	// Each keeper has its own bucket, full at the start. Chunks that n3
	// repairs are fetched (charged) then stored locally (free); the
	// others are read locally (free) then sent (charged): each byte is
	// charged once.
	want := time.Duration(float64(copied-3*burst) / rate * float64(time.Second))
	if got := clk.Slept(); got < want-time.Millisecond || got > want+time.Duration(float64(3*burst)/rate*float64(time.Second))+time.Millisecond {
		t.Errorf("copying %d bytes at %d B/s waited %v, want about %v", copied, rate, got, want)
	}
}

func TestRepairBandwidthRealTime(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3")
	rng := rand.New(rand.NewPCG(31, 31))
	for range 64 {
		c.write(rng, 16<<10)
	}
	dropAll(t, c, "n3")
	const rate, burst = 2 << 20, 64 << 10
	ks := c.keepers(func(cfg *repair.Config) {
		cfg.BytesPerSec = rate
		cfg.Burst = burst
	})
	// One keeper after the other: each has its own bucket.
	var copied int64
	start := time.Now()
	for _, name := range c.liveNames() {
		r, err := ks[name].Repair(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		copied += r.CopiedBytes
	}
	took := time.Since(start)
	if copied != 1<<20 {
		t.Fatalf("copied %d bytes, want 1 MiB", copied)
	}
	min := time.Duration(float64(copied-3*burst) / rate * float64(time.Second))
	if took < min || took > 10*min {
		t.Errorf("copying %d bytes at %d B/s took %v, want at least %v (and not ten times that)", copied, rate, took, min)
	}
	t.Logf("copied %d bytes in %v at a limit of %d B/s", copied, took, rate)
}

package repair_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/dfsproject/dfs/cluster/repair"
	"github.com/dfsproject/dfs/store"
)

// writeChunks writes n referenced chunks of 1 to 16 KiB.
func writeChunks(c *testCluster, seed uint64, n int) []store.ChunkID {
	rng := rand.New(rand.NewPCG(seed, 1))
	ids := make([]store.ChunkID, n)
	for i := range ids {
		ids[i] = c.write(rng, 1<<10+rng.IntN(15<<10))
	}
	return ids
}

// repairAll runs Repair on every keeper at once and returns the reports.
func repairAll(t *testing.T, ks map[string]*repair.Keeper) map[string]repair.RepairReport {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	out := map[string]repair.RepairReport{}
	for name, k := range ks {
		wg.Go(func() {
			r, err := k.Repair(context.Background(), nil)
			if err != nil {
				t.Errorf("repair on %s: %v", name, err)
			}
			mu.Lock()
			out[name] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func TestRepairAfterNodeLoss(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3", "n4", "n5")
	ids := writeChunks(c, 1, 120)
	c.kill("n3")
	lost := 0
	for _, id := range ids {
		if slices.Contains(c.placer.Load().Place(id), "n3") {
			lost++
		}
	}
	if lost == 0 {
		t.Fatal("no chunk was placed on n3: the test proves nothing")
	}

	// While n3 is only dead (still in the layout), nothing is written
	// in its stead: brief blips move no data.
	ks := c.keepers(nil)
	reports := repairAll(t, ks)
	var total repair.RepairReport
	for _, r := range reports {
		total.Chunks += r.Chunks
		total.Under += r.Under
		total.Unavailable += r.Unavailable
		total.Copied += r.Copied
	}
	if total.Chunks != int64(len(ids)) {
		t.Errorf("the live nodes took charge of %d chunks, want each of %d exactly once", total.Chunks, len(ids))
	}
	if total.Under != int64(lost) || total.Unavailable != int64(lost) || total.Copied != 0 {
		t.Errorf("with n3 dead in the layout: under %d, unavailable %d, copied %d; want %d, %d, 0",
			total.Under, total.Unavailable, total.Copied, lost, lost)
	}
	for _, id := range ids {
		if got, want := liveHolders(c, id), placedLive(c, id); !slices.Equal(got, want) {
			t.Fatalf("chunk %s: live holders %v, want its live placed nodes %v", shortID(id), got, want)
		}
	}

	// The leader takes n3 out of the layout: repair restores 3 copies,
	// each on a placed node.
	c.without("n3")
	reports = repairAll(t, ks)
	var copied int64
	for _, r := range reports {
		copied += r.Copied
	}
	if copied != int64(lost) {
		t.Errorf("copied %d chunks, want %d (one per chunk n3 held)", copied, lost)
	}
	for _, id := range ids {
		if got, want := liveHolders(c, id), c.placedSorted(id); !slices.Equal(got, want) {
			t.Errorf("chunk %s: held by %v, want its placement %v", shortID(id), got, want)
		}
	}

	// A second pass finds everything replicated and copies nothing.
	for name, r := range repairAll(t, ks) {
		if r.Copied != 0 || r.Under != 0 || r.Replicated != r.Chunks {
			t.Errorf("%s second pass: %+v, want all replicated and nothing copied", name, r)
		}
	}
}

// liveHolders is the live nodes that hold a sound copy of id, sorted.
func liveHolders(c *testCluster, id store.ChunkID) []string {
	var out []string
	for _, n := range c.holders(id) {
		if c.Alive(n) {
			out = append(out, n)
		}
	}
	return out
}

// placedLive is the placed nodes of id that are alive, sorted.
func placedLive(c *testCluster, id store.ChunkID) []string {
	var out []string
	for _, n := range c.placedSorted(id) {
		if c.Alive(n) {
			out = append(out, n)
		}
	}
	return out
}

func TestRepairCopiesFromStandIn(t *testing.T) {
	// A chunk written while its placed nodes were failing lives on a
	// stand-in, outside its placement: repair copies it from there.
	c := newTestCluster(t, "n1", "n2", "n3", "n4", "n5")
	rng := rand.New(rand.NewPCG(2, 2))
	data := randomBytes(rng, 5000)
	id := store.Sum(data)
	order := c.placer.Load().Order(id)
	c.put(data, order[3]) // a stand-in only
	c.chunks.setRefs(id, 1)
	repairAll(t, c.keepers(nil))
	for _, n := range order[:3] {
		if !sound(c.nodes[n].mem, id) {
			t.Errorf("placed node %s lacks the chunk after repair", n)
		}
	}
}

func TestRepairReportsMissing(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3", "n4")
	ids := writeChunks(c, 3, 20)
	ghost := store.Sum([]byte("referenced, but no node holds it"))
	c.chunks.setRefs(ghost, 2)
	var mu sync.Mutex
	var missing []store.ChunkID
	ks := c.keepers(func(cfg *repair.Config) {
		cfg.Hooks.Missing = func(id store.ChunkID) {
			mu.Lock()
			defer mu.Unlock()
			missing = append(missing, id)
		}
	})
	var n int64
	for _, r := range repairAll(t, ks) {
		n += r.Missing
	}
	if n != 1 || len(missing) != 1 || missing[0] != ghost {
		t.Errorf("missing: %d counted, hook got %v; want 1, [%s]", n, missing, shortID(ghost))
	}
	for _, id := range ids {
		if got := c.holders(id); len(got) != 3 {
			t.Errorf("chunk %s: %d copies, want 3", shortID(id), len(got))
		}
	}
}

func TestRepairProgress(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3")
	writeChunks(c, 4, 40)
	k := c.keeper("n1", nil)
	var last, total int64 = -1, -2
	calls := 0
	_, err := k.Repair(context.Background(), func(done, tot int64) {
		calls++
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, total = done, tot
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 3 || last != 40 || total != 40 {
		t.Errorf("progress: %d calls, last (%d, %d); want several, ending at (40, 40)", calls, last, total)
	}
}

func TestRepairWithoutLayout(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3")
	k := c.keeper("n1", nil)
	c.placer.Store(nil)
	if _, err := k.Repair(context.Background(), nil); err != repair.ErrNoLayout {
		t.Errorf("Repair without a layout: %v, want ErrNoLayout", err)
	}
}

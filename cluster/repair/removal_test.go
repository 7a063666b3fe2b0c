package repair_test

import (
	"context"
	"testing"

	"github.com/dfsproject/dfs/cluster/placement"
)

// TestCheckRemoval: an undrained node's chunks would fall to 2 copies
// without it, so its removal is short; once it is drained and every
// keeper has rebalanced, it holds nothing referenced and nothing is short.
// A dead node counts as holding nothing of its own or for the others.
func TestCheckRemoval(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3", "n4")
	ids := writeChunks(c, 21, 60)
	ks := c.keepers(nil)
	ctx := context.Background()
	held := int64(len(moving(c, ids, "n4")))
	r, err := ks["n1"].CheckRemoval(ctx, "n4")
	if err != nil {
		t.Fatal(err)
	}
	if r.Need != 3 || r.Chunks != int64(len(ids)) || r.Held != held || r.Short != held || len(r.Examples) == 0 {
		t.Fatalf("undrained n4: %+v; want need 3, %d chunks, %d held and short", r, len(ids), held)
	}
	l, err := c.layout.SetState("n4", placement.Draining)
	if err != nil {
		t.Fatal(err)
	}
	c.setLayout(l)
	// Draining, n4's copies still count: its chunks are misplaced, not
	// under-replicated, and repair copies them to their new places.
	var under, misplaced int64
	for _, r := range repairAll(t, ks) {
		under += r.Under
		misplaced += r.Misplaced
	}
	if under != 0 || misplaced != held {
		t.Fatalf("repair with n4 draining: %d under-replicated, %d misplaced; want 0 and %d", under, misplaced, held)
	}
	rebalanceAll(t, ks)
	if h := ks["n4"].Health(); h.Held != 0 || h.ToMove != 0 {
		t.Fatalf("drained n4 health: %+v; want nothing held", h)
	}
	r, err = ks["n2"].CheckRemoval(ctx, "n4")
	if err != nil {
		t.Fatal(err)
	}
	if r.Held != 0 || r.Short != 0 {
		t.Fatalf("drained n4: %+v; want nothing held or short", r)
	}
	// With n3 dead, its copies cannot be counted: removing n4 now (it
	// holds nothing) is still short, on the other nodes' count.
	c.kill("n3")
	r, err = ks["n1"].CheckRemoval(ctx, "n4")
	if err != nil {
		t.Fatal(err)
	}
	if r.Short == 0 || len(r.Unavailable) != 1 || r.Unavailable[0] != "n3" {
		t.Fatalf("n3 dead: %+v; want short chunks and n3 unavailable", r)
	}
	r, err = ks["n1"].CheckRemoval(ctx, "n3")
	if err != nil {
		t.Fatal(err)
	}
	if r.Held != -1 || r.Short == 0 {
		t.Fatalf("removing dead n3: %+v; want held unknown and chunks short", r)
	}
}

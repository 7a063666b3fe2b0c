package replica_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/replica"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
)

func TestGetLocal(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{})
	data := randChunk(1000)
	id := c.store(data, "n0", "n1", "n2")
	got, err := c.get(ctxT(t), id, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	for name, rem := range c.remotes {
		if k := rem.totalCalls(); k != 0 {
			t.Errorf("%s got %d calls; the local copy should have served", name, k)
		}
	}
}

func TestGetFromPeer(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{})
	data := randChunk(1000)
	id := c.store(data, "n1", "n2")
	got, err := c.get(ctxT(t), id, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	if k := c.remotes["n1"].callCount(opGet); k != 1 {
		t.Errorf("n1 got %d GetChunk calls, want 1", k)
	}
	if k := c.remotes["n2"].totalCalls(); k != 0 {
		t.Errorf("n2 got %d calls, want none (n1 served)", k)
	}
	if got := c.holders(id); !slices.Equal(got, []string{"n1", "n2"}) {
		t.Errorf("after the read the chunk is on %v; it must not be copied locally", got)
	}
}

func TestGetFallback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(c *fakeCluster, id store.ChunkID)
		corrupt []string // OnCorrupt calls expected, "node"
	}{
		{name: "unreachable", setup: func(c *fakeCluster, _ store.ChunkID) {
			c.remotes["n1"].setFault(opGet, fault{err: store.ErrUnreachable})
		}},
		{name: "other error", setup: func(c *fakeCluster, _ store.ChunkID) {
			c.remotes["n1"].setFault(opGet, fault{err: errors.New("peer refused")})
		}},
		{name: "timeout", setup: func(c *fakeCluster, _ store.ChunkID) {
			c.remotes["n1"].setFault(opGet, fault{hang: true})
		}},
		{name: "no address", setup: func(c *fakeCluster, _ store.ChunkID) {
			c.peers.noAddr["n1"] = true
		}},
		{name: "missing", setup: func(c *fakeCluster, id store.ChunkID) {
			c.mems["n1"].Delete(context.Background(), id.Key())
		}},
		{name: "corrupt", setup: func(c *fakeCluster, id store.ChunkID) {
			c.corruptOn(id, "n1")
		}, corrupt: []string{"n1"}},
		{name: "local corrupt", setup: func(c *fakeCluster, id store.ChunkID) {
			c.corruptOn(id, "n0")
			c.corruptOn(id, "n1")
		}, corrupt: []string{"n0", "n1"}},
		{name: "local fails", setup: func(c *fakeCluster, id store.ChunkID) {
			c.es.FailAlways(errstore.OpGet, syscall.EIO)
			c.remotes["n1"].setFault(opGet, fault{err: store.ErrUnreachable})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(t, 3, 3, fakeOpts{})
			data := randChunk(1000)
			id := c.store(data, "n1", "n2")
			if tc.name == "local corrupt" || tc.name == "local fails" {
				c.store(data, "n0")
			}
			tc.setup(c, id)
			got, err := c.get(ctxT(t), id, 0, -1)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get: %d bytes, %v", len(got), err)
			}
			if k := c.remotes["n2"].callCount(opGet); k != 1 {
				t.Errorf("n2 got %d GetChunk calls, want 1", k)
			}
			var want []string
			for _, n := range tc.corrupt {
				want = append(want, n+" "+id.String())
			}
			if got := c.corrupt.get(); !slices.Equal(got, want) {
				t.Errorf("OnCorrupt calls %v, want %v", got, want)
			}
		})
	}
}

// TestGetReplacementNode: a chunk written while its placed nodes failed
// lives on later nodes of the order; Get finds it there after asking the
// placed ones.
func TestGetReplacementNode(t *testing.T) {
	c := newFakeCluster(t, 6, 3, fakeOpts{})
	// n1 (placed) and n3 (a stand-in) are dead; the chunk is on n4.
	c.peers.setDead("n1", true)
	c.peers.setDead("n3", true)
	data := randChunk(1000)
	id := c.store(data, "n4")
	got, err := c.get(ctxT(t), id, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	for _, n := range []string{"n2", "n4"} {
		if k := c.remotes[n].callCount(opGet); k != 1 {
			t.Errorf("%s got %d GetChunk calls, want 1", n, k)
		}
	}
	for _, n := range []string{"n1", "n3", "n5"} {
		if k := c.remotes[n].totalCalls(); k != 0 {
			t.Errorf("%s was asked; the alive n4 had the chunk (dead nodes come last)", n)
		}
	}
	// With the chunk nowhere, the dead nodes are asked too, last.
	c.mems["n4"].Delete(ctxT(t), id.Key())
	c.resetCalls()
	_, err = c.get(ctxT(t), id, 0, -1)
	wantErr(t, "Get", err, store.ErrNotFound)
	for name, rem := range c.remotes {
		if k := rem.callCount(opGet); k != 1 {
			t.Errorf("%s got %d GetChunk calls, want 1", name, k)
		}
	}
}

func TestGetMissing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(c *fakeCluster, id store.ChunkID)
		want    error
		notWant []error
	}{
		{name: "nowhere", want: store.ErrNotFound, notWant: []error{store.ErrUnreachable}},
		{name: "nowhere, a dead node", setup: func(c *fakeCluster, _ store.ChunkID) {
			c.peers.setDead("n4", true)
		}, want: store.ErrNotFound},
		{name: "a node unreachable", setup: func(c *fakeCluster, _ store.ChunkID) {
			c.remotes["n3"].setFault(opGet, fault{err: store.ErrUnreachable})
		}, want: store.ErrUnreachable, notWant: []error{store.ErrNotFound}},
		{name: "a node hangs", setup: func(c *fakeCluster, _ store.ChunkID) {
			c.remotes["n2"].setFault(opGet, fault{hang: true})
		}, want: store.ErrUnreachable, notWant: []error{context.DeadlineExceeded, store.ErrNotFound}},
		{name: "only corrupt copies", setup: func(c *fakeCluster, id store.ChunkID) {
			c.corruptOn(id, "n1")
			c.corruptOn(id, "n0")
		}, want: store.ErrCorrupt, notWant: []error{store.ErrNotFound, store.ErrUnreachable}},
		{name: "corrupt and unreachable", setup: func(c *fakeCluster, id store.ChunkID) {
			c.corruptOn(id, "n1")
			c.remotes["n2"].setFault(opGet, fault{err: store.ErrUnreachable})
		}, want: store.ErrUnreachable, notWant: []error{store.ErrCorrupt}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(t, 5, 3, fakeOpts{})
			id := store.Sum(randChunk(100))
			if tc.setup != nil {
				tc.setup(c, id)
			}
			_, err := c.get(ctxT(t), id, 0, -1)
			wantErr(t, "Get", err, tc.want)
			wantNotErr(t, "Get", err, tc.notWant...)
			for name, rem := range c.remotes {
				if k := rem.callCount(opGet); k != 1 {
					t.Errorf("%s got %d GetChunk calls, want 1: every node is asked", name, k)
				}
			}
		})
	}
}

// TestGetLatencyPreference: once latencies are known, a slow replica is
// tried after a fast one; a dead one and one that just failed go last.
func TestGetLatencyPreference(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{})
	c.remotes["n1"].delay = 100 * time.Millisecond
	c.remotes["n2"].delay = time.Millisecond
	ctx := ctxT(t)
	data := randChunk(1000)
	a := c.store(data, "n1", "n2")
	b := c.store(randChunk(1000), "n2")

	first := func(what string, want string) {
		t.Helper()
		c.resetCalls()
		got, err := c.get(ctx, a, 0, -1)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: Get: %d bytes, %v", what, len(got), err)
		}
		for _, n := range []string{"n1", "n2"} {
			k := c.remotes[n].callCount(opGet)
			if n == want && k != 1 || n != want && k != 0 {
				t.Fatalf("%s: %s got %d GetChunk calls; want %s alone to serve", what, n, k, want)
			}
		}
	}
	// Unknown latencies: placement order.
	first("nothing known", "n1")
	// n1 answers b with "not found" in 100 ms, n2 serves it in 1 ms.
	if _, err := c.get(ctx, b, 0, -1); err != nil {
		t.Fatal(err)
	}
	first("both known", "n2")
	first("again", "n2")

	c.peers.setDead("n2", true)
	first("fast node dead", "n1")
	c.peers.setDead("n2", false)
	first("fast node back", "n2")

	// A failure sends n2 after n1, although it was faster.
	c.remotes["n2"].setFault(opGet, fault{err: store.ErrUnreachable, n: 1})
	c.resetCalls()
	if _, err := c.get(ctx, a, 0, -1); err != nil {
		t.Fatal(err)
	}
	first("fast node failed lately", "n1")
	// Until it answers a call again.
	for _, r := range c.b.Locate(ctx, a) {
		if r.Node != "n0" && !r.Has {
			t.Fatalf("Locate: %+v", r)
		}
	}
	first("fast node answers again", "n2")
}

// TestGetLatencyUnknownAfterKnown: a node never called is tried after one
// known to answer, even a slow one.
func TestGetLatencyUnknownAfterKnown(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{})
	c.remotes["n2"].delay = time.Second
	data := randChunk(1000)
	a := c.store(data, "n1", "n2")
	// A Stat while n1 is dead asks n2 alone: n2 is known, n1 is not.
	c.peers.setDead("n1", true)
	if _, err := c.b.Stat(ctxT(t), a.Key()); err != nil {
		t.Fatal(err)
	}
	c.peers.setDead("n1", false)
	c.resetCalls()
	if _, err := c.get(ctxT(t), a, 0, -1); err != nil {
		t.Fatal(err)
	}
	if k1, k2 := c.remotes["n1"].callCount(opGet), c.remotes["n2"].callCount(opGet); k1 != 0 || k2 != 1 {
		t.Errorf("GetChunk calls n1 %d, n2 %d; want the known n2 first", k1, k2)
	}
}

// TestGetLatencyFailedAfterUnknown: a node whose last call failed is tried
// after one never called, for a minute; then it ranks as unknown again.
func TestGetLatencyFailedAfterUnknown(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration
		want  string
	}{
		{"failed lately", 30 * time.Second, "n2"},
		{"failure forgotten", 2 * time.Minute, "n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(t, 3, 3, fakeOpts{})
			a := c.store(randChunk(1000), "n1", "n2")
			// A Stat while n2 is dead asks n1 alone, which fails: n1 is
			// failed, n2 unknown.
			c.peers.setDead("n2", true)
			c.remotes["n1"].setFault(opStat, fault{err: store.ErrUnreachable, n: 1})
			if _, err := c.b.Stat(ctxT(t), a.Key()); err == nil {
				t.Fatal("Stat: no error")
			}
			c.peers.setDead("n2", false)
			c.clock.Advance(tc.after)
			c.resetCalls()
			if _, err := c.get(ctxT(t), a, 0, -1); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"n1", "n2"} {
				k := c.remotes[n].callCount(opGet)
				if n == tc.want && k != 1 || n != tc.want && k != 0 {
					t.Fatalf("%s got %d GetChunk calls; want %s alone to serve", n, k, tc.want)
				}
			}
		})
	}
}

// TestGetLatencyCancelledNotFailed: a call cut short because another
// answered first does not count against the node.
func TestGetLatencyCancelledNotFailed(t *testing.T) {
	c := newFakeCluster(t, 4, 4, fakeOpts{cfg: func(cfg *replica.Config) { cfg.Timeout = time.Hour }})
	a := c.store(randChunk(1000), "n1", "n2", "n3")
	// Stat asks n1 and n2 (n3 is dead); n2 answers once n1's call has
	// started, and n1's hanging call is cancelled.
	c.peers.setDead("n3", true)
	c.remotes["n1"].setFault(opStat, fault{hang: true})
	entered := make(chan string, 1)
	c.remotes["n1"].entered = entered
	gate := make(chan struct{})
	c.remotes["n2"].gate = gate
	go func() {
		<-entered
		close(gate)
	}()
	if _, err := c.b.Stat(ctxT(t), a.Key()); err != nil {
		t.Fatal(err)
	}
	c.remotes["n1"].entered = nil
	c.peers.setDead("n3", false)
	// With n2 out of the way, n1 and n3 are both unknown: n1 comes first.
	c.peers.setDead("n2", true)
	c.resetCalls()
	if _, err := c.get(ctxT(t), a, 0, -1); err != nil {
		t.Fatal(err)
	}
	if k1, k3 := c.remotes["n1"].callCount(opGet), c.remotes["n3"].callCount(opGet); k1 != 1 || k3 != 0 {
		t.Errorf("GetChunk calls n1 %d, n3 %d; want n1 first: its cancelled Stat was not its failure", k1, k3)
	}
}

func TestGetRange(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{})
	data := randChunk(1000)
	id := c.store(data, "n0", "n1", "n2")
	ctx := ctxT(t)
	check := func(what string, wantRemote bool) {
		t.Helper()
		for _, tc := range []struct {
			off, length int64
			want        []byte
		}{
			{10, 20, data[10:30]},
			{0, 1000, data},
			{990, 100, data[990:]},
			{500, -1, data[500:]},
			{1000, 10, nil},
			{5000, -1, nil},
			{10, 0, nil},
		} {
			c.resetCalls()
			got, err := c.get(ctx, id, tc.off, tc.length)
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("%s: Get(%d, %d): %d bytes, %v; want %d bytes", what, tc.off, tc.length, len(got), err, len(tc.want))
			}
			k := c.remotes["n1"].callCount(opRange) + c.remotes["n2"].callCount(opRange)
			if g := c.remotes["n1"].callCount(opGet) + c.remotes["n2"].callCount(opGet); g != 0 {
				t.Fatalf("%s: a ranged Get used GetChunk", what)
			}
			if wantRemote && k != 1 || !wantRemote && k != 0 {
				t.Fatalf("%s: Get(%d, %d) made %d GetChunkRange calls", what, tc.off, tc.length, k)
			}
		}
	}
	check("local", false)
	c.mems["n0"].Delete(ctx, id.Key())
	check("remote", true)
	if _, err := c.get(ctx, id, -1, 10); err == nil {
		t.Error("Get at a negative offset: no error")
	}
}

func TestGetCancelled(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{cfg: func(cfg *replica.Config) { cfg.Timeout = time.Hour }})
	entered := make(chan string, 10)
	c.remotes["n1"].entered = entered
	c.remotes["n1"].setFault(opGet, fault{hang: true})
	id := c.store(randChunk(100), "n2")
	ctx, cancel := context.WithCancel(ctxT(t))
	errc := make(chan error, 1)
	go func() {
		_, err := c.get(ctx, id, 0, -1)
		errc <- err
	}()
	<-entered
	cancel()
	wantErr(t, "Get", <-errc, context.Canceled)
	if k := c.remotes["n2"].totalCalls(); k != 0 {
		t.Errorf("Get went on to n2 after its ctx ended")
	}
}

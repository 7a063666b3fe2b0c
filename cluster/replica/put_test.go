package replica_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/dfsproject/dfs/cluster/replica"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
)

func TestPutPlacement(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		nodes  int
		r      int
		local  string
		setup  func(c *fakeCluster)
		want   []string // nodes holding the chunk afterwards
		noCall []string // nodes that must not be called
	}{
		{name: "all alive", want: []string{"n0", "n1", "n2"}, noCall: []string{"n3", "n4"}},
		{
			name:   "dead target replaced by the next",
			setup:  func(c *fakeCluster) { c.peers.setDead("n1", true) },
			want:   []string{"n0", "n2", "n3"},
			noCall: []string{"n1", "n4"},
		},
		{
			name: "two dead targets",
			setup: func(c *fakeCluster) {
				c.peers.setDead("n0", true) // this node: always taken as alive
				c.peers.setDead("n1", true)
				c.peers.setDead("n2", true)
			},
			want:   []string{"n0", "n3", "n4"},
			noCall: []string{"n1", "n2"},
		},
		{
			name:   "failing target replaced",
			setup:  func(c *fakeCluster) { c.remotes["n2"].setFault(opPut, fault{err: store.ErrUnreachable}) },
			want:   []string{"n0", "n1", "n3"},
			noCall: []string{"n4"},
		},
		{
			name:  "full target replaced",
			setup: func(c *fakeCluster) { c.remotes["n1"].setFault(opPut, fault{err: store.ErrNoSpace}) },
			want:  []string{"n0", "n2", "n3"},
		},
		{
			name:  "hanging target replaced after the timeout",
			setup: func(c *fakeCluster) { c.remotes["n1"].setFault(opPut, fault{hang: true}) },
			want:  []string{"n0", "n2", "n3"},
		},
		{
			name:  "failing local backend replaced",
			setup: func(c *fakeCluster) { c.es.FailNext(errstore.OpPut, syscall.EIO, 1) },
			want:  []string{"n1", "n2", "n3"},
		},
		{
			name: "replacement fails too",
			setup: func(c *fakeCluster) {
				c.remotes["n1"].setFault(opPut, fault{err: boom})
				c.remotes["n3"].setFault(opPut, fault{err: boom})
			},
			want: []string{"n0", "n2", "n4"},
		},
		{
			name:  "node without an address replaced",
			setup: func(c *fakeCluster) { c.peers.noAddr["n2"] = true },
			want:  []string{"n0", "n1", "n3"},
		},
		{name: "fewer nodes than replicas", nodes: 2, want: []string{"n0", "n1"}},
		{name: "one replica", r: 1, want: []string{"n0"}, noCall: []string{"n1", "n2", "n3", "n4"}},
		{name: "this node not placed", local: "client", want: []string{"n0", "n1", "n2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes, r := cmpOr(tc.nodes, 5), cmpOr(tc.r, 3)
			c := newFakeCluster(t, nodes, r, fakeOpts{local: tc.local})
			if tc.setup != nil {
				tc.setup(c)
			}
			id, err := c.put(ctxT(t), randChunk(1000))
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if got := c.holders(id); !slices.Equal(got, tc.want) {
				t.Errorf("chunk on %v, want %v", got, tc.want)
			}
			for _, n := range tc.noCall {
				if k := c.remotes[n].totalCalls(); k != 0 {
					t.Errorf("%s got %d calls, want none", n, k)
				}
			}
			for name, rem := range c.remotes {
				if k := rem.inFlight(); k != 0 {
					t.Errorf("%d calls to %s still in flight after Put returned", k, name)
				}
			}
		})
	}
}

// TestPutRepeatedNodes: a node named twice in the order is one node; the
// chunk still gets R distinct copies.
func TestPutRepeatedNodes(t *testing.T) {
	c := newFakeCluster(t, 4, 3, fakeOpts{cfg: func(cfg *replica.Config) {
		cfg.Placer = &fixedPlacer{nodes: []string{"n0", "n1", "n1", "", "n0", "n2", "n3"}, r: 3}
	}})
	id, err := c.put(ctxT(t), randChunk(100))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.holders(id); !slices.Equal(got, []string{"n0", "n1", "n2"}) {
		t.Errorf("chunk on %v, want n0 n1 n2", got)
	}
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func TestPutNotEnoughCopies(t *testing.T) {
	for _, tc := range []struct {
		name     string
		nodes    int
		setup    func(c *fakeCluster)
		want     []error  // the error wraps these
		notWant  []error  // and not these
		copies   string   // in the message
		left     []string // the partial copies are on some of these
		noCalled bool     // no node called at all
	}{
		{
			name:    "a target is full",
			setup:   func(c *fakeCluster) { c.remotes["n2"].setFault(opPut, fault{err: store.ErrNoSpace}) },
			want:    []error{store.ErrNoSpace},
			notWant: []error{store.ErrUnreachable},
			copies:  "of 3 copies written",
			left:    []string{"n0", "n1"},
		},
		{
			name: "one full, one unreachable",
			setup: func(c *fakeCluster) {
				c.remotes["n1"].setFault(opPut, fault{err: store.ErrNoSpace})
				c.remotes["n2"].setFault(opPut, fault{err: store.ErrUnreachable})
				// n1 fails (and Put gives up) only once n2's call is
				// under way, so that both failures are seen.
				entered := make(chan string, 1)
				gate := make(chan struct{})
				c.remotes["n2"].entered = entered
				c.remotes["n1"].gate = gate
				go func() {
					<-entered
					close(gate)
				}()
			},
			want:    []error{store.ErrUnreachable},
			notWant: []error{store.ErrNoSpace},
			copies:  "of 3 copies written",
			left:    []string{"n0"},
		},
		{
			name: "two targets are dead",
			setup: func(c *fakeCluster) {
				c.peers.setDead("n1", true)
				c.peers.setDead("n2", true)
			},
			want:     []error{store.ErrUnreachable},
			copies:   "0 of 3 copies written",
			noCalled: true,
		},
		{
			name:  "replacements run out",
			nodes: 5,
			setup: func(c *fakeCluster) {
				c.peers.setDead("n3", true)
				for _, n := range []string{"n1", "n2", "n4"} {
					c.remotes[n].setFault(opPut, fault{err: errors.New("disk on fire")})
				}
			},
			want:   []error{store.ErrUnreachable},
			copies: "of 3 copies written",
			left:   []string{"n0"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(t, cmpOr(tc.nodes, 3), 3, fakeOpts{})
			tc.setup(c)
			id, err := c.put(ctxT(t), randChunk(1000))
			wantErr(t, "Put", err, tc.want...)
			wantNotErr(t, "Put", err, tc.notWant...)
			if !strings.Contains(err.Error(), tc.copies) {
				t.Errorf("Put: %q does not say %q", err, tc.copies)
			}
			// The partial copies stay for the garbage collector. Once R
			// copies are out of reach the writes in flight are
			// cancelled, so which of them landed depends on timing.
			held := c.holders(id)
			for _, n := range held {
				if !slices.Contains(tc.left, n) {
					t.Errorf("chunk left on %s, want it on no more than %v", n, tc.left)
				}
			}
			if msg := fmt.Sprintf("%d of 3 copies written", len(held)); !strings.Contains(err.Error(), msg) {
				t.Errorf("Put: %q does not say %q (the chunk is on %v)", err, msg, held)
			}
			if tc.noCalled {
				for name, rem := range c.remotes {
					if k := rem.totalCalls(); k != 0 {
						t.Errorf("%s got %d calls, want none", name, k)
					}
				}
				if k := c.es.Calls(errstore.OpPut); k != 0 {
					t.Errorf("local backend got %d Puts, want none", k)
				}
			}
		})
	}
}

// TestPutGivesUpEarly: once R copies are out of reach, the writes still in
// flight are cancelled rather than waited out, and none is left running.
func TestPutGivesUpEarly(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{cfg: func(cfg *replica.Config) { cfg.Timeout = time.Hour }})
	c.remotes["n1"].setFault(opPut, fault{err: errors.New("disk on fire")})
	c.remotes["n2"].setFault(opPut, fault{hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.put(ctx, randChunk(100))
	wantErr(t, "Put", err, store.ErrUnreachable)
	wantNotErr(t, "Put", err, context.DeadlineExceeded)
	if k := c.remotes["n2"].inFlight(); k != 0 {
		t.Errorf("the hanging write is still in flight after Put returned")
	}
}

func TestPutCancelled(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{cfg: func(cfg *replica.Config) { cfg.Timeout = time.Hour }})
	entered := make(chan string, 10)
	c.remotes["n2"].entered = entered
	c.remotes["n2"].setFault(opPut, fault{hang: true})
	ctx, cancel := context.WithCancel(ctxT(t))
	errc := make(chan error, 1)
	go func() {
		_, err := c.put(ctx, randChunk(100))
		errc <- err
	}()
	<-entered
	cancel()
	err := <-errc
	wantErr(t, "Put", err, context.Canceled)
	if k := c.remotes["n2"].inFlight(); k != 0 {
		t.Errorf("a write is still in flight after Put returned")
	}
}

func TestPutBody(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{})
	data := randChunk(1000)
	id := store.Sum(data)
	for _, tc := range []struct {
		name string
		body []byte
		size int64
		want error
	}{
		{name: "short", body: data[:999], size: 1000, want: store.ErrShortWrite},
		{name: "long", body: append(slices.Clone(data), 'x'), size: 1000, want: store.ErrShortWrite},
		{name: "not the chunk", body: randChunk(1000), size: 1000, want: store.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.b.Put(ctxT(t), id.Key(), iotest.OneByteReader(bytes.NewReader(tc.body)), tc.size)
			wantErr(t, "Put", err, tc.want)
			if got := c.holders(id); len(got) != 0 {
				t.Errorf("chunk stored on %v", got)
			}
		})
	}
	for _, size := range []int64{-1, store.MaxChunkSize + 1} {
		if err := c.b.Put(ctxT(t), id.Key(), bytes.NewReader(data), size); err == nil {
			t.Errorf("Put with size %d: no error", size)
		}
	}
	boom := errors.New("reader broke")
	err := c.b.Put(ctxT(t), id.Key(), iotest.ErrReader(boom), 1000)
	wantErr(t, "Put from a failing reader", err, boom)
	if got := c.holders(id); len(got) != 0 {
		t.Errorf("chunk stored on %v", got)
	}
	// The empty chunk is a chunk like any other.
	empty := store.Sum(nil)
	if err := c.b.Put(ctxT(t), empty.Key(), bytes.NewReader(nil), 0); err != nil {
		t.Fatalf("Put of the empty chunk: %v", err)
	}
	if got := c.holders(empty); len(got) != 3 {
		t.Errorf("empty chunk on %v, want 3 nodes", got)
	}
}

// TestConcurrencyBound: remote calls across concurrent operations never
// exceed Config.Concurrency.
func TestConcurrencyBound(t *testing.T) {
	const limit = 2
	c := newFakeCluster(t, 3, 3, fakeOpts{local: "client", cfg: func(cfg *replica.Config) {
		cfg.Concurrency = limit
		cfg.Timeout = time.Minute
	}})
	g := &gauge{}
	for _, rem := range c.remotes {
		rem.global = g
		rem.work = 2 * time.Millisecond
	}
	errc := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := c.put(ctxT(t), randChunk(100))
			errc <- err
		}()
	}
	for range 8 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if m := g.max(); m > limit {
		t.Errorf("%d remote calls in flight at once, limit %d", m, limit)
	}
}

// TestPutDegraded: with a placed node down (dead by gossip, failing as
// unreachable, or not answering), the chunk goes to the two others and
// Put succeeds: a 3-node cluster keeps writing while one node is down.
func TestPutDegraded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(c *fakeCluster)
	}{
		{"a target is dead", func(c *fakeCluster) { c.peers.setDead("n1", true) }},
		{"a target is unreachable", func(c *fakeCluster) { c.remotes["n2"].setFault(opPut, fault{err: store.ErrUnreachable}) }},
		{"a target hangs", func(c *fakeCluster) { c.remotes["n2"].setFault(opPut, fault{hang: true}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(t, 3, 3, fakeOpts{})
			tc.setup(c)
			id, err := c.put(ctxT(t), randChunk(1000))
			if err != nil {
				t.Fatalf("Put with one node down: %v", err)
			}
			if held := c.holders(id); len(held) != 2 {
				t.Errorf("chunk on %v; want the two nodes up", held)
			}
		})
	}
}

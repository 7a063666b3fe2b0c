package replica_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/replica"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
)

// The backend conformance suite (store/storetest.Run) is not run here: it
// writes arbitrary keys ("a", "dir/b", "new", ...) and arbitrary bytes
// under them, while this Backend stores only chunk keys holding their own
// chunk, refusing the rest with store.ErrInvalidKey. The contract it can
// keep is tested below and in the other files.

func TestConfigValidate(t *testing.T) {
	good := func() replica.Config {
		c := replica.DefaultConfig()
		c.Local = store.NewMemory()
		c.Placer = &fixedPlacer{nodes: []string{"a"}, r: 1}
		c.Peers = &fakePeers{local: "a"}
		return c
	}
	for _, tc := range []struct {
		name   string
		change func(*replica.Config)
		want   string
	}{
		{"no local", func(c *replica.Config) { c.Local = nil }, "local backend"},
		{"no placer", func(c *replica.Config) { c.Placer = nil }, "placer"},
		{"no peers", func(c *replica.Config) { c.Peers = nil }, "peers"},
		{"negative concurrency", func(c *replica.Config) { c.Concurrency = -1 }, "concurrency"},
		{"negative timeout", func(c *replica.Config) { c.Timeout = -time.Second }, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.change(&cfg)
			_, err := replica.New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
	cfg := good()
	cfg.Concurrency, cfg.Timeout = 0, 0
	b, err := replica.New(cfg)
	if err != nil {
		t.Fatalf("New with zero Concurrency and Timeout (defaults): %v", err)
	}
	b.Close()
	if cfg.Concurrency != 0 || cfg.Timeout != 0 || cfg.Logger != nil || cfg.Now != nil {
		t.Errorf("New changed the caller's config: %+v", cfg)
	}
}

func TestInvalidKeys(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{})
	id := store.Sum([]byte("x"))
	hex := id.String()
	ctx := ctxT(t)
	for _, key := range []string{
		"a",
		"meta/snapshot",
		"chunks/" + hex,
		"chunks/" + hex[:2] + "/" + hex,
		"chunks/00/00/" + hex, // wrong directories for the ID
		"chunks/" + hex[:2] + "/" + hex[2:4] + "/" + strings.ToUpper(hex),
		"chunks/" + hex[:2] + "/" + hex[2:4] + "/" + hex[:62],
		id.Key() + "/x",
		"x/" + id.Key(),
	} {
		_, err := c.b.Get(ctx, key, 0, -1)
		wantErr(t, "Get "+key, err, store.ErrInvalidKey)
		err = c.b.Put(ctx, key, strings.NewReader("x"), 1)
		wantErr(t, "Put "+key, err, store.ErrInvalidKey)
		_, err = c.b.Stat(ctx, key)
		wantErr(t, "Stat "+key, err, store.ErrInvalidKey)
		err = c.b.Delete(ctx, key)
		wantErr(t, "Delete "+key, err, store.ErrInvalidKey)
	}
	for name, rem := range c.remotes {
		if k := rem.totalCalls(); k != 0 {
			t.Errorf("%s got %d calls for invalid keys", name, k)
		}
	}
	if k := c.es.Calls(errstore.OpGet) + c.es.Calls(errstore.OpPut) + c.es.Calls(errstore.OpStat) + c.es.Calls(errstore.OpDelete); k != 0 {
		t.Errorf("the local backend got %d calls for invalid keys", k)
	}
	// The real key works.
	if err := c.b.Put(ctx, id.Key(), strings.NewReader("x"), 1); err != nil {
		t.Fatalf("Put %s: %v", id.Key(), err)
	}
}

func TestStat(t *testing.T) {
	for _, tc := range []struct {
		name    string
		on      []string // nodes holding the chunk
		setup   func(c *fakeCluster)
		want    error // nil: found
		notWant error
		noCall  []string
		timeout time.Duration
	}{
		{name: "local", on: []string{"n0", "n1"}, noCall: []string{"n1", "n2", "n3"}},
		{name: "replica", on: []string{"n2"}, noCall: []string{"n3"}},
		{name: "nowhere", want: store.ErrNotFound, notWant: store.ErrUnreachable, noCall: []string{"n3"}},
		{name: "only on a stand-in node", on: []string{"n3"}, want: store.ErrNotFound, noCall: []string{"n3"}},
		{
			name:   "a placed node dead",
			setup:  func(c *fakeCluster) { c.peers.setDead("n1", true) },
			want:   store.ErrUnreachable,
			noCall: []string{"n1"},
		},
		{
			name:    "a placed node hangs",
			setup:   func(c *fakeCluster) { c.remotes["n1"].setFault(opStat, fault{hang: true}) },
			want:    store.ErrUnreachable,
			notWant: context.DeadlineExceeded,
		},
		{
			// The others are not waited out once one answers: with a
			// one-hour timeout this would hang.
			name:    "a placed node hangs, another has it",
			on:      []string{"n2"},
			setup:   func(c *fakeCluster) { c.remotes["n1"].setFault(opStat, fault{hang: true}) },
			timeout: time.Hour,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(t, 4, 3, fakeOpts{cfg: func(cfg *replica.Config) {
				if tc.timeout != 0 {
					cfg.Timeout = tc.timeout
				}
			}})
			data := randChunk(1234)
			id := c.store(data, tc.on...)
			if tc.setup != nil {
				tc.setup(c)
			}
			start := time.Now()
			info, err := c.b.Stat(ctxT(t), id.Key())
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Stat took %v", d)
			}
			if tc.want == nil {
				if err != nil || info.Size != 1234 || info.Key != id.Key() {
					t.Fatalf("Stat: %+v, %v", info, err)
				}
			} else {
				wantErr(t, "Stat", err, tc.want)
				if tc.notWant != nil {
					wantNotErr(t, "Stat", err, tc.notWant)
				}
			}
			for _, n := range tc.noCall {
				if k := c.remotes[n].totalCalls(); k != 0 {
					t.Errorf("%s got %d calls, want none", n, k)
				}
			}
			for name, rem := range c.remotes {
				if k := rem.inFlight(); k != 0 {
					t.Errorf("%d calls to %s in flight after Stat returned", k, name)
				}
			}
		})
	}
}

func TestDelete(t *testing.T) {
	all := []string{"n0", "n1", "n2", "n3", "n4"}
	for _, tc := range []struct {
		name  string
		local string
		setup func(c *fakeCluster)
		want  error
		left  []string
	}{
		{name: "everywhere"},
		{name: "from a client node", local: "client"},
		{
			name:  "a placed node fails",
			setup: func(c *fakeCluster) { c.remotes["n1"].setFault(opDelete, fault{err: store.ErrUnreachable}) },
			want:  store.ErrUnreachable,
			left:  []string{"n1"},
		},
		{
			name:  "the local backend fails",
			setup: func(c *fakeCluster) { c.es.FailAlways(errstore.OpDelete, syscall.EIO) },
			want:  store.ErrUnreachable,
			left:  []string{"n0"},
		},
		{
			name:  "the local backend of a client node fails",
			local: "client",
			setup: func(c *fakeCluster) { c.es.FailAlways(errstore.OpDelete, syscall.EIO) },
			want:  store.ErrUnreachable,
			left:  []string{"client"},
		},
		{
			name:  "a stand-in node fails",
			setup: func(c *fakeCluster) { c.remotes["n4"].setFault(opDelete, fault{err: errors.New("boom")}) },
			left:  []string{"n4"},
		},
		{
			name:  "a placed node dead",
			setup: func(c *fakeCluster) { c.peers.setDead("n2", true) },
			left:  []string{"n2"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(t, 5, 3, fakeOpts{local: tc.local})
			nodes := all
			if tc.local != "" {
				nodes = append(slices.Clone(all), tc.local)
			}
			id := c.store(randChunk(100), nodes...)
			if tc.setup != nil {
				tc.setup(c)
			}
			err := c.b.Delete(ctxT(t), id.Key())
			if tc.want == nil && err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if tc.want != nil {
				wantErr(t, "Delete", err, tc.want)
			}
			if got := c.holders(id); !slices.Equal(got, tc.left) {
				t.Errorf("chunk left on %v, want %v", got, tc.left)
			}
		})
	}
	// Deleting a missing chunk is not an error.
	c := newFakeCluster(t, 3, 3, fakeOpts{})
	if err := c.b.Delete(ctxT(t), store.Sum(nil).Key()); err != nil {
		t.Errorf("Delete of a missing chunk: %v", err)
	}
}

func TestLocate(t *testing.T) {
	c := newFakeCluster(t, 5, 4, fakeOpts{})
	id := c.store(randChunk(100), "n0", "n2", "n4")
	c.peers.setDead("n3", true)
	got := c.b.Locate(ctxT(t), id)
	if len(got) != 4 {
		t.Fatalf("Locate: %d replicas, want 4: %+v", len(got), got)
	}
	for i, want := range []struct {
		node string
		has  bool
		err  error
	}{{"n0", true, nil}, {"n1", false, nil}, {"n2", true, nil}, {"n3", false, store.ErrUnreachable}} {
		r := got[i]
		if r.Node != want.node || r.Has != want.has || (want.err == nil) != (r.Err == nil) || want.err != nil && !errors.Is(r.Err, want.err) {
			t.Errorf("Locate[%d] = %+v, want %s has %v err %v", i, r, want.node, want.has, want.err)
		}
		if r.Has && r.Size != 100 {
			t.Errorf("Locate[%d].Size = %d, want 100", i, r.Size)
		}
	}
	if k := c.remotes["n3"].totalCalls(); k != 0 {
		t.Errorf("dead n3 was asked")
	}
	if k := c.remotes["n4"].totalCalls(); k != 0 {
		t.Errorf("n4, not placed, was asked")
	}
	c.remotes["n1"].setFault(opStat, fault{err: store.ErrUnreachable})
	if r := c.b.Locate(ctxT(t), id)[1]; !errors.Is(r.Err, store.ErrUnreachable) || r.Has {
		t.Errorf("Locate with n1 failing: %+v", r)
	}
	// A node that does not answer in time is unreachable, not the
	// caller's deadline.
	c.remotes["n2"].setFault(opStat, fault{hang: true})
	r := c.b.Locate(ctxT(t), id)[2]
	wantErr(t, "Locate with n2 hanging", r.Err, store.ErrUnreachable)
	wantNotErr(t, "Locate with n2 hanging", r.Err, context.DeadlineExceeded)
}

func TestList(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{})
	a := c.store(randChunk(10), "n0", "n1")
	c.store(randChunk(10), "n1", "n2")
	c.mems["n0"].Put(context.Background(), "other/key", strings.NewReader("x"), 1)
	var keys []string
	err := c.b.List(ctxT(t), "chunks/", func(info store.ObjectInfo) error {
		keys = append(keys, info.Key)
		return nil
	})
	if err != nil || !slices.Equal(keys, []string{a.Key()}) {
		t.Errorf("List: %v, %v; want the local chunk %s only", keys, err, a.Key())
	}
}

func TestClose(t *testing.T) {
	c := newFakeCluster(t, 3, 3, fakeOpts{cfg: func(cfg *replica.Config) { cfg.Timeout = time.Hour }})
	entered := make(chan string, 10)
	c.remotes["n1"].entered = entered
	c.remotes["n1"].setFault(opGet, fault{hang: true})
	id := c.store(randChunk(100), "n1", "n2")
	errc := make(chan error, 1)
	go func() {
		_, err := c.get(ctxT(t), id, 0, -1)
		errc <- err
	}()
	<-entered
	if err := c.b.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for the Get's call to n1, which gave up. (The
	// goroutine that reports the Get's error may run later.)
	n1 := c.remotes["n1"]
	n1.mu.Lock()
	inflight := n1.inflight
	n1.mu.Unlock()
	if inflight != 0 {
		t.Fatal("Close returned before the Get in flight")
	}
	select {
	case err := <-errc:
		wantErr(t, "Get cut by Close", err, store.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("the Get did not return after Close")
	}
	if err := c.b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := ctxT(t)
	_, err := c.get(ctx, id, 0, -1)
	wantErr(t, "Get", err, store.ErrClosed)
	_, err = c.put(ctx, []byte("x"))
	wantErr(t, "Put", err, store.ErrClosed)
	_, err = c.b.Stat(ctx, id.Key())
	wantErr(t, "Stat", err, store.ErrClosed)
	wantErr(t, "Delete", c.b.Delete(ctx, id.Key()), store.ErrClosed)
	wantErr(t, "List", c.b.List(ctx, "", func(store.ObjectInfo) error { return nil }), store.ErrClosed)
	for _, r := range c.b.Locate(ctx, id) {
		wantErr(t, "Locate", r.Err, store.ErrClosed)
	}
	// The local backend is not the Backend's to close.
	if err := c.mems["n0"].Put(ctx, id.Key(), bytes.NewReader([]byte("x")), 1); err != nil {
		t.Errorf("the local backend was closed: %v", err)
	}
}

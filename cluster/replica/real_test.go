package replica_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/cluster/replica"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
)

var clusterKey = bytes.Repeat([]byte{0x42}, 32)

// hashPlacer orders the nodes differently for each chunk (a rotation chosen
// by the chunk's first byte), like a real placement.
type hashPlacer struct {
	nodes []string
	r     int
}

func (p *hashPlacer) Order(id store.ChunkID) []string {
	k := int(id[0]) % len(p.nodes)
	return append(slices.Clone(p.nodes[k:]), p.nodes[:k]...)
}

func (p *hashPlacer) Replicas() int { return p.r }

// realPeers reaches the nodes of a realCluster through real peer.Clients.
type realPeers struct {
	local string
	mu    sync.Mutex
	urls  map[string]string
	dead  map[string]bool
}

func (p *realPeers) Local() string { return p.local }

func (p *realPeers) Alive(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.urls[name]
	return ok && !p.dead[name]
}

func (p *realPeers) Client(name string) (replica.Remote, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.urls[name]
	if !ok {
		return nil, false
	}
	return &peer.Client{BaseURL: u, Key: clusterKey}, true
}

// realCluster is n nodes, each a store.Memory (behind an errstore) served
// by peer.NewHandler over httptest; the Backend under test runs on n0.
type realCluster struct {
	t       *testing.T
	names   []string
	es      map[string]*errstore.Store
	mems    map[string]*store.Memory
	srvs    map[string]*httptest.Server
	hang    map[string]*atomic.Bool // the node's handler blocks
	peers   *realPeers
	placer  *hashPlacer
	corrupt *corruptLog
	b       *replica.Backend
}

func newRealCluster(t *testing.T, n, r int) *realCluster {
	t.Helper()
	c := &realCluster{
		t:       t,
		es:      map[string]*errstore.Store{},
		mems:    map[string]*store.Memory{},
		srvs:    map[string]*httptest.Server{},
		hang:    map[string]*atomic.Bool{},
		peers:   &realPeers{local: "n0", urls: map[string]string{}, dead: map[string]bool{}},
		corrupt: &corruptLog{},
	}
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		c.names = append(c.names, name)
		c.mems[name] = store.NewMemory()
		c.es[name] = errstore.New(c.mems[name])
		h, err := peer.NewHandler(peer.HandlerConfig{Backend: c.es[name], Key: clusterKey})
		if err != nil {
			t.Fatal(err)
		}
		hang := &atomic.Bool{}
		c.hang[name] = hang
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hang.Load() {
				<-r.Context().Done() // the client gave up
				return
			}
			h.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		c.srvs[name] = srv
		c.peers.urls[name] = srv.URL
	}
	c.placer = &hashPlacer{nodes: c.names, r: r}
	cfg := replica.DefaultTestConfig()
	cfg.Local = c.es["n0"]
	cfg.Placer = c.placer
	cfg.Peers = c.peers
	cfg.OnCorrupt = c.corrupt.record
	b, err := replica.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c.b = b
	return c
}

func (c *realCluster) holders(id store.ChunkID) []string {
	var out []string
	for _, name := range c.names {
		if _, err := c.mems[name].Stat(context.Background(), id.Key()); err == nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// chunkWhere returns a chunk whose order satisfies ok.
func (c *realCluster) chunkWhere(ok func(order []string) bool) ([]byte, store.ChunkID) {
	c.t.Helper()
	for range 1000 {
		data := randChunk(10_000)
		id := store.Sum(data)
		if ok(c.placer.Order(id)) {
			return data, id
		}
	}
	c.t.Fatal("no chunk found with the wanted placement")
	return nil, store.ChunkID{}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestRealChunkStore(t *testing.T) {
	c := newRealCluster(t, 5, 3)
	cfg := store.DefaultChunkStoreConfig()
	cfg.Backend = c.b
	cfg.MemCacheBytes = 0 // every Get reaches the Backend
	cs, err := store.NewChunkStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	ctx := ctxT(t)
	var ids []store.ChunkID
	var datas [][]byte
	for range 12 {
		data := randChunk(100_000)
		id, err := cs.Put(ctx, data)
		if err != nil {
			t.Fatalf("ChunkStore.Put: %v", err)
		}
		if want := sorted(c.placer.Order(id)[:3]); !slices.Equal(c.holders(id), want) {
			t.Errorf("chunk %s on %v, want its placement %v", id, c.holders(id), want)
		}
		ids, datas = append(ids, id), append(datas, data)
	}
	for i, id := range ids {
		got, err := cs.Get(ctx, id)
		if err != nil || !bytes.Equal(got, datas[i]) {
			t.Fatalf("ChunkStore.Get %s: %d bytes, %v", id, len(got), err)
		}
	}
	// A second Put of a stored chunk is a dedup, not an upload.
	if _, err := cs.Put(ctx, datas[0]); err != nil {
		t.Fatal(err)
	}
	if st := cs.Stats(); st.Uploads != 12 || st.Dedups != 1 {
		t.Errorf("ChunkStore stats %+v, want 12 uploads and 1 dedup", st)
	}
	// Reads of chunks this node does not hold came from peers and were
	// not copied here.
	for _, id := range ids {
		placed := slices.Contains(c.placer.Order(id)[:3], "n0")
		if _, err := c.mems["n0"].Stat(ctx, id.Key()); (err == nil) != placed {
			t.Errorf("chunk %s on n0: %v, placed there: %v", id, err == nil, placed)
		}
	}
}

func TestRealReplacement(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(c *realCluster, node string)
	}{
		{"dead in gossip", func(c *realCluster, node string) { c.peers.dead[node] = true }},
		{"server down", func(c *realCluster, node string) { c.srvs[node].Close() }},
		{"disk full", func(c *realCluster, node string) { c.es[node].FailAlways(errstore.OpPut, store.ErrNoSpace) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newRealCluster(t, 5, 3)
			// A chunk placed on two peers and n0, so that breaking the
			// second is replaced by the fourth.
			data, id := c.chunkWhere(func(o []string) bool { return o[0] == "n0" })
			order := c.placer.Order(id)
			tc.break_(c, order[1])
			if err := c.b.Put(ctxT(t), id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatalf("Put: %v", err)
			}
			want := sorted([]string{order[0], order[2], order[3]})
			if got := c.holders(id); !slices.Equal(got, want) {
				t.Errorf("chunk on %v, want %v", got, want)
			}
			// And it reads back from the stand-in when the local copy is
			// gone.
			c.mems["n0"].Delete(ctxT(t), id.Key())
			got, err := readKey(ctxT(t), c.b, id.Key(), 0, -1)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get: %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestRealNotEnoughNodes(t *testing.T) {
	c := newRealCluster(t, 3, 3)
	data := randChunk(1000)
	id := store.Sum(data)
	c.es["n1"].FailAlways(errstore.OpPut, store.ErrNoSpace)
	err := c.b.Put(ctxT(t), id.Key(), bytes.NewReader(data), int64(len(data)))
	wantErr(t, "Put with a full node", err, store.ErrNoSpace)

	c.es["n1"].Reset()
	c.srvs["n2"].Close()
	if err := c.b.Put(ctxT(t), id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Errorf("Put with one node of three down: %v; want two copies written", err)
	}
	c.srvs["n1"].Close()
	err = c.b.Put(ctxT(t), id.Key(), bytes.NewReader(data), int64(len(data)))
	wantErr(t, "Put with two nodes of three down", err, store.ErrUnreachable)
	wantNotErr(t, "Put with two nodes of three down", err, store.ErrNoSpace, context.DeadlineExceeded)
}

func TestRealReadFallback(t *testing.T) {
	c := newRealCluster(t, 5, 3)
	// Placed on three peers; this node comes last in the order.
	data, id := c.chunkWhere(func(o []string) bool { return o[4] == "n0" })
	order := c.placer.Order(id)
	ctx := ctxT(t)
	if err := c.b.Put(ctx, id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	// The first placed copy is corrupt, the second's server is down, the
	// third is missing; a stand-in node has a good copy. Every placed
	// node is asked before the stand-in, whatever their latencies.
	bad := bytes.Repeat([]byte{'z'}, len(data))
	if err := c.mems[order[0]].Put(ctx, id.Key(), bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatal(err)
	}
	c.srvs[order[1]].Close()
	c.mems[order[2]].Delete(ctx, id.Key())
	if err := c.mems[order[3]].Put(ctx, id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	got, err := readKey(ctx, c.b, id.Key(), 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	if calls := c.corrupt.get(); !slices.Equal(calls, []string{order[0] + " " + id.String()}) {
		t.Errorf("OnCorrupt calls %v, want one for %s", calls, order[0])
	}
	if _, err := c.mems["n0"].Stat(ctx, id.Key()); err == nil {
		t.Error("a chunk read from a peer was stored locally")
	}
	// A ranged read (unverified) from a healthy copy.
	c.mems[order[0]].Delete(ctx, id.Key())
	got, err = readKey(ctx, c.b, id.Key(), 100, 250)
	if err != nil || !bytes.Equal(got, data[100:350]) {
		t.Fatalf("ranged Get: %d bytes, %v", len(got), err)
	}
	// Stat finds it on the placement; Delete removes it from every alive
	// node.
	if err := c.mems[order[2]].Put(ctx, id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if info, err := c.b.Stat(ctx, id.Key()); err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat: %+v, %v", info, err)
	}
	c.peers.dead[order[1]] = true
	if err := c.b.Delete(ctx, id.Key()); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := c.holders(id); !slices.Equal(got, []string{order[1]}) {
		t.Errorf("after Delete the chunk is on %v, want only the dead %s", got, order[1])
	}
	_, err = readKey(ctx, c.b, id.Key(), 0, -1)
	wantErr(t, "Get after Delete", err, store.ErrUnreachable) // the dead node could not be asked
}

func TestRealLocateAndDelete(t *testing.T) {
	c := newRealCluster(t, 4, 3)
	ctx := ctxT(t)
	data := randChunk(5000)
	id := store.Sum(data)
	if err := c.b.Put(ctx, id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	order := c.placer.Order(id)
	reps := c.b.Locate(ctx, id)
	for i, r := range reps {
		if r.Node != order[i] || !r.Has || r.Size != 5000 || r.Err != nil {
			t.Errorf("Locate[%d] = %+v, want %s holding 5000 bytes", i, r, order[i])
		}
	}
	if err := c.b.Delete(ctx, id.Key()); err != nil {
		t.Fatal(err)
	}
	if got := c.holders(id); len(got) != 0 {
		t.Errorf("after Delete the chunk is on %v", got)
	}
	for _, r := range c.b.Locate(ctx, id) {
		if r.Has || r.Err != nil {
			t.Errorf("Locate after Delete: %+v", r)
		}
	}
	_, err := readKey(ctx, c.b, id.Key(), 0, -1)
	wantErr(t, "Get after Delete", err, store.ErrNotFound)
}

// TestRealTimeout: a peer that accepts the request but never answers is
// given up on after the Timeout and the read moves on.
func TestRealTimeout(t *testing.T) {
	c := newRealCluster(t, 3, 3)
	data, id := c.chunkWhere(func(o []string) bool { return o[0] == "n0" })
	order := c.placer.Order(id)
	ctx := ctxT(t)
	if err := c.b.Put(ctx, id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	c.mems["n0"].Delete(ctx, id.Key())
	// order[1] hangs: its listener accepts but the handler blocks.
	c.hang[order[1]].Store(true)
	cfg := replica.DefaultTestConfig()
	cfg.Local = c.es["n0"]
	cfg.Placer = c.placer
	cfg.Peers = c.peers
	cfg.Timeout = 300 * time.Millisecond
	b, err := replica.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	start := time.Now()
	got, err := readKey(ctx, b, id.Key(), 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("Get took %v: the hanging %s was not asked first", d, order[1])
	}
}

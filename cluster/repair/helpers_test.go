package repair_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/cluster/repair"
	"github.com/dfsproject/dfs/store"
)

// testNode is one fake node: a memory backend served by a real peer
// handler over httptest, reached with a real peer.Client.
type testNode struct {
	name   string
	mem    *store.Memory
	back   *lockedBackend // mem, behind the cluster's snapshot lock
	srv    *httptest.Server
	client *peer.Client
	alive  atomic.Bool
}

// testCluster is an in-process cluster sharing one fake namespace.
type testCluster struct {
	t      testing.TB
	key    []byte
	nodes  map[string]*testNode
	placer atomic.Pointer[placement.Placer]
	layout *placement.Layout
	chunks *fakeChunks
	// snap is taken shared by every Put and Delete of every node's
	// backend, and exclusively by snapshot, which so sees all backends at
	// one instant.
	snap sync.RWMutex
}

func newTestCluster(t testing.TB, names ...string) *testCluster {
	t.Helper()
	key, err := cluster.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &testCluster{t: t, key: key, nodes: map[string]*testNode{}, chunks: newFakeChunks()}
	l := &placement.Layout{Replicas: 3}
	for _, name := range names {
		c.addNode(name)
		l.Nodes = append(l.Nodes, placement.Node{Name: name, Weight: 100})
	}
	c.setLayout(l)
	return c
}

// addNode starts a node that is not in the layout yet.
func (c *testCluster) addNode(name string) *testNode {
	c.t.Helper()
	n := &testNode{name: name, mem: store.NewMemory()}
	n.back = &lockedBackend{Backend: n.mem, mu: &c.snap}
	h, err := peer.NewHandler(peer.HandlerConfig{Backend: n.back, Key: c.key})
	if err != nil {
		c.t.Fatal(err)
	}
	n.srv = httptest.NewServer(h)
	c.t.Cleanup(n.srv.Close)
	n.client = &peer.Client{BaseURL: n.srv.URL, Key: c.key, HTTP: n.srv.Client()}
	n.alive.Store(true)
	c.nodes[name] = n
	return n
}

func (c *testCluster) setLayout(l *placement.Layout) {
	c.t.Helper()
	p, err := l.Compile()
	if err != nil {
		c.t.Fatal(err)
	}
	c.layout = l
	c.placer.Store(p)
}

// without takes name out of the layout (the leader's down-out).
func (c *testCluster) without(name string) {
	c.t.Helper()
	l, err := c.layout.Without(name)
	if err != nil {
		c.t.Fatal(err)
	}
	c.setLayout(l)
}

// with adds name to the layout.
func (c *testCluster) with(name string) {
	c.t.Helper()
	l, err := c.layout.With(placement.Node{Name: name, Weight: 100})
	if err != nil {
		c.t.Fatal(err)
	}
	c.setLayout(l)
}

// kill marks a node dead and stops its server.
func (c *testCluster) kill(name string) {
	n := c.nodes[name]
	n.alive.Store(false)
	n.srv.CloseClientConnections()
	n.srv.Close()
}

func (c *testCluster) Alive(name string) bool {
	n := c.nodes[name]
	return n != nil && n.alive.Load()
}

func (c *testCluster) Client(name string) (repair.Peer, bool) {
	n := c.nodes[name]
	if n == nil {
		return nil, false
	}
	return n.client, true
}

func (c *testCluster) liveNames() []string {
	var out []string
	for name, n := range c.nodes {
		if n.alive.Load() {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// config is the test configuration of a keeper for node name.
func (c *testCluster) config(name string) repair.Config {
	cfg := repair.DefaultTestConfig()
	cfg.Node = name
	cfg.Local = c.nodes[name].back
	cfg.Placer = c.placer.Load
	cfg.Peers = c
	cfg.Chunks = c.chunks
	cfg.ListLimit = 7 // cross inventory pages
	return cfg
}

func (c *testCluster) keeper(name string, edit func(*repair.Config)) *repair.Keeper {
	c.t.Helper()
	cfg := c.config(name)
	if edit != nil {
		edit(&cfg)
	}
	k, err := repair.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	repair.SetBatch(k, 13) // cross namespace and local pages
	c.t.Cleanup(func() { k.Close() })
	return k
}

// keepers returns a keeper for every live node.
func (c *testCluster) keepers(edit func(*repair.Config)) map[string]*repair.Keeper {
	out := map[string]*repair.Keeper{}
	for _, name := range c.liveNames() {
		out[name] = c.keeper(name, edit)
	}
	return out
}

// put stores data directly in the named nodes' backends.
func (c *testCluster) put(data []byte, nodes ...string) store.ChunkID {
	c.t.Helper()
	id := store.Sum(data)
	for _, n := range nodes {
		if err := c.nodes[n].mem.Put(context.Background(), id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
			c.t.Fatal(err)
		}
	}
	return id
}

// write stores a new random referenced chunk on its placed nodes, as the
// write path does, and returns its ID.
func (c *testCluster) write(rng *rand.Rand, size int) store.ChunkID {
	data := randomBytes(rng, size)
	id := store.Sum(data)
	c.put(data, c.placer.Load().Place(id)...)
	c.chunks.setRefs(id, 1)
	return id
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// holders returns the nodes whose backend holds a sound copy of id,
// sorted.
func (c *testCluster) holders(id store.ChunkID) []string {
	var out []string
	for name, n := range c.nodes {
		if sound(n.mem, id) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func sound(b store.Backend, id store.ChunkID) bool {
	rc, err := b.Get(context.Background(), id.Key(), 0, -1)
	if err != nil {
		return false
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	return err == nil && store.Verify(id, data) == nil
}

// snapshot counts, at one instant, the nodes holding each of ids.
func (c *testCluster) snapshot(ids []store.ChunkID) []int {
	c.snap.Lock()
	defer c.snap.Unlock()
	out := make([]int, len(ids))
	for i, id := range ids {
		for _, n := range c.nodes {
			if _, err := n.mem.Stat(context.Background(), id.Key()); err == nil {
				out[i]++
			}
		}
	}
	return out
}

// placedSorted is Place(id), sorted.
func (c *testCluster) placedSorted(id store.ChunkID) []string {
	p := slices.Clone(c.placer.Load().Place(id))
	slices.Sort(p)
	return p
}

// lockedBackend takes a shared lock around the calls that change the
// backend, so that a snapshot under the exclusive lock sees every backend
// at one instant.
type lockedBackend struct {
	store.Backend
	mu *sync.RWMutex
}

func (b *lockedBackend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.Backend.Put(ctx, key, r, size)
}

func (b *lockedBackend) Delete(ctx context.Context, key string) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.Backend.Delete(ctx, key)
}

// fakeChunks is the namespace's chunk references, in a map.
type fakeChunks struct {
	mu        sync.Mutex
	refs      map[store.ChunkID]uint64
	zeroSince map[store.ChunkID]int64 // for records of count 0
	// onRefCount, if set, is called (without mu) after every
	// ChunkRefCount with the chunk and how many times it was asked.
	onRefCount func(id store.ChunkID, nth int)
	asked      map[store.ChunkID]int
}

func newFakeChunks() *fakeChunks {
	return &fakeChunks{refs: map[store.ChunkID]uint64{}, zeroSince: map[store.ChunkID]int64{}, asked: map[store.ChunkID]int{}}
}

// setRefs sets id's count; a count of 0 becomes a zero record since now
// (real time).
func (f *fakeChunks) setRefs(id store.ChunkID, n uint64) { f.setRefsAt(id, n, time.Now()) }

func (f *fakeChunks) setRefsAt(id store.ChunkID, n uint64, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs[id] = n
	if n == 0 {
		f.zeroSince[id] = at.UnixNano()
	} else {
		delete(f.zeroSince, id)
	}
}

func (f *fakeChunks) ids() []store.ChunkID {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.ChunkID
	for id := range f.refs {
		out = append(out, id)
	}
	slices.SortFunc(out, func(a, b store.ChunkID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

func (f *fakeChunks) ForEachChunk(ctx context.Context, after store.ChunkID, fn func(store.ChunkID, uint64) error) error {
	for _, id := range f.ids() {
		if !after.IsZero() && bytes.Compare(id[:], after[:]) <= 0 {
			continue
		}
		f.mu.Lock()
		n, ok := f.refs[id]
		f.mu.Unlock()
		if !ok {
			continue
		}
		if err := fn(id, n); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeChunks) ChunkRefCount(ctx context.Context, id store.ChunkID) (uint64, error) {
	f.mu.Lock()
	n := f.refs[id]
	f.asked[id]++
	nth := f.asked[id]
	hook := f.onRefCount
	f.mu.Unlock()
	if hook != nil {
		hook(id, nth)
	}
	return n, nil
}

func (f *fakeChunks) ZeroRefChunks(ctx context.Context, before int64, limit int) ([]store.ChunkID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	type z struct {
		id    store.ChunkID
		since int64
	}
	var zs []z
	for id, since := range f.zeroSince {
		if f.refs[id] == 0 && since < before {
			zs = append(zs, z{id, since})
		}
	}
	slices.SortFunc(zs, func(a, b z) int {
		return cmp.Or(cmp.Compare(a.since, b.since), bytes.Compare(a.id[:], b.id[:]))
	})
	var out []store.ChunkID
	for _, e := range zs {
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, e.id)
	}
	return out, nil
}

// fakeClock is a clock that moves only when told, or, with autoSleep, by
// every wait (which then returns at once): it adds up the time slept.
type fakeClock struct {
	mu        sync.Mutex
	now       time.Time
	autoSleep bool
	slept     time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if c.autoSleep {
		c.now = c.now.Add(d)
		c.slept += d
		ch <- c.now
	}
	return ch // without autoSleep: never fires
}

func (c *fakeClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// eventually polls cond every few milliseconds until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func shortID(id store.ChunkID) string { return fmt.Sprintf("%.8s", id.String()) }

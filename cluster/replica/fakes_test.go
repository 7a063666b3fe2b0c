package replica_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/replica"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
)

// Remote operations, for counting calls and injecting faults.
const (
	opGet    = "get"
	opRange  = "range"
	opPut    = "put"
	opStat   = "stat"
	opDelete = "delete"
)

// fault is what a fakeRemote does instead of an operation.
type fault struct {
	err  error // fail with err
	hang bool  // block until ctx is done
	n    int   // only the next n calls (0: all until cleared)
}

// fakeRemote is a peer backed by a store.Memory, with fault injection. It
// verifies whole chunks like peer.Client does.
type fakeRemote struct {
	name    string
	mem     *store.Memory
	clock   *fakeClock    // advanced by delay on every call, if set
	delay   time.Duration // simulated latency, on clock
	work    time.Duration // real time spent in every call
	entered chan string   // if set, gets the op of every call as it starts
	global  *gauge        // if set, counts calls in flight across remotes
	gate    chan struct{} // if set, every call waits for it to close

	mu       sync.Mutex
	faults   map[string]*fault
	calls    map[string]int
	inflight int
}

func newFakeRemote(name string, mem *store.Memory) *fakeRemote {
	return &fakeRemote{name: name, mem: mem, faults: map[string]*fault{}, calls: map[string]int{}}
}

func (f *fakeRemote) setFault(op string, ft fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[op] = &ft
}

func (f *fakeRemote) callCount(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeRemote) totalCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *fakeRemote) resetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = map[string]int{}
}

func (f *fakeRemote) inFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inflight
}

// enter starts a call of op: it counts it and plays its fault, if any.
// The caller must call the returned function when the call ends.
func (f *fakeRemote) enter(ctx context.Context, op string) (func(), error) {
	f.mu.Lock()
	f.calls[op]++
	f.inflight++
	ft := f.faults[op]
	var play fault
	if ft != nil {
		play = *ft
		if ft.n > 0 {
			ft.n--
			if ft.n == 0 {
				delete(f.faults, op)
			}
		}
	}
	f.mu.Unlock()
	if f.global != nil {
		f.global.add(1)
	}
	exit := func() {
		if f.global != nil {
			f.global.add(-1)
		}
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}
	if f.entered != nil {
		f.entered <- op
	}
	if f.gate != nil {
		<-f.gate
	}
	if f.clock != nil {
		f.clock.Advance(f.delay)
	}
	if f.work > 0 {
		time.Sleep(f.work) // simulated work, so that calls overlap
	}
	switch {
	case play.hang:
		<-ctx.Done()
		return exit, fmt.Errorf("fake %s %s: %w", f.name, op, ctx.Err())
	case play.err != nil:
		return exit, fmt.Errorf("fake %s %s: %w", f.name, op, play.err)
	}
	if err := ctx.Err(); err != nil {
		return exit, err
	}
	return exit, nil
}

func (f *fakeRemote) GetChunk(ctx context.Context, id store.ChunkID) ([]byte, error) {
	exit, err := f.enter(ctx, opGet)
	defer exit()
	if err != nil {
		return nil, err
	}
	data, err := readKey(ctx, f.mem, id.Key(), 0, -1)
	if err != nil {
		return nil, err
	}
	if err := store.Verify(id, data); err != nil {
		return nil, fmt.Errorf("fake %s: %w", f.name, err)
	}
	return data, nil
}

func (f *fakeRemote) GetChunkRange(ctx context.Context, id store.ChunkID, off, length int64) ([]byte, error) {
	exit, err := f.enter(ctx, opRange)
	defer exit()
	if err != nil {
		return nil, err
	}
	return readKey(ctx, f.mem, id.Key(), off, length)
}

func (f *fakeRemote) PutChunk(ctx context.Context, id store.ChunkID, data []byte) error {
	exit, err := f.enter(ctx, opPut)
	defer exit()
	if err != nil {
		return err
	}
	if err := store.Verify(id, data); err != nil {
		return err
	}
	return f.mem.Put(ctx, id.Key(), bytes.NewReader(data), int64(len(data)))
}

func (f *fakeRemote) StatChunk(ctx context.Context, id store.ChunkID) (int64, error) {
	exit, err := f.enter(ctx, opStat)
	defer exit()
	if err != nil {
		return 0, err
	}
	info, err := f.mem.Stat(ctx, id.Key())
	return info.Size, err
}

func (f *fakeRemote) DeleteChunk(ctx context.Context, id store.ChunkID) error {
	exit, err := f.enter(ctx, opDelete)
	defer exit()
	if err != nil {
		return err
	}
	return f.mem.Delete(ctx, id.Key())
}

var _ replica.Remote = (*fakeRemote)(nil)

func readKey(ctx context.Context, b store.Backend, key string, off, length int64) ([]byte, error) {
	rc, err := b.Get(ctx, key, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// gauge tracks a count and its maximum.
type gauge struct {
	mu       sync.Mutex
	now, top int
}

func (g *gauge) add(d int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.now += d
	g.top = max(g.top, g.now)
}

func (g *gauge) max() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.top
}

// fakePeers implements replica.Peers over fakeRemotes.
type fakePeers struct {
	local   string
	mu      sync.Mutex
	remotes map[string]replica.Remote
	dead    map[string]bool
	noAddr  map[string]bool // alive, but Client answers false
}

func (p *fakePeers) Local() string { return p.local }

func (p *fakePeers) Alive(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, known := p.remotes[name]
	return (known || name == p.local) && !p.dead[name]
}

func (p *fakePeers) Client(name string) (replica.Remote, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.remotes[name]
	if !ok || p.noAddr[name] {
		return nil, false
	}
	return r, true
}

func (p *fakePeers) setDead(name string, dead bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dead[name] = dead
}

// fixedPlacer places every chunk on the same nodes, in the same order.
type fixedPlacer struct {
	nodes []string
	r     int
}

func (p *fixedPlacer) Order(store.ChunkID) []string { return slices.Clone(p.nodes) }
func (p *fixedPlacer) Replicas() int                { return p.r }

// fakeClock is a clock that only moves when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// corruptLog records OnCorrupt calls.
type corruptLog struct {
	mu    sync.Mutex
	calls []string
}

func (c *corruptLog) record(node string, id store.ChunkID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, node+" "+id.String())
}

func (c *corruptLog) get() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// fakeCluster is a Backend on node local of a cluster of fake nodes
// n0..n{n-1} (placed in that order), every one with its own store.Memory.
type fakeCluster struct {
	t       *testing.T
	names   []string // the placement order
	local   string
	es      *errstore.Store // the local backend, over mems[local]
	mems    map[string]*store.Memory
	remotes map[string]*fakeRemote
	peers   *fakePeers
	clock   *fakeClock
	corrupt *corruptLog
	b       *replica.Backend
}

type fakeOpts struct {
	local string // default "n0"; a name outside the order makes a client node
	cfg   func(*replica.Config)
}

func newFakeCluster(t *testing.T, n, r int, opts fakeOpts) *fakeCluster {
	t.Helper()
	c := &fakeCluster{
		t:       t,
		local:   opts.local,
		mems:    map[string]*store.Memory{},
		remotes: map[string]*fakeRemote{},
		clock:   newFakeClock(),
		corrupt: &corruptLog{},
	}
	if c.local == "" {
		c.local = "n0"
	}
	c.peers = &fakePeers{local: c.local, remotes: map[string]replica.Remote{}, dead: map[string]bool{}, noAddr: map[string]bool{}}
	for i := range n {
		c.names = append(c.names, fmt.Sprintf("n%d", i))
	}
	for _, name := range append(slices.Clone(c.names), c.local) {
		if c.mems[name] != nil {
			continue
		}
		c.mems[name] = store.NewMemory()
		if name != c.local {
			fr := newFakeRemote(name, c.mems[name])
			fr.clock = c.clock
			c.remotes[name] = fr
			c.peers.remotes[name] = fr
		}
	}
	c.es = errstore.New(c.mems[c.local])
	cfg := replica.DefaultTestConfig()
	cfg.Local = c.es
	cfg.Placer = &fixedPlacer{nodes: c.names, r: r}
	cfg.Peers = c.peers
	cfg.Timeout = 200 * time.Millisecond
	cfg.OnCorrupt = c.corrupt.record
	cfg.Now = c.clock.Now
	if opts.cfg != nil {
		opts.cfg(&cfg)
	}
	b, err := replica.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c.b = b
	return c
}

// holders returns the nodes whose storage holds id, in name order.
func (c *fakeCluster) holders(id store.ChunkID) []string {
	var out []string
	for name, m := range c.mems {
		if _, err := m.Stat(context.Background(), id.Key()); err == nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// store puts data directly into the storage of nodes.
func (c *fakeCluster) store(data []byte, nodes ...string) store.ChunkID {
	c.t.Helper()
	id := store.Sum(data)
	for _, n := range nodes {
		if err := c.mems[n].Put(context.Background(), id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
			c.t.Fatal(err)
		}
	}
	return id
}

// corruptOn stores bytes that are not chunk id under its key on node.
func (c *fakeCluster) corruptOn(id store.ChunkID, node string) {
	c.t.Helper()
	bad := []byte("these bytes are not the chunk")
	if err := c.mems[node].Put(context.Background(), id.Key(), bytes.NewReader(bad), int64(len(bad))); err != nil {
		c.t.Fatal(err)
	}
}

func (c *fakeCluster) resetCalls() {
	for _, r := range c.remotes {
		r.resetCalls()
	}
}

// put calls Backend.Put with data under its chunk key.
func (c *fakeCluster) put(ctx context.Context, data []byte) (store.ChunkID, error) {
	id := store.Sum(data)
	return id, c.b.Put(ctx, id.Key(), bytes.NewReader(data), int64(len(data)))
}

// get reads chunk id through the Backend.
func (c *fakeCluster) get(ctx context.Context, id store.ChunkID, off, length int64) ([]byte, error) {
	return readKey(ctx, c.b, id.Key(), off, length)
}

var seedCounter atomic.Uint64

// randChunk returns n random bytes, different on every call.
func randChunk(n int) []byte {
	s := seedCounter.Add(1)
	rnd := rand.New(rand.NewPCG(s, s*7919))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
	return b
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func wantErr(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("%s: %v, want an error wrapping %v", what, err, target)
		}
	}
}

func wantNotErr(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if errors.Is(err, target) {
			t.Fatalf("%s: %v wraps %v; it must not", what, err, target)
		}
	}
}

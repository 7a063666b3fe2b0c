package replica_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/replica"
	"github.com/dfsproject/dfs/store"
)

// observed is one Config.Observe call.
type observed struct {
	node, op string
	bytes    int64
	d        time.Duration
	err      error
}

// callLog records Config.Observe calls. Safe for concurrent use.
type callLog struct {
	mu    sync.Mutex
	calls []observed
}

func (l *callLog) observe(node, op string, bytes int64, d time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, observed{node, op, bytes, d, err})
}

// take returns the calls recorded since the last take, sorted by node
// then op (calls to several nodes run at once), and forgets them.
func (l *callLog) take() []observed {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.calls
	l.calls = nil
	slices.SortStableFunc(out, func(a, b observed) int {
		return strings.Compare(a.node+" "+a.op, b.node+" "+b.op)
	})
	return out
}

// observedCluster is a fakeCluster whose Backend reports to a callLog;
// every remote call takes delay on the fake clock.
func observedCluster(t *testing.T, n, r int, delay time.Duration) (*fakeCluster, *callLog) {
	log := &callLog{}
	c := newFakeCluster(t, n, r, fakeOpts{cfg: func(cfg *replica.Config) { cfg.Observe = log.observe }})
	for _, rem := range c.remotes {
		rem.delay = delay
	}
	return c, log
}

// want checks one observation: node, op, bytes, and that err wraps each
// of errs (nil: no error).
func (o observed) want(t *testing.T, node, op string, bytes int64, errs ...error) {
	t.Helper()
	if o.node != node || o.op != op || o.bytes != bytes {
		t.Errorf("observed %s %s %d bytes, want %s %s %d bytes", o.node, o.op, o.bytes, node, op, bytes)
	}
	if len(errs) == 0 && o.err != nil {
		t.Errorf("%s %s: observed error %v, want none", node, op, o.err)
	}
	for _, target := range errs {
		if !errors.Is(o.err, target) {
			t.Errorf("%s %s: observed error %v, want one wrapping %v", node, op, o.err, target)
		}
	}
}

func wantCalls(t *testing.T, got []observed, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d calls observed, want %d: %+v", len(got), n, got)
	}
}

func TestObservePut(t *testing.T) {
	const delay = 5 * time.Millisecond
	c, log := observedCluster(t, 4, 3, delay)
	data := randChunk(1000)
	if _, err := c.put(ctxT(t), data); err != nil {
		t.Fatal(err)
	}
	got := log.take()
	wantCalls(t, got, 3)
	got[0].want(t, "n0", replica.OpPut, 1000) // the local backend, under this node's name
	got[1].want(t, "n1", replica.OpPut, 1000)
	got[2].want(t, "n2", replica.OpPut, 1000)
	for _, o := range got[1:] {
		if o.d < delay {
			t.Errorf("%s: observed %v, want at least the %v the call took", o.node, o.d, delay)
		}
	}

	// A failed write moves no bytes; its stand-in is reported too.
	c.remotes["n1"].setFault(opPut, fault{err: store.ErrNoSpace})
	if _, err := c.put(ctxT(t), randChunk(500)); err != nil {
		t.Fatal(err)
	}
	got = log.take()
	wantCalls(t, got, 4)
	got[0].want(t, "n0", replica.OpPut, 500)
	got[1].want(t, "n1", replica.OpPut, 0, store.ErrNoSpace)
	got[2].want(t, "n2", replica.OpPut, 500)
	got[3].want(t, "n3", replica.OpPut, 500)
}

func TestObserveGet(t *testing.T) {
	const delay = 7 * time.Millisecond
	c, log := observedCluster(t, 3, 3, delay)
	data := randChunk(2000)
	id := c.store(data, "n1", "n2")
	if _, err := c.get(ctxT(t), id, 0, -1); err != nil {
		t.Fatal(err)
	}
	got := log.take()
	wantCalls(t, got, 2)
	got[0].want(t, "n0", replica.OpGet, 0, store.ErrNotFound) // an answer, reported as an error
	got[1].want(t, "n1", replica.OpGet, 2000)
	if got[1].d != delay {
		t.Errorf("n1 get took %v on the fake clock, observed %v", delay, got[1].d)
	}

	// A node that fails, and one that times out (an error wrapping
	// ErrUnreachable, not the caller's context error).
	refused := errors.New("refused")
	c.remotes["n1"].setFault(opGet, fault{err: refused})
	c.remotes["n2"].setFault(opGet, fault{hang: true})
	if _, err := c.get(ctxT(t), id, 0, -1); !errors.Is(err, store.ErrUnreachable) {
		t.Fatalf("get with every replica failing: %v", err)
	}
	got = log.take()
	wantCalls(t, got, 3)
	got[1].want(t, "n1", replica.OpGet, 0, refused)
	got[2].want(t, "n2", replica.OpGet, 0, store.ErrUnreachable)
	if errors.Is(got[2].err, context.Canceled) || errors.Is(got[2].err, context.DeadlineExceeded) {
		t.Errorf("n2's timeout observed as %v: it must not look abandoned by the caller", got[2].err)
	}
}

func TestObserveLocalRangedGet(t *testing.T) {
	c, log := observedCluster(t, 3, 3, 0)
	id := c.store(randChunk(1000), "n0")
	rc, err := c.b.Get(ctxT(t), id.Key(), 100, 300)
	if err != nil {
		t.Fatal(err)
	}
	if got := log.take(); len(got) != 0 {
		t.Fatalf("a ranged get observed before its reader was read and closed: %+v", got)
	}
	if n, err := io.Copy(io.Discard, rc); n != 300 || err != nil {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	rc.Close()
	rc.Close()
	got := log.take()
	wantCalls(t, got, 1)
	got[0].want(t, "n0", replica.OpGet, 300)
}

func TestObserveStatAndDelete(t *testing.T) {
	c, log := observedCluster(t, 3, 3, time.Millisecond)
	id := c.store(randChunk(100), "n1", "n2")
	// n2 hangs until Stat gives up on it, which it does once n1 answered;
	// n1 answers only once n2 is in its call.
	n2in := make(chan string)
	c.remotes["n2"].entered = n2in
	c.remotes["n2"].setFault(opStat, fault{hang: true})
	gate := make(chan struct{})
	c.remotes["n1"].gate = gate
	go func() {
		<-n2in
		close(gate)
	}()
	info, err := c.b.Stat(ctxT(t), id.Key())
	if err != nil || info.Size != 100 {
		t.Fatalf("stat: %+v, %v", info, err)
	}
	got := log.take()
	wantCalls(t, got, 3)
	got[0].want(t, "n0", replica.OpStat, 0, store.ErrNotFound)
	got[1].want(t, "n1", replica.OpStat, 0)
	got[2].want(t, "n2", replica.OpStat, 0, context.Canceled) // abandoned: n1 answered first
	c.remotes["n2"].entered, c.remotes["n1"].gate = nil, nil

	if err := c.b.Delete(ctxT(t), id.Key()); err != nil {
		t.Fatal(err)
	}
	got = log.take()
	wantCalls(t, got, 3)
	for i, n := range []string{"n0", "n1", "n2"} {
		got[i].want(t, n, replica.OpDelete, 0)
	}
}

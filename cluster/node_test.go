package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// Generous deadlines: the machine may be loaded and the race detector slow.
const (
	convergeTimeout = 30 * time.Second
	detectTimeout   = 20 * time.Second
)

// testLog sends slog output to t.Log until the test's cleanup ends it
// (memberlist may log from its goroutines for a moment after Shutdown),
// and keeps the lines for assertions.
type testLog struct {
	t     *testing.T
	mu    sync.Mutex
	done  bool
	lines []string
}

func newTestLog(t *testing.T) *testLog {
	l := &testLog{t: t}
	t.Cleanup(func() { l.mu.Lock(); l.done = true; l.mu.Unlock() })
	return l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.TrimRight(string(p), "\n")
	l.lines = append(l.lines, s)
	if !l.done {
		l.t.Log(s)
	}
	return len(p), nil
}

func (l *testLog) contains(sub string) bool { return l.count(sub) > 0 }

func (l *testLog) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

// recorder collects a node's events.
type recorder struct {
	mu     sync.Mutex
	events []Event
	done   chan struct{}
}

func record(n *Node) *recorder {
	r := &recorder{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for e := range n.Events() {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) find(typ EventType, name string) (Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Type == typ && e.Member.Name == name {
			return e, true
		}
	}
	return Event{}, false
}

type testNode struct {
	*Node
	log  *testLog
	rec  *recorder
	errc chan error
}

type testCluster struct {
	t   *testing.T
	key []byte
}

func newTestCluster(t *testing.T) *testCluster {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return &testCluster{t: t, key: k}
}

// start creates and runs a node; cleanup closes it and waits for Run.
func (tc *testCluster) start(name string, join []string, mod func(*Config)) *testNode {
	t := tc.t
	t.Helper()
	l := newTestLog(t)
	c := DefaultTestConfig()
	c.Name = name
	c.Key = tc.key
	c.Join = join
	c.HTTPAddr = "127.0.0.1:7948"
	c.Zone = "zone-" + name
	c.Capacity = 1000 * uint64(len(name))
	c.Version = "test"
	c.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if mod != nil {
		mod(&c)
	}
	n, err := New(c)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	tn := &testNode{Node: n, log: l, rec: record(n), errc: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { tn.errc <- n.Run(ctx) }()
	t.Cleanup(func() {
		_ = n.Close()
		cancel()
		<-tn.errc
		<-tn.rec.done
	})
	return tn
}

// startN starts n nodes, each joining the first.
func (tc *testCluster) startN(n int) []*testNode {
	nodes := []*testNode{tc.start("node-0", nil, nil)}
	for i := 1; i < n; i++ {
		nodes = append(nodes, tc.start(fmt.Sprintf("node-%d", i), []string{nodes[0].BoundAddr()}, nil))
	}
	return nodes
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		err := cond()
		if err == nil {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// memberState checks that n sees name in state want.
func memberState(n *testNode, name string, want MemberState) error {
	m, ok := n.Member(name)
	if !ok {
		return fmt.Errorf("%s does not know %s", n.LocalName(), name)
	}
	if m.State != want {
		return fmt.Errorf("%s sees %s %v, want %v", n.LocalName(), name, m.State, want)
	}
	return nil
}

func converged(nodes []*testNode) error {
	for _, n := range nodes {
		ms := n.Members()
		if len(ms) != len(nodes) {
			return fmt.Errorf("%s sees %d members, want %d", n.LocalName(), len(ms), len(nodes))
		}
		for i, m := range ms {
			if i > 0 && ms[i-1].Name >= m.Name {
				return fmt.Errorf("members not sorted by name")
			}
			if m.State != MemberAlive {
				return fmt.Errorf("%s sees %s %v", n.LocalName(), m.Name, m.State)
			}
			if m.Meta.Capacity != 1000*uint64(len(m.Name)) || m.Meta.Zone != "zone-"+m.Name || m.Meta.HTTPAddr != "127.0.0.1:7948" {
				return fmt.Errorf("%s sees %s with metadata %+v", n.LocalName(), m.Name, m.Meta)
			}
		}
	}
	return nil
}

func TestConverge(t *testing.T) {
	for _, size := range []int{3, 5} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			tc := newTestCluster(t)
			start := time.Now()
			nodes := tc.startN(size)
			eventually(t, convergeTimeout, "convergence", func() error { return converged(nodes) })
			t.Logf("%d nodes converged in %v", size, time.Since(start))
			for _, n := range nodes[1:] {
				if _, ok := nodes[0].rec.find(EventJoin, n.LocalName()); !ok {
					t.Errorf("node-0 got no join event for %s", n.LocalName())
				}
			}
		})
	}
}

func TestGracefulLeave(t *testing.T) {
	tc := newTestCluster(t)
	nodes := tc.startN(3)
	eventually(t, convergeTimeout, "convergence", func() error { return converged(nodes) })
	gone := nodes[2]
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gone.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	for _, n := range nodes[:2] {
		eventually(t, detectTimeout, "leave seen", func() error {
			if err := memberState(n, "node-2", MemberLeft); err != nil {
				return err
			}
			if _, ok := n.rec.find(EventLeft, "node-2"); !ok {
				return errors.New("no left event")
			}
			return nil
		})
		if _, ok := n.rec.find(EventDead, "node-2"); ok {
			t.Errorf("%s reported a graceful leave as dead", n.LocalName())
		}
	}
}

func TestCrashDetected(t *testing.T) {
	tc := newTestCluster(t)
	nodes := tc.startN(3)
	eventually(t, convergeTimeout, "convergence", func() error { return converged(nodes) })
	crashed := nodes[2]
	start := time.Now()
	crashed.abort() // memberlist Shutdown without Leave
	var wg sync.WaitGroup
	for _, n := range nodes[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < detectTimeout {
				if e, ok := n.rec.find(EventDead, "node-2"); ok {
					t.Logf("%s: dead event after %v", n.LocalName(), e.Time.Sub(start))
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Errorf("%s: no dead event for node-2 within %v", n.LocalName(), detectTimeout)
		}()
	}
	wg.Wait()
	for _, n := range nodes[:2] {
		if err := memberState(n, "node-2", MemberDead); err != nil {
			t.Error(err)
		}
	}
	// The survivor whose probe failed first reports the suspicion.
	_, s0 := nodes[0].rec.find(EventSuspect, "node-2")
	_, s1 := nodes[1].rec.find(EventSuspect, "node-2")
	if !s0 && !s1 {
		t.Error("no survivor reported node-2 suspect before dead")
	}
}

func TestRestartSameName(t *testing.T) {
	for _, samePort := range []bool{true, false} {
		t.Run(fmt.Sprintf("samePort=%v", samePort), func(t *testing.T) {
			tc := newTestCluster(t)
			nodes := tc.startN(3)
			eventually(t, convergeTimeout, "convergence", func() error { return converged(nodes) })
			old := nodes[2]
			addr := old.BoundAddr()
			old.abort()
			for _, n := range nodes[:2] {
				eventually(t, detectTimeout, "crash seen", func() error { return memberState(n, "node-2", MemberDead) })
			}
			back := tc.start("node-2", []string{nodes[0].BoundAddr()}, func(c *Config) {
				if samePort {
					c.BindAddr = addr
				}
			})
			nodes[2] = back
			eventually(t, convergeTimeout, "rejoin", func() error {
				if err := converged(nodes); err != nil {
					return err
				}
				for _, n := range nodes[:2] {
					if _, ok := n.rec.find(EventBack, "node-2"); !ok {
						return fmt.Errorf("%s got no back event", n.LocalName())
					}
				}
				return nil
			})
		})
	}
}

func TestWrongKeyRefused(t *testing.T) {
	tc := newTestCluster(t)
	a := tc.start("node-a", nil, nil)
	other := newTestCluster(t)
	l := newTestLog(t)
	c := DefaultTestConfig()
	c.Name = "intruder"
	c.Key = other.key
	c.HTTPAddr = "127.0.0.1:1"
	c.Join = []string{a.BoundAddr()}
	c.Logger = slog.New(slog.NewTextHandler(l, nil))
	x, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx, cancel := context.WithTimeout(context.Background(), detectTimeout)
	defer cancel()
	err = x.Run(ctx)
	if !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("Run = %v, want ErrKeyMismatch", err)
	}
	t.Logf("joining side: %v", err)
	if n := l.count("cluster key differs"); n != 1 {
		t.Errorf("joining side logged %d key lines, want 1", n)
	}
	eventually(t, detectTimeout, "cluster side logs the key problem", func() error {
		if !a.log.contains("cluster key differs") {
			return errors.New("no line")
		}
		return nil
	})
	if _, ok := a.Member("intruder"); ok {
		t.Error("intruder admitted")
	}
	if len(x.Members()) != 1 {
		t.Errorf("intruder sees %v", x.Members())
	}
}

func TestSetUsageThreshold(t *testing.T) {
	tc := newTestCluster(t)
	nodes := tc.startN(2)
	eventually(t, convergeTimeout, "convergence", func() error { return converged(nodes) })
	a, b := nodes[0], nodes[1]
	seenBy := func(n *testNode) NodeMeta { m, _ := n.Member(a.LocalName()); return m.Meta }

	a.SetUsage(1_000_000, 500_000)
	eventually(t, convergeTimeout, "first usage", func() error {
		if m := seenBy(b); m.Capacity != 1_000_000 || m.Used != 500_000 {
			return fmt.Errorf("b sees %+v", m)
		}
		return nil
	})
	eventually(t, convergeTimeout, "update sent", func() error {
		if len(a.updateC) != 0 {
			return errors.New("update pending")
		}
		return nil
	})
	before := a.updates.Load()

	a.SetUsage(1_000_000, 504_000) // +0.8%: not re-gossiped
	a.SetUsage(1_005_000, 504_000) // capacity +0.5%: not re-gossiped
	if got := a.updates.Load(); got != before || len(a.updateC) != 0 {
		t.Fatalf("small change triggered an update (%d -> %d, pending %d)", before, got, len(a.updateC))
	}
	if m, _ := a.Member(a.LocalName()); m.Meta.Used != 504_000 {
		t.Errorf("local view has used %d", m.Meta.Used)
	}

	a.SetUsage(1_005_000, 510_000) // +2% against the last gossiped 500000
	eventually(t, convergeTimeout, "second usage", func() error {
		if m := seenBy(b); m.Used != 510_000 || m.Capacity != 1_005_000 {
			return fmt.Errorf("b sees %+v", m)
		}
		return nil
	})
	if _, ok := b.rec.find(EventUpdate, a.LocalName()); !ok {
		t.Error("no update event")
	}

	if err := a.SetState(StateDraining); err != nil {
		t.Fatal(err)
	}
	eventually(t, convergeTimeout, "draining", func() error {
		if m := seenBy(b); m.State != StateDraining {
			return fmt.Errorf("b sees %v", m.State)
		}
		return nil
	})
}

func TestEmitDropsOldest(t *testing.T) {
	n := &Node{events: make(chan Event, 2), log: slog.New(slog.DiscardHandler)}
	for i := range 3 {
		n.emit(Event{Type: EventUpdate, Member: Member{Name: fmt.Sprint(i)}})
	}
	if got := n.DroppedEvents(); got != 1 {
		t.Fatalf("dropped %d, want 1", got)
	}
	if a, b := (<-n.events).Member.Name, (<-n.events).Member.Name; a != "1" || b != "2" {
		t.Fatalf("kept %s, %s; want 1, 2", a, b)
	}
}

func TestLogBridge(t *testing.T) {
	l := newTestLog(t)
	var suspected []string
	b := &logBridge{
		log:     slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})),
		suspect: func(name string) { suspected = append(suspected, name) },
	}
	lines := []string{
		"[DEBUG] memberlist: Stream connection from=127.0.0.1:1",
		"[WARN] memberlist: Was able to connect to x over TCP but UDP probes failed",
		"[ERR] memberlist: failed to receive: No installed keys could decrypt the message from=10.1.2.3:4567",
		"[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=10.1.2.3:4999",
		"[DEBUG] memberlist: Failed to join 10.9.9.9:7946: No installed keys could decrypt the message",
		"[INFO] memberlist: Suspect node-7 has failed, no acks received",
	}
	for _, s := range lines {
		if _, err := b.Write([]byte(s + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"level=DEBUG msg=\"Stream connection", "level=WARN msg=\"Was able", "level=INFO msg=\"Suspect node-7"} {
		if !l.contains(want) {
			t.Errorf("no line with %q", want)
		}
	}
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, "cluster key differs") {
			n++
			if !strings.Contains(s, "level=WARN") || !strings.Contains(s, "from=10.1.2.3:4567") {
				t.Errorf("key line: %s", s)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d key lines, want 1 (rate-limited per host)", n)
	}
	if len(suspected) != 1 || suspected[0] != "node-7" {
		t.Errorf("suspected %v", suspected)
	}
}

// TestDetectionTime measures kill-to-dead-event time with DefaultConfig's
// timings (on 127.0.0.1, free ports).
func TestDetectionTimeDefaultConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("takes several seconds")
	}
	tc := newTestCluster(t)
	lan := func(c *Config) {
		d := DefaultConfig()
		c.ProbeInterval, c.ProbeTimeout = d.ProbeInterval, d.ProbeTimeout
		c.SuspicionMult, c.SuspicionMaxTimeoutMult = d.SuspicionMult, d.SuspicionMaxTimeoutMult
		c.GossipInterval, c.PushPullInterval = d.GossipInterval, d.PushPullInterval
	}
	nodes := []*testNode{tc.start("node-0", nil, lan)}
	for i := 1; i < 3; i++ {
		nodes = append(nodes, tc.start(fmt.Sprintf("node-%d", i), []string{nodes[0].BoundAddr()}, lan))
	}
	eventually(t, convergeTimeout, "convergence", func() error { return converged(nodes) })
	start := time.Now()
	nodes[2].abort()
	for _, n := range nodes[:2] {
		eventually(t, 30*time.Second, "dead event", func() error {
			if _, ok := n.rec.find(EventDead, "node-2"); !ok {
				return errors.New("no dead event")
			}
			return nil
		})
		e, _ := n.rec.find(EventDead, "node-2")
		t.Logf("%s: dead event after %v (DefaultConfig timings)", n.LocalName(), e.Time.Sub(start))
	}
}

func TestUsageRefreshAndRunOnce(t *testing.T) {
	tc := newTestCluster(t)
	var mu sync.Mutex
	used := uint64(100)
	n := tc.start("solo", nil, func(c *Config) {
		c.UsageInterval = 20 * time.Millisecond
		c.Usage = func() (uint64, uint64, error) {
			mu.Lock()
			defer mu.Unlock()
			return 2000, used, nil
		}
	})
	eventually(t, convergeTimeout, "usage refreshed", func() error {
		if m, _ := n.Member("solo"); m.Meta.Capacity != 2000 || m.Meta.Used != 100 {
			return fmt.Errorf("meta %+v", m.Meta)
		}
		return nil
	})
	mu.Lock()
	used = 150
	mu.Unlock()
	eventually(t, convergeTimeout, "usage refreshed again", func() error {
		if m, _ := n.Member("solo"); m.Meta.Used != 150 {
			return fmt.Errorf("meta %+v", m.Meta)
		}
		return nil
	})
	if err := n.Run(context.Background()); err == nil {
		t.Error("second Run accepted")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-n.errc; err != nil {
		t.Errorf("Run after Close: %v", err)
	}
	n.errc <- nil // for the cleanup
	if m, _ := n.Member("solo"); m.State != MemberLeft {
		t.Errorf("local state after Close: %v", m.State)
	}
}

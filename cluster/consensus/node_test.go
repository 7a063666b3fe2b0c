package consensus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/store/meta"
)

// testCluster is n consensus nodes in this process with real transports
// (securenet on loopback), real forwarding (httptest servers) and a
// membership view the test controls.
type testCluster struct {
	t     *testing.T
	key   []byte
	mu    sync.Mutex
	view  map[string]cluster.Member
	nodes map[string]*Node
	fsms  map[string]*meta.FSM
	dirs  map[string]string
	srvs  map[string]*httptest.Server
}

func newTestCluster(t *testing.T) *testCluster {
	key, _ := cluster.GenerateKey()
	return &testCluster{t: t, key: key, view: map[string]cluster.Member{}, nodes: map[string]*Node{},
		fsms: map[string]*meta.FSM{}, dirs: map[string]string{}, srvs: map[string]*httptest.Server{}}
}

func (c *testCluster) members() []cluster.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []cluster.Member
	for _, name := range []string{"a", "b", "c", "d"} {
		if m, ok := c.view[name]; ok {
			out = append(out, m)
		}
	}
	return out
}

func (c *testCluster) setState(name string, st cluster.MemberState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.view[name]
	m.State, m.Since = st, time.Now()
	c.view[name] = m
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start starts (or restarts) node name; expect is its BootstrapExpect.
func (c *testCluster) start(name string, expect int) *Node {
	t := c.t
	if c.dirs[name] == "" {
		c.dirs[name] = t.TempDir()
	}
	fsm, err := meta.Open(meta.Config{Dir: c.dirs[name] + "/meta"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultTestConfig()
	cfg.Name = name
	cfg.BindAddr = freeAddr(t)
	cfg.Dir = c.dirs[name] + "/raft"
	cfg.Key = c.key
	cfg.FSM = fsm
	cfg.BootstrapExpect = expect
	cfg.Members = c.members
	cfg.DownOut = time.Second
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.Handler())
	c.mu.Lock()
	c.nodes[name], c.fsms[name], c.srvs[name] = n, fsm, srv
	c.view[name] = cluster.Member{Name: name, State: cluster.MemberAlive, Since: time.Now(),
		Meta: cluster.NodeMeta{Name: name, HTTPAddr: srv.Listener.Addr().String(), RaftAddr: cfg.BindAddr}}
	c.mu.Unlock()
	t.Cleanup(func() { c.stop(name) })
	return n
}

func (c *testCluster) stop(name string) {
	c.mu.Lock()
	n, fsm, srv := c.nodes[name], c.fsms[name], c.srvs[name]
	delete(c.nodes, name)
	c.mu.Unlock()
	if n == nil {
		return
	}
	srv.Close()
	n.Close()
	fsm.Close()
}

func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mkdir(name string) *meta.Cmd {
	return &meta.Cmd{Op: meta.OpMkdir, Parent: meta.RootIno, Name: name, Mode: syscall.S_IFDIR | 0o755}
}

func TestClusterLifecycle(t *testing.T) {
	c := newTestCluster(t)
	a := c.start("a", 1)
	eventually(t, "a leads", func() error {
		if !a.IsLeader() {
			return errors.New("not yet")
		}
		return nil
	})
	b := c.start("b", 0)
	cn := c.start("c", 0)
	eventually(t, "three voters", func() error {
		if v := a.Status().Voters; len(v) != 3 {
			return fmt.Errorf("voters %v", v)
		}
		return nil
	})

	ctx := context.Background()
	// The log ends with configuration entries, which the namespace never
	// sees: a barrier must still complete.
	if err := b.Barrier(ctx, time.Second); err != nil {
		t.Fatalf("barrier after configuration changes: %v", err)
	}
	// A mutation through a follower is forwarded to the leader, and the
	// follower sees it when Propose returns.
	res, err := b.Propose(ctx, mkdir("d1"))
	if err != nil || res.Errno != 0 {
		t.Fatalf("mkdir through a follower: %+v, %v", res, err)
	}
	if _, err := c.fsms["b"].Lookup(ctx, meta.RootIno, "d1"); err != nil {
		t.Fatalf("d1 on b right after b's mkdir: %v", err)
	}
	// The leader pushed the commit with a barrier entry: the log ends with
	// it, and barriers on followers still complete at once.
	time.Sleep(100 * time.Millisecond)
	for _, f := range []*Node{b, cn} {
		start := time.Now()
		if err := f.Barrier(ctx, time.Second); err != nil {
			t.Fatalf("barrier on %s after a pushed commit: %v", f.cfg.Name, err)
		}
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("barrier on %s took %v", f.cfg.Name, d)
		}
	}
	if res, err := cn.Propose(ctx, mkdir("d1")); err != nil || res.Errno != syscall.EEXIST {
		t.Fatalf("second mkdir of d1: %+v, %v; want EEXIST", res, err)
	}
	// A retried request (same ReqID) gets its first answer.
	retry := mkdir("d2")
	retry.ReqID = meta.ReqID{7}
	first, err := cn.Propose(ctx, retry)
	if err != nil || first.Errno != 0 {
		t.Fatalf("mkdir d2: %+v, %v", first, err)
	}
	if again, err := a.Propose(ctx, retry); err != nil || again.Errno != 0 || again.Attr.Ino != first.Attr.Ino {
		t.Fatalf("retried mkdir d2: %+v, %v; want the first answer %+v", again, err, first)
	}
	// After a barrier, a follower sees what the leader committed.
	if _, err := a.Propose(ctx, mkdir("d3")); err != nil {
		t.Fatal(err)
	}
	if err := cn.Barrier(ctx, 5*time.Second); err != nil {
		t.Fatalf("barrier on c: %v", err)
	}
	if _, err := c.fsms["c"].Lookup(ctx, meta.RootIno, "d3"); err != nil {
		t.Fatalf("d3 on c after a barrier: %v", err)
	}

	// The leader leaves: another takes over and mutations go on.
	c.setState("a", cluster.MemberLeft)
	c.stop("a")
	eventually(t, "a new leader", func() error {
		if b.Leader() == "" || b.Leader() == "a" {
			return fmt.Errorf("leader %q", b.Leader())
		}
		return nil
	})
	start := time.Now()
	if res, err := cn.Propose(ctx, mkdir("d4")); err != nil || res.Errno != 0 {
		t.Fatalf("mkdir after the leader left: %+v, %v", res, err)
	}
	t.Logf("first mutation after the leader left took %v", time.Since(start))
	leader := c.nodes[b.Leader()]
	eventually(t, "a removed", func() error {
		if v := leader.Status().Voters; len(v) != 2 {
			return fmt.Errorf("voters %v", v)
		}
		return nil
	})

	// It comes back on the same data and catches up.
	a = c.start("a", 1)
	eventually(t, "a back as a voter and caught up", func() error {
		if v := leader.Status().Voters; len(v) != 3 {
			return fmt.Errorf("voters %v", v)
		}
		if _, err := c.fsms["a"].Lookup(ctx, meta.RootIno, "d4"); err != nil {
			return fmt.Errorf("d4 on a: %v", err)
		}
		return nil
	})
	st, _ := c.fsms["a"].Stats(ctx)
	if st.Inodes != 5 {
		t.Errorf("a has %d inodes after catching up; want 5 (root, d1 to d4): an entry applied twice or lost", st.Inodes)
	}

	// Without a quorum, mutations fail within the apply timeout.
	c.setState("b", cluster.MemberDead)
	c.setState("c", cluster.MemberDead)
	c.stop("b")
	c.stop("c")
	start = time.Now()
	_, err = a.Propose(ctx, mkdir("d5"))
	if !errors.Is(err, ErrNoLeader) {
		t.Fatalf("mkdir without a quorum: %v; want ErrNoLeader", err)
	}
	if d := time.Since(start); d > a.cfg.ApplyTimeout+2*time.Second {
		t.Errorf("mkdir without a quorum failed after %v; want about %v", d, a.cfg.ApplyTimeout)
	}
	if err := a.Barrier(ctx, time.Second); err == nil {
		t.Errorf("barrier without a leader succeeded")
	}
	// Reads go on from the local copy.
	if _, err := c.fsms["a"].Lookup(ctx, meta.RootIno, "d4"); err != nil {
		t.Errorf("local read without a quorum: %v", err)
	}
}

func TestForwardRefusesUnsigned(t *testing.T) {
	c := newTestCluster(t)
	c.start("a", 1)
	resp, err := http.Post(c.srvs["a"].URL+pathApply, "application/octet-stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned apply: %d; want 401", resp.StatusCode)
	}
}

func TestRefusesStandaloneNamespace(t *testing.T) {
	dir := t.TempDir()
	fsm, err := meta.Open(meta.Config{Dir: dir + "/meta"})
	if err != nil {
		t.Fatal(err)
	}
	defer fsm.Close()
	if _, err := meta.NewLocal(fsm).Propose(context.Background(), mkdir("x")); err != nil {
		t.Fatal(err)
	}
	key, _ := cluster.GenerateKey()
	cfg := DefaultTestConfig()
	cfg.Name, cfg.BindAddr, cfg.Dir, cfg.Key, cfg.FSM = "a", freeAddr(t), dir+"/raft", key, fsm
	cfg.Members = func() []cluster.Member { return nil }
	if n, err := Open(cfg); !errors.Is(err, ErrExistingState) {
		if n != nil {
			n.Close()
		}
		t.Fatalf("Open on a standalone namespace: %v; want ErrExistingState", err)
	}
}

// TestBootstrapExpect: three nodes started with BootstrapExpect 3 form one
// cluster once all three are up; a fourth started with the same setting
// later joins it rather than forming its own.
func TestBootstrapExpect(t *testing.T) {
	c := newTestCluster(t)
	a := c.start("a", 3)
	time.Sleep(500 * time.Millisecond)
	if a.Leader() != "" {
		t.Fatalf("a leader (%s) with one node of three up", a.Leader())
	}
	b := c.start("b", 3)
	cn := c.start("c", 3)
	eventually(t, "one cluster of three", func() error {
		for _, n := range []*Node{a, b, cn} {
			if n.Leader() == "" {
				return fmt.Errorf("%s knows no leader", n.cfg.Name)
			}
			if v := n.Status().Voters; len(v) != 3 {
				return fmt.Errorf("%s sees voters %v", n.cfg.Name, v)
			}
		}
		if a.Leader() != b.Leader() || b.Leader() != cn.Leader() {
			return fmt.Errorf("leaders %s %s %s", a.Leader(), b.Leader(), cn.Leader())
		}
		return nil
	})
	d := c.start("d", 3)
	eventually(t, "d joins as a non-voter of the same cluster", func() error {
		st := c.nodes[a.Leader()].Status()
		if len(st.Voters) != 3 || len(st.Nonvoters) != 1 || st.Nonvoters[0] != "d" {
			return fmt.Errorf("voters %v non-voters %v", st.Voters, st.Nonvoters)
		}
		if d.Leader() != a.Leader() {
			return fmt.Errorf("d follows %q", d.Leader())
		}
		return nil
	})
	if res, err := d.Propose(context.Background(), mkdir("from-d")); err != nil || res.Errno != 0 {
		t.Fatalf("mkdir through the non-voter: %+v, %v", res, err)
	}
}

package raftmeta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/dfsproject/dfs/store/meta"
)

// recordingFSM checks, around the adapter under test, that the state's
// applied index never goes backwards, and counts restores and replayed
// entries (those at or below the applied index, which must change
// nothing).
type recordingFSM struct {
	*FSM
	f *meta.FSM

	mu       sync.Mutex
	high     uint64 // highest applied index seen
	restores int
	replayed int
	problems []string
}

func newRecordingFSM(f *meta.FSM) *recordingFSM {
	return &recordingFSM{FSM: NewFSM(f, testLogger()), f: f, high: f.AppliedIndex()}
}

func (r *recordingFSM) Apply(l *raft.Log) any {
	before := r.f.AppliedIndex()
	res := r.FSM.Apply(l)
	r.mu.Lock()
	defer r.mu.Unlock()
	if l.Type == raft.LogCommand && l.Index <= before {
		r.replayed++
		if m, _ := res.(*meta.Result); m == nil || m.Errno != 0 || m.Attr != nil {
			r.problems = append(r.problems, fmt.Sprintf("replayed entry %d gave %+v", l.Index, res))
		}
	}
	r.check("apply")
	return res
}

func (r *recordingFSM) Restore(rc io.ReadCloser) error {
	err := r.FSM.Restore(rc)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.restores++
	r.check("restore")
	return err
}

func (r *recordingFSM) check(op string) {
	if a := r.f.AppliedIndex(); a < r.high {
		r.problems = append(r.problems, fmt.Sprintf("%s moved the applied index back from %d to %d", op, r.high, a))
	} else {
		r.high = a
	}
}

func (r *recordingFSM) counts() (restores, replayed int, problems []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.restores, r.replayed, slices.Clone(r.problems)
}

// node is one raft server with its state, log and snapshots on disk.
type node struct {
	id    raft.ServerID
	dir   string
	trans *raft.InmemTransport
	meta  *meta.FSM
	fsm   *recordingFSM
	logs  *LogStore
	snaps *raft.FileSnapshotStore
	raft  *raft.Raft
}

func (n *node) addr() raft.ServerAddress { return raft.ServerAddress(n.id) }

type cluster struct {
	t       *testing.T
	dir     string
	nodes   []*node
	running map[*node]bool
	now     int64
}

func newCluster(t *testing.T) *cluster {
	// The directory first: cleanups run last in first out, so the nodes
	// are stopped before it is removed.
	c := &cluster{t: t, dir: t.TempDir(), running: map[*node]bool{}}
	t.Cleanup(func() {
		for _, n := range slices.Backward(c.nodes) {
			if c.running[n] {
				c.stop(n)
			}
		}
	})
	return c
}

func hcLogger(name string) hclog.Logger {
	if testing.Verbose() {
		return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn, Output: os.Stderr})
	}
	return hclog.NewNullLogger()
}

func raftConfig(id raft.ServerID) *raft.Config {
	conf := raft.DefaultConfig()
	conf.LocalID = id
	conf.HeartbeatTimeout = 150 * time.Millisecond
	conf.ElectionTimeout = 150 * time.Millisecond
	conf.LeaderLeaseTimeout = 100 * time.Millisecond
	conf.CommitTimeout = 5 * time.Millisecond
	conf.SnapshotInterval = time.Hour // snapshots only when the test asks
	conf.SnapshotThreshold = 1 << 40
	conf.TrailingLogs = 4 // so a snapshot compacts the log
	conf.Logger = hcLogger(string(id))
	return conf
}

// add makes a node (not started) with its directory.
func (c *cluster) add(id string) *node {
	n := &node{id: raft.ServerID(id), dir: filepath.Join(c.dir, id)}
	c.nodes = append(c.nodes, n)
	return n
}

// start opens n's stores from its directory and starts raft, restoring
// the newest snapshot only if NeedsRestore says so.
func (c *cluster) start(n *node) {
	t := c.t
	t.Helper()
	var err error
	cfg := meta.DefaultConfig()
	cfg.Dir = filepath.Join(n.dir, "meta")
	cfg.Logger = testLogger()
	if n.meta, err = meta.Open(cfg); err != nil {
		t.Fatal(err)
	}
	if n.logs, err = OpenLogStore(filepath.Join(n.dir, "raft"), testLogger()); err != nil {
		t.Fatal(err)
	}
	if n.snaps, err = raft.NewFileSnapshotStoreWithLogger(filepath.Join(n.dir, "snapshots"), 2, hcLogger(string(n.id))); err != nil {
		t.Fatal(err)
	}
	_, n.trans = raft.NewInmemTransport(n.addr())
	for _, o := range c.nodes {
		if c.running[o] {
			o.trans.Connect(n.addr(), n.trans)
			n.trans.Connect(o.addr(), o.trans)
		}
	}
	n.fsm = newRecordingFSM(n.meta)
	need, err := n.fsm.NeedsRestore(n.snaps)
	if err != nil {
		t.Fatal(err)
	}
	conf := raftConfig(n.id)
	conf.NoSnapshotRestoreOnStart = !need
	if n.raft, err = raft.NewRaft(conf, n.fsm, n.logs, n.logs, n.snaps, n.trans); err != nil {
		t.Fatal(err)
	}
	c.running[n] = true
}

// stop shuts raft down and closes n's stores, as a clean restart.
func (c *cluster) stop(n *node) {
	t := c.t
	t.Helper()
	if err := n.raft.Shutdown().Error(); err != nil {
		t.Errorf("shutdown %s: %v", n.id, err)
	}
	delete(c.running, n)
	for _, o := range c.nodes {
		if c.running[o] {
			o.trans.Disconnect(n.addr())
		}
	}
	if err := n.logs.Close(); err != nil {
		t.Errorf("close log of %s: %v", n.id, err)
	}
	if err := n.meta.Close(); err != nil {
		t.Errorf("close state of %s: %v", n.id, err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *cluster) leader() *node {
	c.t.Helper()
	var l *node
	c.eventually("a leader", func() bool {
		for _, n := range c.nodes {
			if c.running[n] && n.raft.State() == raft.Leader {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// apply proposes cmd on the leader and returns its Result. A command
// that failed because the node was no longer leader was never appended
// and is retried; any other failure (the fate unknown) fails the test.
func (c *cluster) apply(cmd meta.Cmd) *meta.Result {
	c.t.Helper()
	c.now++
	cmd.Now = c.now
	data := encode(c.t, cmd)
	for {
		f := c.leader().raft.Apply(data, 5*time.Second)
		err := f.Error()
		if errors.Is(err, raft.ErrNotLeader) {
			continue
		}
		if err != nil {
			c.t.Fatalf("apply %v %q: %v", cmd.Op, cmd.Name, err)
		}
		res, ok := f.Response().(*meta.Result)
		if !ok {
			c.t.Fatalf("apply %v %q: response %T", cmd.Op, cmd.Name, f.Response())
		}
		return res
	}
}

func (c *cluster) ok(cmd meta.Cmd) *meta.Result {
	c.t.Helper()
	res := c.apply(cmd)
	if res.Errno != 0 {
		c.t.Fatalf("%v %q: %v", cmd.Op, cmd.Name, res.Errno)
	}
	return res
}

// converge waits until every running node has applied what the leader
// has, and checks that their states are byte for byte the same and that
// no node applied anything twice or moved backwards.
func (c *cluster) converge() {
	c.t.Helper()
	l := c.leader()
	if err := l.raft.Barrier(5 * time.Second).Error(); err != nil {
		c.t.Fatalf("barrier: %v", err)
	}
	want := l.meta.AppliedIndex()
	for _, n := range c.nodes {
		if !c.running[n] {
			continue
		}
		c.eventually(fmt.Sprintf("%s to apply %d", n.id, want), func() bool { return n.meta.AppliedIndex() >= want })
	}
	ref := dump(c.t, l.meta)
	for _, n := range c.nodes {
		if !c.running[n] {
			continue
		}
		if got := dump(c.t, n.meta); !bytes.Equal(got, ref) {
			c.t.Errorf("state of %s differs from the leader's (%s)", n.id, l.id)
		}
		if _, _, problems := n.fsm.counts(); len(problems) > 0 {
			c.t.Errorf("%s: %v", n.id, problems)
		}
		if err := n.fsm.Err(); err != nil {
			c.t.Errorf("%s: %v", n.id, err)
		}
	}
}

// checkLookups checks that every running node answers the lookups of
// names (name -> parent) as the leader does.
func (c *cluster) checkLookups(names map[string]meta.Ino) {
	c.t.Helper()
	l := c.leader()
	for _, n := range c.nodes {
		if !c.running[n] {
			continue
		}
		for name, parent := range names {
			want, werr := l.meta.Lookup(ctx, parent, name)
			got, err := n.meta.Lookup(ctx, parent, name)
			if got != want || err != werr {
				c.t.Errorf("%s: lookup %q = %+v, %v; leader says %+v, %v", n.id, name, got, err, want, werr)
			}
		}
	}
}

func (c *cluster) follower(not ...*node) *node {
	c.t.Helper()
	l := c.leader()
	for _, n := range c.nodes {
		if c.running[n] && n != l && !slices.Contains(not, n) {
			return n
		}
	}
	c.t.Fatal("no follower")
	return nil
}

func TestRaftCluster(t *testing.T) {
	c := newCluster(t)
	n1, n2, n3 := c.add("n1"), c.add("n2"), c.add("n3")
	for _, n := range []*node{n1, n2, n3} {
		c.start(n)
	}
	servers := raft.Configuration{}
	for _, n := range []*node{n1, n2, n3} {
		servers.Servers = append(servers.Servers, raft.Server{ID: n.id, Address: n.addr()})
	}
	if err := n1.raft.BootstrapCluster(servers).Error(); err != nil {
		t.Fatal(err)
	}

	d := c.ok(meta.Cmd{Op: meta.OpMkdir, Parent: meta.RootIno, Name: "d", Mode: 0o755}).Attr.Ino
	c.ok(createCmd(d, "f"))
	if res := c.apply(createCmd(d, "f")); res.Errno != syscall.EEXIST {
		t.Fatalf("second exclusive create = %+v, want EEXIST", res)
	}
	created := 2 // d, f
	for i := range 20 {
		c.ok(createCmd(d, fmt.Sprintf("file-%d", i)))
		created++
	}
	c.converge()
	c.checkLookups(map[string]meta.Ino{"d": meta.RootIno, "f": d, "file-19": d, "missing": d})

	// Snapshot everywhere; TrailingLogs 4 compacts each log.
	for _, n := range []*node{n1, n2, n3} {
		if err := n.raft.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot %s: %v", n.id, err)
		}
		if first, _ := n.logs.FirstIndex(); first <= 1 {
			t.Fatalf("%s: log not compacted after a snapshot (first index %d)", n.id, first)
		}
	}

	// A fourth node joins; the log it needs is gone, so it is sent a
	// snapshot.
	n4 := c.add("n4")
	c.start(n4)
	if err := c.leader().raft.AddNonvoter(n4.id, n4.addr(), 0, 5*time.Second).Error(); err != nil {
		t.Fatalf("add n4: %v", err)
	}
	for i := range 5 {
		c.ok(createCmd(d, fmt.Sprintf("late-%d", i)))
		created++
	}
	c.converge()
	if restores, _, _ := n4.fsm.counts(); restores == 0 {
		t.Errorf("n4 caught up without a snapshot")
	}
	if list, err := n4.snaps.List(); err != nil || len(list) == 0 {
		t.Errorf("n4 holds no snapshot: %v", err)
	}
	c.checkLookups(map[string]meta.Ino{"late-4": d, "file-0": d})

	// Restart a follower while the others go on: it keeps its state,
	// replays the log after its snapshot without applying anything
	// twice, and catches up. Create-unlink pairs would leave extra
	// orphans and inode numbers if applied twice.
	f := c.follower(n4)
	before := f.meta.AppliedIndex()
	c.stop(f)
	for i := range 5 {
		name := fmt.Sprintf("tmp-%d", i)
		c.ok(createCmd(d, name))
		created++
		c.ok(meta.Cmd{Op: meta.OpUnlink, Parent: d, Name: name})
	}
	c.start(f)
	if got := f.meta.AppliedIndex(); got < before {
		t.Fatalf("%s restarted at applied index %d, before it was %d", f.id, got, before)
	}
	c.converge()
	restores, replayed, _ := f.fsm.counts()
	if restores != 0 {
		t.Errorf("%s restored a snapshot at restart although its state was ahead", f.id)
	}
	if replayed == 0 {
		t.Errorf("%s replayed no entries at restart: the test did not exercise the replay", f.id)
	}
	for _, n := range c.nodes {
		st, err := n.meta.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.NextIno != meta.RootIno+1+meta.Ino(created) {
			t.Errorf("%s: next inode %d after %d creates", n.id, st.NextIno, created)
		}
	}

	// Restart another follower with its state wiped: it is restored from
	// its own newest snapshot at start, then catches up from the log.
	g := c.follower(n4, f)
	c.stop(g)
	if err := os.RemoveAll(filepath.Join(g.dir, "meta")); err != nil {
		t.Fatal(err)
	}
	c.ok(createCmd(d, "after-wipe"))
	c.start(g)
	c.converge()
	if restores, _, _ := g.fsm.counts(); restores != 1 {
		t.Errorf("%s: %d restores after losing its state, want 1", g.id, restores)
	}
	c.checkLookups(map[string]meta.Ino{"after-wipe": d, "tmp-0": d, "f": d})
}

package consensus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/dfsproject/dfs/cluster/securenet"
	"github.com/dfsproject/dfs/store/meta"
	"github.com/dfsproject/dfs/store/meta/raftmeta"
)

// ErrNoLeader is returned (wrapped) by Propose when no leader accepted the
// command within Config.ApplyTimeout: the cluster has lost its quorum or
// is electing.
var ErrNoLeader = errors.New("no Raft leader reachable")

// ErrExistingState refuses to turn a data directory that already holds a
// standalone namespace into a cluster member: Raft would replay its log
// from index 1, which that namespace has already passed.
var ErrExistingState = errors.New("the data directory holds a namespace that was not created by Raft")

var _ meta.Proposer = (*Node)(nil)

// Node is this process's Raft server for the namespace. It implements
// meta.Proposer; its methods are safe for concurrent use.
type Node struct {
	cfg   Config
	log   *slog.Logger
	raft  *raft.Raft
	trans *raft.NetworkTransport
	logs  *raftmeta.LogStore
	fsm   *raftmeta.FSM
	http  *http.Client

	barrier barrierGroup
	applied notifier      // closed and replaced after every apply
	kick    chan struct{} // leader: a follower waits for a commit to reach it

	leader  atomic.Bool
	stop    chan struct{}
	wg      sync.WaitGroup
	closeMu sync.Once
	missing map[raft.ServerID]time.Time // servers gossip does not know, since when (leader only)
}

// Open starts the Raft server: its log in cfg.Dir, its transport on
// cfg.BindAddr, its state machine cfg.FSM. With no Raft state yet it
// bootstraps per cfg.BootstrapExpect; else it rejoins where it was.
func Open(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.AdvertiseAddr == "" {
		cfg.AdvertiseAddr = cfg.BindAddr
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, log: log, stop: make(chan struct{}), missing: map[raft.ServerID]time.Time{}, kick: make(chan struct{}, 1)}
	n.applied.ch = make(chan struct{})
	n.http = cfg.HTTP
	if n.http == nil {
		n.http = &http.Client{Timeout: cfg.ApplyTimeout, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute}}
	}
	n.barrier.n = n
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("raft directory: %v", err)
	}
	var err error
	if n.logs, err = raftmeta.OpenLogStore(filepath.Join(cfg.Dir, "log"), log.With("part", "raftlog")); err != nil {
		return nil, fmt.Errorf("raft log in %s: %v", cfg.Dir, err)
	}
	ok := false
	defer func() {
		if !ok {
			n.logs.Close()
		}
	}()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hclogBridge(log, "raft-snap"))
	if err != nil {
		return nil, fmt.Errorf("raft snapshots in %s: %v", cfg.Dir, err)
	}
	n.fsm = raftmeta.NewFSM(cfg.FSM, log.With("part", "raftfsm"))

	has, err := raft.HasExistingState(n.logs, n.logs, snaps)
	if err != nil {
		return nil, fmt.Errorf("raft state in %s: %v", cfg.Dir, err)
	}
	if !has && cfg.FSM.AppliedIndex() > 0 {
		return nil, fmt.Errorf("%w (applied up to %d); start a new cluster member on an empty data directory",
			ErrExistingState, cfg.FSM.AppliedIndex())
	}

	need, err := n.fsm.NeedsRestore(snaps)
	if err != nil {
		return nil, fmt.Errorf("raft snapshots in %s: %v", cfg.Dir, err)
	}

	ln, err := securenet.Listen(cfg.BindAddr, cfg.Key, securenet.Config{Purpose: "raft", Logger: log.With("part", "raftnet")})
	if err != nil {
		return nil, fmt.Errorf("raft address %s: %v", cfg.BindAddr, err)
	}
	adv, err := net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("raft advertise address %s: %v", cfg.AdvertiseAddr, err)
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  &streamLayer{Listener: ln, key: cfg.Key, adv: adv, log: log},
		MaxPool: 4,
		Timeout: 10 * time.Second,
		Logger:  hclogBridge(log, "raft-net"),
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Name)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	// The namespace is persistent: a restart keeps it and replays only
	// the entries after its applied index, unless it needs the snapshot.
	rc.NoSnapshotRestoreOnStart = !need
	rc.Logger = hclogBridge(log, "raft")
	n.raft, err = raft.NewRaft(rc, notifyingFSM{n.fsm, &n.applied}, n.logs, n.logs, snaps, n.trans)
	if err != nil {
		n.trans.Close()
		return nil, fmt.Errorf("start Raft: %v", err)
	}
	ok = true
	n.wg.Add(3)
	go n.watchLeader()
	go n.manage(has)
	go n.pushCommits()
	log.Info("Raft started", "addr", cfg.AdvertiseAddr, "existing_state", has, "bootstrap_expect", cfg.BootstrapExpect)
	return n, nil
}

// streamLayer is raft's transport over securenet.
type streamLayer struct {
	net.Listener
	key []byte
	adv net.Addr
	log *slog.Logger
}

func (s *streamLayer) Addr() net.Addr { return s.adv }

func (s *streamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return securenet.Dial(ctx, string(addr), s.key, securenet.Config{Purpose: "raft", Logger: s.log.With("part", "raftnet")})
}

// watchLeader follows leadership changes.
func (n *Node) watchLeader() {
	defer n.wg.Done()
	ch := n.raft.LeaderCh()
	for {
		select {
		case <-n.stop:
			return
		case l := <-ch:
			n.leader.Store(l)
			n.log.Info("Raft leadership", "leader", l, "term", n.raft.Stats()["term"])
			if n.cfg.OnLeader != nil {
				n.cfg.OnLeader(l)
			}
		}
	}
}

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the leader's name, or "" when none is known.
func (n *Node) Leader() string {
	_, id := n.raft.LeaderWithID()
	return string(id)
}

// Status is a summary of this Raft server.
type Status struct {
	State        string   `json:"state"`
	Leader       string   `json:"leader,omitempty"`
	Term         string   `json:"term"`
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Voters       []string `json:"voters"`
	Nonvoters    []string `json:"nonvoters,omitempty"`
	LastContact  string   `json:"last_contact,omitempty"`
}

// Status returns this server's view of Raft.
func (n *Node) Status() Status {
	st := n.raft.Stats()
	s := Status{
		State:        n.raft.State().String(),
		Leader:       n.Leader(),
		Term:         st["term"],
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.cfg.FSM.AppliedIndex(),
		LastContact:  st["last_contact"],
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, srv := range f.Configuration().Servers {
			if srv.Suffrage == raft.Voter {
				s.Voters = append(s.Voters, string(srv.ID))
			} else {
				s.Nonvoters = append(s.Nonvoters, string(srv.ID))
			}
		}
	}
	return s
}

// Propose implements meta.Proposer: it applies cmd through the leader (this
// node or another, by the peer API), retrying across leader changes until
// ApplyTimeout. A command gets a random ReqID first, so a retry never
// applies it twice.
func (n *Node) Propose(ctx context.Context, cmd *meta.Cmd) (*meta.Result, error) {
	c := *cmd
	if c.Now == 0 {
		c.Now = time.Now().UnixNano()
	}
	if c.ReqID == (meta.ReqID{}) {
		rand.Read(c.ReqID[:])
	}
	data, err := meta.Encode(&c)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ApplyTimeout)
	defer cancel()
	var last error
	for attempt := 0; ; attempt++ {
		res, retry, err := n.applyOnce(ctx, data)
		if err == nil {
			return res, nil
		}
		if !retry {
			return nil, err
		}
		last = err
		wait := min(20*time.Millisecond<<min(attempt, 4), 300*time.Millisecond)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w within %v: %v", ErrNoLeader, n.cfg.ApplyTimeout, last)
		case <-n.stop:
			return nil, raft.ErrRaftShutdown
		case <-time.After(wait):
		}
	}
}

// applyOnce tries once, locally when leader, else through the leader.
// retry says whether another try may succeed.
func (n *Node) applyOnce(ctx context.Context, data []byte) (*meta.Result, bool, error) {
	if n.raft.State() == raft.Leader {
		timeout := n.cfg.ApplyTimeout
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		f := n.raft.Apply(data, timeout)
		if err := f.Error(); err != nil {
			return nil, !errors.Is(err, raft.ErrRaftShutdown), err
		}
		res, ok := f.Response().(*meta.Result)
		if !ok {
			return nil, false, fmt.Errorf("raft returned %T, not a result", f.Response())
		}
		return res, false, nil
	}
	leader := n.Leader()
	if leader == "" {
		return nil, true, errors.New("no leader known")
	}
	res, err := n.forwardApply(ctx, leader, data)
	if err != nil {
		return nil, true, err
	}
	return res, false, nil
}

// Sync implements the durability half of fsync: a committed entry is in
// a quorum's log already, synced, so there is nothing left to do.
func (n *Node) Sync(ctx context.Context) error { return ctx.Err() }

// Barrier waits until this node's namespace has applied everything the
// leader had committed when Barrier was called (a read index): what any
// host closed before is then visible here. Without a reachable leader it
// fails at once or within timeout; callers then serve their local copy.
func (n *Node) Barrier(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	idx, err := n.barrier.readIndex(ctx)
	if err != nil {
		return err
	}
	return n.waitApplied(ctx, idx)
}

// waitApplied waits until the namespace has applied index idx.
func (n *Node) waitApplied(ctx context.Context, idx uint64) error {
	for {
		ch := n.applied.wait()
		if n.cfg.FSM.AppliedIndex() >= idx {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace at %d, waiting for %d: %w", n.cfg.FSM.AppliedIndex(), idx, ctx.Err())
		case <-ch:
		case <-time.After(50 * time.Millisecond): // entries raft applies without the FSM (configuration changes)
		}
	}
}

// notifier wakes the waiters of waitApplied after each apply.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (a *notifier) wait() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ch
}

func (a *notifier) notify() {
	a.mu.Lock()
	close(a.ch)
	a.ch = make(chan struct{})
	a.mu.Unlock()
}

// notifyingFSM is the raft state machine with a notification after each
// Apply and Restore.
type notifyingFSM struct {
	*raftmeta.FSM
	n *notifier
}

func (f notifyingFSM) Apply(l *raft.Log) any {
	res := f.FSM.Apply(l)
	f.n.notify()
	return res
}

func (f notifyingFSM) Restore(rc io.ReadCloser) error {
	err := f.FSM.Restore(rc)
	f.n.notify()
	return err
}

// pushCommits runs on the leader: after a forwarded command is applied,
// the follower that forwarded it waits until its own copy applies it, but
// followers learn the commit index only with the next AppendEntries,
// which raft sends when new entries come or after CommitTimeout. A
// barrier entry makes that next AppendEntries go at once; bursts share one.
func (n *Node) pushCommits() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-n.kick:
		}
		if n.raft.State() == raft.Leader {
			if err := n.raft.Barrier(5 * time.Second).Error(); err != nil {
				n.log.Debug("commit push barrier", "err", err)
			}
		}
	}
}

// leaderReadIndex is the read index on the leader: the index of the last
// command at or below its commit index. It is a command's index, not the
// commit index itself, because the namespace counts only commands:
// barriers, no-ops and configuration changes never reach it, so a copy
// that applied everything may still be "behind" a commit index that ends
// with one of those.
//
// It relies on the leader's lease rather than a heartbeat round to a
// quorum: a leader cut off from the others steps down within
// LeaderLeaseTimeout, so for at most that long after a partition an old
// leader may hand out a read index that misses the newest changes.
// Close-to-open consistency tolerates that window; a round trip to a
// quorum on every open, failed lookup and directory read would cost more
// than the namespace change itself.
func (n *Node) leaderReadIndex() (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, raft.ErrNotLeader
	}
	return n.lastCommandAtOrBelow(n.raft.CommitIndex()), nil
}

// lastCommandAtOrBelow returns the index of the last command entry at or
// below idx, looking back at most 256 entries; past that (or in a
// compacted log) it falls back to what this node's namespace applied.
func (n *Node) lastCommandAtOrBelow(idx uint64) uint64 {
	for i := idx; i > 0 && idx-i < 256; i-- {
		var l raft.Log
		if err := n.logs.GetLog(i, &l); err != nil {
			break
		}
		if l.Type == raft.LogCommand {
			return i
		}
	}
	return min(idx, n.cfg.FSM.AppliedIndex())
}

// Close stops the server. A leader first hands leadership over, so the
// cluster does not wait for an election timeout.
func (n *Node) Close() error {
	var err error
	n.closeMu.Do(func() {
		if n.raft.State() == raft.Leader && len(n.Status().Voters) > 1 {
			if e := n.raft.LeadershipTransfer().Error(); e != nil {
				n.log.Info("leadership not handed over", "err", e)
			}
		}
		close(n.stop)
		err = n.raft.Shutdown().Error()
		n.wg.Wait()
		n.trans.Close()
		if e := n.logs.Close(); err == nil {
			err = e
		}
	})
	return err
}

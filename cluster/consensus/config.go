package consensus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/store/meta"
)

// Config configures a Node.
type Config struct {
	// Name is the node's name: its Raft server ID and its gossip name.
	Name string
	// BindAddr is the Raft listen address, "IP:port"; AdvertiseAddr the
	// address the other servers dial (default BindAddr, which must then
	// be a specific IP).
	BindAddr, AdvertiseAddr string
	// Dir holds the Raft log (badger) and snapshots.
	Dir string
	// Key is the cluster key: Raft traffic is authenticated and encrypted
	// with it (cluster/securenet), forwarded requests signed.
	Key []byte
	// FSM is the namespace this node replicates.
	FSM *meta.FSM

	// BootstrapExpect is how many servers form a new cluster: 1 starts a
	// single-server cluster at once when there is no Raft state; N > 1
	// waits until gossip shows N nodes with a Raft address, then every one
	// of them bootstraps the same configuration (the N sorted by name). 0
	// never bootstraps: the node waits for a leader to add it.
	BootstrapExpect int
	// Members is gossip's membership view.
	Members func() []cluster.Member
	// HTTP is the client used to forward requests to the leader's peer
	// API (nil: a client with sane timeouts).
	HTTP *http.Client

	// ApplyTimeout bounds a mutation, retries included: without a leader
	// for that long, Propose fails with ErrNoLeader.
	ApplyTimeout time.Duration
	// DownOut is how long a voter must have been dead (by gossip) before
	// the leader removes it from the configuration.
	DownOut time.Duration
	// MaxVoters is the number of voters wanted once there are enough
	// nodes: 3 below five nodes, 5 from five on (0 means that rule).
	MaxVoters int
	// ReconcileInterval is how often the leader reconciles the Raft
	// configuration with gossip.
	ReconcileInterval time.Duration

	// Raft timings (see hashicorp/raft's Config).
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout, CommitTimeout time.Duration
	// SnapshotThreshold and SnapshotInterval decide when a snapshot is
	// taken; TrailingLogs how many entries are kept after one.
	SnapshotThreshold, TrailingLogs uint64
	SnapshotInterval                time.Duration

	// OnLeader, when set, is called (from one goroutine, in order) each
	// time this node becomes or stops being the leader.
	OnLeader func(leader bool)

	// Logger receives the node's and raft's logs. Nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns the settings for a LAN: elections in about one to
// two seconds, a dead voter replaced after ten minutes.
func DefaultConfig() Config {
	return Config{
		ApplyTimeout:       10 * time.Second,
		DownOut:            10 * time.Minute,
		ReconcileInterval:  time.Second,
		HeartbeatTimeout:   1000 * time.Millisecond,
		ElectionTimeout:    1000 * time.Millisecond,
		LeaderLeaseTimeout: 500 * time.Millisecond,
		CommitTimeout:      20 * time.Millisecond,
		SnapshotThreshold:  8192,
		TrailingLogs:       10240,
		SnapshotInterval:   2 * time.Minute,
	}
}

// DefaultTestConfig is for many nodes on one host: elections in a few
// hundred milliseconds, a short down-out.
func DefaultTestConfig() Config {
	c := DefaultConfig()
	c.ApplyTimeout = 5 * time.Second
	c.DownOut = 5 * time.Second
	c.ReconcileInterval = 200 * time.Millisecond
	c.HeartbeatTimeout = 300 * time.Millisecond
	c.ElectionTimeout = 300 * time.Millisecond
	c.LeaderLeaseTimeout = 200 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotThreshold = 1024
	c.TrailingLogs = 1024
	c.SnapshotInterval = 10 * time.Second
	return c
}

// Validate reports the first problem with c in a sentence.
func (c *Config) Validate() error {
	switch {
	case c.Name == "":
		return errors.New("consensus: a node name is required")
	case c.Dir == "":
		return errors.New("consensus: a directory for the Raft log is required")
	case c.FSM == nil:
		return errors.New("consensus: a namespace state machine is required")
	case len(c.Key) < 16:
		return errors.New("consensus: the cluster key is required")
	case c.Members == nil:
		return errors.New("consensus: a membership view is required")
	case c.BootstrapExpect < 0:
		return errors.New("--bootstrap-expect must not be negative")
	case c.ApplyTimeout <= 0 || c.DownOut <= 0 || c.ReconcileInterval <= 0:
		return errors.New("consensus: the apply timeout, down-out and reconcile interval must be positive")
	case c.MaxVoters < 0 || c.MaxVoters%2 == 0 && c.MaxVoters != 0:
		return fmt.Errorf("consensus: the voter count %d must be odd", c.MaxVoters)
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		return fmt.Errorf("raft address %q: %v", c.BindAddr, err)
	}
	adv := c.AdvertiseAddr
	if adv == "" {
		adv = c.BindAddr
	}
	host, _, err := net.SplitHostPort(adv)
	if err != nil {
		return fmt.Errorf("raft advertise address %q: %v", adv, err)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		return fmt.Errorf("raft advertise address %q must be a specific IP the other nodes can dial", adv)
	}
	return nil
}

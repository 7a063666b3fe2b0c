package control

import (
	"time"

	"github.com/dfsproject/dfs/alerts"
)

// Health values of Status.Health.
const (
	Healthy  = "healthy"
	Degraded = "degraded"
)

// Status is the answer to GET /v1/status: the cluster as this node sees it.
type Status struct {
	// Cluster is the cluster's name; Self the answering node's name.
	Cluster string `json:"cluster"`
	Self    string `json:"self"`
	// Version is the answering node's software version.
	Version string `json:"version"`
	// Health is Healthy or Degraded; Reasons says why when degraded, one
	// short sentence each ("n2 is dead since 12:01:02").
	Health  string   `json:"health"`
	Reasons []string `json:"reasons,omitempty"`
	// Nodes are every member in the view (alive, suspect, dead, left),
	// sorted by name.
	Nodes []NodeStatus `json:"nodes"`
	// Alerts are the open alerts, oldest first.
	Alerts []alerts.Event `json:"alerts"`
	// Raft is the namespace's Raft group as the answering node sees it;
	// nil on a standalone node.
	Raft *RaftStatus `json:"raft,omitempty"`
	// Time is when the answer was made.
	Time time.Time `json:"time"`
}

// RaftStatus summarizes the Raft group.
type RaftStatus struct {
	// State is the answering node's role: Leader, Follower, Candidate.
	State  string `json:"state"`
	Leader string `json:"leader,omitempty"`
	Term   string `json:"term"`
	// CommitIndex is the last entry known committed; AppliedIndex the
	// last one the answering node's namespace applied.
	CommitIndex  uint64   `json:"commit_index"`
	AppliedIndex uint64   `json:"applied_index"`
	Voters       []string `json:"voters"`
	Nonvoters    []string `json:"nonvoters,omitempty"`
	// LayoutVersion is the version of the placement layout and Replicas
	// its copies per chunk.
	LayoutVersion uint64 `json:"layout_version"`
	Replicas      int    `json:"replicas"`
	// Replication is what the answering node's last repair pass found
	// among the chunks it looks after (those it is first live replica
	// for); nil before the first pass.
	Replication *ReplicationHealth `json:"replication,omitempty"`
}

// ReplicationHealth counts chunks by how many copies they have.
type ReplicationHealth struct {
	Replicated      int64     `json:"replicated"`
	ReplicatedBytes int64     `json:"replicated_bytes"`
	UnderReplicated int64     `json:"under_replicated"`
	UnderBytes      int64     `json:"under_replicated_bytes"`
	Missing         int64     `json:"missing"`
	ToMove          int64     `json:"to_move"`
	CheckedAt       time.Time `json:"checked_at"`
}

// NodeStatus is one member.
type NodeStatus struct {
	Name string `json:"name"`
	// State is the liveness: "alive", "suspect", "dead" or "left".
	State string `json:"state"`
	// Mode is what the node gossips about itself: "active", "draining"
	// or "leaving".
	Mode string `json:"mode"`
	// Addr is the gossip address, HTTPAddr the peer API address.
	Addr     string `json:"addr"`
	HTTPAddr string `json:"http_addr"`
	Zone     string `json:"zone,omitempty"`
	// Capacity and Used are bytes; UsedPercent is 100·Used/Capacity (0
	// when Capacity is 0).
	Capacity    uint64  `json:"capacity"`
	Used        uint64  `json:"used"`
	UsedPercent float64 `json:"used_percent"`
	Version     string  `json:"version,omitempty"`
	// LastSeen is when the answering node last heard from this one
	// directly; Since when State last changed.
	LastSeen time.Time `json:"last_seen"`
	Since    time.Time `json:"since"`
	// Local is true for the answering node.
	Local bool `json:"local,omitempty"`
}

// AlertList is the answer to GET /v1/alerts.
type AlertList struct {
	// Open are the open alerts, oldest first.
	Open []alerts.Event `json:"open"`
	// Recent are the last state changes (firing and resolved), oldest
	// first.
	Recent []alerts.Event `json:"recent"`
}

// Source is what the handler serves: implemented by dfsd. Its methods are
// called from the HTTP server's goroutines, several at a time: they must be
// safe for concurrent use, should not block, and must return values the
// caller may keep (not shared with the source's state).
type Source interface {
	// Status returns the current status.
	Status() Status
	// Alerts returns the open alerts and the last n state changes.
	Alerts(n int) AlertList
}

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
	// Replication is the cluster's replication health as the Raft leader
	// last summed it from every node; nil on a standalone node and before
	// the first sum.
	Replication *ClusterReplication `json:"replication,omitempty"`
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
}

// ReplicationHealth counts chunks by how many copies they have. One node
// counts the referenced chunks it looks after (those it is the first live
// replica for: each chunk is counted by one node) and its local copies;
// the leader sums the nodes.
type ReplicationHealth struct {
	// Replicated: chunks every placed node holds. UnderReplicated: chunks
	// with fewer copies than placed nodes. Missing: chunks no live node
	// holds.
	Replicated      int64 `json:"replicated"`
	ReplicatedBytes int64 `json:"replicated_bytes"`
	UnderReplicated int64 `json:"under_replicated"`
	UnderBytes      int64 `json:"under_replicated_bytes"`
	Missing         int64 `json:"missing"`
	// ToMove: local copies the layout no longer places on their node,
	// queued to move. Held: all local copies.
	ToMove      int64 `json:"to_move"`
	ToMoveBytes int64 `json:"to_move_bytes"`
	Held        int64 `json:"held"`
	HeldBytes   int64 `json:"held_bytes"`
	// CheckedAt is when the (oldest) repair pass counted ended.
	CheckedAt time.Time `json:"checked_at"`
}

// Add adds o's counts to h; CheckedAt becomes the older of the two.
func (h *ReplicationHealth) Add(o ReplicationHealth) {
	h.Replicated += o.Replicated
	h.ReplicatedBytes += o.ReplicatedBytes
	h.UnderReplicated += o.UnderReplicated
	h.UnderBytes += o.UnderBytes
	h.Missing += o.Missing
	h.ToMove += o.ToMove
	h.ToMoveBytes += o.ToMoveBytes
	h.Held += o.Held
	h.HeldBytes += o.HeldBytes
	if h.CheckedAt.IsZero() || !o.CheckedAt.IsZero() && o.CheckedAt.Before(h.CheckedAt) {
		h.CheckedAt = o.CheckedAt
	}
}

// NodeReplication is one node's share of the cluster's replication
// health: GET /v1/replication/local answers it.
type NodeReplication struct {
	Node string `json:"node"`
	// LayoutState is the node's state in the placement layout: "active",
	// "draining", "removed", or "" when it is not in the layout.
	LayoutState string `json:"layout_state"`
	// Health is nil when the node has not finished a repair pass yet or
	// did not answer (Error says why).
	Health *ReplicationHealth `json:"health,omitempty"`
	Error  string             `json:"error,omitempty"`
}

// ClusterReplication is the leader's sum of the nodes' replication
// health: GET /v1/replication answers it.
type ClusterReplication struct {
	// Leader is the node that summed; At when.
	Leader string    `json:"leader"`
	At     time.Time `json:"at"`
	// Total sums the nodes that answered; Complete is false when some
	// node of the layout did not (its chunks are then not counted).
	Total    ReplicationHealth `json:"total"`
	Complete bool              `json:"complete"`
	Nodes    []NodeReplication `json:"nodes"`
	// UnderSince is when this leader's sums started finding chunks
	// under-replicated or missing without a break; zero when none are.
	UnderSince time.Time `json:"under_since,omitzero"`
}

// NodeStatus is one member.
type NodeStatus struct {
	Name string `json:"name"`
	// State is the liveness: "alive", "suspect", "dead" or "left".
	State string `json:"state"`
	// Mode is what the node gossips about itself: "active", "draining"
	// or "leaving".
	Mode string `json:"mode"`
	// Layout is the node's state in the placement layout: "active",
	// "draining", "removed", or "" when it is not in it (yet).
	Layout string `json:"layout,omitempty"`
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

package alerts

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

// Kind names what an alert is about. Its string form is what webhooks
// receive in "kind". Kinds not listed here may be used; they default to
// SeverityWarning.
type Kind string

// Alert kinds.
const (
	// PeerSuspect: gossip suspects a peer (it stopped answering probes).
	PeerSuspect Kind = "peer_suspect"
	// PeerDead: a peer dropped out without leaving.
	PeerDead Kind = "peer_dead"
	// PeerLeft: a peer left the cluster gracefully.
	PeerLeft Kind = "peer_left"
	// PeerBack: a peer that was gone is back. Callers usually resolve the
	// PeerSuspect, PeerDead or PeerLeft alert instead (with a "reason"
	// detail); a PeerBack alert, like every alert, stays open until it is
	// resolved.
	PeerBack Kind = "peer_back"
	// LeaderLost: the Raft group has no leader.
	LeaderLost Kind = "leader_lost"
	// QuorumLost: too few voters are reachable to commit metadata.
	QuorumLost Kind = "quorum_lost"
	// UnderReplicated: chunks have fewer replicas than wanted (or none).
	UnderReplicated Kind = "under_replicated"
	// ChunksMissing: referenced chunks of which no live node holds a
	// copy: reads of their files fail until a node that holds one returns.
	ChunksMissing Kind = "chunks_missing"
	// CorruptReplica: a replica failed verification against its ID.
	CorruptReplica Kind = "corrupt_replica"
	// CapacityHigh: a node's backend is above its capacity threshold.
	CapacityHigh Kind = "capacity_high"
	// BackendDown: a node's backend stopped answering.
	BackendDown Kind = "backend_down"
)

// Severity ranks an alert for the people it reaches.
type Severity string

// Severities.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Severity returns the severity an event of kind k gets when the reporter
// leaves Event.Severity empty.
func (k Kind) Severity() Severity {
	switch k {
	case PeerLeft, PeerBack:
		return SeverityInfo
	case PeerDead, QuorumLost, CorruptReplica, BackendDown, ChunksMissing:
		return SeverityCritical
	default:
		return SeverityWarning
	}
}

// Event is one change of an alert: it fires (Firing true) or resolves
// (Firing false). An alert is identified by (Kind, Node): a firing event
// opens it, a resolved event closes it, and firing events for an alert
// that is already open are duplicates and dropped.
//
// Its JSON form, used for webhook bodies and the state file, is
//
//	{"id":"…","kind":"peer_dead","severity":"critical","node":"n2",
//	 "reporter":"n1","cluster":"prod","status":"firing",
//	 "time":"2026-11-29T16:31:02.123456789Z","details":{"addr":"…"}}
//
// with status "firing" or "resolved" and details omitted when empty.
type Event struct {
	// ID is unique per event (a firing and its resolution have different
	// IDs). Report fills it when empty.
	ID string
	// Kind and Node identify the alert. Node is the node the alert is
	// about; it is empty for alerts about the whole cluster (QuorumLost).
	Kind Kind
	Node string
	// Severity defaults to Kind.Severity(); a resolved event defaults to
	// the severity of the alert it closes.
	Severity Severity
	// Reporter is the node that saw the event (default Config.Node),
	// Cluster the cluster's name (default Config.Cluster).
	Reporter string
	Cluster  string
	// Firing is true when the alert fires, false when it resolves.
	Firing bool
	// Time is when the reporter saw it (default Config.Now()).
	Time time.Time
	// Details are free-form key/value context (an address, a count).
	Details map[string]string
}

// Status returns "firing" or "resolved".
func (e Event) Status() string {
	if e.Firing {
		return statusFiring
	}
	return statusResolved
}

const (
	statusFiring   = "firing"
	statusResolved = "resolved"
)

// wireEvent is Event's JSON form.
type wireEvent struct {
	ID       string            `json:"id"`
	Kind     Kind              `json:"kind"`
	Severity Severity          `json:"severity"`
	Node     string            `json:"node"`
	Reporter string            `json:"reporter"`
	Cluster  string            `json:"cluster"`
	Status   string            `json:"status"`
	Time     string            `json:"time"`
	Details  map[string]string `json:"details,omitempty"`
}

// MarshalJSON encodes e in the webhook format (see Event).
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireEvent{
		ID:       e.ID,
		Kind:     e.Kind,
		Severity: e.Severity,
		Node:     e.Node,
		Reporter: e.Reporter,
		Cluster:  e.Cluster,
		Status:   e.Status(),
		Time:     e.Time.UTC().Format(time.RFC3339Nano),
		Details:  e.Details,
	})
}

// UnmarshalJSON decodes the webhook format (see Event).
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var firing bool
	switch w.Status {
	case statusFiring:
		firing = true
	case statusResolved:
	default:
		return fmt.Errorf("alert event status must be %q or %q, not %q", statusFiring, statusResolved, w.Status)
	}
	t, err := time.Parse(time.RFC3339Nano, w.Time)
	if err != nil {
		return fmt.Errorf("alert event time: %w", err)
	}
	*e = Event{
		ID:       w.ID,
		Kind:     w.Kind,
		Severity: w.Severity,
		Node:     w.Node,
		Reporter: w.Reporter,
		Cluster:  w.Cluster,
		Firing:   firing,
		Time:     t.UTC(),
		Details:  w.Details,
	}
	return nil
}

// clone returns e with its own copy of Details.
func (e Event) clone() Event {
	e.Details = maps.Clone(e.Details)
	return e
}

// key identifies an alert.
type key struct {
	kind Kind
	node string
}

func (e Event) key() key { return key{e.Kind, e.Node} }

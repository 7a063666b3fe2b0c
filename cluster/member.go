package cluster

import (
	"fmt"
	"time"
)

// MemberState is a member's liveness as this node sees it.
type MemberState uint8

const (
	// MemberAlive: the member answers probes (or nobody has reported
	// otherwise).
	MemberAlive MemberState = iota
	// MemberSuspect: a probe of the member from this node failed; memberlist
	// declares it dead unless it refutes within the suspicion timeout.
	MemberSuspect
	// MemberDead: the member failed without leaving (crash, partition).
	MemberDead
	// MemberLeft: the member left gracefully (Close).
	MemberLeft
)

func (s MemberState) String() string {
	switch s {
	case MemberAlive:
		return "alive"
	case MemberSuspect:
		return "suspect"
	case MemberDead:
		return "dead"
	case MemberLeft:
		return "left"
	}
	return fmt.Sprintf("MemberState(%d)", uint8(s))
}

// Member is one node in the membership view.
type Member struct {
	Name string
	// Addr is the gossip address, "IP:port".
	Addr  string
	Meta  NodeMeta
	State MemberState
	// Since is when State last changed.
	Since time.Time
	// LastSeen is when this node last heard from the member directly (a
	// probe answered, or its join or metadata update); for the local node,
	// now.
	LastSeen time.Time
	// Local is true for this node itself.
	Local bool
}

// EventType says what happened to a member.
type EventType uint8

const (
	// EventJoin: a member not known before joined.
	EventJoin EventType = iota + 1
	// EventUpdate: a member's metadata changed.
	EventUpdate
	// EventSuspect: a probe of the member from this node failed.
	EventSuspect
	// EventAlive: a suspect member answered again.
	EventAlive
	// EventDead: a member failed without leaving.
	EventDead
	// EventLeft: a member left gracefully.
	EventLeft
	// EventBack: a member that was dead or had left is alive again.
	EventBack
)

func (t EventType) String() string {
	switch t {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventSuspect:
		return "suspect"
	case EventAlive:
		return "alive"
	case EventDead:
		return "dead"
	case EventLeft:
		return "left"
	case EventBack:
		return "back"
	}
	return fmt.Sprintf("EventType(%d)", uint8(t))
}

// Event is a change in the membership view. Member is the member's view
// entry after the change.
type Event struct {
	Type   EventType
	Member Member
	Time   time.Time
}

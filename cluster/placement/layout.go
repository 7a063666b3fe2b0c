package placement

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/dfsproject/dfs/cluster/internal/wire"
)

// NodeState says whether a node receives new placements. It is part of
// the layout, decided by the Raft leader; it is not the liveness or the
// self-reported state that nodes gossip.
type NodeState uint8

const (
	// Active nodes receive placements.
	Active NodeState = iota
	// Draining nodes receive no new placements but keep serving the
	// chunks they hold until repair has copied them to their new places.
	// They still appear in Order.
	Draining
	// Removed nodes were taken out of the cluster by an operator (dfsctl
	// node remove): they are neither placed nor in Order, as if absent.
	// They stay in the layout only so that the leader does not add them
	// back while they are still up and shutting down; it drops them once
	// gossip no longer sees them alive.
	Removed
	numStates
)

func (s NodeState) String() string {
	switch s {
	case Active:
		return "active"
	case Draining:
		return "draining"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("NodeState(%d)", uint8(s))
}

// Limits of a layout.
const (
	// MaxReplicas is the largest replication factor.
	MaxReplicas = 7
	// MaxNodes is the largest number of nodes in a layout.
	MaxNodes = 4096
	// MaxNameLen is the longest node name, in bytes.
	MaxNameLen = 64
	// MaxZoneLen is the longest zone name, in bytes.
	MaxZoneLen = 64
)

// ErrUnknownNode is returned (wrapped) by Without and SetState for a name
// that is not in the layout.
var ErrUnknownNode = errors.New("node not in layout")

// Node is one member of a layout.
type Node struct {
	// Name identifies the node: 1 to 64 bytes of letters, digits, '.',
	// '_' or '-' (the rule for cluster node names). Placement hashes the
	// name, so a node that comes back under another name is a new node.
	Name string
	// Zone is the node's failure domain (rack, room, data centre): at
	// most 64 bytes of printable ASCII. Nodes with an empty zone share
	// one zone, named "", like any other zone.
	Zone string
	// Weight is the node's share of the data, normally its capacity in
	// bytes. It must be positive. Only relative weights matter, and only
	// their 53 leading bits (see the package doc).
	Weight uint64
	// State is Active, Draining or Removed.
	State NodeState
}

// Layout is the versioned list of nodes that hold data and the
// replication factor. It is a plain value: the Raft state machine stores
// it (Encode), and Compile turns it into a Placer. Nodes may be given in
// any order; Compile, Encode and the change helpers (With, Without,
// SetState, WithReplicas) sort them by name. The change helpers never
// modify their receiver.
type Layout struct {
	// Version increases by one with every change.
	Version uint64
	// Replicas is R, the number of copies of each chunk: 1 to 7. Fewer
	// are placed while fewer nodes are active (EffectiveReplicas).
	Replicas int
	// Nodes lists the nodes, names unique.
	Nodes []Node
}

// Validate reports the first problem that makes l unusable, as a plain
// sentence, or nil.
func (l *Layout) Validate() error {
	if l.Replicas < 1 || l.Replicas > MaxReplicas {
		return fmt.Errorf("replicas must be between 1 and %d, not %d", MaxReplicas, l.Replicas)
	}
	if len(l.Nodes) > MaxNodes {
		return fmt.Errorf("a layout holds at most %d nodes, not %d", MaxNodes, len(l.Nodes))
	}
	for _, n := range l.Nodes {
		if err := n.check(); err != nil {
			return err
		}
	}
	names := make([]string, len(l.Nodes))
	for i, n := range l.Nodes {
		names[i] = n.Name
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return fmt.Errorf("node %q appears more than once", names[i])
		}
	}
	return nil
}

func (n Node) check() error {
	switch {
	case !wire.ValidName(n.Name, MaxNameLen):
		return fmt.Errorf("node name %q must be 1 to %d bytes of letters, digits, '.', '_' or '-'", n.Name, MaxNameLen)
	case len(n.Zone) > MaxZoneLen || !wire.ValidText(n.Zone):
		return fmt.Errorf("zone %q of node %s must be at most %d bytes of printable ASCII", n.Zone, n.Name, MaxZoneLen)
	case n.Weight == 0:
		return fmt.Errorf("weight of node %s must be positive", n.Name)
	case n.State >= numStates:
		return fmt.Errorf("state of node %s is unknown (%d)", n.Name, uint8(n.State))
	}
	return nil
}

// EffectiveReplicas is the number of replicas Place returns: Replicas, or
// the number of active nodes when that is smaller.
func (l *Layout) EffectiveReplicas() int {
	active := 0
	for _, n := range l.Nodes {
		if n.State == Active {
			active++
		}
	}
	return min(l.Replicas, active)
}

// With returns a copy of l with n added, or replacing the node of the
// same name (to change its zone, weight or state), and Version+1.
func (l *Layout) With(n Node) (*Layout, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	c, err := l.next()
	if err != nil {
		return nil, err
	}
	if i, ok := c.find(n.Name); ok {
		c.Nodes[i] = n
	} else {
		c.Nodes = slices.Insert(c.Nodes, i, n)
	}
	return c.checked()
}

// Without returns a copy of l without the named node, and Version+1. The
// error wraps ErrUnknownNode if there is no such node.
func (l *Layout) Without(name string) (*Layout, error) {
	c, err := l.next()
	if err != nil {
		return nil, err
	}
	i, ok := c.find(name)
	if !ok {
		return nil, fmt.Errorf("remove node %q: %w", name, ErrUnknownNode)
	}
	c.Nodes = slices.Delete(c.Nodes, i, i+1)
	return c.checked()
}

// SetState returns a copy of l with the named node's state set to s, and
// Version+1, even when the state was already s. The error wraps
// ErrUnknownNode if there is no such node.
func (l *Layout) SetState(name string, s NodeState) (*Layout, error) {
	if s >= numStates {
		return nil, fmt.Errorf("state %d is unknown", uint8(s))
	}
	c, err := l.next()
	if err != nil {
		return nil, err
	}
	i, ok := c.find(name)
	if !ok {
		return nil, fmt.Errorf("set state of node %q: %w", name, ErrUnknownNode)
	}
	c.Nodes[i].State = s
	return c.checked()
}

// WithReplicas returns a copy of l with Replicas set to r, and Version+1.
func (l *Layout) WithReplicas(r int) (*Layout, error) {
	c, err := l.next()
	if err != nil {
		return nil, err
	}
	c.Replicas = r
	return c.checked()
}

func (l *Layout) checked() (*Layout, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// next returns a copy of l with its nodes sorted by name and Version+1.
func (l *Layout) next() (*Layout, error) {
	if l.Version == ^uint64(0) {
		return nil, errors.New("layout version cannot go beyond 2^64-1")
	}
	return &Layout{Version: l.Version + 1, Replicas: l.Replicas, Nodes: sortedNodes(l.Nodes)}, nil
}

// find returns the index of the named node in l, whose nodes are sorted,
// or where it would be inserted.
func (l *Layout) find(name string) (int, bool) {
	return slices.BinarySearchFunc(l.Nodes, name, func(n Node, name string) int {
		return cmp.Compare(n.Name, name)
	})
}

func sortedNodes(nodes []Node) []Node {
	c := slices.Clone(nodes)
	slices.SortStableFunc(c, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	return c
}

package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dfsproject/dfs/cluster/internal/wire"
)

// NodeState is what a node says about itself in its metadata.
type NodeState uint8

const (
	// StateActive: the node serves and accepts new data.
	StateActive NodeState = iota
	// StateDraining: the node serves reads but should receive no new data.
	StateDraining
	// StateLeaving: the node is shutting down gracefully. Peers use it to
	// tell a graceful leave from a crash (see the package doc).
	StateLeaving
	numNodeStates
)

func (s NodeState) String() string {
	switch s {
	case StateActive:
		return "active"
	case StateDraining:
		return "draining"
	case StateLeaving:
		return "leaving"
	}
	return fmt.Sprintf("NodeState(%d)", uint8(s))
}

// NodeMeta is the metadata each node gossips about itself.
type NodeMeta struct {
	Name     string
	HTTPAddr string
	Zone     string
	Capacity uint64
	Used     uint64
	State    NodeState
	Version  string
	// RaftAddr is the node's Raft address, "IP:port" (empty when the node
	// takes no part in Raft). Added in encoding version 2.
	RaftAddr string
}

const (
	metaVersion = 2

	// MetaMaxSize is memberlist's limit on node metadata.
	MetaMaxSize = 512

	maxNameLen    = 64
	maxAddrLen    = 128
	maxZoneLen    = 64
	maxVersionLen = 64
)

// ErrBadMeta is returned (wrapped) by DecodeMeta for malformed metadata.
var ErrBadMeta = errors.New("malformed node metadata")

// EncodeMeta encodes m compactly:
//
//	version byte (2)
//	name, HTTP address, zone: each a length byte and the bytes
//	capacity, used: uvarints
//	state byte
//	software version: a length byte and the bytes
//	Raft address: a length byte and the bytes (version 2)
//
// The field limits (name 64 bytes, addresses 128, zone 64, version 64)
// keep the encoding at most 475 bytes, under memberlist's 512.
func EncodeMeta(m NodeMeta) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+len(m.Name)+len(m.HTTPAddr)+len(m.Zone)+len(m.Version))
	b = append(b, metaVersion)
	b = wire.AppendString(b, m.Name)
	b = wire.AppendString(b, m.HTTPAddr)
	b = wire.AppendString(b, m.Zone)
	b = binary.AppendUvarint(b, m.Capacity)
	b = binary.AppendUvarint(b, m.Used)
	b = append(b, byte(m.State))
	b = wire.AppendString(b, m.Version)
	b = wire.AppendString(b, m.RaftAddr)
	if len(b) > MetaMaxSize {
		return nil, fmt.Errorf("node metadata is %d bytes, more than the limit of %d", len(b), MetaMaxSize)
	}
	return b, nil
}

func (m NodeMeta) check() error {
	switch {
	case !wire.ValidName(m.Name, maxNameLen):
		return fmt.Errorf("node name %q must be 1 to %d bytes of letters, digits, '.', '_' or '-'", m.Name, maxNameLen)
	case len(m.HTTPAddr) > maxAddrLen || !wire.ValidText(m.HTTPAddr):
		return fmt.Errorf("HTTP address %q must be at most %d bytes of printable ASCII", m.HTTPAddr, maxAddrLen)
	case len(m.RaftAddr) > maxAddrLen || !wire.ValidText(m.RaftAddr):
		return fmt.Errorf("raft address %q must be at most %d bytes of printable ASCII", m.RaftAddr, maxAddrLen)
	case len(m.Zone) > maxZoneLen || !wire.ValidText(m.Zone):
		return fmt.Errorf("zone %q must be at most %d bytes of printable ASCII", m.Zone, maxZoneLen)
	case len(m.Version) > maxVersionLen || !wire.ValidText(m.Version):
		return fmt.Errorf("version %q must be at most %d bytes of printable ASCII", m.Version, maxVersionLen)
	case m.State >= numNodeStates:
		return fmt.Errorf("unknown node state %d", uint8(m.State))
	}
	return nil
}

// DecodeMeta decodes metadata made by EncodeMeta. It never panics; any
// malformed input gives an error wrapping ErrBadMeta. Metadata of a newer
// version is read as far as the fields this version knows, so that nodes
// of different versions can share a cluster during upgrades.
func DecodeMeta(b []byte) (NodeMeta, error) {
	var m NodeMeta
	if len(b) == 0 {
		return m, fmt.Errorf("%w: empty", ErrBadMeta)
	}
	if len(b) > MetaMaxSize {
		return m, fmt.Errorf("%w: %d bytes", ErrBadMeta, len(b))
	}
	if b[0] < 1 {
		return m, fmt.Errorf("%w: version %d", ErrBadMeta, b[0])
	}
	d := wire.Decoder{B: b[1:]}
	m.Name = d.String()
	m.HTTPAddr = d.String()
	m.Zone = d.String()
	m.Capacity = d.Uvarint()
	m.Used = d.Uvarint()
	m.State = NodeState(d.Byte())
	m.Version = d.String()
	if b[0] >= 2 {
		m.RaftAddr = d.String()
	}
	if d.Err != nil {
		return NodeMeta{}, fmt.Errorf("%w: %v", ErrBadMeta, d.Err)
	}
	if b[0] == metaVersion && len(d.B) != 0 {
		return NodeMeta{}, fmt.Errorf("%w: %d trailing bytes", ErrBadMeta, len(d.B))
	}
	if err := m.check(); err != nil {
		return NodeMeta{}, fmt.Errorf("%w: %v", ErrBadMeta, err)
	}
	return m, nil
}

package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
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
	b = appendString(b, m.Name)
	b = appendString(b, m.HTTPAddr)
	b = appendString(b, m.Zone)
	b = binary.AppendUvarint(b, m.Capacity)
	b = binary.AppendUvarint(b, m.Used)
	b = append(b, byte(m.State))
	b = appendString(b, m.Version)
	b = appendString(b, m.RaftAddr)
	if len(b) > MetaMaxSize {
		return nil, fmt.Errorf("node metadata is %d bytes, more than the limit of %d", len(b), MetaMaxSize)
	}
	return b, nil
}

func (m NodeMeta) check() error {
	switch {
	case !validName(m.Name):
		return fmt.Errorf("node name %q must be 1 to %d bytes of letters, digits, '.', '_' or '-'", m.Name, maxNameLen)
	case len(m.HTTPAddr) > maxAddrLen || !validText(m.HTTPAddr):
		return fmt.Errorf("HTTP address %q must be at most %d bytes of printable ASCII", m.HTTPAddr, maxAddrLen)
	case len(m.RaftAddr) > maxAddrLen || !validText(m.RaftAddr):
		return fmt.Errorf("raft address %q must be at most %d bytes of printable ASCII", m.RaftAddr, maxAddrLen)
	case len(m.Zone) > maxZoneLen || !validText(m.Zone):
		return fmt.Errorf("zone %q must be at most %d bytes of printable ASCII", m.Zone, maxZoneLen)
	case len(m.Version) > maxVersionLen || !validText(m.Version):
		return fmt.Errorf("version %q must be at most %d bytes of printable ASCII", m.Version, maxVersionLen)
	case m.State >= numNodeStates:
		return fmt.Errorf("unknown node state %d", uint8(m.State))
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
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
	d := decoder{b: b[1:]}
	m.Name = d.string()
	m.HTTPAddr = d.string()
	m.Zone = d.string()
	m.Capacity = d.uvarint()
	m.Used = d.uvarint()
	m.State = NodeState(d.byte())
	m.Version = d.string()
	if b[0] >= 2 {
		m.RaftAddr = d.string()
	}
	if d.err != nil {
		return NodeMeta{}, fmt.Errorf("%w: %v", ErrBadMeta, d.err)
	}
	if b[0] == metaVersion && len(d.b) != 0 {
		return NodeMeta{}, fmt.Errorf("%w: %d trailing bytes", ErrBadMeta, len(d.b))
	}
	if err := m.check(); err != nil {
		return NodeMeta{}, fmt.Errorf("%w: %v", ErrBadMeta, err)
	}
	return m, nil
}

type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.err = errShort
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) string() string {
	n := int(d.byte())
	if d.err != nil {
		return ""
	}
	if len(d.b) < n {
		d.err = errShort
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// validText accepts printable ASCII (no control bytes, no UTF-8), which
// keeps log lines and status output safe.
func validText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

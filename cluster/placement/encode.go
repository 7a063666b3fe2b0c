package placement

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dfsproject/dfs/cluster/internal/wire"
)

// encodingVersion is the first byte of an encoded layout. It also names
// the placement algorithm (score.go): a change to either needs a new
// version, and a node refuses a layout whose version it does not know
// rather than place chunks differently from its peers.
const encodingVersion = 1

// MaxEncodedSize is the size of the largest encoded layout (4096 nodes
// with the longest names and zones, about 564 KiB). DecodeLayout refuses
// anything longer.
const MaxEncodedSize = 1 + binary.MaxVarintLen64 + 1 + 2 + MaxNodes*maxNodeSize

// maxNodeSize and minNodeSize bound one encoded node.
const (
	maxNodeSize = 1 + MaxNameLen + 1 + MaxZoneLen + binary.MaxVarintLen64 + 1
	minNodeSize = 1 + 1 + 1 + 1 + 1
)

// ErrBadLayout is returned (wrapped) by DecodeLayout for input that is
// not an encoded valid layout.
var ErrBadLayout = errors.New("malformed layout encoding")

// Encode validates l and encodes it, nodes sorted by name, so that equal
// layouts have equal encodings:
//
//	encoding version byte (1)
//	layout version: uvarint
//	replicas: byte
//	node count: uvarint
//	each node: name and zone (each a length byte and the bytes),
//	           weight (uvarint), state (byte)
func (l *Layout) Encode() ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 16+len(l.Nodes)*32)
	b = append(b, encodingVersion)
	b = binary.AppendUvarint(b, l.Version)
	b = append(b, byte(l.Replicas))
	b = binary.AppendUvarint(b, uint64(len(l.Nodes)))
	for _, n := range sortedNodes(l.Nodes) {
		b = wire.AppendString(b, n.Name)
		b = wire.AppendString(b, n.Zone)
		b = binary.AppendUvarint(b, n.Weight)
		b = append(b, byte(n.State))
	}
	return b, nil
}

// DecodeLayout decodes a layout made by Encode and validates it. It never
// panics and allocates in proportion to len(b); any input that Encode
// could not have produced (another encoding version, truncated, trailing
// bytes, over MaxEncodedSize, overlong varints, nodes out of order or
// invalid) gives an error wrapping ErrBadLayout.
func DecodeLayout(b []byte) (*Layout, error) {
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("%w: empty", ErrBadLayout)
	case len(b) > MaxEncodedSize:
		return nil, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrBadLayout, len(b), MaxEncodedSize)
	case b[0] != encodingVersion:
		return nil, fmt.Errorf("%w: unknown encoding version %d", ErrBadLayout, b[0])
	}
	d := wire.Decoder{B: b[1:]}
	l := &Layout{}
	l.Version = d.Uvarint()
	l.Replicas = int(d.Byte())
	count := d.Uvarint()
	if d.Err == nil && (count > MaxNodes || count > uint64(len(d.B)/minNodeSize)) {
		return nil, fmt.Errorf("%w: %d nodes do not fit in %d bytes or exceed %d", ErrBadLayout, count, len(d.B), MaxNodes)
	}
	if d.Err == nil && count > 0 {
		l.Nodes = make([]Node, count)
	}
	for i := range l.Nodes {
		n := &l.Nodes[i]
		n.Name = d.String()
		n.Zone = d.String()
		n.Weight = d.Uvarint()
		n.State = NodeState(d.Byte())
		if d.Err != nil {
			break
		}
		if i > 0 && n.Name <= l.Nodes[i-1].Name {
			return nil, fmt.Errorf("%w: node %q is out of order", ErrBadLayout, n.Name)
		}
	}
	if d.Err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadLayout, d.Err)
	}
	if len(d.B) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadLayout, len(d.B))
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadLayout, err)
	}
	return l, nil
}

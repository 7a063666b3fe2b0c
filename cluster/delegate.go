package cluster

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate receives memberlist's callbacks. memberlist calls them from its
// own goroutines, some concurrently, some while holding its locks, so every
// method returns at once: it copies what it needs and pushes it onto the
// node's buffered raw channel without blocking (dropping when the buffer
// is full; the periodic reconciliation repairs the view). None calls back
// into memberlist.
type delegate struct{ n *Node }

var (
	_ memberlist.Delegate      = delegate{}
	_ memberlist.EventDelegate = delegate{}
	_ memberlist.PingDelegate  = delegate{}
)

// NodeMeta returns the encoded local metadata. EncodeMeta keeps it under
// the limit; the check is a last guard against memberlist's panic.
func (d delegate) NodeMeta(limit int) []byte {
	d.n.metaMu.Lock()
	b := d.n.metaBytes
	d.n.metaMu.Unlock()
	if len(b) > limit {
		return nil
	}
	return b
}

func (delegate) NotifyMsg([]byte)                           {}
func (delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (delegate) LocalState(join bool) []byte                { return nil }
func (delegate) MergeRemoteState(buf []byte, join bool)     {}

func (d delegate) NotifyJoin(n *memberlist.Node)   { d.n.push(rawFromNode(rawJoin, n)) }
func (d delegate) NotifyLeave(n *memberlist.Node)  { d.n.push(rawFromNode(rawLeave, n)) }
func (d delegate) NotifyUpdate(n *memberlist.Node) { d.n.push(rawFromNode(rawUpdate, n)) }

func (delegate) AckPayload() []byte { return nil }

func (d delegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, payload []byte) {
	if other == nil {
		return
	}
	d.n.push(rawEvent{kind: rawPing, name: other.Name, at: time.Now()})
}

type rawKind uint8

const (
	rawJoin rawKind = iota + 1
	rawLeave
	rawUpdate
	rawPing
	rawSuspect
)

// rawEvent is a copy of what a callback saw; memberlist may change its
// *Node after the callback returns.
type rawEvent struct {
	kind rawKind
	name string
	addr string
	meta []byte
	at   time.Time
}

func rawFromNode(k rawKind, n *memberlist.Node) rawEvent {
	return rawEvent{
		kind: k,
		name: n.Name,
		addr: n.Address(),
		meta: append([]byte(nil), n.Meta...),
		at:   time.Now(),
	}
}

package repair

import (
	"context"
	"time"

	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/store"
)

// Peers reaches the other nodes of the cluster. It must be safe for
// concurrent use and must not block: it is called for every chunk.
type Peers interface {
	// Alive is gossip's view of the named node: false for a dead, left or
	// unknown node. It is never asked about this node (Config.Node), which
	// always counts as alive.
	Alive(name string) bool
	// Client returns a client for the named peer, false when the node has
	// no known address (it is then treated like a dead node).
	Client(name string) (Peer, bool)
}

// Peer is one peer's chunk API: the methods of *peer.Client that the
// keeper uses. Every method must honour ctx.
type Peer interface {
	// GetChunk returns the whole chunk verified against id; bytes that do
	// not hash to id give an error wrapping store.ErrCorrupt.
	GetChunk(ctx context.Context, id store.ChunkID) ([]byte, error)
	// PutChunk stores data as chunk id on the peer, replacing any copy
	// there. It must not keep data once it returns.
	PutChunk(ctx context.Context, id store.ChunkID, data []byte) error
	// StatChunk returns the size of the peer's copy, or an error wrapping
	// store.ErrNotFound.
	StatChunk(ctx context.Context, id store.ChunkID) (int64, error)
	// ListChunks returns up to limit chunks whose IDs follow after, in ID
	// order, and whether more follow.
	ListChunks(ctx context.Context, after store.ChunkID, limit int) ([]peer.ChunkInfo, bool, error)
}

var _ Peer = (*peer.Client)(nil)

// Chunks is the namespace's view of the chunks: which are referenced, and
// since when the unreferenced ones have had no reference. store/meta's FSM
// has ChunkRefCount and ZeroRefChunks; ForEachChunk is the one method it
// lacks (an iteration over its 'r' reference-count records).
//
// Implementations must be safe for concurrent use.
type Chunks interface {
	// ForEachChunk calls fn, in ID order, for every chunk with a
	// reference record whose ID is greater than after (the zero ID starts
	// at the beginning), with its reference count, which may be 0 (a
	// chunk whose last reference went away and was not forgotten yet). An
	// error from fn stops the walk and is returned as is. The keeper
	// stops every walk after a batch, and starts the next one after the
	// last ID it saw, so an implementation may hold a read transaction
	// for the duration of one call.
	ForEachChunk(ctx context.Context, after store.ChunkID, fn func(id store.ChunkID, refs uint64) error) error
	// ChunkRefCount returns how many chunk slots reference id: 0 for a
	// chunk with no record.
	ChunkRefCount(ctx context.Context, id store.ChunkID) (uint64, error)
	// ZeroRefChunks returns up to limit chunks (limit <= 0: all) whose
	// reference count has been 0 since before the Unix-nanosecond time
	// before, oldest first.
	ZeroRefChunks(ctx context.Context, before int64, limit int) ([]store.ChunkID, error)
}

// Condemner orders GC's deletions with the commits of writers on every
// host, through the namespace's log: store/meta's Tombstones implements
// it. It must be safe for concurrent use.
type Condemner interface {
	// Condemn tombstones the chunks of ids that have no reference at
	// that point of the log and returns those: GC deletes only them, and
	// only until half of meta.CondemnLease has passed since the call. A
	// commit referencing a tombstoned chunk is refused until its writer
	// has uploaded the chunk again after the deletion.
	Condemn(ctx context.Context, ids []store.ChunkID) ([]store.ChunkID, error)
	// Absolve says the deletions of ids (returned by Condemn) are over.
	Absolve(ctx context.Context, ids []store.ChunkID) error
}

// Clock is the keeper's time source: the grace periods, the settle delay,
// the intervals of Run and the waits of the rate limits use it. It must be
// safe for concurrent use.
type Clock interface {
	Now() time.Time
	// After is like time.After.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

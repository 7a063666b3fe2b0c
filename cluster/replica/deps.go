package replica

import (
	"context"

	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/store"
)

// Placer says where chunks live. It is implemented elsewhere, over the
// committed layout. It must be safe for concurrent use and must not block:
// it is called once or twice by every operation.
type Placer interface {
	// Order returns every node that may hold id, in preference order and
	// without repeats. The first Replicas() of them are the chunk's
	// placement; the later ones stand in, in that order, for placed nodes
	// that are dead or fail a write.
	Order(id store.ChunkID) []string
	// Replicas is the number of copies a chunk should have (R, at least 1).
	Replicas() int
}

// Peers reaches the other nodes. It must be safe for concurrent use and
// must not block.
type Peers interface {
	// Local is this node's name. That node is reached through
	// Config.Local, never through Client, and is always taken as alive.
	Local() string
	// Alive is gossip's view of name: false for a dead, left or unknown
	// node.
	Alive(name string) bool
	// Client returns a client for the named peer, false when the node is
	// unknown (it has no address).
	Client(name string) (Remote, bool)
}

// Remote is one peer's chunk API; *peer.Client implements it. Every method
// must honour ctx (return soon after it is done).
type Remote interface {
	// GetChunk returns the whole chunk verified against id, or an error:
	// bytes that do not hash to id give an error wrapping store.ErrCorrupt.
	GetChunk(ctx context.Context, id store.ChunkID) ([]byte, error)
	// GetChunkRange returns length bytes (length < 0: to the end) from off,
	// unverified; an off at or past the end gives no bytes.
	GetChunkRange(ctx context.Context, id store.ChunkID, off, length int64) ([]byte, error)
	// PutChunk stores data as chunk id on the peer. It must not keep data
	// once it returns.
	PutChunk(ctx context.Context, id store.ChunkID, data []byte) error
	// StatChunk returns the chunk's size or an error wrapping
	// store.ErrNotFound.
	StatChunk(ctx context.Context, id store.ChunkID) (int64, error)
	// DeleteChunk removes the chunk; a missing chunk is not an error.
	DeleteChunk(ctx context.Context, id store.ChunkID) error
}

var _ Remote = (*peer.Client)(nil)

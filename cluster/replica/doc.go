// Package replica is a store.Backend that keeps each chunk on R nodes of
// the cluster: this node's own backend (Config.Local) for the copies placed
// here, the peer API (cluster/peer) for the others. The fs layer's
// store.ChunkStore sits on it unchanged, so verification and caching stay
// there.
//
// # Keys
//
// Only chunk keys (store.ChunkID.Key: chunks/ab/cd/<hex>) are replicated;
// any other key is refused with an error wrapping store.ErrInvalidKey.
// List is the exception: it walks the local backend only (the chunks this
// node holds), for any prefix.
//
// # Placement
//
// A Placer (implemented over the committed layout) gives, for each chunk,
// every node that may hold it in preference order, and R; the first R are
// the chunk's placement. When the order has fewer than R nodes, R is the
// number of nodes. Peers says which nodes gossip reports alive (this node
// always counts as alive) and gives a Remote (a *peer.Client) for each.
//
// # Writes
//
// Put reads the whole chunk (at most store.MaxChunkSize; it must hash to
// its key's ID) and writes it, in parallel, to the first R alive nodes of
// the order: a node gossip reports dead is replaced by the next alive one
// in order, and so is a node whose write fails, once per failure. It
// succeeds when R distinct nodes acknowledged, or, when nodes are down
// (dead by gossip, or unreachable during the Put) and no alive node is
// left to stand in, when every node still up acknowledged and they are a
// majority of R: a 3-node cluster with one node down keeps writing with
// two copies (logged), and repair adds the third when it can. Otherwise it
// fails with an error wrapping store.ErrNoSpace (every failure was a full
// node) or store.ErrUnreachable (anything else), saying how many copies
// were written and why; when fewer than a majority of R nodes are alive it
// writes nothing.
// The fs layer turns that into ENOSPC or EIO and commits nothing; copies
// written by a failed Put are left in place, unreferenced, for garbage
// collection to remove (no chunk is ever half-written: each backend's Put
// is atomic). Put returns only after every write it started has returned,
// and writes from its own copy of the body.
//
// # Reads
//
// Get reads the local backend first (it is cheap, and holds the chunk
// whenever this node is in its placement), then the alive placed
// replicas, then the other alive nodes of the order (where a chunk written
// while a placed node was dead or failing lives), and last the nodes
// gossip reports dead. The placed replicas are tried in order of their
// recent call latency (an exponentially weighted moving average of every
// remote call's duration): nodes that answered their last call, fastest
// first; then nodes not called yet; then nodes whose last call failed
// (within the last minute). Each
// remote call is bounded by Config.Timeout; on an error, a timeout or
// corrupt bytes Get moves to the next node. A whole-chunk read (off 0,
// length < 0) is verified against the chunk's ID, the local copy too (so
// a corrupt local copy is read around, not returned to ChunkStore to
// fail); a ranged read is not verified. Corrupt bytes are logged and
// reported to Config.OnCorrupt. A chunk read from a peer is not written
// to the local backend: caching is ChunkStore's business.
//
// Stat asks the local backend, then the alive placed replicas at once; it
// does not look beyond the placement, so store.ChunkStore's "stored
// already?" check writes a chunk again when only stand-in nodes hold it.
// Delete removes the chunk from this node and every alive node of the
// order. Locate asks every placed node whether it holds a chunk.
//
// # Errors
//
// A read that no node served fails with an error wrapping
// store.ErrNotFound (every node answered that it lacks the chunk),
// store.ErrCorrupt (every node answered, some with corrupt bytes) or
// store.ErrUnreachable (some node could not be asked, or failed). The
// failures of the individual nodes are in the message but are not wrapped:
// in particular a replica's timeout never surfaces as
// context.DeadlineExceeded, which the fs layer would take for an
// interrupted call. When the caller's ctx ends, the error wraps ctx's
// error; after Close, store.ErrClosed.
//
// # Concurrency
//
// A Backend is safe for concurrent use. Remote calls, across all
// operations, are bounded by Config.Concurrency (the wait for a slot
// honours ctx and is not part of the Timeout); calls to the local backend
// are not. Put, Stat, Delete and Locate fan out in goroutines that they
// wait for before returning; nothing outlives the call that started it.
// Close cancels the operations in flight and waits for them; it closes
// nothing the Backend does not own (neither the local backend nor the
// peers' clients).
package replica

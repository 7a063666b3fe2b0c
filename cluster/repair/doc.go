// Package repair keeps one node's share of the chunks where the layout
// wants them. A Keeper runs on every node of the cluster, without a
// coordinator: each node repairs the chunks for which it is the first live
// node, moves away the local copies the layout no longer places on it,
// deletes its local garbage and re-reads its local chunks to find rot. It
// is a library: the daemon builds a Config (this node's name, its backend,
// the current placement, the peers and gossip's view of them, the
// namespace's reference counts, hooks for alerts and metrics), calls Run,
// and calls Trigger whenever the layout version changes or a node dies or
// comes back.
//
// # Passes
//
// Each pass is an exported method that takes a ctx and an optional
// progress callback and returns a report of counts; Run calls them.
//
// Repair walks the referenced chunks of the namespace (Chunks.ForEachChunk,
// in ID order, a batch at a time) and takes those for which this node is
// the first live node of the chunk's Order (the first node of Place that
// gossip reports alive, else the first alive one after it). Every node
// computes the same answer from the same layout and the same view of who
// is alive, so each chunk is repaired by exactly one node. When views
// differ for a moment, a chunk is repaired twice (the copies are the same
// bytes: harmless) or not at all until the next pass. For each of its
// chunks it checks that every placed node holds a copy and copies the
// chunk, from a node that holds it, to each live placed node that does
// not. A placed node that gossip reports dead is "unavailable": not
// counted as a copy and not written to. Repair does not write to a
// stand-in in its stead; data moves when the layout changes (the leader
// takes a node out after the down-out interval), never on a blip. A
// chunk no live node holds is "missing" and reported through
// Hooks.Missing, on every pass while it lasts.
//
// Rebalance walks the chunks of the local backend that are not placed on
// this node (after a layout change, or on a draining node) and, for the
// referenced ones, copies each to the placed nodes that lack it, then
// deletes the local copy once all of them hold one. That is how data
// reaches a new node: the nodes losing a chunk push it there.
//
// GC deletes local objects that no reference needs: chunks whose
// reference count has been 0 for Config.GCGrace, and objects with no
// reference record at all (a writer uploaded and crashed before
// committing, or the namespace already forgot the chunk after deleting
// it elsewhere) older than the grace. It condemns the candidates of each
// page of its listing through Config.Condemner before deleting them (see
// below).
//
// Scrub re-reads every local chunk and checks its hash. A corrupt or
// truncated copy is reported (Hooks.Corrupt), replaced by a good copy
// fetched from a live node if this node is placed for the chunk, and
// deleted otherwise; Hooks.Resolved follows once the chunk is sound here
// again or no longer this node's to hold.
//
// Health returns, without any I/O, the state the last Repair pass left
// (chunks and bytes replicated, under-replicated, missing) and the local
// copies the last Rebalance pass still had to move. It covers the chunks
// this node is responsible for: summed over the live nodes it covers each
// referenced chunk once.
//
// # Inventories
//
// Repair and Rebalance learn who holds what from inventories: each live
// peer's ListChunks and the local backend's List, both in ID order. A pass
// walks them side by side with its own walk, also in ID order, a page at a
// time (cursor), so every inventory is listed once per pass and memory is
// one page per node, however many chunks there are. An inventory can be
// out of date by the time a chunk is looked at, so it is only trusted to
// skip work: a node listed as lacking a chunk is asked again (StatChunk)
// before anything is copied to it, and Rebalance asks every placed node
// right before each deletion. A node whose listing fails counts as
// unavailable for the rest of the pass.
//
// # Safety rules
//
//   - A keeper deletes only from its own backend, never on a peer.
//   - Bytes are verified against the chunk ID before they are written
//     anywhere (peer.Client.GetChunk verifies; a local read is verified;
//     the peer API refuses a PUT that does not hash to its ID).
//   - Rebalance deletes a local copy only when the chunk is referenced,
//     not placed here, placed on at least the layout's R nodes (not fewer
//     because too few nodes are active), every placed node is alive and
//     answers, just before, that it holds a copy of the same size, and the
//     layout is the one the pass started with and has been current for
//     Config.Settle. So no deletion can leave fewer than R copies on the
//     placed nodes. A corrupt placed copy still counts (its size is
//     right); its own node's Scrub replaces it.
//   - Why Settle: nodes apply a new layout at slightly different moments.
//     If node C, still on the old layout, deleted its copy because the old
//     placement's nodes held one while node X, on the new layout, deleted
//     its copy because the new placement's nodes did, the chunk could end
//     with fewer than R copies. Waiting Settle (default 2 minutes, far
//     longer than a Raft apply and a chunk's copy) after a version was
//     first seen before deleting under it, and checking the version again
//     right before each deletion, keeps the old and the new layouts'
//     deletions apart in time. It assumes every node learns a committed
//     layout within Settle; a node cut off from Raft for longer but still
//     serving peers is the remaining risk.
//   - GC deletes only chunks the namespace condemned for it: tombstoned
//     in the Raft log while they had no reference (Config.Condemner),
//     and only within half of the condemnation's lease; then it absolves
//     them. Unreferenced chunks are never repaired or moved: they are
//     GC's.
//   - Scrub deletes only copies that fail verification.
//
// GC and writers. A writer on any node may store content that GC is
// about to delete (store.ChunkStore finds the object already stored and
// only commits a reference, or uploads it again just before the delete),
// and commit a reference to it. Reading the reference count right before
// the deletion leaves a window between that read and the delete; the
// condemnation closes it (store/meta's tombstone.go). GC proposes
// OpCondemn for a page of candidates; the state machine tombstones those
// still without a reference at that point of the log and returns them; GC
// deletes only those, then proposes OpAbsolve. A writer records the index
// its copy of the namespace had applied before each upload, and a commit
// referencing a chunk whose deletion is pending, or was absolved after
// that index, is refused with a retryable error: the writer uploads the
// chunk again once the deletion is over (package fs/vfs keeps a copy of
// chunks that were garbage already when uploaded, for that) and retries.
// Raft orders the condemnation and the commit, so one of them always
// loses cleanly, and no commit references a chunk whose copy GC deleted
// after the writer stored it.
//
// What remains. A deleter that stalls (a delete call that takes effect
// more than half a lease, 5 minutes, after its condemnation) while the
// clocks of the hosts are apart by the other half can still race a
// commit: the lease, not the log, ends a dead deleter's condemnation. An
// upload with no reference record that stays uncommitted for longer than
// the grace (a file written for longer than --gc-grace before it is
// closed) is garbage to GC on every node: its commit is refused, and the
// flush fails with EIO unless the writer still has the bytes, rather than
// commit a deleted chunk. Without a Condemner (tests, a single host) GC
// only reads the reference count again right before each deletion, and
// keeps a chunk that has a reference by then.
//
// # Rates
//
// Config.BytesPerSec is a token bucket shared by every pass's network
// transfers: each chunk fetched from a peer and each chunk sent to one is
// charged, local reads and writes are not. The bucket may go into debt, so
// a chunk larger than the bucket passes and the transfers after it wait.
// Config.ScrubBytesPerSec is Scrub's own bucket, for its local reads.
// Config.Concurrency bounds the chunks Repair and Rebalance work on at
// once; each call to a peer is bounded by Config.CallTimeout. Scrub reads
// one chunk at a time.
//
// # Concurrency
//
// A Keeper's methods are safe for concurrent use. Passes of different
// kinds may run at once; a second pass of a kind waits for the first. Run
// runs three loops in goroutines it waits for: Repair then Rebalance (at
// start, on Trigger, every RepairInterval, and when deletions deferred by
// Settle may go ahead), GC (every GCInterval) and Scrub (back to back,
// ScrubPause apart). Hooks and the Peers, Chunks and Placer callbacks are
// called from those goroutines, several at once.
//
// # Errors
//
// A pass returns an error when it cannot go on: no layout yet
// (ErrNoLayout), the namespace or the local listing failed, the layout
// changed under Rebalance (ErrLayoutChanged), ctx ended, or the keeper was
// closed (ErrClosed). Failures of single chunks (a peer that does not
// answer, a copy that fails) are logged, counted in Counts.Failed and left
// for the next pass. Run logs every pass's error and goes on; it returns
// nil when ctx is done, ErrRunning if it already runs and ErrClosed after
// Close.
//
// # Needed from the namespace
//
// store/meta has ChunkRefCount and ZeroRefChunks; Chunks also needs
// ForEachChunk, an iteration over the 'r' reference records in ID order
// from a given ID. The Condemner is store/meta's Tombstones over the
// node's Proposer.
package repair

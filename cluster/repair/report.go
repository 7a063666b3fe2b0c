package repair

import "time"

// Counts are what every pass reports: when it ran, under which layout,
// what it looked at and what it changed.
type Counts struct {
	Start  time.Time
	Took   time.Duration
	Layout uint64 // the layout version the pass placed chunks with
	// Chunks and Bytes are the chunks the pass examined (for Repair: the
	// chunks this node is responsible for) and their sizes, when known.
	Chunks int64
	Bytes  int64
	// Copied and CopiedBytes are the copies written (to a peer or to the
	// local backend); Deleted and DeletedBytes the local copies deleted.
	Copied       int64
	CopiedBytes  int64
	Deleted      int64
	DeletedBytes int64
	// Failed counts operations that failed (each is logged) and chunks
	// left alone because a fact needed to act safely was unknown.
	Failed int64
}

// RepairReport is the outcome of a Repair pass. The state counts
// (Replicated, Under, Missing) describe what the pass found, before it
// copied anything; Repaired says how many of the Under chunks it brought
// back to their full placement.
type RepairReport struct {
	Counts
	// Skipped: referenced chunks for which another node is the first live
	// replica. Unreferenced: chunks whose count is 0 (left to GC).
	Skipped      int64
	Unreferenced int64
	// Replicated: chunks every placed node held.
	Replicated      int64
	ReplicatedBytes int64
	// Misplaced: chunks not held by every placed node but by as many live
	// nodes in all (copies on a draining node or a stand-in count): they
	// are moving, not short of copies. Repair still copies them to the
	// placed nodes that lack them.
	Misplaced      int64
	MisplacedBytes int64
	// Under: chunks that some live node held but fewer live nodes than
	// they have placed nodes; Short is the sum over them of the copies
	// lacking (copies on dead nodes count as lacking).
	Under      int64
	UnderBytes int64
	Short      int64
	// Missing: chunks no live node holds (Hooks.Missing was called).
	Missing int64
	// Unavailable: placed replicas on nodes that are dead, have no
	// address or could not be listed: neither counted as copies nor
	// written to.
	Unavailable int64
	// Repaired: Under chunks that every placed node held at the end.
	Repaired      int64
	RepairedBytes int64
	// StillShort is the sum over the chunks still under-replicated at the
	// end of the copies they lack.
	StillShort int64
}

// RebalanceReport is the outcome of a Rebalance pass over the local
// chunks.
type RebalanceReport struct {
	Counts
	// Placed: local chunks placed on this node (kept).
	Placed int64
	// Unreferenced: local chunks not placed here with no reference (left
	// to GC).
	Unreferenced int64
	// Moved: local chunks not placed here whose copy was deleted after
	// every placed node was seen to hold one (Deleted counts them too).
	Moved int64
	// Kept and KeptBytes: local chunks not placed here that stay for now:
	// a placed node is dead or lacks a copy, or the layout has not
	// settled (Deferred counts those).
	Kept      int64
	KeptBytes int64
	Deferred  int64
}

// GCReport is the outcome of a GC pass over the local chunks.
type GCReport struct {
	Counts
	// Referenced: local chunks with references (kept).
	Referenced int64
	// Young: unreferenced chunks still within the grace period (kept).
	Young int64
	// Raced: chunks found unreferenced that had a reference again when
	// re-checked right before deletion (kept).
	Raced int64
}

// ScrubReport is the outcome of a Scrub pass over the local chunks.
type ScrubReport struct {
	Counts
	// Corrupt: local copies that did not hash to their ID or could not be
	// read whole. Fixed: of those, the ones replaced by a good copy;
	// Dropped: the ones deleted with no replacement (this node is not
	// placed for the chunk, or no good copy was found).
	Corrupt int64
	Fixed   int64
	Dropped int64
}

// Health is the state of the chunks this node is responsible for (the
// ones for which it is the first live replica) after its last Repair
// pass, and the local copies still to move after its last Rebalance pass.
// Summed over the live nodes, it covers every referenced chunk once (as
// long as they agree on who is alive).
type Health struct {
	// RepairedAt is when the last Repair pass ended (zero: none yet);
	// Layout the layout version it used.
	RepairedAt time.Time
	Layout     uint64
	// Replicated: chunks with as many live copies as placed nodes (all
	// on the placed nodes, or some still moving there).
	Replicated      int64
	ReplicatedBytes int64
	// Under: chunks with fewer live copies than placed nodes; Short: the
	// copies they lack in total.
	Under      int64
	UnderBytes int64
	Short      int64
	// Missing: chunks no live node holds.
	Missing int64
	// RebalancedAt is when the last Rebalance pass ended; ToMove and
	// ToMoveBytes are the local copies not placed here that it kept, Held
	// and HeldBytes all the local copies it found, lowered as a running
	// pass moves copies away, so that a drain shows its progress (a
	// drained node is done when they reach 0: GC takes the unreferenced
	// ones).
	RebalancedAt time.Time
	ToMove       int64
	ToMoveBytes  int64
	Held         int64
	HeldBytes    int64
}

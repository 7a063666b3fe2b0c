// Package placement decides which nodes hold a chunk. It is a pure,
// deterministic function of the layout (the versioned list of nodes with
// their zone, weight and state, and the replication factor R) and of the
// chunk's 32-byte BLAKE3 ID: no goroutines, no clock, no I/O, no other
// dfs package. Every node computes the same answer from the same layout,
// so no placement is ever stored or sent.
//
// A Layout is a plain value, committed through Raft (Encode,
// DecodeLayout) and changed copy-on-write (With, Without, SetState,
// WithReplicas each return a new layout with Version+1). Compile turns it
// into a Placer, which precomputes the per-node hashes and weights and
// answers Place, Order and PlaceAvoiding. Compile once per layout
// version; a Placer is immutable and safe for concurrent use.
//
// # Algorithm
//
// Weighted rendezvous hashing (highest random weight) with the
// logarithmic method. For chunk c and node n, u(c, n) in (0, 1) comes
// from a 64-bit mix of the chunk ID and a hash of the node's name, and
// the node's score is -w/ln(u): the largest scores win. Equivalently
// -ln(u)/w is an exponential variable of rate w, and ranking by it is
// weighted sampling without replacement, so with R = 1 a node holds a
// share of the chunks equal to its share of the weight. With R > 1 the
// heavier nodes get slightly less than their weight share, as in any
// sampling without replacement (a node cannot hold two copies); for
// example a node of weight 2 among 19 of weight 1 gets 1.89 times the
// chunks of the others with R = 3, and with R = N every node holds
// everything.
//
// Why rendezvous rather than a ring: a node's score for a chunk does not
// depend on the other nodes, so adding, removing or draining a node
// moves only the chunks it gains or loses, each by one replica, with no
// virtual nodes to tune and no imbalance from their placement. The cost
// is O(N) work per chunk instead of O(log N); at the scale of a dfs
// cluster (tens to hundreds of nodes) that is a few microseconds against
// a 4 MiB transfer.
//
// # Zones
//
// Nodes with the same Zone share a failure domain; nodes with an empty
// zone form one zone, "". Among the active nodes, give each node a rank:
// the number of nodes of its zone with a higher score. The placement is
// the first EffectiveReplicas active nodes ordered by (rank, score
// descending, name). So the replicas lie in distinct zones while there
// are at least R zones (all rank 0, the highest-scoring node of each
// zone, best zones first), and otherwise every zone is used and the rest
// are filled round by round, one more from each zone per round, by score
// (a zone with fewer chosen replicas is always preferred unless it has no
// node left). Place returns the nodes in that order, which is the
// preference order: the first is the chunk's primary.
//
// Two consequences to know. A zone holds at most one replica of each
// chunk while there are at least R zones, so a zone with more than 1/R of
// the total weight is filled less than its weight says, and a small zone
// fills faster than its weight says: give zones similar weights. And the
// zone rule keeps rendezvous's minimal movement: adding a node (or raising
// its weight) only moves replicas to that node, at most one per chunk,
// and removing or draining a node only moves the replicas it held.
//
// # Order and dead nodes
//
// Order lists every node for a chunk: the placement, then the other nodes
// (draining ones included) continuing the same rule, each zone's ranks
// carrying on from the number of its nodes already listed. Reads fall
// back along it. A writer that finds a chosen target dead should use
// PlaceAvoiding, the placement as if the dead nodes were absent, which
// keeps the zone rule (taking the next active node of Order also works,
// but may put two replicas in one zone).
//
// # Cost
//
// Place is O(N) and allocates only its result (AppendPlace does not
// allocate): per active node one hash mix, and a logarithm only for the
// nodes that might enter their zone's R best, found with the bound
// ln(u) <= u-1. Order is O(N log N). Compile is O(N log N).
//
// # Determinism
//
// The hash (SplitMix64's finalizer over FNV-1a of the name and over the
// four words of the ID) and the score are part of the on-disk contract:
// changing either moves data, and needs a new encoding version. The
// score uses a logarithm of its own (fdlibm's, with every product
// rounded explicitly), not math.Log, whose last bit may differ between
// platforms; weights count with 53 significant bits. TestGolden pins the
// results. Ties (which need a 64-bit hash collision) go to the smaller
// name.
//
// # Errors
//
// Validate returns plain sentences. DecodeLayout errors wrap
// ErrBadLayout; Without and SetState wrap ErrUnknownNode.
package placement

// Package consensus runs the namespace's Raft group (hashicorp/raft) on
// every dfsd of a cluster.
//
// # Parts
//
// The log and stable store are badger (store/meta/raftmeta), the state
// machine is the badger namespace of store/meta, and the transport is
// raft's network transport over cluster/securenet: only holders of the
// cluster key can speak Raft, and the stream is encrypted and
// authenticated.
//
// # Mutations
//
// Node implements meta.Proposer. Propose gives each command a random
// ReqID, then applies it on the leader: directly when this node leads,
// else by a signed POST /v1/raft/apply to the leader's peer API (the
// address comes from gossip). It retries across leader changes and lost
// answers until ApplyTimeout; the namespace remembers each ReqID's result,
// so a retried command is answered, never applied twice (a retried create
// does not fail with EEXIST because its first try succeeded). Without a
// leader for ApplyTimeout, Propose fails with ErrNoLeader, which the
// filesystem returns as EIO.
//
// # Reads
//
// Every node answers lookups from its own copy. Barrier gives
// close-to-open consistency: it asks the leader for a read index (its
// commit index, confirmed by a heartbeat round to a quorum) and waits
// until the local copy has applied it. Concurrent barriers share one
// request (a caller joins only a request that started after it did).
// Without a leader Barrier fails fast, and callers serve the local copy.
//
// # Membership
//
// BootstrapExpect N forms a new cluster once gossip shows N nodes with a
// Raft address: each of the first N by name bootstraps the same
// configuration. Later, the leader reconciles the configuration with
// gossip every ReconcileInterval, one change per round: nodes that join
// are added as voters up to 3 (5 from five nodes on) and as non-voters
// after that (they still receive the log, so they answer reads locally);
// a non-voter is promoted when a voter is missing; a server that left
// gracefully is removed at once, one dead (by gossip) for longer than
// DownOut is removed and replaced. A leader that shuts down first hands
// leadership over.
//
// A data directory that already holds a standalone namespace cannot join
// a cluster (ErrExistingState): Raft would replay from index 1, which
// that namespace has passed.
package consensus

// Package cluster is dfs's membership layer: which nodes exist, how to reach
// them, their zone, capacity and usage, and whether they are alive. It runs
// hashicorp/memberlist (SWIM gossip with Lifeguard) encrypted with the
// cluster key, and turns its callbacks into a membership view (Members) and
// a stream of events (Events) for the alerts, placement and status layers.
// Liveness is not layout: this package reports; the Raft leader decides
// what to do about it.
//
// # Gossip and keys
//
// Every packet and stream is encrypted and authenticated with the 32-byte
// cluster key (AES-256-GCM; memberlist's SecretKey, with
// GossipVerifyIncoming and GossipVerifyOutgoing on). A node with another
// key cannot take part: its Run returns an error wrapping ErrKeyMismatch
// at the first attempt (retrying cannot help) after logging one line, and
// the nodes it contacted log one warning per remote host ("the cluster key
// differs"), at most every 30 s. Both come from recognising memberlist's
// decryption errors ("no installed keys could decrypt the message" and
// the encrypted/unencrypted mismatch). Key files hold the base64 of the
// key; LoadKeyFile refuses files that group or others may access.
//
// # Metadata
//
// Each node gossips a NodeMeta (name, HTTP address, zone, capacity, used
// bytes, state, software version) in a compact versioned binary encoding
// of at most 475 bytes (EncodeMeta), so memberlist's 512-byte limit, above
// which it panics, cannot be reached. DecodeMeta never panics (fuzzed).
// SetUsage re-gossips only when capacity or used moved more than 1% from
// the value last gossiped; SetState always does.
//
// # Concurrency
//
// memberlist calls the delegate from its own goroutines, sometimes under
// its locks. Every callback copies what it needs and does a non-blocking
// send on a buffered channel (4096); none blocks or calls into memberlist.
// One goroutine (loop) drains that channel, updates the view and forwards
// Events to a buffered channel (Config.EventBuffer); when the reader is
// slow the oldest unread event is dropped and counted (DroppedEvents), so
// a slow webhook can never stall gossip. Every PollInterval the loop also
// reconciles the view with memberlist.Members() (names only: reading the
// other fields of memberlist's nodes would race), which repairs anything
// lost if the callback buffer ever overflowed. A second goroutine
// (updater) calls UpdateNode, which blocks until the update is gossiped,
// so SetUsage and SetState never block. Close waits for both. The log
// bridge maps memberlist's [DEBUG]/[INFO]/[WARN]/[ERR] lines to slog
// levels.
//
// # Alive, suspect, dead, left
//
// memberlist v0.7.0 does not tell its users a node's state: the State
// field of the *Node passed to callbacks and returned by Members() is
// never written (memberlist keeps the real state in a shadowing field of
// an internal struct), and NotifyLeave fires alike for a crash and for a
// graceful leave. So:
//
//   - left vs dead: Close first gossips StateLeaving in the metadata and
//     waits for that update to be sent (BroadcastTimeout), then calls
//     Leave. A member whose last metadata says leaving when NotifyLeave
//     fires is MemberLeft; any other is MemberDead.
//   - suspect: memberlist has no suspicion callback, and Members() cannot
//     show it (see above). The node whose own probe fails logs "Suspect X
//     has failed, no acks received"; the log bridge turns that line into
//     EventSuspect. So at least the survivor that first suspects a node
//     reports it (in small clusters, usually every survivor, as each
//     probes every peer within N-1 probe intervals). A suspect member
//     becomes alive again (EventAlive) on its next answered probe or
//     metadata update, or dead when memberlist gives up on it.
//   - back: a member seen dead or left that is alive again (a restart
//     under the same name) gives EventBack. A restart from another
//     address is accepted once the old one has been dead for
//     DeadNodeReclaimTime.
//
// LastSeen is the last time this node heard from a member directly: an
// answered probe (PingDelegate), its join or a metadata update.
//
// # Timing
//
// With N nodes, each node probes one peer per ProbeInterval in a shuffled
// round-robin, so a crashed node is first probed within about one interval
// (at most N-1). The probe fails at the end of that interval (direct
// probe, then indirect ones and a TCP fallback). memberlist then waits the
// suspicion timeout before declaring the node dead:
//
//	min = SuspicionMult · max(1, log10 N) · ProbeInterval
//	max = SuspicionMaxTimeoutMult · min
//
// starting at max and shrinking toward min as other nodes confirm the
// suspicion independently; when fewer than SuspicionMult-2 confirmations
// are possible (N-2 < SuspicionMult-2) it is min at once. The dead message
// then spreads in a few GossipIntervals. Roughly:
//
//	detection ≈ (0..1)·ProbeInterval + ProbeInterval + suspicion timeout
//
// DefaultConfig (memberlist's LAN timings: probe 1 s, timeout 500 ms,
// SuspicionMult 4, max mult 6, gossip 200 ms): 3 nodes ≈ 5–6 s (measured
// 5.8 s on 127.0.0.1); with 5–9 nodes 5–7 s when confirmations arrive, at
// most 24 s when they do not. DefaultTestConfig (probe 200 ms, timeout
// 100 ms, SuspicionMult 3, max mult 2, gossip 50 ms): 3 nodes ≈ 1–1.5 s
// (measured about 0.9–1.3 s). Lifeguard's awareness lengthens probe
// timeouts on an overloaded node, trading speed for fewer false alarms.
//
// # Errors
//
// Config.Validate returns plain sentences. ErrKeyMismatch, ErrClosed,
// ErrBadMeta and ErrKeyFilePermissions are sentinels for errors.Is.
package cluster

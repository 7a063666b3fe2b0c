// Package raftmeta runs the namespace state machine (store/meta) under
// hashicorp/raft: LogStore is raft's log and stable store on badger,
// FSM adapts a meta.FSM to raft.FSM. The transport, the snapshot store
// (raft.FileSnapshotStore) and the raft.Raft itself belong to the
// caller.
//
// # Log store
//
// LogStore has its own badger database, in a directory of its own (for
// example DATA/raft beside the state's DATA/meta), opened with
// SyncWrites: a StoreLogs, DeleteRange or Set that returned has been
// fsynced, as raft requires before it acknowledges an entry or a vote.
// Keys are one prefix byte and then:
//
//	'l' index (uint64 big-endian)   log entry, so key order is index order
//	's' key                         stable value (raft's current term, vote)
//
// A log entry's value is a version byte, its type, term (uvarint), the
// time the leader appended it (varint Unix ns, 0 for none), the length
// of its Extensions (uvarint), the Extensions and then the Data; the
// index is the key's. SetUint64 stores 8 bytes big-endian.
//
// FirstIndex and LastIndex are cached and kept exact by StoreLogs and
// DeleteRange (which are serialized) and found by two seeks at open.
// StoreLogs writes a batch in one transaction, split into several
// committed in order when badger's limit is reached, so a crash leaves
// a prefix of the batch. DeleteRange visits only existing keys and
// deletes the head of the log forwards and its tail backwards, so the
// log stays one contiguous run across crashes. LogStore implements
// raft.MonotonicLogStore: raft then empties the log after installing a
// snapshot instead of leaving a gap. Entries of 1 MiB or more go to
// badger's value log, which a GC pass after each DeleteRange reclaims
// (see gcLoop).
//
// Missing things are reported as raft expects: GetLog returns
// raft.ErrLogNotFound (unwrapped), Get returns ErrKeyNotFound, whose
// text is "not found" as raft checks, and GetUint64 returns 0 and no
// error, as raft's InmemStore does.
//
// # No entry applied twice
//
// meta.FSM stores its applied index in the same badger transaction as
// each command's effects and skips any entry at or below it. FSM.Apply
// passes raft's log index, so replaying the log after a restart changes
// nothing that was applied. Raft by default restores its newest snapshot
// when it starts, which would move the persistent state back to the
// snapshot and apply the entries after it a second time (to the
// restored state: correct, but wasted, and the applied index would go
// backwards); FSM.NeedsRestore tells the caller when to set
// raft.Config.NoSnapshotRestoreOnStart instead: whenever the state is
// at or past the snapshot. If the state cannot apply an entry (a disk
// error), FSM stops applying altogether rather than go on past a hole;
// see FSM.Apply.
//
// # Snapshots
//
// Raft calls FSM.Snapshot from the goroutine that calls Apply, so the
// badger read transaction it opens (meta.FSM.OpenSnapshot) is the state
// between two entries; Persist streams it, on another goroutine while
// Apply goes on, as a short header (a version byte and the applied
// index) followed by meta's snapshot format, straight into the sink
// without building it in memory. Restore reads the header, has
// meta.FSM.Restore verify and load the rest (a damaged snapshot leaves
// the state untouched), syncs the state, and keeps a marker file in the
// state's directory while the old state is being replaced so that a
// crash in between is noticed by NeedsRestore.
//
// # Concurrency and errors
//
// LogStore is safe for concurrent use; Close waits for running calls
// and its GC goroutine, and is idempotent. FSM's methods follow raft's
// rules (see FSM). Errors wrap their cause with context; ErrClosed,
// ErrCorrupt and meta.ErrBadSnapshot are matched with errors.Is.
package raftmeta

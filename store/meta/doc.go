// Package meta is the namespace state machine of dfs: inodes, directory
// entries, chunk lists, extended attributes, chunk reference counts and
// the inode counter, kept in badger. Every replica applies the same log
// of commands (Cmd, serialized by Encode) with FSM.Apply and answers
// lookups from its own copy through the Reader methods. Local is the
// single-node Proposer; a Raft proposer feeds Apply from its log the
// same way.
//
// # Determinism
//
// Apply is a pure function of the state and the entry: times come from
// Cmd.Now (the proposer's clock), inode numbers from a counter in the
// state, iteration is in key order, and results are sorted. It does no
// I/O but its own store. Two replicas fed the same entries hold
// byte-identical states (and snapshots).
//
// # Key layout
//
// One-byte table prefix; integers in keys big-endian, so badger's order
// is numeric order (see keys.go):
//
//	"S"                 stats: applied index, next ino, inode count, data bytes
//	'i' ino             inode record
//	'd' parent name     directory entry -> ino, type bits (ReadDir is a prefix scan)
//	'c' ino index       chunk slot -> chunk ID, Len
//	'x' ino name        xattr value
//	'r' chunkID         reference count, and since when it has been 0
//	'z' since chunkID   zero-reference index, in time order (ZeroRefChunks)
//	'o' ino             orphan marker (nlink 0, awaiting OpReclaim)
//	"L"                 the placement layout (OpSetLayout)
//	'q' reqid, 'Q' index reqid   applied requests (Cmd.ReqID, dedupe.go)
//	'T' chunkID         tombstone: pending deletions, lease, index of the last absolve
//	't' when chunkID    tombstones in purge order (tombstone.go)
//
// Inode records are binary: a version byte, flags, mode, uid, gid, rdev,
// nlink, size, atime, mtime, ctime, the parent directory (for
// directories, so rename can refuse to move a directory into its own
// subtree), then the inline bytes or the symlink target. The flags are
// inline (the file's bytes are in the record) and tmpfile (made by
// OpTmpfile and never linked since: the one nlink-0 inode OpLink
// accepts); tmpfile was added within version 1, whose older records never
// set it. The stats
// record also starts with a version byte. Commands are encoded in binary
// too (codec.go): a version byte and the fields in a fixed order.
//
// # Transactions
//
// Each command is one badger transaction that validates it, applies it
// and writes the log index as the applied index, so a restart never
// applies an entry twice and an entry at or below the applied index is
// skipped. A command that fails validation applies nothing: its
// transaction is discarded and another records only the applied index.
// Conflicts (badger.ErrConflict) are retried. A storage error makes
// Apply return EIO, logged, with the applied index unchanged.
//
// Commands touching many keys (a Commit of thousands of slots, truncate
// or Reclaim of a huge file, ForgetChunks of many IDs) are split
// (split.go): their slot work is done in partial transactions, each
// slot changed together with the reference counts it moves, so every
// step is idempotent; the final transaction does the rest and writes the
// applied index. A crash in between replays the entry from the start and
// reaches the same state.
//
// # Chunk references
//
// Every slot holds one reference on its chunk. When a count falls to 0
// the chunk is listed in Result.Freed and a zero-reference record (time
// Cmd.Now) is kept until the chunk is referenced again or OpForgetChunks
// removes it (after the chunk's objects were deleted).
//
// # Tombstones
//
// A garbage collector deletes objects only after OpCondemn tombstoned
// them ('T': the chunk had no reference at that point of the log; the
// tombstone holds a lease of CondemnLease) and proposes OpAbsolve when
// done. OpCommit sends, with each chunk, the writer's applied index
// before its upload (ChunkRef.UploadIndex), and is refused with
// ErrnoStaleUpload (ESTALE, which Commit returns for nothing else) when
// a chunk's deletion is pending or was absolved after that index: the
// writer uploads again and retries. Raft orders the two, so a commit
// never references a chunk whose object a collector deleted after the
// writer stored it. A collector that dies leaves its tombstone pending
// until the lease ends and a refused writer closes it (OpAbsolve with
// AbsolveExpired); OpCondemn and OpAbsolve purge tombstones closed more
// than TombstoneKeep ago. See tombstone.go.
//
// # Orphans
//
// Removing the last name of an inode does not delete it: it becomes an
// orphan (nlink 0, an 'o' marker, listed in Result.Orphans and Orphans)
// until OpReclaim, so open files stay readable and writable and a removed
// directory that a process still has open (or as its working directory)
// keeps its attributes. Orphans are made by Unlink and Rename over a
// file's last link, by Rmdir and Rename over an empty directory (its
// nlink becomes 0, as ext4 reports; nothing can be made in it any more:
// ENOENT, as on Linux; it has no entries), and by OpTmpfile, whose
// anonymous file (O_TMPFILE) is an orphan from the start, so a crash
// before it is linked leaves it to the reclaim at the next start. Only
// such a file, while it was never linked, can get a name again (OpLink,
// which takes it off the orphans); any other nlink-0 inode refuses OpLink
// with ENOENT. OpReclaim deletes an orphan's record, chunk slots and
// xattrs (a directory has only the record and xattrs). Orphans count in
// Stats.Inodes until reclaimed.
//
// # Concurrency
//
// Apply is called by one goroutine at a time (it serializes anyway).
// The Reader methods, Stats, AppliedIndex and snapshots run concurrently
// with Apply and with each other, each on a consistent read-only
// transaction: they see the state between two commands (or, during a
// split command, with part of its slot work done). Close waits for
// running calls and open snapshots; Restore excludes everything else.
//
// # Errors
//
// POSIX conditions are syscall.Errno values: in Result.Errno from Apply,
// and returned bare by the Reader methods (ENOENT, ENOTDIR, ENODATA,
// EINVAL ...). Other errors are wrapped with context: ErrClosed after
// Close, ErrBadCommand from Decode, ErrBadSnapshot from Restore, badger
// errors otherwise.
package meta

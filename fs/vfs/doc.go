// Package vfs is the filesystem semantics layer of dfs: POSIX operations on
// inode numbers, with no FUSE in sight, over a metadata replica
// (meta.Reader for queries, meta.Proposer for mutations) and a
// content-addressed chunk store. The go-fuse node layer in package fs is a
// thin shell over FileSystem (api.go); *VFS implements it.
//
// # Namespace
//
// Namespace operations become one meta.Cmd each, stamped with the local
// clock and the caller's uid and gid; the Result's errno is the answer.
// Queries go to the local replica. An inode whose last link goes (Unlink,
// Rename over it), a directory removed (Rmdir, Rename over it), and an
// anonymous file made by Tmpfile (O_TMPFILE) are orphans, reclaimed
// (OpReclaim) once nothing on this host references it: no Handle is open
// (directories have none), and the kernel holds no inode for it
// (KernelTracker: the node layer reports the inodes the kernel gets and
// forgets). A removed directory the kernel still holds (open, or a working
// directory) keeps its attributes (nlink 0) and lists no entries; nothing
// can be made in it (ENOENT). A Tmpfile that Link names stops being an
// orphan. The unlink, the last Release or the kernel's Forget, whichever
// comes last, reclaims it; each decides under VFS.mu, so an orphan is
// reclaimed exactly once, and Open refuses an inode being reclaimed
// (ENOENT). An unlinked open file stays readable and writable, and an
// unlinked inode the kernel still holds can still be opened through it.
// ReclaimOrphans, called at the start of a single node, reclaims the
// orphans a crash left, files, directories and tmpfiles alike. See
// orphan.go.
//
// # Files
//
// A file is cut into slots of Config.ChunkSize bytes; slot i is chunk
// reference i of the file, or a hole. Every open inode has one shared state
// (file), refcounted by its Handles, so all handles on this host see each
// other's writes at once. Open reloads the committed chunk list
// (close-to-open across hosts). The state keeps the committed chunk list
// (or inline bytes) plus the slots changed since the last commit, each in
// one of these states:
//
//	dirty      bytes in a memory buffer
//	uploading  the same, handed to a background upload (immutable meanwhile)
//	spilled    bytes in the spill file (the memory bound was reached)
//	pending    uploaded to a chunk, not committed yet
//	hole       punched: reads as zeros, committed as a zero ChunkRef
//
// Write copies into the slot's buffer, loading the slot's old bytes first
// when the write does not cover them (read, patch, rehash). A slot written
// contiguously from its start to its end is uploaded in the background at
// once; a slot patched here and there stays in memory until Flush, so a
// random-write workload does not upload (and orphan) a chunk per write.
// Flush and Fsync upload the rest, wait, and commit everything in one
// OpCommit (chunk list, size, mtime); if any upload fails nothing is
// committed, the error is returned (ENOSPC for a full backend, else EIO)
// and the changes stay for a retry, until the last Release drops them. A
// file whose final size is at most InlineMax and whose bytes are at hand is
// committed inline instead. Truncation (SetAttr with a size, O_TRUNC)
// drops the uncommitted bytes past the new end, commits the rest, then
// proposes OpSetAttr; Apply trims the slot holding the new end so old
// bytes never reappear.
//
// Reads take each slot's bytes from its buffer, the spill file, the pending
// or committed chunk, or the inline bytes; past a slot's data and in holes
// they are zeros. Chunks are fetched without the file lock held (a read
// whose chunk was replaced and collected meanwhile looks again once). A
// sequential read entering a new slot prefetches the next ReadAheadChunks
// chunks; the last chunks read stay in a small cache. A chunk that does not
// verify is EIO, never wrong bytes.
//
// # Memory bound and spill
//
// Slot buffers count against MaxDirtyBytes (all files together). A writer
// that needs more reserves first, without holding its file's lock: while
// uploads run it waits for them to free their buffers; when none runs it
// spills partial slots of open files (least recently written, other files
// first) to one unlinked temporary file under SpillDir. Spilling is chosen
// over uploading partial slots early because an early upload makes a chunk
// that the next write to the slot supersedes: an extra PUT, a GET to patch
// it back, and an object no metadata references (the chunk GC only sees
// chunks that were once referenced). Local disk costs none of that. The
// bound holds for buffers; a flush reading a spilled slot back when memory
// is full may exceed it by one slot at a time (all files together), so a
// flush never waits for memory that a writer blocked on its lock holds.
// When this file's uploads have failed and memory is short, Write returns
// the upload's error (ENOSPC) instead of buffering more. Whole-chunk
// buffers are pooled.
//
// # Chunk GC
//
// Run deletes chunks whose reference count has been zero for GCGrace
// (meta.Reader.ZeroRefChunks), a batch at a time: it condemns the batch
// (meta.Tombstones: the namespace tombstones the chunks that still have
// no reference at that point of its log), deletes only the condemned
// ones, within half the lease, absolves them and proposes
// OpForgetChunks. A chunk that a local writer uploaded, or deduplicated
// onto, and has not committed is in a refcounted pending set: the GC
// skips it, and an upload waits while the GC is deleting the same chunk
// (then uploads it again), so writers on the GC's host never meet a
// tombstone.
//
// Writers on other hosts are ordered with the deletions by the log (see
// stale.go and meta.Tombstone): each upload records the index the local
// copy had applied before it, and the commit is refused
// (meta.ErrnoStaleUpload) when one of its chunks is being deleted or was
// deleted after its upload. The flush then takes the bytes of those
// chunks back (a copy kept of every upload that was garbage or
// tombstoned already, up to MaxDirtyBytes of them, else the store while
// a copy is left), makes the local copy current (Config.Barrier), waits
// while the deletions are pending (closing the tombstones of collectors
// whose lease is over), uploads them again and commits, for up to five
// seconds; then it fails with EIO and the changes stay for a later flush.
// If the bytes are gone (no kept copy and none left in the store) the
// flush fails with EIO: those changes are lost, and reported, never
// committed as a reference to a deleted chunk. A pending chunk uploaded
// more than half of meta.TombstoneKeep ago is looked for in the store
// before it is committed, since the tombstone of its deletion may be
// purged by then. In a single process (no Barrier) the local copy is the
// namespace itself and none of this costs more than a lookup per upload
// and per committed chunk.
//
// Writeback: the collectors of every node delete objects no reference
// needs once they are older than the grace (uploads a crashed writer
// never committed), so Run also commits, as an fsync would, every open
// file holding an upload older than a third of GCGrace (writeback.go). A
// file written for longer than the grace without a flush keeps its early
// chunks.
//
// # Concurrency and lock order
//
// All methods are safe for concurrent use. Locks, outermost first:
//
//	file.mu        one per open inode: its state, slots and size
//	VFS.mu         the table of open files, file.refs, kernel references, orphans
//	leaf locks     dirtyMem.mu, pendingChunks.mu, spillFile.mu, recentChunks.mu
//
// No one takes a file.mu while holding VFS.mu or a leaf lock, and no one
// holds two file.mu at once except by TryLock (the spiller). A writer
// waiting for memory drops its file.mu first. Background uploads and
// prefetches take no file lock: an upload reports through its done
// channel, and whoever holds the file lock next records the result
// (reapLocked). A file.mu is held across chunk-store calls only to load a
// slot before patching it and during a flush (uploads and commit), so
// writes, truncates, flushes of one inode are serialized, and its reads
// wait for its flush; GetAttr reads the size and mtime published in
// atomics and never waits. An O_APPEND write reserves its memory before
// taking the lock, so it never drops the lock between choosing the end of
// file and writing there (for a write of up to one chunk).
//
// # Errors
//
// Every method returns nil or a syscall.Errno: POSIX errors from the
// metadata as they are (a commit refused by a tombstone, ESTALE, is
// retried and never returned), EINTR when ctx is done, ENOSPC for a full backend,
// EBADF for a handle used against its mode or after Release, EIO for
// anything else. Failures turned into EIO are logged once, here (a corrupt
// or missing chunk once per chunk), so the node layer need not log them
// again.
package vfs

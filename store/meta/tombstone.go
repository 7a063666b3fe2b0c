package meta

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"syscall"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/dfsproject/dfs/store"
)

// Tombstones order the deletion of a chunk's objects with the commits
// that reference the chunk. A garbage collector must not delete an object
// that a writer (on any host) uploaded, or found stored, and is about to
// commit: the commit would reference a chunk that no longer exists. The
// collector and the writer meet only in the log:
//
//   - The collector proposes OpCondemn for the chunks it wants to delete.
//     Apply tombstones each chunk that has no reference at that point in
//     the log (a zero-reference record, or no record at all): 'T' id
//     gets one more pending deletion and a lease until Now+CondemnLease.
//     Chunks with a reference are left alone. Result.Condemned lists the
//     tombstoned ones: the only ones the collector may delete, and only
//     while its lease lasts (it stops at half of it).
//   - Once its deletions are over it proposes OpAbsolve: one pending
//     deletion less, and the tombstone's DoneIndex becomes the index of
//     the OpAbsolve.
//   - A writer reads its applied index (ChunkRef.UploadIndex) before it
//     uploads a chunk or looks for it in the store. OpCommit is refused
//     with ErrnoStaleUpload when a chunk it references has a tombstone
//     with a pending deletion, or one closed after that chunk's
//     UploadIndex (DoneIndex > UploadIndex): a deletion may have removed
//     what the writer uploaded. The writer uploads the chunk again (after
//     the deletion is over) and retries with a newer UploadIndex. The
//     index is per chunk, so a big commit refused because of one chunk
//     uploads only that one again.
//
// Raft orders OpCondemn and OpCommit, so one of them loses cleanly: a
// commit applied first gives the chunk a reference and the condemnation
// skips it; a condemnation applied first refuses the commit until the
// writer has uploaded again after the deletion.
//
// Leases. A collector that dies between OpCondemn and OpAbsolve leaves a
// pending deletion. Once every lease of the tombstone is over, it is
// expired: it still refuses commits (whatever the dead collector deleted
// may have been a writer's upload), and the first OpAbsolve that finds it
// expired closes it whatever its pending count; the refused writer
// proposes that OpAbsolve itself, with Flags AbsolveExpired, which leaves
// alone every tombstone not expired by then. A condemnation of an expired or closed
// tombstone starts a new pending state (Tombstone.Since); an OpAbsolve
// whose Now is before Since belongs to an older one and does not count
// down the new one. Leases are compared with the Now of each command,
// that is with the proposers' clocks: clocks must agree within far less
// than half a lease.
//
// Purging. OpCondemn and OpAbsolve also purge a bounded number of
// tombstones closed (or expired) more than TombstoneKeep ago, found in
// time order through 't'; an expired one is closed first (at the purging
// command's index) and purged TombstoneKeep later. A writer whose upload
// began before a deletion and commits after its tombstone was purged is
// not refused: writers re-check uploads older than half of TombstoneKeep
// before committing them (see package fs/vfs).

const (
	// CondemnLease is how long an OpCondemn lets its proposer delete.
	// Collectors stop deleting (and do not absolve) once half of it has
	// passed since they proposed it.
	CondemnLease = 10 * time.Minute
	// TombstoneKeep is how long a closed tombstone is kept.
	TombstoneKeep = time.Hour
	// MaxTombstoneBatch bounds the chunks of one OpCondemn or OpAbsolve
	// (more: EINVAL), so that every such command fits one transaction.
	MaxTombstoneBatch = 1024
)

// ErrnoStaleUpload is the errno of an OpCommit refused because of a
// tombstone: a chunk it references is being deleted, or was deleted after
// its ChunkRef.UploadIndex. Commit returns it for nothing else. The writer should
// make its copy of the namespace current, upload the chunks again once no
// deletion of them is pending (closing expired tombstones with
// OpAbsolve), and retry.
const ErrnoStaleUpload = syscall.ESTALE

// purgeExtra is how many closed tombstones a command purges beyond as
// many as it names chunks, so that purging keeps up with the tombstones
// made.
const purgeExtra = 16

// Tombstone is the deletion state of a chunk (see ChunkGC).
type Tombstone struct {
	Pending   uint32 // OpCondemns not absolved yet
	Deadline  int64  // Unix ns when the last lease ends
	Since     int64  // Now of the OpCondemn that started the pending state
	DoneIndex uint64 // log index of the last OpAbsolve (or of the purge that closed it)
	DoneAt    int64  // Now of the command that closed it
}

// Open reports whether a deletion may be under way at time now.
func (t Tombstone) Open(now int64) bool { return t.Pending > 0 && now < t.Deadline }

// Expired reports whether the tombstone has a pending deletion whose every
// lease is over at time now: its collector stopped or died.
func (t Tombstone) Expired(now int64) bool { return t.Pending > 0 && now >= t.Deadline }

// Refuses reports whether the tombstone refuses a commit of its chunk
// uploaded after the writer's copy applied index upload (0: unknown): a
// deletion is pending, or was absolved after upload.
func (t Tombstone) Refuses(upload uint64) bool {
	return t.Pending > 0 || (upload > 0 && t.DoneIndex > upload)
}

// purgeAt is when a tombstone's 't' record falls due: its deadline while
// deletions are pending, else when it was closed.
func (t Tombstone) purgeAt() int64 {
	if t.Pending > 0 {
		return t.Deadline
	}
	return t.DoneAt
}

// ChunkGC is what the namespace knows of one chunk's collection.
type ChunkGC struct {
	Refs       uint64 // references (slots)
	Recorded   bool   // a reference record exists (with Refs 0: garbage, awaiting deletion)
	Tombstoned bool   // Tombstone is set
	Tombstone  Tombstone
}

// AtRisk reports whether a collector may delete the chunk's objects
// before a writer that uploads it now commits: it is garbage already (no
// reference, but a record) or has a tombstone.
func (c ChunkGC) AtRisk() bool { return (c.Recorded && c.Refs == 0) || c.Tombstoned }

// ChunkGC returns the reference count and the tombstone of chunk id.
func (f *FSM) ChunkGC(ctx context.Context, id store.ChunkID) (ChunkGC, error) {
	var c ChunkGC
	err := f.readView(ctx, func(txn *badger.Txn) error {
		var err error
		if c.Refs, c.Recorded, err = readRef(txn, id); err != nil {
			return err
		}
		c.Tombstone, c.Tombstoned, err = getTomb(txn, id)
		return err
	})
	if err != nil {
		return ChunkGC{}, fmt.Errorf("meta: chunk %s: %w", id, err)
	}
	return c, nil
}

func tombKey(id store.ChunkID) []byte { return chunkKey(pfxTomb, id) }

func tombAtKey(at int64, id store.ChunkID) []byte { return timedChunkKey(pfxTombAt, at, id) }

// Tombstone record: version 1, pending (u32 LE), deadline, since,
// done index, done at (64 bits LE each).
const (
	tombVersion = 1
	tombLen     = 1 + 4 + 4*8
)

func encodeTomb(t Tombstone) []byte {
	b := make([]byte, tombLen)
	b[0] = tombVersion
	le := binary.LittleEndian
	le.PutUint32(b[1:], t.Pending)
	le.PutUint64(b[5:], uint64(t.Deadline))
	le.PutUint64(b[13:], uint64(t.Since))
	le.PutUint64(b[21:], t.DoneIndex)
	le.PutUint64(b[29:], uint64(t.DoneAt))
	return b
}

func decodeTomb(b []byte) (Tombstone, error) {
	if len(b) != tombLen || b[0] != tombVersion {
		return Tombstone{}, fmt.Errorf("%w: tombstone of %d bytes, version %d", errCorrupt, len(b), firstByte(b))
	}
	le := binary.LittleEndian
	return Tombstone{
		Pending:   le.Uint32(b[1:]),
		Deadline:  int64(le.Uint64(b[5:])),
		Since:     int64(le.Uint64(b[13:])),
		DoneIndex: le.Uint64(b[21:]),
		DoneAt:    int64(le.Uint64(b[29:])),
	}, nil
}

func getTomb(txn *badger.Txn, id store.ChunkID) (Tombstone, bool, error) {
	v, found, err := getValue(txn, tombKey(id))
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("get tombstone of %s: %w", id, err)
		}
		return Tombstone{}, false, err
	}
	t, err := decodeTomb(v)
	if err != nil {
		return Tombstone{}, false, fmt.Errorf("tombstone of %s: %w", id, err)
	}
	return t, true, nil
}

// putTomb writes t as id's tombstone (old, if found, is the one it
// replaces) and keeps the 't' record in step.
func putTomb(txn *badger.Txn, id store.ChunkID, old Tombstone, found bool, t Tombstone) error {
	if found && old.purgeAt() != t.purgeAt() {
		if err := txn.Delete(tombAtKey(old.purgeAt(), id)); err != nil {
			return fmt.Errorf("delete tombstone time of %s: %w", id, err)
		}
	}
	if err := txn.Set(tombKey(id), encodeTomb(t)); err != nil {
		return fmt.Errorf("write tombstone of %s: %w", id, err)
	}
	if !found || old.purgeAt() != t.purgeAt() {
		if err := txn.Set(tombAtKey(t.purgeAt(), id), nil); err != nil {
			return fmt.Errorf("write tombstone time of %s: %w", id, err)
		}
	}
	return nil
}

// tombBatch returns the distinct non-zero IDs of an OpCondemn or
// OpAbsolve, sorted; EINVAL for too many.
func tombBatch(in []store.ChunkID) ([]store.ChunkID, syscall.Errno) {
	if len(in) > MaxTombstoneBatch {
		return nil, syscall.EINVAL
	}
	ids := slices.Clone(in)
	slices.SortFunc(ids, func(x, y store.ChunkID) int { return bytes.Compare(x[:], y[:]) })
	ids = slices.Compact(ids)
	if len(ids) > 0 && ids[0].IsZero() {
		ids = ids[1:]
	}
	return ids, 0
}

func (a *applier) condemn() (syscall.Errno, error) {
	ids, e := tombBatch(a.cmd.ChunkIDs)
	if e != 0 {
		return e, nil
	}
	for _, id := range ids {
		count, _, _, err := a.getRef(id)
		if err != nil {
			return 0, err
		}
		if count > 0 {
			continue
		}
		old, found, err := getTomb(a.txn, id)
		if err != nil {
			return 0, err
		}
		t := old
		if t.Open(a.now) {
			t.Pending++
			t.Deadline = max(t.Deadline, a.now+int64(CondemnLease))
		} else {
			t.Pending, t.Deadline, t.Since = 1, a.now+int64(CondemnLease), a.now
		}
		if err := putTomb(a.txn, id, old, found, t); err != nil {
			return 0, err
		}
		a.res.Condemned = append(a.res.Condemned, id)
	}
	return 0, a.purgeTombs(len(ids) + purgeExtra)
}

func (a *applier) absolve() (syscall.Errno, error) {
	if a.cmd.Flags&^AbsolveExpired != 0 {
		return syscall.EINVAL, nil
	}
	expiredOnly := a.cmd.Flags&AbsolveExpired != 0
	ids, e := tombBatch(a.cmd.ChunkIDs)
	if e != 0 {
		return e, nil
	}
	for _, id := range ids {
		old, found, err := getTomb(a.txn, id)
		if err != nil {
			return 0, err
		}
		if expiredOnly && !old.Expired(a.now) {
			continue
		}
		t := old
		switch {
		case t.Expired(a.now):
			t.Pending = 0 // every lease is over: nobody deletes any more
		case t.Pending > 0 && a.now >= t.Since:
			t.Pending--
		}
		t.DoneIndex = a.index
		if t.Pending == 0 {
			t.DoneAt = a.now
		}
		if err := putTomb(a.txn, id, old, found, t); err != nil {
			return 0, err
		}
	}
	return 0, a.purgeTombs(len(ids) + purgeExtra)
}

// purgeTombs deletes up to limit tombstones closed more than
// TombstoneKeep ago, and closes those expired that long ago.
func (a *applier) purgeTombs(limit int) error {
	end := sortableTime(a.now - int64(TombstoneKeep))
	var due []store.ChunkID
	it := a.txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pfxTombAt}})
	for it.Rewind(); it.Valid() && len(due) < limit; it.Next() {
		k := it.Item().Key()
		if len(k) != 41 {
			it.Close()
			return fmt.Errorf("%w: tombstone time key of %d bytes", errCorrupt, len(k))
		}
		if binary.BigEndian.Uint64(k[1:9]) >= end {
			break
		}
		due = append(due, store.ChunkID(k[9:41]))
	}
	it.Close()
	for _, id := range due {
		t, found, err := getTomb(a.txn, id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: tombstone time record of %s without its tombstone", errCorrupt, id)
		}
		if t.Pending > 0 {
			old := t
			t.Pending, t.DoneIndex, t.DoneAt = 0, a.index, a.now
			if err := putTomb(a.txn, id, old, true, t); err != nil {
				return err
			}
			continue
		}
		if err := a.txn.Delete(tombKey(id)); err != nil {
			return fmt.Errorf("purge tombstone of %s: %w", id, err)
		}
		if err := a.txn.Delete(tombAtKey(t.purgeAt(), id)); err != nil {
			return fmt.Errorf("purge tombstone of %s: %w", id, err)
		}
	}
	return nil
}

// checkTombstones refuses a Commit (ErrnoStaleUpload) that references a
// chunk with a pending deletion, or with a deletion closed after the
// chunk's UploadIndex (when known). It reads only tombstones, which the
// partial transactions of a split command never change, so a replay
// decides the same way.
func (a *applier) checkTombstones() (syscall.Errno, error) {
	c := a.cmd
	if c.SetInline {
		return 0, nil
	}
	for _, r := range c.Chunks {
		if r.ID.IsZero() {
			continue
		}
		t, found, err := getTomb(a.txn, r.ID)
		if err != nil {
			return 0, err
		}
		if found && t.Refuses(r.UploadIndex) {
			return ErrnoStaleUpload, nil
		}
	}
	return 0, nil
}

// Tombstones runs the collector's side of the protocol through a
// Proposer: cluster/repair's Keeper takes it as its Condemner, and the
// fs/vfs chunk GC uses it. It is safe for concurrent use if P is.
type Tombstones struct {
	P Proposer
}

// NewTombstones returns Tombstones proposing through p.
func NewTombstones(p Proposer) *Tombstones { return &Tombstones{P: p} }

// Condemn tombstones the chunks of ids that have no reference (in
// commands of at most MaxTombstoneBatch) and returns those, sorted. The
// caller may delete their objects until half of CondemnLease has passed
// since it called Condemn, then calls Absolve with the same chunks. On an
// error, the chunks condemned so far are returned with it.
func (t *Tombstones) Condemn(ctx context.Context, ids []store.ChunkID) ([]store.ChunkID, error) {
	var out []store.ChunkID
	for b := range slices.Chunk(ids, MaxTombstoneBatch) {
		res, err := t.propose(ctx, OpCondemn, b, 0)
		if err != nil {
			return out, err
		}
		out = append(out, res.Condemned...)
	}
	return out, nil
}

// Absolve says the deletions of ids, condemned by Condemn, are over.
func (t *Tombstones) Absolve(ctx context.Context, ids []store.ChunkID) error {
	for b := range slices.Chunk(ids, MaxTombstoneBatch) {
		if _, err := t.propose(ctx, OpAbsolve, b, 0); err != nil {
			return err
		}
	}
	return nil
}

// CloseExpired closes the tombstones of ids that are expired (see
// AbsolveExpired): what a writer refused because of them does.
func (t *Tombstones) CloseExpired(ctx context.Context, ids []store.ChunkID) error {
	for b := range slices.Chunk(ids, MaxTombstoneBatch) {
		if _, err := t.propose(ctx, OpAbsolve, b, AbsolveExpired); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tombstones) propose(ctx context.Context, op Op, ids []store.ChunkID, flags uint32) (*Result, error) {
	res, err := t.P.Propose(ctx, &Cmd{Op: op, Now: time.Now().UnixNano(), ChunkIDs: ids, Flags: flags})
	switch {
	case err != nil:
		return nil, fmt.Errorf("meta: %v of %d chunks: %w", op, len(ids), err)
	case res == nil:
		return nil, fmt.Errorf("meta: %v of %d chunks: no result", op, len(ids))
	case res.Errno != 0:
		return nil, fmt.Errorf("meta: %v of %d chunks: %w", op, len(ids), res.Errno)
	}
	return res, nil
}

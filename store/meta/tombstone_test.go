package meta

import (
	"bytes"
	"reflect"
	"slices"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store"
)

// tombEnv is an FSM with one file (inode 2) whose slot 0 references
// id(1), and with id(2) at zero references (committed, then replaced).
type tombEnv struct {
	t *testing.T
	f *FSM
}

const lease = int64(CondemnLease)

func newTombEnv(t *testing.T, maxOps int) *tombEnv {
	e := &tombEnv{t: t, f: testFSM(t, "", maxOps)}
	e.ok(&Cmd{Op: OpCreate, Now: 1, Parent: RootIno, Name: "f", Mode: syscall.S_IFREG | 0o644})
	e.ok(&Cmd{Op: OpCreate, Now: 1, Parent: RootIno, Name: "g", Mode: syscall.S_IFREG | 0o644})
	e.ok(&Cmd{Op: OpCommit, Now: 1, Ino: 2, Size: tcs, ChunkSize: tcs, Chunks: []ChunkRef{{Index: 0, ID: id(2), Len: tcs}}})
	e.ok(&Cmd{Op: OpCommit, Now: 1, Ino: 2, Size: tcs, ChunkSize: tcs, Chunks: []ChunkRef{{Index: 0, ID: id(1), Len: tcs}}})
	return e
}

// apply applies cmd as the next entry and returns its result and index.
func (e *tombEnv) apply(cmd *Cmd) (*Result, uint64) {
	e.t.Helper()
	idx := e.f.AppliedIndex() + 1
	return e.f.Apply(idx, mustEncode(e.t, cmd)), idx
}

func (e *tombEnv) ok(cmd *Cmd) (*Result, uint64) {
	e.t.Helper()
	res, idx := e.apply(cmd)
	if res.Errno != 0 {
		e.t.Fatalf("%v: %v", cmd.Op, res.Errno)
	}
	return res, idx
}

// commit writes chunk c to slot 0 of inode 3 with the given UploadIndex
// and returns the errno.
func (e *tombEnv) commit(now int64, c store.ChunkID, upload uint64) syscall.Errno {
	e.t.Helper()
	res, _ := e.apply(&Cmd{Op: OpCommit, Now: now, Ino: 3, Size: tcs, ChunkSize: tcs,
		Chunks: []ChunkRef{{Index: 0, ID: c, Len: tcs, UploadIndex: upload}}})
	return res.Errno
}

func (e *tombEnv) condemn(now int64, ids ...store.ChunkID) []store.ChunkID {
	e.t.Helper()
	res, _ := e.ok(&Cmd{Op: OpCondemn, Now: now, ChunkIDs: ids})
	return res.Condemned
}

func (e *tombEnv) absolve(now int64, flags uint32, ids ...store.ChunkID) uint64 {
	e.t.Helper()
	_, idx := e.ok(&Cmd{Op: OpAbsolve, Now: now, Flags: flags, ChunkIDs: ids})
	return idx
}

func (e *tombEnv) tomb(c store.ChunkID) (Tombstone, bool) {
	e.t.Helper()
	g, err := e.f.ChunkGC(e.t.Context(), c)
	if err != nil {
		e.t.Fatal(err)
	}
	return g.Tombstone, g.Tombstoned
}

func TestCondemnRefusesReferenced(t *testing.T) {
	e := newTombEnv(t, 0)
	// id(1) is referenced, id(2) has a zero-reference record, id(3) no
	// record at all; duplicates and the zero ID count once or not at all.
	got := e.condemn(100, id(3), id(1), id(2), id(3), store.ChunkID{})
	want := []store.ChunkID{id(2), id(3)}
	slices.SortFunc(want, func(x, y store.ChunkID) int { return bytes.Compare(x[:], y[:]) })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("condemned %v; want %v (not the referenced id(1))", got, want)
	}
	if _, ok := e.tomb(id(1)); ok {
		t.Fatal("a referenced chunk got a tombstone")
	}
	if tb, ok := e.tomb(id(2)); !ok || tb.Pending != 1 || tb.Deadline != 100+lease || tb.Since != 100 {
		t.Fatalf("tombstone of id(2): %+v, %v", tb, ok)
	}
	g, _ := e.f.ChunkGC(t.Context(), id(2))
	if !g.AtRisk() || !g.Recorded || g.Refs != 0 {
		t.Fatalf("ChunkGC of a condemned chunk: %+v", g)
	}
	if g, _ := e.f.ChunkGC(t.Context(), id(1)); g.AtRisk() || g.Refs != 1 {
		t.Fatalf("ChunkGC of a referenced chunk: %+v", g)
	}
	if res, _ := e.apply(&Cmd{Op: OpCondemn, Now: 1, ChunkIDs: idList(0, MaxTombstoneBatch+1)}); res.Errno != syscall.EINVAL {
		t.Fatalf("condemn of too many chunks: %v; want EINVAL", res.Errno)
	}
	if res, _ := e.apply(&Cmd{Op: OpAbsolve, Now: 1, Flags: 2, ChunkIDs: []store.ChunkID{id(2)}}); res.Errno != syscall.EINVAL {
		t.Fatalf("absolve with unknown flags: %v; want EINVAL", res.Errno)
	}
}

// TestCommitAgainstTombstone walks one deletion: a commit is refused
// while it is pending, then refused when its upload began before the
// absolve and accepted when after.
func TestCommitAgainstTombstone(t *testing.T) {
	e := newTombEnv(t, 0)
	upload := e.f.AppliedIndex() // the writer looks before uploading
	e.condemn(100, id(2))
	for _, u := range []uint64{0, upload, upload + 100} {
		if got := e.commit(200, id(2), u); got != ErrnoStaleUpload {
			t.Fatalf("commit (upload index %d) while the deletion is pending: %v; want ESTALE", u, got)
		}
	}
	// A commit of other chunks is not concerned.
	if got := e.commit(200, id(7), upload); got != 0 {
		t.Fatalf("commit of a chunk without tombstone: %v", got)
	}
	done := e.absolve(300, 0, id(2))
	if tb, _ := e.tomb(id(2)); tb.Pending != 0 || tb.DoneIndex != done || tb.DoneAt != 300 {
		t.Fatalf("tombstone after absolve at %d: %+v", done, tb)
	}
	if got := e.commit(400, id(2), done-1); got != ErrnoStaleUpload {
		t.Fatalf("commit of an upload begun before the deletion ended: %v; want ESTALE", got)
	}
	if got := e.commit(400, id(2), 0); got != 0 {
		t.Fatalf("commit without an upload index (an older writer): %v; want it accepted", got)
	}
	if got := e.commit(400, id(7), 0); got != 0 {
		t.Fatal(got)
	}
	if got := e.commit(400, id(2), done); got != 0 {
		t.Fatalf("commit of an upload begun after the deletion: %v", got)
	}
	// Referenced now: it cannot be condemned.
	if got := e.condemn(500, id(2)); len(got) != 0 {
		t.Fatalf("condemned a referenced chunk: %v", got)
	}
}

// TestTombstoneHolders: two collectors condemn one chunk; the first
// absolve does not end the other's deletion.
func TestTombstoneHolders(t *testing.T) {
	e := newTombEnv(t, 0)
	e.condemn(100, id(2))
	e.condemn(150, id(2))
	if tb, _ := e.tomb(id(2)); tb.Pending != 2 || tb.Deadline != 150+lease || tb.Since != 100 {
		t.Fatalf("tombstone condemned twice: %+v", tb)
	}
	e.absolve(200, 0, id(2))
	if got := e.commit(210, id(2), 1<<40); got != ErrnoStaleUpload {
		t.Fatalf("commit while one deletion is still pending: %v", got)
	}
	d := e.absolve(220, 0, id(2))
	// Absolving again does not go below 0, and moves DoneIndex on.
	d2 := e.absolve(230, 0, id(2))
	if tb, _ := e.tomb(id(2)); tb.Pending != 0 || tb.DoneIndex != d2 || d2 <= d {
		t.Fatalf("tombstone absolved three times: %+v", tb)
	}
	if got := e.commit(240, id(2), d2); got != 0 {
		t.Fatal(got)
	}
}

// TestTombstoneLease: a collector that never absolves holds commits off
// until its lease is over, and then until a writer closes the expired
// tombstone; a late absolve of an older lease does not end a newer one.
func TestTombstoneLease(t *testing.T) {
	e := newTombEnv(t, 0)
	e.condemn(100, id(2))
	deadline := 100 + lease
	if got := e.commit(deadline-1, id(2), 1<<40); got != ErrnoStaleUpload {
		t.Fatalf("commit within the lease: %v", got)
	}
	if got := e.commit(deadline, id(2), 1<<40); got != ErrnoStaleUpload {
		t.Fatalf("commit after the lease, tombstone not closed: %v", got)
	}
	// A writer's AbsolveExpired before the deadline changes nothing.
	e.absolve(deadline-1, AbsolveExpired, id(2), id(3))
	if tb, _ := e.tomb(id(2)); tb.Pending != 1 || tb.DoneIndex != 0 {
		t.Fatalf("AbsolveExpired within the lease changed the tombstone: %+v", tb)
	}
	if _, ok := e.tomb(id(3)); ok {
		t.Fatal("AbsolveExpired made a tombstone")
	}
	closed := e.absolve(deadline, AbsolveExpired, id(2))
	if tb, _ := e.tomb(id(2)); tb.Pending != 0 || tb.DoneIndex != closed {
		t.Fatalf("expired tombstone after AbsolveExpired: %+v", tb)
	}
	if got := e.commit(deadline+1, id(2), closed-1); got != ErrnoStaleUpload {
		t.Fatalf("commit of an upload from before the close: %v", got)
	}

	// A new pending state on the closed tombstone; an OpAbsolve from
	// before it (a collector of the old lease, late) leaves it pending.
	start := deadline + 10
	e.condemn(start, id(2))
	e.absolve(start-5, 0, id(2))
	if tb, _ := e.tomb(id(2)); tb.Pending != 1 || tb.Since != start {
		t.Fatalf("late absolve of an older lease counted: %+v", tb)
	}
	// Condemning an expired tombstone starts a new lease too.
	e.condemn(start+lease, id(2))
	if tb, _ := e.tomb(id(2)); tb.Pending != 1 || tb.Since != start+lease || tb.Deadline != start+2*lease {
		t.Fatalf("condemn after expiry: %+v", tb)
	}
}

// TestTombstonePurge: closed tombstones go TombstoneKeep after their
// close; expired ones are closed first, then go.
func TestTombstonePurge(t *testing.T) {
	e := newTombEnv(t, 0)
	keep := int64(TombstoneKeep)
	e.condemn(100, id(2), id(3))
	e.absolve(200, 0, id(2)) // id(3)'s collector died
	e.condemn(200+keep-1, id(50))
	if _, ok := e.tomb(id(2)); !ok {
		t.Fatal("tombstone purged too early")
	}
	at := 200 + keep + 1
	e.ok(&Cmd{Op: OpCondemn, Now: at, ChunkIDs: []store.ChunkID{id(51)}})
	if _, ok := e.tomb(id(2)); ok {
		t.Fatal("closed tombstone not purged")
	}
	// id(3) expired at 100+lease, less than TombstoneKeep before: kept.
	if tb, ok := e.tomb(id(3)); !ok || tb.Pending != 1 {
		t.Fatalf("expired tombstone: %+v, %v", tb, ok)
	}
	at = 100 + lease + keep + 1
	_, idx := e.ok(&Cmd{Op: OpAbsolve, Now: at, ChunkIDs: []store.ChunkID{id(52)}})
	if tb, ok := e.tomb(id(3)); !ok || tb.Pending != 0 || tb.DoneIndex != idx || tb.DoneAt != at {
		t.Fatalf("tombstone expired for TombstoneKeep: %+v, %v; want closed at %d", tb, ok, idx)
	}
	last := e.absolve(at+2*keep, 0, id(53))
	for i, c := range []store.ChunkID{id(3), id(52)} {
		if _, ok := e.tomb(c); ok {
			t.Fatalf("closed tombstone %d left", i)
		}
	}
	// id(50) and id(51) were never absolved: closed now, purged later.
	for i, c := range []store.ChunkID{id(50), id(51)} {
		if tb, ok := e.tomb(c); !ok || tb.Pending != 0 || tb.DoneIndex != last {
			t.Fatalf("expired tombstone %d: %+v, %v; want closed at %d", i, tb, ok, last)
		}
	}
	var n, m int
	e.f.view(func(txn *badgerTxn) error {
		n, m = countPrefix(txn, pfxTomb), countPrefix(txn, pfxTombAt)
		return nil
	})
	if n != 3 || m != 3 {
		t.Fatalf("%d tombstones and %d time records left; want 3 and 3", n, m)
	}
}

// TestTombstoneSnapshot: tombstones travel in snapshots.
func TestTombstoneSnapshot(t *testing.T) {
	e := newTombEnv(t, 0)
	e.condemn(100, id(2))
	g := testFSM(t, t.TempDir(), 0)
	if err := g.Restore(bytes.NewReader(snap(t, e.f))); err != nil {
		t.Fatal(err)
	}
	e2 := &tombEnv{t: t, f: g}
	if tb, ok := e2.tomb(id(2)); !ok || tb.Pending != 1 {
		t.Fatalf("tombstone after restore: %+v, %v", tb, ok)
	}
	if got := e2.commit(200, id(2), 1<<40); got != ErrnoStaleUpload {
		t.Fatalf("commit after restore: %v", got)
	}
}

// TestSplitCommitRefused: a commit big enough to be split is refused
// before any partial transaction when one of its chunks is tombstoned.
func TestSplitCommitRefused(t *testing.T) {
	e := newTombEnv(t, 3)
	e.condemn(100, id(2))
	before := snap(t, e.f)
	chunks := slots(0, 20, 100, tcs)
	chunks[15].ID = id(2)
	for i := range chunks {
		chunks[i].UploadIndex = 1
	}
	res, _ := e.apply(&Cmd{Op: OpCommit, Now: 200, Ino: 3, Size: 20 * tcs, ChunkSize: tcs, Chunks: chunks})
	if res.Errno != ErrnoStaleUpload {
		t.Fatalf("split commit: %v; want ESTALE", res.Errno)
	}
	if after := snap(t, e.f); len(after) != len(before) {
		t.Fatal("a refused split commit changed the state")
	}
	if refs, _ := e.f.Chunks(t.Context(), 3); len(refs) != 0 {
		t.Fatalf("slots of a refused commit: %v", refs)
	}
	done := e.absolve(300, 0, id(2))
	chunks[15].UploadIndex = done - 1 // the other chunks were never deleted: their index does not matter
	res, _ = e.apply(&Cmd{Op: OpCommit, Now: 400, Ino: 3, Size: 20 * tcs, ChunkSize: tcs, Chunks: chunks})
	if res.Errno != ErrnoStaleUpload {
		t.Fatalf("split commit with the deleted chunk uploaded before the deletion ended: %v", res.Errno)
	}
	chunks[15].UploadIndex = done
	res, _ = e.apply(&Cmd{Op: OpCommit, Now: 400, Ino: 3, Size: 20 * tcs, ChunkSize: tcs, Chunks: chunks})
	if res.Errno != 0 {
		t.Fatalf("split commit after the deletion: %v", res.Errno)
	}
}

func TestTombstoneCodec(t *testing.T) {
	for _, c := range []*Cmd{
		{Op: OpCondemn, Now: 5, ChunkIDs: []store.ChunkID{id(1), id(2)}},
		{Op: OpAbsolve, Now: -5, Flags: AbsolveExpired, ChunkIDs: []store.ChunkID{id(3)}, ReqID: ReqID{9}},
		{Op: OpCommit, Now: 7, Ino: 3, Size: 10, ChunkSize: tcs, Chunks: []ChunkRef{{ID: id(4), Len: 10, UploadIndex: 1 << 40}, {Index: 1}}},
	} {
		got, err := Decode(mustEncode(t, c))
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip of %v: %+v, %v; want %+v", c.Op, got, err, c)
		}
	}
	if OpCondemn.String() != "condemn" || OpAbsolve.String() != "absolve" {
		t.Fatalf("op names %v %v", OpCondemn, OpAbsolve)
	}
}

// TestTombstonesProposer: the collector's helper batches, and returns
// what was condemned.
func TestTombstonesProposer(t *testing.T) {
	e := newTombEnv(t, 0)
	ts := NewTombstones(NewLocal(e.f))
	ids := append(idList(1000, 1000+MaxTombstoneBatch+10), id(1))
	got, err := ts.Condemn(t.Context(), ids)
	if err != nil || len(got) != MaxTombstoneBatch+10 || slices.Contains(got, id(1)) {
		t.Fatalf("Condemn: %d chunks, %v (referenced one included: %v)", len(got), err, slices.Contains(got, id(1)))
	}
	if err := ts.Absolve(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	if tb, _ := e.tomb(id(1000 + MaxTombstoneBatch + 5)); tb.Pending != 0 || tb.DoneIndex == 0 {
		t.Fatalf("tombstone after Absolve: %+v", tb)
	}
	if err := ts.CloseExpired(t.Context(), got[:1]); err != nil {
		t.Fatal(err)
	}
}

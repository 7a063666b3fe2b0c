package metatest

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

func encode(t testing.TB, c meta.Cmd) []byte {
	t.Helper()
	b, err := meta.Encode(&c)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

func testStaleIndex(t *testing.T, open Opener) {
	h := newHarness(t, open)
	h.create(t, root, "a", sIFREG|0o644)
	b := encode(t, meta.Cmd{Op: meta.OpCreate, Now: 5, Parent: root, Name: "b", Mode: sIFREG | 0o644, Excl: true})
	for _, idx := range []uint64{0, 1} {
		if res := h.f.Apply(idx, b); !reflect.DeepEqual(*res, meta.Result{}) {
			t.Errorf("apply at stale index %d = %+v", idx, res)
		}
	}
	if _, err := h.f.Lookup(ctx, root, "b"); err != syscall.ENOENT {
		t.Fatalf("stale command applied: %v", err)
	}
	if res := h.f.Apply(2, b); res.Errno != 0 || res.Attr == nil {
		t.Fatalf("apply at 2 = %+v", res)
	}
	// Applying entry 2 again (a replay) is skipped, not EEXIST.
	if res := h.f.Apply(2, b); !reflect.DeepEqual(*res, meta.Result{}) {
		t.Errorf("replayed entry = %+v", res)
	}
	// Indexes may skip (Raft entries that are not commands).
	c := encode(t, meta.Cmd{Op: meta.OpCreate, Now: 6, Parent: root, Name: "c", Mode: sIFREG | 0o644})
	if res := h.f.Apply(10, c); res.Errno != 0 {
		t.Fatalf("apply at 10 = %+v", res)
	}
	if h.f.AppliedIndex() != 10 || h.stats(t).Applied != 10 {
		t.Errorf("applied index = %d", h.f.AppliedIndex())
	}
	if res := h.f.Apply(9, b); res.Errno != 0 || res.Attr != nil {
		t.Errorf("apply below the applied index = %+v", res)
	}
}

func testGarbage(t *testing.T, open Opener) {
	h := newHarness(t, open)
	valid := encode(t, meta.Cmd{Op: meta.OpMkdir, Now: 1, Parent: root, Name: "d", Mode: 0o755})
	inputs := map[string][]byte{
		"nil":           nil,
		"empty":         {},
		"text":          []byte("garbage"),
		"json":          []byte(`{"op":2,"parent":1,"name":"d"}`),
		"version only":  {1},
		"truncated":     valid[:len(valid)-1],
		"trailing":      append(bytes.Clone(valid), 0),
		"huge count":    append(bytes.Clone(valid[:len(valid)-1]), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"unknown op":    encode(t, meta.Cmd{Op: 200, Now: 1}),
		"invalid op":    encode(t, meta.Cmd{Op: meta.OpInvalid, Now: 1}),
		"wrong version": append([]byte{99}, valid[1:]...),
	}
	before := dump(t, h.f)
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			next := h.f.AppliedIndex() + 1
			if res := h.f.Apply(next, data); res.Errno != syscall.EINVAL {
				t.Errorf("apply = %+v, want EINVAL", res)
			}
			if h.f.AppliedIndex() != next {
				t.Errorf("applied index %d, want %d", h.f.AppliedIndex(), next)
			}
		})
	}
	if strip(dump(t, h.f)) != strip(before) {
		t.Errorf("garbage changed the state")
	}
	for _, name := range []string{"nil", "text", "truncated", "trailing", "huge count", "wrong version"} {
		if _, err := meta.Decode(inputs[name]); !errors.Is(err, meta.ErrBadCommand) {
			t.Errorf("decode %s: %v", name, err)
		}
	}

	// A round trip keeps every field.
	full := meta.Cmd{
		Op: meta.OpCommit, Now: -5, Ino: 7, Parent: 8, Name: "name", NewParent: 9, NewName: "new",
		Mode: 0o100644, Uid: 1, Gid: 2, Rdev: 3, Target: "target", Excl: true, Flags: 4, Valid: 5,
		Size: 1 << 40, Atime: -1, Mtime: 1 << 62, Ctime: 3, Value: []byte("v"), ChunkSize: 4 << 20,
		Chunks:   []meta.ChunkRef{ref(0, 1, 10), ref(1<<40, 2, 1<<31)},
		DropFrom: 6, HasDropFrom: true, SetInline: true, Inline: []byte("inline"),
		ChunkIDs: []store.ChunkID{chunkID(3), chunkID(4)},
	}
	got, err := meta.Decode(encode(t, full))
	if err != nil || !reflect.DeepEqual(*got, full) {
		t.Errorf("round trip:\n got %+v, %v\nwant %+v", got, err, full)
	}
}

// record drives h through a pseudo-random workload of n commands and
// returns them (with their times) and their results.
func record(t testing.TB, h *harness, seed uint64, n int) ([]meta.Cmd, []*meta.Result) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 42))
	dirs := []meta.Ino{root}
	var files []meta.Ino
	var cmds []meta.Cmd
	var results []*meta.Result
	name := func() string { return "n" + itoa(r.IntN(40)) }
	pick := func(s []meta.Ino) meta.Ino {
		if len(s) == 0 {
			return root
		}
		return s[r.IntN(len(s))]
	}
	for range n {
		var c meta.Cmd
		switch r.IntN(17) {
		case 0, 1:
			c = meta.Cmd{Op: meta.OpMkdir, Parent: pick(dirs), Name: name(), Mode: uint32(r.IntN(0o7777)), Uid: 1, Gid: uint32(r.IntN(3))}
		case 2, 3, 4:
			c = meta.Cmd{Op: meta.OpCreate, Parent: pick(dirs), Name: name(), Mode: sIFREG | 0o644, Excl: r.IntN(2) == 0}
		case 5, 6:
			var refs []meta.ChunkRef
			for range r.IntN(6) {
				refs = append(refs, ref(uint64(r.IntN(8)), r.IntN(12), uint32(1+r.IntN(cs))))
			}
			c = meta.Cmd{Op: meta.OpCommit, Ino: pick(files), Size: uint64(r.IntN(9 * cs)), ChunkSize: cs, Chunks: refs,
				HasDropFrom: r.IntN(3) == 0, DropFrom: uint64(r.IntN(8)), Mtime: int64(r.IntN(1000))}
			if r.IntN(6) == 0 {
				c.SetInline, c.Inline, c.Size = true, []byte("inline"), 6+uint64(r.IntN(10))
			}
		case 7:
			c = truncate(pick(files), uint64(r.IntN(9*cs)))
		case 8:
			c = meta.Cmd{Op: meta.OpRename, Parent: pick(dirs), Name: name(), NewParent: pick(dirs), NewName: name(), Flags: uint32(r.IntN(3))}
		case 9:
			c = meta.Cmd{Op: meta.OpUnlink, Parent: pick(dirs), Name: name()}
		case 10:
			c = meta.Cmd{Op: meta.OpRmdir, Parent: pick(dirs), Name: name()}
		case 11:
			c = meta.Cmd{Op: meta.OpLink, Ino: pick(files), Parent: pick(dirs), Name: name()}
		case 12:
			c = meta.Cmd{Op: meta.OpSetXattr, Ino: pick(append(files, dirs...)), Name: "user." + name(), Value: []byte(name())}
		case 13:
			c = meta.Cmd{Op: meta.OpSymlink, Parent: pick(dirs), Name: name(), Target: name()}
		case 14:
			c = meta.Cmd{Op: meta.OpSetAttr, Ino: pick(append(files, dirs...)), Valid: uint32(r.IntN(0x7f) &^ meta.SetSize),
				Mode: uint32(r.IntN(0o7777)), Uid: uint32(r.IntN(3)), Gid: uint32(r.IntN(3)), Atime: 5, Mtime: 6, Ctime: 7}
		case 15:
			orphans, _ := h.f.Orphans(ctx)
			if len(orphans) == 0 {
				c = meta.Cmd{Op: meta.OpForgetChunks, ChunkIDs: []store.ChunkID{chunkID(r.IntN(12))}}
			} else {
				c = meta.Cmd{Op: meta.OpReclaim, Ino: orphans[0]}
			}
		case 16:
			c = meta.Cmd{Op: meta.OpTmpfile, Parent: pick(dirs), Mode: sIFREG | 0o600, Uid: 1, Gid: uint32(r.IntN(3))}
		}
		res := h.apply(t, c)
		c.Now = h.now
		cmds = append(cmds, c)
		results = append(results, res)
		if res.Errno == 0 && res.Attr != nil {
			switch c.Op {
			case meta.OpMkdir:
				dirs = append(dirs, res.Attr.Ino)
			case meta.OpCreate, meta.OpTmpfile:
				files = append(files, res.Attr.Ino)
			}
		}
	}
	return cmds, results
}

func snapshot(t testing.TB, f *meta.FSM) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Snapshot(&buf); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return buf.Bytes()
}

func testDeterminism(t *testing.T, open Opener) {
	a := newHarness(t, open)
	cmds, results := record(t, a, 1, 600)
	b := newHarness(t, open)
	for i, c := range cmds {
		res := b.f.Apply(uint64(i+1), encode(t, c))
		if !reflect.DeepEqual(res, results[i]) {
			t.Fatalf("command %d (%v): result %+v, first replica %+v", i+1, c.Op, res, results[i])
		}
	}
	sa, sb := snapshot(t, a.f), snapshot(t, b.f)
	if !bytes.Equal(sa, sb) {
		t.Fatalf("snapshots differ (%d and %d bytes)", len(sa), len(sb))
	}
	if dump(t, a.f) != dump(t, b.f) {
		t.Fatalf("states differ")
	}
	errnos := map[syscall.Errno]int{}
	for _, r := range results {
		errnos[r.Errno]++
	}
	t.Logf("%d commands, results by errno: %v", len(cmds), errnos)
}

func testSnapshotRestore(t *testing.T, open Opener) {
	h := newHarness(t, open)
	record(t, h, 2, 400)
	want := dump(t, h.f)
	snap := snapshot(t, h.f)

	g := newHarness(t, open)
	record(t, g, 3, 100) // some other state, to be replaced
	if err := g.f.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got := dump(t, g.f); got != want {
		t.Fatalf("restored state differs: %s", diff(want, got))
	}
	if g.f.AppliedIndex() != h.f.AppliedIndex() {
		t.Errorf("applied index %d, want %d", g.f.AppliedIndex(), h.f.AppliedIndex())
	}
	if again := snapshot(t, g.f); !bytes.Equal(again, snap) {
		t.Errorf("snapshot of the restored state differs")
	}
	// Both go on alike.
	g.now = h.now
	ra := h.ok(t, meta.Cmd{Op: meta.OpCreate, Parent: root, Name: "after", Mode: sIFREG | 0o644, Excl: true})
	rb := g.ok(t, meta.Cmd{Op: meta.OpCreate, Parent: root, Name: "after", Mode: sIFREG | 0o644, Excl: true})
	if !reflect.DeepEqual(ra, rb) {
		t.Errorf("after restore: %+v vs %+v", rb.Attr, ra.Attr)
	}
	if dump(t, g.f) != dump(t, h.f) {
		t.Errorf("states differ after one more command")
	}
	// Restoring an empty FSM's snapshot empties the state.
	e := newHarness(t, open)
	if err := g.f.Restore(bytes.NewReader(snapshot(t, e.f))); err != nil {
		t.Fatalf("restore empty: %v", err)
	}
	if dump(t, g.f) != dump(t, e.f) || g.f.AppliedIndex() != 0 {
		t.Errorf("state after restoring an empty snapshot: %s", diff(dump(t, e.f), dump(t, g.f)))
	}
}

func testRestoreCorrupt(t *testing.T, open Opener) {
	h := newHarness(t, open)
	record(t, h, 4, 200)
	snap := snapshot(t, h.f)
	g := newHarness(t, open)
	record(t, g, 5, 50)
	want := dump(t, g.f)
	applied := g.f.AppliedIndex()

	flip := func(i int) []byte {
		b := bytes.Clone(snap)
		b[i] ^= 0x10
		return b
	}
	inputs := map[string][]byte{
		"empty":         nil,
		"garbage":       []byte("this is not a snapshot at all"),
		"header only":   snap[:8],
		"half":          snap[:len(snap)/2],
		"one byte less": snap[:len(snap)-1],
		"trailing":      append(bytes.Clone(snap), 0),
		"flip header":   flip(3),
		"flip middle":   flip(len(snap) / 2),
		"flip trailer":  flip(len(snap) - 6),
		"flip checksum": flip(len(snap) - 1),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			err := g.f.Restore(bytes.NewReader(in))
			if !errors.Is(err, meta.ErrBadSnapshot) {
				t.Fatalf("restore = %v, want ErrBadSnapshot", err)
			}
			if got := dump(t, g.f); got != want || g.f.AppliedIndex() != applied {
				t.Fatalf("a failed restore changed the state")
			}
		})
	}
	// The state still works, and a good snapshot still restores.
	g.ok(t, meta.Cmd{Op: meta.OpMkdir, Parent: root, Name: "still-works", Mode: 0o755})
	if err := g.f.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if dump(t, g.f) != dump(t, h.f) {
		t.Errorf("restored state differs")
	}
}

func testRestart(t *testing.T, open Opener) {
	h := newHarness(t, open)
	cfg := h.f.Config()
	if cfg.InMemory {
		t.Skip("in-memory state")
	}
	record(t, h, 6, 300)
	want := dump(t, h.f)
	applied := h.f.AppliedIndex()
	if err := h.p.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if err := h.f.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := h.f.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := h.f.GetAttr(ctx, root); !errors.Is(err, meta.ErrClosed) {
		t.Errorf("getattr after close: %v", err)
	}
	if res := h.f.Apply(applied+1, encode(t, meta.Cmd{Op: meta.OpMkdir, Parent: root, Name: "x"})); res.Errno != syscall.EIO {
		t.Errorf("apply after close = %+v", res)
	}
	if _, err := h.p.Propose(ctx, &meta.Cmd{Op: meta.OpMkdir, Parent: root, Name: "x"}); !errors.Is(err, meta.ErrClosed) {
		t.Errorf("propose after close: %v", err)
	}

	f, err := meta.Open(cfg)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	if f.AppliedIndex() != applied {
		t.Errorf("applied index %d after restart, want %d", f.AppliedIndex(), applied)
	}
	if got := dump(t, f); got != want {
		t.Fatalf("state after restart differs: %s", diff(want, got))
	}
	// Replaying the log's last entry is skipped.
	last := encode(t, meta.Cmd{Op: meta.OpMkdir, Now: h.now, Parent: root, Name: "replayed", Mode: 0o755})
	if res := f.Apply(applied, last); res.Errno != 0 || res.Attr != nil {
		t.Errorf("replay = %+v", res)
	}
	h2 := &harness{f: f, p: meta.NewLocal(f), now: h.now}
	st := h2.stats(t)
	if a := h2.mkdir(t, root, "after-restart", 0o755); a.Ino != st.NextIno {
		t.Errorf("new inode %d, want %d", a.Ino, st.NextIno)
	}
}

// testLargeCommit commits more slots than one transaction holds, then
// truncates, reclaims and forgets them.
func testLargeCommit(t *testing.T, open Opener) {
	h := newHarness(t, open)
	f := h.create(t, root, "big", sIFREG|0o644)
	g := h.create(t, root, "half", sIFREG|0o644)
	const n = 30000
	refs := make([]meta.ChunkRef, n)
	for i := range refs {
		refs[i] = ref(uint64(i), i, cs)
	}
	size := uint64(n*cs - 3)
	res := h.commit(t, f.Ino, size, refs...)
	if res.Attr.Size != size || len(res.Freed) != 0 {
		t.Fatalf("commit = %+v, %d freed", res.Attr, len(res.Freed))
	}
	got := h.chunks(t, f.Ino)
	if len(got) != n || got[0] != refs[0] || got[n-1] != ref(n-1, n-1, cs-3) {
		t.Fatalf("chunks: %d, first %+v, last %+v", len(got), got[0], got[len(got)-1])
	}
	for _, i := range []int{0, n / 2, n - 1} {
		if h.refs(t, chunkID(i)) != 1 {
			t.Errorf("refcount of chunk %d = %d", i, h.refs(t, chunkID(i)))
		}
	}
	// Share the second half with another file, then rewrite big from
	// scratch (DropFrom 0) with the same chunks shifted by one slot.
	half := make([]meta.ChunkRef, n/2)
	for i := range half {
		half[i] = ref(uint64(i), n/2+i, cs)
	}
	h.commit(t, g.Ino, n/2*cs, half...)
	shifted := make([]meta.ChunkRef, n)
	for i := range shifted {
		shifted[i] = ref(uint64(i), (i+1)%n, cs)
	}
	res = h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, Size: n * cs, ChunkSize: cs, Chunks: shifted, HasDropFrom: true})
	if len(res.Freed) != 0 {
		t.Errorf("rewrite with the same chunks freed %d", len(res.Freed))
	}
	if got := h.chunks(t, f.Ino); len(got) != n || got[0].ID != chunkID(1) || got[n-1].ID != chunkID(0) {
		t.Errorf("rewritten chunks wrong")
	}

	// Truncate to a quarter: frees the chunks of the third quarter
	// (the second half is also held by g; shifted by one slot).
	res = h.ok(t, truncate(f.Ino, n/4*cs))
	if len(res.Freed) != n/4 {
		t.Errorf("truncate freed %d, want %d", len(res.Freed), n/4)
	}
	if got := h.chunks(t, f.Ino); len(got) != n/4 {
		t.Errorf("%d slots after truncate", len(got))
	}
	if s := h.stats(t); s.DataBytes != n/4*cs+n/2*cs {
		t.Errorf("data bytes = %d", s.DataBytes)
	}

	h.ok(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "big"})
	res = h.ok(t, meta.Cmd{Op: meta.OpReclaim, Ino: f.Ino})
	if len(res.Freed) != n/4 {
		t.Errorf("reclaim freed %d, want %d", len(res.Freed), n/4)
	}
	if _, err := h.f.GetAttr(ctx, f.Ino); err != syscall.ENOENT {
		t.Errorf("reclaimed inode: %v", err)
	}
	h.ok(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "half"})
	res = h.ok(t, meta.Cmd{Op: meta.OpReclaim, Ino: g.Ino})
	if len(res.Freed) != n/2 {
		t.Errorf("reclaim of the sharing file freed %d, want %d", len(res.Freed), n/2)
	}
	zero := h.zeroRefs(t)
	if len(zero) != n {
		t.Fatalf("%d zero-reference chunks, want %d", len(zero), n)
	}
	h.ok(t, meta.Cmd{Op: meta.OpForgetChunks, ChunkIDs: zero})
	if z := h.zeroRefs(t); len(z) != 0 {
		t.Errorf("%d zero-reference chunks after forget", len(z))
	}
	if s := h.stats(t); s.Inodes != 1 || s.DataBytes != 0 {
		t.Errorf("stats = %+v", s)
	}
}

// testConcurrentReads reads while commands are applied (run with -race).
func testConcurrentReads(t *testing.T, open Opener) {
	h := newHarness(t, open)
	d := h.mkdir(t, root, "d", 0o755)
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				ents, err := h.f.ReadDir(ctx, d.Ino)
				if err != nil {
					errs <- err
					return
				}
				for _, e := range ents {
					if _, err := h.f.Lookup(ctx, d.Ino, e.Name); err != nil && err != syscall.ENOENT {
						errs <- err
						return
					}
				}
				if i == 0 {
					var buf bytes.Buffer
					if err := h.f.Snapshot(&buf); err != nil {
						errs <- err
						return
					}
				}
				if _, err := h.f.Stats(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 300 {
		name := "f" + itoa(i%50)
		h.apply(t, meta.Cmd{Op: meta.OpCreate, Parent: d.Ino, Name: name, Mode: sIFREG | 0o644})
		h.apply(t, meta.Cmd{Op: meta.OpRename, Parent: d.Ino, Name: name, NewParent: d.Ino, NewName: "g" + itoa(i%7)})
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent read: %v", err)
	}
}

package meta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store"
)

// Internal tests of transaction splitting: they lower the split threshold
// and simulate crashes between the partial transactions.

func testFSM(t *testing.T, dir string, maxOps int) *FSM {
	t.Helper()
	cfg := DefaultTestConfig()
	if dir != "" {
		cfg = Config{Dir: dir}
	}
	f, err := Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	f.maxTxnOps = maxOps
	t.Cleanup(func() { f.Close() })
	return f
}

func id(n int) store.ChunkID {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	return store.Sum(b[:])
}

func slots(from, to, idFrom int, n uint32) []ChunkRef {
	var r []ChunkRef
	for i := from; i < to; i++ {
		r = append(r, ChunkRef{Index: uint64(i), ID: id(idFrom + i - from), Len: n})
	}
	return r
}

const tcs = 16

// setupCmds makes file 2 with 40 slots (chunks 0..39) and 6 xattrs, and
// file 3 sharing chunks 10..19.
func setupCmds() []*Cmd {
	cmds := []*Cmd{
		{Op: OpCreate, Parent: RootIno, Name: "f", Mode: syscall.S_IFREG | 0o644},
		{Op: OpCreate, Parent: RootIno, Name: "g", Mode: syscall.S_IFREG | 0o644},
		{Op: OpCommit, Ino: 2, Size: 40 * tcs, ChunkSize: tcs, Chunks: slots(0, 40, 0, tcs)},
		{Op: OpCommit, Ino: 3, Size: 10 * tcs, ChunkSize: tcs, Chunks: slots(0, 10, 10, tcs)},
	}
	for i := range 6 {
		cmds = append(cmds, &Cmd{Op: OpSetXattr, Ino: 2, Name: "user." + string(rune('a'+i)), Value: []byte("v")})
	}
	return cmds
}

// bigCmds are commands that split with a threshold of a few operations,
// each to be applied after setupCmds.
var bigCmds = map[string][]*Cmd{
	"commit": {{Op: OpCommit, Ino: 2, Size: 50*tcs - 3, ChunkSize: tcs, HasDropFrom: true, DropFrom: 5,
		Chunks: append(slots(5, 50, 100, tcs), ChunkRef{Index: 60, ID: id(200), Len: 1}, ChunkRef{Index: 7})}},
	"rewrite":  {{Op: OpCommit, Ino: 2, Size: 40 * tcs, ChunkSize: tcs, HasDropFrom: true, Chunks: slots(0, 40, 1, tcs)}},
	"inline":   {{Op: OpCommit, Ino: 2, Size: 3, SetInline: true, Inline: []byte("abc")}},
	"truncate": {{Op: OpSetAttr, Ino: 2, Valid: SetSize, Size: 3*tcs + 1, ChunkSize: tcs}},
	"reclaim": {
		{Op: OpUnlink, Parent: RootIno, Name: "f"},
		{Op: OpReclaim, Ino: 2},
	},
	"forget": {
		{Op: OpSetAttr, Ino: 2, Valid: SetSize, ChunkSize: tcs},
		{Op: OpForgetChunks, ChunkIDs: append(idList(0, 45), id(12))},
	},
}

func idList(from, to int) []store.ChunkID {
	var ids []store.ChunkID
	for i := from; i < to; i++ {
		ids = append(ids, id(i))
	}
	return ids
}

func applyAll(t *testing.T, f *FSM, cmds []*Cmd) []*Result {
	t.Helper()
	var out []*Result
	for _, c := range cmds {
		c.Now = int64(f.AppliedIndex()+1) * 1000
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		res := f.Apply(f.AppliedIndex()+1, b)
		if res.Errno != 0 {
			t.Fatalf("%v: errno %v", c.Op, res.Errno)
		}
		out = append(out, res)
	}
	return out
}

func snap(t *testing.T, f *FSM) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSplitMatchesSingle: a split command has the same effect and result
// as one transaction.
func TestSplitMatchesSingle(t *testing.T) {
	for name, big := range bigCmds {
		t.Run(name, func(t *testing.T) {
			one := testFSM(t, "", 1<<30)
			split := testFSM(t, "", 3)
			applyAll(t, one, setupCmds())
			applyAll(t, split, setupCmds())
			r1 := applyAll(t, one, big)
			r2 := applyAll(t, split, big)
			if !reflect.DeepEqual(r1, r2) {
				t.Errorf("results differ:\none   %+v\nsplit %+v", r1[len(r1)-1], r2[len(r2)-1])
			}
			if !bytes.Equal(snap(t, one), snap(t, split)) {
				t.Errorf("states differ")
			}
			if len(r1[len(r1)-1].Freed) == 0 && name != "rewrite" && name != "forget" {
				t.Errorf("nothing freed: the test does not exercise references")
			}
		})
	}
}

var errCrash = errors.New("simulated crash")

// TestSplitCrash stops a split command after each of its partial
// transactions, as a crash would, and applies the entry again: the end
// state must be the one without a crash.
func TestSplitCrash(t *testing.T) {
	for name, big := range bigCmds {
		t.Run(name, func(t *testing.T) {
			want := testFSM(t, "", 4)
			applyAll(t, want, setupCmds())
			applyAll(t, want, big)
			wantSnap := snap(t, want)

			crashes := 0
			for k := 0; ; k++ {
				f := testFSM(t, "", 4)
				applyAll(t, f, setupCmds())
				applyAll(t, f, big[:len(big)-1])
				last := big[len(big)-1]
				last.Now = int64(f.AppliedIndex()+1) * 1000
				data, _ := Encode(last)
				idx := f.AppliedIndex() + 1
				hit := false
				f.splitHook = func(step int) error {
					if step == k {
						hit = true
						return errCrash
					}
					return nil
				}
				res := f.Apply(idx, data)
				f.splitHook = nil
				if !hit {
					if res.Errno != 0 || !bytes.Equal(snap(t, f), wantSnap) {
						t.Fatalf("without a crash: %+v, state differs", res)
					}
					break
				}
				crashes++
				if res.Errno != syscall.EIO || f.AppliedIndex() != idx-1 {
					t.Fatalf("crash at step %d: %+v, applied %d", k, res, f.AppliedIndex())
				}
				if res := f.Apply(idx, data); res.Errno != 0 {
					t.Fatalf("replay after crash at step %d: %+v", k, res)
				}
				if !bytes.Equal(snap(t, f), wantSnap) {
					t.Fatalf("replay after crash at step %d: state differs", k)
				}
			}
			if crashes < 3 {
				t.Errorf("only %d crash points: the command was not split", crashes)
			}
		})
	}
}

// TestSplitCrashRestart crashes a split commit on disk, reopens the
// state and replays the entry.
func TestSplitCrashRestart(t *testing.T) {
	dir := t.TempDir()
	want := testFSM(t, "", 4)
	applyAll(t, want, setupCmds())
	applyAll(t, want, bigCmds["commit"])

	f := testFSM(t, dir, 4)
	applyAll(t, f, setupCmds())
	last := bigCmds["commit"][0]
	last.Now = int64(f.AppliedIndex()+1) * 1000
	data, _ := Encode(last)
	idx := f.AppliedIndex() + 1
	f.splitHook = func(step int) error {
		if step == 5 {
			return errCrash
		}
		return nil
	}
	if res := f.Apply(idx, data); res.Errno != syscall.EIO {
		t.Fatalf("apply = %+v, want EIO", res)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f = testFSM(t, dir, 4)
	if f.AppliedIndex() != idx-1 {
		t.Fatalf("applied index %d after restart, want %d", f.AppliedIndex(), idx-1)
	}
	if res := f.Apply(idx, data); res.Errno != 0 {
		t.Fatalf("replay = %+v", res)
	}
	if !bytes.Equal(snap(t, f), snap(t, want)) {
		t.Fatalf("state after crash, restart and replay differs")
	}
}

func FuzzDecode(f *testing.F) {
	for _, cmds := range bigCmds {
		for _, c := range cmds {
			b, _ := Encode(c)
			f.Add(b)
		}
	}
	for _, c := range setupCmds() {
		b, _ := Encode(c)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error not ErrBadCommand: %v", err)
			}
			return
		}
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := Decode(b)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("re-decode: %v\n%+v\n%+v", err, c, c2)
		}
	})
}

// FuzzApply applies arbitrary entries after a small setup: Apply must
// not panic, and a failed command must change nothing but the index.
func FuzzApply(f *testing.F) {
	for _, cmds := range bigCmds {
		for _, c := range cmds {
			b, _ := Encode(c)
			f.Add(b)
		}
	}
	f.Add([]byte("garbage"))
	for _, c := range []*Cmd{
		{Op: OpCondemn, Now: 1, ChunkIDs: idList(5, 45)},
		{Op: OpAbsolve, Now: 1, Flags: AbsolveExpired, ChunkIDs: idList(0, 3)},
		{Op: OpCommit, Ino: 2, Size: tcs, ChunkSize: tcs, Chunks: []ChunkRef{{ID: id(5), Len: tcs, UploadIndex: 3}}},
	} {
		b, _ := Encode(c)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := testFSM(t, "", 5)
		applyAll(t, m, setupCmds())
		before := snap(t, m)
		res := m.Apply(m.AppliedIndex()+1, data)
		if res.Errno == syscall.EIO {
			t.Fatalf("EIO on an in-memory state")
		}
		if res.Errno != 0 {
			after := snap(t, m)
			// Only the stats record (with the index) may differ.
			if len(after) != len(before) {
				t.Fatalf("failed command (errno %v) changed the state", res.Errno)
			}
		}
	})
}

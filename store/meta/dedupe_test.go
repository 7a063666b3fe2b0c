package meta

import (
	"bytes"
	"errors"
	"reflect"
	"syscall"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/dfsproject/dfs/store"
)

func mustEncode(t *testing.T, cmd *Cmd) []byte {
	t.Helper()
	b, err := Encode(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRequestApplyOnce: a command retried with the same ReqID is answered
// with its first Result and changes nothing; after the window it is
// forgotten; the records survive a snapshot.
func TestRequestApplyOnce(t *testing.T) {
	f := testFSM(t, t.TempDir(), 0)
	f.reqWindow = 8
	create := &Cmd{Op: OpCreate, Now: 1, Parent: RootIno, Name: "a", Mode: syscall.S_IFREG | 0o644, Excl: true, ReqID: ReqID{1}}
	first := f.Apply(1, mustEncode(t, create))
	if first.Errno != 0 || first.Attr == nil {
		t.Fatalf("first create: %+v", first)
	}
	again := f.Apply(2, mustEncode(t, create))
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("retried create: %+v; want the first result %+v", again, first)
	}
	if got := f.AppliedIndex(); got != 2 {
		t.Fatalf("applied index %d after the retry; want 2", got)
	}
	st, _ := f.Stats(t.Context())
	if st.Inodes != 2 {
		t.Fatalf("%d inodes after a create and its retry; want 2 (root and a)", st.Inodes)
	}
	other := *create
	other.ReqID = ReqID{2}
	if res := f.Apply(3, mustEncode(t, &other)); res.Errno != syscall.EEXIST {
		t.Fatalf("another request creating a: %v; want EEXIST", res.Errno)
	}
	// A failed request is remembered too.
	if res := f.Apply(4, mustEncode(t, &other)); res.Errno != syscall.EEXIST {
		t.Fatalf("retry of the failed request: %v; want EEXIST", res.Errno)
	}

	// The records travel in snapshots.
	var buf bytes.Buffer
	if err := f.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	g := testFSM(t, t.TempDir(), 0)
	if err := g.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	if res := g.Apply(5, mustEncode(t, create)); !reflect.DeepEqual(res, first) {
		t.Fatalf("retry after a restore: %+v; want %+v", res, first)
	}

	// Past the window, the request is forgotten: the retry now fails.
	for i := uint64(5); i < 20; i++ {
		c := &Cmd{Op: OpMkdir, Now: 1, Parent: RootIno, Name: "d" + string(rune('a'+i)), Mode: syscall.S_IFDIR | 0o755, ReqID: ReqID{byte(i), 9}}
		if res := f.Apply(i, mustEncode(t, c)); res.Errno != 0 {
			t.Fatalf("mkdir %d: %v", i, res.Errno)
		}
	}
	if res := f.Apply(20, mustEncode(t, create)); res.Errno != syscall.EEXIST {
		t.Fatalf("retry after the window: %v; want EEXIST (forgotten)", res.Errno)
	}
	var n int
	f.view(func(txn *badgerTxn) error { n = countPrefix(txn, pfxReq); return nil })
	if n > 8+pruneBatch {
		t.Errorf("%d request records kept with a window of 8", n)
	}
}

// TestDecodeVersion1: commands encoded before ReqID (version 1) and
// before UploadIndex (version 2) existed still decode.
func TestDecodeVersion1(t *testing.T) {
	cmd := &Cmd{Op: OpMkdir, Now: 5, Parent: RootIno, Name: "x", Mode: syscall.S_IFDIR | 0o755}
	b := mustEncode(t, cmd)
	v1 := append([]byte{1}, b[1:len(b)-16]...)
	got, err := Decode(v1)
	if err != nil || !reflect.DeepEqual(got, cmd) {
		t.Fatalf("decode of a version 1 command: %+v, %v; want %+v", got, err, cmd)
	}
	if _, err := Decode(append([]byte{2}, b[1:len(b)-1]...)); err == nil {
		t.Fatal("a version 2 command missing a byte of its ReqID decoded")
	}
	// Version 2 slots have no UploadIndex.
	commit := &Cmd{Op: OpCommit, Now: 5, Ino: 2, Size: 3, ChunkSize: tcs, Chunks: []ChunkRef{{ID: id(1), Len: 3}, {Index: 1, ID: id(2), Len: 3}}, ReqID: ReqID{7}}
	for v := byte(2); v <= cmdVersion; v++ {
		b, err := encodeVersion(commit, v)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Decode(b); err != nil || !reflect.DeepEqual(got, commit) {
			t.Fatalf("decode of a version %d commit: %+v, %v; want %+v", v, got, err, commit)
		}
	}
}

type badgerTxn = badger.Txn

func countPrefix(txn *badger.Txn, pfx byte) int {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte{pfx}
	it := txn.NewIterator(opts)
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
}

func TestSetLayout(t *testing.T) {
	f := testFSM(t, "", 0)
	if b, v, err := f.Layout(t.Context()); b != nil || v != 0 || err != nil {
		t.Fatalf("layout of a new namespace: %q, %d, %v", b, v, err)
	}
	set := func(index, ver uint64, val string) syscall.Errno {
		return f.Apply(index, mustEncode(t, &Cmd{Op: OpSetLayout, Now: 1, Size: ver, Value: []byte(val)})).Errno
	}
	if e := set(1, 2, "x"); e != syscall.ESTALE {
		t.Fatalf("version 2 first: %v; want ESTALE", e)
	}
	if e := set(2, 1, "one"); e != 0 {
		t.Fatalf("version 1: %v", e)
	}
	if e := set(3, 1, "again"); e != syscall.ESTALE {
		t.Fatalf("version 1 twice: %v; want ESTALE", e)
	}
	if e := set(4, 2, ""); e != syscall.EINVAL {
		t.Fatalf("empty layout: %v; want EINVAL", e)
	}
	if e := set(5, 2, "two"); e != 0 {
		t.Fatalf("version 2: %v", e)
	}
	b, v, err := f.Layout(t.Context())
	if string(b) != "two" || v != 2 || err != nil {
		t.Fatalf("layout: %q, %d, %v; want two, 2", b, v, err)
	}
}

// TestNewerCommandStopsApply: a command from a newer version is not
// answered EINVAL (the replica would drift): nothing is applied.
func TestNewerCommandStopsApply(t *testing.T) {
	f := testFSM(t, "", 0)
	b := mustEncode(t, &Cmd{Op: OpMkdir, Now: 1, Parent: RootIno, Name: "x", Mode: syscall.S_IFDIR | 0o755})
	b[0] = cmdVersion + 1
	res := f.Apply(1, b)
	if res.Errno != syscall.EIO || f.AppliedIndex() != 0 {
		t.Fatalf("newer command: %v, applied %d; want EIO and nothing applied", res.Errno, f.AppliedIndex())
	}
	b[0] = 0
	if res := f.Apply(1, b); res.Errno != syscall.EINVAL || f.AppliedIndex() != 1 {
		t.Fatalf("malformed command: %v, applied %d; want EINVAL and the index applied", res.Errno, f.AppliedIndex())
	}
}

func TestForEachChunk(t *testing.T) {
	f := testFSM(t, "", 0)
	res := f.Apply(1, mustEncode(t, &Cmd{Op: OpCreate, Now: 1, Parent: RootIno, Name: "f", Mode: syscall.S_IFREG | 0o644}))
	if res.Errno != 0 {
		t.Fatal(res.Errno)
	}
	ino := res.Attr.Ino
	chunks := []ChunkRef{{Index: 0, ID: id(1), Len: 10}, {Index: 1, ID: id(2), Len: 10}, {Index: 2, ID: id(1), Len: 10}}
	if r := f.Apply(2, mustEncode(t, &Cmd{Op: OpCommit, Now: 2, Ino: ino, Size: 3 << 20, ChunkSize: 1 << 20, Chunks: chunks})); r.Errno != 0 {
		t.Fatal(r.Errno)
	}
	got := map[store.ChunkID]uint64{}
	var order []store.ChunkID
	if err := f.ForEachChunk(t.Context(), store.ChunkID{}, func(c store.ChunkID, refs uint64) error {
		got[c] = refs
		order = append(order, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[id(1)] != 2 || got[id(2)] != 1 {
		t.Fatalf("chunks %v; want id(1)=2 and id(2)=1", got)
	}
	var after []store.ChunkID
	f.ForEachChunk(t.Context(), order[0], func(c store.ChunkID, _ uint64) error { after = append(after, c); return nil })
	if len(after) != 1 || after[0] != order[1] {
		t.Fatalf("after the first: %v; want only %v", after, order[1])
	}
	stop := errors.New("stop")
	if err := f.ForEachChunk(t.Context(), store.ChunkID{}, func(store.ChunkID, uint64) error { return stop }); err != stop {
		t.Fatalf("fn's error: %v", err)
	}
}

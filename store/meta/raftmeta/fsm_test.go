package raftmeta

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/dfsproject/dfs/store/meta"
)

var ctx = context.Background()

func openMeta(t testing.TB, dir string) *meta.FSM {
	t.Helper()
	cfg := meta.DefaultConfig()
	cfg.Dir = dir
	cfg.Logger = testLogger()
	f, err := meta.Open(cfg)
	if err != nil {
		t.Fatalf("open meta: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close meta: %v", err)
		}
	})
	return f
}

func encode(t testing.TB, c meta.Cmd) []byte {
	t.Helper()
	b, err := meta.Encode(&c)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return b
}

func createCmd(parent meta.Ino, name string) meta.Cmd {
	return meta.Cmd{Op: meta.OpCreate, Now: 1, Parent: parent, Name: name, Mode: syscall.S_IFREG | 0o644, Excl: true}
}

// applyAt applies c at index through a, as raft would.
func applyAt(t testing.TB, a *FSM, index uint64, c meta.Cmd) *meta.Result {
	t.Helper()
	res, ok := a.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: encode(t, c)}).(*meta.Result)
	if !ok {
		t.Fatalf("apply %d did not return a *meta.Result", index)
	}
	return res
}

func dump(t testing.TB, f *meta.FSM) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f.Snapshot(&b); err != nil {
		t.Fatalf("dump: %v", err)
	}
	return b.Bytes()
}

func TestFSMApply(t *testing.T) {
	f := openMeta(t, t.TempDir())
	a := NewFSM(f, testLogger())
	for _, typ := range []raft.LogType{raft.LogNoop, raft.LogBarrier, raft.LogConfiguration} {
		if res := a.Apply(&raft.Log{Index: 1, Type: typ, Data: encode(t, createCmd(meta.RootIno, "x"))}); res != nil {
			t.Errorf("apply of a %v entry = %v, want nil", typ, res)
		}
	}
	if f.AppliedIndex() != 0 {
		t.Fatalf("non-command entries reached the state: applied %d", f.AppliedIndex())
	}
	if res := applyAt(t, a, 2, createCmd(meta.RootIno, "f")); res.Errno != 0 || res.Attr == nil {
		t.Fatalf("create = %+v", res)
	}
	if res := applyAt(t, a, 3, createCmd(meta.RootIno, "f")); res.Errno != syscall.EEXIST {
		t.Fatalf("second exclusive create = %+v, want EEXIST", res)
	}
	// A replayed entry changes nothing and returns an empty Result.
	before := dump(t, f)
	if res := applyAt(t, a, 2, createCmd(meta.RootIno, "g")); res.Errno != 0 || res.Attr != nil {
		t.Errorf("replayed entry = %+v", res)
	}
	if !bytes.Equal(dump(t, f), before) || f.AppliedIndex() != 3 {
		t.Errorf("replaying entry 2 changed the state")
	}
	if a.Err() != nil {
		t.Errorf("Err = %v", a.Err())
	}
}

// TestFSMFailStop: an entry the state cannot apply stops the adapter.
func TestFSMFailStop(t *testing.T) {
	f := openMeta(t, t.TempDir())
	a := NewFSM(f, testLogger())
	applyAt(t, a, 1, createCmd(meta.RootIno, "f"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if res := applyAt(t, a, 2, createCmd(meta.RootIno, "g")); res.Errno != syscall.EIO {
		t.Errorf("apply to a closed state = %+v, want EIO", res)
	}
	if a.Err() == nil {
		t.Fatalf("Err = nil after a failed apply")
	}
	if res := applyAt(t, a, 3, createCmd(meta.RootIno, "h")); res.Errno != syscall.EIO {
		t.Errorf("apply after the failure = %+v, want EIO", res)
	}
	if _, err := a.Snapshot(); err == nil {
		t.Errorf("snapshot after the failure succeeded")
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	writeErr          error
	closed, cancelled bool
}

func (s *memSink) ID() string { return "mem" }
func (s *memSink) Write(p []byte) (int, error) {
	if s.writeErr != nil {
		return 0, s.writeErr
	}
	return s.Buffer.Write(p)
}
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

// TestFSMSnapshotRestore: a snapshot is the state when Snapshot was
// called, although Apply goes on before Persist, and restores exactly.
func TestFSMSnapshotRestore(t *testing.T) {
	src := openMeta(t, t.TempDir())
	a := NewFSM(src, testLogger())
	for i, name := range []string{"a", "b", "c"} {
		applyAt(t, a, uint64(i+1), createCmd(meta.RootIno, name))
	}
	want := dump(t, src)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	applyAt(t, a, 4, createCmd(meta.RootIno, "late"))
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if !sink.closed || sink.cancelled {
		t.Fatalf("persist: closed %v, cancelled %v", sink.closed, sink.cancelled)
	}

	dir := t.TempDir()
	dst := openMeta(t, dir)
	b := NewFSM(dst, testLogger())
	applyAt(t, b, 1, createCmd(meta.RootIno, "old")) // replaced by the restore
	if err := b.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if dst.AppliedIndex() != 3 {
		t.Errorf("restored applied index %d, want 3", dst.AppliedIndex())
	}
	if got := dump(t, dst); !bytes.Equal(got, want) {
		t.Errorf("restored state differs from the state at Snapshot")
	}
	if _, err := dst.Lookup(ctx, meta.RootIno, "late"); err != syscall.ENOENT {
		t.Errorf("entry applied after Snapshot is in the snapshot: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, restoreMarker)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("restore marker left behind: %v", err)
	}
	// The restored replica goes on from the snapshot.
	if res := applyAt(t, b, 4, createCmd(meta.RootIno, "late")); res.Errno != 0 {
		t.Errorf("apply after restore = %+v", res)
	}
	if !bytes.Equal(dump(t, dst), dump(t, src)) {
		t.Errorf("replicas differ after applying the same entries")
	}
}

func TestFSMPersistCancel(t *testing.T) {
	f := openMeta(t, t.TempDir())
	a := NewFSM(f, testLogger())
	applyAt(t, a, 1, createCmd(meta.RootIno, "f"))
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	boom := errors.New("disk full")
	sink := &memSink{writeErr: boom}
	if err := snap.Persist(sink); !errors.Is(err, boom) {
		t.Errorf("persist to a failing sink: %v", err)
	}
	if !sink.cancelled || sink.closed {
		t.Errorf("failing sink: cancelled %v, closed %v; want cancelled only", sink.cancelled, sink.closed)
	}
}

func TestFSMRestoreBad(t *testing.T) {
	src := openMeta(t, t.TempDir())
	a := NewFSM(src, testLogger())
	applyAt(t, a, 1, createCmd(meta.RootIno, "new"))
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	good := sink.Bytes()

	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0xff
	inputs := map[string][]byte{
		"empty":         nil,
		"short header":  good[:5],
		"wrong version": append([]byte{snapVersion + 1}, good[1:]...),
		"meta only":     good[snapHeaderLen:],
		"truncated":     good[:len(good)-3],
		"corrupt":       flipped,
	}
	dir := t.TempDir()
	dst := openMeta(t, dir)
	b := NewFSM(dst, testLogger())
	applyAt(t, b, 5, createCmd(meta.RootIno, "old"))
	before := dump(t, dst)
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			err := b.Restore(io.NopCloser(bytes.NewReader(in)))
			if !errors.Is(err, meta.ErrBadSnapshot) {
				t.Errorf("restore = %v, want ErrBadSnapshot", err)
			}
			if !bytes.Equal(dump(t, dst), before) {
				t.Errorf("a bad snapshot changed the state")
			}
			if _, err := os.Stat(filepath.Join(dir, restoreMarker)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("restore marker left behind: %v", err)
			}
		})
	}
}

// makeSnapshot persists a's state into snaps as raft's snapshot index.
func makeSnapshot(t *testing.T, a *FSM, snaps raft.SnapshotStore, index uint64) {
	t.Helper()
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
}

func TestNeedsRestore(t *testing.T) {
	newSnaps := func(t *testing.T) raft.SnapshotStore {
		s, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	need := func(t *testing.T, a *FSM, snaps raft.SnapshotStore) bool {
		t.Helper()
		ok, err := a.NeedsRestore(snaps)
		if err != nil {
			t.Fatalf("NeedsRestore: %v", err)
		}
		return ok
	}

	t.Run("no snapshot", func(t *testing.T) {
		a := NewFSM(openMeta(t, t.TempDir()), nil)
		if need(t, a, newSnaps(t)) {
			t.Errorf("restore needed without a snapshot")
		}
	})
	t.Run("state at or past the snapshot", func(t *testing.T) {
		a := NewFSM(openMeta(t, t.TempDir()), nil)
		snaps := newSnaps(t)
		applyAt(t, a, 1, createCmd(meta.RootIno, "a"))
		makeSnapshot(t, a, snaps, 1)
		if need(t, a, snaps) {
			t.Errorf("restore needed by a state at the snapshot")
		}
		applyAt(t, a, 2, createCmd(meta.RootIno, "b"))
		if need(t, a, snaps) {
			t.Errorf("restore needed by a state past the snapshot")
		}
	})
	t.Run("snapshot index past the last command", func(t *testing.T) {
		// Raft's index 10 is past meta's 1 when entries 2-10 were no-ops
		// or configuration changes: the state is not behind.
		a := NewFSM(openMeta(t, t.TempDir()), nil)
		snaps := newSnaps(t)
		applyAt(t, a, 1, createCmd(meta.RootIno, "a"))
		makeSnapshot(t, a, snaps, 10)
		if need(t, a, snaps) {
			t.Errorf("restore needed by a state holding the snapshot's last command")
		}
	})
	t.Run("state behind the snapshot", func(t *testing.T) {
		a := NewFSM(openMeta(t, t.TempDir()), nil)
		snaps := newSnaps(t)
		applyAt(t, a, 1, createCmd(meta.RootIno, "a"))
		applyAt(t, a, 2, createCmd(meta.RootIno, "b"))
		makeSnapshot(t, a, snaps, 2)
		wiped := NewFSM(openMeta(t, t.TempDir()), nil)
		if !need(t, wiped, snaps) {
			t.Errorf("no restore needed by an empty state")
		}
		behind := NewFSM(openMeta(t, t.TempDir()), nil)
		applyAt(t, behind, 1, createCmd(meta.RootIno, "a"))
		if !need(t, behind, snaps) {
			t.Errorf("no restore needed by a state behind the snapshot")
		}
	})
	t.Run("interrupted restore", func(t *testing.T) {
		dir := t.TempDir()
		a := NewFSM(openMeta(t, dir), nil)
		snaps := newSnaps(t)
		if err := writeMarker(filepath.Join(dir, restoreMarker)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.NeedsRestore(snaps); err == nil {
			t.Errorf("interrupted restore without a snapshot: no error")
		}
		applyAt(t, a, 1, createCmd(meta.RootIno, "a"))
		makeSnapshot(t, a, snaps, 1)
		if !need(t, a, snaps) {
			t.Errorf("no restore needed after an interrupted restore")
		}
	})
}

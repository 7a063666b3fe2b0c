package raftmeta

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// testLogger discards unless the tests run verbose.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return nil
}

func openStore(t testing.TB, dir string) *LogStore {
	t.Helper()
	s, err := OpenLogStore(dir, testLogger())
	if err != nil {
		t.Fatalf("open log store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close log store: %v", err)
		}
	})
	return s
}

// entry returns a distinct entry for index i.
func entry(i uint64) *raft.Log {
	l := &raft.Log{
		Index:      i,
		Term:       i/10 + 1,
		Type:       raft.LogType(i % 6),
		Data:       fmt.Appendf(nil, "data-%d", i),
		AppendedAt: time.Unix(1_700_000_000, int64(i)),
	}
	if i%3 == 0 {
		l.Extensions = fmt.Appendf(nil, "ext-%d", i)
	}
	return l
}

func entries(from, to uint64) []*raft.Log {
	var ls []*raft.Log
	for i := from; i <= to; i++ {
		ls = append(ls, entry(i))
	}
	return ls
}

func sameLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt)
}

func checkBounds(t *testing.T, s *LogStore, first, last uint64) {
	t.Helper()
	f, err1 := s.FirstIndex()
	l, err2 := s.LastIndex()
	if err1 != nil || err2 != nil || f != first || l != last {
		t.Fatalf("bounds = %d, %d (%v, %v); want %d, %d", f, l, err1, err2, first, last)
	}
}

// checkLogs checks that exactly the entries want are stored in
// [lo, hi].
func checkLogs(t *testing.T, s *LogStore, lo, hi uint64, want map[uint64]bool) {
	t.Helper()
	for i := lo; i <= hi; i++ {
		var got raft.Log
		err := s.GetLog(i, &got)
		switch {
		case want[i] && err != nil:
			t.Fatalf("get %d: %v", i, err)
		case want[i] && !sameLog(&got, entry(i)):
			t.Fatalf("get %d = %+v, want %+v", i, got, *entry(i))
		case !want[i] && err != raft.ErrLogNotFound:
			t.Fatalf("get %d = %v, want ErrLogNotFound", i, err)
		}
	}
}

func span(from, to uint64) map[uint64]bool {
	m := map[uint64]bool{}
	for i := from; i <= to; i++ {
		m[i] = true
	}
	return m
}

func TestLogStoreEmpty(t *testing.T) {
	s := openStore(t, t.TempDir())
	checkBounds(t, s, 0, 0)
	var l raft.Log
	if err := s.GetLog(1, &l); err != raft.ErrLogNotFound {
		t.Errorf("get from empty log: %v", err)
	}
	if err := s.DeleteRange(1, 10); err != nil {
		t.Errorf("delete from empty log: %v", err)
	}
	if err := s.StoreLogs(nil); err != nil {
		t.Errorf("store nothing: %v", err)
	}
	checkBounds(t, s, 0, 0)
}

func TestLogStoreStoreGet(t *testing.T) {
	s := openStore(t, t.TempDir())
	if err := s.StoreLog(entry(1)); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 1, 1)
	if err := s.StoreLogs(entries(2, 10)); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 1, 10)
	checkLogs(t, s, 0, 12, span(1, 10))

	// Empty data and extensions, the zero time, the largest values.
	bare := &raft.Log{Index: 11, Term: 1<<64 - 1, Type: raft.LogNoop}
	if err := s.StoreLog(bare); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := s.GetLog(11, &got); err != nil || !sameLog(&got, bare) || !got.AppendedAt.IsZero() || got.Data != nil {
		t.Fatalf("bare entry = %+v, %v", got, err)
	}
	// Overwriting an entry (as after truncating a conflicting tail).
	again := entry(5)
	again.Term, again.Data = 99, []byte("new")
	if err := s.StoreLog(again); err != nil {
		t.Fatal(err)
	}
	if err := s.GetLog(5, &got); err != nil || !sameLog(&got, again) {
		t.Fatalf("overwritten entry = %+v, %v", got, err)
	}
	checkBounds(t, s, 1, 11)
}

func TestLogStoreDeleteRange(t *testing.T) {
	tests := []struct {
		name        string
		lo, hi      uint64
		first, last uint64
	}{
		{"head", 1, 4, 5, 10},
		{"head from below", 0, 4, 5, 10},
		{"tail", 7, 10, 1, 6},
		{"tail past the end", 7, 100, 1, 6},
		{"all", 1, 10, 0, 0},
		{"more than all", 0, 1 << 62, 0, 0},
		{"middle", 4, 6, 1, 10},
		{"outside", 20, 30, 1, 10},
		{"empty range", 6, 5, 1, 10},
		{"one", 10, 10, 1, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, t.TempDir())
			if err := s.StoreLogs(entries(1, 10)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteRange(tt.lo, tt.hi); err != nil {
				t.Fatalf("delete: %v", err)
			}
			checkBounds(t, s, tt.first, tt.last)
			want := span(1, 10)
			for i := max(tt.lo, 1); i <= min(tt.hi, 10); i++ {
				delete(want, i)
			}
			checkLogs(t, s, 0, 11, want)
		})
	}
}

// TestLogStoreRaftSequence follows what raft does: append, compact the
// head after a snapshot, truncate a conflicting tail, append again.
func TestLogStoreRaftSequence(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if err := s.StoreLogs(entries(1, 100)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 60); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 61, 100)
	if err := s.DeleteRange(91, 100); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 61, 90)
	if err := s.StoreLogs(entries(91, 95)); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 61, 95)
	checkLogs(t, s, 50, 100, span(61, 95))
}

func TestLogStoreReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(entries(1, 50)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 20); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(46, 50); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("n2")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir)
	checkBounds(t, s, 21, 45)
	checkLogs(t, s, 1, 50, span(21, 45))
	if v, err := s.GetUint64([]byte("CurrentTerm")); v != 7 || err != nil {
		t.Errorf("term after reopen = %d, %v", v, err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); string(v) != "n2" || err != nil {
		t.Errorf("vote after reopen = %q, %v", v, err)
	}
}

func TestLogStoreReopenEmptied(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(entries(1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	checkBounds(t, s, 0, 0)
}

// TestLogStoreBigBatch stores batches beyond what one badger transaction
// holds, and entries large enough for the value log.
func TestLogStoreBigBatch(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	const n = 3000
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Data: bytes.Repeat([]byte{byte(i)}, 1024)}
	}
	if err := s.StoreLogs(logs); err != nil { // about 3 MiB: three transactions
		t.Fatal(err)
	}
	checkBounds(t, s, 1, n)
	for _, i := range []int{0, 1, n / 2, n - 1} {
		var got raft.Log
		if err := s.GetLog(uint64(i+1), &got); err != nil || !bytes.Equal(got.Data, logs[i].Data) {
			t.Fatalf("entry %d: %v", i+1, err)
		}
	}

	big := []*raft.Log{
		{Index: n + 1, Term: 2, Data: bytes.Repeat([]byte("a"), 3<<20)},
		{Index: n + 2, Term: 2, Data: bytes.Repeat([]byte("b"), 2<<20), Extensions: []byte("x")},
	}
	if err := s.StoreLogs(big); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 1, n+2)
	for _, want := range big {
		var got raft.Log
		if err := s.GetLog(want.Index, &got); err != nil || !sameLog(&got, want) {
			t.Fatalf("big entry %d: %v", want.Index, err)
		}
	}
	// Deleting the head wakes value-log GC; the big entries must survive.
	if err := s.DeleteRange(1, n); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, n+1, n+2)
	var got raft.Log
	if err := s.GetLog(n+2, &got); err != nil || !sameLog(&got, big[1]) {
		t.Fatalf("big entry after delete: %v", err)
	}
}

// TestLogStoreLargeDelete deletes more than deleteChunk entries from
// the head and from the tail.
func TestLogStoreLargeDelete(t *testing.T) {
	s := openStore(t, t.TempDir())
	const n = 3*deleteChunk + 100
	if err := s.StoreLogs(entries(1, n)); err != nil {
		t.Fatal(err)
	}
	head := uint64(deleteChunk + deleteChunk/2)
	if err := s.DeleteRange(1, head); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, head+1, n)
	tail := uint64(n - deleteChunk - 10)
	if err := s.DeleteRange(tail, n); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, head+1, tail-1)
	checkLogs(t, s, head-2, head+2, span(head+1, tail-1))
	checkLogs(t, s, tail-2, tail+2, span(head+1, tail-1))
	if cnt := countLogs(t, s); cnt != int(tail-1-head) {
		t.Errorf("%d entries stored, want %d", cnt, tail-1-head)
	}
}

func countLogs(t *testing.T, s *LogStore) int {
	t.Helper()
	keys, err := s.collect(0, 1<<64-1, false, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// TestLogStoreGap: the store keeps exact bounds around a gap (left when
// raft crashes between installing a snapshot and emptying the log).
func TestLogStoreGap(t *testing.T) {
	s := openStore(t, t.TempDir())
	if err := s.StoreLogs(entries(1, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(entries(1000, 1005)); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 1, 1005)
	if err := s.DeleteRange(1, 999); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 1000, 1005)

	if err := s.StoreLogs(entries(1, 3)); err != nil { // below the first index
		t.Fatal(err)
	}
	checkBounds(t, s, 1, 1005)
	if err := s.DeleteRange(2, 1005); err != nil { // a tail across the gap
		t.Fatal(err)
	}
	checkBounds(t, s, 1, 1)
	checkLogs(t, s, 0, 5, span(1, 1))
}

func TestStableStore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	key := []byte("CurrentTerm")

	// A missing key is what raft expects: Get fails with "not found"
	// (raft matches the text), GetUint64 returns 0 without error.
	v, err := s.Get(key)
	if err != ErrKeyNotFound || err.Error() != "not found" || v != nil {
		t.Errorf("get missing = %q, %v", v, err)
	}
	if n, err := s.GetUint64(key); n != 0 || err != nil {
		t.Errorf("get uint64 missing = %d, %v", n, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if has, err := raft.HasExistingState(s, s, snaps); has || err != nil {
		t.Fatalf("fresh store: HasExistingState = %v, %v", has, err)
	}

	if err := s.SetUint64(key, 42); err != nil {
		t.Fatal(err)
	}
	if n, err := s.GetUint64(key); n != 42 || err != nil {
		t.Errorf("get uint64 = %d, %v", n, err)
	}
	if has, err := raft.HasExistingState(s, s, snaps); !has || err != nil {
		t.Errorf("after setting the term: HasExistingState = %v, %v", has, err)
	}
	if err := s.SetUint64(key, 1<<64-1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.GetUint64(key); n != 1<<64-1 || err != nil {
		t.Errorf("get uint64 max = %d, %v", n, err)
	}

	if err := s.Set([]byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("k"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("k")); string(v) != "v2" || err != nil {
		t.Errorf("get = %q, %v", v, err)
	}
	if err := s.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("empty")); v == nil || len(v) != 0 || err != nil {
		t.Errorf("get empty value = %#v, %v; want a non-nil empty slice", v, err)
	}
	if _, err := s.GetUint64([]byte("k")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("get uint64 of a 2-byte value: %v", err)
	}
	// Stable keys do not disturb the log's bounds.
	checkBounds(t, s, 0, 0)
	if err := s.StoreLogs(entries(1, 3)); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("k")); string(v) != "v2" || err != nil {
		t.Errorf("get after storing logs = %q, %v", v, err)
	}
}

func TestLogStoreClosed(t *testing.T) {
	s, err := OpenLogStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	var l raft.Log
	_, err1 := s.FirstIndex()
	_, err2 := s.LastIndex()
	_, err3 := s.Get([]byte("k"))
	errs := []error{err1, err2, s.GetLog(1, &l), s.StoreLog(entry(1)), s.DeleteRange(1, 2), s.Set([]byte("k"), nil), err3}
	for i, err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call %d after close: %v", i, err)
		}
	}
	if _, err := OpenLogStore("", nil); err == nil {
		t.Errorf("open without a directory succeeded")
	}
}

// TestLogStoreConcurrent appends, compacts and reads at once, as raft's
// goroutines do, then checks the bounds against a reopened store.
func TestLogStoreConcurrent(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	var appended atomic.Uint64
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	wg.Go(func() {
		for i := uint64(1); i <= n; i += 10 {
			if err := s.StoreLogs(entries(i, i+9)); err != nil {
				errc <- err
				return
			}
			appended.Store(i + 9)
		}
	})
	wg.Go(func() { // compaction keeps the last 100
		for prev := uint64(0); prev < n; {
			last := appended.Load()
			if last == prev || last <= 100 {
				runtime.Gosched()
				continue
			}
			if err := s.DeleteRange(1, last-100); err != nil {
				errc <- err
				return
			}
			prev = last
		}
	})
	for range 2 {
		wg.Go(func() {
			for appended.Load() < n {
				runtime.Gosched()
				last := appended.Load()
				if last < 50 {
					continue
				}
				i := last - uint64(rand.IntN(50))
				var l raft.Log
				err := s.GetLog(i, &l)
				if err == nil && !sameLog(&l, entry(i)) {
					errc <- fmt.Errorf("entry %d = %+v", i, l)
					return
				}
				if err != nil && err != raft.ErrLogNotFound {
					errc <- err
					return
				}
				if f, _ := s.FirstIndex(); err == raft.ErrLogNotFound && i >= f {
					errc <- fmt.Errorf("entry %d not found, first index %d", i, f)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if last != n || first < 1 || first > n-99 {
		t.Fatalf("bounds %d, %d", first, last)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	checkBounds(t, s, first, last)
	checkLogs(t, s, first-1, last, span(first, last))
}

// BenchmarkStoreLogs measures synced appends of 256-byte entries.
func BenchmarkStoreLogs(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openStore(b, b.TempDir())
			data := bytes.Repeat([]byte("x"), 256)
			logs := make([]*raft.Log, batch)
			for i := range logs {
				logs[i] = &raft.Log{Term: 1, Data: data, AppendedAt: time.Now()}
			}
			next := uint64(1)
			b.SetBytes(int64(256 * batch))
			b.ReportAllocs()
			for b.Loop() {
				for _, l := range logs {
					l.Index = next
					next++
				}
				if err := s.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(next-1)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

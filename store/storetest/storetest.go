package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/dfsproject/dfs/store"
)

// Run runs the suite as subtests of t.
func Run(t *testing.T, newBackend func(t *testing.T) store.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b store.Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"Ranges", testRanges},
		{"Empty", testEmpty},
		{"Large", testLarge},
		{"Overwrite", testOverwrite},
		{"Stat", testStat},
		{"Delete", testDelete},
		{"List", testList},
		{"ListError", testListError},
		{"InvalidKeys", testInvalidKeys},
		{"SizeMismatch", testSizeMismatch},
		{"ReaderError", testReaderError},
		{"Concurrent", testConcurrent},
		{"Cancelled", testCancelled},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			t.Cleanup(func() { b.Close() })
			tc.fn(t, b)
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, b store.Backend, key string, data []byte) {
	t.Helper()
	if err := b.Put(ctxT(t), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func get(t *testing.T, b store.Backend, key string, off, length int64) []byte {
	t.Helper()
	rc, err := b.Get(ctxT(t), key, off, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", key, off, length, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): reading: %v", key, off, length, err)
	}
	return data
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func wantMissing(t *testing.T, b store.Backend, key string) {
	t.Helper()
	_, err := b.Stat(ctxT(t), key)
	wantErr(t, fmt.Sprintf("Stat(%q)", key), err, store.ErrNotFound)
	rc, err := b.Get(ctxT(t), key, 0, -1)
	if err == nil {
		rc.Close()
	}
	wantErr(t, fmt.Sprintf("Get(%q)", key), err, store.ErrNotFound)
}

func testRoundTrip(t *testing.T, b store.Backend) {
	keys := []string{"a", "dir/b", "chunks/ab/cd/" + strings.Repeat("ef", 32), "x.y_z-1/A/B/C/d"}
	for i, k := range keys {
		put(t, b, k, randBytes(uint64(i), 1000+i))
	}
	for i, k := range keys {
		if got, want := get(t, b, k, 0, -1), randBytes(uint64(i), 1000+i); !bytes.Equal(got, want) {
			t.Errorf("Get(%q): %d bytes differ from the %d put", k, len(got), len(want))
		}
	}
	wantMissing(t, b, "nothing/here")
	wantMissing(t, b, "dir") // a prefix of a key is not a key
}

func testRanges(t *testing.T, b store.Backend) {
	data := randBytes(7, 10000)
	put(t, b, "r", data)
	n := int64(len(data))
	for _, tc := range []struct{ off, length int64 }{
		{0, -1}, {0, n}, {0, 1}, {1, 1}, {100, 50}, {n - 1, 1}, {n - 1, -1},
		{5000, -1}, {9000, 5000}, {0, n + 100}, {n, -1}, {n, 10}, {n + 5, -1}, {n + 5, 10},
		{0, 0}, {300, 0}, {1 << 40, 1},
	} {
		start := min(tc.off, n)
		end := n
		if tc.length >= 0 {
			end = min(start+tc.length, n)
		}
		if got := get(t, b, "r", tc.off, tc.length); !bytes.Equal(got, data[start:end]) {
			t.Errorf("Get(off %d, length %d): got %d bytes, want bytes %d to %d", tc.off, tc.length, len(got), start, end)
		}
	}
	if rc, err := b.Get(ctxT(t), "r", -1, 10); err == nil {
		rc.Close()
		t.Errorf("Get with negative offset: no error")
	}
	_, err := b.Get(ctxT(t), "missing", 10, 10)
	wantErr(t, "ranged Get of a missing key", err, store.ErrNotFound)
}

func testEmpty(t *testing.T, b store.Backend) {
	put(t, b, "empty", nil)
	info, err := b.Stat(ctxT(t), "empty")
	if err != nil || info.Size != 0 {
		t.Fatalf("Stat(empty) = %+v, %v; want size 0", info, err)
	}
	for _, r := range [][2]int64{{0, -1}, {0, 10}, {5, -1}, {0, 0}} {
		if got := get(t, b, "empty", r[0], r[1]); len(got) != 0 {
			t.Errorf("Get(empty, %d, %d) = %d bytes", r[0], r[1], len(got))
		}
	}
}

func testLarge(t *testing.T, b store.Backend) {
	data := randBytes(8, 8<<20)
	put(t, b, "large/object", data)
	if got := get(t, b, "large/object", 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes differ from the %d put", len(got), len(data))
	}
	off := int64(3<<20 + 12345)
	if got := get(t, b, "large/object", off, 1<<20); !bytes.Equal(got, data[off:off+1<<20]) {
		t.Fatalf("ranged Get in the middle: wrong bytes")
	}
	// Large Puts from a plain (not in-memory) reader, which a backend
	// may have to stream (S3 multipart above 16 MiB).
	for _, n := range []int{8<<20 + 1, 17<<20 + 3} {
		data2 := randBytes(uint64(n), n)
		stream := func() io.Reader { return struct{ io.Reader }{bytes.NewReader(data2)} }
		if err := b.Put(ctxT(t), "large/streamed", stream(), int64(n)); err != nil {
			t.Fatalf("Put of %d bytes from a stream: %v", n, err)
		}
		if got := get(t, b, "large/streamed", 0, -1); !bytes.Equal(got, data2) {
			t.Fatalf("Get after a streamed Put: %d bytes differ from the %d put", len(got), n)
		}
		for _, size := range []int64{int64(n) - 1, int64(n) + 1} {
			err := b.Put(ctxT(t), "large/mismatch", stream(), size)
			wantErr(t, fmt.Sprintf("Put of %d bytes from a stream with size %d", n, size), err, store.ErrShortWrite)
			wantMissing(t, b, "large/mismatch")
		}
	}
}

func testOverwrite(t *testing.T, b store.Backend) {
	put(t, b, "k", []byte("first version, quite long"))
	put(t, b, "k", []byte("second"))
	if got := string(get(t, b, "k", 0, -1)); got != "second" {
		t.Fatalf("after overwrite Get = %q, want %q", got, "second")
	}
	info, err := b.Stat(ctxT(t), "k")
	if err != nil || info.Size != 6 {
		t.Fatalf("Stat after overwrite = %+v, %v; want size 6", info, err)
	}
}

func testStat(t *testing.T, b store.Backend) {
	before := time.Now().Add(-time.Hour)
	put(t, b, "s/t", make([]byte, 1234))
	info, err := b.Stat(ctxT(t), "s/t")
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != "s/t" || info.Size != 1234 {
		t.Errorf("Stat = %+v, want key s/t size 1234", info)
	}
	if info.ModTime.Before(before) || info.ModTime.After(time.Now().Add(time.Hour)) {
		t.Errorf("Stat ModTime %v is not about now", info.ModTime)
	}
	_, err = b.Stat(ctxT(t), "s")
	wantErr(t, "Stat of a key's parent", err, store.ErrNotFound)
	_, err = b.Stat(ctxT(t), "s/t/u")
	wantErr(t, "Stat below a key", err, store.ErrNotFound)
}

func testDelete(t *testing.T, b store.Backend) {
	put(t, b, "d/1", []byte("one"))
	put(t, b, "d/2", []byte("two"))
	if err := b.Delete(ctxT(t), "d/1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMissing(t, b, "d/1")
	if got := string(get(t, b, "d/2", 0, -1)); got != "two" {
		t.Fatalf("Delete removed another key: d/2 = %q", got)
	}
	for _, k := range []string{"d/1", "never/was", "d", "d/2/x"} {
		if err := b.Delete(ctxT(t), k); err != nil {
			t.Errorf("Delete(%q) of a missing key: %v", k, err)
		}
	}
	// A deleted key can be written again.
	put(t, b, "d/1", []byte("again"))
	if got := string(get(t, b, "d/1", 0, -1)); got != "again" {
		t.Fatalf("Get after re-Put = %q", got)
	}
}

func list(t *testing.T, b store.Backend, prefix string) []store.ObjectInfo {
	t.Helper()
	var got []store.ObjectInfo
	err := b.List(ctxT(t), prefix, func(oi store.ObjectInfo) error {
		got = append(got, oi)
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}

func testList(t *testing.T, b store.Backend) {
	// "a-b" and "a.c" sort before "a/..." ('-' and '.' are below '/'):
	// a plain directory walk gets this wrong.
	keys := []string{"a/1", "a/2", "a-b", "a.c", "a/sub/3", "ab", "b/1", "chunks/00/11/x", "chunks/00/12/y", "z"}
	for i, k := range keys {
		put(t, b, k, make([]byte, i))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-b", "a.c", "a/1", "a/2", "a/sub/3", "ab", "b/1", "chunks/00/11/x", "chunks/00/12/y", "z"}},
		{"a", []string{"a-b", "a.c", "a/1", "a/2", "a/sub/3", "ab"}},
		{"a/", []string{"a/1", "a/2", "a/sub/3"}},
		{"a/s", []string{"a/sub/3"}},
		{"a/sub/", []string{"a/sub/3"}},
		{"chunks/00/1", []string{"chunks/00/11/x", "chunks/00/12/y"}},
		{"chunks/00/12/", []string{"chunks/00/12/y"}},
		{"b/1", []string{"b/1"}},
		{"zz", nil},
		{"nothing/", nil},
	} {
		got := list(t, b, tc.prefix)
		var gotKeys []string
		for _, oi := range got {
			gotKeys = append(gotKeys, oi.Key)
		}
		if fmt.Sprint(gotKeys) != fmt.Sprint(tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, gotKeys, tc.want)
		}
	}
	for _, oi := range list(t, b, "") {
		var want int64 = -1
		for i, k := range keys {
			if k == oi.Key {
				want = int64(i)
			}
		}
		if oi.Size != want || oi.ModTime.IsZero() {
			t.Errorf("List entry %+v: want size %d and a ModTime", oi, want)
		}
	}
}

func testListError(t *testing.T, b store.Backend) {
	for _, k := range []string{"l/1", "l/2", "l/3"} {
		put(t, b, k, []byte(k))
	}
	stop := errors.New("stop here")
	calls := 0
	err := b.List(ctxT(t), "l/", func(store.ObjectInfo) error {
		calls++
		return stop
	})
	wantErr(t, "List with fn failing", err, stop)
	if calls != 1 {
		t.Errorf("fn called %d times after failing, want 1", calls)
	}
	// Deleting during a List is allowed.
	err = b.List(ctxT(t), "l/", func(oi store.ObjectInfo) error {
		return b.Delete(ctxT(t), oi.Key)
	})
	if err != nil {
		t.Fatalf("List deleting each key: %v", err)
	}
	if got := list(t, b, "l/"); len(got) != 0 {
		t.Fatalf("after deleting all, List = %v", got)
	}
}

// InvalidKeys are refused by every backend.
var InvalidKeys = []string{
	"", "/abs", "../x", "a/../../x", "..", ".", "a//b", "a/./b", "a/", "/", "a/..",
	"sp ace", "back\\slash", "nul\x00", "new\nline", "ünï", "a?b", "a#b", "a%2Fb", "~x", "a:b",
	strings.Repeat("k", 1025),
}

func testInvalidKeys(t *testing.T, b store.Backend) {
	ctx := ctxT(t)
	for _, k := range InvalidKeys {
		_, err := b.Get(ctx, k, 0, -1)
		wantErr(t, fmt.Sprintf("Get(%q)", k), err, store.ErrInvalidKey)
		err = b.Put(ctx, k, strings.NewReader("x"), 1)
		wantErr(t, fmt.Sprintf("Put(%q)", k), err, store.ErrInvalidKey)
		_, err = b.Stat(ctx, k)
		wantErr(t, fmt.Sprintf("Stat(%q)", k), err, store.ErrInvalidKey)
		err = b.Delete(ctx, k)
		wantErr(t, fmt.Sprintf("Delete(%q)", k), err, store.ErrInvalidKey)
	}
	for _, p := range []string{"/abs", "../", "../x", "a//", "a/./", "a/../b", "sp ace", "/"} {
		err := b.List(ctx, p, func(store.ObjectInfo) error { return nil })
		wantErr(t, fmt.Sprintf("List(%q)", p), err, store.ErrInvalidKey)
	}
	if got := list(t, b, ""); len(got) != 0 {
		t.Fatalf("invalid keys stored objects: %v", got)
	}
	// A long key is valid (900 bytes: a backend may add a prefix, and S3
	// names stop at 1024), in segments short enough for any file system.
	long := strings.Repeat(strings.Repeat("k", 199)+"/", 4) + strings.Repeat("k", 100)
	put(t, b, long, []byte("long"))
	if got := string(get(t, b, long, 0, -1)); got != "long" {
		t.Fatalf("1024-byte key: Get = %q", got)
	}
}

func testSizeMismatch(t *testing.T, b store.Backend) {
	ctx := ctxT(t)
	for _, tc := range []struct {
		name string
		data []byte
		size int64
	}{
		{"short", []byte("12345"), 10},
		{"long", []byte("1234567890"), 5},
		{"empty reader", nil, 3},
		{"one extra", []byte("123"), 2},
		{"short large", make([]byte, 1<<20), 1<<20 + 1},
		{"long large", make([]byte, 1<<20+1), 1 << 20},
	} {
		for _, wrap := range []struct {
			name string
			r    func([]byte) io.Reader
		}{
			{"bytes.Reader", func(p []byte) io.Reader { return bytes.NewReader(p) }},
			{"stream", func(p []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(p)} }},
			{"one byte at a time", func(p []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(p)) }},
		} {
			if len(tc.data) > 1000 && wrap.name == "one byte at a time" {
				continue
			}
			what := fmt.Sprintf("Put %s (%d bytes, size %d) from %s", tc.name, len(tc.data), tc.size, wrap.name)
			err := b.Put(ctx, "new", wrap.r(tc.data), tc.size)
			wantErr(t, what, err, store.ErrShortWrite)
			wantMissing(t, b, "new")
			put(t, b, "old", []byte("old value"))
			err = b.Put(ctx, "old", wrap.r(tc.data), tc.size)
			wantErr(t, what+" over an object", err, store.ErrShortWrite)
			if got := string(get(t, b, "old", 0, -1)); got != "old value" {
				t.Fatalf("%s replaced the object: %q", what, got)
			}
		}
	}
	if err := b.Put(ctx, "neg", strings.NewReader(""), -1); err == nil {
		t.Errorf("Put with size -1: no error")
	}
	wantMissing(t, b, "neg")
}

func testReaderError(t *testing.T, b store.Backend) {
	boom := errors.New("reader broke")
	for _, size := range []int64{10, 1 << 20, 20 << 20} {
		r := io.MultiReader(bytes.NewReader(make([]byte, size/2)), iotest.ErrReader(boom))
		err := b.Put(ctxT(t), "broken", r, size)
		if err == nil {
			t.Fatalf("Put of %d bytes from a failing reader: no error", size)
		}
		wantMissing(t, b, "broken")
	}
}

// testConcurrent checks that concurrent readers of a key being overwritten
// always see one whole version.
func testConcurrent(t *testing.T, b store.Backend) {
	const versions = 8
	version := func(v int) []byte {
		return bytes.Repeat([]byte{byte('a' + v)}, 64<<10+v*4096)
	}
	put(t, b, "c/key", version(0))
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 4 {
		wg.Go(func() {
			for i := range 6 {
				v := (w*6 + i) % versions
				data := version(v)
				if err := b.Put(ctx, "c/key", bytes.NewReader(data), int64(len(data))); err != nil {
					errs <- fmt.Errorf("put version %d: %w", v, err)
					return
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 12 {
				rc, err := b.Get(ctx, "c/key", 0, -1)
				if err != nil {
					errs <- fmt.Errorf("get: %w", err)
					return
				}
				data, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					errs <- fmt.Errorf("get: reading: %w", err)
					return
				}
				if len(data) == 0 {
					errs <- errors.New("get returned no bytes")
					return
				}
				v := int(data[0] - 'a')
				if v < 0 || v >= versions || !bytes.Equal(data, version(v)) {
					errs <- fmt.Errorf("get returned %d bytes that are no version written", len(data))
					return
				}
			}
		})
	}
	// Distinct keys at once, too.
	for w := range 4 {
		wg.Go(func() {
			k := fmt.Sprintf("c/own/%d", w)
			data := randBytes(uint64(w), 100<<10)
			if err := b.Put(ctx, k, bytes.NewReader(data), int64(len(data))); err != nil {
				errs <- fmt.Errorf("Put(%s): %w", k, err)
				return
			}
			rc, err := b.Get(ctx, k, 0, -1)
			if err != nil {
				errs <- fmt.Errorf("Get(%s): %w", k, err)
				return
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				errs <- fmt.Errorf("Get(%s): %d bytes, err %v", k, len(got), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testCancelled(t *testing.T, b store.Backend) {
	put(t, b, "x", []byte("x"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.Put(ctx, "y", strings.NewReader("y"), 1)
	wantErr(t, "Put with a cancelled ctx", err, context.Canceled)
	wantMissing(t, b, "y")
	_, err = b.Get(ctx, "x", 0, -1)
	wantErr(t, "Get with a cancelled ctx", err, context.Canceled)
	_, err = b.Stat(ctx, "x")
	wantErr(t, "Stat with a cancelled ctx", err, context.Canceled)
	err = b.List(ctx, "", func(store.ObjectInfo) error { return nil })
	wantErr(t, "List with a cancelled ctx", err, context.Canceled)
	err = b.Delete(ctx, "x")
	wantErr(t, "Delete with a cancelled ctx", err, context.Canceled)
	if got := string(get(t, b, "x", 0, -1)); got != "x" {
		t.Fatalf("Delete with a cancelled ctx deleted: %q", got)
	}

	// Cancelled during a Put: the reader blocks until ctx ends.
	ctx, cancel = context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- b.Put(ctx, "z", pr, 1<<20) }()
	pw.Write(make([]byte, 1000))
	cancel()
	pw.CloseWithError(context.Canceled) // readers may not watch ctx; end the stream too
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("Put cancelled midway: no error")
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Put cancelled midway did not return")
	}
	wantMissing(t, b, "z")

	// Cancelled in the middle of a List.
	for i := range 5 {
		put(t, b, fmt.Sprintf("list/%d", i), nil)
	}
	ctx, cancel = context.WithCancel(context.Background())
	calls := 0
	err = b.List(ctx, "list/", func(store.ObjectInfo) error {
		calls++
		cancel()
		return nil
	})
	wantErr(t, "List cancelled midway", err, context.Canceled)
	if calls != 1 {
		t.Errorf("List went on for %d calls after cancel", calls)
	}
}

func testClosed(t *testing.T, b store.Backend) {
	put(t, b, "x", []byte("x"))
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := ctxT(t)
	_, err := b.Get(ctx, "x", 0, -1)
	wantErr(t, "Get after Close", err, store.ErrClosed)
	err = b.Put(ctx, "y", strings.NewReader("y"), 1)
	wantErr(t, "Put after Close", err, store.ErrClosed)
	_, err = b.Stat(ctx, "x")
	wantErr(t, "Stat after Close", err, store.ErrClosed)
	err = b.Delete(ctx, "x")
	wantErr(t, "Delete after Close", err, store.ErrClosed)
	err = b.List(ctx, "", func(store.ObjectInfo) error { return nil })
	wantErr(t, "List after Close", err, store.ErrClosed)
	b.Close() // a second Close must not panic
}

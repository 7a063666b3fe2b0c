package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
	"github.com/dfsproject/dfs/store/s3test"
)

func chunk(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*131 + j*7 + j/251)
	}
	return b
}

func newChunkStore(t *testing.T, cfg store.ChunkStoreConfig) *store.ChunkStore {
	t.Helper()
	cs, err := store.NewChunkStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func memConfig(b store.Backend) store.ChunkStoreConfig {
	cfg := store.DefaultChunkStoreConfig()
	cfg.Backend = b
	return cfg
}

func TestChunkStoreConfigValidate(t *testing.T) {
	mem := store.NewMemory()
	for _, tc := range []struct {
		name string
		cfg  store.ChunkStoreConfig
		ok   bool
	}{
		{"default", memConfig(mem), true},
		{"no backend", store.DefaultChunkStoreConfig(), false},
		{"no caches", store.ChunkStoreConfig{Backend: mem}, true},
		{"negative mem", store.ChunkStoreConfig{Backend: mem, MemCacheBytes: -1}, false},
		{"negative disk", store.ChunkStoreConfig{Backend: mem, CacheBytes: -1}, false},
		{"dir without size", store.ChunkStoreConfig{Backend: mem, CacheDir: "/x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tc.ok)
			}
			if _, err := store.NewChunkStore(tc.cfg); (err == nil) != tc.ok {
				t.Fatalf("NewChunkStore = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestChunkStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory()
	cs := newChunkStore(t, memConfig(mem))
	data := chunk(1, 5000)
	id, err := cs.Put(ctx, data)
	if err != nil || id != store.Sum(data) {
		t.Fatalf("Put = %s, %v; want %s", id, err, store.Sum(data))
	}
	if _, err := mem.Stat(ctx, id.Key()); err != nil {
		t.Fatalf("chunk not in the backend under its key: %v", err)
	}
	// Put does not keep the caller's slice.
	data[0] ^= 0xff
	got, err := cs.Get(ctx, id)
	if err != nil || !bytes.Equal(got, chunk(1, 5000)) {
		t.Fatalf("Get after the caller changed its slice: %v", err)
	}
	if ok, err := cs.Has(ctx, id); !ok || err != nil {
		t.Fatalf("Has = %v, %v", ok, err)
	}
	if err := cs.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ok, err := cs.Has(ctx, id); ok || err != nil {
		t.Fatalf("Has after Delete = %v, %v", ok, err)
	}
	if _, err := cs.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound (caches dropped)", err)
	}
	if err := cs.Delete(ctx, id); err != nil {
		t.Fatalf("Delete of a missing chunk: %v", err)
	}
	// The empty chunk is a chunk like any other.
	id, err = cs.Put(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cs.Get(ctx, id); err != nil || len(got) != 0 {
		t.Fatalf("empty chunk: %d bytes, %v", len(got), err)
	}
	if _, err := cs.Put(ctx, make([]byte, store.MaxChunkSize+1)); err == nil {
		t.Fatal("Put beyond MaxChunkSize: no error")
	}
}

func TestChunkStoreDedup(t *testing.T) {
	ctx := context.Background()
	es := errstore.New(store.NewMemory())
	cs := newChunkStore(t, memConfig(es))
	data := chunk(2, 10000)
	id1, err := cs.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := cs.Put(ctx, bytes.Clone(data))
	if err != nil || id2 != id1 {
		t.Fatalf("second Put = %s, %v", id2, err)
	}
	if n := es.Calls(errstore.OpPut); n != 1 {
		t.Fatalf("identical chunk uploaded %d times, want once", n)
	}
	// Another chunk store (another node, no shared cache) dedups too.
	cs2 := newChunkStore(t, memConfig(es))
	if _, err := cs2.Put(ctx, data); err != nil {
		t.Fatal(err)
	}
	if n := es.Calls(errstore.OpPut); n != 1 {
		t.Fatalf("identical chunk uploaded %d times by two stores, want once", n)
	}
	if st := cs.Stats(); st.Uploads != 1 || st.Dedups != 1 {
		t.Fatalf("Stats = %+v", st)
	}
	// An object of the wrong size under the key is replaced.
	es.Unwrap().Put(ctx, id1.Key(), strings.NewReader("short"), 5)
	if _, err := cs2.Put(ctx, data); err != nil {
		t.Fatal(err)
	}
	if n := es.Calls(errstore.OpPut); n != 2 {
		t.Fatalf("a truncated object was not replaced (%d puts)", n)
	}
	// A failing Stat does not stop the Put.
	es.FailNext(errstore.OpStat, syscall.EIO, 1)
	if _, err := cs.Put(ctx, chunk(3, 100)); err != nil {
		t.Fatalf("Put with a failing Stat: %v", err)
	}
}

func TestChunkStoreBackendErrors(t *testing.T) {
	ctx := context.Background()
	es := errstore.New(store.NewMemory())
	cs := newChunkStore(t, store.ChunkStoreConfig{Backend: es}) // no cache
	es.FailNext(errstore.OpPut, store.ErrNoSpace, 1)
	if _, err := cs.Put(ctx, chunk(4, 100)); !errors.Is(err, store.ErrNoSpace) {
		t.Fatalf("Put on a full backend = %v, want ErrNoSpace", err)
	}
	id, err := cs.Put(ctx, chunk(4, 100))
	if err != nil {
		t.Fatal(err)
	}
	es.FailNext(errstore.OpGet, syscall.EIO, 1)
	if _, err := cs.Get(ctx, id); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Get with EIO = %v", err)
	}
	if got, err := cs.Get(ctx, id); err != nil || !bytes.Equal(got, chunk(4, 100)) {
		t.Fatalf("Get after the error passed (errors are not cached): %v", err)
	}
	es.FailNext(errstore.OpStat, store.ErrUnreachable, 1)
	if _, err := cs.Has(ctx, id); !errors.Is(err, store.ErrUnreachable) {
		t.Fatalf("Has with the backend down = %v", err)
	}
}

// logBuffer collects logs for tests, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestChunkStoreCorruptBackend(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory()
	var logs logBuffer
	cfg := store.ChunkStoreConfig{Backend: mem, MemCacheBytes: 1 << 20, CacheDir: t.TempDir(), CacheBytes: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	cs := newChunkStore(t, cfg)
	data := chunk(5, 4096)
	id := store.Sum(data)
	for _, tc := range []struct {
		name string
		bad  []byte
	}{
		{"flipped bit", func() []byte { b := bytes.Clone(data); b[100] ^= 1; return b }()},
		{"truncated", data[:4000]},
		{"longer", append(bytes.Clone(data), 0)},
		{"empty", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem.Put(ctx, id.Key(), bytes.NewReader(tc.bad), int64(len(tc.bad)))
			got, err := cs.Get(ctx, id)
			if !errors.Is(err, store.ErrCorrupt) || got != nil {
				t.Fatalf("Get of a corrupt chunk = %d bytes, %v; want ErrCorrupt", len(got), err)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), id.String()) {
				t.Fatalf("corruption not logged at Error level with the chunk id:\n%s", logs.String())
			}
		})
	}
	if st := cs.Stats(); st.Corrupt != 4 || st.MemChunks != 0 || st.DiskChunks != 0 {
		t.Fatalf("corrupt bytes were cached or not counted: %+v", st)
	}
	// Repaired: the good bytes come back.
	mem.Put(ctx, id.Key(), bytes.NewReader(data), int64(len(data)))
	if got, err := cs.Get(ctx, id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after repair: %v", err)
	}
}

func cacheFiles(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	files := map[string]int64{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			files[d.Name()] = fi.Size()
		}
		return nil
	})
	return files
}

func TestChunkStoreDiskCache(t *testing.T) {
	ctx := context.Background()
	es := errstore.New(store.NewMemory())
	dir := filepath.Join(t.TempDir(), "cache")
	cfg := store.ChunkStoreConfig{Backend: es, CacheDir: dir, CacheBytes: 1 << 20} // no memory cache
	writer := newChunkStore(t, store.ChunkStoreConfig{Backend: es})
	var ids []store.ChunkID
	for i := range 3 {
		id, err := writer.Put(ctx, chunk(10+i, 1000))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	cs := newChunkStore(t, cfg)
	for _, id := range ids {
		if _, err := cs.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if len(cacheFiles(t, dir)) != 3 {
		t.Fatalf("disk cache holds %v, want 3 chunks", cacheFiles(t, dir))
	}
	es.Reset()
	for _, id := range ids {
		if _, err := cs.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := es.Calls(errstore.OpGet); n != 0 {
		t.Fatalf("%d backend Gets for cached chunks", n)
	}
	cs.Close()

	// Reopened: the cache is rebuilt from the directory.
	cs = newChunkStore(t, cfg)
	if st := cs.Stats(); st.DiskChunks != 3 || st.DiskBytes != 3000 {
		t.Fatalf("reopened cache: %+v", st)
	}
	// A corrupt cache file is deleted and the chunk refetched.
	p := filepath.Join(dir, ids[0].String()[:2], ids[0].String())
	if err := os.WriteFile(p, chunk(99, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := cs.Get(ctx, ids[0])
	if err != nil || !bytes.Equal(got, chunk(10, 1000)) {
		t.Fatalf("Get with a corrupt cache file: %v", err)
	}
	if n := es.Calls(errstore.OpGet); n != 1 {
		t.Fatalf("corrupt cache file: %d backend Gets, want 1 (refetch)", n)
	}
	if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, chunk(10, 1000)) {
		t.Fatalf("cache file not rewritten with good bytes: %v", err)
	}
	// A cache file that vanished is a miss, not an error.
	os.Remove(filepath.Join(dir, ids[1].String()[:2], ids[1].String()))
	if _, err := cs.Get(ctx, ids[1]); err != nil {
		t.Fatalf("Get with a vanished cache file: %v", err)
	}
	// Delete drops the cache file.
	if err := cs.Delete(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if _, ok := cacheFiles(t, dir)[ids[2].String()]; ok {
		t.Fatal("Delete left the cache file")
	}
	cs.Close()

	// Leftover temporary files and foreign files: the first removed, the
	// others ignored.
	os.WriteFile(filepath.Join(dir, ".tmp", "chunk-123"), []byte("partial"), 0o600)
	os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o600)
	cs = newChunkStore(t, cfg)
	if _, err := os.Stat(filepath.Join(dir, ".tmp", "chunk-123")); !os.IsNotExist(err) {
		t.Fatal("leftover temporary file kept")
	}
	if st := cs.Stats(); st.DiskChunks != 2 {
		t.Fatalf("reopened cache: %+v", st)
	}
}

func TestChunkStoreDiskCacheLRU(t *testing.T) {
	ctx := context.Background()
	es := errstore.New(store.NewMemory())
	dir := t.TempDir()
	writer := newChunkStore(t, store.ChunkStoreConfig{Backend: es})
	var ids []store.ChunkID
	for i := range 6 {
		id, _ := writer.Put(ctx, chunk(20+i, 1000))
		ids = append(ids, id)
	}
	cs := newChunkStore(t, store.ChunkStoreConfig{Backend: es, CacheDir: dir, CacheBytes: 3000})
	for _, i := range []int{0, 1, 2, 0, 3} { // 1 is least recently used when 3 comes
		if _, err := cs.Get(ctx, ids[i]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // distinct modification times, for the rebuild below
	}
	files := cacheFiles(t, dir)
	if len(files) != 3 {
		t.Fatalf("cache holds %d files, want 3", len(files))
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := files[ids[i].String()]; !ok {
			t.Fatalf("chunk %d evicted; want 1 evicted (least recently used)", i)
		}
	}
	cs.Close()
	// Reopened with a smaller bound: the oldest go first.
	cs = newChunkStore(t, store.ChunkStoreConfig{Backend: es, CacheDir: dir, CacheBytes: 2000})
	files = cacheFiles(t, dir)
	if st := cs.Stats(); len(files) != 2 || st.DiskBytes != 2000 {
		t.Fatalf("after reopening smaller: %d files, %+v", len(files), st)
	}
	for _, i := range []int{0, 3} {
		if _, ok := files[ids[i].String()]; !ok {
			t.Fatalf("chunk %d evicted on reopening; want 2 evicted", i)
		}
	}
	// A chunk larger than the whole cache is not cached.
	big, _ := writer.Put(ctx, chunk(30, 5000))
	if _, err := cs.Get(ctx, big); err != nil {
		t.Fatal(err)
	}
	if _, ok := cacheFiles(t, dir)[big.String()]; ok {
		t.Fatal("a chunk larger than the cache was cached")
	}
}

func TestChunkStoreMemCacheLRU(t *testing.T) {
	ctx := context.Background()
	es := errstore.New(store.NewMemory())
	writer := newChunkStore(t, store.ChunkStoreConfig{Backend: es})
	var ids []store.ChunkID
	for i := range 4 {
		id, _ := writer.Put(ctx, chunk(40+i, 1000))
		ids = append(ids, id)
	}
	cs := newChunkStore(t, store.ChunkStoreConfig{Backend: es, MemCacheBytes: 2500})
	get := func(i int) {
		t.Helper()
		got, err := cs.Get(ctx, ids[i])
		if err != nil || !bytes.Equal(got, chunk(40+i, 1000)) {
			t.Fatalf("Get %d: %v", i, err)
		}
	}
	es.Reset()
	get(0)
	get(1)
	get(0) // hit; 1 is now least recently used
	get(2) // evicts 1
	if st := cs.Stats(); st.MemChunks != 2 || st.MemBytes != 2000 || st.MemHits != 1 {
		t.Fatalf("Stats = %+v", st)
	}
	if n := es.Calls(errstore.OpGet); n != 3 {
		t.Fatalf("%d backend Gets, want 3", n)
	}
	get(0) // still cached
	get(1) // evicted: fetched again
	if n := es.Calls(errstore.OpGet); n != 4 {
		t.Fatalf("%d backend Gets, want 4", n)
	}
	// Put does not fill the read cache (a big write would evict what
	// readers use): the first Get after a Put goes to the backend.
	id, _ := cs.Put(ctx, chunk(50, 1000))
	es.Reset()
	if _, err := cs.Get(ctx, id); err != nil || es.Calls(errstore.OpGet) != 1 {
		t.Fatalf("Get after Put: %v, %d backend Gets, want 1", err, es.Calls(errstore.OpGet))
	}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// gate is a Backend whose Gets wait until the gate opens.
type gate struct {
	store.Backend
	open    chan struct{}
	mu      sync.Mutex
	gets    int
	started chan struct{} // gets a value when a Get starts waiting
}

func newGate(b store.Backend) *gate {
	return &gate{Backend: b, open: make(chan struct{}), started: make(chan struct{}, 100)}
}

func (g *gate) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	g.mu.Lock()
	g.gets++
	g.mu.Unlock()
	g.started <- struct{}{}
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Backend.Get(ctx, key, off, length)
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gets
}

func TestChunkStoreCoalescesGets(t *testing.T) {
	ctx := context.Background()
	g := newGate(store.NewMemory())
	cs := newChunkStore(t, store.ChunkStoreConfig{Backend: g})
	id, err := cs.Put(ctx, chunk(60, 3000))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			got, err := cs.Get(ctx, id)
			if err == nil && !bytes.Equal(got, chunk(60, 3000)) {
				err = errors.New("wrong bytes")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	waitFor(t, "20 waiting Gets", func() bool { return store.FetchWaiters(cs, id) == 20 })
	// One caller giving up does not fail the others.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { _, err := cs.Get(cctx, id); done <- err }()
	waitFor(t, "21 waiting Gets", func() bool { return store.FetchWaiters(cs, id) == 21 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Get = %v", err)
	}
	if n := store.FetchWaiters(cs, id); n != 20 {
		t.Fatalf("%d waiters after one gave up, want 20", n)
	}
	close(g.open)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := g.count(); n != 1 {
		t.Fatalf("20 concurrent Gets made %d backend Gets, want 1", n)
	}
}

func TestChunkStoreAllWaitersGiveUp(t *testing.T) {
	ctx := context.Background()
	g := newGate(store.NewMemory())
	cs := newChunkStore(t, store.ChunkStoreConfig{Backend: g})
	id, _ := cs.Put(ctx, chunk(61, 100))
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { _, err := cs.Get(cctx, id); done <- err }()
	<-g.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Get = %v", err)
	}
	// The abandoned load was cancelled; a new Get starts a new one.
	close(g.open)
	if got, err := cs.Get(ctx, id); err != nil || !bytes.Equal(got, chunk(61, 100)) {
		t.Fatalf("Get after an abandoned one: %v", err)
	}
	if n := g.count(); n != 2 {
		t.Fatalf("%d backend Gets, want 2", n)
	}
}

func TestChunkStoreClose(t *testing.T) {
	ctx := context.Background()
	g := newGate(store.NewMemory())
	cs, err := store.NewChunkStore(store.ChunkStoreConfig{Backend: g})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := cs.Put(ctx, chunk(62, 100))
	done := make(chan error)
	go func() { _, err := cs.Get(ctx, id); done <- err }()
	<-g.started
	cs.Close() // cancels the load in flight and waits for it
	if err := <-done; !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get cut by Close = %v, want ErrClosed", err)
	}
	if _, err := cs.Get(ctx, id); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Get after Close = %v", err)
	}
	if _, err := cs.Put(ctx, []byte("x")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
	if _, err := cs.Has(ctx, id); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Has after Close = %v", err)
	}
	if err := cs.Delete(ctx, id); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Delete after Close = %v", err)
	}
	if err := cs.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The backend is not closed: it belongs to the caller.
	if _, err := g.Stat(ctx, id.Key()); err != nil {
		t.Fatalf("backend closed by ChunkStore.Close: %v", err)
	}
}

func TestChunkStoreSpace(t *testing.T) {
	ctx := context.Background()
	mem := store.NewMemory()
	mem.SetCapacity(1 << 20)
	cs := newChunkStore(t, store.ChunkStoreConfig{Backend: mem})
	cs.Put(ctx, chunk(70, 1000))
	if sp, err := cs.Space(ctx); err != nil || sp.Total != 1<<20 || sp.Free != 1<<20-1000 {
		t.Fatalf("Space = %+v, %v", sp, err)
	}
	// A backend that cannot tell reports zero.
	cs2 := newChunkStore(t, store.ChunkStoreConfig{Backend: struct{ store.Backend }{mem}})
	if sp, err := cs2.Space(ctx); err != nil || sp != (store.Space{}) {
		t.Fatalf("Space without a SpaceReporter = %+v, %v", sp, err)
	}
	// A full backend gives ErrNoSpace.
	if _, err := cs.Put(ctx, make([]byte, 2<<20)); !errors.Is(err, store.ErrNoSpace) {
		t.Fatalf("Put on a full backend = %v", err)
	}
}

// TestChunkStoreConcurrent is for the race detector: many goroutines
// putting, getting and deleting overlapping chunks through both caches.
func TestChunkStoreConcurrent(t *testing.T) {
	ctx := context.Background()
	cs := newChunkStore(t, store.ChunkStoreConfig{Backend: store.NewMemory(), MemCacheBytes: 20000,
		CacheDir: t.TempDir(), CacheBytes: 30000})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				c := (w + i) % 12
				data := chunk(c, 3000+c)
				id, err := cs.Put(ctx, data)
				if err != nil {
					errs <- err
					return
				}
				got, err := cs.Get(ctx, id)
				if err != nil && !errors.Is(err, store.ErrNotFound) { // another goroutine may delete it
					errs <- err
					return
				}
				if err == nil && !bytes.Equal(got, data) {
					errs <- fmt.Errorf("chunk %d: wrong bytes", c)
					return
				}
				if i%7 == 0 {
					cs.Delete(ctx, id)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := cs.Stats(); st.MemBytes > 20000 || st.DiskBytes > 30000 {
		t.Fatalf("caches beyond their bounds: %+v", st)
	}
}

func TestChunkStoreOnS3WithDiskCache(t *testing.T) {
	cfg := s3test.Config(t)
	ctx := context.Background()
	b := newS3(t, cfg)
	cs := newChunkStore(t, store.ChunkStoreConfig{Backend: b, MemCacheBytes: 1 << 20, CacheDir: t.TempDir(), CacheBytes: 1 << 20})
	data := chunk(80, 100000)
	id, err := cs.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	cs2 := newChunkStore(t, store.ChunkStoreConfig{Backend: b, CacheDir: t.TempDir(), CacheBytes: 1 << 20})
	if got, err := cs2.Get(ctx, id); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get from S3: %v", err)
	}
	// Corrupt it in the bucket: a store without the chunk cached refuses it.
	bad := bytes.Clone(data)
	bad[5] ^= 0x80
	b.Put(ctx, id.Key(), bytes.NewReader(bad), int64(len(bad)))
	cs3 := newChunkStore(t, store.ChunkStoreConfig{Backend: b})
	if _, err := cs3.Get(ctx, id); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Get of a corrupt S3 object = %v", err)
	}
	if ok, err := cs3.Has(ctx, id); !ok || err != nil {
		t.Fatalf("Has = %v, %v", ok, err)
	}
}

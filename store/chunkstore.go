package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
)

// MaxChunkSize is the largest chunk the chunk store accepts or reads.
const MaxChunkSize = 64 << 20

// ChunkStoreConfig configures a ChunkStore.
type ChunkStoreConfig struct {
	// Backend holds the chunks. The ChunkStore does not close it.
	Backend Backend
	// MemCacheBytes bounds the in-memory LRU of chunks; 0 disables it.
	MemCacheBytes int64
	// CacheDir, when set, holds an on-disk LRU of chunks bounded by
	// CacheBytes. Leave it empty for a dir backend: it is local already.
	CacheDir   string
	CacheBytes int64
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
	// AlwaysPut skips the Stat by which Put spares uploading a chunk the
	// backend holds already. Set it for backends where one answer to Stat
	// does not prove the chunk is stored as wanted: a replicated backend
	// whose Stat finds one copy of R (its Put checks each replica).
	AlwaysPut bool
}

// DefaultChunkStoreConfig returns a config with a 64 MiB memory cache and no
// disk cache (CacheBytes is 1 GiB, used once CacheDir is set). Backend must
// be set.
func DefaultChunkStoreConfig() ChunkStoreConfig {
	return ChunkStoreConfig{MemCacheBytes: 64 << 20, CacheBytes: 1 << 30}
}

// Validate checks the config.
func (c ChunkStoreConfig) Validate() error {
	switch {
	case c.Backend == nil:
		return errors.New("chunk store: no backend given")
	case c.MemCacheBytes < 0:
		return fmt.Errorf("chunk store: memory cache size %d must not be negative (0 disables it)", c.MemCacheBytes)
	case c.CacheBytes < 0:
		return fmt.Errorf("chunk store: disk cache size %d must not be negative", c.CacheBytes)
	case c.CacheDir != "" && c.CacheBytes == 0:
		return fmt.Errorf("chunk store: disk cache %s needs a size above 0 (or no cache directory)", c.CacheDir)
	}
	return nil
}

// ChunkStoreStats counts what a ChunkStore did since it was made.
type ChunkStoreStats struct {
	MemHits, DiskHits, BackendGets int64 // where Get found chunks
	Uploads, Dedups                int64 // Puts that uploaded, and that found the chunk stored already
	Corrupt                        int64 // chunks that failed verification (backend or disk cache)
	MemChunks, DiskChunks          int   // chunks cached now
	MemBytes, DiskBytes            int64 // bytes cached now
}

// ChunkStore keeps content-addressed chunks in a Backend, under ChunkID.Key,
// with a memory and an optional disk cache in front. Every byte it returns
// has been verified against the chunk's ID. It is safe for concurrent use.
type ChunkStore struct {
	b    Backend
	log  *slog.Logger
	mem  *memCache  // nil: disabled
	disk *diskCache // nil: disabled

	alwaysPut bool

	mu     sync.Mutex
	calls  map[ChunkID]*fetch // in-flight loads, for coalescing
	closed bool
	wg     sync.WaitGroup

	memHits, diskHits, backendGets, uploads, dedups, corrupt atomic.Int64
}

// fetch is one load of a chunk shared by every Get waiting for it.
type fetch struct {
	done    chan struct{}
	data    []byte
	err     error
	waiters int // guarded by ChunkStore.mu
	cancel  context.CancelFunc
}

// NewChunkStore opens a chunk store (and its disk cache) on cfg.Backend.
func NewChunkStore(cfg ChunkStoreConfig) (*ChunkStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &ChunkStore{
		b:         cfg.Backend,
		log:       discardIfNil(cfg.Logger).With("component", "chunkstore"),
		calls:     make(map[ChunkID]*fetch),
		alwaysPut: cfg.AlwaysPut,
	}
	if cfg.MemCacheBytes > 0 {
		s.mem = newMemCache(cfg.MemCacheBytes)
	}
	if cfg.CacheDir != "" {
		d, err := openDiskCache(cfg.CacheDir, cfg.CacheBytes, s.log)
		if err != nil {
			return nil, fmt.Errorf("chunk store: %w", err)
		}
		s.disk = d
	}
	return s, nil
}

// Backend returns the backend the chunks are in.
func (s *ChunkStore) Backend() Backend { return s.b }

func (s *ChunkStore) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// readChunk reads a whole chunk object, at most MaxChunkSize+1 bytes (one
// more than a chunk may hold, so an oversized object is noticed). A reader
// that knows its size (the directory backend's) is read into a buffer of
// exactly that size: io.ReadAll would grow one by doubling and leave about
// twice the chunk in garbage on every read.
func readChunk(r io.Reader) ([]byte, error) {
	if sz, ok := r.(interface{ Size() int64 }); ok {
		if n := sz.Size(); n >= 0 && n <= MaxChunkSize {
			buf := make([]byte, n+1) // +1: a longer object shows as n+1 bytes
			got, err := io.ReadFull(r, buf)
			switch err {
			case io.ErrUnexpectedEOF, io.EOF:
				return buf[:got], nil // shorter than announced: Verify decides
			case nil:
				return buf, nil // longer than announced: Verify fails it
			}
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(r, MaxChunkSize+1))
}

// Put stores data as a chunk and returns its ID. A chunk the backend holds
// already (same key, same size) is not uploaded again. data is not retained:
// the caller may reuse it once Put returns. Written chunks are not put in
// the read cache: a writer rarely reads back what it just wrote, and a large
// sequential write would only evict what readers use.
func (s *ChunkStore) Put(ctx context.Context, data []byte) (ChunkID, error) {
	id := Sum(data)
	return id, s.PutID(ctx, id, data)
}

// PutID is Put for a caller that has hashed data already: id must be
// Sum(data). (A wrong id stores bytes that every read then refuses as
// corrupt, so the mistake loses availability, never integrity.)
func (s *ChunkStore) PutID(ctx context.Context, id ChunkID, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put chunk %s: %w", id, err)
	}
	if s.isClosed() {
		return fmt.Errorf("put chunk %s: %w", id, ErrClosed)
	}
	if len(data) > MaxChunkSize {
		return fmt.Errorf("put chunk %s: %d bytes is more than the %d a chunk may hold", id, len(data), MaxChunkSize)
	}
	key := id.Key()
	if !s.alwaysPut {
		if info, err := s.b.Stat(ctx, key); err == nil && info.Size == int64(len(data)) {
			s.dedups.Add(1)
			return nil
		}
		// A Stat error other than ErrNotFound may be passing: let the Put
		// decide.
	}
	if err := s.b.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return fmt.Errorf("put chunk %s: %w", id, err)
	}
	s.uploads.Add(1)
	return nil
}

// Get returns the bytes of chunk id, verified against id: from memory, the
// disk cache, or the backend. Bytes that do not match id are never returned:
// Get fails with an error wrapping ErrCorrupt (and logs it). A missing chunk
// gives ErrNotFound. Concurrent Gets of one chunk share a single load.
//
// The returned slice is shared with the cache and other callers: it must not
// be modified.
func (s *ChunkStore) Get(ctx context.Context, id ChunkID) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get chunk %s: %w", id, err)
	}
	if s.mem != nil {
		if data, ok := s.mem.get(id); ok {
			s.memHits.Add(1)
			return data, nil
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("get chunk %s: %w", id, ErrClosed)
	}
	f, ok := s.calls[id]
	if !ok {
		// The load runs on its own context so that one caller giving up
		// does not fail the others; it is cancelled when all gave up.
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &fetch{done: make(chan struct{}), cancel: cancel}
		s.calls[id] = f
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			f.data, f.err = s.load(lctx, id)
			cancel()
			s.mu.Lock()
			if s.calls[id] == f {
				delete(s.calls, id)
			}
			s.mu.Unlock()
			close(f.done)
		}()
	}
	f.waiters++
	s.mu.Unlock()

	select {
	case <-f.done:
		return f.data, f.err
	case <-ctx.Done():
		s.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel()
			if s.calls[id] == f {
				delete(s.calls, id) // a later Get starts afresh
			}
		}
		s.mu.Unlock()
		return nil, fmt.Errorf("get chunk %s: %w", id, ctx.Err())
	}
}

// load reads chunk id from the disk cache or the backend, verifies it and
// caches it.
func (s *ChunkStore) load(ctx context.Context, id ChunkID) ([]byte, error) {
	if s.disk != nil {
		if data, ok := s.disk.get(id); ok {
			s.diskHits.Add(1)
			if s.mem != nil {
				s.mem.add(id, data)
			}
			return data, nil
		}
	}
	s.backendGets.Add(1)
	rc, err := s.b.Get(ctx, id.Key(), 0, -1)
	if err != nil {
		return nil, fmt.Errorf("get chunk %s: %w", id, s.closedErr(err))
	}
	data, err := readChunk(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("get chunk %s: reading: %w", id, s.closedErr(err))
	}
	if len(data) > MaxChunkSize {
		err = fmt.Errorf("%w: chunk %s is more than %d bytes", ErrCorrupt, id, MaxChunkSize)
	} else {
		err = Verify(id, data)
	}
	if err != nil {
		s.corrupt.Add(1)
		s.log.Error("corrupt chunk in backend", "chunk", id.String(), "key", id.Key(), "err", err)
		return nil, fmt.Errorf("get chunk %s: %w", id, err)
	}
	if s.mem != nil {
		s.mem.add(id, data)
	}
	if s.disk != nil {
		s.disk.put(id, data)
	}
	return data, nil
}

// closedErr reports an error caused by Close cancelling a load as ErrClosed.
func (s *ChunkStore) closedErr(err error) error {
	if errors.Is(err, context.Canceled) && s.isClosed() {
		return fmt.Errorf("%w (%w)", ErrClosed, err)
	}
	return err
}

// Has reports whether the backend holds chunk id (the caches are not
// consulted: they may outlive the stored chunk).
func (s *ChunkStore) Has(ctx context.Context, id ChunkID) (bool, error) {
	if s.isClosed() {
		return false, fmt.Errorf("has chunk %s: %w", id, ErrClosed)
	}
	_, err := s.b.Stat(ctx, id.Key())
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("has chunk %s: %w", id, err)
}

// Delete removes chunk id from the backend and the caches. Deleting a
// missing chunk is not an error.
func (s *ChunkStore) Delete(ctx context.Context, id ChunkID) error {
	if s.isClosed() {
		return fmt.Errorf("delete chunk %s: %w", id, ErrClosed)
	}
	if s.mem != nil {
		s.mem.remove(id)
	}
	if s.disk != nil {
		s.disk.remove(id)
	}
	if err := s.b.Delete(ctx, id.Key()); err != nil {
		return fmt.Errorf("delete chunk %s: %w", id, err)
	}
	return nil
}

// Space reports the backend's capacity when it knows it (SpaceReporter),
// else zero.
func (s *ChunkStore) Space(ctx context.Context) (Space, error) {
	sr, ok := s.b.(SpaceReporter)
	if !ok {
		return Space{}, nil
	}
	sp, err := sr.Space(ctx)
	if err != nil {
		return Space{}, fmt.Errorf("chunk store: %w", err)
	}
	return sp, nil
}

// Stats returns counters and cache occupancy.
func (s *ChunkStore) Stats() ChunkStoreStats {
	st := ChunkStoreStats{
		MemHits: s.memHits.Load(), DiskHits: s.diskHits.Load(), BackendGets: s.backendGets.Load(),
		Uploads: s.uploads.Load(), Dedups: s.dedups.Load(), Corrupt: s.corrupt.Load(),
	}
	if s.mem != nil {
		st.MemChunks, st.MemBytes = s.mem.stats()
	}
	if s.disk != nil {
		st.DiskChunks, st.DiskBytes = s.disk.stats()
		st.Corrupt += s.disk.corrupt.Load()
	}
	return st
}

// Close stops the loads in flight, waits for them, and makes later calls
// fail with ErrClosed. It does not close the Backend. It is idempotent.
func (s *ChunkStore) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, f := range s.calls {
		f.cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

package vfs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// env is a single-node filesystem: the in-memory FSM, its local proposer,
// a chunk store on a memory backend, and a VFS.
type env struct {
	t       testing.TB
	ctx     context.Context
	fsm     *meta.FSM
	p       *meta.Local
	mem     *store.Memory
	backend store.Backend
	cs      *store.ChunkStore
	v       *VFS
	cfg     Config
}

type envOpt struct {
	cfg      func(*Config)
	backend  func(*store.Memory) store.Backend // wraps the memory backend
	memCache int64
}

func newEnv(t testing.TB, o envOpt) *env {
	t.Helper()
	fsm, err := meta.Open(meta.DefaultTestConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsm.Close() })
	e := &env{t: t, ctx: context.Background(), fsm: fsm, p: meta.NewLocal(fsm), mem: store.NewMemory()}
	e.backend = e.mem
	if o.backend != nil {
		e.backend = o.backend(e.mem)
	}
	cache := o.memCache
	if cache == 0 {
		cache = 32 << 20
	}
	if cache < 0 {
		cache = 0
	}
	e.cs, err = store.NewChunkStore(store.ChunkStoreConfig{Backend: e.backend, MemCacheBytes: cache})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.cs.Close() })
	e.cfg = DefaultTestConfig()
	e.cfg.SpillDir = t.TempDir()
	e.cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.cfg != nil {
		o.cfg(&e.cfg)
	}
	e.v = e.newVFS(e.cs)
	return e
}

// newVFS makes another VFS on the same metadata and chunk store (or a
// given one): a second host, or a restart.
func (e *env) newVFS(cs *store.ChunkStore) *VFS {
	e.t.Helper()
	v, err := New(e.cfg, e.fsm, e.p, cs)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { v.Close(context.Background()) })
	return v
}

// freshVFS is a VFS on a new chunk store without cache over the same
// backend: what another host would read of the committed state.
func (e *env) freshVFS() *VFS {
	e.t.Helper()
	cs, err := store.NewChunkStore(store.ChunkStoreConfig{Backend: e.backend})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cs.Close() })
	return e.newVFS(cs)
}

var root = Caller{}

func (e *env) create(name string) (meta.Attr, *Handle) {
	e.t.Helper()
	a, h, err := e.v.Create(e.ctx, root, meta.RootIno, name, 0o644, syscall.O_RDWR)
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	return a, h
}

func (e *env) open(v *VFS, ino meta.Ino, flags uint32) *Handle {
	e.t.Helper()
	h, err := v.Open(e.ctx, root, ino, flags)
	if err != nil {
		e.t.Fatalf("open %d: %v", ino, err)
	}
	return h
}

func (e *env) write(h *Handle, off int64, data []byte) {
	e.t.Helper()
	n, err := e.v.Write(e.ctx, h, data, off)
	if err != nil || n != len(data) {
		e.t.Fatalf("write %d bytes at %d: %d, %v", len(data), off, n, err)
	}
}

func (e *env) read(v *VFS, h *Handle, off int64, n int) []byte {
	e.t.Helper()
	buf := make([]byte, n)
	got, err := v.Read(e.ctx, h, buf, off)
	if err != nil {
		e.t.Fatalf("read %d bytes at %d: %v", n, off, err)
	}
	return buf[:got]
}

func (e *env) flush(h *Handle) {
	e.t.Helper()
	if err := e.v.Flush(e.ctx, h); err != nil {
		e.t.Fatalf("flush: %v", err)
	}
}

func (e *env) release(v *VFS, h *Handle) {
	e.t.Helper()
	if err := v.Release(e.ctx, h); err != nil {
		e.t.Fatalf("release: %v", err)
	}
}

func (e *env) size(v *VFS, ino meta.Ino) int64 {
	e.t.Helper()
	a, err := v.GetAttr(e.ctx, ino)
	if err != nil {
		e.t.Fatal(err)
	}
	return int64(a.Size)
}

// readAll reads ino whole through a new handle of v.
func (e *env) readAll(v *VFS, ino meta.Ino) []byte {
	e.t.Helper()
	h := e.open(v, ino, syscall.O_RDONLY)
	defer e.release(v, h)
	var out []byte
	buf := make([]byte, 100<<10)
	for {
		n, err := v.Read(e.ctx, h, buf, int64(len(out)))
		if err != nil {
			e.t.Fatalf("read at %d: %v", len(out), err)
		}
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

// objects counts the chunk objects in the backend.
func (e *env) objects() int {
	e.t.Helper()
	n := 0
	err := e.mem.List(e.ctx, "chunks/", func(store.ObjectInfo) error { n++; return nil })
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func wantErrno(t testing.TB, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

// pattern returns n pseudo-random bytes, the same for the same seed; no
// two chunks of it are alike.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(seed), 42))
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func equalBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got %d bytes, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: first difference at byte %d: got %#x, want %#x", what, i, got[i], want[i])
		}
	}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

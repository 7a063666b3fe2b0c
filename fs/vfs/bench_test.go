package vfs

import (
	"syscall"

	"github.com/dfsproject/dfs/store"
	"testing"
)

// benchEnv is a VFS with production chunk sizes on the memory backend.
func benchEnv(b *testing.B) *env {
	return newEnv(b, envOpt{memCache: 64 << 20, cfg: func(c *Config) {
		d := DefaultConfig()
		c.ChunkSize, c.InlineMax, c.MaxDirtyBytes = d.ChunkSize, d.InlineMax, d.MaxDirtyBytes
	}})
}

const benchFile = 64 << 20

// BenchmarkSeqWrite writes a 64 MiB file in 128 KiB writes (FUSE's size)
// and commits it.
func BenchmarkSeqWrite(b *testing.B) {
	e := benchEnv(b)
	buf := pattern(128<<10, 1)
	b.SetBytes(benchFile)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, h := e.create("f")
		// Different bytes per iteration: no deduplication.
		buf[0], buf[1] = byte(i), byte(i>>8)
		for off := 0; off < benchFile; off += len(buf) {
			buf[2] = byte(off >> 17)
			if _, err := e.v.Write(e.ctx, h, buf, int64(off)); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.v.Flush(e.ctx, h); err != nil {
			b.Fatal(err)
		}
		e.release(e.v, h)
		if err := e.v.Unlink(e.ctx, 1, "f"); err != nil {
			b.Fatal(err)
		}
		_ = a
		b.StopTimer()
		if _, err := e.v.collectGarbage(e.ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkSeqRead reads a committed 64 MiB file in 128 KiB reads, from a
// chunk store of its own (a fresh host), with read-ahead. The chunk store's cache (16 MiB) is smaller than the
// file, so every pass fetches every chunk from the backend.
func BenchmarkSeqRead(b *testing.B) {
	e := benchEnv(b)
	a, h := e.create("f")
	data := pattern(benchFile, 2)
	for off := 0; off < benchFile; off += 1 << 20 {
		e.write(h, int64(off), data[off:off+1<<20])
	}
	e.flush(h)
	e.release(e.v, h)
	cs, err := store.NewChunkStore(store.ChunkStoreConfig{Backend: e.backend, MemCacheBytes: 16 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	v := e.newVFS(cs)
	buf := make([]byte, 128<<10)
	b.SetBytes(benchFile)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := e.open(v, a.Ino, syscall.O_RDONLY)
		for off := 0; off < benchFile; off += len(buf) {
			if n, err := v.Read(e.ctx, h, buf, int64(off)); err != nil || n != len(buf) {
				b.Fatal(n, err)
			}
		}
		e.release(v, h)
	}
}

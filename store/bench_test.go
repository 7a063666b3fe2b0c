package store_test

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"testing"

	"github.com/dfsproject/dfs/store"
)

// BenchmarkChunkStorePutDir measures new-chunk uploads to the directory
// backend, four at a time as the write path does.
func BenchmarkChunkStorePutDir(b *testing.B) {
	d, err := store.NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	cs, err := store.NewChunkStore(store.ChunkStoreConfig{Backend: d})
	if err != nil {
		b.Fatal(err)
	}
	const size = 4 << 20
	b.SetBytes(size)
	b.SetParallelism(2) // 2 per core: 4 on this machine
	ctx := context.Background()
	var seq atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, size)
		for pb.Next() {
			binary.LittleEndian.PutUint64(buf, seq.Add(1))
			binary.LittleEndian.PutUint64(buf[8:], uint64(len(buf)))
			if _, err := cs.Put(ctx, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

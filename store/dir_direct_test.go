package store_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/dfsproject/dfs/store"
)

// TestDirPutDirectAndFallback stores page-multiple objects from aligned
// and deliberately unaligned buffers: the first go through O_DIRECT, the
// second make O_DIRECT fail with EINVAL and are written again the ordinary
// way. Both must read back exactly.
func TestDirPutDirectAndFallback(t *testing.T) {
	d, err := store.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	big := make([]byte, 8<<20+1)
	for i := range big {
		big[i] = byte(i*7 + i>>13)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"aligned 8MiB", big[:8<<20]},
		{"unaligned 8MiB", big[1 : 8<<20+1]},
		{"aligned 4KiB", big[:4096]},
		{"unaligned 4KiB", big[1:4097]},
		{"not a page multiple", big[:12345]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "chunks/" + tc.name[:3] + "/obj"
			if err := d.Put(ctx, key, bytes.NewReader(tc.data), int64(len(tc.data))); err != nil {
				t.Fatal(err)
			}
			rc, err := d.Get(ctx, key, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("read back %d bytes (err %v), want the %d written", len(got), err, len(tc.data))
			}
		})
	}
}

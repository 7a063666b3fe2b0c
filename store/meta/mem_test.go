package meta_test

import (
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// TestMemoryFootprint fills an on-disk state and reports the process's
// peak RSS. Run with DFS_META_MEMTEST=<number of files>.
func TestMemoryFootprint(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("DFS_META_MEMTEST"))
	if n == 0 {
		t.Skip("set DFS_META_MEMTEST=<files> to run")
	}
	cfg := meta.DefaultConfig()
	cfg.Dir = t.TempDir()
	f := open(t, cfg)
	l := meta.NewLocal(f)
	ctx := context.Background()
	propose := func(c *meta.Cmd) *meta.Result {
		res, err := l.Propose(ctx, c)
		if err != nil || res.Errno != 0 {
			t.Fatalf("%v: %v %v", c.Op, err, res)
		}
		return res
	}
	start := time.Now()
	var dir meta.Ino
	for i := range n {
		if i%1000 == 0 {
			dir = propose(&meta.Cmd{Op: meta.OpMkdir, Parent: meta.RootIno, Name: "d" + strconv.Itoa(i), Mode: 0o755}).Attr.Ino
		}
		ino := propose(&meta.Cmd{Op: meta.OpCreate, Parent: dir, Name: "file-" + strconv.Itoa(i), Mode: 0o100644}).Attr.Ino
		var refs []meta.ChunkRef
		for s := range 4 {
			var b [16]byte
			binary.LittleEndian.PutUint64(b[:], uint64(i))
			binary.LittleEndian.PutUint64(b[8:], uint64(s))
			refs = append(refs, meta.ChunkRef{Index: uint64(s), ID: store.Sum(b[:]), Len: 4 << 20})
		}
		propose(&meta.Cmd{Op: meta.OpCommit, Ino: ino, Size: 16 << 20, ChunkSize: 4 << 20, Chunks: refs})
		propose(&meta.Cmd{Op: meta.OpSetXattr, Ino: ino, Name: "user.tag", Value: []byte("some value")})
	}
	elapsed := time.Since(start)
	if p := os.Getenv("DFS_META_MEMPROF"); p != "" {
		runtime.GC()
		out, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		pprof.Lookup("heap").WriteTo(out, 0)
		out.Close()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st, _ := f.Stats(ctx)
	status, _ := os.ReadFile("/proc/self/status")
	vm := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(k, "VmHWM") || strings.HasPrefix(k, "Rss") {
			vm[k] = strings.TrimSpace(v)
		}
	}
	t.Logf("%d files (%d commands, %.0f/s): inodes %d; peak RSS %s, now RSS anon %s + file %s; Go heap in use %d MiB, Go sys %d MiB",
		n, st.Applied, float64(st.Applied)/elapsed.Seconds(), st.Inodes, vm["VmHWM"], vm["RssAnon"], vm["RssFile"],
		ms.HeapInuse>>20, ms.Sys>>20)
}

package vfs

import (
	"bytes"
	"context"
	"math"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/errstore"
	"github.com/dfsproject/dfs/store/meta"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"chunk not power of two", func(c *Config) { c.ChunkSize = 100 << 10 }, "power of two"},
		{"chunk too small", func(c *Config) { c.ChunkSize = 32 << 10 }, "power of two"},
		{"chunk too big", func(c *Config) { c.ChunkSize = 128 << 20 }, "power of two"},
		{"inline too big", func(c *Config) { c.InlineMax = 128 << 10 }, "inline limit"},
		{"inline negative", func(c *Config) { c.InlineMax = -1 }, "inline limit"},
		{"dirty below chunk", func(c *Config) { c.MaxDirtyBytes = 1 << 20 }, "dirty buffer limit"},
		{"no uploads", func(c *Config) { c.UploadConcurrency = 0 }, "upload concurrency"},
		{"negative read-ahead", func(c *Config) { c.ReadAheadChunks = -1 }, "read-ahead"},
		{"no gc interval", func(c *Config) { c.GCInterval = 0 }, "interval"},
		{"negative grace", func(c *Config) { c.GCGrace = -time.Second }, "grace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
	c := DefaultTestConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReadFlush(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	data := pattern(300<<10, 1) // several 64 KiB slots
	e.write(h, 0, data)
	equalBytes(t, "before flush", e.read(e.v, h, 0, len(data)+10), data)
	if got := e.size(e.v, a.Ino); got != int64(len(data)) {
		t.Fatalf("size before flush %d", got)
	}
	e.flush(h)
	e.release(e.v, h)
	equalBytes(t, "after reopen", e.readAll(e.v, a.Ino), data)
	equalBytes(t, "from another host", e.readAll(e.freshVFS(), a.Ino), data)
	if n := e.objects(); n != 5 {
		t.Fatalf("%d objects, want 5", n)
	}
}

func TestReadAfterWriteOtherHandle(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h1 := e.create("f")
	h2 := e.open(e.v, a.Ino, syscall.O_RDONLY)
	e.write(h1, 0, pattern(70<<10, 2))
	equalBytes(t, "second handle", e.read(e.v, h2, 0, 100<<10), pattern(70<<10, 2))
	e.write(h1, 10, []byte("hello"))
	if got := e.read(e.v, h2, 10, 5); string(got) != "hello" {
		t.Fatalf("got %q", got)
	}
	// Nothing is committed yet: another host sees an empty file.
	if got := e.readAll(e.freshVFS(), a.Ino); len(got) != 0 {
		t.Fatalf("uncommitted bytes visible elsewhere: %d", len(got))
	}
	e.release(e.v, h1)
	e.release(e.v, h2)
}

func TestInlineConversions(t *testing.T) {
	e := newEnv(t, envOpt{})
	max := e.cfg.InlineMax
	a, h := e.create("f")
	small := pattern(max, 3)
	e.write(h, 0, small)
	e.flush(h)
	attr, _ := e.fsm.GetAttr(e.ctx, a.Ino)
	if !attr.Inline || e.objects() != 0 {
		t.Fatalf("a %d-byte file: inline %v, %d objects", max, attr.Inline, e.objects())
	}
	// One byte more: chunks.
	e.write(h, int64(max), []byte{0xAA})
	e.flush(h)
	attr, _ = e.fsm.GetAttr(e.ctx, a.Ino)
	if attr.Inline || e.objects() != 1 {
		t.Fatalf("a %d-byte file: inline %v, %d objects", max+1, attr.Inline, e.objects())
	}
	want := append(append([]byte{}, small...), 0xAA)
	equalBytes(t, "chunked", e.readAll(e.freshVFS(), a.Ino), want)

	// Truncate to below the limit, rewrite a byte: inline again.
	if _, err := e.v.SetAttr(e.ctx, root, a.Ino, SetAttrIn{Valid: meta.SetSize, Size: 100, Handle: h}); err != nil {
		t.Fatal(err)
	}
	e.write(h, 0, []byte{'x'})
	e.flush(h)
	attr, _ = e.fsm.GetAttr(e.ctx, a.Ino)
	if !attr.Inline || attr.Size != 100 {
		t.Fatalf("after shrinking: inline %v size %d", attr.Inline, attr.Size)
	}
	want = append([]byte{'x'}, small[1:100]...)
	equalBytes(t, "inline again", e.readAll(e.freshVFS(), a.Ino), want)

	// Inline, then a write far away: slot 0 keeps the inline bytes.
	e.write(h, 200<<10, []byte("far"))
	e.flush(h)
	want = append(want, make([]byte, 200<<10-100)...)
	want = append(want, "far"...)
	e.release(e.v, h)
	equalBytes(t, "inline to sparse chunks", e.readAll(e.freshVFS(), a.Ino), want)
}

func TestRewriteMiddleOfCommittedChunk(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	data := pattern(200<<10, 4)
	e.write(h, 0, data)
	e.flush(h)
	e.release(e.v, h)

	h = e.open(e.v, a.Ino, syscall.O_RDWR)
	patch := []byte("patched in the middle")
	off := int64(64<<10 + 1000) // inside slot 1
	e.write(h, off, patch)
	copy(data[off:], patch)
	equalBytes(t, "before flush", e.read(e.v, h, 0, len(data)), data)
	e.flush(h)
	e.release(e.v, h)
	equalBytes(t, "other host", e.readAll(e.freshVFS(), a.Ino), data)
	refs, _ := e.fsm.Chunks(e.ctx, a.Ino)
	if len(refs) != 4 || refs[1].Len != 64<<10 {
		t.Fatalf("chunk list %+v", refs)
	}
}

func TestSparse100GiB(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.ChunkSize = 4 << 20; c.MaxDirtyBytes = 16 << 20 }})
	a, h := e.create("sparse")
	const size = 100 << 30
	e.write(h, size-1, []byte{0x5A})
	e.flush(h)
	if got := e.size(e.v, a.Ino); got != size {
		t.Fatalf("size %d", got)
	}
	if n := e.objects(); n != 1 {
		t.Fatalf("%d objects stored for a sparse file, want 1", n)
	}
	if got := e.read(e.v, h, 50<<30, 4096); !bytes.Equal(got, make([]byte, 4096)) {
		t.Fatal("hole does not read as zeros")
	}
	if got := e.read(e.v, h, size-2, 10); !bytes.Equal(got, []byte{0, 0x5A}) {
		t.Fatalf("end of file: %v", got)
	}
	off, err := e.v.Lseek(e.ctx, h, 0, SeekData)
	if err != nil || off != size-4<<20 {
		t.Fatalf("SEEK_DATA from 0: %d, %v", off, err)
	}
	off, err = e.v.Lseek(e.ctx, h, 0, SeekHole)
	if err != nil || off != 0 {
		t.Fatalf("SEEK_HOLE from 0: %d, %v", off, err)
	}
	off, err = e.v.Lseek(e.ctx, h, size-10, SeekHole)
	if err != nil || off != size {
		t.Fatalf("SEEK_HOLE in the last slot: %d, %v", off, err)
	}
	_, err = e.v.Lseek(e.ctx, h, size, SeekData)
	wantErrno(t, err, syscall.ENXIO)

	// Grow to the largest size, and past it.
	if err := e.v.Fallocate(e.ctx, h, math.MaxInt64-1, 1, 0); err != nil {
		t.Fatal(err)
	}
	if got := e.size(e.v, a.Ino); got != math.MaxInt64 {
		t.Fatalf("size %d", got)
	}
	_, err = e.v.Write(e.ctx, h, []byte{1}, math.MaxInt64)
	wantErrno(t, err, syscall.EFBIG)
	wantErrno(t, e.v.Fallocate(e.ctx, h, math.MaxInt64, 1, 0), syscall.EFBIG)
	e.flush(h)
	e.release(e.v, h)
	if n := e.objects(); n != 1 {
		t.Fatalf("%d objects", n)
	}
}

func TestTruncateShrinkExtend(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	data := pattern(150<<10, 5)
	e.write(h, 0, data)
	// Shrink with writes pending, then extend: the old bytes never come back.
	for _, size := range []uint64{70 << 10, 1000, 64 << 10} {
		if _, err := e.v.SetAttr(e.ctx, root, a.Ino, SetAttrIn{Valid: meta.SetSize, Size: size}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.v.SetAttr(e.ctx, root, a.Ino, SetAttrIn{Valid: meta.SetSize, Size: 150 << 10}); err != nil {
			t.Fatal(err)
		}
		for i := int(size); i < len(data); i++ {
			data[i] = 0
		}
		equalBytes(t, "local", e.read(e.v, h, 0, 200<<10), data)
		equalBytes(t, "other host", e.readAll(e.freshVFS(), a.Ino), data)
	}
	// O_TRUNC.
	h2 := e.open(e.v, a.Ino, syscall.O_WRONLY|syscall.O_TRUNC)
	if got := e.size(e.v, a.Ino); got != 0 {
		t.Fatalf("size after O_TRUNC %d", got)
	}
	if got := e.read(e.v, h, 0, 10); len(got) != 0 {
		t.Fatalf("read %d bytes after O_TRUNC", len(got))
	}
	e.release(e.v, h2)
	e.release(e.v, h)
}

func TestAppend(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("log")
	e.write(h, 0, []byte("first\n"))
	e.flush(h)
	ha := e.open(e.v, a.Ino, syscall.O_WRONLY|syscall.O_APPEND)
	for i := 0; i < 3; i++ {
		e.write(ha, 0, []byte("appended\n")) // the offset is ignored
	}
	e.write(h, 6, []byte("OVER")) // plain write in place
	e.write(ha, 0, bytes.Repeat([]byte{'z'}, 70<<10))
	e.flush(ha)
	e.release(e.v, ha)
	e.release(e.v, h)
	want := "first\nOVERnded\nappended\nappended\n" + strings.Repeat("z", 70<<10)
	if got := e.readAll(e.freshVFS(), a.Ino); string(got) != want {
		t.Fatalf("got %q...", got[:40])
	}
	// A read-only handle cannot write; a write-only one cannot read.
	hr := e.open(e.v, a.Ino, syscall.O_RDONLY)
	_, err := e.v.Write(e.ctx, hr, []byte("x"), 0)
	wantErrno(t, err, syscall.EBADF)
	hw := e.open(e.v, a.Ino, syscall.O_WRONLY)
	_, err = e.v.Read(e.ctx, hw, make([]byte, 1), 0)
	wantErrno(t, err, syscall.EBADF)
	e.release(e.v, hr)
	e.release(e.v, hw)
	wantErrno(t, e.v.Release(e.ctx, hw), syscall.EBADF)
}

func TestUnlinkedOpenFileAndGC(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.GCGrace = 0; c.GCInterval = 10 * time.Millisecond }})
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go e.v.Run(ctx)

	a, h := e.create("doomed")
	data := pattern(200<<10, 6)
	e.write(h, 0, data)
	e.flush(h)
	if n := e.objects(); n != 4 {
		t.Fatalf("%d objects", n)
	}
	if err := e.v.Unlink(e.ctx, meta.RootIno, "doomed"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.v.Lookup(e.ctx, meta.RootIno, "doomed"); err != syscall.ENOENT {
		t.Fatalf("lookup after unlink: %v", err)
	}
	// Still readable and writable through the open handle.
	time.Sleep(50 * time.Millisecond) // a few GC rounds
	equalBytes(t, "unlinked, open", e.read(e.v, h, 0, len(data)), data)
	e.write(h, 0, []byte("still writable"))
	e.flush(h)
	copy(data, "still writable")
	equalBytes(t, "unlinked, written", e.read(e.v, h, 0, len(data)), data)
	if n := e.objects(); n < 4 {
		t.Fatalf("chunks of an open file deleted: %d objects left", n)
	}
	e.release(e.v, h)
	if orphans, _ := e.fsm.Orphans(e.ctx); len(orphans) != 0 {
		t.Fatalf("orphans left: %v", orphans)
	}
	if _, err := e.fsm.GetAttr(e.ctx, a.Ino); err != syscall.ENOENT {
		t.Fatalf("getattr of a reclaimed inode: %v", err)
	}
	eventually(t, "GC to delete the chunks", func() bool { return e.objects() == 0 })
	eventually(t, "zero-reference records to be forgotten", func() bool {
		ids, _ := e.fsm.ZeroRefChunks(e.ctx, math.MaxInt64, 10)
		return len(ids) == 0
	})
}

func TestReclaimOrphans(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	e.write(h, 0, pattern(100<<10, 7))
	e.flush(h)
	if err := e.v.Unlink(e.ctx, meta.RootIno, "f"); err != nil {
		t.Fatal(err)
	}
	// A crash: the VFS holding the file open is gone, the orphan remains.
	v2 := e.newVFS(e.cs)
	if orphans, _ := e.fsm.Orphans(e.ctx); len(orphans) != 1 || orphans[0] != a.Ino {
		t.Fatalf("orphans %v", orphans)
	}
	if err := v2.ReclaimOrphans(e.ctx); err != nil {
		t.Fatal(err)
	}
	if orphans, _ := e.fsm.Orphans(e.ctx); len(orphans) != 0 {
		t.Fatalf("orphans left %v", orphans)
	}
	n, err := v2.collectGarbage(e.ctx)
	if err != nil || n != 2 || e.objects() != 0 {
		t.Fatalf("gc deleted %d (%v), %d objects left", n, err, e.objects())
	}
}

func TestDedup(t *testing.T) {
	e := newEnv(t, envOpt{})
	data := pattern(128<<10, 8)
	for _, name := range []string{"a", "b"} {
		_, h := e.create(name)
		e.write(h, 0, data)
		e.flush(h)
		e.release(e.v, h)
	}
	if n := e.objects(); n != 2 {
		t.Fatalf("%d objects for two identical 2-chunk files, want 2", n)
	}
	// Removing one keeps the shared chunks.
	if err := e.v.Unlink(e.ctx, meta.RootIno, "a"); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.v.collectGarbage(e.ctx); n != 0 {
		t.Fatalf("gc deleted %d shared chunks", n)
	}
	b, _ := e.v.Lookup(e.ctx, meta.RootIno, "b")
	equalBytes(t, "b", e.readAll(e.freshVFS(), b.Ino), data)
}

func TestGCSparesPendingChunks(t *testing.T) {
	e := newEnv(t, envOpt{})
	data := pattern(64<<10, 9)
	a, h := e.create("a")
	e.write(h, 0, data)
	e.flush(h)
	e.release(e.v, h)
	if err := e.v.Unlink(e.ctx, meta.RootIno, "a"); err != nil {
		t.Fatal(err)
	}
	_ = a
	// The chunk has no reference now. A writer uploads the same bytes (a
	// full slot uploads at once) and has not committed yet.
	_, h2 := e.create("b")
	e.write(h2, 0, data)
	eventually(t, "the upload", func() bool {
		h2.f.mu.Lock()
		defer h2.f.mu.Unlock()
		s := h2.f.slots[0]
		e.v.reapLocked(s)
		return s.state == slotPending
	})
	if n, err := e.v.collectGarbage(e.ctx); err != nil || n != 0 {
		t.Fatalf("gc deleted %d (%v) chunks a writer deduplicated onto", n, err)
	}
	e.flush(h2)
	e.release(e.v, h2)
	if n, _ := e.v.collectGarbage(e.ctx); n != 0 || e.objects() != 1 {
		t.Fatalf("gc deleted %d, %d objects", n, e.objects())
	}
	b, _ := e.v.Lookup(e.ctx, meta.RootIno, "b")
	equalBytes(t, "b", e.readAll(e.freshVFS(), b.Ino), data)
}

func TestNoSpace(t *testing.T) {
	for _, how := range []string{"capacity", "errstore"} {
		t.Run(how, func(t *testing.T) {
			var es *errstore.Store
			e := newEnv(t, envOpt{backend: func(m *store.Memory) store.Backend {
				es = errstore.New(m)
				return es
			}})
			a, h := e.create("f")
			old := pattern(100<<10, 10)
			e.write(h, 0, old)
			e.flush(h)
			if how == "capacity" {
				e.mem.SetCapacity(100 << 10)
			} else {
				es.FailAlways(errstore.OpPut, store.ErrNoSpace)
			}
			e.write(h, 50<<10, pattern(200<<10, 11))
			wantErrno(t, e.v.Flush(e.ctx, h), syscall.ENOSPC)
			wantErrno(t, e.v.Fsync(e.ctx, h, false), syscall.ENOSPC)
			equalBytes(t, "committed content", e.readAll(e.freshVFS(), a.Ino), old)
			// Space comes back: the next flush commits everything.
			e.mem.SetCapacity(0)
			es.Reset()
			e.flush(h)
			want := append(append([]byte{}, old[:50<<10]...), pattern(200<<10, 11)...)
			equalBytes(t, "after retry", e.readAll(e.freshVFS(), a.Ino), want)
			e.release(e.v, h)
		})
	}
}

func TestNoSpaceLostAtRelease(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	e.write(h, 0, []byte("committed"))
	e.flush(h)
	e.mem.SetCapacity(1)
	e.write(h, 0, pattern(100<<10, 12))
	wantErrno(t, e.v.Flush(e.ctx, h), syscall.ENOSPC)
	e.release(e.v, h)
	if got := e.readAll(e.v, a.Ino); string(got) != "committed" {
		t.Fatalf("got %q", got)
	}
	if used, _ := e.v.mem.stats(); used != 0 {
		t.Fatalf("%d dirty bytes left after release", used)
	}
}

func TestTruncateOnFullBackend(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	e.write(h, 0, pattern(100<<10, 17))
	e.flush(h)
	e.mem.SetCapacity(1)
	e.write(h, 100<<10, pattern(300<<10, 18))
	wantErrno(t, e.v.Flush(e.ctx, h), syscall.ENOSPC)
	// Cutting the file below the unwritable part needs no upload.
	if _, err := e.v.SetAttr(e.ctx, root, a.Ino, SetAttrIn{Valid: meta.SetSize, Size: 50 << 10, Handle: h}); err != nil {
		t.Fatal(err)
	}
	e.flush(h)
	e.release(e.v, h)
	equalBytes(t, "truncated", e.readAll(e.freshVFS(), a.Ino), pattern(100<<10, 17)[:50<<10])
}

func TestCorruptChunk(t *testing.T) {
	e := newEnv(t, envOpt{memCache: -1})
	a, h := e.create("f")
	data := pattern(128<<10, 13)
	e.write(h, 0, data)
	e.flush(h)
	e.release(e.v, h)
	refs, _ := e.fsm.Chunks(e.ctx, a.Ino)
	bad := bytes.Repeat([]byte{0xFF}, 64<<10)
	if err := e.mem.Put(e.ctx, refs[1].ID.Key(), bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatal(err)
	}
	h = e.open(e.v, a.Ino, syscall.O_RDWR)
	equalBytes(t, "good chunk", e.read(e.v, h, 0, 64<<10), data[:64<<10])
	_, err := e.v.Read(e.ctx, h, make([]byte, 10), 70<<10)
	wantErrno(t, err, syscall.EIO)
	// A write into the corrupt chunk needs its bytes: EIO too.
	_, err = e.v.Write(e.ctx, h, []byte("x"), 70<<10)
	wantErrno(t, err, syscall.EIO)
	e.release(e.v, h)
}

func TestMemoryBound(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.MaxDirtyBytes = 4 << 20 }})
	const total = 64 << 20
	var wg sync.WaitGroup
	files := 4
	inos := make([]meta.Ino, files)
	for i := 0; i < files; i++ {
		a, h := e.create(string(rune('a' + i)))
		inos[i] = a.Ino
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunk := pattern(128<<10, byte(i))
			for off := 0; off < total/files; off += len(chunk) {
				if _, err := e.v.Write(e.ctx, h, chunk, int64(off)); err != nil {
					t.Error(err)
					return
				}
			}
			if err := e.v.Flush(e.ctx, h); err != nil {
				t.Error(err)
			}
			e.v.Release(e.ctx, h)
		}()
	}
	wg.Wait()
	used, peak := e.v.mem.stats()
	t.Logf("peak dirty %d KiB, bound %d KiB", peak>>10, e.cfg.MaxDirtyBytes>>10)
	if peak > e.cfg.MaxDirtyBytes+e.cfg.ChunkSize {
		t.Fatalf("peak dirty memory %d above the bound %d plus a slot", peak, e.cfg.MaxDirtyBytes)
	}
	if used != 0 {
		t.Fatalf("%d dirty bytes left", used)
	}
	for i, ino := range inos {
		got := e.readAll(e.v, ino)
		if len(got) != total/files || !bytes.Equal(got[:128<<10], pattern(128<<10, byte(i))) {
			t.Fatalf("file %d: %d bytes", i, len(got))
		}
	}
}

func TestSpill(t *testing.T) {
	// Many files with a partial slot each: the memory bound forces the
	// idle ones to the spill file.
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.MaxDirtyBytes = 256 << 10 }})
	var hs []*Handle
	var inos []meta.Ino
	for i := 0; i < 20; i++ {
		a, h := e.create(string(rune('a' + i)))
		// Slot 1 so buffers are whole chunks; half a slot: no upload.
		e.write(h, 64<<10, pattern(32<<10, byte(i)))
		hs, inos = append(hs, h), append(inos, a.Ino)
	}
	spilled := 0
	for _, h := range hs {
		if h.f.slots[1].state == slotSpilled {
			spilled++
		}
	}
	if spilled == 0 {
		t.Fatal("nothing spilled")
	}
	if _, peak := e.v.mem.stats(); peak > 256<<10+64<<10 {
		t.Fatalf("peak %d", peak)
	}
	// Reads see spilled bytes; writes bring them back.
	for i, h := range hs {
		equalBytes(t, "spilled read", e.read(e.v, h, 64<<10, 32<<10), pattern(32<<10, byte(i)))
		e.write(h, 64<<10+100, []byte("patch"))
	}
	for _, h := range hs {
		e.flush(h)
		e.release(e.v, h)
	}
	for i, ino := range inos {
		want := append(make([]byte, 64<<10), pattern(32<<10, byte(i))...)
		copy(want[64<<10+100:], "patch")
		equalBytes(t, "after spill", e.readAll(e.freshVFS(), ino), want)
	}
	if !e.v.spill.idle() {
		t.Fatal("spill extents still in use")
	}
}

func TestFallocate(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	cs := int(e.cfg.ChunkSize)
	data := pattern(4*cs, 14)
	e.write(h, 0, data)
	e.flush(h)
	before := e.objects()

	// Mode 0 extends, never shrinks.
	if err := e.v.Fallocate(e.ctx, h, 0, 10, 0); err != nil {
		t.Fatal(err)
	}
	if got := e.size(e.v, a.Ino); got != int64(4*cs) {
		t.Fatalf("size %d", got)
	}
	if err := e.v.Fallocate(e.ctx, h, uint64(4*cs), uint64(cs), 0); err != nil {
		t.Fatal(err)
	}
	data = append(data, make([]byte, cs)...)
	// KEEP_SIZE alone changes nothing.
	if err := e.v.Fallocate(e.ctx, h, 0, uint64(10*cs), FallocKeepSize); err != nil {
		t.Fatal(err)
	}
	// Punch a whole slot and a partial range.
	if err := e.v.Fallocate(e.ctx, h, uint64(cs), uint64(cs), FallocPunchHole|FallocKeepSize); err != nil {
		t.Fatal(err)
	}
	clear(data[cs : 2*cs])
	if err := e.v.Fallocate(e.ctx, h, uint64(2*cs+100), 1000, FallocPunchHole|FallocKeepSize); err != nil {
		t.Fatal(err)
	}
	clear(data[2*cs+100 : 2*cs+1100])
	// Zero range past the end grows the file.
	if err := e.v.Fallocate(e.ctx, h, uint64(3*cs+10), uint64(3*cs), FallocZeroRange); err != nil {
		t.Fatal(err)
	}
	clear(data[3*cs+10:])
	data = append(data, make([]byte, 6*cs+10-len(data))...)
	equalBytes(t, "local", e.read(e.v, h, 0, 8*cs), data)
	off, err := e.v.Lseek(e.ctx, h, int64(cs+5), SeekData)
	if err != nil || off != int64(2*cs) {
		t.Fatalf("SEEK_DATA over the punched slot: %d, %v", off, err)
	}
	off, err = e.v.Lseek(e.ctx, h, 0, SeekHole)
	if err != nil || off != int64(cs) {
		t.Fatalf("SEEK_HOLE: %d, %v", off, err)
	}
	e.flush(h)
	equalBytes(t, "other host", e.readAll(e.freshVFS(), a.Ino), data)
	refs, _ := e.fsm.Chunks(e.ctx, a.Ino)
	for _, r := range refs {
		if r.Index == 1 {
			t.Fatal("punched slot still has a chunk")
		}
	}
	_ = before

	for _, tc := range []struct {
		off, n uint64
		mode   uint32
		want   syscall.Errno
	}{
		{0, 10, FallocPunchHole, syscall.EOPNOTSUPP},
		{0, 10, 0x08 /* collapse */, syscall.EOPNOTSUPP},
		{0, 0, 0, syscall.EINVAL},
		{math.MaxUint64, 1, 0, syscall.EINVAL},
		{math.MaxInt64, 1, 0, syscall.EFBIG},
	} {
		wantErrno(t, e.v.Fallocate(e.ctx, h, tc.off, tc.n, tc.mode), tc.want)
	}
	_, err = e.v.Lseek(e.ctx, h, 0, 0)
	wantErrno(t, err, syscall.EINVAL)
	e.release(e.v, h)
}

func TestXattrs(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	e.release(e.v, h)
	if err := e.v.SetXattr(e.ctx, a.Ino, "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if v, err := e.v.GetXattr(e.ctx, a.Ino, "user.k"); err != nil || string(v) != "v" {
		t.Fatalf("%q %v", v, err)
	}
	if names, err := e.v.ListXattr(e.ctx, a.Ino); err != nil || len(names) != 1 || names[0] != "user.k" {
		t.Fatalf("%v %v", names, err)
	}
	wantErrno(t, e.v.SetXattr(e.ctx, a.Ino, "user.k", []byte("w"), meta.XattrCreate), syscall.EEXIST)
	wantErrno(t, e.v.SetXattr(e.ctx, a.Ino, "nonsense.k", nil, 0), syscall.EOPNOTSUPP)
	wantErrno(t, e.v.SetXattr(e.ctx, a.Ino, "system.posix_acl_access", []byte{2, 0, 0, 0}, 0), syscall.EOPNOTSUPP)
	_, err := e.v.GetXattr(e.ctx, a.Ino, "bogus")
	wantErrno(t, err, syscall.EOPNOTSUPP)
	_, err = e.v.GetXattr(e.ctx, a.Ino, "user.none")
	wantErrno(t, err, syscall.ENODATA)
	if err := e.v.RemoveXattr(e.ctx, a.Ino, "user.k"); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, e.v.RemoveXattr(e.ctx, a.Ino, "user.k"), syscall.ENODATA)
}

func TestNamespace(t *testing.T) {
	e := newEnv(t, envOpt{})
	c := Caller{Uid: 1000, Gid: 1000}
	d, err := e.v.Mkdir(e.ctx, c, meta.RootIno, "d", 0o755)
	if err != nil || !d.IsDir() || d.Uid != 1000 {
		t.Fatalf("%+v %v", d, err)
	}
	_, _, err = e.v.Create(e.ctx, c, d.Ino, "f", 0o600, syscall.O_RDWR|syscall.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = e.v.Create(e.ctx, c, d.Ino, "f", 0o600, syscall.O_RDWR|syscall.O_EXCL)
	wantErrno(t, err, syscall.EEXIST)
	_, _, err = e.v.Create(e.ctx, c, meta.RootIno, "d", 0o600, syscall.O_RDWR)
	wantErrno(t, err, syscall.EISDIR)
	s, err := e.v.Symlink(e.ctx, c, d.Ino, "s", "f")
	if err != nil {
		t.Fatal(err)
	}
	if tgt, err := e.v.Readlink(e.ctx, s.Ino); err != nil || tgt != "f" {
		t.Fatalf("%q %v", tgt, err)
	}
	fifo, err := e.v.Mknod(e.ctx, c, d.Ino, "p", syscall.S_IFIFO|0o644, 0)
	if err != nil || fifo.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		t.Fatalf("%+v %v", fifo, err)
	}
	f, _ := e.v.Lookup(e.ctx, d.Ino, "f")
	l, err := e.v.Link(e.ctx, f.Ino, meta.RootIno, "hard")
	if err != nil || l.Nlink != 2 {
		t.Fatalf("%+v %v", l, err)
	}
	if err := e.v.Rename(e.ctx, d.Ino, "p", meta.RootIno, "p2", 0); err != nil {
		t.Fatal(err)
	}
	ents, err := e.v.ReadDir(e.ctx, d.Ino)
	if err != nil || len(ents) != 2 {
		t.Fatalf("%v %v", ents, err)
	}
	wantErrno(t, e.v.Rmdir(e.ctx, meta.RootIno, "d"), syscall.ENOTEMPTY)
	_, err = e.v.Open(e.ctx, c, d.Ino, syscall.O_RDONLY)
	wantErrno(t, err, syscall.EISDIR)
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	_, err = e.v.GetAttr(ctx, d.Ino)
	wantErrno(t, err, syscall.EINTR)
}

func TestStatFS(t *testing.T) {
	e := newEnv(t, envOpt{})
	_, h := e.create("f")
	e.write(h, 0, pattern(100<<10, 15))
	e.flush(h)
	st, err := e.v.StatFS(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.BlockSize != 4096 || st.Blocks != 1<<50/4096 || st.Blocks-st.BlocksFree != 25 || st.NameMax != 255 || st.Files < st.FilesFree {
		t.Fatalf("%+v", st)
	}
	e.mem.SetCapacity(1 << 30)
	st, _ = e.v.StatFS(e.ctx)
	if st.Blocks != 1<<30/4096 || st.BlocksFree >= st.Blocks {
		t.Fatalf("%+v", st)
	}
	e.release(e.v, h)
}

func TestCloseFlushes(t *testing.T) {
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	data := pattern(100<<10, 16)
	e.write(h, 0, data)
	if err := e.v.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.v.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	_, err := e.v.Write(e.ctx, h, []byte("x"), 0)
	wantErrno(t, err, syscall.EIO)
	e.release(e.v, h)
	equalBytes(t, "after close", e.readAll(e.freshVFS(), a.Ino), data)
}

func TestEmptyFlushWritesNoMetadata(t *testing.T) {
	e := newEnv(t, envOpt{})
	_, h := e.create("f")
	e.write(h, 0, []byte("x"))
	e.flush(h)
	st, _ := e.fsm.Stats(e.ctx)
	e.flush(h)
	if err := e.v.Fsync(e.ctx, h, false); err != nil {
		t.Fatal(err)
	}
	st2, _ := e.fsm.Stats(e.ctx)
	if st2.Applied != st.Applied {
		t.Fatalf("empty flushes applied %d commands", st2.Applied-st.Applied)
	}
	e.release(e.v, h)
}

func TestUtimesBeforeClose(t *testing.T) {
	// cp -p: write, set the mtime, then close: the close must not undo it.
	e := newEnv(t, envOpt{})
	a, h := e.create("f")
	e.write(h, 0, []byte("data"))
	mt := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC).UnixNano()
	if _, err := e.v.SetAttr(e.ctx, root, a.Ino, SetAttrIn{Valid: meta.SetMtime, Mtime: mt, Handle: h}); err != nil {
		t.Fatal(err)
	}
	e.flush(h)
	e.release(e.v, h)
	got, _ := e.v.GetAttr(e.ctx, a.Ino)
	if got.Mtime != mt || got.Size != 4 {
		t.Fatalf("mtime %d size %d", got.Mtime, got.Size)
	}
}

func TestWriteFailsWhenUploadsFailAndMemoryIsFull(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) { c.MaxDirtyBytes = 256 << 10 }})
	_, h := e.create("f")
	e.mem.SetCapacity(1)
	var err error
	for off := 0; off < 4<<20 && err == nil; off += 64 << 10 {
		_, err = e.v.Write(e.ctx, h, pattern(64<<10, byte(off>>16)), int64(off))
	}
	wantErrno(t, err, syscall.ENOSPC)
	if used, _ := e.v.mem.stats(); used > 256<<10+64<<10 {
		t.Fatalf("%d bytes buffered", used)
	}
	e.release(e.v, h)
}

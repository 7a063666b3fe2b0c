package metatest

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

func setattr(ino meta.Ino, valid uint32) meta.Cmd {
	return meta.Cmd{Op: meta.OpSetAttr, Ino: ino, Valid: valid}
}

func testSetAttr(t *testing.T, open Opener) {
	h := newHarness(t, open)
	in := h.tree(t, "d/", "f")
	f := h.attr(t, in["f"])

	c := setattr(in["f"], meta.SetMode)
	c.Mode = sIFDIR | 0o600 // type bits are ignored
	a := *h.ok(t, c).Attr
	if a.Mode != sIFREG|0o600 || a.Ctime != h.now || a.Mtime != f.Mtime || a.Atime != f.Atime {
		t.Errorf("chmod = %+v", a)
	}
	if got := h.attr(t, in["f"]); got != a {
		t.Errorf("getattr after chmod = %+v, want %+v", got, a)
	}

	c = setattr(in["f"], meta.SetAtime|meta.SetMtime)
	c.Atime, c.Mtime = 111, 222
	a = *h.ok(t, c).Attr
	if a.Atime != 111 || a.Mtime != 222 || a.Ctime != h.now {
		t.Errorf("utimes = %+v", a)
	}
	c = setattr(in["f"], meta.SetCtime)
	c.Ctime = 333
	if a = *h.ok(t, c).Attr; a.Ctime != 333 {
		t.Errorf("explicit ctime = %+v", a)
	}
	if a = *h.ok(t, setattr(in["f"], 0)).Attr; a.Ctime != h.now {
		t.Errorf("empty setattr still sets ctime: %+v", a)
	}

	chown := []struct {
		name      string
		path      string
		mode      uint32
		valid     uint32
		setMode   uint32
		wantMode  uint32
		wantOwner [2]uint32
	}{
		{"suid+sgid dropped", "f", 0o6755, meta.SetUid, 0, 0o755, [2]uint32{9, 0}},
		{"sgid without g+x kept", "f", 0o6745, meta.SetGid, 0, 0o2745, [2]uint32{0, 9}},
		{"both ids", "f", 0o4711, meta.SetUid | meta.SetGid, 0, 0o711, [2]uint32{9, 9}},
		{"explicit mode wins", "f", 0o6755, meta.SetUid | meta.SetMode, 0o4700, 0o4700, [2]uint32{9, 0}},
		{"directory keeps bits", "d", 0o6755, meta.SetUid | meta.SetGid, 0, 0o6755, [2]uint32{9, 9}},
	}
	for _, tt := range chown {
		t.Run(tt.name, func(t *testing.T) {
			ino := in[tt.path]
			c := setattr(ino, meta.SetMode|meta.SetUid|meta.SetGid)
			c.Mode = tt.mode
			h.ok(t, c)
			c = setattr(ino, tt.valid)
			c.Mode, c.Uid, c.Gid = tt.setMode, 9, 9
			a := *h.ok(t, c).Attr
			if a.Mode&0o7777 != tt.wantMode || a.Uid != tt.wantOwner[0] || a.Gid != tt.wantOwner[1] {
				t.Errorf("got mode %o owner %d:%d, want %o %v", a.Mode&0o7777, a.Uid, a.Gid, tt.wantMode, tt.wantOwner)
			}
		})
	}

	l := *h.ok(t, meta.Cmd{Op: meta.OpSymlink, Parent: root, Name: "l", Target: "f"}).Attr
	errs := []struct {
		name string
		cmd  meta.Cmd
		want syscall.Errno
	}{
		{"missing", setattr(9999, meta.SetMode), syscall.ENOENT},
		{"size of dir", meta.Cmd{Op: meta.OpSetAttr, Ino: in["d"], Valid: meta.SetSize, ChunkSize: cs}, syscall.EISDIR},
		{"size of symlink", meta.Cmd{Op: meta.OpSetAttr, Ino: l.Ino, Valid: meta.SetSize, ChunkSize: cs}, syscall.EINVAL},
		{"size too big", meta.Cmd{Op: meta.OpSetAttr, Ino: in["f"], Valid: meta.SetSize, Size: math.MaxInt64 + 1, ChunkSize: cs}, syscall.EFBIG},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) { h.fails(t, tt.cmd, tt.want) })
	}
}

func truncate(ino meta.Ino, size uint64) meta.Cmd {
	return meta.Cmd{Op: meta.OpSetAttr, Ino: ino, Valid: meta.SetSize, Size: size, ChunkSize: cs}
}

func testTruncate(t *testing.T, open Opener) {
	t.Run("Chunked", func(t *testing.T) {
		h := newHarness(t, open)
		f := h.create(t, root, "f", sIFREG|0o644)
		h.commit(t, f.Ino, 4*cs, ref(0, 0, cs), ref(1, 1, cs), ref(2, 2, cs), ref(3, 3, cs))

		res := h.ok(t, truncate(f.Ino, cs+4))
		now := h.now
		if a := res.Attr; a.Size != cs+4 || a.Mtime != now || a.Ctime != now {
			t.Errorf("truncate = %+v", a)
		}
		wantIDs(t, "freed", res.Freed, chunkID(2), chunkID(3))
		want := []meta.ChunkRef{ref(0, 0, cs), ref(1, 1, 4)}
		if got := h.chunks(t, f.Ino); !slices.Equal(got, want) {
			t.Errorf("chunks = %+v, want %+v", got, want)
		}
		if h.refs(t, chunkID(2)) != 0 || h.refs(t, chunkID(1)) != 1 {
			t.Errorf("reference counts wrong")
		}
		wantIDs(t, "zero-ref", h.zeroRefs(t), chunkID(2), chunkID(3))
		if s := h.stats(t); s.DataBytes != cs+4 {
			t.Errorf("data bytes = %d", s.DataBytes)
		}

		// Growing keeps the trimmed Len: the bytes past it read as zeros.
		c := truncate(f.Ino, 10*cs)
		c.Valid |= meta.SetMtime
		c.Mtime = 42
		a := *h.ok(t, c).Attr
		if a.Size != 10*cs || a.Mtime != 42 {
			t.Errorf("extend = %+v", a)
		}
		if got := h.chunks(t, f.Ino); !slices.Equal(got, want) {
			t.Errorf("chunks after extend = %+v", got)
		}
		// Shrinking to a slot boundary keeps the slot whole.
		h.ok(t, truncate(f.Ino, cs))
		if got := h.chunks(t, f.Ino); !slices.Equal(got, want[:1]) {
			t.Errorf("chunks at boundary = %+v", got)
		}
		// A shrink needs the chunk size...
		h.fails(t, meta.Cmd{Op: meta.OpSetAttr, Ino: f.Ino, Valid: meta.SetSize, Size: 3}, syscall.EINVAL)
		// ...except to zero.
		res = h.ok(t, meta.Cmd{Op: meta.OpSetAttr, Ino: f.Ino, Valid: meta.SetSize})
		wantIDs(t, "freed", res.Freed, chunkID(0))
		if got := h.chunks(t, f.Ino); len(got) != 0 {
			t.Errorf("chunks after truncate to 0 = %+v", got)
		}
		if s := h.stats(t); s.DataBytes != 0 {
			t.Errorf("data bytes = %d", s.DataBytes)
		}
	})
	t.Run("Inline", func(t *testing.T) {
		h := newHarness(t, open)
		f := h.create(t, root, "f", sIFREG|0o644)
		h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, Size: 11, SetInline: true, Inline: []byte("hello world")})
		h.ok(t, truncate(f.Ino, 5))
		check := func(want []byte, size uint64) {
			t.Helper()
			got, err := h.f.Inline(ctx, f.Ino)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("inline = %q, %v; want %q", got, err, want)
			}
			if a := h.attr(t, f.Ino); a.Size != size || !a.Inline {
				t.Errorf("attr = %+v", a)
			}
		}
		check([]byte("hello"), 5)
		h.ok(t, truncate(f.Ino, 8))
		check([]byte("hello\x00\x00\x00"), 8)
		// Without a chunk size too: an inline file has no slots.
		h.ok(t, meta.Cmd{Op: meta.OpSetAttr, Ino: f.Ino, Valid: meta.SetSize, Size: 2})
		check([]byte("he"), 2)
		// Past MaxInlineLen, the stored bytes stop and the rest is zeros.
		h.ok(t, truncate(f.Ino, 1<<20))
		got, _ := h.f.Inline(ctx, f.Ino)
		if len(got) > meta.MaxInlineLen || !bytes.HasPrefix(got, []byte("he")) || bytes.Count(got, []byte{0}) != len(got)-2 {
			t.Errorf("inline after a big extend: %d bytes", len(got))
		}
		h.ok(t, truncate(f.Ino, 3))
		check([]byte("he\x00"), 3)
		if s := h.stats(t); s.DataBytes != 3 {
			t.Errorf("data bytes = %d", s.DataBytes)
		}
	})
}

func testCommit(t *testing.T, open Opener) {
	h := newHarness(t, open)
	f := h.create(t, root, "f", sIFREG|0o644)
	g := h.create(t, root, "g", sIFREG|0o644)

	res := h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, Size: 26, ChunkSize: cs, Mtime: 777,
		Chunks: []meta.ChunkRef{ref(0, 1, cs), ref(1, 2, 10)}})
	now := h.now
	if a := res.Attr; a.Size != 26 || a.Mtime != 777 || a.Ctime != now || a.Atime != f.Atime || a.Inline {
		t.Errorf("commit = %+v", a)
	}
	if len(res.Freed) != 0 {
		t.Errorf("freed = %v", res.Freed)
	}
	if got := h.chunks(t, f.Ino); !slices.Equal(got, []meta.ChunkRef{ref(0, 1, cs), ref(1, 2, 10)}) {
		t.Errorf("chunks = %+v", got)
	}
	if h.refs(t, chunkID(1)) != 1 || h.refs(t, chunkID(2)) != 1 || h.refs(t, chunkID(3)) != 0 {
		t.Errorf("refcounts wrong")
	}

	// Replacing slot 1 frees its chunk; re-setting slot 0 to its own
	// chunk changes nothing.
	res = h.commit(t, f.Ino, 30, ref(0, 1, cs), ref(1, 3, 14))
	wantIDs(t, "freed", res.Freed, chunkID(2))
	if h.refs(t, chunkID(1)) != 1 || h.refs(t, chunkID(2)) != 0 {
		t.Errorf("refcounts wrong after replace")
	}
	wantIDs(t, "zero-ref", h.zeroRefs(t), chunkID(2))

	// Dedup: one chunk in two slots of f and one of g.
	h.commit(t, f.Ino, 4*cs, ref(2, 1, cs), ref(3, 4, cs))
	h.commit(t, g.Ino, cs, ref(0, 1, cs))
	if n := h.refs(t, chunkID(1)); n != 3 {
		t.Errorf("refs of shared chunk = %d", n)
	}
	// Referencing a zero-reference chunk again drops its record.
	h.commit(t, g.Ino, 2*cs, ref(1, 2, cs))
	if z := h.zeroRefs(t); len(z) != 0 {
		t.Errorf("zero-ref after re-reference = %v", z)
	}

	// A zero ID punches a hole.
	res = h.commit(t, f.Ino, 4*cs, meta.ChunkRef{Index: 3})
	wantIDs(t, "freed by hole", res.Freed, chunkID(4))
	if got := h.chunks(t, f.Ino); len(got) != 3 || got[2].Index != 2 {
		t.Errorf("chunks after hole = %+v", got)
	}

	// DropFrom drops the tail first; a slot set again in the same
	// commit keeps its chunk (no spurious Freed).
	res = h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, Size: 2 * cs, ChunkSize: cs, HasDropFrom: true, DropFrom: 1,
		Chunks: []meta.ChunkRef{ref(1, 3, cs)}})
	if len(res.Freed) != 0 {
		t.Errorf("freed = %v", res.Freed)
	}
	if got := h.chunks(t, f.Ino); !slices.Equal(got, []meta.ChunkRef{ref(0, 1, cs), ref(1, 3, cs)}) {
		t.Errorf("chunks after DropFrom = %+v", got)
	}
	if n := h.refs(t, chunkID(1)); n != 2 {
		t.Errorf("refs of shared chunk after DropFrom = %d", n)
	}

	// Slots past the new size are dropped and the last one trimmed,
	// even those the commit sets.
	res = h.commit(t, f.Ino, cs+5, ref(5, 5, cs))
	wantIDs(t, "freed past size", res.Freed, chunkID(5))
	if got := h.chunks(t, f.Ino); !slices.Equal(got, []meta.ChunkRef{ref(0, 1, cs), ref(1, 3, 5)}) {
		t.Errorf("chunks after shrink commit = %+v", got)
	}
	// The same index twice: the last wins.
	h.commit(t, f.Ino, cs+5, ref(1, 6, 5), ref(1, 7, 5))
	if got := h.chunks(t, f.Ino); got[1].ID != chunkID(7) || h.refs(t, chunkID(6)) != 0 {
		t.Errorf("duplicate index: %+v", got)
	}
	// Mtime 0 means now.
	a := *h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, Size: cs + 5, ChunkSize: cs}).Attr
	if a.Mtime != h.now || a.Ctime != h.now {
		t.Errorf("commit without mtime = %+v", a)
	}
	if s := h.stats(t); s.DataBytes != cs+5+2*cs {
		t.Errorf("data bytes = %d", s.DataBytes)
	}
}

func testCommitInline(t *testing.T, open Opener) {
	h := newHarness(t, open)
	f := h.create(t, root, "f", sIFREG|0o644)
	h.commit(t, f.Ino, 2*cs, ref(0, 1, cs), ref(1, 2, cs))

	res := h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, Size: 5, SetInline: true, Inline: []byte("abcde"), Mtime: 99})
	wantIDs(t, "freed", res.Freed, chunkID(1), chunkID(2))
	if a := res.Attr; !a.Inline || a.Size != 5 || a.Mtime != 99 {
		t.Errorf("inline commit = %+v", a)
	}
	if got, _ := h.f.Inline(ctx, f.Ino); string(got) != "abcde" {
		t.Errorf("inline = %q", got)
	}
	if got := h.chunks(t, f.Ino); len(got) != 0 {
		t.Errorf("chunks of inline file = %+v", got)
	}
	// Shorter bytes than the size: padded with zeros.
	h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, Size: 6, SetInline: true, Inline: []byte("xyz")})
	if got, _ := h.f.Inline(ctx, f.Ino); string(got) != "xyz\x00\x00\x00" {
		t.Errorf("inline = %q", got)
	}
	// A commit without chunks keeps it inline and resizes it.
	h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, Size: 2})
	if got, _ := h.f.Inline(ctx, f.Ino); string(got) != "xy" {
		t.Errorf("inline = %q", got)
	}
	// Chunks make it a chunked file.
	res = h.commit(t, f.Ino, 20, ref(0, 3, cs), ref(1, 4, 4))
	if res.Attr.Inline {
		t.Errorf("still inline: %+v", res.Attr)
	}
	if got, err := h.f.Inline(ctx, f.Ino); got != nil || err != nil {
		t.Errorf("inline of chunked file = %q, %v", got, err)
	}
	if got := h.chunks(t, f.Ino); len(got) != 2 {
		t.Errorf("chunks = %+v", got)
	}
	// An empty inline file.
	h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, SetInline: true})
	if got, err := h.f.Inline(ctx, f.Ino); got == nil || len(got) != 0 || err != nil {
		t.Errorf("empty inline = %q, %v", got, err)
	}
	max := bytes.Repeat([]byte("m"), meta.MaxInlineLen)
	h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: f.Ino, Size: uint64(len(max)), SetInline: true, Inline: max})
	if s := h.stats(t); s.DataBytes != meta.MaxInlineLen {
		t.Errorf("data bytes = %d", s.DataBytes)
	}
}

func testCommitErrors(t *testing.T, open Opener) {
	h := newHarness(t, open)
	in := h.tree(t, "d/", "f")
	l := *h.ok(t, meta.Cmd{Op: meta.OpSymlink, Parent: root, Name: "l", Target: "f"}).Attr
	commit := func(ino meta.Ino, size, chunkSize uint64, refs ...meta.ChunkRef) meta.Cmd {
		return meta.Cmd{Op: meta.OpCommit, Ino: ino, Size: size, ChunkSize: chunkSize, Chunks: refs}
	}
	tests := []struct {
		name string
		cmd  meta.Cmd
		want syscall.Errno
	}{
		{"missing", commit(9999, 1, cs, ref(0, 1, 1)), syscall.ENOENT},
		{"dir", commit(in["d"], 1, cs, ref(0, 1, 1)), syscall.EISDIR},
		{"symlink", commit(l.Ino, 1, cs, ref(0, 1, 1)), syscall.EINVAL},
		{"no chunk size", commit(in["f"], 1, 0, ref(0, 1, 1)), syscall.EINVAL},
		{"len over chunk size", commit(in["f"], cs+1, cs, ref(0, 1, cs+1)), syscall.EINVAL},
		{"index overflow", commit(in["f"], 1, cs, ref(math.MaxUint64/2, 1, 1)), syscall.EINVAL},
		{"size too big", commit(in["f"], math.MaxInt64+1, cs), syscall.EFBIG},
		{"inline too big", meta.Cmd{Op: meta.OpCommit, Ino: in["f"], Size: meta.MaxInlineLen + 1, SetInline: true,
			Inline: make([]byte, meta.MaxInlineLen+1)}, syscall.EFBIG},
		{"inline over size", meta.Cmd{Op: meta.OpCommit, Ino: in["f"], Size: 2, SetInline: true, Inline: []byte("abc")}, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { h.fails(t, tt.cmd, tt.want) })
	}
	if _, err := h.f.Chunks(ctx, in["d"]); err != syscall.EISDIR {
		t.Errorf("chunks of a dir: %v", err)
	}
	if _, err := h.f.Chunks(ctx, l.Ino); err != syscall.EINVAL {
		t.Errorf("chunks of a symlink: %v", err)
	}
}

func testRefCounts(t *testing.T, open Opener) {
	h := newHarness(t, open)
	f := h.create(t, root, "f", sIFREG|0o644)
	h.commit(t, f.Ino, 3*cs, ref(0, 1, cs), ref(1, 2, cs), ref(2, 3, cs))
	h.ok(t, truncate(f.Ino, 2*cs)) // frees 3
	t3 := h.now
	h.ok(t, truncate(f.Ino, cs)) // frees 2
	t2 := h.now

	z, err := h.f.ZeroRefChunks(ctx, t3, 0)
	if err != nil || len(z) != 0 {
		t.Errorf("zero-ref before %d = %v, %v", t3, z, err)
	}
	z, _ = h.f.ZeroRefChunks(ctx, t3+1, 0)
	wantIDs(t, "zero-ref before t3+1", z, chunkID(3))
	z, _ = h.f.ZeroRefChunks(ctx, t2+1, 0)
	if !slices.Equal(z, []store.ChunkID{chunkID(3), chunkID(2)}) {
		t.Errorf("zero-ref, oldest first = %v", z)
	}
	z, _ = h.f.ZeroRefChunks(ctx, math.MaxInt64, 1)
	if !slices.Equal(z, []store.ChunkID{chunkID(3)}) {
		t.Errorf("zero-ref limit 1 = %v", z)
	}
	z, _ = h.f.ZeroRefChunks(ctx, math.MinInt64, 0)
	if len(z) != 0 {
		t.Errorf("zero-ref before the epoch = %v", z)
	}

	// Forget: only zero-reference records go; referenced and unknown
	// chunks are left alone.
	res := h.ok(t, meta.Cmd{Op: meta.OpForgetChunks, ChunkIDs: []store.ChunkID{chunkID(3), chunkID(1), chunkID(99)}})
	if len(res.Freed) != 0 {
		t.Errorf("forget freed %v", res.Freed)
	}
	wantIDs(t, "zero-ref after forget", h.zeroRefs(t), chunkID(2))
	if h.refs(t, chunkID(1)) != 1 || h.refs(t, chunkID(3)) != 0 {
		t.Errorf("refcounts after forget wrong")
	}
	// A forgotten chunk can be referenced (uploaded) again.
	h.commit(t, f.Ino, 2*cs, ref(1, 3, cs))
	if h.refs(t, chunkID(3)) != 1 {
		t.Errorf("re-referenced forgotten chunk")
	}
	h.ok(t, meta.Cmd{Op: meta.OpForgetChunks})
}

func testReclaim(t *testing.T, open Opener) {
	h := newHarness(t, open)
	in := h.tree(t, "f", "g")
	h.commit(t, in["f"], 3*cs, ref(0, 1, cs), ref(1, 2, cs), ref(2, 3, cs))
	h.commit(t, in["g"], cs, ref(0, 1, cs))
	h.ok(t, meta.Cmd{Op: meta.OpSetXattr, Ino: in["f"], Name: "user.x", Value: []byte("1")})

	// With links left, Reclaim does nothing.
	before := dump(t, h.f)
	res := h.ok(t, meta.Cmd{Op: meta.OpReclaim, Ino: in["f"]})
	if len(res.Freed) != 0 || strip(dump(t, h.f)) != strip(before) {
		t.Errorf("reclaim of a linked inode changed something: %+v", res)
	}

	res = h.ok(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "f"})
	if !slices.Equal(res.Orphans, []meta.Ino{in["f"]}) {
		t.Fatalf("orphans = %v", res.Orphans)
	}
	st := h.stats(t)
	res = h.ok(t, meta.Cmd{Op: meta.OpReclaim, Ino: in["f"]})
	wantIDs(t, "freed", res.Freed, chunkID(2), chunkID(3))
	if _, err := h.f.GetAttr(ctx, in["f"]); err != syscall.ENOENT {
		t.Errorf("getattr after reclaim: %v", err)
	}
	if _, err := h.f.Chunks(ctx, in["f"]); err != syscall.ENOENT {
		t.Errorf("chunks after reclaim: %v", err)
	}
	if o, _ := h.f.Orphans(ctx); len(o) != 0 {
		t.Errorf("orphans after reclaim = %v", o)
	}
	if h.refs(t, chunkID(1)) != 1 {
		t.Errorf("shared chunk lost its other reference")
	}
	if s := h.stats(t); s.Inodes != st.Inodes-1 || s.DataBytes != st.DataBytes-3*cs {
		t.Errorf("stats %+v -> %+v", st, s)
	}
	h.fails(t, meta.Cmd{Op: meta.OpReclaim, Ino: in["f"]}, syscall.ENOENT)

	// An orphan made by rename is reclaimed the same way.
	h.tree(t, "a")
	res = h.ok(t, rename(root, "a", root, "g", 0))
	if !slices.Equal(res.Orphans, []meta.Ino{in["g"]}) {
		t.Fatalf("rename orphans = %v", res.Orphans)
	}
	res = h.ok(t, meta.Cmd{Op: meta.OpReclaim, Ino: in["g"]})
	wantIDs(t, "freed by rename orphan", res.Freed, chunkID(1))
	if s := h.stats(t); s.Inodes != 2 || s.DataBytes != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func testXattr(t *testing.T, open Opener) {
	h := newHarness(t, open)
	in := h.tree(t, "f", "d/")
	set := func(ino meta.Ino, name, value string, flags uint32) meta.Cmd {
		return meta.Cmd{Op: meta.OpSetXattr, Ino: ino, Name: name, Value: []byte(value), Flags: flags}
	}
	h.ok(t, set(in["f"], "user.b", "2", 0))
	if a := h.attr(t, in["f"]); a.Ctime != h.now {
		t.Errorf("setxattr ctime = %+v", a)
	}
	h.ok(t, set(in["f"], "user.a", "1", meta.XattrCreate))
	h.ok(t, set(in["f"], "user.b", "22", meta.XattrReplace))
	h.ok(t, set(in["f"], "user.empty", "", 0))
	h.ok(t, set(in["d"], "user.a", "dir", 0))
	big := strings.Repeat("v", meta.MaxXattrValue)
	h.ok(t, set(in["f"], "user.big", big, 0))
	long := strings.Repeat("n", meta.MaxXattrName)
	h.ok(t, set(in["f"], long, "x", 0))

	names, err := h.f.ListXattr(ctx, in["f"])
	if want := []string{long, "user.a", "user.b", "user.big", "user.empty"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("listxattr = %q, %v; want %q", names, err, want)
	}
	for name, want := range map[string]string{"user.a": "1", "user.b": "22", "user.big": big, "user.empty": ""} {
		v, err := h.f.GetXattr(ctx, in["f"], name)
		if err != nil || string(v) != want || v == nil {
			t.Errorf("getxattr %s = %.20q, %v", name, v, err)
		}
	}
	if v, _ := h.f.GetXattr(ctx, in["d"], "user.a"); string(v) != "dir" {
		t.Errorf("dir xattr = %q", v)
	}
	if _, err := h.f.GetXattr(ctx, in["f"], "user.none"); err != syscall.ENODATA {
		t.Errorf("getxattr missing: %v", err)
	}
	if _, err := h.f.GetXattr(ctx, 9999, "user.a"); err != syscall.ENOENT {
		t.Errorf("getxattr of missing inode: %v", err)
	}
	if names, err := h.f.ListXattr(ctx, in["d"]); err != nil || len(names) != 1 {
		t.Errorf("listxattr of dir = %q, %v", names, err)
	}

	tests := []struct {
		name string
		cmd  meta.Cmd
		want syscall.Errno
	}{
		{"create existing", set(in["f"], "user.a", "x", meta.XattrCreate), syscall.EEXIST},
		{"replace missing", set(in["f"], "user.none", "x", meta.XattrReplace), syscall.ENODATA},
		{"both flags", set(in["f"], "user.c", "x", meta.XattrCreate|meta.XattrReplace), syscall.EINVAL},
		{"unknown flag", set(in["f"], "user.c", "x", 4), syscall.EINVAL},
		{"empty name", set(in["f"], "", "x", 0), syscall.ERANGE},
		{"long name", set(in["f"], long+"n", "x", 0), syscall.ERANGE},
		{"nul in name", set(in["f"], "user.\x00", "x", 0), syscall.EINVAL},
		{"value too big", set(in["f"], "user.c", big+"v", 0), syscall.E2BIG},
		{"missing inode", set(9999, "user.c", "x", 0), syscall.ENOENT},
		{"remove missing", meta.Cmd{Op: meta.OpRemoveXattr, Ino: in["f"], Name: "user.none"}, syscall.ENODATA},
		{"remove empty name", meta.Cmd{Op: meta.OpRemoveXattr, Ino: in["f"]}, syscall.ERANGE},
		{"remove from missing inode", meta.Cmd{Op: meta.OpRemoveXattr, Ino: 9999, Name: "user.a"}, syscall.ENOENT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { h.fails(t, tt.cmd, tt.want) })
	}

	h.ok(t, meta.Cmd{Op: meta.OpRemoveXattr, Ino: in["f"], Name: "user.a"})
	if a := h.attr(t, in["f"]); a.Ctime != h.now {
		t.Errorf("removexattr ctime = %+v", a)
	}
	if _, err := h.f.GetXattr(ctx, in["f"], "user.a"); err != syscall.ENODATA {
		t.Errorf("getxattr after remove: %v", err)
	}
	if _, err := h.f.GetXattr(ctx, in["f"], ""); err != syscall.ERANGE {
		t.Errorf("getxattr of empty name: %v", err)
	}
}

func testStats(t *testing.T, open Opener) {
	h := newHarness(t, open)
	in := h.tree(t, "d/", "d/f", "g")
	h.commit(t, in["d/f"], 40, ref(0, 1, cs), ref(1, 2, cs), ref(2, 3, 8))
	h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: in["g"], Size: 3, SetInline: true, Inline: []byte("abc")})
	want := meta.Stats{Inodes: 4, NextIno: 5, Applied: 5, DataBytes: 43}
	if s := h.stats(t); s != want {
		t.Errorf("stats = %+v, want %+v", s, want)
	}
	h.fails(t, meta.Cmd{Op: meta.OpMkdir, Parent: root, Name: "d"}, syscall.EEXIST)
	want.Applied++
	if s := h.stats(t); s != want {
		t.Errorf("a failed command must advance only the applied index: %+v", s)
	}
	if h.f.AppliedIndex() != want.Applied {
		t.Errorf("AppliedIndex = %d", h.f.AppliedIndex())
	}
}

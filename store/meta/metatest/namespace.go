package metatest

import (
	"bytes"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store/meta"
)

const root = meta.RootIno

func testRoot(t *testing.T, open Opener) {
	h := newHarness(t, open)
	a := h.attr(t, root)
	want := meta.Attr{Ino: root, Mode: sIFDIR | 0o755, Nlink: 2}
	if a != want {
		t.Errorf("root = %+v, want %+v", a, want)
	}
	ents, err := h.f.ReadDir(ctx, root)
	if err != nil || len(ents) != 0 {
		t.Errorf("readdir root = %v, %v; want empty", ents, err)
	}
	if s := h.stats(t); s != (meta.Stats{Inodes: 1, NextIno: root + 1}) {
		t.Errorf("stats = %+v", s)
	}
	if h.f.AppliedIndex() != 0 {
		t.Errorf("applied index %d", h.f.AppliedIndex())
	}
}

func testCreate(t *testing.T, open Opener) {
	h := newHarness(t, open)
	res := h.ok(t, meta.Cmd{Op: meta.OpCreate, Parent: root, Name: "f", Mode: sIFREG | 0o644, Uid: 10, Gid: 20, Excl: true})
	now := h.now
	want := meta.Attr{Ino: root + 1, Mode: sIFREG | 0o644, Uid: 10, Gid: 20, Nlink: 1, Atime: now, Mtime: now, Ctime: now}
	if *res.Attr != want {
		t.Fatalf("create = %+v, want %+v", *res.Attr, want)
	}
	if a := h.lookup(t, root, "f"); a != want {
		t.Errorf("lookup = %+v", a)
	}
	if a := h.attr(t, want.Ino); a != want {
		t.Errorf("getattr = %+v", a)
	}
	r := h.attr(t, root)
	if r.Mtime != now || r.Ctime != now || r.Atime != 0 || r.Nlink != 2 {
		t.Errorf("parent after create = %+v", r)
	}
	ents, _ := h.f.ReadDir(ctx, root)
	if len(ents) != 1 || ents[0] != (meta.DirEntry{Name: "f", Ino: want.Ino, Mode: sIFREG}) {
		t.Errorf("readdir = %+v", ents)
	}
	if s := h.stats(t); s.Inodes != 2 || s.NextIno != root+2 || s.Applied != 1 {
		t.Errorf("stats = %+v", s)
	}

	types := []struct {
		name     string
		mode     uint32
		rdev     uint32
		wantMode uint32
		wantRdev uint32
	}{
		{"plain", 0o600, 0, sIFREG | 0o600, 0},
		{"fifo", sIFIFO | 0o640, 7, sIFIFO | 0o640, 0},
		{"sock", sIFSOCK | 0o755, 0, sIFSOCK | 0o755, 0},
		{"chr", sIFCHR | 0o620, 0x0501, sIFCHR | 0o620, 0x0501},
		{"blk", sIFBLK | 0o660, 0x0803, sIFBLK | 0o660, 0x0803},
		{"suid", sIFREG | 0o4755, 0, sIFREG | 0o4755, 0},
	}
	for _, tt := range types {
		t.Run(tt.name, func(t *testing.T) {
			a := *h.ok(t, meta.Cmd{Op: meta.OpCreate, Parent: root, Name: tt.name, Mode: tt.mode, Rdev: tt.rdev}).Attr
			if a.Mode != tt.wantMode || a.Rdev != tt.wantRdev || a.Nlink != 1 {
				t.Errorf("create %s = %+v", tt.name, a)
			}
			ents, _ := h.f.ReadDir(ctx, root)
			i := slices.IndexFunc(ents, func(e meta.DirEntry) bool { return e.Name == tt.name })
			if i < 0 || ents[i].Mode != tt.wantMode&syscall.S_IFMT {
				t.Errorf("readdir entry %s = %+v", tt.name, ents)
			}
		})
	}
	for _, bad := range []uint32{sIFDIR | 0o755, sIFLNK | 0o777, 0o170000} {
		h.fails(t, meta.Cmd{Op: meta.OpCreate, Parent: root, Name: "bad", Mode: bad}, syscall.EINVAL)
	}
	ents, _ = h.f.ReadDir(ctx, root)
	if !slices.IsSortedFunc(ents, func(a, b meta.DirEntry) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("readdir not sorted: %+v", ents)
	}
}

func testCreateExisting(t *testing.T, open Opener) {
	h := newHarness(t, open)
	f := h.create(t, root, "file", sIFREG|0o644)
	h.create(t, root, "fifo", sIFIFO|0o644)
	h.mkdir(t, root, "dir", 0o755)
	h.ok(t, meta.Cmd{Op: meta.OpSymlink, Parent: root, Name: "link", Target: "file"})
	r := h.attr(t, root)

	res := h.ok(t, meta.Cmd{Op: meta.OpCreate, Parent: root, Name: "file", Mode: sIFREG | 0o600})
	if res.Attr == nil || *res.Attr != f {
		t.Errorf("non-exclusive create of an existing file = %+v, want %+v", res.Attr, f)
	}
	if got := h.attr(t, root); got != r {
		t.Errorf("non-exclusive create changed the parent: %+v -> %+v", r, got)
	}
	tests := []struct {
		name string
		excl bool
		want syscall.Errno
	}{
		{"file", true, syscall.EEXIST},
		{"fifo", false, syscall.EEXIST},
		{"fifo", true, syscall.EEXIST},
		{"link", false, syscall.EEXIST},
		{"dir", false, syscall.EISDIR},
		{"dir", true, syscall.EEXIST},
	}
	for _, tt := range tests {
		h.fails(t, meta.Cmd{Op: meta.OpCreate, Parent: root, Name: tt.name, Mode: sIFREG | 0o644, Excl: tt.excl}, tt.want)
	}
	for _, op := range []meta.Op{meta.OpMkdir, meta.OpSymlink} {
		for _, name := range []string{"file", "dir", "link"} {
			h.fails(t, meta.Cmd{Op: op, Parent: root, Name: name, Mode: 0o755, Target: "x"}, syscall.EEXIST)
		}
	}
}

// testNameErrors checks name and parent validation of every op that
// takes a directory entry.
func testNameErrors(t *testing.T, open Opener) {
	h := newHarness(t, open)
	file := h.create(t, root, "file", sIFREG|0o644)
	h.mkdir(t, root, "dir", 0o755)
	long := strings.Repeat("n", meta.MaxNameLen+1)
	max := strings.Repeat("m", meta.MaxNameLen)

	ops := []struct {
		op  string
		cmd func(parent meta.Ino, name string) meta.Cmd
	}{
		{"create", func(p meta.Ino, n string) meta.Cmd {
			return meta.Cmd{Op: meta.OpCreate, Parent: p, Name: n, Mode: sIFREG | 0o644}
		}},
		{"mkdir", func(p meta.Ino, n string) meta.Cmd {
			return meta.Cmd{Op: meta.OpMkdir, Parent: p, Name: n, Mode: 0o755}
		}},
		{"symlink", func(p meta.Ino, n string) meta.Cmd {
			return meta.Cmd{Op: meta.OpSymlink, Parent: p, Name: n, Target: "t"}
		}},
		{"link", func(p meta.Ino, n string) meta.Cmd {
			return meta.Cmd{Op: meta.OpLink, Ino: file.Ino, Parent: p, Name: n}
		}},
		{"unlink", func(p meta.Ino, n string) meta.Cmd { return meta.Cmd{Op: meta.OpUnlink, Parent: p, Name: n} }},
		{"rmdir", func(p meta.Ino, n string) meta.Cmd { return meta.Cmd{Op: meta.OpRmdir, Parent: p, Name: n} }},
		{"rename-from", func(p meta.Ino, n string) meta.Cmd {
			return meta.Cmd{Op: meta.OpRename, Parent: p, Name: n, NewParent: root, NewName: "new"}
		}},
		{"rename-to", func(p meta.Ino, n string) meta.Cmd {
			return meta.Cmd{Op: meta.OpRename, Parent: root, Name: "file", NewParent: p, NewName: n}
		}},
	}
	names := []struct {
		name   string
		parent meta.Ino
		entry  string
		want   syscall.Errno
	}{
		{"empty", root, "", syscall.EINVAL},
		{"dot", root, ".", syscall.EINVAL},
		{"dotdot", root, "..", syscall.EINVAL},
		{"slash", root, "a/b", syscall.EINVAL},
		{"nul", root, "a\x00b", syscall.EINVAL},
		{"toolong", root, long, syscall.ENAMETOOLONG},
		{"noparent", 9999, "x", syscall.ENOENT},
		{"parentfile", file.Ino, "x", syscall.ENOTDIR},
	}
	for _, op := range ops {
		for _, n := range names {
			t.Run(op.op+"/"+n.name, func(t *testing.T) {
				h.fails(t, op.cmd(n.parent, n.entry), n.want)
			})
		}
	}
	// A name of exactly MaxNameLen bytes is fine.
	h.create(t, root, max, sIFREG|0o644)
	h.lookup(t, root, max)
	if _, err := h.f.Lookup(ctx, root, long); err != syscall.ENAMETOOLONG {
		t.Errorf("lookup of a long name: %v", err)
	}
	if _, err := h.f.Lookup(ctx, root, "missing"); err != syscall.ENOENT {
		t.Errorf("lookup of a missing name: %v", err)
	}
	if _, err := h.f.Lookup(ctx, file.Ino, "x"); err != syscall.ENOTDIR {
		t.Errorf("lookup in a file: %v", err)
	}
	if _, err := h.f.ReadDir(ctx, file.Ino); err != syscall.ENOTDIR {
		t.Errorf("readdir of a file: %v", err)
	}
	if _, err := h.f.GetAttr(ctx, 9999); err != syscall.ENOENT {
		t.Errorf("getattr of a missing inode: %v", err)
	}
}

func testMkdir(t *testing.T, open Opener) {
	h := newHarness(t, open)
	d := h.mkdir(t, root, "d", sIFDIR|0o750)
	now := h.now
	want := meta.Attr{Ino: root + 1, Mode: sIFDIR | 0o750, Nlink: 2, Atime: now, Mtime: now, Ctime: now}
	if d != want {
		t.Errorf("mkdir = %+v, want %+v", d, want)
	}
	r := h.attr(t, root)
	if r.Nlink != 3 || r.Mtime != now || r.Ctime != now {
		t.Errorf("parent = %+v", r)
	}
	h.mkdir(t, d.Ino, "e", 0o700)
	h.create(t, d.Ino, "f", sIFREG|0o644)
	if a := h.attr(t, d.Ino); a.Nlink != 3 {
		t.Errorf("nlink with one subdirectory and one file = %d, want 3", a.Nlink)
	}
	if a := h.attr(t, root); a.Nlink != 3 {
		t.Errorf("root nlink = %d", a.Nlink)
	}
	ents, _ := h.f.ReadDir(ctx, d.Ino)
	if len(ents) != 2 || ents[0].Name != "e" || ents[0].Mode != sIFDIR || ents[1].Name != "f" {
		t.Errorf("readdir = %+v", ents)
	}
	h.fails(t, meta.Cmd{Op: meta.OpMkdir, Parent: root, Name: "d", Mode: 0o755}, syscall.EEXIST)
}

func testSetgid(t *testing.T, open Opener) {
	h := newHarness(t, open)
	g := *h.ok(t, meta.Cmd{Op: meta.OpMkdir, Parent: root, Name: "g", Mode: 0o2775, Uid: 5, Gid: 50}).Attr
	if g.Mode != sIFDIR|0o2775 || g.Gid != 50 {
		t.Fatalf("setgid dir = %+v", g)
	}
	f := *h.ok(t, meta.Cmd{Op: meta.OpCreate, Parent: g.Ino, Name: "f", Mode: sIFREG | 0o644, Uid: 7, Gid: 7}).Attr
	if f.Gid != 50 || f.Uid != 7 || f.Mode != sIFREG|0o644 {
		t.Errorf("file in setgid dir = %+v", f)
	}
	sub := *h.ok(t, meta.Cmd{Op: meta.OpMkdir, Parent: g.Ino, Name: "sub", Mode: 0o755, Uid: 7, Gid: 7}).Attr
	if sub.Gid != 50 || sub.Mode != sIFDIR|0o2755 {
		t.Errorf("subdirectory of setgid dir = %+v", sub)
	}
	deeper := *h.ok(t, meta.Cmd{Op: meta.OpCreate, Parent: sub.Ino, Name: "x", Mode: sIFREG | 0o600, Gid: 7}).Attr
	if deeper.Gid != 50 {
		t.Errorf("file two levels down = %+v", deeper)
	}
	l := *h.ok(t, meta.Cmd{Op: meta.OpSymlink, Parent: g.Ino, Name: "l", Target: "f", Gid: 7}).Attr
	if l.Gid != 50 {
		t.Errorf("symlink in setgid dir = %+v", l)
	}
	plain := *h.ok(t, meta.Cmd{Op: meta.OpMkdir, Parent: root, Name: "plain", Mode: 0o755, Gid: 7}).Attr
	if plain.Gid != 7 || plain.Mode&syscall.S_ISGID != 0 {
		t.Errorf("dir outside = %+v", plain)
	}
}

func testSymlink(t *testing.T, open Opener) {
	h := newHarness(t, open)
	l := *h.ok(t, meta.Cmd{Op: meta.OpSymlink, Parent: root, Name: "l", Target: "../some/where", Uid: 3, Gid: 4}).Attr
	now := h.now
	want := meta.Attr{Ino: root + 1, Mode: sIFLNK | 0o777, Uid: 3, Gid: 4, Size: 13, Nlink: 1, Atime: now, Mtime: now, Ctime: now}
	if l != want {
		t.Errorf("symlink = %+v, want %+v", l, want)
	}
	if s, err := h.f.Readlink(ctx, l.Ino); err != nil || s != "../some/where" {
		t.Errorf("readlink = %q, %v", s, err)
	}
	if r := h.attr(t, root); r.Mtime != now || r.Nlink != 2 {
		t.Errorf("parent = %+v", r)
	}
	max := strings.Repeat("t", meta.MaxSymlinkLen)
	h.ok(t, meta.Cmd{Op: meta.OpSymlink, Parent: root, Name: "max", Target: max})
	if s, _ := h.f.Readlink(ctx, h.lookup(t, root, "max").Ino); s != max {
		t.Errorf("long target not kept")
	}
	h.fails(t, meta.Cmd{Op: meta.OpSymlink, Parent: root, Name: "long", Target: max + "t"}, syscall.ENAMETOOLONG)
	h.fails(t, meta.Cmd{Op: meta.OpSymlink, Parent: root, Name: "empty"}, syscall.ENOENT)
	f := h.create(t, root, "f", sIFREG|0o644)
	if _, err := h.f.Readlink(ctx, f.Ino); err != syscall.EINVAL {
		t.Errorf("readlink of a file: %v", err)
	}
	if _, err := h.f.Readlink(ctx, 9999); err != syscall.ENOENT {
		t.Errorf("readlink of a missing inode: %v", err)
	}
}

func testLink(t *testing.T, open Opener) {
	h := newHarness(t, open)
	d := h.mkdir(t, root, "d", 0o755)
	f := h.create(t, root, "f", sIFREG|0o644)
	res := h.ok(t, meta.Cmd{Op: meta.OpLink, Ino: f.Ino, Parent: d.Ino, Name: "g"})
	now := h.now
	if res.Attr.Nlink != 2 || res.Attr.Ctime != now || res.Attr.Mtime != f.Mtime || res.Attr.Ino != f.Ino {
		t.Errorf("link = %+v", res.Attr)
	}
	if a := h.lookup(t, d.Ino, "g"); a != *res.Attr {
		t.Errorf("lookup of new link = %+v", a)
	}
	if a := h.lookup(t, root, "f"); a.Nlink != 2 {
		t.Errorf("old name nlink = %d", a.Nlink)
	}
	if a := h.attr(t, d.Ino); a.Mtime != now || a.Ctime != now || a.Nlink != 2 {
		t.Errorf("parent = %+v", a)
	}
	if s := h.stats(t); s.Inodes != 3 {
		t.Errorf("inodes = %d", s.Inodes)
	}
	h.fails(t, meta.Cmd{Op: meta.OpLink, Ino: d.Ino, Parent: root, Name: "d2"}, syscall.EPERM)
	h.fails(t, meta.Cmd{Op: meta.OpLink, Ino: 9999, Parent: root, Name: "x"}, syscall.ENOENT)
	h.fails(t, meta.Cmd{Op: meta.OpLink, Ino: f.Ino, Parent: root, Name: "d"}, syscall.EEXIST)
	h.fails(t, meta.Cmd{Op: meta.OpLink, Ino: f.Ino, Parent: 9999, Name: "x"}, syscall.ENOENT)
	// An orphan cannot get a name again.
	o := h.create(t, root, "o", sIFREG|0o644)
	h.ok(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "o"})
	h.fails(t, meta.Cmd{Op: meta.OpLink, Ino: o.Ino, Parent: root, Name: "o"}, syscall.ENOENT)
	// Links to symlinks and special files are fine.
	l := *h.ok(t, meta.Cmd{Op: meta.OpSymlink, Parent: root, Name: "l", Target: "f"}).Attr
	h.ok(t, meta.Cmd{Op: meta.OpLink, Ino: l.Ino, Parent: root, Name: "l2"})
}

// testLinkMax fills a file and a directory up to MaxLinks.
func testLinkMax(t *testing.T, open Opener) {
	if testing.Short() {
		t.Skip("65,000 links: skipped in -short mode")
	}
	h := newHarness(t, open)
	f := h.create(t, root, "f", sIFREG|0o644)
	d := h.mkdir(t, root, "d", 0o755)
	for i := 1; i < meta.MaxLinks; i++ {
		h.ok(t, meta.Cmd{Op: meta.OpLink, Ino: f.Ino, Parent: d.Ino, Name: "l" + itoa(i)})
	}
	if a := h.attr(t, f.Ino); a.Nlink != meta.MaxLinks {
		t.Fatalf("nlink = %d", a.Nlink)
	}
	// (h.fails would dump 130,000 entries.)
	emlink := func(c meta.Cmd) {
		t.Helper()
		if res := h.apply(t, c); res.Errno != syscall.EMLINK {
			t.Fatalf("%v: errno %v, want EMLINK", c.Op, res.Errno)
		}
	}
	emlink(meta.Cmd{Op: meta.OpLink, Ino: f.Ino, Parent: root, Name: "one-more"})

	for i := 2; i < meta.MaxLinks; i++ {
		h.mkdir(t, d.Ino, "s"+itoa(i), 0o755)
	}
	if a := h.attr(t, d.Ino); a.Nlink != meta.MaxLinks {
		t.Fatalf("dir nlink = %d", a.Nlink)
	}
	emlink(meta.Cmd{Op: meta.OpMkdir, Parent: d.Ino, Name: "one-more", Mode: 0o755})
	h.mkdir(t, root, "elsewhere", 0o755)
	emlink(meta.Cmd{Op: meta.OpRename, Parent: root, Name: "elsewhere", NewParent: d.Ino, NewName: "x"})
	if a := h.attr(t, d.Ino); a.Nlink != meta.MaxLinks {
		t.Errorf("dir nlink after refused ops = %d", a.Nlink)
	}
	// Files may still be added.
	h.create(t, d.Ino, "file", sIFREG|0o644)
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{digits[i%10]}, b...)
	}
	return string(b)
}

func testUnlink(t *testing.T, open Opener) {
	h := newHarness(t, open)
	d := h.mkdir(t, root, "d", 0o755)
	f := h.create(t, d.Ino, "f", sIFREG|0o644)
	h.ok(t, meta.Cmd{Op: meta.OpLink, Ino: f.Ino, Parent: root, Name: "g"})
	h.commit(t, f.Ino, 20, ref(0, 1, cs), ref(1, 2, 4))

	res := h.ok(t, meta.Cmd{Op: meta.OpUnlink, Parent: d.Ino, Name: "f"})
	now := h.now
	if len(res.Orphans) != 0 || res.Attr == nil || res.Attr.Nlink != 1 || res.Attr.Ctime != now {
		t.Errorf("unlink of one of two links = %+v %+v", res, res.Attr)
	}
	if a := h.attr(t, d.Ino); a.Mtime != now || a.Ctime != now {
		t.Errorf("parent = %+v", a)
	}
	if _, err := h.f.Lookup(ctx, d.Ino, "f"); err != syscall.ENOENT {
		t.Errorf("lookup after unlink: %v", err)
	}
	if a := h.lookup(t, root, "g"); a.Nlink != 1 || a.Ctime != now {
		t.Errorf("other link = %+v", a)
	}

	res = h.ok(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "g"})
	if !slices.Equal(res.Orphans, []meta.Ino{f.Ino}) || len(res.Freed) != 0 {
		t.Errorf("unlink of the last link: %+v", res)
	}
	// The orphan stays, with its data, until reclaimed.
	if a := h.attr(t, f.Ino); a.Nlink != 0 || a.Size != 20 {
		t.Errorf("orphan = %+v", a)
	}
	if c := h.chunks(t, f.Ino); len(c) != 2 {
		t.Errorf("orphan chunks = %+v", c)
	}
	if h.refs(t, chunkID(1)) != 1 {
		t.Errorf("orphan's chunk lost its reference")
	}
	if o, err := h.f.Orphans(ctx); err != nil || !slices.Equal(o, []meta.Ino{f.Ino}) {
		t.Errorf("orphans = %v, %v", o, err)
	}
	if s := h.stats(t); s.Inodes != 3 || s.DataBytes != 20 {
		t.Errorf("stats = %+v", s)
	}

	h.mkdir(t, root, "sub", 0o755)
	h.fails(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "sub"}, syscall.EISDIR)
	h.fails(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "missing"}, syscall.ENOENT)
	// Symlinks and special files unlink like files.
	h.ok(t, meta.Cmd{Op: meta.OpSymlink, Parent: root, Name: "l", Target: "x"})
	if res := h.ok(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "l"}); len(res.Orphans) != 1 {
		t.Errorf("symlink unlink = %+v", res)
	}
}

func testRmdir(t *testing.T, open Opener) {
	h := newHarness(t, open)
	d := h.mkdir(t, root, "d", 0o755)
	e := h.mkdir(t, d.Ino, "e", 0o755)
	h.ok(t, meta.Cmd{Op: meta.OpSetXattr, Ino: e.Ino, Name: "user.a", Value: []byte("v")})
	h.create(t, root, "f", sIFREG|0o644)

	h.fails(t, meta.Cmd{Op: meta.OpRmdir, Parent: root, Name: "d"}, syscall.ENOTEMPTY)
	h.fails(t, meta.Cmd{Op: meta.OpRmdir, Parent: root, Name: "f"}, syscall.ENOTDIR)
	h.fails(t, meta.Cmd{Op: meta.OpRmdir, Parent: root, Name: "missing"}, syscall.ENOENT)

	before := h.stats(t)
	res := h.ok(t, meta.Cmd{Op: meta.OpRmdir, Parent: d.Ino, Name: "e"})
	now := h.now
	// The directory becomes an orphan: nlink 0 (as ext4 shows it), its
	// attributes and xattrs kept for those who still have it open.
	if !slices.Equal(res.Orphans, []meta.Ino{e.Ino}) || res.Attr == nil || res.Attr.Nlink != 0 {
		t.Errorf("rmdir = %+v %+v", res, res.Attr)
	}
	if a := h.attr(t, d.Ino); a.Nlink != 2 || a.Mtime != now || a.Ctime != now {
		t.Errorf("parent = %+v", a)
	}
	if a := h.attr(t, e.Ino); a.Nlink != 0 || a.Mode != sIFDIR|0o755 || a.Ctime != now || a.Mtime != e.Mtime {
		t.Errorf("removed dir = %+v", a)
	}
	if v, err := h.f.GetXattr(ctx, e.Ino, "user.a"); err != nil || string(v) != "v" {
		t.Errorf("xattr of removed dir: %q, %v", v, err)
	}
	if ents, err := h.f.ReadDir(ctx, e.Ino); err != nil || len(ents) != 0 {
		t.Errorf("readdir of removed dir: %v, %v", ents, err)
	}
	if o, err := h.f.Orphans(ctx); err != nil || !slices.Equal(o, []meta.Ino{e.Ino}) {
		t.Errorf("orphans = %v, %v", o, err)
	}
	if _, err := h.f.Lookup(ctx, d.Ino, "e"); err != syscall.ENOENT {
		t.Errorf("lookup of removed dir: %v", err)
	}
	if _, err := h.f.Lookup(ctx, e.Ino, "x"); err != syscall.ENOENT {
		t.Errorf("lookup in removed dir: %v", err)
	}
	if s := h.stats(t); s.Inodes != before.Inodes {
		t.Errorf("inodes %d -> %d before the reclaim", before.Inodes, s.Inodes)
	}
	// Nothing can be made in it: ENOENT, as on Linux.
	f := h.lookup(t, root, "f")
	for _, c := range []meta.Cmd{
		{Op: meta.OpCreate, Parent: e.Ino, Name: "x", Mode: sIFREG | 0o644},
		{Op: meta.OpCreate, Parent: e.Ino, Name: "x", Mode: sIFIFO | 0o644, Excl: true},
		{Op: meta.OpMkdir, Parent: e.Ino, Name: "x", Mode: 0o755},
		{Op: meta.OpSymlink, Parent: e.Ino, Name: "x", Target: "t"},
		{Op: meta.OpLink, Ino: f.Ino, Parent: e.Ino, Name: "x"},
		{Op: meta.OpTmpfile, Parent: e.Ino, Mode: sIFREG | 0o600},
		rename(root, "f", e.Ino, "x", 0),
		rename(root, "f", e.Ino, "x", meta.RenameNoReplace),
		{Op: meta.OpUnlink, Parent: e.Ino, Name: "x"},
		{Op: meta.OpRmdir, Parent: e.Ino, Name: "x"},
	} {
		h.fails(t, c, syscall.ENOENT)
	}
	// Attributes may still change (fchmod of an open removed directory).
	h.ok(t, meta.Cmd{Op: meta.OpSetAttr, Ino: e.Ino, Valid: meta.SetMode, Mode: 0o700})

	// The parent can go now, and goes the same way.
	res = h.ok(t, meta.Cmd{Op: meta.OpRmdir, Parent: root, Name: "d"})
	if !slices.Equal(res.Orphans, []meta.Ino{d.Ino}) {
		t.Errorf("rmdir orphans = %v", res.Orphans)
	}
	if a := h.attr(t, root); a.Nlink != 2 {
		t.Errorf("root nlink = %d", a.Nlink)
	}

	// Reclaim deletes the record and the xattrs, in any order.
	for _, ino := range []meta.Ino{d.Ino, e.Ino} {
		if res := h.ok(t, meta.Cmd{Op: meta.OpReclaim, Ino: ino}); len(res.Freed) != 0 {
			t.Errorf("reclaim of a directory freed %v", res.Freed)
		}
		if _, err := h.f.GetAttr(ctx, ino); err != syscall.ENOENT {
			t.Errorf("getattr of reclaimed dir: %v", err)
		}
		if _, err := h.f.ListXattr(ctx, ino); err != syscall.ENOENT {
			t.Errorf("listxattr of reclaimed dir: %v", err)
		}
	}
	if o, _ := h.f.Orphans(ctx); len(o) != 0 {
		t.Errorf("orphans after reclaim = %v", o)
	}
	if s := h.stats(t); s.Inodes != before.Inodes-2 {
		t.Errorf("inodes %d -> %d after the reclaims", before.Inodes, s.Inodes)
	}
	h.fails(t, meta.Cmd{Op: meta.OpReclaim, Ino: e.Ino}, syscall.ENOENT)
}

// testTmpfile: an O_TMPFILE file is an orphan from birth, which Link
// (and only Link of such a file) can give a name.
func testTmpfile(t *testing.T, open Opener) {
	h := newHarness(t, open)
	d := h.mkdir(t, root, "d", 0o755)
	g := *h.ok(t, meta.Cmd{Op: meta.OpMkdir, Parent: root, Name: "g", Mode: 0o2775, Uid: 5, Gid: 50}).Attr
	before := h.stats(t)

	res := h.ok(t, meta.Cmd{Op: meta.OpTmpfile, Parent: d.Ino, Mode: sIFREG | 0o600, Uid: 7, Gid: 8})
	now := h.now
	tf := *res.Attr
	if tf.Nlink != 0 || tf.Mode != sIFREG|0o600 || tf.Uid != 7 || tf.Gid != 8 || tf.Size != 0 ||
		tf.Ctime != now || tf.Mtime != now || tf.Atime != now || tf.Ino != before.NextIno {
		t.Errorf("tmpfile = %+v", tf)
	}
	if !slices.Equal(res.Orphans, []meta.Ino{tf.Ino}) {
		t.Errorf("tmpfile orphans = %v", res.Orphans)
	}
	if o, err := h.f.Orphans(ctx); err != nil || !slices.Equal(o, []meta.Ino{tf.Ino}) {
		t.Errorf("orphans = %v, %v", o, err)
	}
	if a := h.attr(t, tf.Ino); a != tf {
		t.Errorf("getattr = %+v", a)
	}
	if ents, _ := h.f.ReadDir(ctx, d.Ino); len(ents) != 0 {
		t.Errorf("the directory lists %+v", ents)
	}
	if a := h.attr(t, d.Ino); a.Mtime != d.Mtime || a.Ctime != d.Ctime || a.Nlink != 2 {
		t.Errorf("the directory changed: %+v", a)
	}
	if s := h.stats(t); s.Inodes != before.Inodes+1 || s.NextIno != before.NextIno+1 {
		t.Errorf("stats %+v -> %+v", before, s)
	}
	// It takes data like any file.
	h.commit(t, tf.Ino, 20, ref(0, 1, cs), ref(1, 2, 4))
	h.ok(t, meta.Cmd{Op: meta.OpSetXattr, Ino: tf.Ino, Name: "user.a", Value: []byte("v")})

	// A setgid directory gives it its group, as to any new file.
	if a := *h.ok(t, meta.Cmd{Op: meta.OpTmpfile, Parent: g.Ino, Mode: sIFREG | 0o644, Uid: 7, Gid: 7}).Attr; a.Gid != 50 || a.Uid != 7 || a.Mode != sIFREG|0o644 {
		t.Errorf("tmpfile in setgid dir = %+v", a)
	}
	// A zero type means a regular file.
	if a := *h.ok(t, meta.Cmd{Op: meta.OpTmpfile, Parent: d.Ino, Mode: 0o644}).Attr; a.Mode != sIFREG|0o644 {
		t.Errorf("tmpfile without type = %+v", a)
	}

	h.fails(t, meta.Cmd{Op: meta.OpTmpfile, Parent: 9999, Mode: sIFREG | 0o600}, syscall.ENOENT)
	file := h.create(t, root, "file", sIFREG|0o644)
	h.fails(t, meta.Cmd{Op: meta.OpTmpfile, Parent: file.Ino, Mode: sIFREG | 0o600}, syscall.ENOTDIR)
	for _, typ := range []uint32{sIFDIR, sIFLNK, sIFIFO, sIFCHR} {
		h.fails(t, meta.Cmd{Op: meta.OpTmpfile, Parent: d.Ino, Mode: typ | 0o600}, syscall.EINVAL)
	}

	// Linked, it is an ordinary file: nlink 1, no longer an orphan.
	h.fails(t, meta.Cmd{Op: meta.OpLink, Ino: tf.Ino, Parent: root, Name: "file"}, syscall.EEXIST)
	res = h.ok(t, meta.Cmd{Op: meta.OpLink, Ino: tf.Ino, Parent: root, Name: "named"})
	if res.Attr.Nlink != 1 || res.Attr.Ino != tf.Ino || res.Attr.Ctime != h.now || res.Attr.Size != 20 || len(res.Orphans) != 0 {
		t.Errorf("link of tmpfile = %+v %+v", res, res.Attr)
	}
	if a := h.lookup(t, root, "named"); a != *res.Attr {
		t.Errorf("lookup = %+v", a)
	}
	if o, _ := h.f.Orphans(ctx); slices.Contains(o, tf.Ino) {
		t.Errorf("still an orphan after link: %v", o)
	}
	if c := h.chunks(t, tf.Ino); len(c) != 2 {
		t.Errorf("chunks = %+v", c)
	}
	// Reclaim leaves a linked inode alone.
	h.ok(t, meta.Cmd{Op: meta.OpReclaim, Ino: tf.Ino})
	h.attr(t, tf.Ino)

	// Once unlinked again it is an ordinary orphan, which Link refuses.
	res = h.ok(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "named"})
	if !slices.Equal(res.Orphans, []meta.Ino{tf.Ino}) {
		t.Errorf("unlink orphans = %v", res.Orphans)
	}
	h.fails(t, meta.Cmd{Op: meta.OpLink, Ino: tf.Ino, Parent: root, Name: "again"}, syscall.ENOENT)
	// As does a plain file unlinked.
	h.ok(t, meta.Cmd{Op: meta.OpUnlink, Parent: root, Name: "file"})
	h.fails(t, meta.Cmd{Op: meta.OpLink, Ino: file.Ino, Parent: root, Name: "again"}, syscall.ENOENT)

	// A tmpfile never linked is reclaimed like any orphan.
	u := *h.ok(t, meta.Cmd{Op: meta.OpTmpfile, Parent: d.Ino, Mode: sIFREG | 0o600}).Attr
	h.commit(t, u.Ino, cs, ref(0, 3, cs))
	st := h.stats(t)
	res = h.ok(t, meta.Cmd{Op: meta.OpReclaim, Ino: u.Ino})
	wantIDs(t, "freed", res.Freed, chunkID(3))
	if _, err := h.f.GetAttr(ctx, u.Ino); err != syscall.ENOENT {
		t.Errorf("getattr after reclaim: %v", err)
	}
	if o, _ := h.f.Orphans(ctx); slices.Contains(o, u.Ino) {
		t.Errorf("orphans after reclaim = %v", o)
	}
	if s := h.stats(t); s.Inodes != st.Inodes-1 || s.DataBytes != st.DataBytes-cs {
		t.Errorf("stats %+v -> %+v", st, s)
	}
	h.fails(t, meta.Cmd{Op: meta.OpLink, Ino: u.Ino, Parent: root, Name: "late"}, syscall.ENOENT)

	// The tmpfile mark survives a snapshot (and so a restart).
	v := *h.ok(t, meta.Cmd{Op: meta.OpTmpfile, Parent: d.Ino, Mode: sIFREG | 0o600}).Attr
	r := newHarness(t, open)
	if err := r.f.Restore(bytes.NewReader(snapshot(t, h.f))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	r.now = h.now
	if a := *r.ok(t, meta.Cmd{Op: meta.OpLink, Ino: v.Ino, Parent: root, Name: "restored"}).Attr; a.Nlink != 1 {
		t.Errorf("link after restore = %+v", a)
	}
}

// tree makes directories and files from paths ("a/", "a/f") and returns
// their inode numbers by path.
func (h *harness) tree(t testing.TB, paths ...string) map[string]meta.Ino {
	t.Helper()
	inos := map[string]meta.Ino{"": root}
	for _, p := range paths {
		dir := strings.HasSuffix(p, "/")
		p = strings.TrimSuffix(p, "/")
		parent, name := "", p
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			parent, name = p[:i], p[i+1:]
		}
		if dir {
			inos[p] = h.mkdir(t, inos[parent], name, 0o755).Ino
		} else {
			inos[p] = h.create(t, inos[parent], name, sIFREG|0o644).Ino
		}
	}
	return inos
}

func rename(parent meta.Ino, name string, newParent meta.Ino, newName string, flags uint32) meta.Cmd {
	return meta.Cmd{Op: meta.OpRename, Parent: parent, Name: name, NewParent: newParent, NewName: newName, Flags: flags}
}

func testRename(t *testing.T, open Opener) {
	t.Run("FileSameDir", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "d/", "d/a")
		res := h.ok(t, rename(in["d"], "a", in["d"], "b", 0))
		now := h.now
		if res.Attr.Ino != in["d/a"] || res.Attr.Ctime != now {
			t.Errorf("rename = %+v", res.Attr)
		}
		if _, err := h.f.Lookup(ctx, in["d"], "a"); err != syscall.ENOENT {
			t.Errorf("old name: %v", err)
		}
		if a := h.lookup(t, in["d"], "b"); a.Ino != in["d/a"] || a.Ctime != now || a.Nlink != 1 {
			t.Errorf("new name = %+v", a)
		}
		if a := h.attr(t, in["d"]); a.Mtime != now || a.Ctime != now || a.Nlink != 2 {
			t.Errorf("dir = %+v", a)
		}
	})
	t.Run("FileAcrossDirs", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "a/", "b/", "a/f")
		h.ok(t, rename(in["a"], "f", in["b"], "g", 0))
		now := h.now
		for _, d := range []string{"a", "b"} {
			if a := h.attr(t, in[d]); a.Mtime != now || a.Ctime != now || a.Nlink != 2 {
				t.Errorf("%s = %+v", d, a)
			}
		}
		if a := h.lookup(t, in["b"], "g"); a.Ino != in["a/f"] {
			t.Errorf("moved = %+v", a)
		}
	})
	t.Run("DirAcrossDirs", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "a/", "b/", "a/d/", "a/d/x/")
		h.ok(t, rename(in["a"], "d", in["b"], "d", 0))
		if a := h.attr(t, in["a"]); a.Nlink != 2 {
			t.Errorf("old parent nlink = %d", a.Nlink)
		}
		if a := h.attr(t, in["b"]); a.Nlink != 3 {
			t.Errorf("new parent nlink = %d", a.Nlink)
		}
		if a := h.attr(t, in["a/d"]); a.Nlink != 3 || a.Ctime != h.now {
			t.Errorf("moved dir = %+v", a)
		}
		// The moved directory's parent link follows it: b is now above
		// d, a is not.
		h.fails(t, rename(root, "b", in["a/d/x"], "b", 0), syscall.EINVAL)
		h.ok(t, rename(root, "a", in["a/d/x"], "a", 0))
		if a := h.attr(t, in["a/d/x"]); a.Nlink != 3 {
			t.Errorf("x nlink = %d", a.Nlink)
		}
	})
	t.Run("SubdirSameDir", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "d/", "d/s/")
		h.ok(t, rename(in["d"], "s", in["d"], "t", 0))
		if a := h.attr(t, in["d"]); a.Nlink != 3 {
			t.Errorf("nlink = %d", a.Nlink)
		}
	})
	t.Run("OverFile", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "a", "b", "c")
		h.ok(t, meta.Cmd{Op: meta.OpLink, Ino: in["c"], Parent: root, Name: "c2"})
		res := h.ok(t, rename(root, "a", root, "b", 0))
		if !slices.Equal(res.Orphans, []meta.Ino{in["b"]}) {
			t.Errorf("orphans = %v", res.Orphans)
		}
		if a := h.attr(t, in["b"]); a.Nlink != 0 || a.Ctime != h.now {
			t.Errorf("replaced = %+v", a)
		}
		if a := h.lookup(t, root, "b"); a.Ino != in["a"] {
			t.Errorf("b = %+v", a)
		}
		res = h.ok(t, rename(root, "b", root, "c", 0))
		if len(res.Orphans) != 0 {
			t.Errorf("replacing one of two links orphaned %v", res.Orphans)
		}
		if a := h.lookup(t, root, "c2"); a.Nlink != 1 {
			t.Errorf("other link = %+v", a)
		}
		if s := h.stats(t); s.Inodes != 4 {
			t.Errorf("inodes = %d", s.Inodes)
		}
	})
	t.Run("OverEmptyDir", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "a/", "a/d/", "a/d/f", "b/", "b/e/")
		before := h.stats(t)
		res := h.ok(t, rename(in["a"], "d", in["b"], "e", 0))
		if !slices.Equal(res.Orphans, []meta.Ino{in["b/e"]}) {
			t.Errorf("orphans = %v", res.Orphans)
		}
		// The replaced directory is an orphan, as rmdir makes one.
		if a := h.attr(t, in["b/e"]); a.Nlink != 0 || !a.IsDir() || a.Ctime != h.now {
			t.Errorf("replaced dir = %+v", a)
		}
		h.fails(t, meta.Cmd{Op: meta.OpCreate, Parent: in["b/e"], Name: "x", Mode: sIFREG | 0o644}, syscall.ENOENT)
		if s := h.stats(t); s.Inodes != before.Inodes {
			t.Errorf("inodes %d -> %d", before.Inodes, s.Inodes)
		}
		h.ok(t, meta.Cmd{Op: meta.OpReclaim, Ino: in["b/e"]})
		if _, err := h.f.GetAttr(ctx, in["b/e"]); err != syscall.ENOENT {
			t.Errorf("replaced dir after reclaim: %v", err)
		}
		if s := h.stats(t); s.Inodes != before.Inodes-1 {
			t.Errorf("inodes %d -> %d", before.Inodes, s.Inodes)
		}
		if a := h.attr(t, in["a"]); a.Nlink != 2 {
			t.Errorf("a nlink = %d", a.Nlink)
		}
		if a := h.attr(t, in["b"]); a.Nlink != 3 {
			t.Errorf("b nlink = %d", a.Nlink)
		}
		if a := h.lookup(t, in["b"], "e"); a.Ino != in["a/d"] {
			t.Errorf("b/e = %+v", a)
		}
		// In the same directory.
		in2 := h.tree(t, "x/", "y/")
		h.ok(t, rename(root, "x", root, "y", 0))
		if a := h.attr(t, root); a.Nlink != 5 {
			t.Errorf("root nlink = %d (dirs a, b, y)", a.Nlink)
		}
		if a := h.lookup(t, root, "y"); a.Ino != in2["x"] {
			t.Errorf("y = %+v", a)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "a/", "a/b/", "a/b/c/", "full/", "full/f", "empty/", "file", "file2")
		tests := []struct {
			name string
			cmd  meta.Cmd
			want syscall.Errno
		}{
			{"missing source", rename(root, "nope", root, "x", 0), syscall.ENOENT},
			{"missing new parent", rename(root, "file", 9999, "x", 0), syscall.ENOENT},
			{"new parent is a file", rename(root, "file", in["file"], "x", 0), syscall.ENOTDIR},
			{"onto non-empty dir", rename(root, "empty", root, "full", 0), syscall.ENOTEMPTY},
			{"dir onto file", rename(root, "empty", root, "file", 0), syscall.ENOTDIR},
			{"file onto dir", rename(root, "file", root, "empty", 0), syscall.EISDIR},
			{"file onto non-empty dir", rename(root, "file", root, "full", 0), syscall.EISDIR},
			{"into itself", rename(root, "a", in["a"], "x", 0), syscall.EINVAL},
			{"into own subtree", rename(root, "a", in["a/b/c"], "x", 0), syscall.EINVAL},
			{"onto own ancestor", rename(in["a/b"], "c", root, "a", 0), syscall.ENOTEMPTY},
			{"noreplace", rename(root, "file", root, "file2", meta.RenameNoReplace), syscall.EEXIST},
			{"noreplace same name", rename(root, "file", root, "file", meta.RenameNoReplace), syscall.EEXIST},
			{"exchange missing", rename(root, "file", root, "nope", meta.RenameExchange), syscall.ENOENT},
			{"exchange into own subtree", rename(root, "a", in["a/b"], "c", meta.RenameExchange), syscall.EINVAL},
			{"exchange other way", rename(in["a/b"], "c", root, "a", meta.RenameExchange), syscall.EINVAL},
			{"both flags", rename(root, "file", root, "x", meta.RenameNoReplace|meta.RenameExchange), syscall.EINVAL},
			{"unknown flag", rename(root, "file", root, "x", 4), syscall.EINVAL},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { h.fails(t, tt.cmd, tt.want) })
		}
	})
	t.Run("NoReplace", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "f")
		h.ok(t, rename(root, "f", root, "g", meta.RenameNoReplace))
		if a := h.lookup(t, root, "g"); a.Ino != in["f"] {
			t.Errorf("g = %+v", a)
		}
	})
	t.Run("SameName", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "d/", "f")
		before := dump(t, h.f)
		for _, n := range []string{"d", "f"} {
			res := h.ok(t, rename(root, n, root, n, 0))
			if res.Attr == nil || res.Attr.Ino != in[n] {
				t.Errorf("rename %s to itself = %+v", n, res.Attr)
			}
			h.ok(t, rename(root, n, root, n, meta.RenameExchange))
		}
		if after := dump(t, h.f); strip(after) != strip(before) {
			t.Errorf("rename to itself changed the state: %s", diff(before, after))
		}
	})
	t.Run("HardLinks", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "a")
		h.ok(t, meta.Cmd{Op: meta.OpLink, Ino: in["a"], Parent: root, Name: "b"})
		before := dump(t, h.f)
		h.ok(t, rename(root, "a", root, "b", 0))
		if after := dump(t, h.f); strip(after) != strip(before) {
			t.Errorf("rename onto another link of the same file changed the state: %s", diff(before, after))
		}
	})
	t.Run("Exchange", func(t *testing.T) {
		h := newHarness(t, open)
		in := h.tree(t, "a/", "b/", "a/f", "b/d/", "b/d/x")
		h.ok(t, rename(in["a"], "f", in["b"], "d", meta.RenameExchange))
		now := h.now
		if a := h.lookup(t, in["a"], "f"); a.Ino != in["b/d"] || !a.IsDir() || a.Ctime != now {
			t.Errorf("a/f = %+v", a)
		}
		if a := h.lookup(t, in["b"], "d"); a.Ino != in["a/f"] || !a.IsReg() || a.Ctime != now {
			t.Errorf("b/d = %+v", a)
		}
		if a := h.attr(t, in["a"]); a.Nlink != 3 || a.Mtime != now {
			t.Errorf("a = %+v", a)
		}
		if a := h.attr(t, in["b"]); a.Nlink != 2 || a.Mtime != now {
			t.Errorf("b = %+v", a)
		}
		ents, _ := h.f.ReadDir(ctx, in["a"])
		if len(ents) != 1 || ents[0].Mode != sIFDIR {
			t.Errorf("a entries = %+v", ents)
		}
		// The directory's parent link moved: a is now its parent.
		h.fails(t, rename(root, "a", in["b/d"], "a", 0), syscall.EINVAL)
		h.ok(t, rename(root, "b", in["b/d"], "b", 0))
		// Two directories in one parent.
		in2 := h.tree(t, "p/", "q/", "q/r/")
		h.ok(t, rename(root, "p", root, "q", meta.RenameExchange))
		if a := h.lookup(t, root, "p"); a.Ino != in2["q"] || a.Nlink != 3 {
			t.Errorf("p = %+v", a)
		}
	})
}

// strip removes the stats line (the applied index moves) from a dump.
func strip(d string) string {
	_, rest, _ := strings.Cut(d, "\n")
	return rest
}

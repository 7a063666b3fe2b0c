package fs

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store/meta"
)

// These tests drive the node layer through go-fuse's raw bridge, the
// object the kernel's requests are dispatched to, without mounting:
// they check what reaches the vfs layer and what the kernel would get.

type rig struct {
	t   *testing.T
	m   *memFS
	raw fuse.RawFileSystem
}

func newRig(t *testing.T) *rig {
	t.Helper()
	m := newMemFS()
	cfg := DefaultConfig()
	root := &node{fs: newFsys(m, cfg)}
	return &rig{t: t, m: m, raw: gofs.NewNodeFS(root, options(cfg))}
}

var user = fuse.Caller{Owner: fuse.Owner{Uid: 1000, Gid: 100}, Pid: 42}

func hdr(nodeID uint64) fuse.InHeader {
	return fuse.InHeader{NodeId: nodeID, Caller: user}
}

func (r *rig) ok(what string, st fuse.Status) {
	r.t.Helper()
	if !st.Ok() {
		r.t.Fatalf("%s: %v", what, st)
	}
}

func (r *rig) lookup(parent uint64, name string) (fuse.EntryOut, fuse.Status) {
	var out fuse.EntryOut
	h := hdr(parent)
	st := r.raw.Lookup(nil, &h, name, &out)
	return out, st
}

func (r *rig) mkdir(parent uint64, name string, mode uint32) fuse.EntryOut {
	r.t.Helper()
	var out fuse.EntryOut
	r.ok("mkdir "+name, r.raw.Mkdir(nil, &fuse.MkdirIn{InHeader: hdr(parent), Mode: mode}, name, &out))
	return out
}

func (r *rig) create(parent uint64, name string, flags, mode uint32) fuse.CreateOut {
	r.t.Helper()
	var out fuse.CreateOut
	r.ok("create "+name, r.raw.Create(nil, &fuse.CreateIn{InHeader: hdr(parent), Flags: flags, Mode: mode}, name, &out))
	return out
}

func (r *rig) open(nodeID uint64, flags uint32) fuse.OpenOut {
	r.t.Helper()
	var out fuse.OpenOut
	r.ok("open", r.raw.Open(nil, &fuse.OpenIn{InHeader: hdr(nodeID), Flags: flags}, &out))
	return out
}

func (r *rig) release(nodeID, fh uint64) {
	r.raw.Release(nil, &fuse.ReleaseIn{InHeader: hdr(nodeID), Fh: fh})
}

func (r *rig) write(nodeID, fh uint64, off uint64, data string) {
	r.t.Helper()
	n, st := r.raw.Write(nil, &fuse.WriteIn{InHeader: hdr(nodeID), Fh: fh, Offset: off, Size: uint32(len(data))}, []byte(data))
	r.ok("write", st)
	if int(n) != len(data) {
		r.t.Fatalf("write: wrote %d of %d", n, len(data))
	}
}

func TestInodeNumbersComeFromMetadata(t *testing.T) {
	r := newRig(t)
	d := r.mkdir(1, "d", 0o755)
	st, err := r.m.Lookup(context.Background(), meta.RootIno, "d")
	if err != nil {
		t.Fatal(err)
	}
	if d.Ino != uint64(st.Ino) || d.Attr.Ino != uint64(st.Ino) {
		t.Errorf("mkdir: ino %d / attr ino %d, metadata says %d", d.Ino, d.Attr.Ino, st.Ino)
	}
	if d.Mode != syscall.S_IFDIR|0o755 || d.Nlink != 2 {
		t.Errorf("mkdir: mode %o nlink %d", d.Mode, d.Nlink)
	}
	again, s := r.lookup(1, "d")
	r.ok("lookup d", s)
	if again.NodeId != d.NodeId || again.Ino != d.Ino {
		t.Errorf("lookup gave node %d ino %d, mkdir node %d ino %d", again.NodeId, again.Ino, d.NodeId, d.Ino)
	}

	// A hard link is the same inode, and so the same go-fuse node.
	f := r.create(d.NodeId, "f", syscall.O_WRONLY, syscall.S_IFREG|0o644)
	r.release(f.NodeId, f.Fh)
	var l fuse.EntryOut
	r.ok("link", r.raw.Link(nil, &fuse.LinkIn{InHeader: hdr(1), Oldnodeid: f.NodeId}, "h", &l))
	if l.NodeId != f.NodeId || l.Ino != f.Ino || l.Nlink != 2 {
		t.Errorf("link: node %d ino %d nlink %d; file node %d ino %d", l.NodeId, l.Ino, l.Nlink, f.NodeId, f.Ino)
	}
	// A missing name is a negative entry (node id 0) cached for the
	// negative timeout.
	if neg, s := r.lookup(1, "missing"); s != fuse.OK || neg.NodeId != 0 || neg.EntryTimeout() != time.Second {
		t.Errorf("lookup missing: %v, node %d, timeout %v", s, neg.NodeId, neg.EntryTimeout())
	}
}

func TestCreatePassesCallerModeAndFlags(t *testing.T) {
	r := newRig(t)
	out := r.create(1, "f", syscall.O_RDWR|syscall.O_EXCL|syscall.O_APPEND, syscall.S_IFREG|0o640)
	defer r.release(out.NodeId, out.Fh)
	if r.m.lastCaller != (vfs.Caller{Uid: 1000, Gid: 100, Pid: 42}) {
		t.Errorf("caller %+v", r.m.lastCaller)
	}
	if r.m.lastMode != syscall.S_IFREG|0o640 {
		t.Errorf("mode %o", r.m.lastMode)
	}
	if want := uint32(syscall.O_RDWR | syscall.O_EXCL | syscall.O_APPEND); r.m.lastFlags != want {
		t.Errorf("flags %#x, want %#x", r.m.lastFlags, want)
	}
	if out.Attr.Uid != 1000 || out.Attr.Gid != 100 || out.Attr.Mode != syscall.S_IFREG|0o640 {
		t.Errorf("attr %+v", out.Attr)
	}
	var again fuse.CreateOut
	st := r.raw.Create(nil, &fuse.CreateIn{InHeader: hdr(1), Flags: syscall.O_RDWR | syscall.O_EXCL, Mode: 0o644}, "f", &again)
	if st != fuse.Status(syscall.EEXIST) {
		t.Errorf("second exclusive create: %v, want EEXIST", st)
	}
}

func TestMknodKeepsTypeAndDevice(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		name string
		mode uint32
		dev  uint32
	}{
		{"fifo", syscall.S_IFIFO | 0o600, 0},
		{"sock", syscall.S_IFSOCK | 0o600, 0},
		{"chr", syscall.S_IFCHR | 0o600, 0x0103},
		{"blk", syscall.S_IFBLK | 0o600, 0x0801},
		{"reg", 0o600, 0}, // mknod(2) with no type: a regular file
	} {
		var out fuse.EntryOut
		r.ok("mknod "+tc.name, r.raw.Mknod(nil, &fuse.MknodIn{InHeader: hdr(1), Mode: tc.mode, Rdev: tc.dev}, tc.name, &out))
		want := tc.mode
		if want&syscall.S_IFMT == 0 {
			want |= syscall.S_IFREG
		}
		if out.Mode != want || out.Rdev != tc.dev {
			t.Errorf("%s: mode %o rdev %#x, want %o %#x", tc.name, out.Mode, out.Rdev, want, tc.dev)
		}
	}
}

func TestSetattr(t *testing.T) {
	r := newRig(t)
	f := r.create(1, "f", syscall.O_RDWR, 0o644)
	defer r.release(f.NodeId, f.Fh)
	before := time.Now().UnixNano()

	for _, tc := range []struct {
		name  string
		valid uint32
		fh    bool
		check func(t *testing.T, s vfs.SetAttrIn)
	}{
		{"chmod", fuse.FATTR_MODE, false, func(t *testing.T, s vfs.SetAttrIn) {
			if s.Valid != meta.SetMode || s.Mode != 0o4755 {
				t.Errorf("%+v", s)
			}
		}},
		{"chown", fuse.FATTR_UID | fuse.FATTR_GID, false, func(t *testing.T, s vfs.SetAttrIn) {
			if s.Valid != meta.SetUid|meta.SetGid || s.Uid != 7 || s.Gid != 8 {
				t.Errorf("%+v", s)
			}
		}},
		{"truncate", fuse.FATTR_SIZE, false, func(t *testing.T, s vfs.SetAttrIn) {
			if s.Valid != meta.SetSize || s.Size != 3 || s.Handle != nil {
				t.Errorf("%+v", s)
			}
		}},
		{"ftruncate", fuse.FATTR_SIZE | fuse.FATTR_FH | fuse.FATTR_LOCKOWNER, true, func(t *testing.T, s vfs.SetAttrIn) {
			if s.Valid != meta.SetSize || s.Handle == nil {
				t.Errorf("%+v", s)
			}
		}},
		{"utimens", fuse.FATTR_ATIME | fuse.FATTR_MTIME, false, func(t *testing.T, s vfs.SetAttrIn) {
			if s.Valid != meta.SetAtime|meta.SetMtime || s.Atime != -1e9+5 || s.Mtime != 43e9+6 {
				t.Errorf("%+v", s)
			}
		}},
		{"utimens now/omit", fuse.FATTR_MTIME | fuse.FATTR_MTIME_NOW, false, func(t *testing.T, s vfs.SetAttrIn) {
			if s.Valid != meta.SetMtime || s.Mtime < before || s.Mtime > time.Now().UnixNano() {
				t.Errorf("%+v", s)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &fuse.SetAttrIn{}
			in.InHeader = hdr(f.NodeId)
			in.Valid = tc.valid
			in.Mode = syscall.S_IFREG | 0o4755
			in.Uid, in.Gid = 7, 8
			in.Size = 3
			in.Atime, in.Atimensec = uint64(^uint64(0)), 5 // one second before 1970, plus 5 ns
			in.Mtime, in.Mtimensec = 43, 6
			if tc.fh {
				in.Fh = f.Fh
			}
			var out fuse.AttrOut
			r.ok("setattr", r.raw.SetAttr(nil, in, &out))
			tc.check(t, r.m.lastSetAttr)
			if out.Ino != f.Ino {
				t.Errorf("attr ino %d, want %d", out.Ino, f.Ino)
			}
			if out.Timeout() != time.Second {
				t.Errorf("attr timeout %v, want the configured 1s", out.Timeout())
			}
		})
	}

	// Nothing we store changes: no SETATTR reaches the vfs layer.
	n := len(r.m.called())
	in := &fuse.SetAttrIn{}
	in.InHeader = hdr(f.NodeId)
	in.Valid = fuse.FATTR_LOCKOWNER
	var out fuse.AttrOut
	r.ok("setattr lockowner", r.raw.SetAttr(nil, in, &out))
	for _, c := range r.m.called()[n:] {
		if c == "SetAttr" {
			t.Errorf("setattr without changes called vfs SetAttr")
		}
	}
}

func TestGetattr(t *testing.T) {
	r := newRig(t)
	f := r.create(1, "f", syscall.O_RDWR, 0o644)
	r.write(f.NodeId, f.Fh, 0, "0123456789")
	r.release(f.NodeId, f.Fh)
	ino := meta.Ino(f.Ino)
	r.m.SetAttr(context.Background(), vfs.Caller{}, ino, vfs.SetAttrIn{
		Valid: meta.SetAtime | meta.SetMtime, Atime: -1500000000, Mtime: 1700000000123456789})

	var out fuse.AttrOut
	r.ok("getattr", r.raw.GetAttr(nil, &fuse.GetAttrIn{InHeader: hdr(f.NodeId)}, &out))
	a := out.Attr
	if a.Ino != f.Ino || a.Size != 10 || a.Blocks != 1 || a.Blksize != blockSize || a.Nlink != 1 {
		t.Errorf("attr %+v", a)
	}
	if int64(a.Atime) != -2 || a.Atimensec != 500000000 {
		t.Errorf("atime %d.%09d, want -2.500000000", int64(a.Atime), a.Atimensec)
	}
	if a.Mtime != 1700000000 || a.Mtimensec != 123456789 {
		t.Errorf("mtime %d.%09d", a.Mtime, a.Mtimensec)
	}
	if out.Timeout() != time.Second {
		t.Errorf("attr timeout %v", out.Timeout())
	}
	// A mode of 0 is shown as 0, not replaced.
	r.m.SetAttr(context.Background(), vfs.Caller{}, ino, vfs.SetAttrIn{Valid: meta.SetMode})
	r.ok("getattr", r.raw.GetAttr(nil, &fuse.GetAttrIn{InHeader: hdr(f.NodeId)}, &out))
	if out.Mode != syscall.S_IFREG {
		t.Errorf("mode %o, want %o", out.Mode, syscall.S_IFREG)
	}
}

func TestRenameFlags(t *testing.T) {
	r := newRig(t)
	for _, name := range []string{"a", "b"} {
		f := r.create(1, name, syscall.O_WRONLY, 0o644)
		r.release(f.NodeId, f.Fh)
	}
	for _, tc := range []struct {
		flags    uint32
		want     fuse.Status
		wantMeta uint32
	}{
		{0, fuse.OK, 0},
		{1, fuse.Status(syscall.EEXIST), meta.RenameNoReplace}, // RENAME_NOREPLACE onto b
		{2, fuse.OK, meta.RenameExchange},                      // RENAME_EXCHANGE
		{3, fuse.Status(syscall.EINVAL), 0},                    // both
		{4, fuse.Status(syscall.EINVAL), 0},                    // RENAME_WHITEOUT
	} {
		t.Run(fmt.Sprint(tc.flags), func(t *testing.T) {
			if tc.flags == 0 {
				defer func() { // put "a" back for the next cases
					f := r.create(1, "a", syscall.O_WRONLY, 0o644)
					r.release(f.NodeId, f.Fh)
				}()
			}
			r.m.lastFlags = 99
			st := r.raw.Rename(nil, &fuse.RenameIn{InHeader: hdr(1), Newdir: 1, Flags: tc.flags}, "a", "b")
			if st != tc.want {
				t.Errorf("rename: %v, want %v", st, tc.want)
			}
			if tc.want != fuse.Status(syscall.EINVAL) && r.m.lastFlags != tc.wantMeta {
				t.Errorf("vfs got flags %d, want %d", r.m.lastFlags, tc.wantMeta)
			}
			if tc.want == fuse.Status(syscall.EINVAL) && r.m.lastFlags != 99 {
				t.Errorf("invalid flags reached the vfs layer")
			}
		})
	}
}

func TestXattrSizes(t *testing.T) {
	r := newRig(t)
	f := r.create(1, "f", syscall.O_WRONLY, 0o644)
	r.release(f.NodeId, f.Fh)
	h := hdr(f.NodeId)
	r.ok("setxattr", r.raw.SetXAttr(nil, &fuse.SetXAttrIn{InHeader: h, Flags: 1}, "user.a", []byte("hello")))
	if r.m.lastFlags != meta.XattrCreate {
		t.Errorf("setxattr flags %d", r.m.lastFlags)
	}
	r.ok("setxattr", r.raw.SetXAttr(nil, &fuse.SetXAttrIn{InHeader: h}, "user.bb", []byte("x")))

	for _, tc := range []struct {
		size   int
		want   uint32
		status fuse.Status
	}{
		{0, 5, fuse.Status(syscall.ERANGE)}, // size query; go-fuse answers it as a size
		{2, 5, fuse.Status(syscall.ERANGE)},
		{5, 5, fuse.OK},
		{64, 5, fuse.OK},
	} {
		buf := make([]byte, tc.size)
		n, st := r.raw.GetXAttr(nil, &h, "user.a", buf)
		if n != tc.want || st != tc.status {
			t.Errorf("getxattr into %d bytes: %d, %v; want %d, %v", tc.size, n, st, tc.want, tc.status)
		}
		if st.Ok() && string(buf[:n]) != "hello" {
			t.Errorf("getxattr: %q", buf[:n])
		}
	}
	if _, st := r.raw.GetXAttr(nil, &h, "user.none", make([]byte, 10)); st != fuse.Status(syscall.ENODATA) {
		t.Errorf("missing xattr: %v", st)
	}

	const list = "user.a\x00user.bb\x00"
	for _, size := range []int{0, 3, len(list), 100} {
		buf := make([]byte, size)
		n, st := r.raw.ListXAttr(nil, &h, buf)
		switch {
		case size < len(list) && (n != uint32(len(list)) || st != fuse.Status(syscall.ERANGE)):
			t.Errorf("listxattr into %d: %d, %v", size, n, st)
		case size >= len(list) && (st != fuse.OK || string(buf[:n]) != list):
			t.Errorf("listxattr into %d: %q, %v", size, buf[:n], st)
		}
	}
	// POSIX ACLs: the kernel would not enforce them, so they are refused
	// and read as absent, without asking the vfs layer.
	n := len(r.m.called())
	if st := r.raw.SetXAttr(nil, &fuse.SetXAttrIn{InHeader: h}, "system.posix_acl_access", []byte{2, 0, 0, 0}); st != fuse.Status(syscall.EOPNOTSUPP) {
		t.Errorf("set ACL: %v, want EOPNOTSUPP", st)
	}
	if _, st := r.raw.GetXAttr(nil, &h, "system.posix_acl_default", nil); st != fuse.Status(syscall.ENODATA) {
		t.Errorf("get default ACL: %v, want ENODATA", st)
	}
	if c := r.m.called()[n:]; len(c) != 0 {
		t.Errorf("ACL requests reached the vfs layer: %v", c)
	}
	r.ok("removexattr", r.raw.RemoveXAttr(nil, &h, "user.a"))
	if st := r.raw.RemoveXAttr(nil, &h, "user.a"); st != fuse.Status(syscall.ENODATA) {
		t.Errorf("second removexattr: %v", st)
	}
}

func TestReaddirPlus(t *testing.T) {
	r := newRig(t)
	d := r.mkdir(1, "d", 0o755)
	sub := r.mkdir(d.NodeId, "sub", 0o700)
	f := r.create(d.NodeId, "f", syscall.O_WRONLY, 0o644)
	r.release(f.NodeId, f.Fh)
	var sl fuse.EntryOut
	r.ok("symlink", r.raw.Symlink(nil, &fuse.InHeader{NodeId: d.NodeId}, "target", "l", &sl))

	var open fuse.OpenOut
	r.ok("opendir", r.raw.OpenDir(nil, &fuse.OpenIn{InHeader: hdr(d.NodeId)}, &open))
	defer r.raw.ReleaseDir(&fuse.ReleaseIn{InHeader: hdr(d.NodeId), Fh: open.Fh})
	buf := make([]byte, 4096)
	list := fuse.NewDirEntryList(buf, 0)
	r.ok("readdirplus", r.raw.ReadDirPlus(nil, &fuse.ReadIn{InHeader: hdr(d.NodeId), Fh: open.Fh, Size: 4096}, list))
	ents, outs, err := fuse.ParseDirLookupEntries(list.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		ino  uint64
		mode uint32
	}{
		{".", d.Ino, syscall.S_IFDIR},
		{"..", 1, syscall.S_IFDIR},
		{"f", f.Ino, syscall.S_IFREG},
		{"l", sl.Ino, syscall.S_IFLNK},
		{"sub", sub.Ino, syscall.S_IFDIR},
	}
	if len(ents) != len(want) {
		t.Fatalf("got %d entries %v, want %d", len(ents), ents, len(want))
	}
	for i, w := range want {
		e := ents[i]
		if e.Name != w.name || e.Ino != w.ino || e.Mode&syscall.S_IFMT != w.mode || e.Off != uint64(i+1) {
			t.Errorf("entry %d: %v, want %s ino %d mode %o off %d", i, e, w.name, w.ino, w.mode, i+1)
		}
		if i >= 2 && (outs[i].NodeId == 0 || outs[i].Attr.Ino != w.ino) {
			t.Errorf("entry %s: no lookup attributes: %+v", w.name, outs[i])
		}
	}

	// Seeking back replays the same snapshot, even after a change.
	g := r.create(d.NodeId, "g", syscall.O_WRONLY, 0o644)
	r.release(g.NodeId, g.Fh)
	list = fuse.NewDirEntryList(buf, 3)
	r.ok("readdirplus after seek", r.raw.ReadDirPlus(nil, &fuse.ReadIn{InHeader: hdr(d.NodeId), Fh: open.Fh, Offset: 3, Size: 4096}, list))
	ents, _, err = fuse.ParseDirLookupEntries(list.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 || ents[0].Name != "l" || ents[1].Name != "sub" {
		t.Errorf("after seek to 3: %v", ents)
	}

	// rewinddir lists the directory again.
	list = fuse.NewDirEntryList(buf, 0)
	r.ok("readdirplus after rewind", r.raw.ReadDirPlus(nil, &fuse.ReadIn{InHeader: hdr(d.NodeId), Fh: open.Fh, Offset: 0, Size: 4096}, list))
	ents, _, err = fuse.ParseDirLookupEntries(list.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 6 || ents[3].Name != "g" {
		t.Errorf("after rewind: %v, want g among 6 entries", ents)
	}
}

func TestOpenCacheFlags(t *testing.T) {
	r := newRig(t)
	f := r.create(1, "f", syscall.O_RDWR, 0o644)
	r.write(f.NodeId, f.Fh, 0, "hello")
	r.release(f.NodeId, f.Fh)

	keep := func(o fuse.OpenOut) bool { return o.OpenFlags&fuse.FOPEN_KEEP_CACHE != 0 }
	noflush := func(o fuse.OpenOut) bool { return o.OpenFlags&fuse.FOPEN_NOFLUSH != 0 }

	o1 := r.open(f.NodeId, syscall.O_RDONLY)
	if keep(o1) {
		t.Errorf("first open after a write keeps the cache")
	}
	if !noflush(o1) {
		t.Errorf("read-only open without FOPEN_NOFLUSH")
	}
	o2 := r.open(f.NodeId, syscall.O_RDWR)
	if !keep(o2) {
		t.Errorf("unchanged file: cache not kept")
	}
	if noflush(o2) {
		t.Errorf("read-write open with FOPEN_NOFLUSH")
	}
	// A commit (here or on another host) changes mtime: pages are dropped.
	r.m.SetAttr(context.Background(), vfs.Caller{}, meta.Ino(f.Ino), vfs.SetAttrIn{Valid: meta.SetMtime, Mtime: 12345})
	if o3 := r.open(f.NodeId, syscall.O_RDONLY); keep(o3) {
		t.Errorf("changed mtime: cache kept")
	}
	if o4 := r.open(f.NodeId, syscall.O_RDONLY); !keep(o4) {
		t.Errorf("unchanged again: cache not kept")
	}
	// A truncate through this host forgets the version.
	in := &fuse.SetAttrIn{}
	in.InHeader = hdr(f.NodeId)
	in.Valid = fuse.FATTR_SIZE
	var out fuse.AttrOut
	r.ok("truncate", r.raw.SetAttr(nil, in, &out))
	if o5 := r.open(f.NodeId, syscall.O_RDONLY); keep(o5) {
		t.Errorf("after truncate: cache kept")
	}
}

func TestFileOps(t *testing.T) {
	r := newRig(t)
	f := r.create(1, "f", syscall.O_RDWR, 0o644)
	r.write(f.NodeId, f.Fh, 0, "hello world")

	buf := make([]byte, 100)
	res, st := r.raw.Read(nil, &fuse.ReadIn{InHeader: hdr(f.NodeId), Fh: f.Fh, Offset: 6, Size: 100}, buf)
	r.ok("read", st)
	got, _ := res.Bytes(buf)
	if string(got) != "world" {
		t.Errorf("read %q", got)
	}
	r.ok("flush", r.raw.Flush(nil, &fuse.FlushIn{InHeader: hdr(f.NodeId), Fh: f.Fh}))
	r.ok("fsync", r.raw.Fsync(nil, &fuse.FsyncIn{InHeader: hdr(f.NodeId), Fh: f.Fh, FsyncFlags: 1}))
	r.ok("fallocate", r.raw.Fallocate(nil, &fuse.FallocateIn{InHeader: hdr(f.NodeId), Fh: f.Fh, Offset: 100, Length: 28, Mode: 0}))
	var attr fuse.AttrOut
	r.ok("getattr", r.raw.GetAttr(nil, &fuse.GetAttrIn{InHeader: hdr(f.NodeId)}, &attr))
	if attr.Size != 128 {
		t.Errorf("size after fallocate %d, want 128", attr.Size)
	}
	var seek fuse.LseekOut
	r.ok("lseek", r.raw.Lseek(nil, &fuse.LseekIn{InHeader: hdr(f.NodeId), Fh: f.Fh, Offset: 5, Whence: vfs.SeekHole}, &seek))
	if seek.Offset != 128 {
		t.Errorf("SEEK_HOLE from 5: %d", seek.Offset)
	}
	if st := r.raw.Lseek(nil, &fuse.LseekIn{InHeader: hdr(f.NodeId), Fh: f.Fh, Offset: 128, Whence: vfs.SeekData}, &seek); st != fuse.Status(syscall.ENXIO) {
		t.Errorf("SEEK_DATA at EOF: %v", st)
	}

	// Fsync on a directory handle has nothing to do.
	var open fuse.OpenOut
	r.ok("opendir", r.raw.OpenDir(nil, &fuse.OpenIn{InHeader: hdr(1)}, &open))
	r.ok("fsyncdir", r.raw.FsyncDir(nil, &fuse.FsyncIn{InHeader: hdr(1), Fh: open.Fh}))
	r.raw.ReleaseDir(&fuse.ReleaseIn{InHeader: hdr(1), Fh: open.Fh})

	// Release ignores the request's cancellation.
	cancel := make(chan struct{})
	close(cancel)
	r.raw.Release(cancel, &fuse.ReleaseIn{InHeader: hdr(f.NodeId), Fh: f.Fh})
	if len(r.m.handles) != 0 {
		t.Errorf("%d handles still open after release", len(r.m.handles))
	}
}

func TestStatfs(t *testing.T) {
	r := newRig(t)
	var out fuse.StatfsOut
	h := hdr(1)
	r.ok("statfs", r.raw.StatFs(nil, &h, &out))
	if out.Bsize != 4096 || out.Frsize != 4096 || out.Blocks != 1<<20 || out.Bavail != 1<<19 || out.NameLen != 255 {
		t.Errorf("statfs %+v", out)
	}
}

func TestErrorsReachTheKernelAsErrno(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want syscall.Errno
	}{
		{syscall.ENOSPC, syscall.ENOSPC},
		{fmt.Errorf("commit: %w", syscall.EDQUOT), syscall.EDQUOT},
		{context.Canceled, syscall.EINTR},
		{fmt.Errorf("upload: %w", context.DeadlineExceeded), syscall.EINTR},
		{errors.New("disk on fire"), syscall.EIO},
		{syscall.ENOSYS, syscall.EOPNOTSUPP},
	} {
		r := newRig(t)
		r.m.failOn("Lookup", tc.err)
		if _, st := r.lookup(1, "x"); st != fuse.Status(tc.want) {
			t.Errorf("%v: %v, want %v", tc.err, st, tc.want)
		}
	}
}

func TestVanishedInodeIsStale(t *testing.T) {
	r := newRig(t)
	f := r.create(1, "f", syscall.O_WRONLY, 0o644)
	r.release(f.NodeId, f.Fh)
	// Removed behind the kernel's back (on another host): the kernel
	// still has the node, the metadata does not.
	if err := r.m.Unlink(context.Background(), meta.RootIno, "f"); err != nil {
		t.Fatal(err)
	}
	var attr fuse.AttrOut
	if st := r.raw.GetAttr(nil, &fuse.GetAttrIn{InHeader: hdr(f.NodeId)}, &attr); st != fuse.Status(syscall.ESTALE) {
		t.Errorf("getattr: %v, want ESTALE", st)
	}
	var open fuse.OpenOut
	if st := r.raw.Open(nil, &fuse.OpenIn{InHeader: hdr(f.NodeId)}, &open); st != fuse.Status(syscall.ESTALE) {
		t.Errorf("open: %v, want ESTALE", st)
	}
	// A name that is not there is still ENOENT.
	if st := r.raw.Unlink(nil, &fuse.InHeader{NodeId: 1}, "f"); st != fuse.Status(syscall.ENOENT) {
		t.Errorf("unlink: %v, want ENOENT", st)
	}
}

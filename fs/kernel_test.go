package fs

import (
	"context"
	"sync"
	"syscall"
	"testing"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store/meta"
)

// trackFS is memFS with the KernelTracker ability: it counts the kernel
// references the node layer reports.
type trackFS struct {
	*memFS
	mu   sync.Mutex
	refs map[meta.Ino]int
	bad  []string // Forgets without a reference
}

var _ vfs.KernelTracker = (*trackFS)(nil)

func (f *trackFS) Remember(ino meta.Ino) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs[ino]++
}

func (f *trackFS) Forget(ctx context.Context, ino meta.Ino) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refs[ino] == 0 {
		f.bad = append(f.bad, "forget without remember")
		return
	}
	f.refs[ino]--
}

func (f *trackFS) count(ino uint64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refs[meta.Ino(ino)]
}

func newTrackRig(t *testing.T) (*rig, *trackFS, *fsys) {
	m := newMemFS()
	tf := &trackFS{memFS: m, refs: map[meta.Ino]int{}}
	cfg := DefaultConfig()
	fs := newFsys(tf, cfg)
	if fs.kt == nil {
		t.Fatal("the KernelTracker ability was not found")
	}
	return &rig{t: t, m: m, raw: gofs.NewNodeFS(&node{fs: fs}, options(cfg))}, tf, fs
}

// TestKernelReferences: the vfs layer hears of one reference per inode
// the kernel holds, however many times and ways the kernel gets it, and
// of its end when the kernel forgets it.
func TestKernelReferences(t *testing.T) {
	r, tf, fs := newTrackRig(t)
	f := r.create(1, "f", syscall.O_WRONLY, 0o644)
	r.release(f.NodeId, f.Fh)
	lookups := uint64(1)
	if n := tf.count(f.Ino); n != 1 {
		t.Fatalf("after create: %d references", n)
	}
	for range 3 {
		out, st := r.lookup(1, "f")
		r.ok("lookup", st)
		lookups++
		if out.NodeId != f.NodeId {
			t.Fatalf("lookup gave node %d, create gave %d", out.NodeId, f.NodeId)
		}
	}
	d := r.mkdir(1, "d", 0o755)
	var lo fuse.EntryOut
	r.ok("link", r.raw.Link(nil, &fuse.LinkIn{InHeader: hdr(d.NodeId), Oldnodeid: f.NodeId}, "g", &lo))
	lookups++
	if lo.NodeId != f.NodeId {
		t.Fatalf("link gave node %d, want %d", lo.NodeId, f.NodeId)
	}

	// READDIRPLUS looks every name up.
	var open fuse.OpenOut
	r.ok("opendir", r.raw.OpenDir(nil, &fuse.OpenIn{InHeader: hdr(1)}, &open))
	list := fuse.NewDirEntryList(make([]byte, 4096), 0)
	r.ok("readdirplus", r.raw.ReadDirPlus(nil, &fuse.ReadIn{InHeader: hdr(1), Fh: open.Fh, Size: 4096}, list))
	r.raw.ReleaseDir(&fuse.ReleaseIn{InHeader: hdr(1), Fh: open.Fh})
	lookups++
	if n, nd := tf.count(f.Ino), tf.count(d.Ino); n != 1 || nd != 1 {
		t.Fatalf("after lookups, link, readdirplus: %d references to f, %d to d", n, nd)
	}

	// The kernel forgets some of its lookups, then all.
	r.raw.Forget(f.NodeId, lookups-1)
	if n := tf.count(f.Ino); n != 1 {
		t.Fatalf("forgotten in part: %d references", n)
	}
	r.raw.Forget(f.NodeId, 1)
	if n := tf.count(f.Ino); n != 0 {
		t.Fatalf("forgotten: %d references", n)
	}
	fs.mu.Lock()
	_, known := fs.nodes[meta.Ino(f.Ino)]
	fs.mu.Unlock()
	if known {
		t.Error("forgotten node still known")
	}

	// Looked up again: a new reference, ended by the next forget.
	out, st := r.lookup(d.NodeId, "g")
	r.ok("lookup after forget", st)
	if n := tf.count(f.Ino); n != 1 {
		t.Fatalf("looked up again: %d references", n)
	}
	r.raw.Forget(out.NodeId, 1)
	if n := tf.count(f.Ino); n != 0 {
		t.Fatalf("forgotten again: %d references", n)
	}
	if len(tf.bad) > 0 {
		t.Errorf("%v", tf.bad)
	}
}

// TestKernelReferencesRacingLookups: parallel lookups of one inode through
// several names make one reference, which the forget of all of them ends.
func TestKernelReferencesRacingLookups(t *testing.T) {
	r, tf, _ := newTrackRig(t)
	f := r.create(1, "f", syscall.O_WRONLY, 0o644)
	r.release(f.NodeId, f.Fh)
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		var lo fuse.EntryOut
		r.ok("link", r.raw.Link(nil, &fuse.LinkIn{InHeader: hdr(1), Oldnodeid: f.NodeId}, n, &lo))
	}
	lookups := uint64(1 + len(names))
	const per = 50
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			for range per {
				if out, st := r.lookup(1, n); !st.Ok() || out.NodeId != f.NodeId {
					t.Errorf("lookup %s: %v, node %d", n, st, out.NodeId)
					return
				}
			}
		})
	}
	wg.Wait()
	lookups += uint64(len(names) * per)
	if n := tf.count(f.Ino); n != 1 {
		t.Fatalf("after racing lookups: %d references", n)
	}
	r.raw.Forget(f.NodeId, lookups)
	if n := tf.count(f.Ino); n != 0 || len(tf.bad) > 0 {
		t.Fatalf("forgotten: %d references %v", n, tf.bad)
	}
}

// TestTmpfile: O_TMPFILE reaches the vfs layer with the caller, mode and
// flags; the kernel gets an open file with nlink 0 in no directory, one
// kernel reference, and the node can then be linked into place.
func TestTmpfile(t *testing.T) {
	r, tf, _ := newTrackRig(t)
	d := r.mkdir(1, "d", 0o755)
	var out fuse.CreateOut
	in := &fuse.CreateIn{InHeader: hdr(d.NodeId), Flags: syscall.O_RDWR | unix.O_TMPFILE, Mode: syscall.S_IFREG | 0o640}
	r.ok("tmpfile", r.raw.Tmpfile(nil, in, &out))
	if out.Attr.Nlink != 0 || out.Attr.Mode != syscall.S_IFREG|0o640 || out.NodeId == 0 || out.Fh == 0 {
		t.Fatalf("tmpfile = %+v", out)
	}
	if r.m.lastCaller.Uid != user.Uid || r.m.lastCaller.Gid != user.Gid || r.m.lastMode != 0o640 ||
		r.m.lastFlags&syscall.O_ACCMODE != syscall.O_RDWR {
		t.Errorf("vfs got caller %+v, mode %o, flags %#x", r.m.lastCaller, r.m.lastMode, r.m.lastFlags)
	}
	if n := tf.count(out.Ino); n != 1 {
		t.Fatalf("%d kernel references", n)
	}
	ents, err := r.m.ReadDir(context.Background(), meta.Ino(d.Ino))
	if err != nil || len(ents) != 0 {
		t.Fatalf("the directory lists %+v, %v", ents, err)
	}
	var lo fuse.EntryOut
	r.ok("link", r.raw.Link(nil, &fuse.LinkIn{InHeader: hdr(1), Oldnodeid: out.NodeId}, "named", &lo))
	if lo.NodeId != out.NodeId || lo.Attr.Nlink != 1 {
		t.Fatalf("link = %+v", lo)
	}
	got, st := r.lookup(1, "named")
	r.ok("lookup", st)
	if got.NodeId != out.NodeId {
		t.Fatalf("lookup gave node %d, tmpfile %d", got.NodeId, out.NodeId)
	}
	r.release(out.NodeId, out.Fh)
	r.raw.Forget(out.NodeId, 3) // tmpfile, link, lookup
	if n := tf.count(out.Ino); n != 0 || len(tf.bad) > 0 {
		t.Fatalf("forgotten: %d references %v", n, tf.bad)
	}
}

package metatest

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// Opener returns a fresh, empty FSM that is closed when t ends.
type Opener func(t *testing.T) *meta.FSM

// Run runs the whole suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"Root", testRoot},
		{"Create", testCreate},
		{"CreateExisting", testCreateExisting},
		{"NameErrors", testNameErrors},
		{"Mkdir", testMkdir},
		{"Setgid", testSetgid},
		{"Symlink", testSymlink},
		{"Link", testLink},
		{"LinkMax", testLinkMax},
		{"Unlink", testUnlink},
		{"Rmdir", testRmdir},
		{"Tmpfile", testTmpfile},
		{"Rename", testRename},
		{"SetAttr", testSetAttr},
		{"Truncate", testTruncate},
		{"Commit", testCommit},
		{"CommitInline", testCommitInline},
		{"CommitErrors", testCommitErrors},
		{"RefCounts", testRefCounts},
		{"Reclaim", testReclaim},
		{"Xattr", testXattr},
		{"Stats", testStats},
		{"StaleIndex", testStaleIndex},
		{"Garbage", testGarbage},
		{"SnapshotRestore", testSnapshotRestore},
		{"RestoreCorrupt", testRestoreCorrupt},
		{"Restart", testRestart},
		{"Determinism", testDeterminism},
		{"LargeCommit", testLargeCommit},
		{"ConcurrentReads", testConcurrentReads},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// cs is the chunk size used by the suite.
const cs = 16

const (
	sIFREG  = syscall.S_IFREG
	sIFDIR  = syscall.S_IFDIR
	sIFLNK  = syscall.S_IFLNK
	sIFIFO  = syscall.S_IFIFO
	sIFSOCK = syscall.S_IFSOCK
	sIFCHR  = syscall.S_IFCHR
	sIFBLK  = syscall.S_IFBLK
)

var ctx = context.Background()

// chunkID returns a distinct chunk ID for each n.
func chunkID(n int) store.ChunkID {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(n))
	return store.Sum(b[:])
}

// harness drives one FSM through a Local proposer with a fake clock that
// advances 1000 ns per command.
type harness struct {
	f   *meta.FSM
	p   *meta.Local
	now int64
}

func newHarness(t *testing.T, open Opener) *harness {
	f := open(t)
	return &harness{f: f, p: meta.NewLocal(f), now: 1_000_000}
}

// apply proposes c at the next tick.
func (h *harness) apply(t testing.TB, c meta.Cmd) *meta.Result {
	t.Helper()
	h.now += 1000
	c.Now = h.now
	res, err := h.p.Propose(ctx, &c)
	if err != nil {
		t.Fatalf("propose %v: %v", c.Op, err)
	}
	return res
}

// ok applies c and fails t unless it succeeds.
func (h *harness) ok(t testing.TB, c meta.Cmd) *meta.Result {
	t.Helper()
	res := h.apply(t, c)
	if res.Errno != 0 {
		t.Fatalf("%v %q: errno %v (%d)", c.Op, c.Name, res.Errno, res.Errno)
	}
	return res
}

// fails applies c and checks that it fails with want and changes nothing
// but the applied index.
func (h *harness) fails(t testing.TB, c meta.Cmd, want syscall.Errno) {
	t.Helper()
	before := dump(t, h.f)
	res := h.apply(t, c)
	if res.Errno != want {
		t.Fatalf("%v %q: errno %v (%d), want %v (%d)", c.Op, c.Name, res.Errno, res.Errno, want, want)
	}
	if res.Attr != nil || len(res.Orphans) > 0 || len(res.Freed) > 0 {
		t.Errorf("%v: failed command has results: %+v", c.Op, res)
	}
	if after := dump(t, h.f); strip(after) != strip(before) {
		t.Errorf("%v: failed command changed the state: %s", c.Op, diff(before, after))
	}
}

// diff describes the first difference between two dumps.
func diff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(la), len(lb)) {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  %.300s\nvs\n  %.300s", i+1, x, y)
		}
	}
	return "no difference"
}

func (h *harness) create(t testing.TB, parent meta.Ino, name string, mode uint32) meta.Attr {
	t.Helper()
	return *h.ok(t, meta.Cmd{Op: meta.OpCreate, Parent: parent, Name: name, Mode: mode, Excl: true}).Attr
}

func (h *harness) mkdir(t testing.TB, parent meta.Ino, name string, mode uint32) meta.Attr {
	t.Helper()
	return *h.ok(t, meta.Cmd{Op: meta.OpMkdir, Parent: parent, Name: name, Mode: mode}).Attr
}

func (h *harness) attr(t testing.TB, ino meta.Ino) meta.Attr {
	t.Helper()
	a, err := h.f.GetAttr(ctx, ino)
	if err != nil {
		t.Fatalf("getattr %d: %v", ino, err)
	}
	return a
}

func (h *harness) lookup(t testing.TB, parent meta.Ino, name string) meta.Attr {
	t.Helper()
	a, err := h.f.Lookup(ctx, parent, name)
	if err != nil {
		t.Fatalf("lookup %q in %d: %v", name, parent, err)
	}
	return a
}

func (h *harness) chunks(t testing.TB, ino meta.Ino) []meta.ChunkRef {
	t.Helper()
	c, err := h.f.Chunks(ctx, ino)
	if err != nil {
		t.Fatalf("chunks of %d: %v", ino, err)
	}
	return c
}

func (h *harness) refs(t testing.TB, id store.ChunkID) uint64 {
	t.Helper()
	n, err := h.f.ChunkRefCount(ctx, id)
	if err != nil {
		t.Fatalf("refcount: %v", err)
	}
	return n
}

func (h *harness) zeroRefs(t testing.TB) []store.ChunkID {
	t.Helper()
	ids, err := h.f.ZeroRefChunks(ctx, math.MaxInt64, 0)
	if err != nil {
		t.Fatalf("zero-ref chunks: %v", err)
	}
	return ids
}

func (h *harness) stats(t testing.TB) meta.Stats {
	t.Helper()
	s, err := h.f.Stats(ctx)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	return s
}

// commitSlots commits slots of cs bytes at the given indexes, chunk IDs
// chunkID(id[i]), with the file size given.
func (h *harness) commit(t testing.TB, ino meta.Ino, size uint64, refs ...meta.ChunkRef) *meta.Result {
	t.Helper()
	return h.ok(t, meta.Cmd{Op: meta.OpCommit, Ino: ino, Size: size, ChunkSize: cs, Chunks: refs, Mtime: h.now + 1})
}

func ref(index uint64, id int, n uint32) meta.ChunkRef {
	return meta.ChunkRef{Index: index, ID: chunkID(id), Len: n}
}

func wantIDs(t testing.TB, what string, got []store.ChunkID, want ...store.ChunkID) {
	t.Helper()
	sortIDs(want)
	g := slices.Clone(got)
	sortIDs(g)
	if !slices.Equal(g, want) {
		t.Fatalf("%s: got %d chunks %v, want %d %v", what, len(got), got, len(want), want)
	}
}

func sortIDs(ids []store.ChunkID) {
	slices.SortFunc(ids, func(a, b store.ChunkID) int { return strings.Compare(string(a[:]), string(b[:])) })
}

// dump describes the whole state as seen through the Reader interface:
// stats, the tree from the root (each inode once), orphans, and
// zero-reference chunks.
func dump(t testing.TB, f *meta.FSM) string {
	t.Helper()
	var b strings.Builder
	st, err := f.Stats(ctx)
	if err != nil {
		t.Fatalf("dump: stats: %v", err)
	}
	fmt.Fprintf(&b, "stats %+v\n", st)
	seen := map[meta.Ino]bool{}
	var visit func(ino meta.Ino)
	visit = func(ino meta.Ino) {
		if seen[ino] {
			return
		}
		seen[ino] = true
		a, err := f.GetAttr(ctx, ino)
		if err != nil {
			t.Fatalf("dump: getattr %d: %v", ino, err)
		}
		fmt.Fprintf(&b, "inode %+v\n", a)
		names, err := f.ListXattr(ctx, ino)
		if err != nil {
			t.Fatalf("dump: listxattr %d: %v", ino, err)
		}
		for _, n := range names {
			v, err := f.GetXattr(ctx, ino, n)
			if err != nil {
				t.Fatalf("dump: getxattr %d %q: %v", ino, n, err)
			}
			fmt.Fprintf(&b, "  xattr %q=%q\n", n, v)
		}
		switch {
		case a.IsDir():
			ents, err := f.ReadDir(ctx, ino)
			if err != nil {
				t.Fatalf("dump: readdir %d: %v", ino, err)
			}
			for _, e := range ents {
				fmt.Fprintf(&b, "  entry %q -> %d %o\n", e.Name, e.Ino, e.Mode)
			}
			for _, e := range ents {
				visit(e.Ino)
			}
		case a.IsSymlink():
			s, err := f.Readlink(ctx, ino)
			if err != nil {
				t.Fatalf("dump: readlink %d: %v", ino, err)
			}
			fmt.Fprintf(&b, "  target %q\n", s)
		case a.IsReg():
			data, err := f.Inline(ctx, ino)
			if err != nil {
				t.Fatalf("dump: inline %d: %v", ino, err)
			}
			fmt.Fprintf(&b, "  inline %q\n", data)
			chunks, err := f.Chunks(ctx, ino)
			if err != nil {
				t.Fatalf("dump: chunks %d: %v", ino, err)
			}
			for _, c := range chunks {
				n, err := f.ChunkRefCount(ctx, c.ID)
				if err != nil {
					t.Fatalf("dump: refcount: %v", err)
				}
				fmt.Fprintf(&b, "  slot %d %s len %d refs %d\n", c.Index, c.ID, c.Len, n)
			}
		}
	}
	visit(meta.RootIno)
	orphans, err := f.Orphans(ctx)
	if err != nil {
		t.Fatalf("dump: orphans: %v", err)
	}
	for _, o := range orphans {
		fmt.Fprintf(&b, "orphan %d\n", o)
		visit(o)
	}
	zero, err := f.ZeroRefChunks(ctx, math.MaxInt64, 0)
	if err != nil {
		t.Fatalf("dump: zero refs: %v", err)
	}
	for _, id := range zero {
		fmt.Fprintf(&b, "zero-ref %s\n", id)
	}
	return b.String()
}

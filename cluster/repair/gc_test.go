package repair_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/cluster/repair"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// timedBackend is a memory backend whose objects' modification times
// come from a fake clock, or are absent (noModTime).
type timedBackend struct {
	*store.Memory
	clock     *fakeClock
	noModTime bool
	onDelete  func(id store.ChunkID) // if set, called before each Delete
	mu        sync.Mutex
	mod       map[string]time.Time
}

func newTimedBackend(clock *fakeClock) *timedBackend {
	return &timedBackend{Memory: store.NewMemory(), clock: clock, mod: map[string]time.Time{}}
}

func (b *timedBackend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := b.Memory.Put(ctx, key, r, size); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mod[key] = b.clock.Now()
	return nil
}

func (b *timedBackend) Delete(ctx context.Context, key string) error {
	if b.onDelete != nil {
		if id, err := store.ParseChunkID(key[len(key)-64:]); err == nil {
			b.onDelete(id)
		}
	}
	return b.Memory.Delete(ctx, key)
}

func (b *timedBackend) fix(info store.ObjectInfo) store.ObjectInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	info.ModTime = b.mod[info.Key]
	if b.noModTime {
		info.ModTime = time.Time{}
	}
	return info
}

func (b *timedBackend) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	info, err := b.Memory.Stat(ctx, key)
	return b.fix(info), err
}

func (b *timedBackend) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	return b.Memory.List(ctx, prefix, func(info store.ObjectInfo) error { return fn(b.fix(info)) })
}

// noPeers is a cluster of one.
type noPeers struct{}

func (noPeers) Alive(string) bool                 { return false }
func (noPeers) Client(string) (repair.Peer, bool) { return nil, false }
func onePlacer(t *testing.T) func() *placement.Placer {
	p, err := (&placement.Layout{Replicas: 1, Nodes: []placement.Node{{Name: "n1", Weight: 1}}}).Compile()
	if err != nil {
		t.Fatal(err)
	}
	return func() *placement.Placer { return p }
}

// gcSetup returns a single-node keeper with a 10-minute grace on a fake
// clock.
func gcSetup(t *testing.T, noModTime bool) (*repair.Keeper, *timedBackend, *fakeChunks, *fakeClock) {
	t.Helper()
	return gcSetupWith(t, noModTime, nil)
}

// gcSetupWith is gcSetup with a change to the config (on the fake
// chunks) before the keeper is made.
func gcSetupWith(t *testing.T, noModTime bool, change func(*repair.Config)) (*repair.Keeper, *timedBackend, *fakeChunks, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	b := newTimedBackend(clk)
	b.noModTime = noModTime
	chunks := newFakeChunks()
	cfg := repair.DefaultTestConfig()
	cfg.Node = "n1"
	cfg.Local = b
	cfg.Placer = onePlacer(t)
	cfg.Peers = noPeers{}
	cfg.Chunks = chunks
	cfg.Clock = clk
	cfg.GCGrace = 10 * time.Minute
	if change != nil {
		change(&cfg)
	}
	k, err := repair.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	repair.SetBatch(k, 3)
	t.Cleanup(func() { k.Close() })
	return k, b, chunks, clk
}

// putAt stores content at the clock's now plus at (at <= 0).
func putAt(t *testing.T, b *timedBackend, clk *fakeClock, at time.Duration, content string) store.ChunkID {
	t.Helper()
	clk.Add(at)
	defer clk.Add(-at)
	id := store.Sum([]byte(content))
	if err := b.Put(context.Background(), id.Key(), bytes.NewReader([]byte(content)), int64(len(content))); err != nil {
		t.Fatal(err)
	}
	return id
}

func present(b store.Backend, id store.ChunkID) bool {
	_, err := b.Stat(context.Background(), id.Key())
	return !errors.Is(err, store.ErrNotFound)
}

func TestGC(t *testing.T) {
	k, b, chunks, clk := gcSetup(t, false)
	now := clk.Now()
	ref := putAt(t, b, clk, -time.Hour, "referenced")
	chunks.setRefsAt(ref, 2, now)
	zeroOld := putAt(t, b, clk, -time.Hour, "zero for 20 minutes")
	chunks.setRefsAt(zeroOld, 0, now.Add(-20*time.Minute))
	zeroNew := putAt(t, b, clk, -time.Hour, "old object, zero for a minute")
	chunks.setRefsAt(zeroNew, 0, now.Add(-time.Minute))
	orphanOld := putAt(t, b, clk, -20*time.Minute, "uploaded 20 minutes ago, never committed")
	orphanNew := putAt(t, b, clk, -time.Minute, "uploaded a minute ago, not committed yet")

	r, err := k.GC(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		id   store.ChunkID
		want bool
	}{
		{"referenced", ref, true},
		{"zero past the grace", zeroOld, false},
		{"old object zero within the grace", zeroNew, true},
		{"orphan past the grace", orphanOld, false},
		{"orphan within the grace", orphanNew, true},
	} {
		if got := present(b, c.id); got != c.want {
			t.Errorf("first pass: %s: present %v, want %v", c.name, got, c.want)
		}
	}
	if r.Deleted != 2 || r.Young != 2 || r.Referenced != 1 || r.Chunks != 5 {
		t.Errorf("first pass: %+v, want 2 deleted, 2 young, 1 referenced of 5", r)
	}

	clk.Add(10 * time.Minute)
	if _, err := k.GC(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[store.ChunkID]bool{ref: true, zeroNew: false, orphanNew: false} {
		if got := present(b, id); got != want {
			t.Errorf("second pass: %s present %v, want %v", shortID(id), got, want)
		}
	}
}

func TestGCWithoutModTime(t *testing.T) {
	// A backend that gives no modification time: the grace counts from
	// when the keeper first saw the object unreferenced.
	k, b, chunks, clk := gcSetup(t, true)
	orphan := putAt(t, b, clk, -time.Hour, "never committed")
	ref := putAt(t, b, clk, -time.Hour, "referenced")
	chunks.setRefs(ref, 1)
	for i, step := range []struct {
		advance time.Duration
		want    bool
	}{{0, true}, {9 * time.Minute, true}, {time.Minute, false}} {
		clk.Add(step.advance)
		if _, err := k.GC(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if got := present(b, orphan); got != step.want {
			t.Errorf("pass %d: orphan present %v, want %v", i, got, step.want)
		}
		if !present(b, ref) {
			t.Fatalf("pass %d: the referenced chunk was deleted", i)
		}
	}
}

func TestGCRechecksBeforeDeleting(t *testing.T) {
	// A commit references the chunk between GC's first look and its
	// deletion: the re-check keeps it.
	k, b, chunks, clk := gcSetup(t, false)
	racy := putAt(t, b, clk, -time.Hour, "about to be deduplicated onto")
	chunks.setRefsAt(racy, 0, clk.Now().Add(-time.Hour))
	plain := putAt(t, b, clk, -time.Hour, "garbage")
	chunks.setRefsAt(plain, 0, clk.Now().Add(-time.Hour))
	chunks.onRefCount = func(id store.ChunkID, nth int) {
		if id == racy && nth == 1 {
			chunks.setRefs(racy, 1)
		}
	}
	r, err := k.GC(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !present(b, racy) || r.Raced != 1 {
		t.Errorf("racing chunk present %v, raced %d; want kept and counted", present(b, racy), r.Raced)
	}
	if present(b, plain) || r.Deleted != 1 {
		t.Errorf("garbage chunk present %v, deleted %d; want it deleted", present(b, plain), r.Deleted)
	}
}

func TestGCConcurrentReferences(t *testing.T) {
	// Chunks gain references while GC passes run. A chunk referenced
	// before a pass starts is never deleted by it; one referenced during
	// the pass may be (the race the package doc describes), so only the
	// first is asserted, at the moment of each deletion.
	k, b, chunks, clk := gcSetup(t, false)
	var ids []store.ChunkID
	for i := range 90 {
		id := putAt(t, b, clk, -time.Hour, fmt.Sprintf("chunk %d", i))
		chunks.setRefsAt(id, 0, clk.Now().Add(-time.Hour))
		ids = append(ids, id)
	}
	var mu sync.Mutex
	refPass := map[store.ChunkID]int{} // the pass during which a chunk was referenced
	pass := 0
	var violations []string
	b.onDelete = func(id store.ChunkID) {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := refPass[id]; ok && p < pass {
			violations = append(violations, fmt.Sprintf("%s referenced during pass %d, deleted by pass %d", shortID(id), p, pass))
		}
	}
	var wg sync.WaitGroup
	for pass < 3 {
		mu.Lock()
		pass++
		p := pass
		mu.Unlock()
		wg.Go(func() {
			for i := p - 1; i < len(ids); i += 6 {
				mu.Lock()
				refPass[ids[i]] = p
				mu.Unlock()
				chunks.setRefs(ids[i], 1)
			}
		})
		if _, err := k.GC(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
	for _, v := range violations {
		t.Error(v)
	}
	for i, id := range ids {
		mu.Lock()
		_, referenced := refPass[id]
		mu.Unlock()
		if !referenced && present(b, id) {
			t.Errorf("unreferenced chunk %d survived three passes", i)
		}
	}
}

// The namespace's tombstones are what the daemon gives the keeper as its
// Condemner.
var _ repair.Condemner = (*meta.Tombstones)(nil)

// fakeCondemner refuses the chunks in refuse (as if referenced) and
// records what it was asked.
type fakeCondemner struct {
	mu        sync.Mutex
	refuse    map[store.ChunkID]bool
	condemned []store.ChunkID
	absolved  []store.ChunkID
}

func (c *fakeCondemner) Condemn(ctx context.Context, ids []store.ChunkID) ([]store.ChunkID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []store.ChunkID
	for _, id := range ids {
		if !c.refuse[id] {
			out = append(out, id)
		}
	}
	c.condemned = append(c.condemned, out...)
	return out, nil
}

func (c *fakeCondemner) Absolve(ctx context.Context, ids []store.ChunkID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.absolved = append(c.absolved, ids...)
	return nil
}

// TestGCCondemns: GC deletes only what the Condemner condemned, and
// absolves it after.
func TestGCCondemns(t *testing.T) {
	cond := &fakeCondemner{refuse: map[store.ChunkID]bool{}}
	var deleting []store.ChunkID
	k, b, chunks, clk := gcSetupWith(t, false, func(c *repair.Config) { c.Condemner = cond })
	b.onDelete = func(id store.ChunkID) {
		cond.mu.Lock()
		defer cond.mu.Unlock()
		if slices.Contains(cond.absolved, id) || !slices.Contains(cond.condemned, id) {
			t.Errorf("%s deleted while not condemned (or after the absolve)", shortID(id))
		}
		deleting = append(deleting, id)
	}
	var garbage []store.ChunkID
	for i := range 7 {
		id := putAt(t, b, clk, -time.Hour, fmt.Sprintf("garbage %d", i))
		if i%2 == 0 {
			chunks.setRefsAt(id, 0, clk.Now().Add(-time.Hour))
		} // else no record at all
		garbage = append(garbage, id)
	}
	young := putAt(t, b, clk, -time.Minute, "young")
	cond.refuse[garbage[1]] = true
	cond.refuse[garbage[4]] = true

	r, err := k.GC(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range garbage {
		if want := cond.refuse[id]; present(b, id) != want {
			t.Errorf("garbage %d: present %v, want %v", i, present(b, id), want)
		}
	}
	if !present(b, young) || slices.Contains(cond.condemned, young) {
		t.Error("a young object was condemned or deleted")
	}
	if r.Deleted != 5 || r.Raced != 2 || r.Young != 1 {
		t.Errorf("report %+v; want 5 deleted, 2 raced, 1 young", r)
	}
	slices.SortFunc(deleting, func(a, b store.ChunkID) int { return bytes.Compare(a[:], b[:]) })
	absolved := slices.Clone(cond.absolved)
	slices.SortFunc(absolved, func(a, b store.ChunkID) int { return bytes.Compare(a[:], b[:]) })
	if !slices.Equal(absolved, deleting) {
		t.Errorf("absolved %d chunks, deleted %d: want the same", len(absolved), len(deleting))
	}
}

// TestGCCondemnWindow: once half the lease has passed since the
// condemnation, GC deletes no more and does not absolve.
func TestGCCondemnWindow(t *testing.T) {
	cond := &fakeCondemner{}
	k, b, chunks, clk := gcSetupWith(t, false, func(c *repair.Config) { c.Condemner = cond })
	repair.SetBatch(k, 100)
	var ids []store.ChunkID
	for i := range 4 {
		id := putAt(t, b, clk, -time.Hour, fmt.Sprintf("garbage %d", i))
		chunks.setRefsAt(id, 0, clk.Now().Add(-time.Hour))
		ids = append(ids, id)
	}
	b.onDelete = func(store.ChunkID) { clk.Add(meta.CondemnLease / 2) } // a very slow delete
	r, err := k.GC(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	left := 0
	for _, id := range ids {
		if present(b, id) {
			left++
		}
	}
	if r.Deleted != 1 || left != 3 || r.Failed != 3 || len(cond.absolved) != 0 {
		t.Errorf("report %+v, %d left, %d absolved; want 1 deleted, 3 left (failed), none absolved", r, left, len(cond.absolved))
	}
}

// TestGCTombstonesNamespace runs GC with the namespace itself as Chunks
// and Condemner: what it deletes is tombstoned, and a writer that found
// the chunk stored before the deletion cannot commit it.
func TestGCTombstonesNamespace(t *testing.T) {
	fsm, err := meta.Open(meta.DefaultTestConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsm.Close() })
	p := meta.NewLocal(fsm)
	ctx := context.Background()
	res, err := p.Propose(ctx, &meta.Cmd{Op: meta.OpCreate, Parent: meta.RootIno, Name: "f", Mode: 0o100644})
	if err != nil || res.Errno != 0 {
		t.Fatal(err, res.Errno)
	}
	ino := res.Attr.Ino
	clk := newFakeClock()
	b := newTimedBackend(clk)
	cfg := repair.DefaultTestConfig()
	cfg.Node, cfg.Local, cfg.Placer, cfg.Peers, cfg.Clock = "n1", b, onePlacer(t), noPeers{}, clk
	cfg.Chunks, cfg.Condemner = fsm, meta.NewTombstones(p)
	cfg.GCGrace = 10 * time.Minute
	k, err := repair.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })

	orphan := putAt(t, b, clk, -time.Hour, "uploaded, never committed")
	upload := fsm.AppliedIndex() // a writer finds it stored now
	r, err := k.GC(ctx, nil)
	if err != nil || r.Deleted != 1 || present(b, orphan) {
		t.Fatalf("gc: %+v, %v; want the orphan deleted", r, err)
	}
	g, err := fsm.ChunkGC(ctx, orphan)
	if err != nil || !g.Tombstoned || g.Tombstone.Pending != 0 || g.Tombstone.DoneIndex <= upload {
		t.Fatalf("chunk after gc: %+v, %v; want a closed tombstone", g, err)
	}
	commit := func(upload uint64) syscall.Errno {
		res, err := p.Propose(ctx, &meta.Cmd{Op: meta.OpCommit, Ino: ino, Size: 10, ChunkSize: 1 << 16,
			Chunks: []meta.ChunkRef{{ID: orphan, Len: 10, UploadIndex: upload}}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Errno
	}
	if e := commit(upload); e != meta.ErrnoStaleUpload {
		t.Fatalf("commit of the chunk found before the deletion: %v; want ESTALE", e)
	}
	if e := commit(fsm.AppliedIndex()); e != 0 {
		t.Fatalf("commit of the chunk uploaded again after the deletion: %v", e)
	}
}

package vfs

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store/meta"
)

// reclaimSpy is a Proposer that counts the OpReclaim proposals per inode
// and can hold them until released.
type reclaimSpy struct {
	meta.Proposer
	mu   sync.Mutex
	n    map[meta.Ino]int
	hold chan struct{} // if set, OpReclaim waits for it to close
	held chan meta.Ino // ... after sending its inode here
}

func (p *reclaimSpy) Propose(ctx context.Context, cmd *meta.Cmd) (*meta.Result, error) {
	if cmd.Op == meta.OpReclaim {
		p.mu.Lock()
		p.n[cmd.Ino]++
		hold := p.hold
		p.mu.Unlock()
		if hold != nil {
			p.held <- cmd.Ino
			<-hold
		}
	}
	return p.Proposer.Propose(ctx, cmd)
}

func (p *reclaimSpy) reclaims(ino meta.Ino) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n[ino]
}

// spyVFS is e's filesystem with its proposer wrapped in a reclaimSpy.
func spyVFS(e *env) (*VFS, *reclaimSpy) {
	e.t.Helper()
	spy := &reclaimSpy{Proposer: e.p, n: map[meta.Ino]int{}}
	v, err := New(e.cfg, e.fsm, spy, e.cs)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { v.Close(context.Background()) })
	return v, spy
}

// exists reports whether ino is still in the metadata (not reclaimed).
func exists(e *env, ino meta.Ino) bool {
	e.t.Helper()
	_, err := e.fsm.GetAttr(e.ctx, ino)
	if err != nil && err != syscall.ENOENT {
		e.t.Fatal(err)
	}
	return err == nil
}

func mkfile(e *env, v *VFS, name string) (meta.Attr, *Handle) {
	e.t.Helper()
	a, h, err := v.Create(e.ctx, root, meta.RootIno, name, 0o644, syscall.O_RDWR)
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	return a, h
}

// TestOrphanKernelReferences: an unlinked inode is reclaimed once nothing
// here references it, handle or kernel inode, whichever goes last, and
// exactly once.
func TestOrphanKernelReferences(t *testing.T) {
	e := newEnv(t, envOpt{})
	v, spy := spyVFS(e)
	unlink := func(name string) {
		t.Helper()
		if err := v.Unlink(e.ctx, meta.RootIno, name); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("unlinked while remembered, then forgotten", func(t *testing.T) {
		a, h := mkfile(e, v, "a")
		e.release(v, h)
		v.Remember(a.Ino)
		unlink("a")
		if !exists(e, a.Ino) {
			t.Fatal("reclaimed while the kernel holds it")
		}
		// The kernel may still open it (an open racing the unlink).
		h = e.open(v, a.Ino, syscall.O_RDONLY)
		if got, err := v.GetAttr(e.ctx, a.Ino); err != nil || got.Nlink != 0 {
			t.Fatalf("getattr of the open orphan: %+v, %v", got, err)
		}
		e.release(v, h)
		if !exists(e, a.Ino) {
			t.Fatal("reclaimed at release while the kernel holds it")
		}
		v.Forget(e.ctx, a.Ino)
		if exists(e, a.Ino) || spy.reclaims(a.Ino) != 1 {
			t.Fatalf("after forget: exists %v, %d reclaims", exists(e, a.Ino), spy.reclaims(a.Ino))
		}
	})

	t.Run("unlinked while open and remembered, released, forgotten", func(t *testing.T) {
		a, h := mkfile(e, v, "b")
		v.Remember(a.Ino)
		unlink("b")
		e.release(v, h)
		if !exists(e, a.Ino) || spy.reclaims(a.Ino) != 0 {
			t.Fatal("reclaimed at release while the kernel holds it")
		}
		v.Forget(e.ctx, a.Ino)
		if exists(e, a.Ino) || spy.reclaims(a.Ino) != 1 {
			t.Fatalf("after forget: exists %v, %d reclaims", exists(e, a.Ino), spy.reclaims(a.Ino))
		}
		v.Forget(e.ctx, a.Ino) // unmatched: ignored
		if n := spy.reclaims(a.Ino); n != 1 {
			t.Fatalf("%d reclaims", n)
		}
	})

	t.Run("forgotten before release", func(t *testing.T) {
		a, h := mkfile(e, v, "c")
		v.Remember(a.Ino)
		v.Remember(a.Ino) // two kernel inodes (two mounts of one VFS)
		unlink("c")
		v.Forget(e.ctx, a.Ino)
		v.Forget(e.ctx, a.Ino)
		if !exists(e, a.Ino) {
			t.Fatal("reclaimed while open")
		}
		e.write(h, 0, []byte("still writable"))
		e.release(v, h)
		if exists(e, a.Ino) || spy.reclaims(a.Ino) != 1 {
			t.Fatalf("after release: exists %v, %d reclaims", exists(e, a.Ino), spy.reclaims(a.Ino))
		}
	})

	t.Run("unreferenced: at once", func(t *testing.T) {
		a, h := mkfile(e, v, "d")
		e.release(v, h)
		unlink("d")
		if exists(e, a.Ino) || spy.reclaims(a.Ino) != 1 {
			t.Fatalf("after unlink: exists %v, %d reclaims", exists(e, a.Ino), spy.reclaims(a.Ino))
		}
		// The kernel learns of it late (a lookup that raced the unlink).
		v.Remember(a.Ino)
		if _, err := v.Open(e.ctx, root, a.Ino, syscall.O_RDONLY); err != syscall.ENOENT {
			t.Fatalf("open of a reclaimed inode: %v, want ENOENT", err)
		}
		v.Forget(e.ctx, a.Ino)
		if n := spy.reclaims(a.Ino); n != 1 {
			t.Fatalf("%d reclaims", n)
		}
	})

	t.Run("renamed over while remembered", func(t *testing.T) {
		a, h := mkfile(e, v, "e")
		e.release(v, h)
		_, h2 := mkfile(e, v, "e.tmp")
		e.release(v, h2)
		v.Remember(a.Ino)
		if err := v.Rename(e.ctx, meta.RootIno, "e.tmp", meta.RootIno, "e", 0); err != nil {
			t.Fatal(err)
		}
		if !exists(e, a.Ino) {
			t.Fatal("reclaimed while the kernel holds it")
		}
		v.Forget(e.ctx, a.Ino)
		if exists(e, a.Ino) {
			t.Fatal("not reclaimed at forget")
		}
	})
	if orphans, _ := e.fsm.Orphans(e.ctx); len(orphans) != 0 {
		t.Errorf("orphans left: %v", orphans)
	}
}

// TestOpenWhileReclaiming: between the decision to reclaim and the end of
// the reclaim, the inode cannot be opened (the open would succeed on an
// inode about to vanish).
func TestOpenWhileReclaiming(t *testing.T) {
	e := newEnv(t, envOpt{})
	v, spy := spyVFS(e)
	a, h := mkfile(e, v, "f")
	e.release(v, h)
	spy.hold, spy.held = make(chan struct{}), make(chan meta.Ino, 1)
	done := make(chan error)
	go func() { done <- v.Unlink(e.ctx, meta.RootIno, "f") }()
	if ino := <-spy.held; ino != a.Ino {
		t.Fatalf("reclaiming %d, want %d", ino, a.Ino)
	}
	if _, err := v.Open(e.ctx, root, a.Ino, syscall.O_RDONLY); err != syscall.ENOENT {
		t.Errorf("open while reclaiming: %v, want ENOENT", err)
	}
	close(spy.hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if exists(e, a.Ino) {
		t.Fatal("not reclaimed")
	}
}

// TestOrphanRaces: the unlink, the last release and the forget of many
// orphans race; each is reclaimed exactly once and none is left.
func TestOrphanRaces(t *testing.T) {
	e := newEnv(t, envOpt{})
	v, spy := spyVFS(e)
	const files = 64
	type fh struct {
		a meta.Attr
		h *Handle
	}
	var fhs []fh
	for i := range files {
		a, h := mkfile(e, v, fmt.Sprint("r", i))
		v.Remember(a.Ino)
		fhs = append(fhs, fh{a, h})
	}
	var wg sync.WaitGroup
	for i, f := range fhs {
		wg.Go(func() {
			if err := v.Unlink(e.ctx, meta.RootIno, fmt.Sprint("r", i)); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if err := v.Release(e.ctx, f.h); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() { v.Forget(e.ctx, f.a.Ino) })
		// An open through the kernel's inode, racing the rest: it
		// either fails (ENOENT: reclaim decided) or keeps the inode
		// until its release.
		wg.Go(func() {
			h, err := v.Open(e.ctx, root, f.a.Ino, syscall.O_RDONLY)
			switch err {
			case nil:
				if _, err := v.GetAttr(e.ctx, f.a.Ino); err != nil {
					t.Errorf("getattr of an open file: %v", err)
				}
				if err := v.Release(e.ctx, h); err != nil {
					t.Error(err)
				}
			case syscall.ENOENT:
			default:
				t.Errorf("open: %v", err)
			}
		})
	}
	wg.Wait()
	for _, f := range fhs {
		if n := spy.reclaims(f.a.Ino); n != 1 || exists(e, f.a.Ino) {
			t.Errorf("inode %d: %d reclaims, exists %v", f.a.Ino, n, exists(e, f.a.Ino))
		}
	}
	if orphans, _ := e.fsm.Orphans(e.ctx); len(orphans) != 0 {
		t.Errorf("orphans left: %v", orphans)
	}
}

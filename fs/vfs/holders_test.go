package vfs

import (
	"bytes"
	"context"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store/meta"
)

// twoHosts returns host A (e.v) and host B sharing the namespace and the
// backend, each asking the other whether it holds an orphan, as dfsd
// does over the network.
func twoHosts(t *testing.T) (*env, *VFS) {
	var a, b *VFS
	e := newEnv(t, envOpt{cfg: func(c *Config) {
		c.OthersHold = func(_ context.Context, ino meta.Ino) (bool, error) {
			if a == nil || b == nil {
				return false, nil
			}
			return b.Holds(ino), nil
		}
	}})
	a = e.v
	e.cfg.OthersHold = func(_ context.Context, ino meta.Ino) (bool, error) { return a.Holds(ino), nil }
	b = e.freshVFS()
	return e, b
}

// removedWhileOpen writes data to file f on host A, opens it on host b
// and removes it on A.
func removedWhileOpen(e *env, b *VFS, data []byte) (meta.Ino, *Handle) {
	e.t.Helper()
	ino, err := writeFile(e, e.v, "f", data)
	if err != nil {
		e.t.Fatal(err)
	}
	h, err := b.Open(e.ctx, root, ino, syscall.O_RDONLY)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.v.Unlink(e.ctx, meta.RootIno, "f"); err != nil {
		e.t.Fatal(err)
	}
	return ino, h
}

// TestOrphanHeldByAnotherHost: a file open on host B and removed on host
// A keeps its data for B until B closes it; then B reclaims it.
func TestOrphanHeldByAnotherHost(t *testing.T) {
	e, b := twoHosts(t)
	data := pattern(3*int(e.cfg.ChunkSize)+100, 5)
	_, h := removedWhileOpen(e, b, data)
	if inos, _ := e.fsm.Orphans(e.ctx); len(inos) != 1 {
		t.Fatalf("orphans after the unlink: %v; want the file, held by B", inos)
	}
	got := make([]byte, len(data))
	if n, err := b.Read(e.ctx, h, got, 0); err != nil || n != len(data) || !bytes.Equal(got, data) {
		t.Fatalf("B read %d bytes (%v) of the removed file; want its %d bytes", n, err, len(data))
	}
	if err := b.Release(e.ctx, h); err != nil {
		t.Fatal(err)
	}
	if inos, _ := e.fsm.Orphans(e.ctx); len(inos) != 0 {
		t.Fatalf("orphans after B's last close: %v; want none", inos)
	}
}

// TestSweepOrphansNobodyHolds: an orphan left behind (its holder went
// away without reclaiming it) is reclaimed by the sweep, at the second
// sweep that finds it unheld; one a host holds is not.
func TestSweepOrphansNobodyHolds(t *testing.T) {
	e, b := twoHosts(t)
	ino, h := removedWhileOpen(e, b, pattern(1000, 1))
	for range 3 {
		if n, err := e.v.sweepOrphans(e.ctx); err != nil || n != 0 {
			t.Fatalf("sweep while B holds it: %d reclaimed, %v", n, err)
		}
	}
	// B goes away without closing: its handle no longer counts.
	b.mu.Lock()
	delete(b.files, ino)
	b.mu.Unlock()
	_ = h
	if n, err := e.v.sweepOrphans(e.ctx); err != nil || n != 0 {
		t.Fatalf("first unheld sweep: %d reclaimed, %v; want it left for the next", n, err)
	}
	if n, err := e.v.sweepOrphans(e.ctx); err != nil || n != 1 {
		t.Fatalf("second unheld sweep: %d reclaimed, %v; want 1", n, err)
	}
	if inos, _ := e.fsm.Orphans(e.ctx); len(inos) != 0 {
		t.Fatalf("orphans after the sweep: %v", inos)
	}
}

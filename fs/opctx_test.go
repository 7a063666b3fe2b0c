package fs

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// request returns a go-fuse request context and the function that
// interrupts it, as go-fuse does on FUSE_INTERRUPT.
func request() (*fuse.Context, func()) {
	c := make(chan struct{})
	return &fuse.Context{Caller: user, Cancel: c}, func() { close(c) }
}

func graceFsys(grace time.Duration) *fsys {
	cfg := DefaultConfig()
	cfg.InterruptGrace = grace
	return newFsys(newMemFS(), cfg)
}

// settled waits until the number of goroutines is back to at most n.
func settled(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, want at most %d: a watcher leaked", runtime.NumGoroutine(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestOpCtxNotInterrupted(t *testing.T) {
	fs := graceFsys(time.Hour)
	base := runtime.NumGoroutine()
	req, _ := request()

	// A request that never blocks starts nothing.
	ctx, done := fs.opCtx(req)
	if err := ctx.Err(); err != nil {
		t.Fatalf("Err of a running request: %v", err)
	}
	if c, ok := fuse.FromContext(ctx); !ok || c.Uid != user.Uid || c.Pid != user.Pid {
		t.Errorf("caller lost: %+v %v", c, ok)
	}
	if n := runtime.NumGoroutine(); n != base {
		t.Errorf("%d goroutines started by a request nobody waited on", n-base)
	}
	done()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err after the request ended: %v", ctx.Err())
	}
	select {
	case <-ctx.Done():
	default:
		t.Error("Done asked after the end is not closed")
	}
	done() // idempotent

	// A request that waits watches until it ends, then stops.
	ctx, done = fs.opCtx(req)
	ch := ctx.Done()
	select {
	case <-ch:
		t.Fatal("Done closed while the request runs")
	default:
	}
	done()
	<-ch
	settled(t, base)
}

func TestOpCtxInterruptWaitsForGrace(t *testing.T) {
	const grace = 100 * time.Millisecond
	fs := graceFsys(grace)
	base := runtime.NumGoroutine()

	// Waiting on Done: cancelled grace after the interrupt, not before.
	req, interrupt := request()
	ctx, done := fs.opCtx(req)
	ch := ctx.Done()
	start := time.Now()
	interrupt()
	if err := ctx.Err(); err != nil {
		t.Fatalf("cancelled at once by the interrupt: %v", err)
	}
	<-ch
	if d := time.Since(start); d < grace {
		t.Errorf("cancelled %v after the interrupt, grace is %v", d, grace)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err after the grace: %v", ctx.Err())
	}
	done()

	// Only asking Err (a request that never blocks): the grace starts at
	// the first Err that sees the interrupt.
	req, interrupt = request()
	ctx, done = fs.opCtx(req)
	interrupt()
	start = time.Now()
	if err := ctx.Err(); err != nil {
		t.Fatalf("cancelled at once by the interrupt: %v", err)
	}
	for ctx.Err() == nil {
		if time.Since(start) > 5*time.Second {
			t.Fatal("never cancelled")
		}
		time.Sleep(time.Millisecond)
	}
	if d := time.Since(start); d < grace {
		t.Errorf("cancelled %v after the interrupt, grace is %v", d, grace)
	}
	done()
	settled(t, base)

	// Interrupted, but the request ends within the grace: the watcher
	// and its timer stop at once.
	req, interrupt = request()
	ctx, done = fs.opCtx(req)
	ch = ctx.Done()
	interrupt()
	done()
	<-ch
	settled(t, base)
}

func TestOpCtxUninterruptible(t *testing.T) {
	fs := graceFsys(time.Millisecond)
	req := &fuse.Context{Caller: user} // no Cancel channel: never interrupted
	ctx, done := fs.opCtx(req)
	if ctx != context.Context(req) {
		t.Errorf("a request that cannot be interrupted got a new context")
	}
	done()
}

// TestInterruptedRequestSucceeds: requests the kernel interrupted (a
// runtime signal to the caller) still succeed when they finish within the
// grace; a call still running after it fails with EINTR.
func TestInterruptedRequestSucceeds(t *testing.T) {
	r := newRig(t)
	intr := make(chan struct{})
	close(intr)
	var out fuse.CreateOut
	ci := &fuse.CreateIn{InHeader: hdr(1), Flags: syscall.O_RDWR, Mode: 0o644}
	r.ok("interrupted create", r.raw.Create(intr, ci, "f", &out))
	var eo fuse.EntryOut
	h := hdr(1)
	r.ok("interrupted lookup", r.raw.Lookup(intr, &h, "f", &eo))
	var ao fuse.AttrOut
	r.ok("interrupted getattr", r.raw.GetAttr(intr, &fuse.GetAttrIn{InHeader: hdr(eo.NodeId)}, &ao))
	if _, st := r.raw.Write(intr, &fuse.WriteIn{InHeader: hdr(out.NodeId), Fh: out.Fh}, []byte("x")); !st.Ok() {
		t.Fatalf("interrupted write: %v", st)
	}
	r.ok("interrupted flush", r.raw.Flush(intr, &fuse.FlushIn{InHeader: hdr(out.NodeId), Fh: out.Fh}))
	r.ok("interrupted fsync", r.raw.Fsync(intr, &fuse.FsyncIn{InHeader: hdr(out.NodeId), Fh: out.Fh}))
	r.raw.Release(intr, &fuse.ReleaseIn{InHeader: hdr(out.NodeId), Fh: out.Fh})
	if got := r.m.called(); !slices.Contains(got, "Release") {
		t.Errorf("calls %v: no Release", got)
	}

	fs := graceFsys(10 * time.Millisecond)
	req, interrupt := request()
	interrupt()
	ctx, done := fs.opCtx(req)
	defer done()
	<-ctx.Done() // a call stuck on a dead backend, waiting
	if errno := fs.toErrno(ctx.Err()); errno != syscall.EINTR {
		t.Errorf("stuck interrupted call: %v, want EINTR", errno)
	}
}

// BenchmarkOpCtx is the cost added to every request: opCtx, a few Err
// checks, the end.
func BenchmarkOpCtx(b *testing.B) {
	fs := graceFsys(defaultInterruptGrace)
	req, _ := request()
	b.ReportAllocs()
	for b.Loop() {
		ctx, done := fs.opCtx(req)
		_ = ctx.Err()
		_ = ctx.Err()
		done()
	}
}

// BenchmarkOpCtxAfterFunc is the same with the standard library's
// building blocks, for comparison: a goroutine per request.
func BenchmarkOpCtxAfterFunc(b *testing.B) {
	req, _ := request()
	b.ReportAllocs()
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.WithoutCancel(req))
		stop := context.AfterFunc(req, func() { time.AfterFunc(defaultInterruptGrace, cancel) })
		_ = ctx.Err()
		_ = ctx.Err()
		stop()
		cancel()
	}
}

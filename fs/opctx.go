package fs

import (
	"context"
	"sync"
	"time"
)

// Interrupts. The kernel sends FUSE_INTERRUPT for a request whose caller
// gets a signal, and go-fuse then closes the request's Done channel. Most
// of those signals are not meant to stop anything: a Go program gets a
// stream of SIGURG (the runtime's preemption), and other runtimes and
// profilers use signals the same way. Raw system calls such as open(2),
// rename(2) and stat(2) are not restarted after EINTR, so passing go-fuse's
// context straight to the vfs layer would fail them at random. A program
// that means to stop (Ctrl-C on a call stuck on an unreachable backend)
// keeps the request interrupted, though, and must not wait for ever.
//
// So each request hands the vfs layer an opCtx: a context with the
// request's values (the caller) that is cancelled only if the request is
// still running Config.InterruptGrace after the kernel interrupted it.
// Flush, Fsync and Release are never cancelled: close(2) must commit.

// noop is the CancelFunc of a request that cannot be interrupted.
func noop() {}

// opCtx returns the context for the vfs calls of the request whose go-fuse
// context is req, and the function to call when the request ends (it
// cancels the context and stops the watch).
//
// It runs on every request, so the common case costs one allocation and
// no goroutine: the interrupt is watched (one goroutine, then one timer)
// only once someone waits on Done, or asks Err after an interrupt. A call
// into the vfs that never blocks only asks Err, which looks at the
// request's Done channel without waiting; one that blocks waits on Done,
// which starts the watch.
func (fs *fsys) opCtx(req context.Context) (context.Context, context.CancelFunc) {
	if req.Done() == nil {
		return req, noop // no interrupt can come (tests, internal calls)
	}
	c := &opContext{req: req, grace: fs.cfg.InterruptGrace}
	return c, c.end
}

// opContext is the context.Context opCtx returns.
type opContext struct {
	req   context.Context // go-fuse's: values, and Done closed at an interrupt
	grace time.Duration

	mu   sync.Mutex
	done chan struct{} // made by the first Done (or Err after an interrupt)
	quit chan struct{} // closed to stop the watcher; nil if none runs
	err  error         // set when the context is cancelled
}

func (c *opContext) Deadline() (time.Time, bool) { return c.req.Deadline() }
func (c *opContext) Value(key any) any           { return c.req.Value(key) }

func (c *opContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watchLocked()
	return c.done
}

func (c *opContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil && c.err == nil {
		select {
		case <-c.req.Done():
			// Interrupted while nobody waited: start the grace now.
			c.watchLocked()
		default:
		}
	}
	return c.err
}

// watchLocked makes c.done and, once, starts watching for an interrupt.
func (c *opContext) watchLocked() {
	if c.done != nil {
		return
	}
	c.done = make(chan struct{})
	if c.err != nil {
		close(c.done)
		return
	}
	c.quit = make(chan struct{})
	go c.watch(c.req.Done(), c.quit)
}

// watch cancels c grace after interrupt is closed, unless quit is closed
// first.
func (c *opContext) watch(interrupt, quit <-chan struct{}) {
	select {
	case <-interrupt:
	case <-quit:
		return
	}
	t := time.NewTimer(c.grace)
	defer t.Stop()
	select {
	case <-t.C:
		c.cancel()
	case <-quit:
	}
}

// end is the CancelFunc: the request is over.
func (c *opContext) end() { c.cancel() }

// cancel cancels c (once) and stops its watcher.
func (c *opContext) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	}
	if c.quit != nil {
		close(c.quit)
	}
}

package fs

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"syscall"
	"time"
)

// toErrno turns an error from the vfs layer into the errno the kernel gets.
// It is the only place where that happens:
//
//   - a syscall.Errno, wrapped or not, passes through (ENOSYS excepted,
//     see below);
//   - context.Canceled and context.DeadlineExceeded (the kernel
//     interrupted the request, or an internal deadline passed) become
//     EINTR;
//   - anything else is a failure the caller cannot act on: it is logged
//     (rate-limited) and becomes EIO.
//
// ENOSYS becomes EOPNOTSUPP: the kernel takes ENOSYS from a FUSE server as
// "this operation is not implemented" and never sends it again for the
// life of the mount. For FLUSH, FSYNC or OPEN that would silently lose
// commits, so one transient ENOSYS from below must not reach it.
func (f *fsys) toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	e := errnoOf(err)
	if e == syscall.EIO && !errors.Is(err, syscall.EIO) {
		f.errs.report(err) // not an errno from below: a failure to log
	}
	return e
}

// errnoOf is the errno toErrno gives the kernel for a non-nil err,
// without logging (the metrics count errors with it too).
func errnoOf(err error) syscall.Errno {
	if e, ok := err.(syscall.Errno); ok {
		return kernelErrno(e)
	}
	// Apart, so that an unwrapped errno (the common case) does not pay
	// for errors.As's target escaping to the heap.
	return wrappedErrno(err)
}

func wrappedErrno(err error) syscall.Errno {
	var e syscall.Errno
	switch {
	case errors.As(err, &e):
		return kernelErrno(e)
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	}
	return syscall.EIO
}

// kernelErrno is an errno from below as the kernel may get it: a zero
// Errno (a bug below: never report success for a failure) is EIO, ENOSYS
// is EOPNOTSUPP.
func kernelErrno(e syscall.Errno) syscall.Errno {
	switch e {
	case 0:
		return syscall.EIO
	case syscall.ENOSYS:
		return syscall.EOPNOTSUPP
	}
	return e
}

// inodeErrno is toErrno for requests addressed to an inode the kernel
// holds (GETATTR, SETATTR, OPEN, READLINK, xattrs), where ENOENT can only
// mean that the inode itself is gone: removed on another host while this
// kernel still had it cached under a name. That is ESTALE, as on NFS, and
// the kernel retries path-based calls (open, stat, chmod ...) once with
// LOOKUP_REVAL: it looks the name up again and finds what is there now,
// typically the file that replaced the old one by rename.
func (f *fsys) inodeErrno(err error) syscall.Errno {
	errno := f.toErrno(err)
	if errno == syscall.ENOENT {
		return syscall.ESTALE
	}
	return errno
}

// errLog logs the errors that become EIO, at most errLogBurst in every
// errLogWindow; the rest are counted and the count is logged with the
// next error after the window. A failing backend must not flood the log
// with one line per read.
type errLog struct {
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	start      time.Time // of the current window
	logged     int       // in the current window
	suppressed int       // in the current window
}

const (
	errLogWindow = 10 * time.Second
	errLogBurst  = 10
)

func (l *errLog) report(err error) {
	now := l.now()
	l.mu.Lock()
	var dropped int
	if now.Sub(l.start) >= errLogWindow {
		dropped = l.suppressed
		l.start, l.logged, l.suppressed = now, 0, 0
	}
	if l.logged >= errLogBurst {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.logged++
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Error("filesystem errors not logged (rate limit)", "count", dropped, "window", errLogWindow)
	}
	l.log.Error("filesystem error, returned to the caller as EIO", "err", err)
}

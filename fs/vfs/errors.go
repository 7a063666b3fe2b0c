package vfs

import (
	"context"
	"errors"
	"log/slog"
	"syscall"

	"github.com/dfsproject/dfs/store"
)

// errno turns err into the syscall.Errno the FileSystem contract returns.
// POSIX errors pass through; a cancelled context is EINTR; a full backend
// is ENOSPC; anything else (a storage or metadata failure, a corrupt or
// missing chunk) is logged here, once, and becomes EIO. op names the
// operation for the log.
func (v *VFS) errno(op string, err error) error {
	if err == nil {
		return nil
	}
	if en, ok := err.(syscall.Errno); ok {
		return en
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return syscall.EINTR
	case errors.Is(err, store.ErrNoSpace):
		return syscall.ENOSPC
	case errors.Is(err, store.ErrCorrupt), errors.Is(err, store.ErrNotFound):
		// A chunk the metadata references is damaged or gone: never
		// return wrong bytes.
	default:
		var en syscall.Errno
		if errors.As(err, &en) {
			return en
		}
	}
	v.log.Error("vfs: "+op+" failed", slog.Any("err", err))
	return syscall.EIO
}

// ctxErr returns EINTR when ctx is done.
func ctxErr(ctx context.Context) error {
	if ctx.Err() != nil {
		return syscall.EINTR
	}
	return nil
}

// errNoAttr: the metadata applied a command that must return attributes
// without them.
var errNoAttr = errors.New("metadata result carries no attributes")

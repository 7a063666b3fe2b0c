package fs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestToErrno(t *testing.T) {
	var logged bytes.Buffer
	f := newFsys(newMemFS(), Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	for _, tc := range []struct {
		err  error
		want syscall.Errno
		logs bool
	}{
		{nil, 0, false},
		{syscall.ENOENT, syscall.ENOENT, false},
		{syscall.EEXIST, syscall.EEXIST, false},
		{fmt.Errorf("rename a → b: %w", syscall.ENOTEMPTY), syscall.ENOTEMPTY, false},
		{&fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOSPC}, syscall.ENOSPC, false},
		{&os.SyscallError{Syscall: "pwrite", Err: syscall.EDQUOT}, syscall.EDQUOT, false},
		{context.Canceled, syscall.EINTR, false},
		{fmt.Errorf("read chunk: %w", context.DeadlineExceeded), syscall.EINTR, false},
		{syscall.ENOSYS, syscall.EOPNOTSUPP, false},
		{errors.New("replica 3 answered 500"), syscall.EIO, true},
		{syscall.Errno(0), syscall.EIO, true},
	} {
		logged.Reset()
		if got := f.toErrno(tc.err); got != tc.want {
			t.Errorf("toErrno(%v) = %v, want %v", tc.err, got, tc.want)
		}
		if tc.logs != (logged.Len() > 0) {
			t.Errorf("toErrno(%v): logged %q", tc.err, logged.String())
		}
	}
}

func TestErrLogIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	l := &errLog{log: slog.New(slog.NewTextHandler(&buf, nil)), now: func() time.Time { return now }}
	for i := 0; i < 100; i++ {
		l.report(fmt.Errorf("failure %d", i))
	}
	if n := strings.Count(buf.String(), "\n"); n != errLogBurst {
		t.Fatalf("logged %d lines in one window, want %d:\n%s", n, errLogBurst, buf.String())
	}
	buf.Reset()
	now = now.Add(errLogWindow)
	l.report(errors.New("later"))
	out := buf.String()
	if !strings.Contains(out, "count=90") || !strings.Contains(out, "later") {
		t.Errorf("next window: %q, want the suppressed count and the new error", out)
	}
}

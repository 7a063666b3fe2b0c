package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// exactReader reads exactly size bytes from r for a Put. Fewer or more bytes
// fail with ErrShortWrite; the failure is also kept in err so that callers
// can report it when a library (net/http, minio-go) hides the cause. Each
// Read checks ctx so that a long copy stops when ctx ends.
type exactReader struct {
	ctx  context.Context
	r    io.Reader
	size int64
	left int64
	err  error
}

func newExactReader(ctx context.Context, r io.Reader, size int64) *exactReader {
	return &exactReader{ctx: ctx, r: r, size: size, left: size}
}

func (e *exactReader) fail(err error) error {
	if e.err == nil {
		e.err = err
	}
	return e.err
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if err := e.ctx.Err(); err != nil {
		return 0, e.fail(err)
	}
	if e.left == 0 {
		if err := e.checkEnd(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case e.left == 0:
		if err := e.checkEnd(); err != nil {
			return 0, err
		}
		return n, io.EOF
	case err == io.EOF:
		return n, e.fail(fmt.Errorf("%w: got %d of %d bytes", ErrShortWrite, e.size-e.left, e.size))
	case err != nil:
		return n, e.fail(err)
	}
	return n, nil
}

// checkEnd makes sure r has nothing left after size bytes.
func (e *exactReader) checkEnd() error {
	var b [1]byte
	for range 100 {
		n, err := e.r.Read(b[:])
		if n > 0 {
			return e.fail(fmt.Errorf("%w: more than %d bytes", ErrShortWrite, e.size))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return e.fail(err)
		}
	}
	return e.fail(io.ErrNoProgress)
}

// discardIfNil returns l, or a logger that discards everything.
func discardIfNil(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

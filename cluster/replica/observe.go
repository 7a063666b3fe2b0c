package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Operations reported to Config.Observe.
const (
	OpGet    = "get"
	OpPut    = "put"
	OpStat   = "stat"
	OpDelete = "delete"
)

// observe reports one call of op to node that took d to Config.Observe,
// if set. ctx is the caller's: once it is done, a failed call is reported
// as abandoned (wrapping ctx's error). n is dropped for a failed call.
func (b *Backend) observe(ctx context.Context, node, op string, n int64, d time.Duration, err error) {
	if b.onCall == nil {
		return
	}
	if err != nil {
		n = 0
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (abandoned by the caller: %v)", cerr, err)
		}
	}
	b.onCall(node, op, n, d, err)
}

// observeLocal reports a call to the local backend that started at start.
func (b *Backend) observeLocal(ctx context.Context, op string, n int64, start time.Time, err error) {
	if b.onCall != nil {
		b.observe(ctx, b.self, op, n, b.now().Sub(start), err)
	}
}

// observeLocalRange reports a ranged get from the local backend that
// started at start and returned rc and err: at once when it failed, else
// when rc is closed, with the bytes read from it and the time until then.
// It returns what the caller is to return in place of rc.
func (b *Backend) observeLocalRange(ctx context.Context, start time.Time, rc io.ReadCloser, err error) io.ReadCloser {
	switch {
	case b.onCall == nil:
		return rc
	case err != nil:
		b.observeLocal(ctx, OpGet, 0, start, err)
		return rc
	}
	return &observedReader{rc: rc, b: b, start: start}
}

// observedReader counts the bytes read from a local ranged get and
// reports the get when it is closed (once).
type observedReader struct {
	rc    io.ReadCloser
	b     *Backend
	start time.Time

	mu   sync.Mutex
	n    int64
	err  error // the first read error other than io.EOF
	done bool
}

func (r *observedReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.mu.Lock()
	r.n += int64(n)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	return n, err
}

func (r *observedReader) Close() error {
	err := r.rc.Close()
	r.mu.Lock()
	report := !r.done
	r.done = true
	n, rerr := r.n, r.err
	r.mu.Unlock()
	if report {
		// The operation's context ended when Get returned: the read is
		// the caller's, not abandoned.
		r.b.observe(context.Background(), r.b.self, OpGet, n, r.b.now().Sub(r.start), rerr)
	}
	return err
}

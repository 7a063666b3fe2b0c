package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/dfsproject/dfs/store"
)

// Get returns length bytes (length < 0: to the end) of the chunk under key
// from off. It reads the local backend first, then the alive placed
// replicas, the fastest first, then the other alive nodes of the chunk's
// order, then the dead ones (see the package documentation); a node that
// fails, times out or holds corrupt bytes is skipped for the next. A whole-chunk read (off 0, length < 0) is
// verified against the chunk's ID, the local copy included; a ranged read
// cannot be and is not. When no node serves it the error wraps
// store.ErrNotFound (every node answered that it lacks the chunk),
// store.ErrCorrupt (every node answered, some with corrupt bytes) or
// store.ErrUnreachable (some node could not be asked). A chunk read from a
// peer is not stored locally.
func (b *Backend) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	id, err := chunkID(key)
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if off < 0 {
		return nil, fmt.Errorf("get chunk %s: negative offset %d", id, off)
	}
	octx, end, err := b.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("get chunk %s: %w", id, err)
	}
	defer end()
	whole := off == 0 && length < 0

	var fails failures
	rc, err := b.getLocal(octx, id, key, off, length, whole)
	if err == nil {
		return rc, nil
	}
	if stop := b.stopped(ctx); stop != nil {
		return nil, fmt.Errorf("get chunk %s: %w", id, stop)
	}
	fails.add(b.self, err)
	b.readFailed(b.self, id, err)

	for _, n := range b.readOrder(id) {
		var data []byte
		err := b.call(octx, n, OpGet, func(ctx context.Context, rem Remote) (_ int64, err error) {
			if whole {
				data, err = rem.GetChunk(ctx, id)
			} else {
				data, err = rem.GetChunkRange(ctx, id, off, length)
			}
			return int64(len(data)), err
		})
		if err == nil {
			return newBytesReader(data), nil
		}
		if stop := b.stopped(ctx); stop != nil {
			return nil, fmt.Errorf("get chunk %s: %w", id, stop)
		}
		fails.add(n, err)
		b.readFailed(n, id, err)
	}
	return nil, fmt.Errorf("get chunk %s: %w: no node could serve it (%s)", id, fails.readErr(), fails)
}

// getLocal reads from the local backend, verifying a whole chunk.
func (b *Backend) getLocal(ctx context.Context, id store.ChunkID, key string, off, length int64, whole bool) (io.ReadCloser, error) {
	start := b.now()
	rc, err := b.local.Get(ctx, key, off, length)
	if err != nil || !whole {
		return b.observeLocalRange(ctx, start, rc, err), err
	}
	data, err := readAll(rc)
	rc.Close()
	if err == nil {
		err = store.Verify(id, data)
	}
	b.observeLocal(ctx, OpGet, int64(len(data)), start, err)
	if err != nil {
		return nil, err
	}
	return newBytesReader(data), nil
}

// readAll reads a whole chunk: at most store.MaxChunkSize+1 bytes (a
// longer object then fails verification), into a buffer of the right size
// when the reader tells it.
func readAll(r io.Reader) ([]byte, error) {
	var buf bytes.Buffer
	if sz, ok := r.(interface{ Size() int64 }); ok {
		if n := sz.Size(); n >= 0 && n <= store.MaxChunkSize {
			buf.Grow(int(n) + bytes.MinRead)
		}
	}
	_, err := buf.ReadFrom(io.LimitReader(r, store.MaxChunkSize+1))
	return buf.Bytes(), err
}

// readOrder returns the remote nodes a read asks, in the order it asks
// them: the alive placed replicas (best first, see sortForRead); then the
// other alive nodes of the chunk's order, in order, where a chunk written
// while a placed node was dead or failing lives; then the dead nodes,
// placed ones first. A dead node is asked only when every alive one
// failed: a chunk written during a node's outage must not wait out a
// Timeout on that node before the stand-in that holds it is asked.
func (b *Backend) readOrder(id store.ChunkID) []string {
	order, r := b.placement(id)
	var alive, dead []string
	for _, n := range append(b.sortForRead(without(order[:r], b.self)), without(order[r:], b.self)...) {
		if b.alive(n) {
			alive = append(alive, n)
		} else {
			dead = append(dead, n)
		}
	}
	return append(alive, dead...)
}

// readFailed logs a node's failure to serve a read and reports corrupt
// bytes to OnCorrupt.
func (b *Backend) readFailed(node string, id store.ChunkID, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
	case errors.Is(err, store.ErrCorrupt):
		b.log.Error("corrupt replica", "chunk", id.String(), "node", node, "err", err)
		if b.onCorrupt != nil {
			b.onCorrupt(node, id)
		}
	default:
		b.log.Warn("replica read failed; trying the next node", "chunk", id.String(), "node", node, "err", err)
	}
}

// Stat returns the size of the chunk under key: from the local backend,
// else from the first placed replica that answers (the alive ones are
// asked at once; dead ones are not asked). The other nodes of the chunk's
// order are not asked: a chunk only a stand-in node holds is reported
// missing, so that store.ChunkStore writes it again to the placement. The
// ModTime of a remote copy is zero. Errors are those of Get.
func (b *Backend) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	id, err := chunkID(key)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat: %w", err)
	}
	octx, end, err := b.begin(ctx)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat chunk %s: %w", id, err)
	}
	defer end()

	var fails failures
	start := b.now()
	info, err := b.local.Stat(octx, key)
	b.observeLocal(octx, OpStat, 0, start, err)
	if err == nil {
		return info, nil
	}
	if stop := b.stopped(ctx); stop != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat chunk %s: %w", id, stop)
	}
	fails.add(b.self, err)

	order, r := b.placement(id)
	sctx, cancel := context.WithCancel(octx)
	defer cancel()
	type result struct {
		node string
		size int64
		err  error
	}
	results := make(chan result, r)
	asked := 0
	for _, n := range without(order[:r], b.self) {
		if !b.alive(n) {
			fails.add(n, errDead(n))
			continue
		}
		asked++
		go func() {
			var size int64
			err := b.call(sctx, n, OpStat, func(ctx context.Context, rem Remote) (_ int64, err error) {
				size, err = rem.StatChunk(ctx, id)
				return 0, err
			})
			results <- result{n, size, err}
		}()
	}
	size := int64(-1)
	for range asked {
		res := <-results
		switch {
		case size >= 0:
		case res.err == nil:
			size = res.size
			cancel() // the others need not answer
		default:
			fails.add(res.node, res.err)
		}
	}
	if size >= 0 {
		return store.ObjectInfo{Key: key, Size: size}, nil
	}
	if stop := b.stopped(ctx); stop != nil {
		return store.ObjectInfo{}, fmt.Errorf("stat chunk %s: %w", id, stop)
	}
	return store.ObjectInfo{}, fmt.Errorf("stat chunk %s: %w (%s)", id, fails.readErr(), fails)
}

package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dfsproject/dfs/store"
)

// Put stores the chunk under key (a chunk key) on R nodes: the first R
// alive nodes of the chunk's order, a node that fails being replaced by the
// next unused alive one. It reads the whole body first: size bytes, which
// must hash to the chunk's ID (else store.ErrCorrupt) and be at most
// store.MaxChunkSize. It succeeds when R distinct nodes stored the chunk,
// or, when placed nodes are down (dead by gossip, or not answering during
// the Put), when every node still up did and that is a majority of R: a
// 3-node cluster with one node down keeps writing, with two copies, and
// repair adds the third later. Otherwise the error wraps store.ErrNoSpace
// when every failure was a full node, else store.ErrUnreachable, and says
// how many copies were written. The copies written by a failed Put stay where they are, like
// any unreferenced chunk, until garbage collection removes them.
//
// Put returns only once every call it started has returned (at most R are
// in flight at once), and the calls write from Put's own copy of the body:
// r and its buffer are not used after Put returns.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	id, err := chunkID(key)
	if err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if size < 0 || size > store.MaxChunkSize {
		return fmt.Errorf("put chunk %s: size %d is not between 0 and %d bytes", id, size, store.MaxChunkSize)
	}
	octx, end, err := b.begin(ctx)
	if err != nil {
		return fmt.Errorf("put chunk %s: %w", id, err)
	}
	defer end()
	data, err := readBody(octx, r, size)
	if err != nil {
		if stop := b.stopped(ctx); stop != nil {
			err = stop
		}
		return fmt.Errorf("put chunk %s: %w", id, err)
	}
	if err := store.Verify(id, data); err != nil {
		return fmt.Errorf("put chunk %s: refusing bytes that are not the chunk: %w", id, err)
	}
	return b.put(ctx, octx, id, key, data)
}

// readBody reads exactly size bytes from r; fewer or more give
// store.ErrShortWrite. It stops at the next Read once ctx is done.
func readBody(ctx context.Context, r io.Reader, size int64) ([]byte, error) {
	r = ctxReader{ctx, r}
	data := make([]byte, size)
	if n, err := io.ReadFull(r, data); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: got %d of %d bytes", store.ErrShortWrite, n, size)
		}
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	var extra [1]byte
	for range 100 {
		n, err := r.Read(extra[:])
		switch {
		case n > 0:
			return nil, fmt.Errorf("%w: more than %d bytes", store.ErrShortWrite, size)
		case err == io.EOF:
			return data, nil
		case err != nil:
			return nil, fmt.Errorf("reading the body: %w", err)
		}
	}
	return nil, fmt.Errorf("reading the body: %w", io.ErrNoProgress)
}

// ctxReader is a Reader that fails once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// put writes data to R nodes. ctx is the caller's, octx the operation's.
func (b *Backend) put(ctx, octx context.Context, id store.ChunkID, key string, data []byte) error {
	order, r := b.placement(id)
	if r == 0 {
		return fmt.Errorf("put chunk %s: %w: the placement names no node for it (%d nodes, %d replicas)",
			id, store.ErrUnreachable, len(order), b.placer.Replicas())
	}
	var alive []string
	for _, n := range order {
		if b.alive(n) {
			alive = append(alive, n)
		}
	}
	// Fewer alive nodes than replicas (a node of a 3-node cluster is
	// down): the chunk goes to every alive node, and repair adds the
	// missing copies when the layout has enough nodes again. Refusing
	// would stop every write of the cluster while one node is down. A
	// majority of the replicas is the least ever accepted.
	want := r
	least := want/2 + 1
	if len(alive) < least {
		return fmt.Errorf("put chunk %s: %w: 0 of %d copies written: only %d of its %d nodes are alive, %d needed",
			id, store.ErrUnreachable, want, len(alive), len(order), least)
	}
	if len(alive) < r {
		r = len(alive)
	}
	down := 0 // placed nodes that stopped answering during this Put
	need := func() int { return max(least, r-down) }

	// At most r writes are in flight: the first r alive nodes, and one
	// replacement for each that fails while unused alive nodes remain.
	pctx, cancel := context.WithCancel(octx)
	defer cancel()
	type result struct {
		node string
		err  error
	}
	results := make(chan result, len(alive))
	next, inflight := 0, 0
	start := func() {
		n := alive[next]
		next++
		inflight++
		go func() { results <- result{n, b.putOn(pctx, n, id, key, data)} }()
	}
	for range r {
		start()
	}
	var written []string
	var fails failures
	for inflight > 0 {
		res := <-results
		inflight--
		if res.err == nil {
			written = append(written, res.node)
			continue
		}
		if pctx.Err() != nil {
			// Stopped by the caller, Close or ourselves: a cancelled
			// write is not the node's fault, but another error still
			// says why the chunk could not be written there.
			if !errors.Is(res.err, context.Canceled) && !errors.Is(res.err, context.DeadlineExceeded) {
				fails.add(res.node, res.err)
			}
			continue
		}
		fails.add(res.node, res.err)
		if errors.Is(res.err, store.ErrUnreachable) {
			down++
		}
		if next < len(alive) {
			b.log.Warn("replica write failed; trying the next node", "chunk", id.String(), "node", res.node, "next", alive[next], "err", res.err)
			start()
		} else {
			b.log.Warn("replica write failed; no node left to try", "chunk", id.String(), "node", res.node, "err", res.err)
			if len(written)+inflight < need() {
				cancel() // the copies needed are out of reach: stop the writes in flight
			}
		}
	}
	// A node that stopped answering (it died before gossip noticed)
	// counts as down, like the dead ones: what the others hold is enough,
	// if it is a majority of the replicas. Any other failure (a full
	// disk, a refused write) is not.
	if len(written) >= need() {
		if len(written) < want {
			b.log.Warn("chunk written with fewer copies than wanted; repair will add the rest", "chunk", id.String(),
				"copies", len(written), "wanted", want, "on", strings.Join(written, ","))
		}
		return nil
	}
	if stop := b.stopped(ctx); stop != nil {
		return fmt.Errorf("put chunk %s: %d of %d copies written: %w", id, len(written), want, stop)
	}
	why := store.ErrUnreachable
	if len(fails) > 0 && fails.count(store.ErrNoSpace) == len(fails) {
		why = store.ErrNoSpace
	}
	on := "none"
	if len(written) > 0 {
		on = strings.Join(written, ", ")
	}
	return fmt.Errorf("put chunk %s: %w: %d of %d copies written (on %s, %d needed) and no alive node left to try (%s)",
		id, why, len(written), want, on, need(), fails)
}

// putOn writes data to one node: this one through the local backend, a
// peer through its client.
func (b *Backend) putOn(ctx context.Context, node string, id store.ChunkID, key string, data []byte) error {
	if node == b.self {
		start := b.now()
		err := b.local.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
		b.observeLocal(ctx, OpPut, int64(len(data)), start, err)
		return err
	}
	return b.call(ctx, node, OpPut, func(ctx context.Context, rem Remote) (int64, error) {
		return int64(len(data)), rem.PutChunk(ctx, id, data)
	})
}

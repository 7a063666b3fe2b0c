package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dfsproject/dfs/store"
)

// Backend is a store.Backend whose chunks live on R nodes of the cluster
// (see the package documentation). It is safe for concurrent use.
type Backend struct {
	local     store.Backend
	placer    Placer
	peers     Peers
	self      string // Peers.Local(), read once
	timeout   time.Duration
	now       func() time.Time
	log       *slog.Logger
	onCorrupt func(node string, id store.ChunkID)
	onCall    func(node, op string, bytes int64, d time.Duration, err error)
	sem       chan struct{} // one token per remote call in flight
	lat       latencies

	closing  context.Context // done once Close is called
	shutdown context.CancelFunc
	mu       sync.Mutex
	closed   bool
	wg       sync.WaitGroup // operations in flight
}

var _ store.Backend = (*Backend)(nil)

// New returns a Backend for cfg. It copies cfg and starts no goroutine.
func New(cfg Config) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	closing, shutdown := context.WithCancel(context.Background())
	return &Backend{
		local:     cfg.Local,
		placer:    cfg.Placer,
		peers:     cfg.Peers,
		self:      cfg.Peers.Local(),
		timeout:   cfg.Timeout,
		now:       cfg.Now,
		log:       cfg.Logger.With("component", "replica"),
		onCorrupt: cfg.OnCorrupt,
		onCall:    cfg.Observe,
		sem:       make(chan struct{}, cfg.Concurrency),
		closing:   closing,
		shutdown:  shutdown,
	}, nil
}

// List lists the local backend only: the chunks this node holds, not the
// cluster's. (Walking every node's inventory is the repair's business,
// through the peer API.)
func (b *Backend) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	octx, end, err := b.begin(ctx)
	if err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	defer end()
	err = b.local.List(octx, prefix, fn)
	if stop := b.stopped(ctx); stop != nil && err != nil {
		return fmt.Errorf("list %s: %w", prefix, stop)
	}
	return err
}

// Close cancels the operations in flight, waits for them to return, and
// makes later calls fail with store.ErrClosed. It closes nothing it does
// not own: not the local backend, not the peers' clients. It is
// idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.shutdown()
	b.wg.Wait()
	return nil
}

// begin starts an operation: it returns a context that ends with ctx or
// with Close, and the function that ends the operation.
func (b *Backend) begin(ctx context.Context) (context.Context, func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, nil, store.ErrClosed
	}
	b.wg.Add(1)
	b.mu.Unlock()
	octx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.closing, cancel)
	return octx, func() {
		stop()
		cancel()
		b.wg.Done()
	}, nil
}

// stopped says why an operation called with ctx must give up:
// store.ErrClosed after Close, ctx's error once ctx is done, else nil.
func (b *Backend) stopped(ctx context.Context) error {
	if b.closing.Err() != nil {
		return store.ErrClosed
	}
	return ctx.Err()
}

// chunkID returns the chunk whose key is key, or an error wrapping
// store.ErrInvalidKey for any other key.
func chunkID(key string) (store.ChunkID, error) {
	rest, ok := strings.CutPrefix(key, "chunks/")
	if ok {
		if id, err := store.ParseChunkID(rest[strings.LastIndexByte(rest, '/')+1:]); err == nil && id.Key() == key {
			return id, nil
		}
	}
	return store.ChunkID{}, fmt.Errorf("%w: %q is not a chunk key (chunks/ab/cd/<64 lower-case hex>): only chunks are replicated", store.ErrInvalidKey, key)
}

// alive reports whether node is to be taken as alive: this node always,
// the others as gossip says.
func (b *Backend) alive(node string) bool {
	return node == b.self || b.peers.Alive(node)
}

// placement returns the nodes that may hold id, in order and without
// repeats, and r, how many of the first ones are its placement:
// Replicas(), but no more than there are nodes (and 0 for a Placer that
// asks for less than one copy).
func (b *Backend) placement(id store.ChunkID) (order []string, r int) {
	all := b.placer.Order(id)
	seen := make(map[string]bool, len(all))
	order = make([]string, 0, len(all))
	for _, n := range all {
		if n != "" && !seen[n] {
			seen[n] = true
			order = append(order, n)
		}
	}
	return order, max(min(b.placer.Replicas(), len(order)), 0)
}

// without returns nodes without node, in a new slice.
func without(nodes []string, node string) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		if n != node {
			out = append(out, n)
		}
	}
	return out
}

// call makes one remote call to node: it waits for a Concurrency slot,
// bounds the call by the Timeout, records its latency and reports it to
// Config.Observe as op (fn returns the chunk bytes it moved). A call that
// times out (while ctx is not done) gives an error wrapping
// store.ErrUnreachable, never context.DeadlineExceeded: a slow replica is
// not the caller's deadline.
func (b *Backend) call(ctx context.Context, node, op string, fn func(context.Context, Remote) (int64, error)) error {
	rem, ok := b.peers.Client(node)
	if !ok {
		return fmt.Errorf("%w: no address known for node %s", store.ErrUnreachable, node)
	}
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-b.sem }()
	cctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	start := b.now()
	n, err := fn(cctx, rem)
	took := b.now().Sub(start)
	if ctx.Err() != nil {
		// The caller gave up (or Close, or a sibling call won): this
		// says nothing about the node.
		b.observe(ctx, node, op, n, took, err)
		return err
	}
	if err != nil && cctx.Err() != nil {
		err = fmt.Errorf("%w: node %s gave no answer within %v (%v)", store.ErrUnreachable, node, b.timeout, err)
	}
	answered := err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrNoSpace)
	b.lat.record(node, took, !answered, b.timeout, b.now())
	b.observe(ctx, node, op, n, took, err)
	return err
}

// failures lists the nodes an operation failed on.
type failures []nodeErr

type nodeErr struct {
	node string
	err  error
}

func (f *failures) add(node string, err error) { *f = append(*f, nodeErr{node, err}) }

// count returns how many failures wrap target.
func (f failures) count(target error) int {
	n := 0
	for _, e := range f {
		if errors.Is(e.err, target) {
			n++
		}
	}
	return n
}

// String lists the failures (the first eight), for an error message.
func (f failures) String() string {
	const most = 8
	var sb strings.Builder
	for i, e := range f {
		if i == most {
			fmt.Fprintf(&sb, "; and %d more", len(f)-most)
			break
		}
		if i > 0 {
			sb.WriteString("; ")
		}
		fmt.Fprintf(&sb, "%s: %v", e.node, e.err)
	}
	return sb.String()
}

// readErr is the sentinel for a read that every node failed: ErrNotFound
// when all answered that they lack the chunk; ErrCorrupt when all answered
// but some held corrupt bytes; ErrUnreachable when some could not be asked
// or failed otherwise (the chunk may be intact there).
func (f failures) readErr() error {
	nf, bad := f.count(store.ErrNotFound), f.count(store.ErrCorrupt)
	switch {
	case nf+bad < len(f):
		return store.ErrUnreachable
	case bad > 0:
		return store.ErrCorrupt
	}
	return store.ErrNotFound
}

// errDead is the failure of a node that was not asked because gossip
// reports it dead.
func errDead(node string) error {
	return fmt.Errorf("%w: gossip reports node %s dead; not asked", store.ErrUnreachable, node)
}

// bytesReader is a ReadCloser over bytes that keeps bytes.Reader's Size
// visible, so that store.ChunkStore reads it into a buffer of the right
// size.
type bytesReader struct{ *bytes.Reader }

func (bytesReader) Close() error { return nil }

func newBytesReader(data []byte) io.ReadCloser { return bytesReader{bytes.NewReader(data)} }

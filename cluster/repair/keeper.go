package repair

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/store"
)

// Errors of the package, wrapped with context; test them with errors.Is.
var (
	// ErrNoLayout: Config.Placer returned nil; there is no layout yet.
	ErrNoLayout = errors.New("repair: no layout yet")
	// ErrLayoutChanged: Rebalance stopped because the layout changed
	// during the pass; a new pass will work with the new one.
	ErrLayoutChanged = errors.New("repair: layout changed during the pass")
	// ErrClosed: the keeper was closed.
	ErrClosed = errors.New("repair: keeper closed")
	// ErrRunning: Run was called while it already runs.
	ErrRunning = errors.New("repair: keeper already running")
)

// Keeper keeps one node's share of the chunks where the layout wants them:
// see the package doc. Its methods are safe for concurrent use; two
// passes of the same kind never run at once (the second waits).
type Keeper struct {
	cfg      Config
	log      *slog.Logger
	transfer *bucket // network transfers of every pass
	scrubBkt *bucket // Scrub's local reads

	trigger chan struct{}
	batch   int // chunks per namespace walk or local page

	closed context.Context // done, with cause ErrClosed, once Close is called
	close  context.CancelCauseFunc
	runMu  sync.Mutex // held while Run runs

	repairMu, rebalanceMu, gcMu, scrubMu sync.Mutex

	// firstSeen: when GC first saw each unreferenced local object that
	// has no modification time; guarded by gcMu.
	firstSeen map[store.ChunkID]time.Time
	// unresolved: chunks reported corrupt whose local copy is not sound
	// yet; guarded by scrubMu.
	unresolved map[store.ChunkID]bool

	mu          sync.Mutex // guards what follows
	health      Health
	seenVersion uint64
	seenAt      time.Time
	settleWake  time.Time // when deferred deletions may go ahead
}

// New checks cfg and returns a Keeper. It copies cfg.
func New(cfg Config) (*Keeper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	closed, closeFn := context.WithCancelCause(context.Background())
	return &Keeper{
		cfg:        cfg,
		log:        cfg.Logger,
		closed:     closed,
		close:      closeFn,
		transfer:   newBucket(cfg.Clock, cfg.BytesPerSec, cfg.Burst),
		scrubBkt:   newBucket(cfg.Clock, cfg.ScrubBytesPerSec, max(cfg.ScrubBytesPerSec/4, 1)),
		trigger:    make(chan struct{}, 1),
		batch:      defaultBatch,
		firstSeen:  make(map[store.ChunkID]time.Time),
		unresolved: make(map[store.ChunkID]bool),
	}, nil
}

// Trigger asks Run for a Repair and Rebalance pass as soon as possible;
// call it when the layout version changes, or when a node dies or comes
// back. It never blocks; triggers made during a pass give one more pass.
func (k *Keeper) Trigger() {
	select {
	case k.trigger <- struct{}{}:
	default:
	}
}

// Health returns the state found by the last Repair and Rebalance passes.
// It is cheap: it only copies a struct.
func (k *Keeper) Health() Health {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.health
}

// Close stops Run, if it runs, and waits for it to return; passes running
// or called later fail with ErrClosed, and so does a later Run. It is
// idempotent.
func (k *Keeper) Close() error {
	k.close(ErrClosed)
	// Run holds runMu until it returns.
	k.runMu.Lock()
	defer k.runMu.Unlock()
	return nil
}

// Run runs the passes until ctx is done or the keeper is closed, then
// returns nil: Repair then Rebalance at once, on every Trigger and every
// RepairInterval (and when deferred deletions may go ahead); GC every
// GCInterval; Scrub continuously at ScrubBytesPerSec, pausing ScrubPause
// between passes (not at all when ScrubBytesPerSec is 0). A pass's error is
// logged and reported through Hooks.Pass; the loops go on.
func (k *Keeper) Run(ctx context.Context) error {
	if !k.runMu.TryLock() {
		return ErrRunning
	}
	defer k.runMu.Unlock()
	if k.closed.Err() != nil {
		return ErrClosed
	}
	ctx, cancel := k.passContext(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { k.repairLoop(ctx) })
	wg.Go(func() { k.gcLoop(ctx) })
	if k.cfg.ScrubBytesPerSec > 0 {
		wg.Go(func() { k.scrubLoop(ctx) })
	}
	wg.Wait()
	return nil
}

func (k *Keeper) repairLoop(ctx context.Context) {
	for ctx.Err() == nil {
		if _, err := k.Repair(ctx, nil); err != nil && ctx.Err() == nil {
			k.log.Warn("repair: repair pass", slog.Any("err", err))
		}
		if _, err := k.Rebalance(ctx, nil); err != nil && ctx.Err() == nil {
			k.log.Warn("repair: rebalance pass", slog.Any("err", err))
		}
		wait := k.cfg.RepairInterval
		k.mu.Lock()
		if !k.settleWake.IsZero() {
			wait = min(wait, max(k.settleWake.Sub(k.cfg.Clock.Now()), time.Millisecond))
			k.settleWake = time.Time{}
		}
		k.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-k.trigger:
		case <-k.cfg.Clock.After(wait):
		}
	}
}

func (k *Keeper) gcLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.cfg.Clock.After(k.cfg.GCInterval):
		}
		if _, err := k.GC(ctx, nil); err != nil && ctx.Err() == nil {
			k.log.Warn("repair: gc pass", slog.Any("err", err))
		}
	}
}

func (k *Keeper) scrubLoop(ctx context.Context) {
	for ctx.Err() == nil {
		if _, err := k.Scrub(ctx, nil); err != nil && ctx.Err() == nil {
			k.log.Warn("repair: scrub pass", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
		case <-k.cfg.Clock.After(k.cfg.ScrubPause):
		}
	}
}

// passContext returns ctx, also cancelled (with cause ErrClosed) when the
// keeper is closed.
func (k *Keeper) passContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(k.closed, func() { cancel(ErrClosed) })
	return ctx, func() { stop(); cancel(nil) }
}

// ctxErr is ctx's error, ErrClosed when the keeper's closing ended it.
func ctxErr(ctx context.Context) error {
	if c := context.Cause(ctx); errors.Is(c, ErrClosed) {
		return ErrClosed
	}
	return ctx.Err()
}

// begin starts a pass: it checks the keeper is open, gets the placer and
// notes when its version was first seen.
func (k *Keeper) begin(ctx context.Context) (*placement.Placer, error) {
	if err := k.open(ctx); err != nil {
		return nil, err
	}
	p := k.cfg.Placer()
	if p == nil {
		return nil, ErrNoLayout
	}
	k.noteVersion(p.Version())
	return p, nil
}

// open fails when the keeper is closed or ctx is done.
func (k *Keeper) open(ctx context.Context) error {
	if k.closed.Err() != nil {
		return ErrClosed
	}
	return ctxErr(ctx)
}

// noteVersion records when version v was first seen and returns that time.
func (k *Keeper) noteVersion(v uint64) time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.seenAt.IsZero() || v != k.seenVersion {
		k.seenVersion, k.seenAt = v, k.cfg.Clock.Now()
	}
	return k.seenAt
}

// finish fills c's timing and calls Hooks.Pass.
// pass runs one pass named name: one of its kind at a time (mu), ending
// with the keeper, timed and reported (finish). ok, if not nil, is called
// after a pass without error, still one at a time, to publish its outcome.
func (k *Keeper) pass(ctx context.Context, name string, mu *sync.Mutex, c *Counts, run func(ctx context.Context) error, ok func()) error {
	mu.Lock()
	defer mu.Unlock()
	ctx, cancel := k.passContext(ctx)
	defer cancel()
	c.Start = k.cfg.Clock.Now()
	err := run(ctx)
	k.finish(name, c, err)
	if err == nil && ok != nil {
		ok()
	}
	return err
}

func (k *Keeper) finish(pass string, c *Counts, err error) {
	c.Took = k.cfg.Clock.Now().Sub(c.Start)
	if err != nil {
		k.log.Debug("repair: pass failed", slog.String("pass", pass), slog.Any("err", err))
	} else {
		k.log.Debug("repair: pass done", slog.String("pass", pass), slog.Duration("took", c.Took),
			slog.Int64("chunks", c.Chunks), slog.Int64("copied", c.Copied), slog.Int64("deleted", c.Deleted),
			slog.Int64("failed", c.Failed))
	}
	if k.cfg.Hooks.Pass != nil {
		k.cfg.Hooks.Pass(pass, *c, err)
	}
}

// isAlive reports whether name counts as alive; this node always does.
func (k *Keeper) isAlive(name string) bool {
	return name == k.cfg.Node || k.cfg.Peers.Alive(name)
}

// peer returns the client of a live peer, or nil.
func (k *Keeper) peer(name string) Peer {
	if name == k.cfg.Node || !k.cfg.Peers.Alive(name) {
		return nil
	}
	p, ok := k.cfg.Peers.Client(name)
	if !ok {
		return nil
	}
	return p
}

// readLocal reads the whole local copy of id and verifies it. A copy that
// does not hash to id gives an error wrapping store.ErrCorrupt; a missing
// one store.ErrNotFound.
func (k *Keeper) readLocal(ctx context.Context, id store.ChunkID) ([]byte, error) {
	rc, err := k.cfg.Local.Get(ctx, id.Key(), 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(rc, store.MaxChunkSize+1))
	if err != nil {
		return nil, fmt.Errorf("read local chunk %s: %w", id, err)
	}
	if n > store.MaxChunkSize {
		return nil, fmt.Errorf("%w: local chunk %s is over %d bytes", store.ErrCorrupt, id, store.MaxChunkSize)
	}
	data := buf.Bytes()
	if err := store.Verify(id, data); err != nil {
		return nil, fmt.Errorf("local copy: %w", err)
	}
	return data, nil
}

// fetch returns the verified bytes of id from the first of nodes that
// gives them: the local backend for this node (free), a peer otherwise
// (charged to the transfer bucket).
func (k *Keeper) fetch(ctx context.Context, id store.ChunkID, nodes []string) ([]byte, string, error) {
	var errs []error
	for _, n := range nodes {
		var data []byte
		var err error
		if n == k.cfg.Node {
			data, err = k.readLocal(ctx, id)
		} else if p := k.peer(n); p == nil {
			err = fmt.Errorf("node %s is not reachable", n)
		} else {
			cctx, cancel := context.WithTimeout(ctx, k.cfg.CallTimeout)
			data, err = p.GetChunk(cctx, id)
			cancel()
			if err == nil {
				err = k.transfer.take(ctx, int64(len(data)))
			}
		}
		if err == nil {
			return data, n, nil
		}
		if ctx.Err() != nil {
			return nil, "", ctxErr(ctx)
		}
		errs = append(errs, fmt.Errorf("from %s: %w", n, err))
	}
	return nil, "", fmt.Errorf("fetch chunk %s: %w", id, errors.Join(errs...))
}

// store writes data as chunk id on node: the local backend, or a peer
// (charged to the transfer bucket).
func (k *Keeper) store(ctx context.Context, node string, id store.ChunkID, data []byte) error {
	if node == k.cfg.Node {
		return k.cfg.Local.Put(ctx, id.Key(), bytes.NewReader(data), int64(len(data)))
	}
	p := k.peer(node)
	if p == nil {
		return fmt.Errorf("put chunk %s on %s: node is not reachable", id, node)
	}
	if err := k.transfer.take(ctx, int64(len(data))); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, k.cfg.CallTimeout)
	defer cancel()
	return p.PutChunk(cctx, id, data)
}

// stat reports whether node holds id, and the copy's size.
func (k *Keeper) stat(ctx context.Context, node string, id store.ChunkID) (bool, int64, error) {
	var size int64
	var err error
	if node == k.cfg.Node {
		var info store.ObjectInfo
		info, err = k.cfg.Local.Stat(ctx, id.Key())
		size = info.Size
	} else if p := k.peer(node); p == nil {
		return false, 0, fmt.Errorf("stat chunk %s on %s: node is not reachable", id, node)
	} else {
		cctx, cancel := context.WithTimeout(ctx, k.cfg.CallTimeout)
		size, err = p.StatChunk(cctx, id)
		cancel()
	}
	if errors.Is(err, store.ErrNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	return true, size, nil
}

// firstLive returns the first node of id's order that is alive (this node
// always is): the one node that repairs id. placed is p.Place(id).
func (k *Keeper) firstLive(p *placement.Placer, id store.ChunkID, placed []string) string {
	for _, n := range placed {
		if k.isAlive(n) {
			return n
		}
	}
	for _, n := range p.Order(id)[len(placed):] {
		if k.isAlive(n) {
			return n
		}
	}
	return ""
}

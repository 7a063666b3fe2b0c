package repair

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/store"
)

// Defaults of DefaultConfig.
const (
	DefaultBytesPerSec      = 50 << 20 // repair and rebalance transfers
	DefaultScrubBytesPerSec = 8 << 20  // local re-reads
	DefaultConcurrency      = 4
	DefaultRepairInterval   = 10 * time.Minute
	DefaultGCInterval       = 10 * time.Minute
	DefaultScrubPause       = time.Hour
	DefaultGCGrace          = 10 * time.Minute
	DefaultSettle           = 2 * time.Minute
	DefaultCallTimeout      = 30 * time.Second
)

// defaultBatch is how many chunks a pass takes from the namespace or the
// local backend at a time (Keeper.batch; tests make it small).
const defaultBatch = 1000

// Config configures a Keeper. New copies it; the caller's value is never
// changed.
type Config struct {
	// Node is this node's name, as in the layout.
	Node string
	// Local is this node's own backend. The keeper does not close it.
	Local store.Backend
	// Placer returns the placement of the current layout, or nil before
	// there is one (a pass then fails with ErrNoLayout). It is called at
	// the start of every pass and before every deletion by Rebalance; it
	// must be cheap and safe for concurrent use.
	Placer func() *placement.Placer
	// Peers reaches the other nodes and says which are alive.
	Peers Peers
	// Chunks says which chunks are referenced.
	Chunks Chunks
	// Condemner, when set, tombstones what GC is about to delete, so that
	// no writer anywhere commits a chunk whose local copy GC deletes (see
	// the package doc). Nil: GC only reads the reference count again
	// right before each deletion (a single host, tests).
	Condemner Condemner
	// Clock is the time source; nil means SystemClock.
	Clock Clock
	// Logger gets one line per failed operation and per pass; nil
	// discards.
	Logger *slog.Logger
	// Hooks are called on events, for alerts and metrics.
	Hooks Hooks

	// BytesPerSec bounds the chunk bytes that Repair, Rebalance and Scrub
	// move over the network (a token bucket shared by them: every chunk
	// fetched from a peer and every chunk sent to one is charged); 0
	// means unlimited. Burst is the bucket's size; 0 means BytesPerSec/4
	// (a quarter of a second). A chunk larger than the bucket still
	// passes: the bucket goes into debt and the next transfers wait.
	BytesPerSec int64
	Burst       int64
	// ScrubBytesPerSec bounds Scrub's reads of the local backend (its own
	// token bucket); 0 means unlimited for a Scrub call, and no scrub at
	// all in Run.
	ScrubBytesPerSec int64
	// Concurrency is how many chunks Repair and Rebalance work on at
	// once; 0 means DefaultConcurrency.
	Concurrency int
	// CallTimeout bounds each call to a peer; 0 means DefaultCallTimeout.
	CallTimeout time.Duration
	// ListLimit is the page size of peer inventories; 0 means
	// peer.MaxListLimit.
	ListLimit int

	// RepairInterval is how often Run runs Repair then Rebalance without
	// a Trigger; GCInterval how often it runs GC; ScrubPause how long it
	// waits between two Scrub passes. 0 means the default.
	RepairInterval time.Duration
	GCInterval     time.Duration
	ScrubPause     time.Duration
	// GCGrace is how long a chunk must have been unreferenced before GC
	// deletes its local copy: since its reference count fell to 0, or,
	// for a chunk that never had a reference, since its object was
	// written. 0 means no grace (tests only).
	GCGrace time.Duration
	// Settle is how long a layout version must have been current (as
	// seen by this keeper) before Rebalance deletes anything under it,
	// so that no node still places chunks with the previous version (see
	// the package doc). 0 means no wait (tests only).
	Settle time.Duration
}

// Hooks are callbacks for alerts and metrics. Each may be nil. They are
// called synchronously from the keeper's goroutines, possibly from
// several at once: they must be safe for concurrent use and must not block
// (hand events to a queue).
type Hooks struct {
	// Missing is called by Repair for a referenced chunk of which no live
	// node holds a copy (an alert: data may be lost).
	Missing func(id store.ChunkID)
	// Corrupt is called by Scrub when the local copy of a chunk does not
	// hash to its ID or cannot be read whole; err says how (it wraps
	// store.ErrCorrupt for wrong bytes).
	Corrupt func(id store.ChunkID, err error)
	// Resolved is called once a chunk reported through Corrupt is sound
	// again here: replaced by a good copy, or deleted because this node
	// is not placed for it, or found sound by a later Scrub (after
	// Repair brought a copy back).
	Resolved func(id store.ChunkID)
	// Pass is called after every pass with its name ("repair",
	// "rebalance", "gc", "scrub"), its common counts and its error.
	Pass func(pass string, c Counts, err error)
}

// DefaultConfig returns the production settings. Node, Local, Placer,
// Peers and Chunks must be set.
func DefaultConfig() Config {
	return Config{
		BytesPerSec:      DefaultBytesPerSec,
		ScrubBytesPerSec: DefaultScrubBytesPerSec,
		Concurrency:      DefaultConcurrency,
		CallTimeout:      DefaultCallTimeout,
		RepairInterval:   DefaultRepairInterval,
		GCInterval:       DefaultGCInterval,
		ScrubPause:       DefaultScrubPause,
		GCGrace:          DefaultGCGrace,
		Settle:           DefaultSettle,
	}
}

// DefaultTestConfig is DefaultConfig for tests on one host: no rate limit,
// no grace or settle delay, 2-second calls and short intervals.
func DefaultTestConfig() Config {
	c := DefaultConfig()
	c.BytesPerSec = 0
	c.ScrubBytesPerSec = 0
	c.CallTimeout = 2 * time.Second
	c.RepairInterval = 200 * time.Millisecond
	c.GCInterval = 200 * time.Millisecond
	c.ScrubPause = 200 * time.Millisecond
	c.GCGrace = 0
	c.Settle = 0
	return c
}

// Validate reports the first problem with c in a plain sentence.
func (c *Config) Validate() error {
	switch {
	case c.Node == "":
		return errors.New("repair: this node's name is required")
	case c.Local == nil:
		return errors.New("repair: a local backend is required")
	case c.Placer == nil:
		return errors.New("repair: a placer is required")
	case c.Peers == nil:
		return errors.New("repair: peers are required")
	case c.Chunks == nil:
		return errors.New("repair: the namespace's chunks are required")
	case c.BytesPerSec < 0 || c.Burst < 0 || c.ScrubBytesPerSec < 0:
		return errors.New("repair: rates and burst must not be negative (0 means unlimited)")
	case c.Concurrency < 0:
		return fmt.Errorf("repair: concurrency %d must not be negative (0 means %d)", c.Concurrency, DefaultConcurrency)
	case c.CallTimeout < 0:
		return fmt.Errorf("repair: call timeout %v must not be negative (0 means %v)", c.CallTimeout, DefaultCallTimeout)
	case c.ListLimit < 0 || c.ListLimit > peer.MaxListLimit:
		return fmt.Errorf("repair: inventory page size must be between 1 and %d (0 means %d), not %d", peer.MaxListLimit, peer.MaxListLimit, c.ListLimit)
	case c.RepairInterval < 0 || c.GCInterval < 0 || c.ScrubPause < 0:
		return errors.New("repair: intervals must not be negative (0 means the default)")
	case c.GCGrace < 0 || c.Settle < 0:
		return errors.New("repair: the GC grace and the settle delay must not be negative")
	}
	return nil
}

// withDefaults fills the zero fields that have defaults.
func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.ListLimit == 0 {
		c.ListLimit = peer.MaxListLimit
	}
	if c.RepairInterval == 0 {
		c.RepairInterval = DefaultRepairInterval
	}
	if c.GCInterval == 0 {
		c.GCInterval = DefaultGCInterval
	}
	if c.ScrubPause == 0 {
		c.ScrubPause = DefaultScrubPause
	}
	if c.Burst == 0 {
		c.Burst = max(c.BytesPerSec/4, 1)
	}
	return c
}

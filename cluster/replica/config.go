package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dfsproject/dfs/store"
)

// Defaults used for zero Config fields.
const (
	DefaultConcurrency = 8
	DefaultTimeout     = 30 * time.Second
)

// Config configures a Backend. New copies it; the caller's value is never
// changed.
type Config struct {
	// Local is this node's own backend: chunks placed here are written to
	// and read from it directly. The Backend does not close it.
	Local store.Backend
	// Placer says which nodes hold a chunk.
	Placer Placer
	// Peers reaches the other nodes and says which are alive.
	Peers Peers
	// Concurrency bounds the remote calls in flight at once, across every
	// operation of the Backend; 0 means DefaultConcurrency. Calls to Local
	// are not counted.
	Concurrency int
	// Timeout bounds each remote call (not the wait for a Concurrency
	// slot, and not calls to Local); 0 means DefaultTimeout. It must let a
	// whole chunk (up to 64 MiB) cross the network.
	Timeout time.Duration
	// Logger receives a line per replica that failed or held corrupt
	// bytes; nil discards.
	Logger *slog.Logger
	// OnCorrupt, when set, is called when a node's copy of id does not
	// hash to id (the local copy on a whole-chunk read, or a peer's). It
	// is called synchronously from the reading goroutine, possibly from
	// several at once: it must be safe for concurrent use and must not
	// block (hand the event to a queue).
	OnCorrupt func(node string, id store.ChunkID)
	// Observe, when set, is called once after every call made to a node
	// for a chunk, this node's own backend included (node is then
	// Peers.Local()): for metrics. op is OpGet, OpPut, OpStat or OpDelete;
	// bytes is the chunk data the call moved (the body of a put that
	// succeeded, the bytes a get returned; 0 for stat, delete and failed
	// calls); d is how long the call took (not the wait for a Concurrency
	// slot); err is nil on success. A node's "not found" answer is an
	// error wrapping store.ErrNotFound. A call its caller abandoned
	// (the operation was cancelled or closed, or another replica answered
	// first) has an error wrapping context.Canceled or
	// context.DeadlineExceeded: it says nothing about the node. Calls not
	// made are not reported (a node with no address, a dead node not
	// asked). A ranged local get is reported when its reader is closed,
	// with the bytes read from it. Observe is called synchronously, from
	// many goroutines at once: it must be safe for concurrent use and must
	// not block.
	Observe func(node, op string, bytes int64, d time.Duration, err error)
	// Now is the clock call latencies are measured with; nil means
	// time.Now.
	Now func() time.Time
}

// DefaultConfig returns the production settings: 8 concurrent remote calls
// and a 30-second timeout per call. Local, Placer and Peers must be set.
func DefaultConfig() Config {
	return Config{Concurrency: DefaultConcurrency, Timeout: DefaultTimeout}
}

// DefaultTestConfig is DefaultConfig with a 2-second call timeout, for
// tests on one host. Local, Placer and Peers must be set.
func DefaultTestConfig() Config {
	c := DefaultConfig()
	c.Timeout = 2 * time.Second
	return c
}

// Validate reports the first problem with c in a plain sentence.
func (c *Config) Validate() error {
	switch {
	case c.Local == nil:
		return errors.New("replica: a local backend is required")
	case c.Placer == nil:
		return errors.New("replica: a placer is required")
	case c.Peers == nil:
		return errors.New("replica: peers are required")
	case c.Concurrency < 0:
		return fmt.Errorf("replica: concurrency %d must not be negative (0 means %d)", c.Concurrency, DefaultConcurrency)
	case c.Timeout < 0:
		return fmt.Errorf("replica: call timeout %v must not be negative (0 means %v)", c.Timeout, DefaultTimeout)
	}
	return nil
}

package raftmeta

import (
	"fmt"
	"log/slog"
	"sync"
	"syscall"

	"github.com/hashicorp/raft"

	"github.com/dfsproject/dfs/store/meta"
)

var _ raft.FSM = (*FSM)(nil)

// FSM adapts a meta.FSM to raft.FSM. Raft calls Apply, Snapshot and
// Restore from one goroutine, never concurrently; the snapshots'
// Persist and Release run on other goroutines, concurrently with Apply.
// Err and NeedsRestore may be called at any time.
//
// It does not implement raft.BatchingFSM: meta applies one command per
// badger transaction, so ApplyBatch would only loop over Apply.
type FSM struct {
	f   *meta.FSM
	log *slog.Logger

	mu     sync.Mutex
	failed error
}

// NewFSM returns the raft state machine over f. A nil logger discards.
func NewFSM(f *meta.FSM, logger *slog.Logger) *FSM {
	return &FSM{f: f, log: orDiscard(logger)}
}

// Apply applies a LogCommand entry with meta.FSM.Apply at the entry's
// index and returns its *meta.Result (raft hands it to the proposer as
// ApplyFuture.Response). Other entry types return nil.
//
// An entry at or below the state's applied index (a replay after a
// restart) changes nothing and returns an empty Result. An entry the
// state could not apply (a storage failure, a closed meta.FSM: the
// applied index did not move) stops the adapter: raft counts the entry
// as applied and would go on with the next one, so applying anything
// later would lose this one on this replica. Instead every later Apply
// returns EIO without touching the state and Snapshot fails (so raft
// never compacts the log past the entry), until the node restarts and
// replays the log from the state's applied index. Err reports the
// failure.
func (a *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if a.Err() != nil {
		return &meta.Result{Errno: syscall.EIO}
	}
	res := a.f.Apply(l.Index, l.Data)
	if applied := a.f.AppliedIndex(); applied < l.Index {
		a.fail(fmt.Errorf("raftmeta: log entry %d was not applied (state at %d); applying stopped", l.Index, applied))
	}
	return res
}

// Err returns the failure that stopped Apply, or nil.
func (a *FSM) Err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failed
}

func (a *FSM) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failed == nil {
		a.failed = err
		a.log.Error("raftmeta: state machine stopped", "err", err)
	}
}

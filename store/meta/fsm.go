package meta

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/dfsproject/dfs/store"
)

// ErrClosed is returned by every method of a closed FSM.
var ErrClosed = errors.New("meta: state machine closed")

// errTooBig: the command needs more key operations than one transaction
// may hold; Apply splits it (see split.go).
var errTooBig = errors.New("meta: command too big for one transaction")

// errnoFailure carries a command's POSIX error out of a transaction that
// must be discarded.
type errnoFailure syscall.Errno

func (e errnoFailure) Error() string { return syscall.Errno(e).Error() }

// defaultMaxTxnOps is how many slot, reference and xattr operations one
// transaction does before a command is split. A slot operation writes up
// to five keys (about 250 bytes); badger's limit with 8 MiB memtables is
// about 1.2 MiB or 13,000 entries per transaction. (Should a transaction
// still be too big, the command is split too, in smaller batches.)
const defaultMaxTxnOps = 1000

// maxConflictRetries bounds the retries of a transaction that hit
// badger.ErrConflict (only possible if something else writes the same
// keys, since Apply is serialized).
const maxConflictRetries = 16

// FSM is the namespace state machine over badger. Apply is serialized
// (one command at a time); the Reader methods, Stats, AppliedIndex and
// Snapshot run concurrently with it and with each other, each on a
// consistent read-only view.
type FSM struct {
	cfg Config
	log *slog.Logger
	db  *badger.DB

	// mu is held for reading by every operation on db and for writing by
	// Close and Restore.
	mu     sync.RWMutex
	closed bool
	broken error // set when Restore failed after dropping the old state
	snaps  sync.WaitGroup

	applyMu sync.Mutex    // serializes Apply
	applied atomic.Uint64 // last applied index, mirrors the stats record

	// maxTxnOps is the split threshold (tests lower it).
	maxTxnOps int
	// reqWindow is how many entries a ReqID is remembered for
	// (RequestWindow; tests lower it).
	reqWindow uint64
	// splitHook, when set (tests), runs before each commit of a split
	// command's partial transactions; an error aborts the command there,
	// as a crash would.
	splitHook func(step int) error
}

// Open opens (or creates) the state in cfg.Dir, or in memory. A new state
// holds the root directory: RootIno, S_IFDIR|0755, nlink 2, owned by 0:0,
// times 0.
func Open(cfg Config) (*FSM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = discardLogger
	}
	if !cfg.InMemory {
		removeStaleSpools(cfg.Dir)
	}
	db, err := badger.Open(cfg.badgerOptions(log))
	if err != nil {
		if cfg.InMemory {
			return nil, fmt.Errorf("meta: open in-memory badger: %w", err)
		}
		return nil, fmt.Errorf("meta: open badger in %s: %w", cfg.Dir, err)
	}
	f := &FSM{cfg: cfg, log: log, db: db, maxTxnOps: defaultMaxTxnOps, reqWindow: RequestWindow}
	st, err := f.bootstrap()
	if err != nil {
		db.Close()
		return nil, err
	}
	f.applied.Store(st.Applied)
	return f, nil
}

// Config returns the configuration f was opened with.
func (f *FSM) Config() Config { return f.cfg }

// bootstrap creates the root directory and the stats record in an empty
// state and returns the stats.
func (f *FSM) bootstrap() (state, error) {
	var st state
	err := f.update(func(txn *badger.Txn) error {
		var err error
		st, err = loadState(txn)
		if err == nil || !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		// No stats record: the state must be empty.
		it := txn.NewIterator(badger.IteratorOptions{})
		it.Rewind()
		nonEmpty := it.Valid()
		it.Close()
		if nonEmpty {
			return fmt.Errorf("%w: state without a stats record", errCorrupt)
		}
		root := &inode{Mode: syscall.S_IFDIR | 0o755, Nlink: 2, Parent: RootIno}
		if err := txn.Set(inodeKey(RootIno), encodeInode(root)); err != nil {
			return err
		}
		st = state{NextIno: RootIno + 1, Inodes: 1}
		return txn.Set(keyStats, encodeState(&st))
	})
	if err != nil {
		return st, fmt.Errorf("meta: bootstrap: %w", err)
	}
	return st, nil
}

func loadState(txn *badger.Txn) (state, error) {
	item, err := txn.Get(keyStats)
	if err != nil {
		return state{}, err
	}
	var st state
	err = item.Value(func(v []byte) error {
		st, err = decodeState(v)
		return err
	})
	return st, err
}

// AppliedIndex returns the index of the last applied command (0 for a new
// state).
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// Sync flushes the state to stable storage.
func (f *FSM) Sync() error {
	if err := f.acquire(); err != nil {
		return err
	}
	defer f.mu.RUnlock()
	if f.cfg.InMemory {
		return nil
	}
	if err := f.db.Sync(); err != nil {
		return fmt.Errorf("meta: sync: %w", err)
	}
	return nil
}

// Close closes the state. It waits for running operations and open
// snapshots; later calls return ErrClosed. Calling Close again is a no-op.
func (f *FSM) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	f.snaps.Wait()
	if err := f.db.Close(); err != nil {
		return fmt.Errorf("meta: close: %w", err)
	}
	return nil
}

// acquire read-locks f.mu if f is usable; the caller must RUnlock.
func (f *FSM) acquire() error {
	f.mu.RLock()
	switch {
	case f.closed:
		f.mu.RUnlock()
		return ErrClosed
	case f.broken != nil:
		err := f.broken
		f.mu.RUnlock()
		return err
	}
	return nil
}

// update runs fn in a read-write transaction and commits it, retrying on
// conflicts.
func (f *FSM) update(fn func(txn *badger.Txn) error) error {
	for attempt := 0; ; attempt++ {
		txn := f.db.NewTransaction(true)
		err := fn(txn)
		if err == nil {
			err = txn.Commit()
		}
		txn.Discard()
		if errors.Is(err, badger.ErrConflict) && attempt < maxConflictRetries {
			f.log.Debug("meta: transaction conflict, retrying", "attempt", attempt+1)
			continue
		}
		return err
	}
}

// view runs fn in a read-only transaction.
func (f *FSM) view(fn func(txn *badger.Txn) error) error {
	if err := f.acquire(); err != nil {
		return err
	}
	defer f.mu.RUnlock()
	return f.db.View(fn)
}

// Apply applies the command encoded in data as log entry index and
// returns its result. An entry at or below AppliedIndex is skipped (empty
// Result, no effect), so replaying a log after a restart is safe. Bytes
// that do not decode give EINVAL (and still advance the applied index). A
// storage failure (or a closed FSM) gives EIO, is logged, and leaves the
// applied index where it was, so the entry can be applied again.
//
// Apply must not be called concurrently with itself (it serializes
// anyway); it is deterministic: the same entries applied to the same
// state give the same state and results on every replica.
func (f *FSM) Apply(index uint64, data []byte) *Result {
	res, err := f.apply(index, data)
	if err != nil {
		f.log.Error("meta: apply failed", "index", index, "err", err)
		return &Result{Errno: syscall.EIO}
	}
	return res
}

// apply is Apply with the failure (ErrClosed, a lost state, a storage
// error) as an error.
func (f *FSM) apply(index uint64, data []byte) (*Result, error) {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if err := f.acquire(); err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	if index <= f.applied.Load() {
		return &Result{}, nil
	}
	cmd, err := Decode(data)
	if errors.Is(err, ErrNewerCommand) {
		return nil, fmt.Errorf("meta: entry %d: %w", index, err)
	}
	if err != nil {
		f.log.Warn("meta: undecodable command", "index", index, "err", err)
		cmd = &Cmd{Op: OpInvalid}
	}
	if cmd.ReqID != (ReqID{}) {
		prev, err := f.replayedRequest(index, cmd.ReqID)
		if err != nil {
			return nil, fmt.Errorf("meta: apply %v at %d: %w", cmd.Op, index, err)
		}
		if prev != nil {
			f.applied.Store(index)
			return prev, nil
		}
	}
	res, err := f.applyCmd(index, cmd)
	if err != nil {
		return nil, fmt.Errorf("meta: apply %v at %d: %w", cmd.Op, index, err)
	}
	f.applied.Store(index)
	return res, nil
}

// applyCmd applies cmd in one transaction, or split into several when it
// is too big for one.
func (f *FSM) applyCmd(index uint64, cmd *Cmd) (*Result, error) {
	res, err := f.applyFinal(index, cmd, nil, false, f.maxTxnOps)
	if errors.Is(err, errTooBig) || errors.Is(err, badger.ErrTxnTooBig) {
		return f.applySplit(index, cmd)
	}
	return res, err
}

// applyFinal runs the transaction that completes cmd: it validates,
// changes the state, records index as applied and computes Freed (from
// prior, the chunks that fell to zero in earlier partial transactions,
// and its own). skipSlots and limit are described at applier. When the
// command fails validation, its transaction is discarded and a second one
// records only the applied index.
func (f *FSM) applyFinal(index uint64, cmd *Cmd, prior []store.ChunkID, skipSlots bool, limit int) (*Result, error) {
	var res *Result
	err := f.update(func(txn *badger.Txn) error {
		a, err := newApplier(f, txn, cmd)
		if err != nil {
			return err
		}
		a.limit, a.skipSlots, a.index = limit, skipSlots, index
		errno, err := a.apply()
		if err != nil {
			return err
		}
		if errno != 0 {
			return errnoFailure(errno)
		}
		if err := a.finish(index, prior); err != nil {
			return err
		}
		res = &a.res
		return nil
	})
	var ef errnoFailure
	if errors.As(err, &ef) {
		res = &Result{Errno: syscall.Errno(ef)}
		err = f.update(func(txn *badger.Txn) error {
			st, err := loadState(txn)
			if err != nil {
				return fmt.Errorf("load stats: %w", err)
			}
			st.Applied = index
			if cmd.ReqID != (ReqID{}) {
				if err := rememberRequest(txn, index, f.reqWindow, cmd.ReqID, res); err != nil {
					return err
				}
			}
			return txn.Set(keyStats, encodeState(&st))
		})
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

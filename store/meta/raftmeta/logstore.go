package raftmeta

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/hashicorp/raft"
)

// ErrClosed is returned by every method of a closed LogStore.
var ErrClosed = errors.New("raftmeta: log store closed")

var (
	_ raft.LogStore          = (*LogStore)(nil)
	_ raft.StableStore       = (*LogStore)(nil)
	_ raft.MonotonicLogStore = (*LogStore)(nil)
)

// deleteChunk is how many keys DeleteRange reads before deleting them.
const deleteChunk = 4096

// Value-log GC: each DeleteRange wakes the GC goroutine, which rewrites
// value-log files at least half garbage, up to maxGCRounds files a time.
const (
	gcDiscardRatio = 0.5
	maxGCRounds    = 8
)

// LogStore is raft's log and stable store on its own badger database.
// Every write is synced before it returns. It is safe for concurrent
// use: raft stores and deletes from different goroutines (the main loop
// appends, the snapshot goroutine compacts) while replication reads.
// Writes to the log are serialized so the cached first and last
// indexes stay exact.
type LogStore struct {
	db  *badger.DB
	log *slog.Logger

	// mu is held for reading by every operation on db and for writing by
	// Close.
	mu     sync.RWMutex
	closed bool

	writeMu     sync.Mutex // serializes StoreLogs and DeleteRange
	first, last atomic.Uint64

	gcKick chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
}

// OpenLogStore opens (or creates) the store in dir, which must not be
// shared with anything else (the state machine has its own directory).
// A nil logger discards.
func OpenLogStore(dir string, logger *slog.Logger) (*LogStore, error) {
	if dir == "" {
		return nil, errors.New("raftmeta: the log store needs a directory")
	}
	log := orDiscard(logger)
	db, err := badger.Open(logStoreOptions(dir, log))
	if err != nil {
		return nil, fmt.Errorf("raftmeta: open log store in %s: %w", dir, err)
	}
	s := &LogStore{
		db:     db,
		log:    log,
		gcKick: make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	if err := s.loadBounds(); err != nil {
		db.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.gcLoop()
	return s, nil
}

// Close closes the store, waiting for running calls and for value-log
// GC. Later calls return ErrClosed; calling Close again is a no-op.
func (s *LogStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("raftmeta: close log store: %w", err)
	}
	return nil
}

// acquire read-locks s.mu if s is open; the caller must RUnlock.
func (s *LogStore) acquire() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// IsMonotonic implements raft.MonotonicLogStore: raft then empties the
// log after installing or restoring a snapshot instead of leaving the
// older entries below a gap, so the log stays one contiguous run. (The
// store tolerates gaps all the same: one remains if raft crashes between
// installing a snapshot and emptying the log.)
func (s *LogStore) IsMonotonic() bool { return true }

// FirstIndex returns the first stored index, 0 when the log is empty.
func (s *LogStore) FirstIndex() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return s.first.Load(), nil
}

// LastIndex returns the last stored index, 0 when the log is empty.
func (s *LogStore) LastIndex() (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return s.last.Load(), nil
}

// GetLog reads entry index into l, or returns raft.ErrLogNotFound (not
// wrapped: raft compares it with ==).
func (s *LogStore) GetLog(index uint64, l *raft.Log) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(logKey(index))
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error { return decodeLog(index, v, l) })
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return raft.ErrLogNotFound
	case errors.Is(err, ErrCorrupt):
		return err
	}
	return fmt.Errorf("raftmeta: get log %d: %w", index, err)
}

// StoreLog stores one entry.
func (s *LogStore) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs stores entries (in index order, as raft gives them) in one
// transaction, or in several committed in order when badger's limit on
// a transaction is reached, so a crash keeps a prefix of the batch.
func (s *LogStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	// Encode the batch into one buffer (and one for the keys); badger
	// keeps the slices until the commit.
	size := 0
	for _, l := range logs {
		size += maxLogHeader + len(l.Extensions) + len(l.Data)
	}
	buf := make([]byte, 0, size)
	keys := make([]byte, logKeyLen*len(logs))
	vals := make([][]byte, len(logs))
	for i, l := range logs {
		start := len(buf)
		buf = appendLog(buf, l)
		vals[i] = buf[start:len(buf):len(buf)]
		putLogKey(keys[i*logKeyLen:], l.Index)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	err := s.writeSplit(len(logs), func(txn *badger.Txn, i int) error {
		k := keys[i*logKeyLen : (i+1)*logKeyLen : (i+1)*logKeyLen]
		return txn.Set(k, vals[i])
	}, func(from, to int) {
		first, last := s.first.Load(), s.last.Load()
		for _, l := range logs[from:to] {
			if first == 0 || l.Index < first {
				first = l.Index
			}
			last = max(last, l.Index)
		}
		s.first.Store(first)
		s.last.Store(last)
	})
	if err != nil {
		return fmt.Errorf("raftmeta: store logs %d-%d: %w", logs[0].Index, logs[len(logs)-1].Index, err)
	}
	return nil
}

// DeleteRange deletes the entries from lo to hi inclusive. Raft deletes
// either the head of the log (compaction after a snapshot) or its tail
// (entries that conflict with the leader's); the tail is deleted from
// the end backwards and the head from the start forwards, in
// transactions of at most deleteChunk keys, so a crash in between still
// leaves one contiguous run. Only keys that exist are visited (a
// key-only scan), so a range spanning a gap costs nothing for the gap.
// Each call wakes the value-log GC.
func (s *LogStore) DeleteRange(lo, hi uint64) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	first, last := s.first.Load(), s.last.Load()
	lo, hi = max(lo, first), min(hi, last)
	if first == 0 || lo > hi {
		return nil
	}
	err := s.deleteKeys(lo, hi, hi == last && lo > first)
	if err == nil {
		switch {
		case lo == first && hi == last:
			first, last = 0, 0
		case lo == first:
			first, _, err = s.seek(hi+1, false)
		case hi == last:
			last, _, err = s.seek(lo-1, true)
		}
	}
	if err != nil {
		if lerr := s.loadBounds(); lerr != nil {
			s.log.Error("raftmeta: reload log bounds", "err", lerr)
		}
		return fmt.Errorf("raftmeta: delete logs %d-%d: %w", lo, hi, err)
	}
	s.first.Store(first)
	s.last.Store(last)
	select {
	case s.gcKick <- struct{}{}:
	default:
	}
	return nil
}

// deleteKeys deletes the stored entries in [lo, hi], backwards if
// descending.
func (s *LogStore) deleteKeys(lo, hi uint64, descending bool) error {
	for {
		keys, err := s.collect(lo, hi, descending, deleteChunk)
		if err != nil || len(keys) == 0 {
			return err
		}
		err = s.writeSplit(len(keys), func(txn *badger.Txn, i int) error {
			return txn.Delete(keys[i])
		}, func(int, int) {})
		if err != nil || len(keys) < deleteChunk {
			return err
		}
		end := logIndex(keys[len(keys)-1])
		switch {
		case descending && end > lo:
			hi = end - 1
		case !descending && end < hi:
			lo = end + 1
		default:
			return nil
		}
	}
}

// collect returns up to limit keys of stored entries in [lo, hi], in
// ascending or descending order.
func (s *LogStore) collect(lo, hi uint64, descending bool, limit int) ([][]byte, error) {
	var keys [][]byte
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pfxLog}, Reverse: descending})
		defer it.Close()
		from := lo
		if descending {
			from = hi
		}
		for it.Seek(logKey(from)); it.Valid() && len(keys) < limit; it.Next() {
			k := it.Item().Key()
			if len(k) != logKeyLen {
				return fmt.Errorf("%w: log key %x", ErrCorrupt, k)
			}
			if idx := logIndex(k); idx < lo || idx > hi {
				break
			}
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		return nil
	})
	return keys, err
}

// seek returns the first stored index >= from, or with reverse the last
// one <= from; found is false (and the index 0) when there is none.
func (s *LogStore) seek(from uint64, reverse bool) (idx uint64, found bool, err error) {
	err = s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pfxLog}, Reverse: reverse})
		defer it.Close()
		it.Seek(logKey(from))
		if !it.Valid() {
			return nil
		}
		k := it.Item().Key()
		if len(k) != logKeyLen {
			return fmt.Errorf("%w: log key %x", ErrCorrupt, k)
		}
		idx, found = logIndex(k), true
		return nil
	})
	return idx, found, err
}

// loadBounds sets the cached first and last indexes from the database.
func (s *LogStore) loadBounds() error {
	first, found, err := s.seek(0, false)
	if err != nil {
		return fmt.Errorf("raftmeta: find first log: %w", err)
	}
	var last uint64
	if found {
		if last, _, err = s.seek(^uint64(0), true); err != nil {
			return fmt.Errorf("raftmeta: find last log: %w", err)
		}
	}
	s.first.Store(first)
	s.last.Store(last)
	return nil
}

// writeSplit calls op(txn, i) for i in [0, n) in one transaction, or in
// several committed in order when badger reports that the transaction is
// full; committed(from, to) runs after each commit.
func (s *LogStore) writeSplit(n int, op func(txn *badger.Txn, i int) error, committed func(from, to int)) error {
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	start := 0
	for i := range n {
		err := op(txn, i)
		if errors.Is(err, badger.ErrTxnTooBig) && i > start {
			if err := txn.Commit(); err != nil {
				return err
			}
			committed(start, i)
			start = i
			txn = s.db.NewTransaction(true)
			err = op(txn, i)
		}
		if err != nil {
			return err
		}
	}
	if err := txn.Commit(); err != nil {
		return err
	}
	committed(start, n)
	return nil
}

// gcLoop runs value-log GC each time DeleteRange wakes it, until Close.
//
// Only entries of 1 MiB or more live in the value log, and a value-log
// file becomes reclaimable only once compactions have dropped the keys
// deleted from the head of the log (they feed badger's discard
// statistics). Running GC after each compaction of the raft log (raft
// calls DeleteRange after every snapshot) therefore reclaims what the
// previous compactions freed, and an idle log costs nothing; a timer
// would wake an idle daemon for no work.
func (s *LogStore) gcLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.gcKick:
		}
		for range maxGCRounds {
			err := s.db.RunValueLogGC(gcDiscardRatio)
			if err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
					s.log.Warn("raftmeta: value-log GC", "err", err)
				}
				break
			}
			select {
			case <-s.stop:
				return
			default:
			}
		}
	}
}

package raftmeta

import (
	"log/slog"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/dfsproject/dfs/store/meta"
)

// Badger sizing for the log. The log holds what lies between two
// snapshots plus raft's TrailingLogs (about 10,000 entries of a few
// hundred bytes: a few MiB), written once and deleted from the head, so
// it gets the same small footprint as the state machine's badger: two
// 8 MiB memtables (a transaction then holds up to 1.2 MiB; StoreLogs
// splits bigger batches), 1 MiB tables, no block or index cache (tables
// are uncompressed and read through mmap), and two compactors.
//
// Entries below badger's value threshold (1 MiB, that is nearly every
// entry) live in the LSM tree: each write costs one fsync of the
// memtable's write-ahead log, and deleting the head of the log leaves
// tombstones that compactions drop. Larger entries go to the value log,
// in 16 MiB files, which only value-log GC reclaims (see gcLoop).
const (
	logMemTableSize     = 8 << 20
	logNumMemtables     = 2
	logValueLogFileSize = 16 << 20
	logBaseTableSize    = 1 << 20
	logNumCompactors    = 2
)

func logStoreOptions(dir string, log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithNumVersionsToKeep(1).
		WithDetectConflicts(false). // writes are serialized by LogStore
		WithLogger(meta.BadgerLogger(log)).
		WithMetricsEnabled(false).
		WithMemTableSize(logMemTableSize).
		WithNumMemtables(logNumMemtables).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithValueLogFileSize(logValueLogFileSize).
		WithNumCompactors(logNumCompactors).
		WithBaseTableSize(logBaseTableSize).
		WithNumGoroutines(2)
	o.TableSizeMultiplier = 1
	return o
}

// discardLogger is used when a nil logger is given.
var discardLogger = slog.New(slog.DiscardHandler)

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discardLogger
	}
	return l
}

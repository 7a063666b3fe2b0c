package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Config configures an FSM.
type Config struct {
	// Dir is the badger directory. Required unless InMemory.
	Dir string
	// InMemory keeps the whole state in memory (tests, throwaway
	// replicas); Dir must then be empty.
	InMemory bool
	// SyncWrites makes every Apply fsync before returning. Without it a
	// crash may lose the last applied commands, which a Raft log replays
	// (the applied index is stored with the state, so nothing is applied
	// twice); Sync flushes on demand.
	SyncWrites bool
	// Logger receives the FSM's and badger's logs (badger's at Debug,
	// its warnings and errors at Warn and Error). Nil discards.
	Logger *slog.Logger
}

// DefaultConfig returns the production configuration; set Dir before
// Open. Writes are not synced per command: the Raft log is the durable
// record and Apply is idempotent by index (see Config.SyncWrites).
func DefaultConfig() Config {
	return Config{}
}

// DefaultTestConfig returns an in-memory configuration for tests.
func DefaultTestConfig() Config {
	return Config{InMemory: true}
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	switch {
	case c.InMemory && c.Dir != "":
		return errors.New("meta: an in-memory state takes no directory")
	case !c.InMemory && c.Dir == "":
		return errors.New("meta: a directory is required unless the state is in memory")
	}
	return nil
}

// Badger sizing. The daemon as a whole must stay well under 300 MiB RSS,
// so badger gets two 8 MiB memtables, 1 MiB tables on every level (a
// compaction buffers about twice each table it builds, several at once),
// no block cache (tables are not compressed and are read through mmap),
// an 8 MiB index cache, 64 MiB value log files, and two compactors.
// Values below 1 MiB (every record here) stay in the LSM tree.
//
// Measured (TestMemoryFootprint, 200,000 files with 4 chunks and an
// xattr each, 600,000 commands): 106 MiB anonymous RSS (58 MiB Go heap
// in use), plus 145 MiB of file-backed pages of the mmap'd tables, which
// the kernel reclaims under pressure. With 16 MiB memtables and 2 MiB
// tables doubling per level it was 175 MiB anonymous; with 1 MiB tables
// doubling per level, 139 MiB. (Small tables mean more files: about one
// per MiB of metadata, each an open descriptor.)
const (
	memTableSize     = 8 << 20
	numMemtables     = 2
	indexCacheSize   = 8 << 20
	valueLogFileSize = 64 << 20
	numCompactors    = 2
)

func (c *Config) badgerOptions(log *slog.Logger) badger.Options {
	o := badger.DefaultOptions(c.Dir).
		WithInMemory(c.InMemory).
		WithSyncWrites(c.SyncWrites).
		WithLogger(badgerLogger{log}).
		WithMetricsEnabled(false).
		WithMemTableSize(memTableSize).
		WithNumMemtables(numMemtables).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(indexCacheSize).
		WithValueLogFileSize(valueLogFileSize).
		WithNumCompactors(numCompactors).
		WithBaseTableSize(1 << 20).
		WithNumGoroutines(2)
	o.TableSizeMultiplier = 1 // 1 MiB tables on every level
	if c.InMemory {
		o = o.WithDir("").WithValueDir("")
	}
	return o
}

// BadgerLogger bridges badger's printf logger to l: badger's routine
// chatter goes to Debug, its warnings and errors to Warn and Error. Other
// badger stores of dfs (the Raft log) use it too.
func BadgerLogger(l *slog.Logger) badger.Logger { return badgerLogger{l} }

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !b.l.Enabled(ctx, level) {
		return
	}
	b.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, args...)), "component", "badger")
}

func (b badgerLogger) Errorf(f string, a ...any)   { b.log(slog.LevelError, f, a) }
func (b badgerLogger) Warningf(f string, a ...any) { b.log(slog.LevelWarn, f, a) }
func (b badgerLogger) Infof(f string, a ...any)    { b.log(slog.LevelDebug, f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.log(slog.LevelDebug, f, a) }

// discardLogger is used when Config.Logger is nil.
var discardLogger = slog.New(slog.DiscardHandler)

package vfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"time"

	"github.com/dfsproject/dfs/store/meta"
)

// Config configures a VFS. The zero value is not valid; start from
// DefaultConfig or DefaultTestConfig.
type Config struct {
	// ChunkSize is the size of a file slot and the largest chunk, a power
	// of two from 64 KiB to 64 MiB. It must be the same on every host and
	// never change for an existing filesystem: the metadata maps file
	// offsets to slots with it.
	ChunkSize int64
	// InlineMax: a file whose final size is at most this many bytes is
	// committed inline in its inode, without a chunk. 0 disables inlining.
	// At most ChunkSize and meta.MaxXattrValue-sized (64 KiB).
	InlineMax int
	// MaxDirtyBytes bounds the write buffers kept in memory, all open files
	// together. At least ChunkSize. Copies of uploaded chunks kept until
	// their commit, because a garbage collector may delete them meanwhile
	// (see Chunk GC in the package doc), take at most as much again.
	MaxDirtyBytes int64
	// SpillDir is where partially written chunks go when MaxDirtyBytes is
	// reached and no upload is running to free memory (a directory under
	// the data dir). Empty means os.TempDir().
	SpillDir string
	// UploadConcurrency bounds the chunk uploads running at once.
	UploadConcurrency int
	// ReadAheadChunks is how many chunks past a sequential read are
	// fetched in the background. 0 disables read-ahead.
	ReadAheadChunks int
	// GCInterval is how often Run looks for chunks without references.
	GCInterval time.Duration
	// GCGrace is how long a chunk must have had no reference before it
	// is deleted.
	GCGrace time.Duration
	// Logger receives errors that are turned into EIO. Nil discards.
	Logger *slog.Logger

	// Barrier, when set (a cluster), makes the local copy of the
	// namespace current: it returns once everything committed anywhere
	// before the call is visible here. It is called before an existing
	// file is opened, before a directory is read, and before a lookup
	// that found nothing is answered ENOENT, which gives close-to-open
	// consistency across hosts. When it fails (no quorum) the local copy
	// is served as it is.
	Barrier func(ctx context.Context) error
	// GCEnabled, when set, says whether this host runs the chunk GC now
	// (in a cluster, only the Raft leader does). The sweep of orphans
	// (below) runs on the same host.
	GCEnabled func() bool
	// OthersHold, when set (a cluster), reports whether another host has
	// inode ino open; an error means it could not be told (a host did not
	// answer). An orphan (a file removed, or renamed over, while open) is
	// reclaimed only once no host holds it: the last one to close it does,
	// and the GC host sweeps those nobody holds (a host that crashed with
	// them open) every OrphanSweep.
	OthersHold  func(ctx context.Context, ino meta.Ino) (bool, error)
	OrphanSweep time.Duration
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		ChunkSize:         4 << 20,
		InlineMax:         8 << 10,
		MaxDirtyBytes:     64 << 20,
		UploadConcurrency: 4,
		ReadAheadChunks:   2,
		GCInterval:        time.Minute,
		GCGrace:           10 * time.Minute,
		OrphanSweep:       5 * time.Minute,
	}
}

// DefaultTestConfig returns small, fast settings for tests: 64 KiB chunks,
// 1 KiB inline files, 4 MiB of dirty buffers and a GC that runs every 50 ms
// with no grace period.
func DefaultTestConfig() Config {
	return Config{
		ChunkSize:         64 << 10,
		InlineMax:         1 << 10,
		MaxDirtyBytes:     4 << 20,
		UploadConcurrency: 4,
		ReadAheadChunks:   2,
		GCInterval:        50 * time.Millisecond,
		GCGrace:           0,
		OrphanSweep:       50 * time.Millisecond,
	}
}

const (
	minChunkSize = 64 << 10
	maxChunkSize = 64 << 20
	maxInline    = 64 << 10
)

// Validate reports the first problem with c in a plain sentence.
func (c *Config) Validate() error {
	switch {
	case c.ChunkSize < minChunkSize || c.ChunkSize > maxChunkSize || bits.OnesCount64(uint64(c.ChunkSize)) != 1:
		return fmt.Errorf("chunk size must be a power of two between 64 KiB and 64 MiB, not %d", c.ChunkSize)
	case c.InlineMax < 0:
		return errors.New("inline limit must not be negative")
	case c.InlineMax > maxInline || int64(c.InlineMax) > c.ChunkSize:
		return fmt.Errorf("inline limit must be at most 64 KiB and at most the chunk size, not %d", c.InlineMax)
	case c.MaxDirtyBytes < c.ChunkSize:
		return fmt.Errorf("dirty buffer limit (%d bytes) must be at least the chunk size (%d bytes)", c.MaxDirtyBytes, c.ChunkSize)
	case c.UploadConcurrency < 1:
		return errors.New("upload concurrency must be at least 1")
	case c.ReadAheadChunks < 0:
		return errors.New("read-ahead must not be negative")
	case c.GCInterval <= 0:
		return errors.New("chunk GC interval must be positive")
	case c.GCGrace < 0:
		return errors.New("chunk GC grace period must not be negative")
	case c.OthersHold != nil && c.OrphanSweep <= 0:
		return errors.New("the orphan sweep interval must be positive")
	}
	return nil
}

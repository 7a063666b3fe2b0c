package meta

import (
	"context"

	"github.com/dfsproject/dfs/store"
)

// Reader answers queries from a replica's local copy of the namespace.
// Errors are syscall.Errno values (ENOENT, ENOTDIR, ENODATA, EINVAL ...)
// for POSIX conditions, and wrapped errors for storage failures.
// Implementations are safe for concurrent use.
type Reader interface {
	// Lookup returns the attributes of name in directory parent.
	Lookup(ctx context.Context, parent Ino, name string) (Attr, error)
	// GetAttr returns the attributes of ino.
	GetAttr(ctx context.Context, ino Ino) (Attr, error)
	// ReadDir returns every entry of directory ino (without "." and
	// ".."), sorted by name.
	ReadDir(ctx context.Context, ino Ino) ([]DirEntry, error)
	// Readlink returns a symlink's target.
	Readlink(ctx context.Context, ino Ino) (string, error)
	// Inline returns the bytes of an inline file (nil if not inline).
	Inline(ctx context.Context, ino Ino) ([]byte, error)
	// Chunks returns a regular file's chunk slots sorted by Index.
	Chunks(ctx context.Context, ino Ino) ([]ChunkRef, error)
	// GetXattr returns one extended attribute or ENODATA.
	GetXattr(ctx context.Context, ino Ino, name string) ([]byte, error)
	// ListXattr returns the names of ino's extended attributes, sorted.
	ListXattr(ctx context.Context, ino Ino) ([]string, error)
	// ChunkRefCount returns how many chunk slots reference id.
	ChunkRefCount(ctx context.Context, id store.ChunkID) (uint64, error)
	// ZeroRefChunks returns up to limit chunks whose reference count has
	// been 0 since before the Unix-ns time before: candidates for deletion.
	ZeroRefChunks(ctx context.Context, before int64, limit int) ([]store.ChunkID, error)
	// Orphans returns inodes with nlink 0 awaiting OpReclaim.
	Orphans(ctx context.Context) ([]Ino, error)
	// Stats returns namespace totals.
	Stats(ctx context.Context) (Stats, error)
	// Layout returns the placement layout last set by OpSetLayout and its
	// version (nil and 0 before the first). The namespace keeps it
	// opaque: cluster/placement encodes and decodes it.
	Layout(ctx context.Context) ([]byte, uint64, error)
}

// Stats are namespace totals, kept up to date by Apply.
type Stats struct {
	Inodes    uint64 // live inodes, orphans included
	NextIno   Ino    // the next inode number Apply will allocate
	Applied   uint64 // last applied log index
	DataBytes uint64 // sum of regular file sizes
}

// Proposer submits a command to be applied (directly on a single node,
// through Raft in a cluster) and returns Apply's Result. The error is
// non-nil only when the command's fate is unknown or it was not applied
// (no leader, timeout, closed): POSIX failures are in Result.Errno.
type Proposer interface {
	Propose(ctx context.Context, cmd *Cmd) (*Result, error)
}

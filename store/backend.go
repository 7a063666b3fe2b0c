package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors returned by every Backend and by the chunk layer. Backends translate
// their own errors (minio's NoSuchKey, os.ErrNotExist, ENOSPC ...) into these
// once, at their edge, and wrap them with context; callers test with errors.Is.
var (
	// ErrNotFound: the object (or chunk) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidKey: a key that is empty, absolute, has empty, "." or ".."
	// segments, or characters outside [A-Za-z0-9._-/].
	ErrInvalidKey = errors.New("invalid key")
	// ErrNoSpace: the backend is full (ENOSPC, S3 storage full).
	ErrNoSpace = errors.New("no space left on backend")
	// ErrCorrupt: stored bytes do not hash to their chunk ID.
	ErrCorrupt = errors.New("chunk corrupt")
	// ErrShortWrite: Put read fewer or more bytes than the size it was given.
	ErrShortWrite = errors.New("size mismatch")
	// ErrClosed: the backend was closed.
	ErrClosed = errors.New("backend closed")
)

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Backend is a flat key/value object store: a local directory, an S3
// bucket, or memory. Keys are slash-separated relative paths checked by
// ValidateKey. Implementations are safe for concurrent use.
type Backend interface {
	// Get returns length bytes of key starting at off; length < 0 means
	// to the end. A missing key fails at once with ErrNotFound (not on
	// first Read). off beyond the end yields an empty reader.
	Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error)
	// Put stores exactly size bytes read from r under key, atomically:
	// a reader of key sees the old object or the new one, never a part.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Stat returns the object's info or ErrNotFound.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every object whose key starts with prefix, in
	// lexical key order. An error from fn stops the walk and is returned.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error
	// Close releases resources; later calls fail with ErrClosed.
	Close() error
}

// Space is a backend's capacity in bytes. Total or Free may be 0 when the
// backend cannot tell (S3 has no fixed size).
type Space struct {
	Total uint64
	Free  uint64
}

// SpaceReporter is implemented by backends that know their capacity.
type SpaceReporter interface {
	Space(ctx context.Context) (Space, error)
}

// TempSweeper is implemented by backends that keep objects being written
// in temporary files: RemoveStaleTemp removes those a crashed writer left
// long ago (the Dir backend: an hour) and returns how many. The repair
// keeper calls it with every GC pass.
type TempSweeper interface {
	RemoveStaleTemp() int
}

// ValidateKey reports whether key is safe to use in any backend: non-empty,
// at most 1024 bytes, relative, made of non-empty segments other than "."
// and "..", and of the characters A-Z a-z 0-9 . _ - /.
func ValidateKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("%w: %q: must be 1 to 1024 bytes", ErrInvalidKey, key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q: empty, \".\" or \"..\" segment", ErrInvalidKey, key)
		}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '-' || c == '/'
		if !ok {
			return fmt.Errorf("%w: %q: character %q not allowed", ErrInvalidKey, key, c)
		}
	}
	return nil
}

// validPrefix checks a List prefix: empty, or a key prefix made of allowed
// characters with no "." or ".." segment.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidateKey(strings.TrimSuffix(prefix, "/") + "/x")
}

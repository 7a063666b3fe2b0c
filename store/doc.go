// Package store keeps the bytes of dfs files: object backends and, above
// them, the content-addressed chunk layer.
//
// # Backends
//
// A Backend is a flat key/value object store with six methods, ctx first on
// each: Get (whole or a range), Put, Stat, Delete, List and Close. Three
// implementations:
//
//   - Dir (NewDir): one file per object under a root directory. Put writes a
//     temporary file under root/.tmp, syncs it, renames it into place and
//     syncs the directory, so a reader sees the old object or the new one,
//     and a Put that returned is durable. Keys under ".tmp" are refused.
//   - S3 (NewS3): a bucket (and optional prefix) on any S3-compatible
//     service through minio-go. NewS3 checks within a few seconds that the
//     endpoint answers, the credentials are accepted and the bucket exists
//     (or creates it), and refuses to start otherwise.
//   - Memory (NewMemory): for tests, with an optional capacity.
//
// ParseBackendURL turns dir:///abs/path or
// s3://[KEY:SECRET@]host:port/bucket[/prefix]?tls=&region=&create=&path_style=
// into a BackendSpec and OpenBackend opens it. A secret containing ':', '@'
// or '/' must be percent-encoded in the URL; the environment
// ($DFS_S3_ACCESS_KEY, $DFS_S3_SECRET_KEY) avoids that and keeps the secret
// out of process listings.
//
// Optional abilities are separate interfaces found by type assertion:
// SpaceReporter (Dir, Memory; S3 has no fixed size).
//
// Conformance: package store/storetest runs one suite against every backend;
// store/s3test provides a fresh bucket on a MinIO server for it; package
// store/errstore wraps a backend to inject failures.
//
// # Keys
//
// Keys are relative slash-separated paths of [A-Za-z0-9._-] checked by
// ValidateKey before any backend touches disk or network, so no key can
// escape a Dir's root. List returns keys in lexical byte order in every
// backend.
//
// # Chunks
//
// A chunk is immutable and named by the BLAKE3-256 hash of its bytes
// (ChunkID), stored under ChunkID.Key. ChunkStore.Put hashes, skips the
// upload when the backend already holds the object (identical chunks are
// stored once), and uploads otherwise. ChunkStore.Get looks in an in-memory
// LRU, then an optional on-disk LRU (for remote backends), then the backend;
// every byte read from disk or backend is verified against the ID before it
// is returned or cached, so no cache ever needs invalidating and corrupt
// bytes are never returned: a mismatch fails with ErrCorrupt and is logged at
// Error level (a corrupt disk-cache file is deleted and the chunk refetched).
// Slices returned by Get are shared and must not be modified.
//
// # Concurrency
//
// Every Backend and the ChunkStore are safe for concurrent use. Concurrent
// Gets of one chunk share one load, which runs until the last waiting caller
// gives up. ChunkStore.Close waits for the loads in flight; it does not close
// the Backend, which belongs to whoever opened it.
//
// # Errors
//
// Backends translate their own errors once, at their edge, into the
// sentinels ErrNotFound, ErrInvalidKey, ErrNoSpace (ENOSPC, EDQUOT, S3
// storage full or quota), ErrShortWrite (Put given a reader whose length is
// not the size; nothing is stored), ErrClosed, ErrUnreachable (network),
// ErrAuth (credentials refused) and ErrBucketMissing, wrapped with the
// operation and key; test them with errors.Is. A cancelled ctx gives an
// error wrapping ctx.Err(). Bad arguments give errors, never panics. S3
// secrets never appear in errors, String, %#v or logs.
package store

// Command dfsd is the dfs daemon.
//
//	dfsd --data DIR [--mount DIR] [--backend URL] [flags]
//
// It keeps the namespace in a badger store under DATA/meta, stores file
// chunks in the backend (by default the local directory DATA/chunks, or an
// S3 bucket), and mounts the filesystem at --mount through FUSE. It runs in
// the foreground and logs with log/slog to stderr.
//
// Start-up refuses, with one line on stderr and exit status 1, anything it
// cannot serve safely: a data directory locked by another dfsd (an flock on
// DATA/LOCK), a mountpoint that is missing, not empty or already mounted, an
// unreachable S3 endpoint, rejected credentials, a missing bucket without
// create=true, a chunk size or backend that differs from the one the
// filesystem was created with (DATA/format.json). Malformed flags or config files exit 2.
//
// SIGINT and SIGTERM unmount the filesystem, flush every open file and
// close the stores; an unmount from outside (fusermount3 -u) does the same.
// Everything committed survives kill -9: the metadata store writes through
// to the OS before a commit is acknowledged.
package main

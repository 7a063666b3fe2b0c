// Package fstest runs real dfs mounts for tests: a dfsd subprocess (never
// the test process itself, so a wedged filesystem cannot hang the test
// binary) on a temporary data directory and mountpoint.
//
// Start waits until the kernel shows the mount and registers a cleanup that
// stops the daemon and unmounts (fusermount3 -u, then umount -l), so a
// failed test never leaves a dead mount behind. Kill9 simulates a crash;
// StartAgain and Restart bring the same filesystem back.
//
// Mount tests are skipped in -short mode, without /dev/fuse, or when not
// root. The dfsd binary comes from $DFS_TEST_DFSD (the Makefile builds one)
// or is built once per test process.
package fstest

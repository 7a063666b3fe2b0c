// Command dfsctl inspects and controls dfs.
//
//	dfsctl [FLAGS] COMMAND [FLAGS]
//
// status, nodes, df and alerts ask a dfsd for the cluster as it sees it,
// through the control API (package cluster/control): by default on the
// unix socket DATA/dfsd.sock of the local dfsd (--data, else $DFS_DATA,
// else ./data when ./data/dfsd.sock exists, else /var/lib/dfs), which only
// root and the user dfsd runs as may use; with --addr HOST:PORT, on a
// node's HTTP address, every request signed with the cluster key
// (--cluster-key-file or $DFS_CLUSTER_KEY_FILE). --json prints what the API
// answers instead of text (df: its own summary of it). df adds up only the
// alive nodes that report a capacity, and says which it left out.
//
// bench (bench.go) needs no daemon: it measures any directory, a dfs mount
// or a local filesystem, as juicefs bench does. In a new directory
// DIR/dfsctl-bench-NNN, each of -p workers writes its own big files one
// block at a time and reads them back, then writes, reads and stats its own
// small files; every phase's workers start together and the phase lasts
// until the last one ends. It prints each phase's throughput and the
// average and 99th percentile latency of an op (a block's write or read
// call for big files; open to close, or a stat, for small files), and
// removes the directory, also after an error or SIGINT, SIGTERM or SIGHUP
// (a second signal kills it at once). Writes end with close and no fsync,
// as in juicefs bench: close is where dfs stores a file, but a local
// filesystem may keep the data in memory. Reads may come from the page
// cache: --drop-caches (root only, opt-in because it affects the whole
// machine) runs syncfs on the directory and writes 3 to
// /proc/sys/vm/drop_caches before each read and stat phase. Every block
// is random but for a 16-byte tag of worker, file and offset, which reads
// check, so dfs cannot deduplicate blocks and a misplaced block is caught.
//
// completion prints a bash, zsh or fish script generated from the command
// table and the commands' flag sets; keygen makes a cluster key; version
// and help need no daemon.
//
// Global flags go before or after the command. Exit status: 0 success; 1
// when status finds the cluster degraded, or when bench fails on an I/O
// error or is interrupted; 2 for a usage error, a dfsd that cannot be
// reached (with one line on stderr that says what was tried) or any other
// error.
//
// Commands are a table (commands in main.go): a new one is one entry with
// its flags and its run function. Their flags' usage strings are only read
// by completion and by commands that print their own help (bench --help);
// the global usage is flagsUsage, which completion also reads for the
// global flags' descriptions. testdata/help.golden holds every --help
// output; go test -run Help -update rewrites it.
package main

// Command dfsctl inspects and controls dfs.
//
//	dfsctl [FLAGS] COMMAND [FLAGS]
//
// status, nodes and alerts ask a dfsd for the cluster as it sees it,
// through the control API (package cluster/control): by default on the
// unix socket DATA/dfsd.sock of the local dfsd (--data, else $DFS_DATA,
// else ./data when ./data/dfsd.sock exists, else /var/lib/dfs), which only
// root and the user dfsd runs as may use; with --addr HOST:PORT, on a
// node's HTTP address, every request signed with the cluster key
// (--cluster-key-file or $DFS_CLUSTER_KEY_FILE). --json prints what the API
// answers instead of text. keygen makes a cluster key; version and help
// need no daemon.
//
// Global flags go before or after the command. Exit status: 0 success; 1
// when status finds the cluster degraded; 2 for a usage error, a dfsd that
// cannot be reached (with one line on stderr that says what was tried) or
// any other error.
//
// Commands are a table (commands in main.go): a new one is one entry with
// its flags and its run function.
package main

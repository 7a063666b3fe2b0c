// Command dfsctl controls and inspects dfs. In this version it prints its
// version and makes cluster keys (dfsctl keygen); status, nodes and alerts
// come when dfsd serves its control socket.
package main

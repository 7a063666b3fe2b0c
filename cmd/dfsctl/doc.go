// Command dfsctl controls and inspects dfs. In this version it only prints
// its version; status, nodes and alerts come with the cluster.
package main

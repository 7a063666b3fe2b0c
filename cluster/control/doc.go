// Package control is dfsd's local control API and its client: a small JSON
// API that tells an operator (through dfsctl) how the cluster looks from
// one node: its health, its members, its alerts.
//
// # Routes
//
//	GET /v1/status          Status: cluster name, this node, health and
//	                        why it is degraded, every member, open alerts
//	GET /v1/alerts?n=N      AlertList: the open alerts and the last N alert
//	                        changes (firing and resolved); N from 1 to 1000,
//	                        default 50
//	GET /v1/info?ino=N      FileInfo: a file's chunks and who holds them
//	GET /v1/replication     ClusterReplication: the Raft leader's last sum
//	                        of every node's replication health
//	GET /v1/replication/local
//	                        NodeReplication: this node's share of it
//	GET /v1/held?ino=N      Held: whether this node has inode N open
//	POST /v1/passes/NAME    run a keeper pass (repair, scrub) now; the answer
//	                        is JSON lines: progress (PassLine), then the report
//	POST /v1/nodes/NAME/ACTION[?force=1]
//	                        NodeResult: drain, undrain or remove a node of the
//	                        placement layout; 409 with the reason when refused
//
// Answers are JSON (Content-Type application/json). Errors are JSON too,
// {"error":"one sentence"}: 400 for a bad n, 401 (or 503 when the replay
// cache is full) for a refused signature, 404 for another path, 405 for
// another method, 409 for a refused node action. Request bodies are never
// read.
//
// # Security
//
// dfsd serves the API in two ways.
//
// On a unix socket, DATA/dfsd.sock (SocketPath), with mode 0600: only the
// user dfsd runs as, and root, may connect, whatever the umask (dfsd runs
// with umask 0). Listen sets the mode on the socket before binding it, so
// it is never connectable by others, not even briefly. Requests on the
// socket need no signature (HandlerConfig.Key nil): the file mode is the
// access control.
//
// Over HTTP, beside the peer API (dfsd --http-addr), where every request
// must be signed with the cluster key exactly as peer requests are
// (peer.Sign, checked by a peer.Verifier: HMAC-SHA256 over method,
// request-URI, timestamp and nonce; a ±30 s clock window; no replays).
// Refusals are answered 401 and logged at Warn with the remote address,
// method, path and reason, never the key. Answers are not signed or
// encrypted: the status is meant for the cluster's own network.
//
// # Client
//
// Client calls either the socket or an address, with a timeout (5 s by
// default). Its errors are sentences for an operator: a daemon that cannot
// be reached gives an error wrapping ErrUnreachable that names the socket
// or address tried and why ("cannot reach dfsd at unix socket
// /var/lib/dfs/dfsd.sock: no such file (is dfsd running with --data
// /var/lib/dfs?)"); a refused signature wraps ErrUnauthorized; other
// errors carry the server's sentence.
package control

// Package alerts records, logs, keeps and pushes dfs alerts: a peer
// suspected, dead, gone or back; the Raft leader or quorum lost; chunks
// under-replicated; a corrupt replica; a backend full or not answering.
// It imports nothing else of dfs; package cluster feeds it and cmd/dfsd
// configures it.
//
// # Alerts and events
//
// An alert is identified by its Kind and the Node it is about. An Event is
// one change of an alert: a firing event opens the alert, a resolved event
// closes it. A firing event for an alert already open, or a resolved event
// for one that is not, is a duplicate: Manager.Report drops it and returns
// false. Every node runs a Manager and reports what it sees, so each node
// logs one structured line per state change (Warn "alert firing", Info
// "alert resolved", with kind, severity, node, reporter, cluster, id and
// details) and keeps the open alerts and the last Config.MaxRecent changes
// (Manager.Open, Manager.Recent) for dfsctl status and dfsctl alerts.
//
// When Config.StateFile is set, that state is saved there after every change
// (in the background, written to a temporary file and renamed into place)
// and loaded by New, so open alerts survive a restart and can be resolved
// after it. A corrupt state file is logged, renamed to StateFile+".corrupt"
// and ignored.
//
// # Webhooks
//
// Cluster-wide alerts are pushed once, by one node: the one whose Manager
// was told so with SetSender(true). Which node that is (the lowest-named
// alive node, later the Raft leader) is the caller's decision. The sender
// queues every state change for each URL in Config.Webhooks and POSTs it:
//
//	POST <url>
//	Content-Type: application/json
//	X-Dfs-Event-Id: <the event id, the same on every retry>
//	X-Dfs-Timestamp: <Unix seconds of this attempt>
//	X-Dfs-Signature: sha256=<hex HMAC-SHA256(key, timestamp + "." + body)>
//
//	{"id":"…","kind":"peer_dead","severity":"critical","node":"n2",
//	 "reporter":"n1","cluster":"prod","status":"firing",
//	 "time":"2026-11-29T16:31:02.123456789Z","details":{"addr":"…"}}
//
// status is "firing" or "resolved"; time is RFC 3339 with nanoseconds, in
// UTC; details is omitted when empty. A firing and its resolution have
// different ids. The key is Config.Key (see DeriveKey). A receiver should
// check the signature over the raw body and the timestamp against its own
// clock (VerifyRequest does both), and drop ids it has already seen: a
// delivery whose reply was lost is sent again, and a change of sender may
// send an event twice.
//
// A 2xx reply is success. Network errors, timeouts (Config.Timeout per
// attempt), 429 and 5xx replies are retried up to Config.Attempts times
// with exponential backoff and jitter (honouring Retry-After up to
// BackoffMax); other replies, redirects included, are not retried. Each
// failed attempt is logged at Warn and an abandoned delivery at Error.
// Logs show a webhook as its scheme and host only, since webhook URLs
// often carry a secret token.
//
// # Concurrency
//
// Report, Fire, Resolve, SetSender, Sender, Open and Recent are safe for
// concurrent use. Report never blocks on I/O: it takes a mutex held only
// for in-memory work, appends to a bounded queue per webhook (dropping,
// and logging, that queue's oldest delivery when it is full) and wakes the
// background goroutines without waiting for them. It may therefore be
// called from memberlist callbacks and other code that must not block; the
// only I/O in the caller's goroutine is the configured slog handler's.
//
// Run starts one delivery goroutine per webhook, so a webhook that hangs
// holds up only its own queue, and one goroutine that saves the state
// file; it returns when its context ends or Close is called. Events
// reported before Run are queued and delivered once it runs. Close is
// idempotent: it stops Run, cancels deliveries in flight, waits for every
// goroutine, saves the state and logs how many deliveries it dropped.
package alerts

// Package statuspage is dfsd's read-only status web page: the cluster as
// one node sees it (health and why it is degraded, every member with its
// state, mode, address, zone, capacity and when it was last heard from,
// the Raft group, the open alerts), in a browser, refreshed every 2 s.
//
// dfsd serves it on its HTTP address (--http-addr) beside the peer API,
// the signed control API (/v1/) and /metrics: open http://HTTP-ADDR/.
//
// # Routes
//
//	GET /                 the page (HTML)
//	GET /ui/app.js        its script
//	GET /ui/style.css     its style
//	GET /ui/status.json   control.Status as JSON, Cache-Control: no-store
//
// HEAD is answered too; other methods get 405 (the page changes nothing),
// other paths 404, both as one line of text. The page, script and style
// are embedded files (go:embed, no build step), the same for every
// request: the server never puts data in markup. The script fetches
// ui/status.json (a relative URL, so a reverse proxy may serve the page
// under a prefix) every 2 s after the previous answer, and puts what it
// gets into the page with textContent and setAttribute only, never as
// markup, so a name like "<script>" shows as that text. When a fetch fails
// the page keeps the last status, marks it stale and says "cannot reach
// dfsd"; a 403 (the token changed) stops the refreshes, since retrying
// cannot help.
//
// Every answer carries Content-Security-Policy: default-src 'self' (no
// inline script or style, nothing from another origin: no CDN, no web
// font), frame-ancestors 'none', X-Content-Type-Options: nosniff and
// Referrer-Policy: no-referrer.
//
// # Who may read it
//
// The status names every node, its addresses and its load: it is not for
// everyone who can reach the HTTP address. The rules, in order:
//
//   - A request from loopback (RemoteAddr in 127.0.0.0/8 or ::1) is
//     served, with or without a token, as long as its Host header is an
//     IP address, localhost or a name under .localhost. That refuses DNS
//     rebinding: a web page whose own name is made to resolve to
//     127.0.0.1 sends that name as Host, so it cannot read the status
//     through a browser running on a dfsd host. Open the page from the
//     host as http://127.0.0.1:PORT/ or http://localhost:PORT/ (an SSH
//     tunnel, ssh -L 7948:localhost:7948 HOST, works the same way).
//   - Without Config.Token, every other request gets 403 and a line
//     saying to start dfsd with --status-token (or $DFS_STATUS_TOKEN).
//   - With a token, other requests must prove it: the header
//     "Authorization: Bearer TOKEN" (for scripts: curl -H ...), or
//     ?token=TOKEN on the page's URL. A page answered for ?token= sets a
//     cookie (HttpOnly, SameSite=Strict, Path=/, Secure over TLS, for the
//     browser session) that the page's own requests then carry; its
//     script removes the token from the address bar and history. The
//     cookie holds an HMAC of the token, not the token. Tokens and cookies
//     are compared in constant time (tokens as SHA-256 sums, so that the
//     time does not depend on a guess's length either). A wrong token or
//     a stale cookie gets 403 and is logged at Warn with the remote
//     address (never the token); a request with none is logged at Debug.
//
// Loopback stays allowed with a token because whoever is on the host can
// read the token from dfsd's configuration anyway. One consequence: a
// reverse proxy on the same host makes every request look local; put one
// in front only with the page behind the proxy's own access control.
//
// The token is 16 to 256 printable ASCII characters without spaces (for
// example openssl rand -hex 16); Handler refuses others. dfsd serves
// plain HTTP, so on an untrusted network the token and the status can be
// read on the wire, as the rest of the HTTP API's answers can.
//
// # Concurrency
//
// The handler is safe for concurrent use. It calls Config.Source's Status
// once per GET /ui/status.json, from the HTTP server's goroutines (see
// control.Source); it holds no other state.
package statuspage

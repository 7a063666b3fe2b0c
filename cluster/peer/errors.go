package peer

import "errors"

// Errors of the peer API, besides store's sentinels (store.ErrNotFound,
// store.ErrNoSpace, store.ErrCorrupt, store.ErrUnreachable) which the Client
// returns for the matching answers. All are wrapped with context; test them
// with errors.Is.
var (
	// ErrUnauthorized: the request was refused as unsigned, badly signed
	// (a wrong cluster key), outside the clock-skew window, or replayed
	// (HTTP 401).
	ErrUnauthorized = errors.New("peer request not authorized")
	// ErrBadRequest: the peer refused the request as malformed: an invalid
	// chunk ID, a body that does not match its signed hash or its chunk ID,
	// a body too large (HTTP 400, 413, 416).
	ErrBadRequest = errors.New("peer refused a bad request")
	// ErrUnavailable: the peer cannot serve the request now (its backend is
	// closed or unreachable, or its replay cache is full); retry later
	// (HTTP 503).
	ErrUnavailable = errors.New("peer unavailable")
	// ErrBodyHash: a request body does not hash (SHA-256) to the value in
	// its signed X-Dfs-Content-Sha256 header.
	ErrBodyHash = errors.New("body does not match its signed sha256")
)

package control

import "errors"

// Errors of the control API. They are wrapped with context; test them with
// errors.Is.
var (
	// ErrUnreachable: the Client could not reach dfsd (no socket, nothing
	// listening, no answer in time, a connection cut off).
	ErrUnreachable = errors.New("dfsd unreachable")
	// ErrUnauthorized: dfsd refused a request over HTTP as not signed with
	// its cluster key (or outside the clock-skew window, or replayed).
	ErrUnauthorized = errors.New("cluster key refused")
	// ErrSocketInUse: Listen found another process serving the socket.
	ErrSocketInUse = errors.New("control socket in use")
)

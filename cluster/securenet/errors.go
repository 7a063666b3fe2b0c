package securenet

import (
	"errors"
	"strings"
)

// Errors of the package. They are wrapped with context; test them with
// errors.Is.
var (
	// ErrHandshake: the handshake failed. The peer does not hold the
	// cluster key (the usual cause), uses another purpose or protocol
	// version, is not a securenet endpoint, or did not finish in time
	// (the error then also wraps os.ErrDeadlineExceeded, or the
	// context's error).
	ErrHandshake = errors.New("securenet handshake failed")
	// ErrBadFrame: a frame received could not be authenticated or has a
	// length out of range: the stream was altered on the way (or the
	// peer is broken). The connection is closed; no byte of the frame is
	// returned.
	ErrBadFrame = errors.New("securenet frame failed authentication")
	// ErrExhausted: a direction of the connection has used all its 2^64-1
	// frame counters; the connection is closed. Dial again.
	ErrExhausted = errors.New("securenet frame counter exhausted")
)

// handshakeError is a failed handshake: the peer's address, why, and the
// underlying error if any (a timeout, a network error, a context's
// error). It wraps ErrHandshake and the cause.
type handshakeError struct {
	peer   string
	reason string
	cause  error
}

func (e *handshakeError) Error() string {
	var b strings.Builder
	b.WriteString(ErrHandshake.Error())
	b.WriteString(" with ")
	b.WriteString(e.peer)
	b.WriteString(": ")
	b.WriteString(e.reason)
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

func (e *handshakeError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrHandshake}
	}
	return []error{ErrHandshake, e.cause}
}

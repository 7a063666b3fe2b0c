package store

import "errors"

// Errors of backends that talk to a remote service, returned by NewS3 (and
// OpenBackend) when they refuse to start, and by their methods when the
// service stops answering or refuses them. Like the errors in backend.go they
// are wrapped with context and tested with errors.Is.
var (
	// ErrUnreachable: the backend's endpoint does not answer (connection
	// refused, DNS failure, timeout).
	ErrUnreachable = errors.New("backend unreachable")
	// ErrAuth: the backend rejected the credentials or denied access.
	ErrAuth = errors.New("backend refused the credentials")
	// ErrBucketMissing: the S3 bucket does not exist (and was not to be
	// created).
	ErrBucketMissing = errors.New("bucket does not exist")
)

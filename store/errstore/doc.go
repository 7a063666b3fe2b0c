// Package errstore wraps a store.Backend to fail on command, for testing how
// callers handle a full disk, an I/O error or an unreachable backend (like
// pebble's vfs/errorfs).
//
//	es := errstore.New(store.NewMemory())
//	es.FailNext(errstore.OpPut, store.ErrNoSpace, 1) // the next Put fails
//	es.FailAlways(errstore.OpGet, syscall.EIO)        // every Get fails
//	es.Reset()                                        // back to pass-through
//
// An injected failure does not reach the wrapped backend: a failed Put
// stores nothing. Errors are returned wrapped, so errors.Is finds the
// injected one. A Store is safe for concurrent use.
package errstore

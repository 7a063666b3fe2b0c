package errstore

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/dfsproject/dfs/store"
)

// Op names a Backend method.
type Op string

// The operations that can be made to fail.
const (
	OpGet    Op = "get"
	OpPut    Op = "put"
	OpStat   Op = "stat"
	OpDelete Op = "delete"
	OpList   Op = "list"
)

type rule struct {
	err    error
	left   int // failures left, unless always
	always bool
}

// Store is a Backend that passes calls to another one, failing those it was
// told to fail and counting them all.
type Store struct {
	b     store.Backend
	mu    sync.Mutex
	rules map[Op]*rule
	calls map[Op]int
}

var _ store.Backend = (*Store)(nil)

// New wraps b.
func New(b store.Backend) *Store {
	return &Store{b: b, rules: make(map[Op]*rule), calls: make(map[Op]int)}
}

// Unwrap returns the wrapped backend.
func (s *Store) Unwrap() store.Backend { return s.b }

// FailNext makes the next n calls of op fail with err (replacing any earlier
// rule for op). n <= 0 clears the rule.
func (s *Store) FailNext(op Op, err error, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.rules, op)
		return
	}
	s.rules[op] = &rule{err: err, left: n}
}

// FailAlways makes every call of op fail with err until Reset.
func (s *Store) FailAlways(op Op, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules[op] = &rule{err: err, always: true}
}

// Reset removes every failure rule and zeroes the call counts.
func (s *Store) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = make(map[Op]*rule)
	s.calls = make(map[Op]int)
}

// Calls returns how many times op was called (failed calls included) since
// New or Reset.
func (s *Store) Calls(op Op) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// enter counts a call of op and returns the error to inject, if any.
func (s *Store) enter(op Op, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	r, ok := s.rules[op]
	if !ok {
		return nil
	}
	if !r.always {
		r.left--
		if r.left <= 0 {
			delete(s.rules, op)
		}
	}
	return fmt.Errorf("errstore: injected %s %s: %w", op, key, r.err)
}

// Get implements store.Backend.
func (s *Store) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := s.enter(OpGet, key); err != nil {
		return nil, err
	}
	return s.b.Get(ctx, key, off, length)
}

// Put implements store.Backend. An injected failure does not read r.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := s.enter(OpPut, key); err != nil {
		return err
	}
	return s.b.Put(ctx, key, r, size)
}

// Stat implements store.Backend.
func (s *Store) Stat(ctx context.Context, key string) (store.ObjectInfo, error) {
	if err := s.enter(OpStat, key); err != nil {
		return store.ObjectInfo{}, err
	}
	return s.b.Stat(ctx, key)
}

// Delete implements store.Backend.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.enter(OpDelete, key); err != nil {
		return err
	}
	return s.b.Delete(ctx, key)
}

// List implements store.Backend.
func (s *Store) List(ctx context.Context, prefix string, fn func(store.ObjectInfo) error) error {
	if err := s.enter(OpList, prefix); err != nil {
		return err
	}
	return s.b.List(ctx, prefix, fn)
}

// Close closes the wrapped backend.
func (s *Store) Close() error { return s.b.Close() }

// Space passes through to the wrapped backend when it is a
// store.SpaceReporter, and reports zero otherwise.
func (s *Store) Space(ctx context.Context) (store.Space, error) {
	if sr, ok := s.b.(store.SpaceReporter); ok {
		return sr.Space(ctx)
	}
	return store.Space{}, nil
}

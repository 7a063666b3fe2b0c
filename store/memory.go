package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Memory is a Backend that keeps objects in memory, for tests. An optional
// capacity makes it fail with ErrNoSpace like a full disk.
type Memory struct {
	mu       sync.RWMutex
	objs     map[string]memObject
	used     int64
	capacity int64 // 0: unlimited
	closed   bool
}

type memObject struct {
	data []byte // never modified once stored
	mod  time.Time
}

var (
	_ Backend       = (*Memory)(nil)
	_ SpaceReporter = (*Memory)(nil)
)

// NewMemory returns an empty, unlimited memory backend.
func NewMemory() *Memory {
	return &Memory{objs: make(map[string]memObject)}
}

// SetCapacity limits the bytes the backend holds; a Put that would go beyond
// it fails with ErrNoSpace. 0 (or less) means unlimited. Objects already
// stored are kept even when they exceed a smaller new capacity.
func (m *Memory) SetCapacity(bytes int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacity = max(bytes, 0)
}

func (m *Memory) check(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Get implements Backend.
func (m *Memory) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	if err := m.check(ctx, "get", key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("get %s: negative offset %d", key, off)
	}
	m.mu.RLock()
	o, ok := m.objs[key]
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("get %s: %w", key, ErrClosed)
	}
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	data := o.data[min(off, int64(len(o.data))):]
	if length >= 0 && length < int64(len(data)) {
		data = data[:length]
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Put implements Backend.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := m.check(ctx, "put", key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: negative size %d", key, size)
	}
	if m.isClosed() {
		return fmt.Errorf("put %s: %w", key, ErrClosed)
	}
	if err := m.reserve(key, size); err != nil {
		return err
	}
	data, err := io.ReadAll(newExactReader(ctx, r, size))
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("put %s: %w", key, ErrClosed)
	}
	if err := m.fitsLocked(key, size); err != nil {
		return err
	}
	m.used += size - int64(len(m.objs[key].data))
	m.objs[key] = memObject{data: data, mod: time.Now()}
	return nil
}

// reserve fails early, before reading r, when size cannot fit.
func (m *Memory) reserve(key string, size int64) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.fitsLocked(key, size)
}

func (m *Memory) fitsLocked(key string, size int64) error {
	if m.capacity == 0 {
		return nil
	}
	if m.used-int64(len(m.objs[key].data))+size > m.capacity {
		return fmt.Errorf("put %s: %d bytes: %w (%d of %d bytes used)", key, size, ErrNoSpace, m.used, m.capacity)
	}
	return nil
}

// Stat implements Backend.
func (m *Memory) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	if err := m.check(ctx, "stat", key); err != nil {
		return ObjectInfo{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrClosed)
	}
	o, ok := m.objs[key]
	if !ok {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	return ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.mod}, nil
}

// Delete implements Backend.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := m.check(ctx, "delete", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("delete %s: %w", key, ErrClosed)
	}
	m.used -= int64(len(m.objs[key].data))
	delete(m.objs, key)
	return nil
}

// List implements Backend. fn is called without the lock held, on a
// snapshot taken when List starts.
func (m *Memory) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %s: %w", prefix, err)
	}
	if err := validPrefix(prefix); err != nil {
		return fmt.Errorf("list: %w", err)
	}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return fmt.Errorf("list %s: %w", prefix, ErrClosed)
	}
	var infos []ObjectInfo
	for k, o := range m.objs {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, ObjectInfo{Key: k, Size: int64(len(o.data)), ModTime: o.mod})
		}
	}
	m.mu.RUnlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Space implements SpaceReporter: Total is the capacity (0 when unlimited).
func (m *Memory) Space(ctx context.Context) (Space, error) {
	if err := ctx.Err(); err != nil {
		return Space{}, fmt.Errorf("space: %w", err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return Space{}, fmt.Errorf("space: %w", ErrClosed)
	}
	if m.capacity == 0 {
		return Space{}, nil
	}
	return Space{Total: uint64(m.capacity), Free: uint64(max(m.capacity-m.used, 0))}, nil
}

// Close implements Backend. The objects are dropped.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.objs = map[string]memObject{}
	m.used = 0
	return nil
}

func (m *Memory) isClosed() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.closed
}

package raftmeta

import (
	"encoding/binary"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// ErrKeyNotFound is returned (unwrapped) by Get for a key never Set.
// Its text has no package prefix because raft recognizes a missing
// stable key by the message "not found" (as its InmemStore and
// raft-boltdb return), not by identity.
var ErrKeyNotFound = errors.New("not found")

// Set stores val under key, synced.
func (s *LogStore) Set(key, val []byte) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(stableKey(key), val)
	})
	if err != nil {
		return fmt.Errorf("raftmeta: set %q: %w", key, err)
	}
	return nil
}

// Get returns the value stored under key (an empty, non-nil slice for an
// empty value), or ErrKeyNotFound.
func (s *LogStore) Get(key []byte) ([]byte, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(stableKey(key))
		if err != nil {
			return err
		}
		val, err = item.ValueCopy(make([]byte, 0, item.ValueSize()))
		return err
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil, ErrKeyNotFound
	case err != nil:
		return nil, fmt.Errorf("raftmeta: get %q: %w", key, err)
	}
	return val, nil
}

// SetUint64 stores val under key as 8 bytes, big-endian.
func (s *LogStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the value SetUint64 stored under key, or 0 and no
// error for a key never set, as raft's StableStore documents and its
// InmemStore does (raft accepts the "not found" error as well).
func (s *LogStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return 0, nil
	case err != nil:
		return 0, err
	case len(v) != 8:
		return 0, fmt.Errorf("%w: stable key %q holds %d bytes, not a uint64", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

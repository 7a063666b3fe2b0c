package meta

import (
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/dfsproject/dfs/store"
)

// Chunk slots and reference counts. Every slot holds one reference on its
// chunk, and a slot changes in the same transaction as the counts it
// affects, so each slot operation is idempotent on its own: a split
// command that is re-run after a crash finds the slots it already changed
// in their final form and leaves them (and the counts) alone.

// getRef returns the reference count of id and, when it is 0, since when.
func (a *applier) getRef(id store.ChunkID) (count uint64, since int64, found bool, err error) {
	v, found, err := a.get(refKey(id))
	if err != nil {
		return 0, 0, false, fmt.Errorf("get reference of %s: %w", id, err)
	}
	if !found {
		return 0, 0, false, nil
	}
	count, since, err = decodeRef(v)
	if err != nil {
		return 0, 0, false, fmt.Errorf("reference of %s: %w", id, err)
	}
	return count, since, true, nil
}

func (a *applier) incRef(id store.ChunkID) error {
	count, since, found, err := a.getRef(id)
	if err != nil {
		return err
	}
	if found && count == 0 {
		if err := a.txn.Delete(zeroKey(since, id)); err != nil {
			return fmt.Errorf("delete zero-reference record of %s: %w", id, err)
		}
	}
	if err := a.txn.Set(refKey(id), encodeRef(count+1, 0)); err != nil {
		return fmt.Errorf("write reference of %s: %w", id, err)
	}
	return nil
}

func (a *applier) decRef(id store.ChunkID) error {
	count, _, found, err := a.getRef(id)
	if err != nil {
		return err
	}
	if !found || count == 0 {
		// A slot without its reference: a bug or damage. Leave the
		// count alone rather than fail every later command on it.
		a.f.log.Error("meta: chunk reference count underflow", "chunk", id.String())
		return nil
	}
	count--
	since := int64(0)
	if count == 0 {
		since = a.now
		if err := a.txn.Set(zeroKey(since, id), nil); err != nil {
			return fmt.Errorf("write zero-reference record of %s: %w", id, err)
		}
		a.zeroed = append(a.zeroed, id)
	}
	if err := a.txn.Set(refKey(id), encodeRef(count, since)); err != nil {
		return fmt.Errorf("write reference of %s: %w", id, err)
	}
	return nil
}

// setSlot sets slot r.Index of ino to r (a zero ID clears it).
func (a *applier) setSlot(ino Ino, r ChunkRef) error {
	if err := a.count(1); err != nil {
		return err
	}
	key := slotKey(ino, r.Index)
	v, found, err := a.get(key)
	if err != nil {
		return fmt.Errorf("get slot %d of %d: %w", r.Index, ino, err)
	}
	var old store.ChunkID
	var oldLen uint32
	if found {
		if old, oldLen, err = decodeSlot(v); err != nil {
			return fmt.Errorf("slot %d of %d: %w", r.Index, ino, err)
		}
	}
	switch {
	case r.ID.IsZero():
		if !found {
			return nil
		}
		if err := a.txn.Delete(key); err != nil {
			return fmt.Errorf("delete slot %d of %d: %w", r.Index, ino, err)
		}
		return a.decRef(old)
	case found && old == r.ID:
		if oldLen == r.Len {
			return nil
		}
		return a.txn.Set(key, encodeSlot(r.ID, r.Len))
	}
	// Take the new reference before dropping the old one.
	if err := a.incRef(r.ID); err != nil {
		return err
	}
	if err := a.txn.Set(key, encodeSlot(r.ID, r.Len)); err != nil {
		return fmt.Errorf("write slot %d of %d: %w", r.Index, ino, err)
	}
	if found {
		return a.decRef(old)
	}
	return nil
}

// dropSlots deletes ino's slots from index from on, dropping their
// references: at most max of them (0: all, subject to the operation
// limit). It returns how many it deleted.
func (a *applier) dropSlots(ino Ino, from uint64, max int) (int, error) {
	type slot struct {
		key []byte
		id  store.ChunkID
	}
	var slots []slot
	it := a.txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: slotPrefix(ino)})
	for it.Seek(slotKey(ino, from)); it.Valid() && (max == 0 || len(slots) < max); it.Next() {
		if err := a.count(1); err != nil {
			it.Close()
			return 0, err
		}
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err == nil {
			var id store.ChunkID
			if id, _, err = decodeSlot(v); err == nil {
				slots = append(slots, slot{item.KeyCopy(nil), id})
				continue
			}
		}
		it.Close()
		return 0, fmt.Errorf("slot of %d: %w", ino, err)
	}
	it.Close()
	for _, s := range slots {
		if err := a.txn.Delete(s.key); err != nil {
			return 0, fmt.Errorf("delete slot of %d: %w", ino, err)
		}
		if err := a.decRef(s.id); err != nil {
			return 0, err
		}
	}
	return len(slots), nil
}

// dropXattrs deletes up to max (0: all) of ino's xattrs and returns how
// many it deleted.
func (a *applier) dropXattrs(ino Ino, max int) (int, error) {
	var keys [][]byte
	it := a.txn.NewIterator(badger.IteratorOptions{Prefix: xattrPrefix(ino)})
	for it.Rewind(); it.Valid() && (max == 0 || len(keys) < max); it.Next() {
		if err := a.count(1); err != nil {
			it.Close()
			return 0, err
		}
		keys = append(keys, it.Item().KeyCopy(nil))
	}
	it.Close()
	for _, k := range keys {
		if err := a.txn.Delete(k); err != nil {
			return 0, fmt.Errorf("delete xattr of %d: %w", ino, err)
		}
	}
	return len(keys), nil
}

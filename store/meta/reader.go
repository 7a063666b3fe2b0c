package meta

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/dfsproject/dfs/store"
)

var _ Reader = (*FSM)(nil)

// Each Reader method runs in one read-only transaction, so it sees the
// state between two commands. POSIX conditions come back as bare
// syscall.Errno values; storage failures as wrapped errors.

func getValue(txn *badger.Txn, key []byte) ([]byte, bool, error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := item.ValueCopy(nil)
	return v, err == nil, err
}

// readInode returns inode ino or ENOENT.
func readInode(txn *badger.Txn, ino Ino) (*inode, error) {
	v, found, err := getValue(txn, inodeKey(ino))
	if err != nil {
		return nil, fmt.Errorf("meta: get inode %d: %w", ino, err)
	}
	if !found {
		return nil, syscall.ENOENT
	}
	n, err := decodeInode(v)
	if err != nil {
		return nil, fmt.Errorf("meta: inode %d: %w", ino, err)
	}
	return n, nil
}

func (f *FSM) readView(ctx context.Context, fn func(txn *badger.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return f.view(fn)
}

// Lookup returns the attributes of name in directory parent.
func (f *FSM) Lookup(ctx context.Context, parent Ino, name string) (Attr, error) {
	var at Attr
	if e := validName(name); e != 0 {
		return at, e
	}
	err := f.readView(ctx, func(txn *badger.Txn) error {
		p, err := readInode(txn, parent)
		if err != nil {
			return err
		}
		if !p.isDir() {
			return syscall.ENOTDIR
		}
		v, found, err := getValue(txn, direntKey(parent, name))
		if err != nil {
			return fmt.Errorf("meta: lookup %q in %d: %w", name, parent, err)
		}
		if !found {
			return syscall.ENOENT
		}
		ino, _, err := decodeDirent(v)
		if err != nil {
			return fmt.Errorf("meta: entry %q of %d: %w", name, parent, err)
		}
		n, err := readInode(txn, ino)
		if err != nil {
			if errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("meta: entry %q of %d: %w: missing inode %d", name, parent, errCorrupt, ino)
			}
			return err
		}
		at = n.attr(ino)
		return nil
	})
	return at, err
}

// GetAttr returns the attributes of ino.
func (f *FSM) GetAttr(ctx context.Context, ino Ino) (Attr, error) {
	var at Attr
	err := f.readView(ctx, func(txn *badger.Txn) error {
		n, err := readInode(txn, ino)
		if err == nil {
			at = n.attr(ino)
		}
		return err
	})
	return at, err
}

// ReadDir returns the entries of directory ino sorted by name (byte
// order), without "." and "..". DirEntry.Mode holds the type bits.
func (f *FSM) ReadDir(ctx context.Context, ino Ino) ([]DirEntry, error) {
	var out []DirEntry
	err := f.readView(ctx, func(txn *badger.Txn) error {
		n, err := readInode(txn, ino)
		if err != nil {
			return err
		}
		if !n.isDir() {
			return syscall.ENOTDIR
		}
		prefix := direntPrefix(ino)
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			item := it.Item()
			name := string(item.Key()[len(prefix):])
			var child Ino
			var mode uint32
			err := item.Value(func(v []byte) error {
				var err error
				child, mode, err = decodeDirent(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("meta: entry %q of %d: %w", name, ino, err)
			}
			out = append(out, DirEntry{Name: name, Ino: child, Mode: mode})
		}
		return nil
	})
	return out, err
}

// Readlink returns a symlink's target (EINVAL for other inodes).
func (f *FSM) Readlink(ctx context.Context, ino Ino) (string, error) {
	var target string
	err := f.readView(ctx, func(txn *badger.Txn) error {
		n, err := readInode(txn, ino)
		if err != nil {
			return err
		}
		if !n.isSymlink() {
			return syscall.EINVAL
		}
		target = string(n.Data)
		return nil
	})
	return target, err
}

// Inline returns the stored bytes of an inline file (nil if the file is
// not inline). They may be fewer than the file's size (a file extended
// past MaxInlineLen by truncate): the rest reads as zeros.
func (f *FSM) Inline(ctx context.Context, ino Ino) ([]byte, error) {
	var data []byte
	err := f.readView(ctx, func(txn *badger.Txn) error {
		n, err := readInode(txn, ino)
		if err == nil && n.Inline {
			data = n.Data
			if data == nil {
				data = []byte{}
			}
		}
		return err
	})
	return data, err
}

// Chunks returns a regular file's chunk slots sorted by Index (none for
// an inline file). Directories give EISDIR, other inodes EINVAL.
func (f *FSM) Chunks(ctx context.Context, ino Ino) ([]ChunkRef, error) {
	var out []ChunkRef
	err := f.readView(ctx, func(txn *badger.Txn) error {
		n, err := readInode(txn, ino)
		switch {
		case err != nil:
			return err
		case n.isDir():
			return syscall.EISDIR
		case !n.isReg():
			return syscall.EINVAL
		}
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 100, Prefix: slotPrefix(ino)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			r := ChunkRef{Index: binary.BigEndian.Uint64(item.Key()[9:])}
			err := item.Value(func(v []byte) error {
				var err error
				r.ID, r.Len, err = decodeSlot(v)
				return err
			})
			if err != nil {
				return fmt.Errorf("meta: slot %d of %d: %w", r.Index, ino, err)
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// GetXattr returns one extended attribute, or ENODATA.
func (f *FSM) GetXattr(ctx context.Context, ino Ino, name string) ([]byte, error) {
	if e := checkXattrName(name); e != 0 {
		return nil, e
	}
	var val []byte
	err := f.readView(ctx, func(txn *badger.Txn) error {
		if _, err := readInode(txn, ino); err != nil {
			return err
		}
		v, found, err := getValue(txn, xattrKey(ino, name))
		switch {
		case err != nil:
			return fmt.Errorf("meta: get xattr of %d: %w", ino, err)
		case !found:
			return syscall.ENODATA
		}
		val = v
		if val == nil {
			val = []byte{}
		}
		return nil
	})
	return val, err
}

// ListXattr returns the names of ino's extended attributes, sorted.
func (f *FSM) ListXattr(ctx context.Context, ino Ino) ([]string, error) {
	var names []string
	err := f.readView(ctx, func(txn *badger.Txn) error {
		if _, err := readInode(txn, ino); err != nil {
			return err
		}
		prefix := xattrPrefix(ino)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			names = append(names, string(it.Item().Key()[len(prefix):]))
		}
		return nil
	})
	return names, err
}

func readRef(txn *badger.Txn, id store.ChunkID) (count uint64, found bool, err error) {
	v, found, err := getValue(txn, refKey(id))
	if err != nil || !found {
		return 0, false, err
	}
	count, _, err = decodeRef(v)
	return count, true, err
}

// ChunkRefCount returns how many chunk slots reference id.
func (f *FSM) ChunkRefCount(ctx context.Context, id store.ChunkID) (uint64, error) {
	var count uint64
	err := f.readView(ctx, func(txn *badger.Txn) error {
		var err error
		count, _, err = readRef(txn, id)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("meta: reference count of %s: %w", id, err)
	}
	return count, nil
}

// ZeroRefChunks returns up to limit chunks (limit <= 0: all) whose
// reference count has been 0 since before the Unix-ns time before,
// oldest first.
func (f *FSM) ZeroRefChunks(ctx context.Context, before int64, limit int) ([]store.ChunkID, error) {
	var out []store.ChunkID
	err := f.readView(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pfxZero}})
		defer it.Close()
		end := sortableTime(before)
		for it.Rewind(); it.Valid() && (limit <= 0 || len(out) < limit); it.Next() {
			k := it.Item().Key()
			if len(k) != 41 {
				return fmt.Errorf("meta: %w: zero-reference key of %d bytes", errCorrupt, len(k))
			}
			if binary.BigEndian.Uint64(k[1:9]) >= end {
				break
			}
			out = append(out, store.ChunkID(k[9:41]))
		}
		return nil
	})
	return out, err
}

// Orphans returns inodes with nlink 0 awaiting OpReclaim, in order.
func (f *FSM) Orphans(ctx context.Context) ([]Ino, error) {
	var out []Ino
	err := f.readView(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pfxOrphan}})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			out = append(out, keyIno(it.Item().Key()))
		}
		return nil
	})
	return out, err
}

// Stats returns namespace totals.
func (f *FSM) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := f.readView(ctx, func(txn *badger.Txn) error {
		st, err := loadState(txn)
		if err != nil {
			return fmt.Errorf("meta: load stats: %w", err)
		}
		s = Stats{Inodes: st.Inodes, NextIno: st.NextIno, Applied: st.Applied, DataBytes: st.DataBytes}
		return nil
	})
	return s, err
}

// ForEachChunk calls fn for every chunk with a reference record, in ID
// order, starting after the chunk after (the zero ID starts at the
// beginning; after itself is skipped), with its reference count (0 for a
// chunk awaiting garbage collection). It stops at fn's first error and
// returns it. The walk is one consistent view; callers page through a
// large namespace by stopping early and calling again from the last ID.
func (f *FSM) ForEachChunk(ctx context.Context, after store.ChunkID, fn func(id store.ChunkID, refs uint64) error) error {
	return f.readView(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{pfxRef}, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		start := refKey(after)
		for it.Seek(start); it.Valid(); it.Next() {
			item := it.Item()
			k := item.Key()
			if len(k) != 33 {
				return fmt.Errorf("meta: %w: reference key of %d bytes", errCorrupt, len(k))
			}
			var id store.ChunkID
			copy(id[:], k[1:])
			if id == after && after != (store.ChunkID{}) {
				continue
			}
			var count uint64
			if err := item.Value(func(v []byte) error {
				c, _, err := decodeRef(v)
				count = c
				return err
			}); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(id, count); err != nil {
				return err
			}
		}
		return nil
	})
}

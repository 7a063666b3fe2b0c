package repair

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/store"
)

// cursor walks one node's inventory in ID order, a page at a time, for a
// pass that asks about chunks in increasing ID order: memory stays one page
// per node however many chunks the node holds, and each inventory is
// listed once per pass. Not safe for concurrent use: the pass's dispatching
// goroutine owns its cursors.
type cursor struct {
	node  string
	list  func(ctx context.Context, after store.ChunkID) ([]peer.ChunkInfo, bool, error)
	page  []peer.ChunkInfo
	i     int
	more  bool
	after store.ChunkID
	err   error // the listing failed: the node's holdings are unknown
}

func newCursor(node string, list func(ctx context.Context, after store.ChunkID) ([]peer.ChunkInfo, bool, error)) *cursor {
	return &cursor{node: node, list: list, more: true}
}

// find reports whether the node holds id, and the copy's size. IDs must be
// asked in non-decreasing order. After a listing error it returns the
// error, and keeps returning it for the rest of the pass.
func (c *cursor) find(ctx context.Context, id store.ChunkID) (bool, int64, error) {
	for c.err == nil {
		for c.i < len(c.page) && bytes.Compare(c.page[c.i].ID[:], id[:]) < 0 {
			c.i++
		}
		if c.i < len(c.page) {
			e := c.page[c.i]
			if e.ID == id {
				return true, e.Size, nil
			}
			return false, 0, nil
		}
		if !c.more {
			return false, 0, nil
		}
		page, more, err := c.list(ctx, c.after)
		if err != nil {
			c.err = fmt.Errorf("inventory of %s: %w", c.node, err)
			break
		}
		if len(page) == 0 && more {
			c.err = fmt.Errorf("inventory of %s: an empty page that says more follow", c.node)
			break
		}
		for j := range page {
			if j > 0 && bytes.Compare(page[j-1].ID[:], page[j].ID[:]) >= 0 ||
				j == 0 && !c.after.IsZero() && bytes.Compare(c.after[:], page[0].ID[:]) >= 0 {
				c.err = fmt.Errorf("inventory of %s: IDs out of order", c.node)
				return false, 0, c.err
			}
		}
		c.page, c.i, c.more = page, 0, more
		if len(page) > 0 {
			c.after = page[len(page)-1].ID
		}
	}
	return false, 0, c.err
}

// peerLister lists a peer's inventory with the keeper's page size and call
// timeout.
func (k *Keeper) peerLister(p Peer) func(ctx context.Context, after store.ChunkID) ([]peer.ChunkInfo, bool, error) {
	return func(ctx context.Context, after store.ChunkID) ([]peer.ChunkInfo, bool, error) {
		ctx, cancel := context.WithTimeout(ctx, k.cfg.CallTimeout)
		defer cancel()
		return p.ListChunks(ctx, after, k.cfg.ListLimit)
	}
}

// localLister lists the local backend's chunks a page at a time, for a
// cursor.
func (k *Keeper) localLister() func(ctx context.Context, after store.ChunkID) ([]peer.ChunkInfo, bool, error) {
	return func(ctx context.Context, after store.ChunkID) ([]peer.ChunkInfo, bool, error) {
		objs, more, err := k.localPage(ctx, after)
		page := make([]peer.ChunkInfo, len(objs))
		for i, o := range objs {
			page[i] = peer.ChunkInfo{ID: o.id, Size: o.info.Size}
		}
		return page, more, err
	}
}

// localObject is a chunk object of the local backend.
type localObject struct {
	id   store.ChunkID
	info store.ObjectInfo
}

// localPage returns up to k.batch local chunks whose IDs follow after, in
// ID order, and whether more follow. Each page is a fresh List, stopped
// once the page is full, so no listing stays open while a pass works on a
// page (and the pass may delete what it listed).
func (k *Keeper) localPage(ctx context.Context, after store.ChunkID) ([]localObject, bool, error) {
	var page []localObject
	more := false
	err := k.listLocal(ctx, after, func(id store.ChunkID, info store.ObjectInfo) error {
		if len(page) == k.batch {
			more = true
			return errStop
		}
		page = append(page, localObject{id, info})
		return nil
	})
	return page, more, err
}

// walkLocal calls fn with the local chunks in ID order, a page at a time.
func (k *Keeper) walkLocal(ctx context.Context, fn func([]localObject) error) error {
	var after store.ChunkID
	for {
		page, more, err := k.localPage(ctx, after)
		if err != nil {
			return fmt.Errorf("list local chunks: %w", err)
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		after = page[len(page)-1].id
	}
}

// errStop ends a walk early; it never leaves the package.
var errStop = errors.New("repair: walk stopped")

// listLocal calls fn for every chunk object of the local backend whose ID
// is greater than after, in ID order (the key order of store.ChunkID.Key).
// Objects under chunks/ whose key is not a chunk key are skipped. errStop
// from fn ends the walk without an error.
func (k *Keeper) listLocal(ctx context.Context, after store.ChunkID, fn func(store.ChunkID, store.ObjectInfo) error) error {
	var err error
	if after.IsZero() {
		err = k.listLocalPrefix(ctx, "chunks/", after, fn)
	} else {
		// List has no start key: walk the top-level shards from after's
		// on, one List each.
		for b := int(after[0]); b < 256 && err == nil; b++ {
			err = k.listLocalPrefix(ctx, fmt.Sprintf("chunks/%02x/", b), after, fn)
		}
	}
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

func (k *Keeper) listLocalPrefix(ctx context.Context, prefix string, after store.ChunkID, fn func(store.ChunkID, store.ObjectInfo) error) error {
	return k.cfg.Local.List(ctx, prefix, func(info store.ObjectInfo) error {
		id, ok := chunkKeyID(info.Key)
		if !ok || !after.IsZero() && bytes.Compare(id[:], after[:]) <= 0 {
			return nil
		}
		return fn(id, info)
	})
}

// chunkKeyID parses a chunk key, chunks/ab/cd/<hex>; false for any other
// key.
func chunkKeyID(key string) (store.ChunkID, bool) {
	rest, ok := strings.CutPrefix(key, "chunks/")
	if !ok || len(rest) != 6+64 {
		return store.ChunkID{}, false
	}
	id, err := store.ParseChunkID(rest[6:])
	if err != nil || id.Key() != key {
		return store.ChunkID{}, false
	}
	return id, true
}

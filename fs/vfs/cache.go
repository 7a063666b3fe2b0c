package vfs

import (
	"container/list"
	"sync"

	"github.com/dfsproject/dfs/store"
)

// recentChunks keeps the last chunks read or prefetched, bounded in bytes,
// so reads of one chunk in many small pieces, and read-ahead, do not rely
// on the chunk store's cache being on. The slices are the chunk store's
// (verified, shared, never modified): while its cache holds them too, this
// costs no memory. mu is a leaf lock.
type recentChunks struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // of *recentEntry, most recent first
	byID  map[store.ChunkID]*list.Element
}

type recentEntry struct {
	id   store.ChunkID
	data []byte
}

func newRecentChunks(max int64) *recentChunks {
	return &recentChunks{max: max, order: list.New(), byID: make(map[store.ChunkID]*list.Element)}
}

func (c *recentChunks) get(id store.ChunkID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*recentEntry).data, true
}

func (c *recentChunks) add(id store.ChunkID, data []byte) {
	if int64(len(data)) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.byID[id] = c.order.PushFront(&recentEntry{id: id, data: data})
	c.used += int64(len(data))
	for c.used > c.max {
		el := c.order.Back()
		e := el.Value.(*recentEntry)
		c.order.Remove(el)
		delete(c.byID, e.id)
		c.used -= int64(len(e.data))
	}
}

func (c *recentChunks) remove(id store.ChunkID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byID[id]; ok {
		c.order.Remove(el)
		delete(c.byID, id)
		c.used -= int64(len(el.Value.(*recentEntry).data))
	}
}

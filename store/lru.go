package store

import (
	"container/list"
	"sync"
)

// memCache is an LRU of verified chunks bounded by the sum of their sizes.
// It is safe for concurrent use. The slices it holds are never modified.
type memCache struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // of *memEntry, most recently used first
	byID  map[ChunkID]*list.Element
}

type memEntry struct {
	id   ChunkID
	data []byte
}

func newMemCache(max int64) *memCache {
	return &memCache{max: max, order: list.New(), byID: make(map[ChunkID]*list.Element)}
}

func (c *memCache) get(id ChunkID) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*memEntry).data, true
}

// add caches data, which must not be modified afterwards. A chunk larger
// than the whole cache is not cached.
func (c *memCache) add(id ChunkID, data []byte) {
	size := int64(len(data))
	if size > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		c.order.MoveToFront(e)
		return
	}
	c.byID[id] = c.order.PushFront(&memEntry{id: id, data: data})
	c.used += size
	for c.used > c.max {
		c.removeLocked(c.order.Back())
	}
}

func (c *memCache) remove(id ChunkID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		c.removeLocked(e)
	}
}

func (c *memCache) removeLocked(e *list.Element) {
	me := c.order.Remove(e).(*memEntry)
	delete(c.byID, me.id)
	c.used -= int64(len(me.data))
}

// stats returns the number of chunks and bytes cached.
func (c *memCache) stats() (n int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID), c.used
}

package store

import (
	"container/list"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// diskCache is an LRU of verified chunks kept as files dir/ab/<hex id>,
// bounded by the sum of their sizes. It is rebuilt from the directory when
// opened (least recently used first by modification time, which a hit
// refreshes). Files are written to dir/.tmp and renamed into place, so a
// crash leaves whole files or none; they are not synced, as every read is
// verified and a bad file is deleted and refetched. Safe for concurrent use.
type diskCache struct {
	dir string
	tmp string
	max int64
	log *slog.Logger

	corrupt atomic.Int64 // files that failed verification

	mu    sync.Mutex
	used  int64
	order *list.List // of *diskEntry, most recently used first
	byID  map[ChunkID]*list.Element
}

type diskEntry struct {
	id   ChunkID
	size int64
}

func openDiskCache(dir string, max int64, log *slog.Logger) (*diskCache, error) {
	c := &diskCache{
		dir:   dir,
		tmp:   filepath.Join(dir, tmpDirName),
		max:   max,
		log:   log,
		order: list.New(),
		byID:  make(map[ChunkID]*list.Element),
	}
	// Files left in .tmp by a crash are incomplete: drop them.
	if err := os.RemoveAll(c.tmp); err != nil {
		return nil, fmt.Errorf("disk cache %s: %w", dir, err)
	}
	if err := os.MkdirAll(c.tmp, 0o700); err != nil {
		return nil, fmt.Errorf("disk cache %s: %w", dir, err)
	}
	type found struct {
		diskEntry
		mod time.Time
	}
	var files []found
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("disk cache %s: %w", dir, err)
	}
	for _, sub := range entries {
		if !sub.IsDir() || len(sub.Name()) != 2 {
			continue
		}
		names, err := os.ReadDir(filepath.Join(dir, sub.Name()))
		if err != nil {
			return nil, fmt.Errorf("disk cache %s: %w", dir, err)
		}
		for _, n := range names {
			id, err := ParseChunkID(n.Name())
			if err != nil || !n.Type().IsRegular() || id.String()[:2] != sub.Name() {
				continue // not ours
			}
			fi, err := n.Info()
			if err != nil {
				continue
			}
			files = append(files, found{diskEntry{id, fi.Size()}, fi.ModTime()})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.Before(files[j].mod) })
	for _, f := range files {
		c.byID[f.id] = c.order.PushFront(&diskEntry{f.id, f.size})
		c.used += f.size
	}
	c.mu.Lock()
	c.evictLocked()
	c.mu.Unlock()
	log.Debug("disk cache opened", "dir", dir, "chunks", len(c.byID), "bytes", c.used, "max_bytes", max)
	return c, nil
}

func (c *diskCache) path(id ChunkID) string {
	s := id.String()
	return filepath.Join(c.dir, s[:2], s)
}

// get returns the verified chunk, or false. A file that fails verification
// is deleted (and logged), and reported as a miss so that the caller
// refetches it.
func (c *diskCache) get(id ChunkID) ([]byte, bool) {
	c.mu.Lock()
	_, ok := c.byID[id]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	p := c.path(id)
	data, err := os.ReadFile(p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("disk cache: reading chunk", "chunk", id.String(), "err", err)
		}
		c.remove(id)
		return nil, false
	}
	if err := Verify(id, data); err != nil {
		c.corrupt.Add(1)
		c.log.Warn("disk cache: corrupt file deleted; refetching the chunk", "chunk", id.String(), "path", p, "err", err)
		c.remove(id)
		return nil, false
	}
	c.mu.Lock()
	if e, ok := c.byID[id]; ok {
		c.order.MoveToFront(e)
	}
	c.mu.Unlock()
	now := time.Now()
	os.Chtimes(p, now, now) // keeps the LRU order across restarts
	return data, true
}

// put stores a verified chunk. Failures (a full cache disk) are logged and
// otherwise ignored: the cache is an optimisation.
func (c *diskCache) put(id ChunkID, data []byte) {
	size := int64(len(data))
	if size > c.max {
		return
	}
	c.mu.Lock()
	if e, ok := c.byID[id]; ok {
		c.order.MoveToFront(e)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := c.write(id, data); err != nil {
		c.log.Warn("disk cache: writing chunk", "chunk", id.String(), "err", err)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok { // written meanwhile by another put
		c.order.MoveToFront(e)
		return
	}
	c.byID[id] = c.order.PushFront(&diskEntry{id, size})
	c.used += size
	c.evictLocked()
}

func (c *diskCache) write(id ChunkID, data []byte) (err error) {
	f, err := os.CreateTemp(c.tmp, "chunk-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	p := c.path(id)
	if err = os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

func (c *diskCache) evictLocked() {
	for c.used > c.max {
		e := c.order.Back()
		de := c.order.Remove(e).(*diskEntry)
		delete(c.byID, de.id)
		c.used -= de.size
		if err := os.Remove(c.path(de.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("disk cache: evicting chunk", "chunk", de.id.String(), "err", err)
		}
	}
}

// remove drops id from the cache and deletes its file.
func (c *diskCache) remove(id ChunkID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		c.used -= e.Value.(*diskEntry).size
		c.order.Remove(e)
		delete(c.byID, id)
	}
	os.Remove(c.path(id))
}

// stats returns the number of chunks and bytes cached.
func (c *diskCache) stats() (n int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID), c.used
}

package repair_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/repair"
	"github.com/dfsproject/dfs/store"
)

// hookLog records the corrupt and resolved events.
type hookLog struct {
	mu       sync.Mutex
	corrupt  []store.ChunkID
	resolved []store.ChunkID
	errs     []error
}

func (h *hookLog) install(cfg *repair.Config) {
	cfg.Hooks.Corrupt = func(id store.ChunkID, err error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.corrupt = append(h.corrupt, id)
		h.errs = append(h.errs, err)
	}
	cfg.Hooks.Resolved = func(id store.ChunkID) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.resolved = append(h.resolved, id)
	}
}

func (h *hookLog) get() (corrupt, resolved []store.ChunkID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return sortIDs(h.corrupt), sortIDs(h.resolved)
}

func sortIDs(ids []store.ChunkID) []store.ChunkID {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b store.ChunkID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// overwrite replaces the bytes stored under id's key on node.
func overwrite(t *testing.T, c *testCluster, node string, id store.ChunkID, data []byte) {
	t.Helper()
	if err := c.nodes[node].mem.Put(context.Background(), id.Key(), bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func TestScrubRepairsCorruptCopies(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3", "n4")
	ids := writeChunks(c, 20, 40)
	var placed, notPlaced []store.ChunkID
	for _, id := range ids {
		if slices.Contains(c.placer.Load().Place(id), "n1") {
			placed = append(placed, id)
		} else {
			notPlaced = append(notPlaced, id)
		}
	}
	if len(placed) < 3 || len(notPlaced) < 1 {
		t.Fatalf("%d chunks placed on n1, %d not: need 3 and 1", len(placed), len(notPlaced))
	}
	flipped, truncated, lonely, stray := placed[0], placed[1], placed[2], notPlaced[0]
	good := func(id store.ChunkID) []byte {
		rc, err := c.nodes[c.placer.Load().Place(id)[0]].mem.Get(context.Background(), id.Key(), 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var b bytes.Buffer
		b.ReadFrom(rc)
		return b.Bytes()
	}
	// A flipped byte, a truncated copy, a corrupt stray copy on n1 that
	// is not placed there, and a corrupt chunk whose other copies are gone.
	data := good(flipped)
	data[len(data)/2] ^= 0x40
	overwrite(t, c, "n1", flipped, data)
	overwrite(t, c, "n1", truncated, good(truncated)[:100])
	strayData := good(stray)
	overwrite(t, c, "n1", stray, strayData[:len(strayData)-1])
	lonelyData := good(lonely)
	for _, n := range c.placer.Load().Place(lonely) {
		if n != "n1" {
			c.nodes[n].mem.Delete(context.Background(), lonely.Key())
		}
	}
	overwrite(t, c, "n1", lonely, []byte("garbage"))

	var h hookLog
	k := c.keeper("n1", h.install)
	r, err := k.Scrub(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Corrupt != 4 || r.Fixed != 2 || r.Dropped != 2 {
		t.Errorf("scrub: corrupt %d, fixed %d, dropped %d; want 4, 2, 2", r.Corrupt, r.Fixed, r.Dropped)
	}
	for _, id := range []store.ChunkID{flipped, truncated} {
		if !sound(c.nodes["n1"].mem, id) {
			t.Errorf("chunk %s is not sound on n1 after scrub", shortID(id))
		}
	}
	for _, id := range []store.ChunkID{stray, lonely} {
		if _, err := c.nodes["n1"].mem.Stat(context.Background(), id.Key()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("corrupt copy of %s still on n1 (%v), want deleted", shortID(id), err)
		}
	}
	corrupt, resolved := h.get()
	if want := sortIDs([]store.ChunkID{flipped, truncated, lonely, stray}); !slices.Equal(corrupt, want) {
		t.Errorf("corrupt hook got %d chunks, want the 4 corrupted", len(corrupt))
	}
	for _, err := range h.errs {
		if !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("corrupt hook error %v does not wrap store.ErrCorrupt", err)
		}
	}
	if want := sortIDs([]store.ChunkID{flipped, truncated, stray}); !slices.Equal(resolved, want) {
		t.Errorf("resolved hook got %d chunks, want the 3 fixed or not placed here", len(resolved))
	}

	// The lonely chunk comes back (a repair from a backup, say): the
	// next pass resolves it, and reports nothing new.
	c.put(lonelyData, "n1")
	r, err = k.Scrub(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	corrupt, resolved = h.get()
	if r.Corrupt != 0 || len(corrupt) != 4 || !slices.Contains(resolved, lonely) {
		t.Errorf("second scrub: corrupt %d (hook total %d), lonely resolved %v; want 0, 4, true", r.Corrupt, len(corrupt), slices.Contains(resolved, lonely))
	}
}

func TestScrubRate(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3")
	writeChunks(c, 21, 30)
	clk := newFakeClock()
	clk.autoSleep = true
	const rate = 64 << 10
	k := c.keeper("n1", func(cfg *repair.Config) {
		cfg.Clock = clk
		cfg.ScrubBytesPerSec = rate
	})
	r, err := k.Scrub(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	min := time.Duration(float64(r.Bytes-rate/4) / rate * float64(time.Second))
	max := time.Duration(float64(r.Bytes) / rate * float64(time.Second))
	if got := clk.Slept(); got < min || got > max+time.Millisecond {
		t.Errorf("scrubbing %d bytes at %d B/s waited %v, want between %v and %v", r.Bytes, rate, got, min, max)
	}
}

func TestScrubProgress(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3")
	rng := rand.New(rand.NewPCG(22, 22))
	for range 30 {
		c.write(rng, 100)
	}
	k := c.keeper("n1", nil)
	var last, total int64
	if _, err := k.Scrub(context.Background(), func(done, tot int64) { last, total = done, tot }); err != nil {
		t.Fatal(err)
	}
	if last != 30 || total != 30 {
		t.Errorf("progress ended at (%d, %d), want (30, 30)", last, total)
	}
}

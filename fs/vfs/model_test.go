package vfs

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/dfsproject/dfs/store/meta"
)

// TestModel runs random sequences of writes, reads, truncates, fallocates,
// flushes and reopens over several handles of one file and compares every
// read, size and hole search with a plain []byte model. After each flush,
// the committed file as another host reads it must equal the model too.
var (
	modelFirst = flag.Uint64("model.first", 0, "first seed of TestModel")
	modelSeeds = flag.Int("model.seeds", 0, "number of TestModel seeds (0: default)")
)

func TestModel(t *testing.T) {
	seeds, ops := 24, 300
	switch {
	case testing.Short():
		seeds, ops = 4, 150
	case raceEnabled:
		seeds = 6
	}
	if *modelSeeds > 0 {
		seeds = *modelSeeds
	}
	for i := range seeds {
		seed := *modelFirst + uint64(i)
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			runModel(t, seed, ops)
		})
	}
}

func runModel(t *testing.T, seed uint64, ops int) {
	r := rand.New(rand.NewPCG(seed, 7))
	e := newEnv(t, envOpt{cfg: func(c *Config) {
		if seed%3 == 1 {
			c.MaxDirtyBytes = 128 << 10 // 2 slots: spills and waits
		}
		if seed%3 == 2 {
			c.UploadConcurrency = 1
		}
		if seed%4 == 3 {
			c.InlineMax = int(c.ChunkSize) // the largest: a full slot 0
		}
	}})
	cs := int(e.cfg.ChunkSize)
	maxOff := 20 * cs
	a, h0 := e.create("model")
	ino := a.Ino
	hs := []*Handle{h0, e.open(e.v, ino, syscall.O_RDWR), e.open(e.v, ino, syscall.O_RDWR)}
	other := e.freshVFS()
	var model []byte

	randOff := func() int {
		switch r.IntN(4) {
		case 0:
			return r.IntN(2 * e.cfg.InlineMax) // around the inline limit
		case 1:
			return r.IntN(maxOff/cs)*cs + r.IntN(3) - 1 // around slot boundaries
		}
		return r.IntN(maxOff)
	}
	randLen := func() int {
		switch r.IntN(3) {
		case 0:
			return 1 + r.IntN(100)
		case 1:
			return 1 + r.IntN(cs)
		}
		return 1 + r.IntN(3*cs)
	}
	grow := func(n int) {
		if n > len(model) {
			model = append(model, make([]byte, n-len(model))...)
		}
	}
	check := func(what string, v *VFS, h *Handle) {
		t.Helper()
		if got := e.size(v, ino); got != int64(len(model)) {
			t.Fatalf("%s: size %d, model %d", what, got, len(model))
		}
		equalBytes(t, what, e.readAll(v, ino), model)
	}

	for i := range ops {
		h := hs[r.IntN(len(hs))]
		op := r.IntN(100)
		switch {
		case op < 35: // write
			off := max(randOff(), 0)
			data := pattern(randLen(), byte(r.Uint32()))
			e.write(h, int64(off), data)
			grow(off + len(data))
			copy(model[off:], data)
		case op < 55: // read
			off := max(randOff(), 0)
			n := randLen()
			got := e.read(e.v, h, int64(off), n)
			var want []byte
			if off < len(model) {
				want = model[off:min(off+n, len(model))]
			}
			equalBytes(t, fmt.Sprintf("op %d: read %d at %d", i, n, off), got, want)
		case op < 63: // truncate
			size := max(randOff(), 0)
			in := SetAttrIn{Valid: meta.SetSize, Size: uint64(size)}
			if r.IntN(2) == 0 {
				in.Handle = h
			}
			if _, err := e.v.SetAttr(e.ctx, root, ino, in); err != nil {
				t.Fatalf("op %d: truncate to %d: %v", i, size, err)
			}
			if size < len(model) {
				model = model[:size]
			}
			grow(size)
		case op < 73: // fallocate
			off, n := max(randOff(), 0), randLen()
			modes := []uint32{0, FallocKeepSize, FallocPunchHole | FallocKeepSize, FallocZeroRange, FallocZeroRange | FallocKeepSize}
			mode := modes[r.IntN(len(modes))]
			if err := e.v.Fallocate(e.ctx, h, uint64(off), uint64(n), mode); err != nil {
				t.Fatalf("op %d: fallocate %d+%d mode %#x: %v", i, off, n, mode, err)
			}
			end := off + n
			if mode&FallocKeepSize == 0 {
				grow(end)
			}
			if mode&(FallocPunchHole|FallocZeroRange) != 0 && off < len(model) {
				clear(model[off:min(end, len(model))])
			}
		case op < 80: // hole search
			if len(model) == 0 {
				continue
			}
			off := r.IntN(len(model))
			d, err := e.v.Lseek(e.ctx, h, int64(off), SeekData)
			end := int(d)
			if err == syscall.ENXIO {
				end = len(model)
			} else if err != nil || d < int64(off) {
				t.Fatalf("op %d: SEEK_DATA %d: %d %v", i, off, d, err)
			}
			if !bytes.Equal(model[off:end], make([]byte, end-off)) {
				t.Fatalf("op %d: SEEK_DATA from %d skipped data to %d", i, off, end)
			}
			hole, err := e.v.Lseek(e.ctx, h, int64(off), SeekHole)
			if err != nil || hole < int64(off) || hole > int64(len(model)) {
				t.Fatalf("op %d: SEEK_HOLE %d: %d %v", i, off, hole, err)
			}
		case op < 90: // flush, then another host sees it all
			if err := e.v.Flush(e.ctx, h); err != nil {
				t.Fatalf("op %d: flush: %v", i, err)
			}
			check(fmt.Sprintf("op %d: committed", i), other, nil)
		case op < 97: // reopen
			j := r.IntN(len(hs))
			e.release(e.v, hs[j])
			flags := uint32(syscall.O_RDWR)
			if r.IntN(10) == 0 {
				flags |= syscall.O_TRUNC
				model = model[:0]
			}
			hs[j] = e.open(e.v, ino, flags)
		default: // all closed, then reopened
			for j := range hs {
				e.release(e.v, hs[j])
			}
			check(fmt.Sprintf("op %d: closed", i), other, nil)
			for j := range hs {
				hs[j] = e.open(e.v, ino, syscall.O_RDWR)
			}
		}
		if got := e.size(e.v, ino); got != int64(len(model)) {
			t.Fatalf("op %d: size %d, model %d", i, got, len(model))
		}
	}
	for _, h := range hs {
		e.release(e.v, h)
	}
	check("end", other, nil)
	check("end, local", e.v, nil)
	if used, _ := e.v.mem.stats(); used != 0 {
		t.Fatalf("%d dirty bytes accounted after all closed", used)
	}
	if !e.v.spill.idle() {
		t.Fatal("spill extents in use after all closed")
	}
}

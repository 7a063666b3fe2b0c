package vfs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

func TestErrno(t *testing.T) {
	e := newEnv(t, envOpt{})
	for _, tc := range []struct {
		err  error
		want error
	}{
		{nil, nil},
		{syscall.ENOENT, syscall.ENOENT},
		{fmt.Errorf("lookup: %w", syscall.ENOTDIR), syscall.ENOTDIR},
		{context.Canceled, syscall.EINTR},
		{fmt.Errorf("put: %w", context.DeadlineExceeded), syscall.EINTR},
		{fmt.Errorf("put: %w", store.ErrNoSpace), syscall.ENOSPC},
		{fmt.Errorf("get: %w", store.ErrCorrupt), syscall.EIO},
		{fmt.Errorf("get: %w (%w)", store.ErrNotFound, syscall.ENOENT), syscall.EIO},
		{errors.New("badger exploded"), syscall.EIO},
	} {
		if got := e.v.errno("test", tc.err); got != tc.want {
			t.Errorf("errno(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// syncCounter is a Proposer with the optional Sync, counting calls.
type syncCounter struct {
	meta.Proposer
	syncs atomic.Int32
	fail  error
}

func (s *syncCounter) Sync(ctx context.Context) error { s.syncs.Add(1); return nil }

func (s *syncCounter) Propose(ctx context.Context, cmd *meta.Cmd) (*meta.Result, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return s.Proposer.Propose(ctx, cmd)
}

func TestFsyncSyncsMetadata(t *testing.T) {
	e := newEnv(t, envOpt{})
	sc := &syncCounter{Proposer: e.p}
	v, err := New(e.cfg, e.fsm, sc, e.cs)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(e.ctx)
	a, h, err := v.Create(e.ctx, root, meta.RootIno, "f", 0o644, syscall.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Write(e.ctx, h, []byte("data"), 0); err != nil {
		t.Fatal(err)
	}
	if err := v.Fsync(e.ctx, h, true); err != nil {
		t.Fatal(err)
	}
	if sc.syncs.Load() != 1 {
		t.Fatalf("%d syncs", sc.syncs.Load())
	}
	// A proposer failure is EIO and commits nothing.
	if _, err := v.Write(e.ctx, h, []byte("more"), 4); err != nil {
		t.Fatal(err)
	}
	sc.fail = errors.New("no leader")
	wantErrno(t, v.Flush(e.ctx, h), syscall.EIO)
	if attr, _ := e.fsm.GetAttr(e.ctx, a.Ino); attr.Size != 4 {
		t.Fatalf("size %d committed after a failed proposal", attr.Size)
	}
	sc.fail = nil
	if err := v.Flush(e.ctx, h); err != nil {
		t.Fatal(err)
	}
	// A cancelled context is EINTR.
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	_, err = v.Write(ctx, h, []byte("x"), 0)
	wantErrno(t, err, syscall.EINTR)
	wantErrno(t, v.Flush(ctx, h), syscall.EINTR)
	if err := v.Release(e.ctx, h); err != nil {
		t.Fatal(err)
	}
	if got := e.readAll(e.freshVFS(), a.Ino); string(got) != "datamore" {
		t.Fatalf("got %q", got)
	}
}

// TestConcurrentHandles has goroutines write, read back, flush and reopen
// disjoint regions of one file through their own handles, while others
// stat it, search holes and the GC runs, then checks every region. Run it
// with -race.
func TestConcurrentHandles(t *testing.T) {
	e := newEnv(t, envOpt{cfg: func(c *Config) {
		c.MaxDirtyBytes = 512 << 10
		c.GCInterval = 5 * time.Millisecond
	}})
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go e.v.Run(ctx)
	a, h0 := e.create("shared")
	const workers, region, rounds = 4, 150 << 10, 25
	var wg sync.WaitGroup
	final := make([][]byte, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			h, err := e.v.Open(e.ctx, root, a.Ino, syscall.O_RDWR)
			if err != nil {
				t.Error(err)
				return
			}
			mine := make([]byte, region)
			base := int64(w * region)
			for i := range rounds {
				off := r.IntN(region)
				n := min(1+r.IntN(100<<10), region-off)
				data := pattern(n, byte(w*rounds+i))
				if _, err := e.v.Write(e.ctx, h, data, base+int64(off)); err != nil {
					t.Error(err)
					return
				}
				copy(mine[off:], data)
				got := make([]byte, region)
				if _, err := e.v.Read(e.ctx, h, got, base); err != nil {
					t.Error(err)
					return
				}
				for j := range mine {
					if got[j] != mine[j] {
						t.Errorf("worker %d round %d: byte %d differs", w, i, j)
						return
					}
				}
				switch r.IntN(4) {
				case 0:
					if err := e.v.Flush(e.ctx, h); err != nil {
						t.Error(err)
						return
					}
				case 1:
					if err := e.v.Release(e.ctx, h); err != nil {
						t.Error(err)
					}
					if h, err = e.v.Open(e.ctx, root, a.Ino, syscall.O_RDWR); err != nil {
						t.Error(err)
						return
					}
				}
			}
			if err := e.v.Flush(e.ctx, h); err != nil {
				t.Error(err)
			}
			e.v.Release(e.ctx, h)
			final[w] = mine
		}()
	}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.v.GetAttr(e.ctx, a.Ino)
			e.v.Lseek(e.ctx, h0, 0, SeekHole)
			e.v.StatFS(e.ctx)
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	e.release(e.v, h0)
	if t.Failed() {
		return
	}
	got := e.readAll(e.freshVFS(), a.Ino)
	got = append(got, make([]byte, workers*region-len(got))...)
	for w, mine := range final {
		equalBytes(t, fmt.Sprint("region ", w), got[w*region:(w+1)*region], mine)
	}
}

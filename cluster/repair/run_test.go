package repair_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/repair"
)

// passLog counts the passes reported through Hooks.Pass.
type passLog struct {
	mu     sync.Mutex
	passes map[string]int
	errs   []error
}

func (p *passLog) hook(pass string, c repair.Counts, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.passes == nil {
		p.passes = map[string]int{}
	}
	p.passes[pass]++
	if err != nil {
		p.errs = append(p.errs, err)
	}
}

func (p *passLog) count(pass string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.passes[pass]
}

func (p *passLog) sawErr(target error) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.errs, func(err error) bool { return errors.Is(err, target) })
}

func TestRun(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3", "n4")
	ids := writeChunks(c, 50, 60)
	layout := c.placer.Load()
	c.placer.Store(nil) // no layout yet: the passes fail, the loops go on

	// An upload that was never committed, on n1.
	orphan := c.put([]byte("uploaded by a writer that crashed"), "n1")

	var logs syncBuffer
	var pl passLog
	ks := c.keepers(func(cfg *repair.Config) {
		cfg.Hooks.Pass = pl.hook
		cfg.ScrubBytesPerSec = 64 << 20
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	runErr := make(map[string]error)
	var mu sync.Mutex
	for name, k := range ks {
		wg.Go(func() {
			err := k.Run(ctx)
			mu.Lock()
			runErr[name] = err
			mu.Unlock()
		})
	}
	eventually(t, 5*time.Second, "a failed pass", func() bool { return pl.sawErr(repair.ErrNoLayout) })
	if err := ks["n1"].Run(ctx); !errors.Is(err, repair.ErrRunning) {
		t.Errorf("a second Run: %v, want ErrRunning", err)
	}

	// The layout arrives; then n4 dies and is taken out of it.
	c.placer.Store(layout)
	c.kill("n4")
	c.without("n4")
	for _, k := range ks {
		k.Trigger()
	}
	eventually(t, 10*time.Second, "every chunk on its 3 placed nodes", func() bool {
		for _, id := range ids {
			if got, want := liveHolders(c, id), c.placedSorted(id); !slices.Equal(got, want) {
				return false
			}
		}
		return true
	})
	eventually(t, 5*time.Second, "the orphan collected", func() bool { return !present(c.nodes["n1"].mem, orphan) })
	eventually(t, 5*time.Second, "a pass of each kind", func() bool {
		return pl.count("repair") > 1 && pl.count("rebalance") > 1 && pl.count("gc") > 0 && pl.count("scrub") > 0
	})
	if !bytes.Contains(logs.Bytes(), []byte("no layout yet")) {
		t.Errorf("the failed passes were not logged:\n%s", logs.Bytes())
	}

	cancel()
	wg.Wait()
	for name, err := range runErr {
		if err != nil {
			t.Errorf("Run on %s returned %v, want nil", name, err)
		}
	}
	k := ks["n1"]
	k.Close()
	k.Close()
	if err := k.Run(context.Background()); !errors.Is(err, repair.ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if _, err := k.Repair(context.Background(), nil); !errors.Is(err, repair.ErrClosed) {
		t.Errorf("Repair after Close: %v, want ErrClosed", err)
	}
}

func TestCloseStopsRun(t *testing.T) {
	c := newTestCluster(t, "n1", "n2", "n3")
	k := c.keeper("n1", nil)
	done := make(chan error, 1)
	go func() { done <- k.Run(context.Background()) }()
	eventually(t, 5*time.Second, "a repair pass", func() bool { return !k.Health().RepairedAt.IsZero() })
	k.Close()
	// Run holds its lock until it returns: a Run now gets ErrClosed, not
	// ErrRunning, only if the first one is over.
	if err := k.Run(context.Background()); !errors.Is(err, repair.ErrClosed) {
		t.Errorf("Run right after Close: %v, want ErrClosed", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run returned %v after Close, want nil", err)
	}
}

func TestConfigValidate(t *testing.T) {
	c := newTestCluster(t, "n1")
	for _, tc := range []struct {
		name string
		edit func(*repair.Config)
		want string
	}{
		{"ok", func(*repair.Config) {}, ""},
		{"no node", func(cfg *repair.Config) { cfg.Node = "" }, "node's name"},
		{"no backend", func(cfg *repair.Config) { cfg.Local = nil }, "local backend"},
		{"no placer", func(cfg *repair.Config) { cfg.Placer = nil }, "placer"},
		{"no peers", func(cfg *repair.Config) { cfg.Peers = nil }, "peers"},
		{"no chunks", func(cfg *repair.Config) { cfg.Chunks = nil }, "chunks"},
		{"negative rate", func(cfg *repair.Config) { cfg.BytesPerSec = -1 }, "rates"},
		{"negative concurrency", func(cfg *repair.Config) { cfg.Concurrency = -1 }, "concurrency"},
		{"page too big", func(cfg *repair.Config) { cfg.ListLimit = 1 << 20 }, "page size"},
		{"negative grace", func(cfg *repair.Config) { cfg.GCGrace = -time.Second }, "grace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := c.config("n1")
			tc.edit(&cfg)
			_, err := repair.New(cfg)
			if tc.want == "" {
				if err != nil {
					t.Errorf("New: %v", err)
				}
				return
			}
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
	if cfg := repair.DefaultConfig(); cfg.Validate() == nil {
		t.Error("DefaultConfig without node, backend, placer, peers and chunks validated")
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

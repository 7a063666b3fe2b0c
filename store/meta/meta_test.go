package meta_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/dfsproject/dfs/store/meta"
	"github.com/dfsproject/dfs/store/meta/metatest"
)

func openDisk(t *testing.T) *meta.FSM {
	t.Helper()
	cfg := meta.DefaultConfig()
	cfg.Dir = t.TempDir()
	return open(t, cfg)
}

func openMem(t *testing.T) *meta.FSM {
	t.Helper()
	return open(t, meta.DefaultTestConfig())
}

func open(t testing.TB, cfg meta.Config) *meta.FSM {
	t.Helper()
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	f, err := meta.Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return f
}

func TestSuiteDisk(t *testing.T) {
	t.Parallel()
	metatest.Run(t, openDisk)
}

func TestSuiteMemory(t *testing.T) {
	t.Parallel()
	metatest.Run(t, openMem)
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []meta.Config{{}, {InMemory: true, Dir: "/tmp/x"}} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", cfg)
		}
		if _, err := meta.Open(cfg); err == nil {
			t.Errorf("Open(%+v) = nil error", cfg)
		}
	}
	if _, err := meta.Open(meta.Config{Dir: "/proc/version/not-a-dir"}); err == nil {
		t.Errorf("open in a bad directory succeeded")
	}
}

func TestProposeCancelled(t *testing.T) {
	f := openMem(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l := meta.NewLocal(f)
	if _, err := l.Propose(ctx, &meta.Cmd{Op: meta.OpMkdir, Parent: meta.RootIno, Name: "d"}); err != context.Canceled {
		t.Fatalf("propose with a cancelled context: %v", err)
	}
	if f.AppliedIndex() != 0 {
		t.Fatalf("cancelled command applied")
	}
	if err := l.Sync(ctx); err != context.Canceled {
		t.Fatalf("sync with a cancelled context: %v", err)
	}
	res, err := l.Propose(context.Background(), &meta.Cmd{Op: meta.OpMkdir, Parent: meta.RootIno, Name: "d"})
	if err != nil || res.Errno != 0 || res.Attr.Mtime == 0 {
		t.Fatalf("propose without Now = %+v, %v (Now should default to the clock)", res, err)
	}
}

func benchCreate(b *testing.B, f *meta.FSM) {
	l := meta.NewLocal(f)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		res, err := l.Propose(ctx, &meta.Cmd{Op: meta.OpCreate, Now: int64(i + 1), Parent: meta.RootIno,
			Name: fmt.Sprintf("file-%09d", i), Mode: 0o100644, Excl: true})
		if err != nil || res.Errno != 0 {
			b.Fatalf("create: %v %v", err, res.Errno)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkCreate measures Local.Propose of exclusive creates in one
// directory.
func BenchmarkCreate(b *testing.B) {
	b.Run("disk", func(b *testing.B) {
		cfg := meta.DefaultConfig()
		cfg.Dir = b.TempDir()
		benchCreate(b, open(b, cfg))
	})
	b.Run("disk-sync", func(b *testing.B) {
		cfg := meta.DefaultConfig()
		cfg.Dir = b.TempDir()
		cfg.SyncWrites = true
		benchCreate(b, open(b, cfg))
	})
	b.Run("memory", func(b *testing.B) {
		benchCreate(b, open(b, meta.DefaultTestConfig()))
	})
}

// Command dfsd is the dfs daemon: it keeps the namespace, stores chunks in
// a backend and mounts the filesystem through FUSE. See doc.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/dfsproject/dfs/fs"
	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is dfsd's whole life; it returns the exit status. Refusals at start
// print one line, "dfsd: <sentence>", and return 1.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "dfsd: %v\n", err)
		return 2
	}
	if cfg.showVersion {
		fmt.Fprintf(stdout, "dfsd %s\n", version)
		return 0
	}
	// A soft memory limit keeps the heap (write buffers, caches, badger's
	// tables) near its budget instead of doubling before each GC; GOMEMLIMIT
	// in the environment wins.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.memCache + cfg.maxDirty + 96<<20)
	}
	// The kernel applies the caller's umask before FUSE sees a mode; a
	// second one here would strip bits the user asked for.
	syscall.Umask(0)
	logger := newLogger(cfg, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, logger); err != nil {
		fmt.Fprintf(stderr, "dfsd: %v\n", err)
		if errors.Is(err, errRemoved) {
			return 0 // asked for: not a failure to restart after
		}
		return 1
	}
	return 0
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.logLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve opens everything in order, refusing bad set-ups with a sentence,
// serves until ctx ends or the filesystem is unmounted, then shuts down in
// reverse order, flushing every open file.
func serve(ctx context.Context, cfg *config, logger *slog.Logger) error {
	dataDir, err := filepath.Abs(cfg.dataDir)
	if err != nil {
		return fmt.Errorf("data directory %s: %v", cfg.dataDir, err)
	}
	var mountpoint string
	if cfg.mountpoint != "" {
		if mountpoint, err = checkMountpoint(cfg.mountpoint); err != nil {
			return err
		}
	}
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer lock.release()

	spec, err := store.ParseBackendURL(cfg.backend, dataDir)
	if err != nil {
		return fmt.Errorf("--backend: %v", err)
	}
	applyCredentialFlags(&spec, cfg)
	fmtWant := format{ChunkSize: cfg.chunkSize, Backend: backendLocation(spec, cfg)}
	ff, err := loadOrCreateFormat(dataDir, fmtWant, cfg.chunkSizeSet)
	if err != nil {
		return err
	}

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	backend, err := store.OpenBackend(startCtx, spec, logger)
	cancel()
	if err != nil {
		return fmt.Errorf("backend %s: %v", spec.Redacted(), err)
	}
	defer backend.Close()

	mcfg := meta.DefaultConfig()
	mcfg.Dir = filepath.Join(dataDir, "meta")
	mcfg.Logger = logger
	fsm, err := meta.Open(mcfg)
	if err != nil {
		return fmt.Errorf("metadata in %s: %v", mcfg.Dir, err)
	}
	defer fsm.Close()
	// A part that cannot go on (the cluster refused our key) ends the
	// daemon as a signal would, and its error becomes dfsd's.
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	n, err := startNode(cfg, dataDir, backend, fsm, logger, fail)
	if err != nil {
		return err
	}
	defer n.close()

	csCfg := store.DefaultChunkStoreConfig()
	csCfg.Backend = n.chunks
	csCfg.AlwaysPut = n.raft != nil
	csCfg.MemCacheBytes = cfg.memCache
	csCfg.Logger = logger
	if spec.Remote() && cfg.diskCache > 0 {
		csCfg.CacheDir = filepath.Join(dataDir, "cache")
		csCfg.CacheBytes = cfg.diskCache
	}
	chunks, err := store.NewChunkStore(csCfg)
	if err != nil {
		return fmt.Errorf("chunk store: %v", err)
	}
	defer chunks.Close()

	vcfg := vfs.DefaultConfig()
	vcfg.ChunkSize = ff.ChunkSize
	vcfg.MaxDirtyBytes = cfg.maxDirty
	vcfg.SpillDir = filepath.Join(dataDir, "spill")
	vcfg.GCGrace = cfg.gcGrace
	vcfg.Logger = logger
	if n.raft != nil {
		vcfg.Barrier = n.barrier
		vcfg.GCEnabled = n.raft.IsLeader
		vcfg.OthersHold = n.othersHold
		if cfg.gossipProfile == "test" {
			vcfg.OrphanSweep = time.Second
		}
	}
	v, err := vfs.New(vcfg, fsm, n.proposer, chunks)
	if err != nil {
		return fmt.Errorf("filesystem: %v", err)
	}
	n.vfs.Store(v)
	if err := addMetricSources(n.metrics, metricSources{Chunks: chunks.Stats, Dirty: v.DirtyBytes}); err != nil {
		closeVFS(v, logger)
		return err
	}
	// In a cluster the orphans are shared: another host may still hold
	// one open, and each host reclaims those it made when it closes them.
	if n.raft == nil {
		if err := v.ReclaimOrphans(ctx); err != nil {
			logger.Warn("reclaiming unlinked files left by the last run", "err", err)
		}
	}
	bgCtx, stopBG := context.WithCancel(context.Background())
	bgDone := make(chan error, 1)
	go func() { bgDone <- v.Run(bgCtx) }()
	defer func() {
		stopBG()
		<-bgDone
	}()

	if cfg.pprofAddr != "" {
		stopPprof, err := servePprof(cfg.pprofAddr, logger)
		if err != nil {
			closeVFS(v, logger)
			return err
		}
		defer stopPprof()
	}
	logger.Info("dfsd started", "version", version, "name", cfg.nodeName, "data", dataDir, "backend", spec.Redacted(),
		"chunk_size", ff.ChunkSize, "mount", mountpoint)

	if mountpoint == "" {
		<-ctx.Done()
		return stopErr(ctx, closeVFS(v, logger))
	}
	fcfg := fs.DefaultConfig()
	fcfg.EntryTimeout = cfg.entryTimeout
	fcfg.AttrTimeout = cfg.attrTimeout
	fcfg.NegativeTimeout = cfg.entryTimeout
	fcfg.AllowOther = cfg.allowOther && os.Geteuid() == 0
	fcfg.Debug = cfg.debugFUSE
	fcfg.FSName = "dfs"
	fcfg.Logger = logger
	m, err := fs.Mount(mountpoint, fs.Instrument(v, n.metrics), fcfg)
	if err != nil {
		closeVFS(v, logger)
		return fmt.Errorf("mount %s: %v", mountpoint, err)
	}
	logger.Info("mounted", "mountpoint", mountpoint)

	served := make(chan struct{})
	go func() {
		m.Wait()
		close(served)
	}()
	select {
	case <-ctx.Done():
		logger.Info("stopping: unmounting", "mountpoint", mountpoint, "cause", context.Cause(ctx))
		if err := m.Unmount(); err != nil {
			logger.Warn("unmount", "mountpoint", mountpoint, "err", err)
		}
		<-served
	case <-served:
		logger.Info("unmounted from outside", "mountpoint", mountpoint)
	}
	return stopErr(ctx, closeVFS(v, logger))
}

// stopErr is the error dfsd exits with: what made a part fail, else err.
func stopErr(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// closeVFS flushes every open file before the metadata store closes.
func closeVFS(v *vfs.VFS, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := v.Close(ctx); err != nil {
		return fmt.Errorf("flushing open files at shutdown: %v", err)
	}
	logger.Info("stopped cleanly")
	return nil
}

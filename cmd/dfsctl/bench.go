package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dfsproject/dfs/cmd/internal/units"
)

// dfsctl bench's defaults, as juicefs bench's.
const (
	defaultBenchWorkers   = 1
	defaultBigFiles       = 1
	defaultBigFileSize    = 1 << 30
	defaultBlockSize      = 1 << 20
	defaultSmallFiles     = 100
	defaultSmallFileSize  = 128 << 10
	maxBenchWorkers       = 64
	minBlockSize          = 1 << 10
	maxBlockSize          = 64 << 20
	maxBenchFileSize      = 1 << 40
	maxBenchFiles         = 1_000_000
	maxBenchOpsPerPhase   = 10_000_000 // latencies are kept, 8 bytes each
	benchProgressInterval = 200 * time.Millisecond
	benchBarWidth         = 24
)

// exitBenchFailed is dfsctl bench's exit status on an I/O error or an
// interruption (a usage error is exitError).
const exitBenchFailed = 1

// errBenchInterrupted is the error of a bench stopped by a signal.
var errBenchInterrupted = errors.New("bench interrupted")

// dropCachesFile is written "3" to by --drop-caches; a variable for tests.
var dropCachesFile = "/proc/sys/vm/drop_caches"

// benchPhaseHook, when set (by tests), is called before each phase starts
// and after the caches are dropped, with the bench's context and the
// bench directory.
var benchPhaseHook func(ctx context.Context, root, phase string)

const benchHelpHead = `Usage: dfsctl bench [FLAGS] DIR

Measures the filesystem DIR is on, as juicefs bench does. In a new directory
DIR/dfsctl-bench-NNN, each of the -p workers writes its own big files one block
at a time and reads them back, then writes, reads and stats its own small
files. Then it prints, for each phase, the throughput and the average and 99th
percentile latency of one block (big files: one write or read call; opens and
closes count in the throughput only) or of one file (small files: open to
close, or one stat), and removes the directory, also after an error or Ctrl-C.
It works on any directory, a dfs mount, ext4 or tmpfs, so they can be
compared.

Flags:
`

const benchHelpTail = `  --json                   print the results as JSON

SIZE is a number of bytes, or a number and a unit: 128KiB, 4MiB, 1GiB (K, M,
G and T too). -p 4 writes four times as many files as -p 1.

Writes end with close, without fsync: dfs stores a file at close, while a
local filesystem may still hold the data in memory. Reads may come from the
kernel's page cache unless --drop-caches drops it, and on dfs also from
dfsd's own cache, which it does not drop. Each block starts with a tag that
the reads check; the rest is random, so no two blocks are alike and nothing
compresses.

Exit status: 0 success; 1 an I/O error or an interruption (the phases done
are printed and the directory is removed all the same); 2 bad usage.
`

// benchFlags are dfsctl bench's own flags, as given.
type benchFlags struct {
	help          bool
	workers       int
	bigFiles      int
	smallFiles    int
	bigFileSize   string
	blockSize     string
	smallFileSize string
	dropCaches    bool
	keep          bool
}

// register adds the flags to fs. The usage strings are the help's flag
// list (see benchHelp); a back-quoted word is the value's name.
func (f *benchFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.help, "h", false, "")
	fs.BoolVar(&f.help, "help", false, "")
	fs.IntVar(&f.workers, "p", defaultBenchWorkers, "run `N` workers at once, each with its own files")
	fs.IntVar(&f.bigFiles, "big-files", defaultBigFiles, "write and read `N` big files per worker, or none with 0")
	fs.StringVar(&f.bigFileSize, "big-file-size", formatSize(defaultBigFileSize), "each big file has `SIZE` bytes")
	fs.StringVar(&f.blockSize, "block-size", formatSize(defaultBlockSize), "big files are written and read `SIZE` bytes at a time")
	fs.IntVar(&f.smallFiles, "small-files", defaultSmallFiles, "write, read and stat `N` small files per worker, or none with 0")
	fs.StringVar(&f.smallFileSize, "small-file-size", formatSize(defaultSmallFileSize), "each small file has `SIZE` bytes")
	fs.BoolVar(&f.dropCaches, "drop-caches", false,
		"before each read or stat phase, write back and drop the page, dentry and inode caches of the whole machine (root only)")
	fs.BoolVar(&f.keep, "keep", false, "keep the directory and its files")
}

// benchHelp is dfsctl bench --help: the flag list comes from the flags.
func benchHelp() string {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	f.register(fs)
	var b strings.Builder
	b.WriteString(benchHelpHead)
	fs.VisitAll(func(fl *flag.Flag) {
		if fl.Usage == "" {
			return
		}
		name, usage := flag.UnquoteUsage(fl)
		if _, isBool := fl.Value.(interface{ IsBoolFlag() bool }); !isBool {
			name = " " + name
		} else {
			name = ""
		}
		left := "-" + fl.Name + name
		if len(fl.Name) > 1 {
			left = "-" + left
		}
		if fl.DefValue != "" && fl.DefValue != "false" {
			usage += " (default " + fl.DefValue + ")"
		}
		writeWrapped(&b, left, usage)
	})
	b.WriteString(benchHelpTail)
	return b.String()
}

// writeWrapped writes a flag's line of help: left in a column of 25, the
// usage wrapped at 80 characters.
func writeWrapped(b *strings.Builder, left, usage string) {
	const col, width = 27, 80
	line := fmt.Sprintf("  %-*s", col-2, left)
	if len(left) >= col-2 {
		line += " "
	}
	first := true
	for _, w := range strings.Fields(usage) {
		if !first && len(line)+1+len(w) > width {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line, first = strings.Repeat(" ", col), true
		}
		if !first {
			line += " "
		}
		line += w
		first = false
	}
	b.WriteString(line + "\n")
}

// setupBench registers dfsctl bench's flags.
func setupBench(fs *flag.FlagSet) func(*env, []string) int {
	var f benchFlags
	f.register(fs)
	return func(e *env, args []string) int {
		if f.help {
			fmt.Fprint(e.stdout, benchHelp())
			return exitOK
		}
		cfg, err := f.config(args)
		if err != nil {
			var ioErr *benchIOError
			if errors.As(err, &ioErr) {
				fmt.Fprintf(e.stderr, "dfsctl: %v\n", err)
				return exitBenchFailed
			}
			fmt.Fprintf(e.stderr, "dfsctl: %v\n\n%s", err, benchHelp())
			return exitError
		}
		return benchMain(e, cfg)
	}
}

// runBench is dfsctl bench with args: its flags, the global ones and DIR.
func runBench(e *env, args []string) int {
	fs := newFlagSet(&e.globals)
	run := setupBench(fs)
	if err := fs.Parse(args); err != nil {
		return e.flagError(err)
	}
	return run(e, fs.Args())
}

// benchConfig is what dfsctl bench does.
type benchConfig struct {
	dir           string // absolute; the bench directory is made in it
	workers       int
	bigFiles      int // per worker
	bigFileSize   int64
	blockSize     int64
	smallFiles    int // per worker
	smallFileSize int64
	dropCaches    bool
	keep          bool
}

// benchIOError is a check of the flags that failed for want of I/O rather
// than by bad usage.
type benchIOError struct{ err error }

func (e *benchIOError) Error() string { return e.err.Error() }
func (e *benchIOError) Unwrap() error { return e.err }

// config checks the flags and DIR, each error one sentence.
func (f *benchFlags) config(args []string) (benchConfig, error) {
	c := benchConfig{workers: f.workers, bigFiles: f.bigFiles, smallFiles: f.smallFiles,
		dropCaches: f.dropCaches, keep: f.keep}
	switch len(args) {
	case 0:
		return c, errors.New("bench needs a directory to work in: dfsctl bench [FLAGS] DIR")
	case 1:
	default:
		return c, fmt.Errorf("bench takes one directory, not %d arguments (its flags go before DIR)", len(args))
	}
	for _, s := range []struct {
		name     string
		in       string
		out      *int64
		min, max int64
	}{
		{"--big-file-size", f.bigFileSize, &c.bigFileSize, 1, maxBenchFileSize},
		{"--block-size", f.blockSize, &c.blockSize, minBlockSize, maxBlockSize},
		{"--small-file-size", f.smallFileSize, &c.smallFileSize, 1, maxBenchFileSize},
	} {
		n, ok := parseSize(s.in)
		if !ok {
			return c, fmt.Errorf("%s must be a size such as 128KiB, 4MiB or 1GiB, not %q", s.name, s.in)
		}
		if n < s.min || n > s.max {
			return c, fmt.Errorf("%s must be from %s to %s, not %s", s.name, humanBytes(uint64(s.min)), humanBytes(uint64(s.max)), s.in)
		}
		*s.out = n
	}
	for _, n := range []struct {
		name     string
		v        int
		min, max int
	}{
		{"-p", c.workers, 1, maxBenchWorkers},
		{"--big-files", c.bigFiles, 0, maxBenchFiles},
		{"--small-files", c.smallFiles, 0, maxBenchFiles},
	} {
		if n.v < n.min || n.v > n.max {
			return c, fmt.Errorf("%s must be from %d to %d, not %d", n.name, n.min, n.max, n.v)
		}
	}
	if c.bigFiles == 0 && c.smallFiles == 0 {
		return c, errors.New("--big-files and --small-files are both 0: there is nothing to measure")
	}
	if ops := int64(c.workers) * int64(c.bigFiles) * c.blocksPerBigFile(); ops > maxBenchOpsPerPhase {
		return c, fmt.Errorf("the big files make %d blocks in all, more than the %d a phase may have: raise --block-size or lower --big-file-size, --big-files or -p",
			ops, maxBenchOpsPerPhase)
	}
	if ops := int64(c.workers) * int64(c.smallFiles); ops > maxBenchOpsPerPhase {
		return c, fmt.Errorf("-p %d × --small-files %d is %d files, more than the %d a phase may have", c.workers, c.smallFiles, ops, maxBenchOpsPerPhase)
	}

	dir, err := filepath.Abs(args[0])
	if err != nil {
		return c, &benchIOError{err}
	}
	c.dir = dir
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return c, fmt.Errorf("%s does not exist: bench works in an existing directory", dir)
	case err != nil:
		return c, &benchIOError{err}
	case !fi.IsDir():
		return c, fmt.Errorf("%s is not a directory", dir)
	}
	if c.dropCaches {
		// Opening it for writing changes nothing; only a write drops.
		fd, err := os.OpenFile(dropCachesFile, os.O_WRONLY, 0)
		if err != nil {
			return c, fmt.Errorf("--drop-caches needs to write to %s, which only root may do: %w", dropCachesFile, err)
		}
		fd.Close()
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Blocks > 0 {
		bsize := uint64(st.Frsize)
		if bsize == 0 {
			bsize = uint64(st.Bsize)
		}
		if need, avail := c.bytesWritten(), st.Bavail*bsize; need > avail {
			return c, &benchIOError{fmt.Errorf("the bench writes %s but %s has %s available: lower --big-file-size, --big-files, --small-files or -p",
				humanBytes(need), dir, humanBytes(avail))}
		}
	}
	return c, nil
}

func (c benchConfig) blocksPerBigFile() int64 { return (c.bigFileSize + c.blockSize - 1) / c.blockSize }

// bytesWritten is how much the bench writes in all.
func (c benchConfig) bytesWritten() uint64 {
	return uint64(c.workers) * (uint64(c.bigFiles)*uint64(c.bigFileSize) + uint64(c.smallFiles)*uint64(c.smallFileSize))
}

// parseSize parses a size as dfsd's flags do: bytes, or a number and a
// binary unit: KiB, MiB, GiB, TiB, or K, M, G, T.
func parseSize(s string) (int64, bool) {
	n, err := units.ParseBytes(s)
	return n, err == nil
}

// formatSize formats n bytes as parseSize reads them: 1GiB, 128KiB, 1000.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// benchReport is the results: the configuration and one entry per phase
// run, in order.
type benchReport struct {
	Dir           string        `json:"dir"`
	FSType        string        `json:"fs_type"`
	Workers       int           `json:"workers"`
	BigFiles      int           `json:"big_files"` // per worker
	BigFileSize   int64         `json:"big_file_size"`
	BlockSize     int64         `json:"block_size"`
	SmallFiles    int           `json:"small_files"` // per worker
	SmallFileSize int64         `json:"small_file_size"`
	DropCaches    bool          `json:"drop_caches"`
	Phases        []benchResult `json:"phases"`
}

// benchResult is one phase's figures. Ops are blocks for big files and
// files for small ones; latencies are per op.
type benchResult struct {
	Phase        string  `json:"phase"`
	Unit         string  `json:"unit"` // "block" or "file"
	Ops          int64   `json:"ops"`
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
	OpsPerSecond float64 `json:"ops_per_second"`
	MiBPerSecond float64 `json:"mib_per_second"`
	AvgLatencyMs float64 `json:"avg_latency_ms"`
	P99LatencyMs float64 `json:"p99_latency_ms"`
}

// benchMain runs the bench: it stops at SIGINT, SIGTERM or SIGHUP, removes
// its directory in any case (unless --keep), and prints what it measured,
// even after an error.
func benchMain(e *env, cfg benchConfig) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// After the first signal, a second one kills dfsctl at once.
	context.AfterFunc(ctx, stop)

	p := newBenchProgress(e.stderr)
	report, err := runBenchPhases(ctx, cfg, p)
	if len(report.Phases) > 0 {
		var werr error
		if e.json {
			werr = e.printJSON(report)
		} else {
			werr = writeBenchTable(e.stdout, report, cfg)
		}
		if werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "dfsctl: %v\n", err)
		return exitBenchFailed
	}
	return exitOK
}

// runBenchPhases makes the bench directory in cfg.dir, runs the phases in
// it and removes it unless cfg.keep. It returns the phases that ran to the
// end and the first error, which says what happened to the directory.
func runBenchPhases(ctx context.Context, cfg benchConfig, p *benchProgress) (benchReport, error) {
	report := benchReport{Dir: cfg.dir, FSType: fsType(cfg.dir), Workers: cfg.workers,
		BigFiles: cfg.bigFiles, BigFileSize: cfg.bigFileSize, BlockSize: cfg.blockSize,
		SmallFiles: cfg.smallFiles, SmallFileSize: cfg.smallFileSize, DropCaches: cfg.dropCaches,
		Phases: []benchResult{}}
	root, err := os.MkdirTemp(cfg.dir, "dfsctl-bench-")
	if err != nil {
		return report, err
	}
	p.printf("dfsctl bench: working in %s\n", root)
	err = runPhases(ctx, cfg, root, p, &report)
	if cfg.keep {
		if err != nil {
			return report, fmt.Errorf("%w (kept %s)", err, root)
		}
		p.printf("dfsctl bench: kept %s\n", root)
		return report, nil
	}
	rmErr := os.RemoveAll(root)
	switch {
	case err != nil && rmErr != nil:
		err = fmt.Errorf("%w; then could not remove %s: %v", err, root, rmErr)
	case err != nil:
		err = fmt.Errorf("%w (removed %s)", err, root)
	case rmErr != nil:
		err = fmt.Errorf("could not remove %s: %w", root, rmErr)
	}
	return report, err
}

// benchWorker is one worker: its directory, its buffer and the latencies
// of its ops in the current phase.
type benchWorker struct {
	cfg  *benchConfig
	id   int
	dir  string
	buf  []byte // one block of random data, tagged before each write
	lat  []time.Duration
	done *atomic.Int64 // ops done in the phase, by all workers
}

// benchPhase is one phase of the bench.
type benchPhase struct {
	name  string
	unit  string // "block" or "file"
	ops   int64  // per worker
	bytes int64  // per worker
	drop  bool   // a read phase: --drop-caches drops the caches before it
	// opBytes is the size of an op for the progress bar's MiB/s; 0 shows
	// ops per second instead.
	opBytes int64
	run     func(w *benchWorker, ctx context.Context) error
}

func benchPhases(cfg benchConfig) []benchPhase {
	var phases []benchPhase
	if cfg.bigFiles > 0 {
		ops, bytes := int64(cfg.bigFiles)*cfg.blocksPerBigFile(), int64(cfg.bigFiles)*cfg.bigFileSize
		phases = append(phases,
			benchPhase{"write big", "block", ops, bytes, false, cfg.blockSize, (*benchWorker).writeBig},
			benchPhase{"read big", "block", ops, bytes, true, cfg.blockSize, (*benchWorker).readBig})
	}
	if cfg.smallFiles > 0 {
		ops, bytes := int64(cfg.smallFiles), int64(cfg.smallFiles)*cfg.smallFileSize
		phases = append(phases,
			benchPhase{"write small", "file", ops, bytes, false, 0, (*benchWorker).writeSmall},
			benchPhase{"read small", "file", ops, bytes, true, 0, (*benchWorker).readSmall},
			benchPhase{"stat small", "file", ops, 0, true, 0, (*benchWorker).statSmall})
	}
	return phases
}

// runPhases runs the phases in root and adds their results to report.
func runPhases(ctx context.Context, cfg benchConfig, root string, p *benchProgress, report *benchReport) error {
	workers := make([]*benchWorker, cfg.workers)
	for i := range workers {
		w := &benchWorker{cfg: &cfg, id: i, dir: filepath.Join(root, fmt.Sprintf("w%d", i)),
			buf: make([]byte, cfg.blockSize)}
		rand.Read(w.buf)
		if err := os.Mkdir(w.dir, 0o755); err != nil {
			return err
		}
		workers[i] = w
	}
	for _, ph := range benchPhases(cfg) {
		if ctx.Err() != nil {
			return fmt.Errorf("%w before %s", errBenchInterrupted, ph.name)
		}
		if ph.drop && cfg.dropCaches {
			p.printf("dfsctl bench: dropping caches\n")
			if err := dropCaches(root); err != nil {
				return err
			}
		}
		if benchPhaseHook != nil {
			benchPhaseHook(ctx, root, ph.name)
		}
		r, err := runPhase(ctx, ph, workers, p)
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("%w in %s", errBenchInterrupted, ph.name)
		}
		if err != nil {
			return fmt.Errorf("%s failed: %w", ph.name, err)
		}
		report.Phases = append(report.Phases, r)
	}
	return nil
}

// runPhase runs ph on every worker at once and measures it.
func runPhase(ctx context.Context, ph benchPhase, workers []*benchWorker, p *benchProgress) (benchResult, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	total := ph.ops * int64(len(workers))
	var done atomic.Int64
	for _, w := range workers {
		w.lat = slices.Grow(w.lat[:0], int(ph.ops))
		w.done = &done
	}
	p.start(ph, total, len(workers), &done)
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			if err := ph.run(w, ctx); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	err := context.Cause(ctx)
	p.stop()
	if err != nil {
		return benchResult{}, err
	}
	var lat []time.Duration
	for _, w := range workers {
		lat = append(lat, w.lat...)
	}
	return phaseResult(ph, int64(len(workers)), elapsed, lat), nil
}

// phaseResult computes a phase's figures from its duration and the
// latency of each op.
func phaseResult(ph benchPhase, workers int64, elapsed time.Duration, lat []time.Duration) benchResult {
	r := benchResult{Phase: ph.name, Unit: ph.unit, Ops: int64(len(lat)), Bytes: ph.bytes * workers,
		Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		r.OpsPerSecond = float64(r.Ops) / elapsed.Seconds()
		r.MiBPerSecond = float64(r.Bytes) / (1 << 20) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		r.AvgLatencyMs = ms(sum / time.Duration(len(lat)))
		r.P99LatencyMs = ms(percentile(lat, 99))
	}
	return r
}

// percentile returns the p-th percentile of sorted by the nearest-rank
// method: the smallest value at least p% of the values are at or under.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (len(sorted)*p + 99) / 100 // ceil(n·p/100)
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Tags: the first 16 bytes of every block written say which worker, file
// and offset it is, so that no two blocks are alike and a read can check
// it got the block it asked for.
const (
	tagSize  = 16
	tagBig   = 1
	tagSmall = 2
)

func (w *benchWorker) tag(p []byte, kind uint64, file int, off int64) {
	var t [tagSize]byte
	binary.LittleEndian.PutUint64(t[0:], kind<<56|uint64(w.id)<<40|uint64(file))
	binary.LittleEndian.PutUint64(t[8:], uint64(off))
	copy(p, t[:])
}

func (w *benchWorker) bigPath(i int) string { return filepath.Join(w.dir, fmt.Sprintf("big.%d", i)) }
func (w *benchWorker) smallPath(i int) string {
	return filepath.Join(w.dir, fmt.Sprintf("small.%06d", i))
}

// writeFile creates path and writes size bytes in blocks, each tagged;
// timeBlocks records the latency of each write.
func (w *benchWorker) writeFile(ctx context.Context, path string, kind uint64, file int, size int64, timeBlocks bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	for off := int64(0); off < size; off += w.cfg.blockSize {
		if err := ctx.Err(); err != nil {
			f.Close()
			return err
		}
		p := w.buf[:min(w.cfg.blockSize, size-off)]
		w.tag(p, kind, file, off)
		start := time.Now()
		_, err := f.Write(p)
		if timeBlocks {
			w.lat = append(w.lat, time.Since(start))
			w.done.Add(1)
		}
		if err != nil {
			f.Close()
			return err
		}
	}
	// Close commits the file on dfs; no fsync, as juicefs bench.
	return f.Close()
}

// readFile reads path back in blocks, checks each block's tag and that
// the file ends where it should; timeBlocks records each read's latency.
func (w *benchWorker) readFile(ctx context.Context, path string, kind uint64, file int, size int64, timeBlocks bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var want [tagSize]byte
	for off := int64(0); off < size; off += w.cfg.blockSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := w.buf[:min(w.cfg.blockSize, size-off)]
		start := time.Now()
		n, err := io.ReadFull(f, p)
		if timeBlocks {
			w.lat = append(w.lat, time.Since(start))
			w.done.Add(1)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s: %d bytes instead of %d", path, off+int64(n), size)
		}
		if err != nil {
			return err
		}
		w.tag(want[:], kind, file, off)
		if k := min(len(p), tagSize); string(p[:k]) != string(want[:k]) {
			return fmt.Errorf("%s: the block at offset %d is not the one written there", path, off)
		}
	}
	if n, err := f.Read(w.buf[:1]); n > 0 {
		return fmt.Errorf("%s: more than the %d bytes written", path, size)
	} else if err != io.EOF {
		return fmt.Errorf("%s: no end of file after %d bytes: %v", path, size, err)
	}
	return f.Close()
}

func (w *benchWorker) writeBig(ctx context.Context) error {
	for i := range w.cfg.bigFiles {
		if err := w.writeFile(ctx, w.bigPath(i), tagBig, i, w.cfg.bigFileSize, true); err != nil {
			return err
		}
	}
	return nil
}

func (w *benchWorker) readBig(ctx context.Context) error {
	for i := range w.cfg.bigFiles {
		if err := w.readFile(ctx, w.bigPath(i), tagBig, i, w.cfg.bigFileSize, true); err != nil {
			return err
		}
	}
	return nil
}

// smallFiles runs op on each small file and records its latency.
func (w *benchWorker) smallFiles(ctx context.Context, op func(i int, path string) error) error {
	for i := range w.cfg.smallFiles {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		err := op(i, w.smallPath(i))
		w.lat = append(w.lat, time.Since(start))
		w.done.Add(1)
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *benchWorker) writeSmall(ctx context.Context) error {
	return w.smallFiles(ctx, func(i int, path string) error {
		return w.writeFile(ctx, path, tagSmall, i, w.cfg.smallFileSize, false)
	})
}

func (w *benchWorker) readSmall(ctx context.Context) error {
	return w.smallFiles(ctx, func(i int, path string) error {
		return w.readFile(ctx, path, tagSmall, i, w.cfg.smallFileSize, false)
	})
}

func (w *benchWorker) statSmall(ctx context.Context) error {
	return w.smallFiles(ctx, func(_ int, path string) error {
		fi, err := os.Stat(path)
		if err == nil && fi.Size() != w.cfg.smallFileSize {
			err = fmt.Errorf("%s: stat says %d bytes instead of %d", path, fi.Size(), w.cfg.smallFileSize)
		}
		return err
	})
}

// dropCaches writes back the filesystem dir is on and drops the page,
// dentry and inode caches of the whole machine, as
// "sync; echo 3 > /proc/sys/vm/drop_caches".
func dropCaches(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = unix.Syncfs(int(d.Fd()))
	d.Close()
	if err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	f, err := os.OpenFile(dropCachesFile, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("3\n"); err != nil {
		f.Close()
		return fmt.Errorf("drop caches: %w", err)
	}
	return f.Close()
}

// fsType returns the type of the filesystem dir is on, as
// /proc/self/mountinfo says ("ext4", "tmpfs", "fuse.dfs"), or "unknown".
func fsType(dir string) string {
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	return mountFSType(f, dir)
}

// mountFSType returns the type of the mount that holds path in a
// mountinfo table: the last one of the longest mount point over path.
func mountFSType(mountinfo io.Reader, path string) string {
	typ, best := "unknown", -1
	sc := bufio.NewScanner(mountinfo)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if len(fields) < 5 || sep < 0 || sep+1 >= len(fields) {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if !underMount(path, mp) || len(mp) < best {
			continue
		}
		typ, best = fields[sep+1], len(mp)
	}
	return typ
}

// underMount says whether path is mount point mp or under it.
func underMount(path, mp string) bool {
	return mp == "/" || path == mp || strings.HasPrefix(path, strings.TrimSuffix(mp, "/")+"/")
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 is a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// writeBenchTable prints the results as a table.
func writeBenchTable(out io.Writer, r benchReport, cfg benchConfig) error {
	t := newTextWriter(out)
	var what []string
	if cfg.bigFiles > 0 {
		what = append(what, fmt.Sprintf("%s of %s (%s blocks)", plural(cfg.bigFiles, "big file"),
			humanBytes(uint64(cfg.bigFileSize)), humanBytes(uint64(cfg.blockSize))))
	}
	if cfg.smallFiles > 0 {
		what = append(what, fmt.Sprintf("%s of %s", plural(cfg.smallFiles, "small file"), humanBytes(uint64(cfg.smallFileSize))))
	}
	each := "each with "
	if cfg.workers == 1 {
		each = "with "
	}
	fmt.Fprintf(t, "dfsctl bench in %s (%s): %s, %s%s\n", safe(r.Dir), safe(r.FSType),
		plural(cfg.workers, "worker"), each, strings.Join(what, " and "))
	caches := "reads may come from the page cache (no --drop-caches)"
	if cfg.dropCaches {
		caches = "caches dropped before each read and stat phase"
	}
	fmt.Fprintf(t, "Writes end with close, without fsync; %s.\n\n", caches)

	tw := t.table()
	fmt.Fprintln(tw, "PHASE\tOPS\tTIME\tTHROUGHPUT\tAVG LATENCY\tP99 LATENCY")
	for _, p := range r.Phases {
		rate := fmt.Sprintf("%.1f MiB/s", p.MiBPerSecond)
		if p.Unit == "file" {
			rate = fmt.Sprintf("%.0f files/s", p.OpsPerSecond)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Phase, plural(int(p.Ops), p.Unit), fmtSeconds(p.Seconds), rate,
			fmtMs(p.AvgLatencyMs), fmtMs(p.P99LatencyMs))
	}
	tw.Flush()
	fmt.Fprintf(t, "\nLatency: of one %s write or read for big files, of one file from open to close or one stat for small files.\n",
		humanBytes(uint64(cfg.blockSize)))
	return t.err
}

// fmtSeconds formats a phase's duration: 0.172 ms, 42.1 ms, 1.52s, 73.1s.
func fmtSeconds(v float64) string {
	switch {
	case v < 1:
		return fmtMs(v * 1000)
	case v < 10:
		return fmt.Sprintf("%.2fs", v)
	default:
		return fmt.Sprintf("%.1fs", v)
	}
}

// fmtMs formats milliseconds with about three significant digits.
func fmtMs(v float64) string {
	switch {
	case v < 0.01:
		return fmt.Sprintf("%.4f ms", v)
	case v < 1:
		return fmt.Sprintf("%.3f ms", v)
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.0f ms", v)
	}
}

// benchProgress shows the phases on stderr: a progress bar redrawn while
// a phase runs when stderr is a terminal, else one line as it starts.
type benchProgress struct {
	w   io.Writer
	tty bool

	// The current phase.
	name    string
	unit    string
	opBytes int64
	total   int64
	done    *atomic.Int64
	begin   time.Time
	quit    chan struct{}
	wg      sync.WaitGroup
}

func newBenchProgress(w io.Writer) *benchProgress {
	return &benchProgress{w: w, tty: isTerminal(w)}
}

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func (p *benchProgress) printf(format string, args ...any) { fmt.Fprintf(p.w, format, args...) }

// start shows that phase ph begins, with total ops, and redraws the bar
// until stop.
func (p *benchProgress) start(ph benchPhase, total int64, workers int, done *atomic.Int64) {
	p.name, p.unit, p.opBytes, p.total, p.done, p.begin = ph.name, ph.unit, ph.opBytes, total, done, time.Now()
	if !p.tty {
		p.printf("dfsctl bench: %s: %s by %s\n", ph.name, plural(int(total), ph.unit), plural(workers, "worker"))
		return
	}
	p.quit = make(chan struct{})
	p.wg.Go(func() {
		t := time.NewTicker(benchProgressInterval)
		defer t.Stop()
		for {
			p.printf("\r\x1b[K%s", p.bar())
			select {
			case <-p.quit:
				return
			case <-t.C:
			}
		}
	})
}

// stop ends the phase's bar where the phase stopped.
func (p *benchProgress) stop() {
	if !p.tty {
		return
	}
	close(p.quit)
	p.wg.Wait()
	p.printf("\r\x1b[K%s\n", p.bar())
}

// bar is the progress line of the current phase.
func (p *benchProgress) bar() string {
	return progressBar(p.name, p.unit, p.opBytes, p.done.Load(), p.total, time.Since(p.begin))
}

// progressBar renders "write big    [#####.......]  42%  430/1024 blocks  512 MiB/s":
// the rate is in MiB/s when an op is opBytes, else in ops per second.
func progressBar(name, unit string, opBytes, done, total int64, elapsed time.Duration) string {
	frac := 1.0
	if total > 0 {
		frac = float64(min(done, total)) / float64(total)
	}
	n := int(frac * benchBarWidth)
	s := fmt.Sprintf("%-11s  [%s%s] %3.0f%%  %d/%s", name, strings.Repeat("#", n), strings.Repeat(".", benchBarWidth-n),
		100*frac, done, plural(int(total), unit))
	switch {
	case elapsed <= 0 || done == 0:
	case opBytes > 0:
		s += fmt.Sprintf("  %.0f MiB/s", float64(done*opBytes)/(1<<20)/elapsed.Seconds())
	default:
		s += fmt.Sprintf("  %.0f %ss/s", float64(done)/elapsed.Seconds(), unit)
	}
	return s
}

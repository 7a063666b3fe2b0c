package fs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/dfsproject/dfs/fs"
	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// newMemVFS is a single-node vfs.VFS on in-memory metadata and a memory
// chunk store.
func newMemVFS(t *testing.T) *vfs.VFS {
	t.Helper()
	fsm, err := meta.Open(meta.DefaultTestConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsm.Close() })
	cs, err := store.NewChunkStore(store.ChunkStoreConfig{Backend: store.NewMemory(), MemCacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	cfg := vfs.DefaultTestConfig()
	cfg.SpillDir = t.TempDir()
	cfg.Logger = slog.New(slog.DiscardHandler)
	v, err := vfs.New(cfg, fsm, meta.NewLocal(fsm), cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close(context.Background()) })
	return v
}

// sample finds the metric of family name whose labels are exactly labels
// ("k=v" pairs); nil when there is none.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels ...string) *dto.Metric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, lp := range m.GetLabel() {
				got = append(got, lp.GetName()+"="+lp.GetValue())
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(labels))
			if slices.Equal(got, want) {
				return m
			}
		}
	}
	return nil
}

// counter is the value of a counter sample, failing the test when it is
// missing.
func counter(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	m := sample(t, g, name, labels...)
	if m == nil || m.GetCounter() == nil {
		t.Fatalf("no counter %s%v", name, labels)
	}
	return m.GetCounter().GetValue()
}

// histCount is the number of observations of a histogram sample.
func histCount(t *testing.T, g prometheus.Gatherer, name string, labels ...string) uint64 {
	t.Helper()
	m := sample(t, g, name, labels...)
	if m == nil || m.GetHistogram() == nil {
		t.Fatalf("no histogram %s%v", name, labels)
	}
	return m.GetHistogram().GetSampleCount()
}

func TestInstrumentMetricsOnVFS(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewPedanticRegistry()
	v := fs.Instrument(newMemVFS(t), reg)
	c := vfs.Caller{}

	if _, err := v.Lookup(ctx, meta.RootIno, "missing"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("lookup of a missing name: %v, want ENOENT", err)
	}
	a, h, err := v.Create(ctx, c, meta.RootIno, "f", 0o644, syscall.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello, metrics")
	if n, err := v.Write(ctx, h, data, 0); err != nil || n != len(data) {
		t.Fatalf("write: %d, %v", n, err)
	}
	buf := make([]byte, 100)
	if n, err := v.Read(ctx, h, buf, 0); err != nil || n != len(data) {
		t.Fatalf("read: %d, %v", n, err)
	}
	if err := v.Flush(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := v.Release(ctx, h); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := v.GetAttr(ctx, a.Ino); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Mkdir(ctx, c, meta.RootIno, "f", 0o755); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("mkdir over a file: %v, want EEXIST", err)
	}
	kt, ok := v.(vfs.KernelTracker)
	if !ok {
		t.Fatal("the instrumented *vfs.VFS is not a vfs.KernelTracker any more: the fs layer would never tell it of kernel references")
	}
	kt.Remember(a.Ino)
	kt.Forget(ctx, a.Ino)

	for _, tc := range []struct {
		op   string
		want float64
	}{
		{"lookup", 1}, {"create", 1}, {"write", 1}, {"read", 1}, {"flush", 1},
		{"release", 1}, {"getattr", 3}, {"mkdir", 1}, {"forget", 1},
	} {
		if got := counter(t, reg, "dfs_fuse_operations_total", "op="+tc.op); got != tc.want {
			t.Errorf("dfs_fuse_operations_total{op=%q} = %v, want %v", tc.op, got, tc.want)
		}
		if got := histCount(t, reg, "dfs_fuse_operation_duration_seconds", "op="+tc.op); got != uint64(tc.want) {
			t.Errorf("dfs_fuse_operation_duration_seconds{op=%q} has %d observations, want %v", tc.op, got, tc.want)
		}
	}
	// Every operation has its series from the start, at zero.
	if got := counter(t, reg, "dfs_fuse_operations_total", "op=rename"); got != 0 {
		t.Errorf("rename count %v, want 0", got)
	}
	if got := counter(t, reg, "dfs_fuse_operation_errors_total", "op=lookup", "errno=ENOENT"); got != 1 {
		t.Errorf("lookup ENOENT errors = %v, want 1", got)
	}
	if got := counter(t, reg, "dfs_fuse_operation_errors_total", "op=mkdir", "errno=EEXIST"); got != 1 {
		t.Errorf("mkdir EEXIST errors = %v, want 1", got)
	}
	if m := sample(t, reg, "dfs_fuse_operation_errors_total", "op=getattr", "errno=ENOENT"); m != nil {
		t.Errorf("an error series for getattr, which never failed: %v", m)
	}
	if got := counter(t, reg, "dfs_fuse_written_bytes_total"); got != float64(len(data)) {
		t.Errorf("written bytes %v, want %d", got, len(data))
	}
	if got := counter(t, reg, "dfs_fuse_read_bytes_total"); got != float64(len(data)) {
		t.Errorf("read bytes %v, want %d", got, len(data))
	}
	lint(t, reg)
}

// lint fails the test for every metric of g that breaks Prometheus
// conventions (promlint: names, units, _total on counters, help).
func lint(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s breaks Prometheus conventions: %s", p.Metric, p.Text)
	}
}

// fakeFS is a vfs.FileSystem that answers GetAttr and Lookup with fixed
// results and is not a vfs.KernelTracker. Other methods are not
// implemented (they panic).
type fakeFS struct {
	vfs.FileSystem
	err error
}

func (f *fakeFS) GetAttr(_ context.Context, ino meta.Ino) (meta.Attr, error) {
	return meta.Attr{Ino: ino, Mode: syscall.S_IFREG | 0o644}, f.err
}

func (f *fakeFS) Lookup(context.Context, meta.Ino, string) (meta.Attr, error) {
	return meta.Attr{}, syscall.ENOENT
}

// trackerFS is fakeFS with the vfs.KernelTracker ability.
type trackerFS struct {
	fakeFS
	remembered, forgotten []meta.Ino
}

func (f *trackerFS) Remember(ino meta.Ino)                  { f.remembered = append(f.remembered, ino) }
func (f *trackerFS) Forget(_ context.Context, ino meta.Ino) { f.forgotten = append(f.forgotten, ino) }

func TestInstrumentMetricKeepsOptionalAbilities(t *testing.T) {
	plain := fs.Instrument(&fakeFS{}, prometheus.NewRegistry())
	if _, ok := plain.(vfs.KernelTracker); ok {
		t.Error("Instrument gave a vfs.KernelTracker for a FileSystem that is not one")
	}
	tr := &trackerFS{}
	reg := prometheus.NewRegistry()
	kt, ok := fs.Instrument(tr, reg).(vfs.KernelTracker)
	if !ok {
		t.Fatal("Instrument lost the vfs.KernelTracker ability")
	}
	kt.Remember(7)
	kt.Forget(context.Background(), 7)
	kt.Forget(context.Background(), 8)
	if !slices.Equal(tr.remembered, []meta.Ino{7}) || !slices.Equal(tr.forgotten, []meta.Ino{7, 8}) {
		t.Errorf("passed on Remember %v and Forget %v, want [7] and [7 8]", tr.remembered, tr.forgotten)
	}
	if got := counter(t, reg, "dfs_fuse_operations_total", "op=forget"); got != 2 {
		t.Errorf("forget count %v, want 2", got)
	}
	if fs.Instrument(tr, nil) != vfs.FileSystem(tr) {
		t.Error("Instrument with no registry did not return the FileSystem itself")
	}
}

func TestInstrumentMetricErrnoLabels(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{syscall.ENOENT, "ENOENT"},
		{fmt.Errorf("write chunk: %w", syscall.ENOSPC), "ENOSPC"},
		{syscall.ENOSYS, "EOPNOTSUPP"}, // as toErrno: the kernel never gets ENOSYS
		{syscall.ENODATA, "ENODATA"},
		{context.Canceled, "EINTR"},
		{fmt.Errorf("barrier: %w", context.DeadlineExceeded), "EINTR"},
		{errors.New("backend exploded"), "EIO"},
		{syscall.Errno(0), "EIO"},
		{syscall.Errno(4000), "errno4000"},
	} {
		t.Run(tc.want+"/"+strings.ReplaceAll(tc.err.Error(), " ", "_"), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			v := fs.Instrument(&fakeFS{err: tc.err}, reg)
			for range 2 {
				if _, err := v.GetAttr(context.Background(), 5); err != tc.err {
					t.Fatalf("GetAttr returned %v, want the error of the layer below unchanged (%v)", err, tc.err)
				}
			}
			if got := counter(t, reg, "dfs_fuse_operation_errors_total", "op=getattr", "errno="+tc.want); got != 2 {
				t.Errorf("errors{op=getattr,errno=%s} = %v, want 2", tc.want, got)
			}
		})
	}
}

func TestInstrumentMetricTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := fs.Instrument(&fakeFS{}, reg)
	b := fs.Instrument(&fakeFS{}, reg) // must not panic: the collectors are shared
	ctx := context.Background()
	a.GetAttr(ctx, 2)
	b.GetAttr(ctx, 2)
	if got := counter(t, reg, "dfs_fuse_operations_total", "op=getattr"); got != 2 {
		t.Errorf("getattr count %v over two instrumented filesystems, want 2", got)
	}

	// A metric of the same name but another shape is a bug: it panics.
	bad := prometheus.NewRegistry()
	bad.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "dfs_fuse_read_bytes_total", Help: "x"}))
	defer func() {
		if recover() == nil {
			t.Error("Instrument over a conflicting metric did not panic")
		}
	}()
	fs.Instrument(&fakeFS{}, bad)
}

func TestInstrumentMetricAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	v := fs.Instrument(&fakeFS{}, prometheus.NewRegistry())
	v.Lookup(ctx, 1, "x") // makes the ENOENT series
	if n := testing.AllocsPerRun(100, func() { v.GetAttr(ctx, 2) }); n != 0 {
		t.Errorf("an instrumented GetAttr allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { v.Lookup(ctx, 1, "x") }); n != 0 {
		t.Errorf("an instrumented failing Lookup allocates %v times, want 0", n)
	}
}

// BenchmarkMetricGetAttr is the decorator's overhead on the cheapest call.
func BenchmarkMetricGetAttr(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		v    vfs.FileSystem
	}{
		{"plain", &fakeFS{}},
		{"instrumented", fs.Instrument(&fakeFS{}, prometheus.NewRegistry())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.v.GetAttr(ctx, 2)
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bc.v.GetAttr(ctx, 2)
				}
			})
		})
	}
}

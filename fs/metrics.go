package fs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store/meta"
)

// Instrument returns v with every call of vfs.FileSystem counted and timed
// in reg, for Prometheus:
//
//	dfs_fuse_operations_total{op}                counter
//	dfs_fuse_operation_errors_total{op,errno}    counter
//	dfs_fuse_operation_duration_seconds{op}      histogram, 50µs to 10s
//	dfs_fuse_read_bytes_total                    counter
//	dfs_fuse_written_bytes_total                 counter
//
// op is the lower-case method name (lookup, getattr, read, ...; forget for
// vfs.KernelTracker's Forget). errno is the name of the errno the kernel
// gets for the error, as toErrno makes it (ENOENT, EIO, EINTR for an
// interrupted call ...), except that ENOENT stays ENOENT where the node
// layer sends ESTALE (inodeErrno). A lookup's ENOENT is counted too: it is
// normal, but its rate says how much negative lookups cost.
//
// Pass the result to Mount in place of v. It keeps v's optional abilities
// that this package looks for (vfs.KernelTracker): it has one exactly when
// v has. The series of every op are made here (an error's at its first
// occurrence), so a call costs two monotonic clock reads and a few atomic
// adds, about 120 ns, and allocates nothing; an error costs one map
// look-up more.
//
// The collectors are registered in reg; ones already there with the same
// description (Instrument called twice on one registry) are shared. A nil
// reg returns v itself. Instrument panics if reg refuses a collector for
// another reason (a metric of the same name and another shape): a bug,
// like prometheus.MustRegister's.
func Instrument(v vfs.FileSystem, reg prometheus.Registerer) vfs.FileSystem {
	if reg == nil {
		return v
	}
	m := newFuseMetrics(reg)
	f := &instrumented{v: v, read: m.read, written: m.written}
	for o := range numOps {
		s, name := &f.ops[o], opNames[o]
		s.name, s.errs = name, m.errs
		s.calls, s.dur = m.calls.WithLabelValues(name), m.dur.WithLabelValues(name)
	}
	if kt, ok := v.(vfs.KernelTracker); ok {
		return &instrumentedTracker{instrumented: f, kt: kt}
	}
	return f
}

// fuseMetrics are the collectors behind Instrument.
type fuseMetrics struct {
	calls   *prometheus.CounterVec
	errs    *prometheus.CounterVec
	dur     *prometheus.HistogramVec
	read    prometheus.Counter
	written prometheus.Counter
}

// fuseDurationBuckets go from 50µs (a cached getattr) to 10s (a write
// waiting for a slow backend), about three per decade.
var fuseDurationBuckets = []float64{
	50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
	1, 2.5, 5, 10,
}

func newFuseMetrics(reg prometheus.Registerer) *fuseMetrics {
	return &fuseMetrics{
		calls: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dfs_fuse_operations_total",
			Help: "Filesystem operations handled, by operation.",
		}, []string{"op"})),
		errs: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dfs_fuse_operation_errors_total",
			Help: "Filesystem operations that failed, by operation and the errno returned (ENOENT of lookups included).",
		}, []string{"op", "errno"})),
		dur: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dfs_fuse_operation_duration_seconds",
			Help:    "Time the filesystem layer took to handle an operation, by operation.",
			Buckets: fuseDurationBuckets,
		}, []string{"op"})),
		read: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dfs_fuse_read_bytes_total",
			Help: "Bytes returned by read operations.",
		})),
		written: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dfs_fuse_written_bytes_total",
			Help: "Bytes accepted by write operations.",
		})),
	}
}

// register registers c in reg, or returns the equal collector registered
// already.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(C); ok {
			return old
		}
	}
	panic(fmt.Sprintf("fs: registering the FUSE metrics: %v", err))
}

// epoch is the origin of now.
var epoch = time.Now()

// now is the monotonic time since epoch: half the cost of time.Now, which
// reads the wall clock too.
func now() time.Duration { return time.Since(epoch) }

// fuseOp indexes instrumented.ops.
type fuseOp int

const (
	opLookup fuseOp = iota
	opGetAttr
	opSetAttr
	opCreate
	opTmpfile
	opMknod
	opMkdir
	opSymlink
	opLink
	opReadlink
	opUnlink
	opRmdir
	opRename
	opReadDir
	opOpen
	opRead
	opWrite
	opFlush
	opFsync
	opRelease
	opFallocate
	opLseek
	opGetXattr
	opListXattr
	opSetXattr
	opRemoveXattr
	opStatFS
	opForget
	numOps
)

// opNames are the values of the op label.
var opNames = [numOps]string{
	opLookup:      "lookup",
	opGetAttr:     "getattr",
	opSetAttr:     "setattr",
	opCreate:      "create",
	opTmpfile:     "tmpfile",
	opMknod:       "mknod",
	opMkdir:       "mkdir",
	opSymlink:     "symlink",
	opLink:        "link",
	opReadlink:    "readlink",
	opUnlink:      "unlink",
	opRmdir:       "rmdir",
	opRename:      "rename",
	opReadDir:     "readdir",
	opOpen:        "open",
	opRead:        "read",
	opWrite:       "write",
	opFlush:       "flush",
	opFsync:       "fsync",
	opRelease:     "release",
	opFallocate:   "fallocate",
	opLseek:       "lseek",
	opGetXattr:    "getxattr",
	opListXattr:   "listxattr",
	opSetXattr:    "setxattr",
	opRemoveXattr: "removexattr",
	opStatFS:      "statfs",
	opForget:      "forget",
}

// opStats are one operation's label children. Safe for concurrent use.
type opStats struct {
	name  string
	calls prometheus.Counter
	dur   prometheus.Observer
	errs  *prometheus.CounterVec
	byErr sync.Map // syscall.Errno → prometheus.Counter, made at the first such error
}

// done records a call that started at start (a now()) and returned err.
func (o *opStats) done(start time.Duration, err error) {
	o.calls.Inc()
	o.dur.Observe((now() - start).Seconds())
	if err != nil {
		o.failed(errnoOf(err))
	}
}

func (o *opStats) failed(e syscall.Errno) {
	c, ok := o.byErr.Load(e)
	if !ok {
		c, _ = o.byErr.LoadOrStore(e, o.errs.WithLabelValues(o.name, errnoName(e)))
	}
	c.(prometheus.Counter).Inc()
}

// errnoName is e's symbolic name ("ENOENT"), or "errno" and its number.
func errnoName(e syscall.Errno) string {
	if e == syscall.EOPNOTSUPP {
		return "EOPNOTSUPP" // also ENOTSUP on Linux, which ErrnoName prefers
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return fmt.Sprintf("errno%d", uintptr(e))
}

// instrumented is vfs.FileSystem v with its calls recorded.
type instrumented struct {
	v       vfs.FileSystem
	ops     [numOps]opStats
	read    prometheus.Counter
	written prometheus.Counter
}

var _ vfs.FileSystem = (*instrumented)(nil)

// instrumentedTracker is instrumented over a v that is a
// vfs.KernelTracker, which it stays.
type instrumentedTracker struct {
	*instrumented
	kt vfs.KernelTracker
}

var _ vfs.KernelTracker = (*instrumentedTracker)(nil)

// Remember is not a FUSE operation (the node layer calls it as it makes a
// node) and is not recorded.
func (f *instrumentedTracker) Remember(ino meta.Ino) { f.kt.Remember(ino) }

func (f *instrumentedTracker) Forget(ctx context.Context, ino meta.Ino) {
	start := now()
	f.kt.Forget(ctx, ino)
	f.ops[opForget].done(start, nil)
}

func (f *instrumented) Lookup(ctx context.Context, parent meta.Ino, name string) (meta.Attr, error) {
	start := now()
	a, err := f.v.Lookup(ctx, parent, name)
	f.ops[opLookup].done(start, err)
	return a, err
}

func (f *instrumented) GetAttr(ctx context.Context, ino meta.Ino) (meta.Attr, error) {
	start := now()
	a, err := f.v.GetAttr(ctx, ino)
	f.ops[opGetAttr].done(start, err)
	return a, err
}

func (f *instrumented) SetAttr(ctx context.Context, c vfs.Caller, ino meta.Ino, in vfs.SetAttrIn) (meta.Attr, error) {
	start := now()
	a, err := f.v.SetAttr(ctx, c, ino, in)
	f.ops[opSetAttr].done(start, err)
	return a, err
}

func (f *instrumented) Create(ctx context.Context, c vfs.Caller, parent meta.Ino, name string, mode uint32, flags uint32) (meta.Attr, *vfs.Handle, error) {
	start := now()
	a, h, err := f.v.Create(ctx, c, parent, name, mode, flags)
	f.ops[opCreate].done(start, err)
	return a, h, err
}

func (f *instrumented) Tmpfile(ctx context.Context, c vfs.Caller, parent meta.Ino, mode uint32, flags uint32) (meta.Attr, *vfs.Handle, error) {
	start := now()
	a, h, err := f.v.Tmpfile(ctx, c, parent, mode, flags)
	f.ops[opTmpfile].done(start, err)
	return a, h, err
}

func (f *instrumented) Mknod(ctx context.Context, c vfs.Caller, parent meta.Ino, name string, mode, rdev uint32) (meta.Attr, error) {
	start := now()
	a, err := f.v.Mknod(ctx, c, parent, name, mode, rdev)
	f.ops[opMknod].done(start, err)
	return a, err
}

func (f *instrumented) Mkdir(ctx context.Context, c vfs.Caller, parent meta.Ino, name string, mode uint32) (meta.Attr, error) {
	start := now()
	a, err := f.v.Mkdir(ctx, c, parent, name, mode)
	f.ops[opMkdir].done(start, err)
	return a, err
}

func (f *instrumented) Symlink(ctx context.Context, c vfs.Caller, parent meta.Ino, name, target string) (meta.Attr, error) {
	start := now()
	a, err := f.v.Symlink(ctx, c, parent, name, target)
	f.ops[opSymlink].done(start, err)
	return a, err
}

func (f *instrumented) Link(ctx context.Context, ino, newParent meta.Ino, newName string) (meta.Attr, error) {
	start := now()
	a, err := f.v.Link(ctx, ino, newParent, newName)
	f.ops[opLink].done(start, err)
	return a, err
}

func (f *instrumented) Readlink(ctx context.Context, ino meta.Ino) (string, error) {
	start := now()
	s, err := f.v.Readlink(ctx, ino)
	f.ops[opReadlink].done(start, err)
	return s, err
}

func (f *instrumented) Unlink(ctx context.Context, parent meta.Ino, name string) error {
	start := now()
	err := f.v.Unlink(ctx, parent, name)
	f.ops[opUnlink].done(start, err)
	return err
}

func (f *instrumented) Rmdir(ctx context.Context, parent meta.Ino, name string) error {
	start := now()
	err := f.v.Rmdir(ctx, parent, name)
	f.ops[opRmdir].done(start, err)
	return err
}

func (f *instrumented) Rename(ctx context.Context, parent meta.Ino, name string, newParent meta.Ino, newName string, flags uint32) error {
	start := now()
	err := f.v.Rename(ctx, parent, name, newParent, newName, flags)
	f.ops[opRename].done(start, err)
	return err
}

func (f *instrumented) ReadDir(ctx context.Context, ino meta.Ino) ([]meta.DirEntry, error) {
	start := now()
	es, err := f.v.ReadDir(ctx, ino)
	f.ops[opReadDir].done(start, err)
	return es, err
}

func (f *instrumented) Open(ctx context.Context, c vfs.Caller, ino meta.Ino, flags uint32) (*vfs.Handle, error) {
	start := now()
	h, err := f.v.Open(ctx, c, ino, flags)
	f.ops[opOpen].done(start, err)
	return h, err
}

func (f *instrumented) Read(ctx context.Context, h *vfs.Handle, dest []byte, off int64) (int, error) {
	start := now()
	n, err := f.v.Read(ctx, h, dest, off)
	f.ops[opRead].done(start, err)
	if n > 0 {
		f.read.Add(float64(n))
	}
	return n, err
}

func (f *instrumented) Write(ctx context.Context, h *vfs.Handle, data []byte, off int64) (int, error) {
	start := now()
	n, err := f.v.Write(ctx, h, data, off)
	f.ops[opWrite].done(start, err)
	if n > 0 {
		f.written.Add(float64(n))
	}
	return n, err
}

func (f *instrumented) Flush(ctx context.Context, h *vfs.Handle) error {
	start := now()
	err := f.v.Flush(ctx, h)
	f.ops[opFlush].done(start, err)
	return err
}

func (f *instrumented) Fsync(ctx context.Context, h *vfs.Handle, dataOnly bool) error {
	start := now()
	err := f.v.Fsync(ctx, h, dataOnly)
	f.ops[opFsync].done(start, err)
	return err
}

func (f *instrumented) Release(ctx context.Context, h *vfs.Handle) error {
	start := now()
	err := f.v.Release(ctx, h)
	f.ops[opRelease].done(start, err)
	return err
}

func (f *instrumented) Fallocate(ctx context.Context, h *vfs.Handle, off, length uint64, mode uint32) error {
	start := now()
	err := f.v.Fallocate(ctx, h, off, length, mode)
	f.ops[opFallocate].done(start, err)
	return err
}

func (f *instrumented) Lseek(ctx context.Context, h *vfs.Handle, off int64, whence int) (int64, error) {
	start := now()
	n, err := f.v.Lseek(ctx, h, off, whence)
	f.ops[opLseek].done(start, err)
	return n, err
}

func (f *instrumented) GetXattr(ctx context.Context, ino meta.Ino, name string) ([]byte, error) {
	start := now()
	b, err := f.v.GetXattr(ctx, ino, name)
	f.ops[opGetXattr].done(start, err)
	return b, err
}

func (f *instrumented) ListXattr(ctx context.Context, ino meta.Ino) ([]string, error) {
	start := now()
	names, err := f.v.ListXattr(ctx, ino)
	f.ops[opListXattr].done(start, err)
	return names, err
}

func (f *instrumented) SetXattr(ctx context.Context, ino meta.Ino, name string, value []byte, flags uint32) error {
	start := now()
	err := f.v.SetXattr(ctx, ino, name, value, flags)
	f.ops[opSetXattr].done(start, err)
	return err
}

func (f *instrumented) RemoveXattr(ctx context.Context, ino meta.Ino, name string) error {
	start := now()
	err := f.v.RemoveXattr(ctx, ino, name)
	f.ops[opRemoveXattr].done(start, err)
	return err
}

func (f *instrumented) StatFS(ctx context.Context) (vfs.StatFS, error) {
	start := now()
	s, err := f.v.StatFS(ctx)
	f.ops[opStatFS].done(start, err)
	return s, err
}

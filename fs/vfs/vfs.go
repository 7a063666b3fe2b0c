package vfs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// VFS is the filesystem semantics layer over a metadata replica and a
// chunk store. It implements FileSystem; all methods are safe for
// concurrent use.
type VFS struct {
	cfg     Config
	csize   int64 // cfg.ChunkSize
	log     *slog.Logger
	r       meta.Reader
	p       meta.Proposer
	cs      *store.ChunkStore
	mem     *dirtyMem
	spill   *spillFile
	pending *pendingChunks
	recent  *recentChunks
	bufPool sync.Pool // of *[]byte with cap ChunkSize

	upSem    chan struct{} // one token per running upload
	readback chan struct{} // one token: a flush reading a spilled slot over the memory bound
	raSem    chan struct{} // one token per running read-ahead

	bg       context.Context // uploads and read-ahead; cancelled by Close
	bgCancel context.CancelFunc
	tasks    tasks // uploads and read-aheads

	mu         sync.Mutex // leaf lock: files, file.refs, kernel, orphans, reclaiming, closed
	files      map[meta.Ino]*file
	kernel     map[meta.Ino]int      // kernel references (KernelTracker)
	orphans    map[meta.Ino]struct{} // unlinked, waiting for their last handle or kernel reference
	reclaiming map[meta.Ino]struct{} // OpReclaim decided or in flight: opens fail
	// unheld are the orphans no host held at the last sweep (only the
	// goroutine of Run touches it).
	unheld map[meta.Ino]bool
	closed bool

	logged sync.Map // keys of errors logged once
}

// Handle is one open file description. Handles of one inode share the
// inode's open state, so they see each other's writes at once.
type Handle struct {
	f        *file
	read     bool
	write    bool
	append   bool
	released bool         // guarded by f.mu
	lastEnd  atomic.Int64 // end of the last read, for read-ahead
}

// syncer is the optional ability of a Proposer to make applied commands
// durable (meta.NewLocal has it).
type syncer interface {
	Sync(ctx context.Context) error
}

// New returns a VFS over the metadata reader r, the proposer p and the
// chunk store cs. It copies cfg.
func New(cfg Config, r meta.Reader, p meta.Proposer, cs *store.ChunkStore) (*VFS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if r == nil || p == nil || cs == nil {
		return nil, errors.New("vfs needs a metadata reader, a proposer and a chunk store")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bg, cancel := context.WithCancel(context.Background())
	v := &VFS{
		cfg:        cfg,
		csize:      cfg.ChunkSize,
		log:        log,
		r:          r,
		p:          p,
		cs:         cs,
		mem:        newDirtyMem(cfg.MaxDirtyBytes),
		spill:      newSpillFile(cfg.SpillDir, cfg.ChunkSize),
		pending:    newPendingChunks(cfg.MaxDirtyBytes),
		recent:     newRecentChunks(int64(cfg.ReadAheadChunks+2) * cfg.ChunkSize),
		upSem:      make(chan struct{}, cfg.UploadConcurrency),
		readback:   make(chan struct{}, 1),
		raSem:      make(chan struct{}, max(cfg.ReadAheadChunks, 1)),
		bg:         bg,
		bgCancel:   cancel,
		files:      make(map[meta.Ino]*file),
		kernel:     make(map[meta.Ino]int),
		orphans:    make(map[meta.Ino]struct{}),
		reclaiming: make(map[meta.Ino]struct{}),
	}
	return v, nil
}

// Close flushes every open file and waits for the uploads and read-aheads
// in flight. Files stay open (their handles still work for reading), but
// new opens and writes fail with EIO. It returns the first flush error. It
// is idempotent.
func (v *VFS) Close(ctx context.Context) error {
	v.mu.Lock()
	v.closed = true
	files := make([]*file, 0, len(v.files))
	for _, f := range v.files {
		files = append(files, f)
	}
	v.mu.Unlock()
	var first error
	for _, f := range files {
		f.mu.Lock()
		err := v.flushLocked(ctx, f)
		f.mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
	}
	done := v.tasks.wait()
	select {
	case <-done:
	case <-ctx.Done():
		v.bgCancel()
		<-done
		if first == nil {
			first = syscall.EINTR
		}
	}
	v.bgCancel()
	if v.spill.idle() {
		if err := v.spill.close(); err != nil {
			v.log.Warn("vfs: close spill file", slog.Any("err", err))
		}
	}
	return first
}

func (v *VFS) isClosed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.closed
}

// logOnce logs err under key the first time only.
func (v *VFS) logOnce(key string, err error) {
	if _, loaded := v.logged.LoadOrStore(key, true); !loaded {
		v.log.Error("vfs: "+key, slog.Any("err", err))
	}
}

// propose applies cmd and turns its outcome into an error: the Result's
// errno, or EIO/EINTR for a failure to apply.
func (v *VFS) propose(ctx context.Context, cmd *meta.Cmd) (*meta.Result, error) {
	if cmd.Now == 0 {
		cmd.Now = time.Now().UnixNano()
	}
	res, err := v.p.Propose(ctx, cmd)
	if err != nil {
		return nil, v.errno(fmt.Sprintf("propose op %d", cmd.Op), err)
	}
	if res == nil {
		return nil, v.errno("propose", errors.New("proposer returned no result"))
	}
	if res.Errno != 0 {
		return res, res.Errno
	}
	return res, nil
}

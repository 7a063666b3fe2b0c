package fs

import (
	"errors"
	"log/slog"
	"time"
)

// Config configures a mount. Mount copies it; the caller's value is never
// changed.
type Config struct {
	// EntryTimeout is how long the kernel may cache a name → inode
	// binding, AttrTimeout how long it may cache attributes, and
	// NegativeTimeout how long it may remember that a name does not
	// exist. They bound how long a change made on another host can stay
	// unseen here (close-to-open consistency holds regardless: open waits
	// for this host's metadata copy to catch up). Zero disables the cache.
	EntryTimeout    time.Duration
	AttrTimeout     time.Duration
	NegativeTimeout time.Duration

	// MaxWrite is the largest READ or WRITE request the kernel sends, in
	// bytes: a multiple of 4 KiB from 4 KiB to 16 MiB. The kernel caps it
	// at its own limit (/proc/sys/fs/fuse/max_pages_limit pages, 1 MiB by
	// default).
	MaxWrite int

	// AllowOther lets users other than the one who mounted use the
	// filesystem (the kernel still checks permissions: the mount uses
	// default_permissions). Without root it needs user_allow_other in
	// /etc/fuse.conf.
	AllowOther bool

	// FSName is the "source" shown by mount(8) and df(1). Default "dfs".
	FSName string

	// InterruptGrace is how long a request may go on after the kernel
	// interrupted it (the calling process got a signal) before the vfs
	// layer sees its context cancelled and it fails with EINTR; zero
	// means the default, 2 s. Runtime signals (Go's SIGURG) interrupt
	// requests all the time and must not fail them, while a Ctrl-C on a
	// call stuck on an unreachable backend must still end it. Flush,
	// Fsync and Release are never cancelled. See opctx.go.
	InterruptGrace time.Duration

	// Debug logs every FUSE request and reply at debug level.
	Debug bool

	// Logger receives errors turned into EIO and mount events; nil
	// discards them.
	Logger *slog.Logger
}

// DefaultConfig returns the configuration for normal use: one-second
// kernel caches (as libfuse and the design's close-to-open model assume)
// and 1 MiB requests.
func DefaultConfig() Config {
	return Config{
		EntryTimeout:    time.Second,
		AttrTimeout:     time.Second,
		NegativeTimeout: time.Second,
		MaxWrite:        1 << 20,
		FSName:          "dfs",
		InterruptGrace:  defaultInterruptGrace,
	}
}

// DefaultTestConfig is DefaultConfig with short kernel caches, so tests
// that change a file on one host see it on another within 100 ms.
func DefaultTestConfig() Config {
	c := DefaultConfig()
	c.EntryTimeout = 100 * time.Millisecond
	c.AttrTimeout = 100 * time.Millisecond
	c.NegativeTimeout = 100 * time.Millisecond
	return c
}

// defaultInterruptGrace is Config.InterruptGrace's default.
const defaultInterruptGrace = 2 * time.Second

// withDefaults fills what a zero Config leaves unset: the name shown by
// mount(8), the interrupt grace and a logger that discards.
func (c Config) withDefaults() Config {
	if c.FSName == "" {
		c.FSName = "dfs"
	}
	if c.InterruptGrace == 0 {
		c.InterruptGrace = defaultInterruptGrace
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first thing wrong with c, in a sentence.
func (c Config) Validate() error {
	if c.EntryTimeout < 0 || c.AttrTimeout < 0 || c.NegativeTimeout < 0 {
		return errors.New("entry, attribute and negative timeouts must not be negative")
	}
	if c.InterruptGrace < 0 {
		return errors.New("interrupt grace must not be negative")
	}
	if c.MaxWrite < 4<<10 || c.MaxWrite > 16<<20 || c.MaxWrite%(4<<10) != 0 {
		return errors.New("max write must be a multiple of 4 KiB from 4 KiB to 16 MiB")
	}
	return nil
}

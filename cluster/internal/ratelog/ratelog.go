// Package ratelog is a rate-limited slog writer for log lines that others
// can cause at will (refused peer requests, failed handshakes): a burst of
// Burst lines, then one per Every. Lines dropped are counted and reported
// on the next line written, so a flood of hostile requests cannot flood
// the log.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// The limit: a burst of Burst lines, then one per Every.
const (
	Burst = 20
	Every = time.Second
)

// Logger writes through l at most at the limit. It is safe for concurrent
// use.
type Logger struct {
	l   *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

// New returns a Logger over l; now is the clock (nil: time.Now).
func New(l *slog.Logger, now func() time.Time) *Logger {
	if now == nil {
		now = time.Now
	}
	return &Logger{l: l, now: now, tokens: Burst}
}

// Log writes one line unless the rate limit is exceeded.
func (rl *Logger) Log(level slog.Level, msg string, attrs ...slog.Attr) {
	if !rl.l.Enabled(context.Background(), level) {
		return
	}
	rl.mu.Lock()
	now := rl.now()
	if !rl.last.IsZero() {
		if d := now.Sub(rl.last); d > 0 {
			rl.tokens = min(Burst, rl.tokens+float64(d)/float64(Every))
		}
	}
	rl.last = now
	if rl.tokens < 1 {
		rl.suppressed++
		rl.mu.Unlock()
		return
	}
	rl.tokens--
	dropped := rl.suppressed
	rl.suppressed = 0
	rl.mu.Unlock()
	if dropped > 0 {
		attrs = append(attrs, slog.Int("suppressed", dropped))
	}
	rl.l.LogAttrs(context.Background(), level, msg, attrs...)
}

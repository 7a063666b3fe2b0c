package securenet

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Log rate limit: a burst of logBurst lines, then one per logEvery. Lines
// dropped are counted and reported on the next line that is written, so a
// flood of hostile connections cannot flood the log. (The same limiter as
// cluster/peer's.)
const (
	logBurst = 20
	logEvery = time.Second
)

type rateLog struct {
	l   *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

func newRateLog(l *slog.Logger, now func() time.Time) *rateLog {
	return &rateLog{l: l, now: now, tokens: logBurst}
}

// log writes one line unless the rate limit is exceeded.
func (rl *rateLog) log(level slog.Level, msg string, attrs ...slog.Attr) {
	if !rl.l.Enabled(context.Background(), level) {
		return
	}
	rl.mu.Lock()
	now := rl.now()
	if !rl.last.IsZero() {
		if d := now.Sub(rl.last); d > 0 {
			rl.tokens = min(logBurst, rl.tokens+float64(d)/float64(logEvery))
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

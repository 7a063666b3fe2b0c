package repair

import (
	"context"
	"sync"
	"time"
)

// bucket is a token bucket of bytes that may go into debt: take(n) always
// succeeds at once in the books, then waits until the bucket is no longer
// in debt, so a chunk larger than the bucket passes and the rate holds
// over time. A nil *bucket is unlimited. Safe for concurrent use.
type bucket struct {
	clock Clock
	rate  float64 // bytes per second
	size  float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newBucket(clock Clock, rate, size int64) *bucket {
	if rate <= 0 {
		return nil
	}
	return &bucket{clock: clock, rate: float64(rate), size: float64(size), tokens: float64(size), last: clock.Now()}
}

// take charges n bytes and waits until they are paid for, or ctx is done.
func (b *bucket) take(ctx context.Context, n int64) error {
	if b == nil || n <= 0 {
		return ctx.Err()
	}
	b.mu.Lock()
	now := b.clock.Now()
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.size, b.tokens+el.Seconds()*b.rate)
	}
	b.last = now
	b.tokens -= float64(n)
	debt := -b.tokens
	b.mu.Unlock()
	if debt <= 0 {
		return ctx.Err()
	}
	wait := time.Duration(debt / b.rate * float64(time.Second))
	select {
	case <-b.clock.After(wait):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

package cluster

import (
	"io"
	"math/rand/v2"
	"time"
)

// ioLimit bounds what is read from a key file.
func ioLimit(r io.Reader) io.Reader { return io.LimitReader(r, 4096) }

// backoff returns the wait before attempt n (0-based): lo·2ⁿ capped at
// hi, with ±25% jitter.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	if d > hi {
		d = hi
	}
	j := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + j
}

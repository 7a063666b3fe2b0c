package replica

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

const (
	// ewmaWeight is the weight of a new sample in a node's latency.
	ewmaWeight = 0.3
	// failMemory is how long a failed call ranks a node after the nodes
	// that answer; after it the node ranks as unknown again.
	failMemory = time.Minute
)

// Read ranks, best first.
const (
	rankGood    = iota // alive, answered its last call: by latency
	rankUnknown        // alive, never called (or failed long ago)
	rankFailed         // alive, its last call failed within failMemory
	rankDead           // gossip says dead
)

// nodeStat is what the Backend remembers of one node's calls.
type nodeStat struct {
	ewma     time.Duration // exponentially weighted call latency
	known    bool          // ewma holds at least one sample
	failedAt time.Time     // last failure; zero once a call succeeds
}

// latencies tracks the call latency of each remote node. Safe for
// concurrent use.
type latencies struct {
	mu sync.Mutex
	m  map[string]*nodeStat
}

// record adds one call's duration. A failed call (no answer, or a wrong
// one) counts as taking at least penalty and marks the node failed; an
// answer (also "not found") clears the mark.
func (l *latencies) record(node string, d time.Duration, failed bool, penalty time.Duration, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]*nodeStat)
	}
	s := l.m[node]
	if s == nil {
		s = &nodeStat{}
		l.m[node] = s
	}
	if failed {
		d = max(d, penalty)
		s.failedAt = now
	} else {
		s.failedAt = time.Time{}
	}
	if !s.known {
		s.ewma, s.known = d, true
		return
	}
	s.ewma = time.Duration(ewmaWeight*float64(d) + (1-ewmaWeight)*float64(s.ewma))
}

// get returns node's rank and latency.
func (l *latencies) get(node string, now time.Time) (rank int, ewma time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.m[node]
	switch {
	case s == nil || !s.known:
		return rankUnknown, 0
	case !s.failedAt.IsZero() && now.Sub(s.failedAt) < failMemory:
		return rankFailed, s.ewma
	case !s.failedAt.IsZero():
		return rankUnknown, s.ewma
	}
	return rankGood, s.ewma
}

// sortForRead orders nodes for a read: alive nodes that answered, by
// latency; then alive nodes never asked; then alive nodes that failed
// lately; then dead ones. Ties keep the given (placement) order.
func (b *Backend) sortForRead(nodes []string) []string {
	type ranked struct {
		node string
		rank int
		ewma time.Duration
	}
	now := b.now()
	rs := make([]ranked, len(nodes))
	for i, n := range nodes {
		r, e := b.lat.get(n, now)
		if !b.alive(n) {
			r = rankDead
		}
		if r != rankGood {
			e = 0
		}
		rs[i] = ranked{n, r, e}
	}
	slices.SortStableFunc(rs, func(a, c ranked) int {
		return cmp.Or(cmp.Compare(a.rank, c.rank), cmp.Compare(a.ewma, c.ewma))
	})
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.node
	}
	return out
}

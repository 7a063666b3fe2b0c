package vfs

import "sync"

// tasks counts background goroutines (uploads, read-aheads) so Close can
// wait for them. Unlike a sync.WaitGroup, add may race with wait.
type tasks struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n falls to 0
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (t *tasks) add() {
	t.mu.Lock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
	t.mu.Unlock()
}

func (t *tasks) done() {
	t.mu.Lock()
	t.n--
	if t.n == 0 {
		close(t.idle)
	}
	t.mu.Unlock()
}

// wait returns a channel closed once no task runs.
func (t *tasks) wait() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		return closedChan
	}
	return t.idle
}

package control

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/alerts"
)

var (
	testKey  = bytes.Repeat([]byte{0x5a}, 32)
	otherKey = bytes.Repeat([]byte{0xa5}, 32)
)

var t0 = time.Date(2026, 11, 29, 16, 31, 2, 0, time.UTC)

// fakeSource serves a fixed status and records the n it is asked for.
type fakeSource struct {
	st Status
	al AlertList

	mu     sync.Mutex
	alertN []int
}

func (f *fakeSource) Status() Status { return f.st }

func (f *fakeSource) Alerts(n int) AlertList {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alertN = append(f.alertN, n)
	return f.al
}

func (f *fakeSource) asked() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.alertN...)
}

func newFakeSource() *fakeSource {
	ev := alerts.Event{
		ID: "e1", Kind: alerts.PeerDead, Node: "n2", Severity: alerts.SeverityCritical,
		Reporter: "n1", Cluster: "dfs", Firing: true, Time: t0,
		Details: map[string]string{"addr": "10.0.0.2:7946"},
	}
	return &fakeSource{
		st: Status{
			Cluster: "dfs", Self: "n1", Version: "v1", Health: Degraded,
			Reasons: []string{"n2 is dead since 16:31:02"},
			Nodes: []NodeStatus{
				{Name: "n1", State: "alive", Mode: "active", Addr: "10.0.0.1:7946", HTTPAddr: "10.0.0.1:7948",
					Capacity: 1 << 30, Used: 1 << 29, UsedPercent: 50, LastSeen: t0, Since: t0, Local: true},
				{Name: "n2", State: "dead", Mode: "active", Addr: "10.0.0.2:7946", HTTPAddr: "10.0.0.2:7948",
					Zone: "b", LastSeen: t0.Add(-time.Minute), Since: t0},
			},
			Alerts: []alerts.Event{ev},
			Time:   t0,
		},
		al: AlertList{Open: []alerts.Event{ev}, Recent: []alerts.Event{ev}},
	}
}

// serveSocket serves src without a key on a control socket in a new
// temporary directory and returns the socket's path. The server stops at
// the end of the test.
func serveSocket(t *testing.T, src Source) string {
	t.Helper()
	path := SocketPath(t.TempDir())
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(HandlerConfig{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, ln, h)
	return path
}

// serve serves h on ln until the end of the test.
func serve(t *testing.T, ln net.Listener, h http.Handler) {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

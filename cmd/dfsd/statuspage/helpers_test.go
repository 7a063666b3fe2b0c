package statuspage

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster/control"
)

// testToken is a valid Config.Token.
const testToken = "0123456789abcdef-status"

var t0 = time.Date(2026, 11, 29, 16, 31, 2, 0, time.UTC)

// fakeSource serves a status the test may change.
type fakeSource struct {
	mu sync.Mutex
	st control.Status
}

func (f *fakeSource) Status() control.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (f *fakeSource) Alerts(int) control.AlertList {
	f.mu.Lock()
	defer f.mu.Unlock()
	return control.AlertList{Open: f.st.Alerts}
}

func (f *fakeSource) set(st control.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st = st
}

// degradedStatus is a three-node cluster with n3 dead.
func degradedStatus() control.Status {
	return control.Status{
		Cluster: "prod", Self: "n1", Version: "v1.2.3", Health: control.Degraded,
		Reasons: []string{"n3 is dead since 16:30:02 (1m0s)"},
		Nodes: []control.NodeStatus{
			{Name: "n1", State: "alive", Mode: "active", Addr: "10.0.0.1:7946", HTTPAddr: "10.0.0.1:7948", Zone: "a",
				Capacity: 100 << 30, Used: 25 << 30, UsedPercent: 25, Version: "v1.2.3", LastSeen: t0, Since: t0.Add(-time.Hour), Local: true},
			{Name: "n2", State: "alive", Mode: "draining", Addr: "10.0.0.2:7946", HTTPAddr: "10.0.0.2:7948", Zone: "b",
				Capacity: 100 << 30, Used: 95 << 30, UsedPercent: 95, LastSeen: t0.Add(-time.Second), Since: t0.Add(-time.Hour)},
			{Name: "n3", State: "dead", Mode: "active", Addr: "10.0.0.3:7946", HTTPAddr: "10.0.0.3:7948",
				LastSeen: t0.Add(-time.Minute), Since: t0.Add(-time.Minute)},
		},
		Alerts: []alerts.Event{{
			ID: "e1", Kind: alerts.PeerDead, Node: "n3", Severity: alerts.SeverityCritical, Reporter: "n1",
			Cluster: "prod", Firing: true, Time: t0.Add(-time.Minute), Details: map[string]string{"addr": "10.0.0.3:7946"},
		}},
		Raft: &control.RaftStatus{State: "Leader", Leader: "n1", Term: "4", CommitIndex: 120, AppliedIndex: 119,
			Voters: []string{"n1", "n2", "n3"}, LayoutVersion: 7, Replicas: 3},
		Time: t0,
	}
}

func newHandler(t *testing.T, src control.Source, token string) http.Handler {
	t.Helper()
	h, err := Handler(Config{Source: src, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// request makes a request as if from remote ("IP:port").
func request(method, target, remote string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = remote
	r.Host = "10.0.0.1:7948"
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

const (
	local  = "127.0.0.1:50000"
	remote = "192.0.2.7:50000"
)

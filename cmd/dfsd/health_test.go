package main

import (
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/control"
)

// TestHealthDeadNodes: a dead node degrades the cluster while the layout
// counts on it (or before there is a layout), not once it is out of it.
func TestHealthDeadNodes(t *testing.T) {
	now := time.Now()
	dead := func(layout string) control.NodeStatus {
		return control.NodeStatus{Name: "n4", State: "dead", Layout: layout, Since: now.Add(-time.Minute)}
	}
	alive := control.NodeStatus{Name: "n1", State: "alive", Layout: "active"}
	withLayout := &control.RaftStatus{Leader: "n1", LayoutVersion: 7}
	for _, tc := range []struct {
		name string
		st   control.Status
		want string
	}{
		{"in the layout", control.Status{Nodes: []control.NodeStatus{alive, dead("active")}, Raft: withLayout}, control.Degraded},
		{"draining", control.Status{Nodes: []control.NodeStatus{alive, dead("draining")}, Raft: withLayout}, control.Degraded},
		{"taken out", control.Status{Nodes: []control.NodeStatus{alive, dead("")}, Raft: withLayout}, control.Healthy},
		{"removed", control.Status{Nodes: []control.NodeStatus{alive, dead("removed")}, Raft: withLayout}, control.Healthy},
		{"standalone view", control.Status{Nodes: []control.NodeStatus{alive, dead("")}}, control.Degraded},
	} {
		tc.st.Time = now
		if got, reasons := health(tc.st); got != tc.want {
			t.Errorf("%s: %s %q; want %s", tc.name, got, reasons, tc.want)
		}
	}
}

package main

import (
	"testing"
	"time"

	"github.com/dfsproject/dfs/cluster/control"
)

func TestHumanBytes(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1 KiB"},
		{1536, "1.5 KiB"},
		{3 << 29, "1.5 GiB"},
		{10 << 30, "10 GiB"},
		{1<<30 - 1, "1 GiB"}, // 1023.999… MiB rounds into the next unit
		{1 << 40, "1 TiB"},
		{1 << 60, "1 EiB"},
		{1<<64 - 1, "16 EiB"},
	} {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestAgo(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s ago"},
		{0, "0.0s ago"},
		{400 * time.Millisecond, "0.4s ago"},
		{9 * time.Second, "9.0s ago"},
		{42 * time.Second, "42s ago"},
		{3*time.Minute + 59*time.Second, "3m ago"},
		{5 * time.Hour, "5h ago"},
		{72 * time.Hour, "3d ago"},
	} {
		if got := ago(tc.d); got != tc.want {
			t.Errorf("ago(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"n1", "n1"},
		{"dead since 12:01", "dead since 12:01"},
		{"héllo", "héllo"},
		{"a\x1b[2Jb", `"a\x1b[2Jb"`},
		{"a\tb", `"a\tb"`},
		{"a\nb", `"a\nb"`},
	} {
		if got := safe(tc.in); got != tc.want {
			t.Errorf("safe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.2:7946", "10.0.0.2:7946"},
		{"", `""`},
		{"no ack", `"no ack"`},
		{"a=b", `"a=b"`},
	} {
		if got := quoteIfNeeded(tc.in); got != tc.want {
			t.Errorf("quoteIfNeeded(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHealthLine(t *testing.T) {
	alive := control.NodeStatus{State: "alive"}
	left := control.NodeStatus{State: "left"}
	for _, tc := range []struct {
		st   control.Status
		want string
	}{
		{control.Status{Cluster: "prod", Health: control.Healthy, Nodes: []control.NodeStatus{alive}},
			"cluster prod: healthy (1 node alive)"},
		{control.Status{Cluster: "prod", Health: control.Healthy, Nodes: []control.NodeStatus{alive, alive, left}},
			"cluster prod: healthy (2 of 3 nodes alive)"},
		{control.Status{Cluster: "prod", Health: control.Degraded},
			"cluster prod: DEGRADED"},
		{control.Status{Cluster: "prod", Health: control.Degraded, Reasons: []string{"a", "b\x1b"}},
			`cluster prod: DEGRADED: a; "b\x1b"`},
		{control.Status{Cluster: "prod"},
			"cluster prod: UNKNOWN HEALTH"},
	} {
		if got := healthLine(tc.st); got != tc.want {
			t.Errorf("healthLine(%+v) = %q, want %q", tc.st, got, tc.want)
		}
	}
}

package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/dfsproject/dfs/cluster/control"
)

func TestDF(t *testing.T) {
	// n1 1.5 GiB with 768 MiB used, n2 1 TiB with 256 GiB used, n3 no
	// capacity.
	dir := daemon(t, healthy())
	code, out, errOut := dfsctl("df", "--data", dir)
	if code != exitOK || errOut != "" {
		t.Fatalf("df: exit %d, stderr %q", code, errOut)
	}
	want := `NODE   STATE  SIZE     USED       AVAIL      USE%
n1*    alive  1.5 GiB  768 MiB    768 MiB    50%
n2     alive  1 TiB    256 GiB    768 GiB    25%
n3     alive  -        -          -          -
total         1 TiB    256.8 GiB  768.8 GiB  25%

n3 reports no capacity and is not counted in the total.
`
	if out != want {
		t.Errorf("df printed\n%s\nwant\n%s", out, want)
	}
}

func TestDFNotAlive(t *testing.T) {
	src := degraded() // n3 is dead
	src.st.Nodes[2].Capacity, src.st.Nodes[2].Used = 1<<30, 1<<29
	src.st.Nodes = append(src.st.Nodes, control.NodeStatus{Name: "n4", State: "suspect", Capacity: 1 << 30})
	src.st.Raft = &control.RaftStatus{State: "Leader", Leader: "n1", Replicas: 3}
	dir := daemon(t, src)
	code, out, errOut := dfsctl("df", "--data", dir)
	if code != exitOK {
		t.Fatalf("df: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(out, "\n")
	rows := map[string][]string{}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = f
		}
	}
	// The dead node shows its space but is not in the total.
	if got := strings.Join(rows["n3"], " "); got != "n3 dead 1 GiB 512 MiB 512 MiB 50%" {
		t.Errorf("n3's line: %q", got)
	}
	if got := strings.Join(rows["total"], " "); got != "total 1 TiB 256.8 GiB 768.8 GiB 25%" {
		t.Errorf("total line: %q", got)
	}
	mustContain(t, "df output", out,
		"\nThe total counts only alive nodes: n3 is dead, n4 is suspect.\n",
		"\nEach chunk is stored on 3 nodes: a file takes 3 times its size of this space.\n")
	if strings.Contains(out, "no capacity") {
		t.Errorf("every node reports a capacity, but df says:\n%s", out)
	}
}

func TestDFJSON(t *testing.T) {
	src := degraded()
	dir := daemon(t, src)
	code, out, errOut := dfsctl("df", "--json", "--data", dir)
	if code != exitOK {
		t.Fatalf("df --json: exit %d, stderr %q", code, errOut)
	}
	var r dfReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("df --json printed no report: %v\n%s", err, out)
	}
	capacity, used := uint64(3<<29+1<<40), uint64(3<<28+1<<38)
	want := dfReport{
		Nodes: []dfNode{
			{Name: "n1", State: "alive", Local: true, dfSpace: dfSpace{3 << 29, 3 << 28, 3 << 28, 50}},
			{Name: "n2", State: "alive", dfSpace: dfSpace{1 << 40, 1 << 38, 3 << 38, 25}},
			{Name: "n3", State: "dead"},
		},
		Total:    dfSpace{capacity, used, capacity - used, 100 * float64(used) / float64(capacity)},
		Counted:  2,
		NotAlive: []string{"n3"},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("df --json decoded\n%+v\nwant\n%+v", r, want)
	}
	// The space is flat in each node's object, as in the total.
	if !strings.Contains(out, `"name": "n1",`) || !strings.Contains(out, `"available": 805306368,`) {
		t.Errorf("df --json:\n%s", out)
	}
}

func TestDiskUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   control.Status
		want dfReport
	}{
		{"no nodes", control.Status{}, dfReport{Nodes: []dfNode{}}},
		{"over full", control.Status{Nodes: []control.NodeStatus{{Name: "a", State: "alive", Capacity: 100, Used: 150}}},
			dfReport{Nodes: []dfNode{{Name: "a", State: "alive", dfSpace: dfSpace{100, 150, 0, 150}}},
				Total: dfSpace{100, 150, 0, 150}, Counted: 1}},
		{"left and unknown", control.Status{Nodes: []control.NodeStatus{
			{Name: "a", State: "left", Capacity: 100, Used: 10},
			{Name: "b", State: "alive", Used: 7},
			{Name: "c", State: "alive", Capacity: 200, Used: 50},
		}, Raft: &control.RaftStatus{Replicas: 2}},
			dfReport{Nodes: []dfNode{
				{Name: "a", State: "left", dfSpace: dfSpace{100, 10, 90, 10}},
				{Name: "b", State: "alive", dfSpace: dfSpace{Used: 7}},
				{Name: "c", State: "alive", dfSpace: dfSpace{200, 50, 150, 25}},
			}, Total: dfSpace{200, 50, 150, 25}, Counted: 1, NotAlive: []string{"a"}, NoCapacity: []string{"b"}, Replicas: 2}},
	} {
		if got := diskUsage(tc.st); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: diskUsage =\n%+v, want\n%+v", tc.name, got, tc.want)
		}
	}
}

func TestDFErrors(t *testing.T) {
	if code, _, errOut := dfsctl("df", "extra", "--data", t.TempDir()); code != exitError || !strings.Contains(errOut, "df takes no arguments") {
		t.Errorf("df extra: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := dfsctl("df", "--data", t.TempDir()); code != exitError || out != "" ||
		!strings.HasPrefix(errOut, "dfsctl: cannot reach dfsd") {
		t.Errorf("df with no daemon: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

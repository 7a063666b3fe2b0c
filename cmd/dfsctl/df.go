package main

import (
	"fmt"
	"strings"

	"github.com/dfsproject/dfs/cluster/control"
)

// dfReport is what dfsctl df prints: each node's space and the total of
// the alive nodes that report a capacity.
type dfReport struct {
	Nodes []dfNode `json:"nodes"`
	Total dfSpace  `json:"total"`
	// Counted is how many nodes the total adds up.
	Counted int `json:"counted"`
	// NotAlive and NoCapacity name the nodes the total leaves out: those
	// not alive, and the alive ones that report no capacity.
	NotAlive   []string `json:"not_alive,omitempty"`
	NoCapacity []string `json:"no_capacity,omitempty"`
	// Replicas is how many nodes store each chunk; 0 on a standalone node.
	Replicas int `json:"replicas,omitempty"`
}

// dfNode is one node's space.
type dfNode struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Local bool   `json:"local,omitempty"`
	dfSpace
}

// dfSpace is an amount of space in bytes. Capacity 0 means unknown;
// UsedPercent is then 0.
type dfSpace struct {
	Capacity    uint64  `json:"capacity"`
	Used        uint64  `json:"used"`
	Available   uint64  `json:"available"`
	UsedPercent float64 `json:"used_percent"`
}

func newDFSpace(capacity, used uint64) dfSpace {
	s := dfSpace{Capacity: capacity, Used: used}
	if capacity > 0 {
		s.Available = capacity - min(used, capacity)
		s.UsedPercent = 100 * float64(used) / float64(capacity)
	}
	return s
}

// diskUsage sums up the space of the nodes in st. Only alive nodes that
// report a capacity count in the total: a dead node's disks hold no new
// chunks, and a node with an unknown capacity would make the use
// percentage meaningless.
func diskUsage(st control.Status) dfReport {
	r := dfReport{Nodes: []dfNode{}}
	var capacity, used uint64
	for _, n := range st.Nodes {
		r.Nodes = append(r.Nodes, dfNode{Name: n.Name, State: n.State, Local: n.Local, dfSpace: newDFSpace(n.Capacity, n.Used)})
		switch {
		case n.State != "alive":
			r.NotAlive = append(r.NotAlive, n.Name)
		case n.Capacity == 0:
			r.NoCapacity = append(r.NoCapacity, n.Name)
		default:
			capacity += n.Capacity
			used += n.Used
			r.Counted++
		}
	}
	r.Total = newDFSpace(capacity, used)
	if st.Raft != nil {
		r.Replicas = st.Raft.Replicas
	}
	return r
}

// runDF prints the space of each node and the total, as df -h does for
// disks.
func runDF(e *env, args []string) int {
	if !e.noArgs("df", args) {
		return exitError
	}
	st, code := e.status()
	if code != exitOK {
		return code
	}
	r := diskUsage(st)
	if e.json {
		if err := e.printJSON(r); err != nil {
			return e.fail(err)
		}
		return exitOK
	}
	w := newTextWriter(e.stdout)
	w.dfTable(r)
	if w.err != nil {
		return e.fail(w.err)
	}
	return exitOK
}

// dfTable prints the node table, the total line and the footnotes.
func (t *textWriter) dfTable(r dfReport) {
	tw := t.table()
	fmt.Fprintln(tw, "NODE\tSTATE\tSIZE\tUSED\tAVAIL\tUSE%")
	for _, n := range r.Nodes {
		name := safe(n.Name)
		if n.Local {
			name += "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name, orDash(n.State), spaceCells(n.dfSpace))
	}
	fmt.Fprintf(tw, "total\t\t%s\n", spaceCells(r.Total))
	tw.Flush()

	var notes []string
	if len(r.NotAlive) > 0 {
		states := make([]string, 0, len(r.NotAlive))
		for _, n := range r.Nodes {
			if n.State != "alive" {
				states = append(states, fmt.Sprintf("%s is %s", safe(n.Name), orDash(n.State)))
			}
		}
		notes = append(notes, "The total counts only alive nodes: "+strings.Join(states, ", ")+".")
	}
	if len(r.NoCapacity) > 0 {
		names := make([]string, len(r.NoCapacity))
		for i, n := range r.NoCapacity {
			names[i] = safe(n)
		}
		if len(names) == 1 {
			notes = append(notes, names[0]+" reports no capacity and is not counted in the total.")
		} else {
			notes = append(notes, strings.Join(names, ", ")+" report no capacity and are not counted in the total.")
		}
	}
	if r.Replicas > 1 {
		notes = append(notes, fmt.Sprintf("Each chunk is stored on %d nodes: a file takes %d times its size of this space.",
			r.Replicas, r.Replicas))
	}
	if len(notes) > 0 {
		t.println("")
		for _, n := range notes {
			t.println(n)
		}
	}
}

// spaceCells are the SIZE, USED, AVAIL and USE% cells, tab-separated;
// dashes when the capacity is unknown, but the use when it is reported.
func spaceCells(s dfSpace) string {
	if s.Capacity == 0 {
		used := "-"
		if s.Used > 0 {
			used = humanBytes(s.Used)
		}
		return "-\t" + used + "\t-\t-"
	}
	return fmt.Sprintf("%s\t%s\t%s\t%.0f%%", humanBytes(s.Capacity), humanBytes(s.Used), humanBytes(s.Available), s.UsedPercent)
}

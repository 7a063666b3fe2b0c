package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/dfsproject/dfs/cluster/control"
)

// defaultAlertChanges is how many alert changes dfsctl alerts shows.
const defaultAlertChanges = 20

// runStatus prints the health line, the node table and the open alerts.
// It exits 0 when the cluster is healthy, 1 when it is degraded.
func runStatus(e *env, args []string) int {
	if !e.noArgs("status", args) {
		return exitError
	}
	st, code := e.status()
	if code != exitOK {
		return code
	}
	if e.json {
		if err := e.printJSON(st); err != nil {
			return e.fail(err)
		}
	} else {
		w := newTextWriter(e.stdout)
		w.println(healthLine(st))
		w.println("")
		w.nodeTable(st.Nodes, refTime(st))
		w.println("")
		if r := st.Raft; r != nil {
			w.println(raftLine(r))
			for _, l := range replicationLines(st.Replication, refTime(st)) {
				w.println(l)
			}
			w.println("")
		}
		w.openAlerts(st.Alerts)
		if w.err != nil {
			return e.fail(w.err)
		}
	}
	if st.Health != control.Healthy {
		return exitDegraded
	}
	return exitOK
}

// runNodes prints the node table.
func runNodes(e *env, args []string) int {
	if !e.noArgs("nodes", args) {
		return exitError
	}
	st, code := e.status()
	if code != exitOK {
		return code
	}
	if e.json {
		nodes := st.Nodes
		if nodes == nil {
			nodes = []control.NodeStatus{}
		}
		if err := e.printJSON(nodes); err != nil {
			return e.fail(err)
		}
		return exitOK
	}
	w := newTextWriter(e.stdout)
	w.nodeTable(st.Nodes, refTime(st))
	if w.err != nil {
		return e.fail(w.err)
	}
	return exitOK
}

// setupAlerts registers dfsctl alerts' -n flag.
func setupAlerts(fs *flag.FlagSet) func(*env, []string) int {
	n := fs.Int("n", defaultAlertChanges, "")
	return func(e *env, args []string) int {
		if !e.noArgs("alerts", args) {
			return exitError
		}
		if *n < 1 || *n > control.MaxAlerts {
			return e.usageError("-n must be from 1 to %d, not %d", control.MaxAlerts, *n)
		}
		return runAlerts(e, *n)
	}
}

// runAlerts prints the open alerts and the last n alert changes.
func runAlerts(e *env, n int) int {
	c, err := e.client()
	if err != nil {
		return e.fail(err)
	}
	al, err := c.Alerts(context.Background(), n)
	if err != nil {
		return e.fail(err)
	}
	if e.json {
		if err := e.printJSON(al); err != nil {
			return e.fail(err)
		}
		return exitOK
	}
	w := newTextWriter(e.stdout)
	w.openAlerts(al.Open)
	w.println("")
	w.recentAlerts(al.Recent, n)
	if w.err != nil {
		return e.fail(w.err)
	}
	return exitOK
}

// status asks dfsd for its status; on failure it prints the error and
// returns exitError.
func (e *env) status() (control.Status, int) {
	c, err := e.client()
	if err != nil {
		return control.Status{}, e.fail(err)
	}
	st, err := c.Status(context.Background())
	if err != nil {
		return control.Status{}, e.fail(err)
	}
	return st, exitOK
}

// printJSON prints v as indented JSON.
func (e *env) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = e.stdout.Write(append(b, '\n'))
	return err
}

// healthLine is the first line of dfsctl status: "cluster dfs: healthy (3
// nodes alive)" or "cluster dfs: DEGRADED: n2 is dead since 12:01:02; ...".
func healthLine(st control.Status) string {
	head := "cluster " + safe(st.Cluster) + ": "
	if st.Health == control.Healthy {
		alive := 0
		for _, n := range st.Nodes {
			if n.State == "alive" {
				alive++
			}
		}
		count := plural(alive, "node")
		if alive != len(st.Nodes) {
			count = fmt.Sprintf("%d of %s", alive, plural(len(st.Nodes), "node"))
		}
		return head + "healthy (" + count + " alive)"
	}
	health := strings.ToUpper(safe(st.Health))
	if health == "" {
		health = "UNKNOWN HEALTH"
	}
	if len(st.Reasons) == 0 {
		return head + health
	}
	reasons := make([]string, len(st.Reasons))
	for i, r := range st.Reasons {
		reasons[i] = safe(r)
	}
	return head + health + ": " + strings.Join(reasons, "; ")
}

// raftLine summarizes the Raft group: "raft: leader n1, term 3, voters
// n1 n2 n3, this node Follower at 1042 of 1042; layout v3, 3 replicas".
func raftLine(r *control.RaftStatus) string {
	leader := "NO LEADER"
	if r.Leader != "" {
		leader = "leader " + safe(r.Leader)
	}
	s := fmt.Sprintf("raft: %s, term %s, voters %s", leader, safe(r.Term), safe(strings.Join(r.Voters, " ")))
	if len(r.Nonvoters) > 0 {
		s += ", non-voters " + safe(strings.Join(r.Nonvoters, " "))
	}
	s += fmt.Sprintf(", this node %s at %d of %d", safe(r.State), r.AppliedIndex, r.CommitIndex)
	if r.LayoutVersion > 0 {
		s += fmt.Sprintf("; layout v%d, %d replicas", r.LayoutVersion, r.Replicas)
	}
	return s
}

// replicationLines summarize the leader's sum of replication health:
// "replication (summed by n1 2.0s ago): 120 chunks fully replicated (480 MiB), 0
// under-replicated, 0 missing, 4 to move (16 MiB)", then a line for each
// node that is draining or still has copies to move, and the nodes that
// did not answer.
func replicationLines(cr *control.ClusterReplication, now time.Time) []string {
	if cr == nil {
		return []string{"replication: not summed yet"}
	}
	t := cr.Total
	out := []string{fmt.Sprintf("replication (summed by %s %s): %d chunks fully replicated (%s), %d under-replicated (%s), %d missing, %d to move (%s)",
		safe(cr.Leader), ago(now.Sub(cr.At)), t.Replicated, humanBytes(uint64(t.ReplicatedBytes)), t.UnderReplicated, humanBytes(uint64(t.UnderBytes)),
		t.Missing, t.ToMove, humanBytes(uint64(t.ToMoveBytes)))}
	var missing []string
	for _, n := range cr.Nodes {
		switch {
		case n.Health != nil && (n.LayoutState == "draining" || n.Health.ToMove > 0):
			what := "moving copies"
			if n.LayoutState == "draining" {
				what = "draining"
			}
			line := fmt.Sprintf("  %s %s: holds %d chunks (%s)", safe(n.Node), what, n.Health.Held, humanBytes(uint64(n.Health.HeldBytes)))
			if n.Health.ToMove > 0 {
				line += fmt.Sprintf(", %d still to move (%s)", n.Health.ToMove, humanBytes(uint64(n.Health.ToMoveBytes)))
			}
			out = append(out, line)
		case n.Health == nil && n.Error != "":
			missing = append(missing, safe(n.Node)+" ("+safe(n.Error)+")")
		}
	}
	if len(missing) > 0 {
		out = append(out, "  not counted: "+strings.Join(missing, ", "))
	}
	return out
}

// refTime is the time "ago" is measured from: dfsd's own clock when it
// says, so that clock differences between hosts do not show.
func refTime(st control.Status) time.Time {
	if st.Time.IsZero() {
		return time.Now()
	}
	return st.Time
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/fs/fstest"
	"github.com/dfsproject/dfs/store"
)

// copiesOn counts, for each chunk object found under any of the data
// directories' backends, on how many of them it is.
func copiesOn(t *testing.T, dataDirs []string) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, d := range dataDirs {
		root := filepath.Join(d, "chunks")
		filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			if _, perr := store.ParseChunkID(e.Name()); perr == nil {
				n[e.Name()]++
			}
			return nil
		})
	}
	return n
}

// TestRepairAfterNodeLoss: 4 nodes, R=3; one is killed for good. Once
// the down-out takes it out of the layout, the keepers copy what it held:
// every chunk is back at 3 copies on the survivors' backends, and every
// file reads back byte-identical.
func TestRepairAfterNodeLoss(t *testing.T) {
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 4, Mount: true,
		Args: []string{"--down-out", "3s", "--mutation-timeout", "5s", "--under-replicated-alert", "1s"}})
	waitReplicated(t, c)
	files := fileSet{}
	for i := range 8 {
		if err := files.write(c.Nodes[i%3].Mountpoint, fmt.Sprintf("f%d", i), 9<<20); err != nil {
			t.Fatal(err)
		}
	}
	survivors := []string{c.Nodes[0].DataDir, c.Nodes[1].DataDir, c.Nodes[2].DataDir}
	before := copiesOn(t, append(survivors, c.Nodes[3].DataDir))
	if len(before) == 0 {
		t.Fatal("no chunk objects found on the backends")
	}
	for id, k := range before {
		if k != 3 {
			t.Fatalf("chunk %s has %d copies before the loss; want 3", id, k)
		}
	}
	lost := time.Now()
	c.Nodes[3].Kill9(t)
	fstest.Eventually(t, 20*time.Second, "under_replicated firing", func() error {
		return alertOpen(t, c.Nodes[0].DataDir, "under_replicated", true)
	})
	t.Logf("kill -9 of n4 to under_replicated firing: %v", time.Since(lost).Round(time.Millisecond))
	fstest.Eventually(t, 60*time.Second, "every chunk back at 3 copies on the survivors", func() error {
		now := copiesOn(t, survivors)
		for id := range before {
			if now[id] != 3 {
				return fmt.Errorf("chunk %s has %d copies", id, now[id])
			}
		}
		return nil
	})
	t.Logf("kill -9 of n4 to every chunk at 3 copies again (down-out 3s): %v, %d chunks", time.Since(lost).Round(time.Millisecond), len(before))
	fstest.Eventually(t, 20*time.Second, "under_replicated resolved", func() error {
		return alertOpen(t, c.Nodes[1].DataDir, "under_replicated", false)
	})
	// Out of the layout, n4's absence no longer degrades the cluster, and
	// its peer_dead alert is resolved.
	c.WaitHealthy(t, 20*time.Second)
	if err := alertOpen(t, c.Nodes[0].DataDir, "peer_dead", false); err != nil {
		t.Error(err)
	}
	for i := range 3 {
		files.verify(t, c.Nodes[i].Mountpoint)
	}
}

// alertOpen checks, with dfsctl alerts on the node of dataDir, that an
// alert of this kind is open (or not).
func alertOpen(t *testing.T, dataDir, kind string, open bool) error {
	code, out := dfsctl(t, "alerts", "--json", "--data", dataDir)
	var al control.AlertList
	if err := json.Unmarshal([]byte(out), &al); code != 0 || err != nil {
		return fmt.Errorf("dfsctl alerts: exit %d, %v:\n%s", code, err, out)
	}
	found := slices.ContainsFunc(al.Open, func(ev alerts.Event) bool { return string(ev.Kind) == kind })
	if found != open {
		return fmt.Errorf("%s open: %v; want %v (open: %+v)", kind, found, open, al.Open)
	}
	return nil
}

// TestScrubRepairsCorruptReplica: one node's copy of a chunk is overwritten
// with other bytes; reads still return the right data, dfsctl scrub on that
// node finds it and puts a good copy back, and the corrupt_replica alert
// fires and resolves.
func TestScrubRepairsCorruptReplica(t *testing.T) {
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 3, Mount: true})
	waitReplicated(t, c)
	files := fileSet{}
	if err := files.write(c.Nodes[0].Mountpoint, "f", 9<<20); err != nil {
		t.Fatal(err)
	}
	// dfsctl info on another host's mount: 3 chunks, each on the 3 nodes.
	code, out := dfsctl(t, "info", "--json", "--data", c.Nodes[2].DataDir, filepath.Join(c.Nodes[2].Mountpoint, "f"))
	var fi control.FileInfo
	if err := json.Unmarshal([]byte(out), &fi); code != 0 || err != nil {
		t.Fatalf("dfsctl info: exit %d, %v:\n%s", code, err, out)
	}
	if fi.Size != 9<<20 || len(fi.Chunks) != 3 {
		t.Fatalf("dfsctl info: size %d, %d chunks; want 9 MiB in 3", fi.Size, len(fi.Chunks))
	}
	for _, ch := range fi.Chunks {
		held := 0
		for _, r := range ch.Replicas {
			if r.Has && r.Placed {
				held++
			}
		}
		if held != 3 {
			t.Errorf("chunk %d: %d placed copies held; want 3 (%+v)", ch.Index, held, ch.Replicas)
		}
	}
	var victim string
	filepath.WalkDir(filepath.Join(c.Nodes[1].DataDir, "chunks"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() && victim == "" {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no chunk object on n2's backend")
	}
	good, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	bad := make([]byte, len(good))
	copy(bad, good)
	bad[len(bad)/2] ^= 0xff
	if err := os.WriteFile(victim, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	files.verify(t, c.Nodes[1].Mountpoint) // read around the corrupt copy

	code, out = dfsctl(t, "scrub", "--data", c.Nodes[1].DataDir)
	if code != 0 || !strings.Contains(out, "1 corrupt, 1 fixed") {
		t.Fatalf("dfsctl scrub: exit %d; want 0 and one corrupt copy fixed:\n%s", code, out)
	}
	if now, err := os.ReadFile(victim); err != nil || !bytes.Equal(now, good) {
		t.Fatalf("the corrupt copy was not replaced by the good bytes (%v)", err)
	}
	code, out = dfsctl(t, "alerts", "--json", "--data", c.Nodes[1].DataDir)
	if code != 0 || !strings.Contains(out, `"corrupt_replica"`) || !strings.Contains(out, `"resolved"`) {
		t.Errorf("dfsctl alerts: exit %d; want corrupt_replica fired and resolved:\n%s", code, out)
	}
	files.verify(t, c.Nodes[1].Mountpoint)
	if code, out := dfsctl(t, "repair", "--data", c.Nodes[1].DataDir); code != 0 || !strings.Contains(out, "0 missing") {
		t.Errorf("dfsctl repair: exit %d:\n%s", code, out)
	}
}

// TestCapacityAlert: a node above its capacity threshold raises
// capacity_high (the threshold is set below what the test machine's disk
// already uses).
func TestCapacityAlert(t *testing.T) {
	d := fstest.Start(t, fstest.Options{NoMount: true, Args: []string{"--capacity-alert", "1"}})
	fstest.Eventually(t, 10*time.Second, "capacity_high firing", func() error {
		code, out := dfsctl(t, "status", "--data", d.DataDir)
		if code != 1 || !strings.Contains(out, "capacity_high") {
			return fmt.Errorf("dfsctl status: exit %d:\n%s", code, out)
		}
		return nil
	})
}

// TestDrainAndRemove: removing an undrained node is refused (its chunks
// would fall to 2 copies); drained, it ends up holding nothing while
// every file stays readable throughout, then remove succeeds and the node
// stops by itself.
func TestDrainAndRemove(t *testing.T) {
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 4, Mount: true})
	waitRaft(t, c, 30*time.Second, 3, "n1", "n2", "n3")
	fstest.Eventually(t, 30*time.Second, "n4 in the layout", func() error {
		for _, ns := range c.Status(t, 0).Nodes {
			if ns.Name == "n4" && ns.Layout == "active" {
				return nil
			}
		}
		return errors.New("n4 is not active in the layout")
	})
	files := fileSet{}
	for i := range 8 {
		if err := files.write(c.Nodes[i%4].Mountpoint, fmt.Sprintf("f%d", i), 5<<20); err != nil {
			t.Fatal(err)
		}
	}
	n4 := c.Nodes[3].DataDir
	if len(copiesOn(t, []string{n4})) == 0 {
		t.Fatal("n4 holds no chunk: the test proves nothing")
	}
	data := func(i int) string { return c.Nodes[i].DataDir }

	code, out := dfsctl(t, "node", "remove", "n4", "--data", data(0))
	if code != 2 || !strings.Contains(out, "fewer than 3 copies") {
		t.Fatalf("dfsctl node remove of an undrained node: exit %d; want 2 and a refusal:\n%s", code, out)
	}

	// Read every file on n1 and n2 until the drain is over.
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		defer close(readErr)
		for {
			for _, name := range slices.Sorted(maps.Keys(files)) {
				for _, i := range []int{0, 1} {
					if err := files.check(c.Nodes[i].Mountpoint, name); err != nil {
						readErr <- err
						return
					}
				}
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	begin := time.Now()
	code, out = dfsctl(t, "node", "drain", "n4", "--wait", "--data", data(1))
	took := time.Since(begin)
	close(stop)
	if err := <-readErr; err != nil {
		t.Errorf("a read failed during the drain: %v", err)
	}
	if code != 0 || !strings.Contains(out, "holds nothing") {
		t.Fatalf("dfsctl node drain --wait: exit %d:\n%s", code, out)
	}
	if left := copiesOn(t, []string{n4}); len(left) != 0 {
		t.Fatalf("n4 still holds %d chunks after the drain", len(left))
	}
	for id, k := range copiesOn(t, []string{data(0), data(1), data(2)}) {
		if k != 3 {
			t.Errorf("chunk %s has %d copies on n1-n3 after the drain; want 3", id, k)
		}
	}
	t.Logf("drain of n4 (%d files of 5 MiB): %v", len(files), took.Round(time.Millisecond))
	if st := c.Status(t, 2); st.Replication == nil {
		t.Errorf("no replication health in n3's status")
	}

	code, out = dfsctl(t, "node", "remove", "n4", "--data", data(2))
	if code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("dfsctl node remove of a drained node: exit %d:\n%s", code, out)
	}
	state := c.Nodes[3].WaitExit(t, 30*time.Second)
	if !state.Success() {
		t.Errorf("the removed n4 exited with %v; want 0", state)
	}
	c.Nodes = c.Nodes[:3]
	fstest.Eventually(t, 30*time.Second, "n4 out of the layout and Raft, cluster healthy", func() error {
		st := c.Status(t, 0)
		for _, ns := range st.Nodes {
			if ns.Name == "n4" && ns.Layout != "" {
				return fmt.Errorf("n4 is still in the layout as %s", ns.Layout)
			}
		}
		if st.Raft == nil || slices.Contains(st.Raft.Voters, "n4") || slices.Contains(st.Raft.Nonvoters, "n4") {
			return fmt.Errorf("n4 is still in Raft: %+v", st.Raft)
		}
		if st.Health != control.Healthy {
			return fmt.Errorf("health %s: %v", st.Health, st.Reasons)
		}
		return nil
	})
	fstest.Eventually(t, 10*time.Second, "n4's peer_left resolved once it is out of the layout", func() error {
		return alertOpen(t, data(0), "peer_left", false)
	})
	for i := range 3 {
		files.verify(t, c.Nodes[i].Mountpoint)
	}
}

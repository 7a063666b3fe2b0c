package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		Args: []string{"--down-out", "3s", "--mutation-timeout", "5s"}})
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
	for i := range 3 {
		files.verify(t, c.Nodes[i].Mountpoint)
	}
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

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

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

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dfsproject/dfs/fs/fstest"
)

// TestSelfHealFigures measures, for the closing note, how long
// the survivors of a 4-node cluster take to restore 3 copies of 2 GiB
// after one node is lost for good, and how fast scrub re-reads. It runs
// only with DFS_FIGURES=1 (a few minutes) and asserts only that the
// copies come back.
func TestSelfHealFigures(t *testing.T) {
	if os.Getenv("DFS_FIGURES") == "" {
		t.Skip("set DFS_FIGURES=1 to measure")
	}
	for _, bw := range []string{"50MiB", "0"} {
		t.Run("repair-bandwidth="+bw, func(t *testing.T) {
			c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 4, Mount: true,
				Args: []string{"--down-out", "3s", "--repair-bandwidth", bw, "--scrub-bandwidth", "0"}})
			waitRaft(t, c, 30*time.Second, 3, "n1", "n2", "n3")
			rng := rand.NewChaCha8([32]byte{7})
			buf := make([]byte, 64<<20)
			begin := time.Now()
			for i := range 32 {
				rng.Read(buf)
				if err := os.WriteFile(filepath.Join(c.Nodes[i%3].Mountpoint, fmt.Sprintf("f%02d", i)), buf, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("wrote 2 GiB through n1-n3's mounts in %v", time.Since(begin).Round(time.Millisecond))
			dirs := []string{c.Nodes[0].DataDir, c.Nodes[1].DataDir, c.Nodes[2].DataDir}
			before := copiesOn(t, append(dirs, c.Nodes[3].DataDir))
			lost, lostBytes := 0, int64(0)
			filepath.WalkDir(filepath.Join(c.Nodes[3].DataDir, "chunks"), func(p string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					if info, err := e.Info(); err == nil {
						lost++
						lostBytes += info.Size()
					}
				}
				return nil
			})
			kill := time.Now()
			c.Nodes[3].Kill9(t)
			fstest.Eventually(t, 10*time.Minute, "every chunk at 3 copies on n1-n3", func() error {
				now := copiesOn(t, dirs)
				for id := range before {
					if now[id] != 3 {
						return fmt.Errorf("chunk %s has %d copies", id, now[id])
					}
				}
				return nil
			})
			took := time.Since(kill)
			t.Logf("restore 3 copies of %d chunks (%d MiB) lost with n4 (of %d): %v after kill -9, %v after the 3s down-out; %.0f MiB/s over the cluster",
				lost, lostBytes>>20, len(before), took.Round(time.Millisecond), (took - 3*time.Second).Round(time.Millisecond),
				float64(lostBytes)/(1<<20)/(took-3*time.Second).Seconds())

			begin = time.Now()
			code, out := dfsctl(t, "scrub", "--data", c.Nodes[0].DataDir)
			if code != 0 {
				t.Fatalf("dfsctl scrub: exit %d:\n%s", code, out)
			}
			held := copiesOn(t, dirs[:1])
			t.Logf("scrub of n1 (%d chunks, about %d MiB, --scrub-bandwidth 0): %v, %.0f MiB/s: %s", len(held), len(held)*4,
				time.Since(begin).Round(time.Millisecond), float64(len(held)*4)/time.Since(begin).Seconds(), strings.TrimSpace(out))
		})
	}
}

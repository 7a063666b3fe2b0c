package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dfsproject/dfs/fs/fstest"
)

// scrape returns the families of a live node's /metrics.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			key := name
			for _, l := range m.Label {
				key += fmt.Sprintf(",%s=%s", l.GetName(), l.GetValue())
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// TestMetricsScrape scrapes a live node, writes through its mount and
// scrapes again: the families are there and the counters moved.
func TestMetricsScrape(t *testing.T) {
	c := fstest.StartCluster(t, fstest.ClusterOptions{Nodes: 1, Mount: true})
	url := "http://" + c.Addrs[0].HTTP() + "/metrics"
	before := scrape(t, url)
	for _, want := range []string{
		"dfs_raft_leader", "dfs_raft_term", "dfs_cluster_members,state=alive", "dfs_node_capacity_bytes",
		"dfs_write_buffer_bytes", "dfs_chunk_uploads_total", "dfs_alerts_firing,kind=peer_dead,severity=critical",
		"go_goroutines",
	} {
		if _, ok := before[want]; !ok {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if before["dfs_raft_leader"] != 1 || before["dfs_cluster_members,state=alive"] != 1 {
		t.Errorf("leader %v, alive members %v; want 1 and 1", before["dfs_raft_leader"], before["dfs_cluster_members,state=alive"])
	}
	data := bytes.Repeat([]byte("metrics "), 2<<20) // 16 MiB: several chunks
	if err := os.WriteFile(filepath.Join(c.Nodes[0].Mountpoint, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, url)
	for _, k := range []string{"dfs_fuse_operations_total,op=write", "dfs_fuse_operations_total,op=create",
		"dfs_fuse_written_bytes_total", "dfs_chunk_uploads_total", "dfs_raft_commit_index"} {
		if after[k] <= before[k] {
			t.Errorf("%s did not move with traffic: %v then %v", k, before[k], after[k])
		}
	}
	if after["dfs_fuse_written_bytes_total"]-before["dfs_fuse_written_bytes_total"] < float64(len(data)) {
		t.Errorf("written bytes moved by %v; want at least %d", after["dfs_fuse_written_bytes_total"]-before["dfs_fuse_written_bytes_total"], len(data))
	}
	var found bool
	for k := range after {
		found = found || strings.HasPrefix(k, "dfs_chunk_transfer_bytes_total,")
	}
	if !found {
		t.Errorf("no dfs_chunk_transfer_bytes_total series after a write")
	}
	// The leader sums replication health every second; the file's chunk
	// (one: its 4 MiB pieces are equal) shows once a repair pass counted it.
	fstest.Eventually(t, 20*time.Second, "the file's chunks counted as replicated", func() error {
		m := scrape(t, url)
		if m["dfs_replication_chunks,state=replicated"] < 1 || m["dfs_node_chunks"] < 1 {
			return fmt.Errorf("replicated %v, held %v", m["dfs_replication_chunks,state=replicated"], m["dfs_node_chunks"])
		}
		if _, ok := m["dfs_replication_chunks,state=missing"]; !ok {
			return errors.New("no missing series")
		}
		return nil
	})
}

// TestBenchOnMount runs dfsctl bench (small sizes) on a dfs mount: every
// phase completes with data checked, and the bench directory is removed.
func TestBenchOnMount(t *testing.T) {
	d := fstest.Start(t, fstest.Options{})
	code, out := dfsctl(t, "bench", "-p", "2", "--big-file-size", "9MiB", "--small-files", "20",
		"--small-file-size", "16KiB", d.Mountpoint)
	if code != 0 {
		t.Fatalf("dfsctl bench on the mount: exit %d:\n%s", code, out)
	}
	for _, phase := range []string{"write big", "read big", "write small", "read small", "stat small"} {
		if !strings.Contains(out, phase) {
			t.Errorf("bench output has no %q phase:\n%s", phase, out)
		}
	}
	ents, err := os.ReadDir(d.Mountpoint)
	if err != nil || len(ents) != 0 {
		t.Errorf("after the bench the mount holds %d entries (%v); want none", len(ents), err)
	}
}

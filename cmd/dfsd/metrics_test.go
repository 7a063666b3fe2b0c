package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/consensus"
	"github.com/dfsproject/dfs/fs"
	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store"
)

// fakeMetricSources are metric sources a test sets.
type fakeMetricSources struct {
	mu       sync.Mutex
	chunks   store.ChunkStoreStats
	dirty    int64
	raft     consensus.Status
	members  []cluster.Member
	alerts   []alerts.Event
	capacity uint64
	used     uint64
	usageErr error
}

func (f *fakeMetricSources) set(fn func(f *fakeMetricSources)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeMetricSources) sources() metricSources {
	return metricSources{
		Chunks: func() store.ChunkStoreStats { f.mu.Lock(); defer f.mu.Unlock(); return f.chunks },
		Dirty:  func() int64 { f.mu.Lock(); defer f.mu.Unlock(); return f.dirty },
		Raft:   func() consensus.Status { f.mu.Lock(); defer f.mu.Unlock(); return f.raft },
		Members: func() []cluster.Member {
			f.mu.Lock()
			defer f.mu.Unlock()
			return slices.Clone(f.members)
		},
		Alerts: func() []alerts.Event {
			f.mu.Lock()
			defer f.mu.Unlock()
			return slices.Clone(f.alerts)
		},
		Usage: func() (uint64, uint64, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.capacity, f.used, f.usageErr
		},
	}
}

// scrapeMetrics GETs url and parses the text exposition format.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	return fams
}

// metricValue is the value of the sample of family name with exactly labels
// ("k=v"); ok is false when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	mf := fams[name]
	if mf == nil {
		return 0, false
	}
	want := slices.Sorted(slices.Values(labels))
	for _, m := range mf.GetMetric() {
		var got []string
		for _, lp := range m.GetLabel() {
			got = append(got, lp.GetName()+"="+lp.GetValue())
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// metricSample is one expected sample: family, labels and value.
type metricSample struct {
	name   string
	labels []string
	want   float64
}

func checkMetricSamples(t *testing.T, fams map[string]*dto.MetricFamily, want []metricSample) {
	t.Helper()
	for _, s := range want {
		got, ok := metricValue(fams, s.name, s.labels...)
		switch {
		case !ok:
			t.Errorf("%s%v: missing from the scrape", s.name, s.labels)
		case got != s.want:
			t.Errorf("%s%v = %v, want %v", s.name, s.labels, got, s.want)
		}
	}
}

// metricsNoFS is a vfs.FileSystem for registering the FUSE metrics; it
// is never called.
type metricsNoFS struct{ vfs.FileSystem }

func TestMetricsEndpoint(t *testing.T) {
	src := &fakeMetricSources{
		chunks: store.ChunkStoreStats{MemHits: 10, DiskHits: 3, BackendGets: 4, Uploads: 5, Dedups: 2, Corrupt: 1,
			MemChunks: 6, MemBytes: 600, DiskChunks: 7, DiskBytes: 700},
		dirty: 12345,
		raft: consensus.Status{State: "Leader", Leader: "a", Term: "7", CommitIndex: 100, AppliedIndex: 97,
			Voters: []string{"a", "b", "c"}, Nonvoters: []string{"d"}},
		members: []cluster.Member{
			{Name: "a", State: cluster.MemberAlive, Local: true}, {Name: "b", State: cluster.MemberAlive},
			{Name: "c", State: cluster.MemberSuspect}, {Name: "d", State: cluster.MemberDead},
		},
		alerts: []alerts.Event{
			{Kind: alerts.PeerDead, Node: "d", Severity: alerts.SeverityCritical, Firing: true},
			{Kind: alerts.CorruptReplica, Node: "b", Firing: true}, // default severity: critical
			{Kind: alerts.CorruptReplica, Node: "c", Firing: true},
			{Kind: "disk_slow", Node: "c", Severity: alerts.SeverityWarning, Firing: true},
		},
		capacity: 1000,
		used:     250,
	}
	reg, err := newMetrics(src.sources())
	if err != nil {
		t.Fatal(err)
	}
	observe, err := chunkRequestMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	fuse := fs.Instrument(metricsNoFS{}, reg) // its families live in the same registry
	_ = fuse
	observe("b", "put", 4096, 10*time.Millisecond, nil)
	observe("b", "get", 1000, 5*time.Millisecond, nil)
	observe("a", "get", 3000, time.Millisecond, nil)
	observe("c", "get", 0, time.Second, store.ErrUnreachable)
	observe("a", "stat", 0, time.Millisecond, store.ErrNotFound) // an answer, not an error
	observe("c", "stat", 0, 2*time.Millisecond, context.Canceled)

	srv := httptest.NewServer(metricsHandler(reg, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	fams := scrapeMetrics(t, srv.URL)

	checkMetricSamples(t, fams, []metricSample{
		{"dfs_chunk_cache_hits_total", []string{"tier=memory"}, 10},
		{"dfs_chunk_cache_hits_total", []string{"tier=disk"}, 3},
		{"dfs_chunk_cache_misses_total", nil, 4},
		{"dfs_chunk_uploads_total", nil, 5},
		{"dfs_chunk_dedup_total", nil, 2},
		{"dfs_chunk_corrupt_total", nil, 1},
		{"dfs_chunk_cache_bytes", []string{"tier=memory"}, 600},
		{"dfs_chunk_cache_bytes", []string{"tier=disk"}, 700},
		{"dfs_chunk_cache_chunks", []string{"tier=memory"}, 6},
		{"dfs_chunk_cache_chunks", []string{"tier=disk"}, 7},
		{"dfs_write_buffer_bytes", nil, 12345},
		{"dfs_raft_state", []string{"state=leader"}, 1},
		{"dfs_raft_state", []string{"state=follower"}, 0},
		{"dfs_raft_state", []string{"state=candidate"}, 0},
		{"dfs_raft_state", []string{"state=shutdown"}, 0},
		{"dfs_raft_term", nil, 7},
		{"dfs_raft_commit_index", nil, 100},
		{"dfs_raft_applied_index", nil, 97},
		{"dfs_raft_apply_lag", nil, 3},
		{"dfs_raft_leader", nil, 1},
		{"dfs_raft_voters", nil, 3},
		{"dfs_raft_nonvoters", nil, 1},
		{"dfs_cluster_members", []string{"state=alive"}, 2},
		{"dfs_cluster_members", []string{"state=suspect"}, 1},
		{"dfs_cluster_members", []string{"state=dead"}, 1},
		{"dfs_cluster_members", []string{"state=left"}, 0},
		{"dfs_node_capacity_bytes", nil, 1000},
		{"dfs_node_used_bytes", nil, 250},
		{"dfs_alerts_firing", []string{"kind=peer_dead", "severity=critical"}, 1},
		{"dfs_alerts_firing", []string{"kind=corrupt_replica", "severity=critical"}, 2},
		{"dfs_alerts_firing", []string{"kind=disk_slow", "severity=warning"}, 1},
		{"dfs_alerts_firing", []string{"kind=quorum_lost", "severity=critical"}, 0},
		{"dfs_alerts_firing", []string{"kind=peer_left", "severity=info"}, 0},
		{"dfs_chunk_transfer_bytes_total", []string{"node=b", "direction=upload"}, 4096},
		{"dfs_chunk_transfer_bytes_total", []string{"node=b", "direction=download"}, 1000},
		{"dfs_chunk_transfer_bytes_total", []string{"node=a", "direction=download"}, 3000},
		{"dfs_chunk_request_duration_seconds", []string{"node=b", "op=put"}, 1}, // observations
		{"dfs_chunk_request_duration_seconds", []string{"node=c", "op=get"}, 1},
		{"dfs_chunk_request_duration_seconds", []string{"node=a", "op=stat"}, 1},
		{"dfs_chunk_request_errors_total", []string{"node=c", "op=get"}, 1},
		{"dfs_fuse_operations_total", []string{"op=getattr"}, 0},
	})
	// Neither a "not found" answer nor an abandoned call is an error; an
	// abandoned call is not timed either.
	for _, absent := range [][]string{{"dfs_chunk_request_errors_total", "node=a", "op=stat"},
		{"dfs_chunk_request_errors_total", "node=c", "op=stat"}, {"dfs_chunk_request_duration_seconds", "node=c", "op=stat"},
		{"dfs_chunk_transfer_bytes_total", "node=c", "direction=download"}} {
		if v, ok := metricValue(fams, absent[0], absent[1:]...); ok {
			t.Errorf("%s%v = %v; want no such sample", absent[0], absent[1:], v)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if fams[name] == nil {
			t.Errorf("%s missing: the Go or process collector is not registered", name)
		}
	}
	if h := fams["dfs_chunk_request_duration_seconds"]; h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Errorf("dfs_chunk_request_duration_seconds is not a histogram: %v", h)
	}
	lintMetricFamilies(t, fams)

	// Counters move between scrapes as their sources do.
	src.set(func(f *fakeMetricSources) {
		f.chunks.MemHits = 15
		f.chunks.Uploads = 9
		f.raft.State, f.raft.Term, f.raft.AppliedIndex = "Follower", "8", 100
		f.members[2].State = cluster.MemberAlive
		f.alerts = nil
	})
	observe("b", "put", 4, time.Millisecond, nil)
	fams = scrapeMetrics(t, srv.URL)
	checkMetricSamples(t, fams, []metricSample{
		{"dfs_chunk_cache_hits_total", []string{"tier=memory"}, 15},
		{"dfs_chunk_uploads_total", nil, 9},
		{"dfs_raft_state", []string{"state=leader"}, 0},
		{"dfs_raft_state", []string{"state=follower"}, 1},
		{"dfs_raft_leader", nil, 0},
		{"dfs_raft_term", nil, 8},
		{"dfs_raft_apply_lag", nil, 0},
		{"dfs_cluster_members", []string{"state=alive"}, 3},
		{"dfs_cluster_members", []string{"state=suspect"}, 0},
		{"dfs_alerts_firing", []string{"kind=peer_dead", "severity=critical"}, 0},
		{"dfs_chunk_transfer_bytes_total", []string{"node=b", "direction=upload"}, 4100},
		{"dfs_chunk_request_duration_seconds", []string{"node=b", "op=put"}, 2},
	})
	if _, ok := metricValue(fams, "dfs_alerts_firing", "kind=disk_slow", "severity=warning"); ok {
		t.Error("a resolved alert of a kind outside the known ones is still exported")
	}
}

// lintMetricFamilies fails the test for every family that breaks Prometheus's
// conventions (names, units, _total on counters, help).
func lintMetricFamilies(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	var mfs []*dto.MetricFamily
	for name, mf := range fams {
		if strings.HasPrefix(name, "dfs_") {
			mfs = append(mfs, mf)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s breaks Prometheus conventions: %s", p.Metric, p.Text)
	}
}

// A source that fails leaves its metrics out and the rest is served.
func TestMetricsUsageFailure(t *testing.T) {
	src := &fakeMetricSources{usageErr: errors.New("statfs: input/output error")}
	reg, err := newMetrics(metricSources{Usage: src.sources().Usage, Dirty: src.sources().Dirty})
	if err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	srv := httptest.NewServer(metricsHandler(reg, slog.New(slog.NewTextHandler(&logged, nil))))
	defer srv.Close()
	fams := scrapeMetrics(t, srv.URL)
	if _, ok := metricValue(fams, "dfs_node_capacity_bytes"); ok {
		t.Error("dfs_node_capacity_bytes exported although the usage is unknown")
	}
	checkMetricSamples(t, fams, []metricSample{{"dfs_write_buffer_bytes", nil, 0}})
	if !strings.Contains(logged.String(), "input/output error") {
		t.Errorf("the failure was not logged; log: %q", logged.String())
	}
}

// Sources are optional and may come later, once each.
func TestMetricsSourcesAddedLater(t *testing.T) {
	reg, err := newMetrics(metricSources{})
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "dfs_") {
			t.Errorf("%s exported without a source", mf.GetName())
		}
	}
	src := &fakeMetricSources{chunks: store.ChunkStoreStats{Uploads: 3}}
	if err := addMetricSources(reg, metricSources{Chunks: src.sources().Chunks}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(metricsHandler(reg, slog.New(slog.DiscardHandler)))
	defer srv.Close()
	checkMetricSamples(t, scrapeMetrics(t, srv.URL), []metricSample{{"dfs_chunk_uploads_total", nil, 3}})
	if err := addMetricSources(reg, metricSources{Chunks: src.sources().Chunks}); err == nil {
		t.Error("a second chunk source was accepted")
	}
}

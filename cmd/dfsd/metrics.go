package main

// dfsd's Prometheus metrics, served on /metrics of the peer API's
// listener (--http-addr) without a signature: Prometheus cannot sign. They
// say how busy the node is and name its peers, nothing more.
//
// Families (beyond the Go runtime's go_* and the process's process_*):
//
//	dfs_fuse_*                            the FUSE operations (fs.Instrument)
//	dfs_chunk_transfer_bytes_total        {node,direction} chunk bytes to and from each node
//	dfs_chunk_request_duration_seconds    {node,op} chunk calls to each node
//	dfs_chunk_request_errors_total        {node,op} failed chunk calls
//	dfs_chunk_cache_hits_total            {tier} chunk reads served by the memory or disk cache
//	dfs_chunk_cache_misses_total          chunk reads that went to the backend
//	dfs_chunk_cache_bytes, _chunks        {tier} what the caches hold
//	dfs_chunk_uploads_total, dfs_chunk_dedup_total, dfs_chunk_corrupt_total
//	dfs_write_buffer_bytes                the write buffers of open files
//	dfs_raft_*                            this server's view of Raft
//	dfs_cluster_members                   {state} the membership as this node sees it
//	dfs_node_capacity_bytes, dfs_node_used_bytes
//	dfs_alerts_firing                     {kind,severity} open alerts
//	dfs_replication_chunks, _bytes        {state} the cluster's chunks as the leader last summed them
//	dfs_replication_summary_age_seconds   how old that sum is
//	dfs_node_chunks, dfs_node_chunk_bytes the copies this node holds
//	dfs_node_chunks_to_move               of those, the ones its layout no longer places here

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/consensus"
	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/cluster/replica"
	"github.com/dfsproject/dfs/store"
)

// metricSources are the getters the metrics read at each scrape, once
// each. Every one is optional: a nil one leaves its families out (a
// standalone node has no Raft; the chunk store and the write buffers exist
// only once the filesystem is open, after the HTTP listener). Each must be
// safe for concurrent use and quick.
type metricSources struct {
	Chunks  func() store.ChunkStoreStats // (*store.ChunkStore).Stats
	Dirty   func() int64                 // (*vfs.VFS).DirtyBytes
	Raft    func() consensus.Status      // (*consensus.Node).Status
	Members func() []cluster.Member      // (*node).members
	Alerts  func() []alerts.Event        // (*alerts.Manager).Open
	// Usage is this node's capacity and used bytes (node.usage); an error
	// fails those two metrics of the scrape, logged by the handler.
	Usage func() (capacity, used uint64, err error)
	// Replication is the cluster's replication health (node.repl; nil
	// before the first sum) and this node's share (LocalReplication).
	Replication      func() *control.ClusterReplication
	LocalReplication func() control.NodeReplication
}

// newMetrics returns a registry with the Go runtime and process
// collectors and collectors over src. Sources that exist only later are
// added with addMetricSources.
func newMetrics(src metricSources) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, fmt.Errorf("metrics: %v", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, fmt.Errorf("metrics: %v", err)
	}
	if err := addMetricSources(reg, src); err != nil {
		return nil, err
	}
	return reg, nil
}

// addMetricSources registers collectors over the sources src has. Giving
// a source twice is an error.
func addMetricSources(reg prometheus.Registerer, src metricSources) error {
	var cs []prometheus.Collector
	if src.Chunks != nil {
		cs = append(cs, chunkCollector(src.Chunks))
	}
	if src.Dirty != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dfs_write_buffer_bytes",
			Help: "Bytes held by the write buffers of open files: data not uploaded yet, uploads in progress and reservations (spilled data excluded).",
		}, func() float64 { return float64(src.Dirty()) }))
	}
	if src.Raft != nil {
		cs = append(cs, raftCollector(src.Raft))
	}
	if src.Members != nil {
		cs = append(cs, membersCollector(src.Members))
	}
	if src.Usage != nil {
		cs = append(cs, usageCollector(src.Usage))
	}
	if src.Alerts != nil {
		cs = append(cs, alertsCollector(src.Alerts))
	}
	if src.Replication != nil && src.LocalReplication != nil {
		cs = append(cs, replicationCollector(src.Replication, src.LocalReplication))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %v", err)
		}
	}
	return nil
}

// metricsHandler serves reg in Prometheus's formats. A collector that
// fails (usage unknown) leaves its metrics out of that scrape and is
// logged; the rest is served.
func metricsHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
		// promhttp_metric_handler_errors_total counts those failures.
		Registry: reg,
		// The endpoint is unsigned: bound what a flood of scrapes costs.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// chunkRequestBuckets go from 100µs (a local disk) to 30s (the default
// call timeout).
var chunkRequestBuckets = []float64{
	100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
	1, 2.5, 5, 10, 30,
}

// chunkRequestMetrics registers the chunk traffic families in reg and
// returns the replica.Config.Observe that feeds them:
// dfs_chunk_transfer_bytes_total{node,direction="upload|download"},
// dfs_chunk_request_duration_seconds{node,op} and
// dfs_chunk_request_errors_total{node,op}. A "not found" answer is not an
// error (a node outside a chunk's placement lacks it), and a call its
// caller abandoned (another replica answered first) is neither timed nor
// counted as an error: it says nothing about the node. node is every
// member ever called, this one included (its own backend).
func chunkRequestMetrics(reg prometheus.Registerer) (func(node, op string, bytes int64, d time.Duration, err error), error) {
	transfer := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dfs_chunk_transfer_bytes_total",
		Help: "Chunk bytes sent to (upload) and received from (download) each node, this node's own backend included.",
	}, []string{"node", "direction"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "dfs_chunk_request_duration_seconds",
		Help:    "Time chunk calls to each node took, by operation (get, put, stat, delete), failed ones included.",
		Buckets: chunkRequestBuckets,
	}, []string{"node", "op"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dfs_chunk_request_errors_total",
		Help: "Chunk calls to each node that failed, by operation (\"not found\" answers excluded).",
	}, []string{"node", "op"})
	for _, c := range []prometheus.Collector{transfer, dur, errs} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %v", err)
		}
	}
	return func(node, op string, bytes int64, d time.Duration, err error) {
		if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return
		}
		dur.WithLabelValues(node, op).Observe(d.Seconds())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			errs.WithLabelValues(node, op).Inc()
		}
		if bytes > 0 {
			switch op {
			case replica.OpPut:
				transfer.WithLabelValues(node, "upload").Add(float64(bytes))
			case replica.OpGet:
				transfer.WithLabelValues(node, "download").Add(float64(bytes))
			}
		}
	}, nil
}

// metricCollector is a Collector of fixed descriptions whose metrics a
// function makes at each scrape.
type metricCollector struct {
	descs   []*prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (c *metricCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *metricCollector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

func metricDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

func constCounter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func constGauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func chunkCollector(stats func() store.ChunkStoreStats) prometheus.Collector {
	var (
		hits    = metricDesc("dfs_chunk_cache_hits_total", "Chunk reads served by a cache, by tier (memory, disk).", "tier")
		misses  = metricDesc("dfs_chunk_cache_misses_total", "Chunk reads that missed every cache and went to the backend (concurrent reads of one chunk count once).")
		uploads = metricDesc("dfs_chunk_uploads_total", "Chunks written to the backend.")
		dedup   = metricDesc("dfs_chunk_dedup_total", "Chunk writes skipped because the backend held the chunk already.")
		corrupt = metricDesc("dfs_chunk_corrupt_total", "Chunks read from the backend or the disk cache that did not match their hash.")
		bytes   = metricDesc("dfs_chunk_cache_bytes", "Bytes of chunks cached now, by tier (memory, disk).", "tier")
		chunks  = metricDesc("dfs_chunk_cache_chunks", "Chunks cached now, by tier (memory, disk).", "tier")
	)
	return &metricCollector{
		descs: []*prometheus.Desc{hits, misses, uploads, dedup, corrupt, bytes, chunks},
		collect: func(ch chan<- prometheus.Metric) {
			st := stats()
			ch <- constCounter(hits, float64(st.MemHits), "memory")
			ch <- constCounter(hits, float64(st.DiskHits), "disk")
			ch <- constCounter(misses, float64(st.BackendGets))
			ch <- constCounter(uploads, float64(st.Uploads))
			ch <- constCounter(dedup, float64(st.Dedups))
			ch <- constCounter(corrupt, float64(st.Corrupt))
			ch <- constGauge(bytes, float64(st.MemBytes), "memory")
			ch <- constGauge(bytes, float64(st.DiskBytes), "disk")
			ch <- constGauge(chunks, float64(st.MemChunks), "memory")
			ch <- constGauge(chunks, float64(st.DiskChunks), "disk")
		},
	}
}

// raftStates are the values of dfs_raft_state's label: hashicorp/raft's
// states, in lower case. Each is always exported, 1 for the current one.
var raftStates = []string{"follower", "candidate", "leader", "shutdown"}

func raftCollector(status func() consensus.Status) prometheus.Collector {
	var (
		state     = metricDesc("dfs_raft_state", "1 for this server's Raft state, 0 for the others.", "state")
		term      = metricDesc("dfs_raft_term", "This server's current Raft term.")
		commit    = metricDesc("dfs_raft_commit_index", "Index of the last Raft log entry known to be committed.")
		applied   = metricDesc("dfs_raft_applied_index", "Index of the last Raft log entry applied to this node's metadata.")
		lag       = metricDesc("dfs_raft_apply_lag", "Committed Raft log entries not applied yet on this node (commit index minus applied index).")
		leader    = metricDesc("dfs_raft_leader", "1 when this server is the Raft leader, else 0.")
		voters    = metricDesc("dfs_raft_voters", "Voters in the Raft configuration.")
		nonvoters = metricDesc("dfs_raft_nonvoters", "Non-voting members in the Raft configuration.")
	)
	return &metricCollector{
		descs: []*prometheus.Desc{state, term, commit, applied, lag, leader, voters, nonvoters},
		collect: func(ch chan<- prometheus.Metric) {
			st := status()
			cur := strings.ToLower(st.State)
			known := false
			for _, s := range raftStates {
				ch <- constGauge(state, metricBool(s == cur), s)
				known = known || s == cur
			}
			if !known && cur != "" {
				ch <- constGauge(state, 1, cur)
			}
			if t, err := strconv.ParseUint(st.Term, 10, 64); err == nil {
				ch <- constGauge(term, float64(t))
			}
			ch <- constGauge(commit, float64(st.CommitIndex))
			ch <- constGauge(applied, float64(st.AppliedIndex))
			ch <- constGauge(lag, float64(st.CommitIndex-min(st.AppliedIndex, st.CommitIndex)))
			ch <- constGauge(leader, metricBool(cur == "leader"))
			ch <- constGauge(voters, float64(len(st.Voters)))
			ch <- constGauge(nonvoters, float64(len(st.Nonvoters)))
		},
	}
}

func metricBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// memberStates are the values of dfs_cluster_members's label, each always
// exported.
var memberStates = []cluster.MemberState{cluster.MemberAlive, cluster.MemberSuspect, cluster.MemberDead, cluster.MemberLeft}

func membersCollector(members func() []cluster.Member) prometheus.Collector {
	d := metricDesc("dfs_cluster_members", "Members of the cluster as this node sees them, by state (alive, suspect, dead, left).", "state")
	return &metricCollector{
		descs: []*prometheus.Desc{d},
		collect: func(ch chan<- prometheus.Metric) {
			count := make(map[cluster.MemberState]int, len(memberStates))
			for _, m := range members() {
				count[m.State]++
			}
			for _, s := range memberStates {
				ch <- constGauge(d, float64(count[s]), s.String())
				delete(count, s)
			}
			for s, n := range count {
				ch <- constGauge(d, float64(n), s.String())
			}
		},
	}
}

func usageCollector(usage func() (uint64, uint64, error)) prometheus.Collector {
	var (
		capacity = metricDesc("dfs_node_capacity_bytes", "This node's storage capacity (--capacity, else its backend's size; 0 when unknown).")
		used     = metricDesc("dfs_node_used_bytes", "Bytes used on this node's backend (0 when the backend cannot tell).")
	)
	return &metricCollector{
		descs: []*prometheus.Desc{capacity, used},
		collect: func(ch chan<- prometheus.Metric) {
			c, u, err := usage()
			if err != nil {
				err = fmt.Errorf("node usage: %w", err)
				ch <- prometheus.NewInvalidMetric(capacity, err)
				ch <- prometheus.NewInvalidMetric(used, err)
				return
			}
			ch <- constGauge(capacity, float64(c))
			ch <- constGauge(used, float64(u))
		},
	}
}

// alertKinds are the kinds of alerts dfs raises; each is always exported
// with its default severity (0 when none is open), so that an alerting
// rule can tell "none open" from "not measured".
var alertKinds = []alerts.Kind{
	alerts.PeerSuspect, alerts.PeerDead, alerts.PeerLeft, alerts.PeerBack, alerts.LeaderLost,
	alerts.QuorumLost, alerts.UnderReplicated, alerts.ChunksMissing, alerts.CorruptReplica, alerts.CapacityHigh, alerts.BackendDown,
}

func alertsCollector(open func() []alerts.Event) prometheus.Collector {
	d := metricDesc("dfs_alerts_firing", "Open (firing) alerts known to this node, by kind and severity.", "kind", "severity")
	type key struct {
		kind     alerts.Kind
		severity alerts.Severity
	}
	return &metricCollector{
		descs: []*prometheus.Desc{d},
		collect: func(ch chan<- prometheus.Metric) {
			count := map[key]int{}
			for _, ev := range open() {
				sev := ev.Severity
				if sev == "" {
					sev = ev.Kind.Severity()
				}
				count[key{ev.Kind, sev}]++
			}
			for _, k := range alertKinds {
				kk := key{k, k.Severity()}
				ch <- constGauge(d, float64(count[kk]), string(k), string(kk.severity))
				delete(count, kk)
			}
			for k, n := range count {
				ch <- constGauge(d, float64(n), string(k.kind), string(k.severity))
			}
		},
	}
}

// replicationStates label dfs_replication_chunks and _bytes.
var replicationStates = []string{"replicated", "under_replicated", "missing", "to_move"}

func replicationCollector(sum func() *control.ClusterReplication, local func() control.NodeReplication) prometheus.Collector {
	var (
		chunks = metricDesc("dfs_replication_chunks", "Referenced chunks by replication state (replicated, under_replicated, missing), and copies queued to move (to_move), summed over the nodes by the Raft leader.", "state")
		bytes  = metricDesc("dfs_replication_bytes", "Bytes of dfs_replication_chunks (0 for missing: their size is unknown).", "state")
		age    = metricDesc("dfs_replication_summary_age_seconds", "Seconds since the Raft leader summed the replication health.")
		held   = metricDesc("dfs_node_chunks", "Chunk copies this node holds, as its last rebalance pass counted them.")
		heldB  = metricDesc("dfs_node_chunk_bytes", "Bytes of dfs_node_chunks.")
		toMove = metricDesc("dfs_node_chunks_to_move", "Copies on this node that the layout no longer places here (draining, or after a layout change), still to move.")
	)
	return &metricCollector{
		descs: []*prometheus.Desc{chunks, bytes, age, held, heldB, toMove},
		collect: func(ch chan<- prometheus.Metric) {
			if cr := sum(); cr != nil {
				t := cr.Total
				counts := []int64{t.Replicated, t.UnderReplicated, t.Missing, t.ToMove}
				sizes := []int64{t.ReplicatedBytes, t.UnderBytes, 0, t.ToMoveBytes}
				for i, s := range replicationStates {
					ch <- constGauge(chunks, float64(counts[i]), s)
					ch <- constGauge(bytes, float64(sizes[i]), s)
				}
				ch <- constGauge(age, time.Since(cr.At).Seconds())
			}
			if h := local().Health; h != nil {
				ch <- constGauge(held, float64(h.Held))
				ch <- constGauge(heldB, float64(h.HeldBytes))
				ch <- constGauge(toMove, float64(h.ToMove))
			}
		},
	}
}

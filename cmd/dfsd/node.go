package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/consensus"
	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/cluster/repair"
	"github.com/dfsproject/dfs/cluster/replica"
	"github.com/dfsproject/dfs/cmd/dfsd/statuspage"
	"github.com/dfsproject/dfs/fs/vfs"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// node is dfsd's place in the cluster: gossip membership, the peer and
// control APIs, and the alerts that membership changes raise. Without a
// cluster key it is a standalone node: no network listener at all, only
// the control socket.
type node struct {
	cfg     *config
	log     *slog.Logger
	key     []byte
	usage   func() (capacity, used uint64, err error)
	gossip  *cluster.Node // nil when standalone
	alerts  *alerts.Manager
	started time.Time
	// metrics is the Prometheus registry served on /metrics.
	metrics *prometheus.Registry

	// fsm is the namespace; proposer applies commands to it (through
	// raft in a cluster) and chunks is where chunks are stored (on R
	// nodes in a cluster).
	fsm    *meta.FSM
	raft   *consensus.Node // nil when standalone
	placer *layoutPlacer
	keeper *repair.Keeper // nil when standalone
	peers  *gossipPeers   // nil when standalone
	// repl is the cluster's replication health: the leader's last sum.
	repl atomic.Pointer[control.ClusterReplication]
	// vfs is the filesystem, once open: Holds answers peers from it.
	vfs atomic.Pointer[vfs.VFS]
	// fail ends the daemon with an error (startNode's fail).
	fail     func(error)
	proposer meta.Proposer
	chunks   store.Backend

	// sendMu makes choosing the sender and reporting one step, so that an
	// event is pushed by exactly the node that was the sender for it.
	sendMu sync.Mutex

	stops []func()
	wg    sync.WaitGroup
}

// startNode starts the node's parts. fail is called (once, from another
// goroutine) when the node cannot go on, for example when the cluster
// refuses its key. The caller must call close.
func startNode(cfg *config, dataDir string, backend store.Backend, fsm *meta.FSM, logger *slog.Logger, fail func(error)) (_ *node, err error) {
	n := &node{cfg: cfg, log: logger, started: time.Now(), fsm: fsm, proposer: meta.NewLocal(fsm), chunks: backend, fail: fail}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if cfg.keyFile != "" {
		if n.key, err = cluster.LoadKeyFile(cfg.keyFile); err != nil {
			return nil, fmt.Errorf("--cluster-key-file: %v", err)
		}
	}
	n.usage = n.watchCapacity(usageFunc(cfg, backend))

	acfg := alerts.DefaultConfig()
	if cfg.gossipProfile == "test" {
		acfg = alerts.DefaultTestConfig()
	}
	acfg.Cluster = cfg.clusterName
	acfg.Node = cfg.nodeName
	acfg.Webhooks = cfg.webhooks
	if n.key != nil {
		acfg.Key = alerts.DeriveKey(n.key)
	}
	acfg.StateFile = filepath.Join(dataDir, "alerts.json")
	acfg.Logger = logger.With("part", "alerts")
	if n.alerts, err = alerts.New(acfg); err != nil {
		return nil, fmt.Errorf("alerts: %v", err)
	}
	n.goStop(func(ctx context.Context) { n.alerts.Run(ctx) }, n.alerts.Close)
	if n.metrics, err = newMetrics(metricSources{Members: n.members, Alerts: n.alerts.Open, Usage: n.usage}); err != nil {
		return nil, err
	}

	if n.key != nil {
		if err := n.startGossip(fail); err != nil {
			return nil, err
		}
		if err := n.startRaft(dataDir, backend); err != nil {
			return nil, err
		}
		if err := n.startHTTP(backend); err != nil {
			return nil, err
		}
	} else {
		logger.Info("standalone node: no cluster key, so no gossip and no peer API")
	}
	if err := n.startControl(dataDir); err != nil {
		return nil, err
	}
	return n, nil
}

// goStop runs f in a goroutine until close, which cancels its context,
// calls stop (if any) and waits for it.
func (n *node) goStop(f func(ctx context.Context), stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f(ctx)
	}()
	n.stops = append(n.stops, func() {
		cancel()
		if stop != nil {
			stop()
		}
	})
}

func (n *node) startGossip(fail func(error)) error {
	cfg := n.cfg
	ccfg := cluster.DefaultConfig()
	if cfg.gossipProfile == "test" {
		ccfg = cluster.DefaultTestConfig()
	}
	ccfg.Name = cfg.nodeName
	ccfg.BindAddr = cfg.gossipAddr
	ccfg.AdvertiseAddr = cfg.advertise
	ccfg.HTTPAddr = cfg.httpAddr
	ccfg.RaftAddr = raftListenAddr(cfg)
	ccfg.Join = cfg.join
	ccfg.Zone = cfg.zone
	ccfg.Key = n.key
	ccfg.Version = version
	ccfg.Usage = n.usage
	ccfg.Logger = n.log.With("part", "gossip")
	if c, u, err := n.usage(); err == nil {
		ccfg.Capacity, ccfg.Used = c, u
	}
	g, err := cluster.New(ccfg)
	if err != nil {
		return fmt.Errorf("cluster: %v", err)
	}
	n.gossip = g
	n.goStop(func(ctx context.Context) {
		err := g.Run(ctx)
		if errors.Is(err, cluster.ErrKeyMismatch) {
			fail(fmt.Errorf("cannot join the cluster: %v (check --cluster-key-file on this node and the others)", err))
		} else if err != nil && ctx.Err() == nil && !errors.Is(err, cluster.ErrClosed) {
			fail(fmt.Errorf("cluster: %v", err))
		}
	}, func() {
		if err := g.Close(); err != nil {
			n.log.Warn("leaving the cluster", "err", err)
		}
	})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for ev := range g.Events() {
			n.onEvent(ev)
		}
	}()
	return nil
}

// startHTTP serves the peer API, the signed control API and the status
// page on --http-addr.
func (n *node) startHTTP(backend store.Backend) error {
	ph, err := peer.NewHandler(peer.HandlerConfig{Backend: backend, Key: n.key, Logger: n.log.With("part", "peer")})
	if err != nil {
		return err
	}
	ch, err := control.NewHandler(control.HandlerConfig{Source: n, Key: n.key, Logger: n.log.With("part", "control")})
	if err != nil {
		return err
	}
	sp, err := statuspage.Handler(statuspage.Config{Source: n, Token: n.cfg.statusToken, Logger: n.log.With("part", "statuspage")})
	if err != nil {
		return fmt.Errorf("--status-token (or $DFS_STATUS_TOKEN): %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/chunks", ph)
	mux.Handle("/v1/chunks/", ph)
	mux.Handle("/v1/raft/", n.raft.Handler())
	mux.Handle("/metrics", metricsHandler(n.metrics, n.log.With("part", "metrics"))) // unsigned: Prometheus cannot sign
	mux.Handle("/v1/", ch)                                                           // signed
	mux.Handle("/ui/", sp)
	mux.Handle("/", sp) // the status page; 404 for other paths
	l, err := net.Listen("tcp", n.cfg.httpAddr)
	if err != nil {
		return fmt.Errorf("--http-addr %s: %v", n.cfg.httpAddr, err)
	}
	n.serveHTTP(l, mux)
	n.log.Info("peer API listening", "addr", l.Addr().String())
	return nil
}

// startControl serves the unsigned control API on DATA/dfsd.sock (0600).
func (n *node) startControl(dataDir string) error {
	h, err := control.NewHandler(control.HandlerConfig{Source: n, Logger: n.log.With("part", "control")})
	if err != nil {
		return err
	}
	path := control.SocketPath(dataDir)
	l, err := control.Listen(path)
	if err != nil {
		return fmt.Errorf("control socket: %v", err)
	}
	// /metrics here too, for standalone nodes (no network listener):
	// curl --unix-socket DATA/dfsd.sock http://dfsd/metrics
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(n.metrics, n.log.With("part", "metrics")))
	mux.Handle("/", h)
	n.serveHTTP(l, mux)
	return nil
}

func (n *node) serveHTTP(l net.Listener, h http.Handler) {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelDebug),
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("HTTP server stopped", "addr", l.Addr().String(), "err", err)
		}
	}()
	n.stops = append(n.stops, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
	})
}

// close stops everything in reverse order of start: the listeners first,
// then gossip (a graceful leave), then the alerts (saving their state).
func (n *node) close() {
	for i := len(n.stops) - 1; i >= 0; i-- {
		n.stops[i]()
	}
	n.stops = nil
	n.wg.Wait()
}

// usageFunc reports the node's capacity (--capacity, else the backend's
// size) and its used bytes (the backend's used bytes, at most the
// capacity). Backends that cannot tell (S3) report 0 unless --capacity
// is given.
func usageFunc(cfg *config, backend store.Backend) func() (uint64, uint64, error) {
	return func() (uint64, uint64, error) {
		capacity := uint64(cfg.capacity)
		sr, ok := backend.(store.SpaceReporter)
		if !ok {
			return capacity, 0, nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sp, err := sr.Space(ctx)
		if err != nil {
			return 0, 0, err
		}
		used := sp.Total - min(sp.Free, sp.Total)
		if capacity == 0 {
			capacity = sp.Total
		}
		return capacity, min(used, capacity), nil
	}
}

// onEvent turns a membership change into alerts. Every node records and
// logs them; only the sender for the event pushes it to the webhooks.
func (n *node) onEvent(ev cluster.Event) {
	name := ev.Member.Name
	if ev.Member.Local {
		return
	}
	details := map[string]string{"addr": ev.Member.Addr}
	if ev.Member.Meta.HTTPAddr != "" {
		details["http_addr"] = ev.Member.Meta.HTTPAddr
	}
	with := func(k, v string) map[string]string {
		d := make(map[string]string, len(details)+1)
		for dk, dv := range details {
			d[dk] = dv
		}
		d[k] = v
		return d
	}
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	n.alerts.SetSender(n.isSender(name))
	switch ev.Type {
	case cluster.EventSuspect:
		n.alerts.Fire(alerts.PeerSuspect, name, with("reason", "probes unanswered"))
	case cluster.EventAlive:
		n.alerts.Resolve(alerts.PeerSuspect, name, with("reason", "answering again"))
	case cluster.EventDead:
		n.alerts.Resolve(alerts.PeerSuspect, name, with("reason", "declared dead"))
		n.alerts.Fire(alerts.PeerDead, name, details)
	case cluster.EventLeft:
		n.alerts.Resolve(alerts.PeerSuspect, name, with("reason", "left"))
		n.alerts.Fire(alerts.PeerLeft, name, details)
	case cluster.EventJoin, cluster.EventBack:
		// A join also resolves what a restart of this node may have
		// left open in its saved alerts.
		for _, k := range []alerts.Kind{alerts.PeerSuspect, alerts.PeerDead, alerts.PeerLeft} {
			n.alerts.Resolve(k, name, with("reason", "back in the cluster"))
		}
	}
}

// isSender reports whether this node pushes an alert that every node
// raises from what it sees: for a cluster-wide alert (subject "") the Raft
// leader; for an alert about a member, or with no leader, the
// lowest-named alive member other than subject. Membership alerts do not
// follow the leader: the leader is often the member that just died, and
// an election between two nodes' views of its death would have both
// push. Alerts about a node are never left to that node itself, which
// cannot see its own failure and knows nothing of what happened while it
// was away.
func (n *node) isSender(subject string) bool {
	if n.raft != nil && subject == "" {
		if leader := n.raft.Leader(); leader != "" {
			return leader == n.cfg.nodeName
		}
	}
	for _, m := range n.gossip.Members() { // sorted by name
		if m.Name == subject || m.State != cluster.MemberAlive || m.Meta.State == cluster.StateLeaving {
			continue
		}
		return m.Local
	}
	return false
}

// Status implements control.Source.
func (n *node) Status() control.Status {
	st := control.Status{
		Cluster: n.cfg.clusterName,
		Self:    n.cfg.nodeName,
		Version: version,
		Alerts:  n.alerts.Open(),
		Time:    time.Now().UTC(),
	}
	for _, m := range n.members() {
		ns := control.NodeStatus{
			Name:     m.Name,
			State:    m.State.String(),
			Mode:     m.Meta.State.String(),
			Addr:     m.Addr,
			HTTPAddr: m.Meta.HTTPAddr,
			Zone:     m.Meta.Zone,
			Capacity: m.Meta.Capacity,
			Used:     m.Meta.Used,
			Version:  m.Meta.Version,
			LastSeen: m.LastSeen.UTC(),
			Since:    m.Since.UTC(),
			Local:    m.Local,
		}
		if ns.Capacity > 0 {
			ns.UsedPercent = 100 * float64(ns.Used) / float64(ns.Capacity)
		}
		st.Nodes = append(st.Nodes, ns)
	}
	if n.raft != nil {
		rs := n.raft.Status()
		st.Raft = &control.RaftStatus{State: rs.State, Leader: rs.Leader, Term: rs.Term,
			CommitIndex: rs.CommitIndex, AppliedIndex: rs.AppliedIndex, Voters: rs.Voters, Nonvoters: rs.Nonvoters}
		if p := n.placer.placer(); p != nil {
			st.Raft.LayoutVersion, st.Raft.Replicas = p.Version(), p.EffectiveReplicas()
			for i := range st.Nodes {
				if nd, ok := p.Node(st.Nodes[i].Name); ok {
					st.Nodes[i].Layout = nd.State.String()
				}
			}
		}
		st.Replication = n.repl.Load()
	}
	st.Health, st.Reasons = health(st)
	return st
}

// members is the membership view; a standalone node is alone in it.
func (n *node) members() []cluster.Member {
	if n.gossip != nil {
		return n.gossip.Members()
	}
	now := time.Now()
	m := cluster.Member{
		Name:     n.cfg.nodeName,
		Meta:     cluster.NodeMeta{Name: n.cfg.nodeName, Zone: n.cfg.zone, Version: version},
		State:    cluster.MemberAlive,
		Since:    n.started,
		LastSeen: now,
		Local:    true,
	}
	if c, u, err := n.usage(); err == nil {
		m.Meta.Capacity, m.Meta.Used = c, u
	}
	return []cluster.Member{m}
}

// health is Degraded when a member is suspect or dead, or an alert of
// warning or critical severity is open; each reason is one short
// sentence.
func health(st control.Status) (string, []string) {
	var reasons []string
	named := map[string]bool{}
	// Once a layout exists, a node out of it (taken out after the
	// down-out, or removed) no longer holds data: its absence is history.
	counts := func(ns control.NodeStatus) bool {
		return st.Raft == nil || st.Raft.LayoutVersion == 0 || ns.Layout != "" && ns.Layout != placement.Removed.String()
	}
	for _, ns := range st.Nodes {
		if (ns.State == cluster.MemberSuspect.String() || ns.State == cluster.MemberDead.String()) && counts(ns) {
			reasons = append(reasons, fmt.Sprintf("%s is %s since %s (%s)", ns.Name, ns.State,
				ns.Since.Local().Format("15:04:05"), st.Time.Sub(ns.Since).Round(time.Second)))
			named[ns.Name] = true
		}
	}
	if st.Raft != nil && st.Raft.Leader == "" {
		reasons = append(reasons, "no Raft leader: metadata changes fail")
	}
	if st.Raft != nil && st.Raft.LayoutVersion == 0 {
		reasons = append(reasons, "no placement layout yet: writes fail")
	}
	if r := st.Replication; r != nil && (r.Total.UnderReplicated > 0 || r.Total.Missing > 0) {
		reasons = append(reasons, fmt.Sprintf("%d chunks under-replicated, %d missing (repair is running)",
			r.Total.UnderReplicated, r.Total.Missing))
	}
	for _, a := range st.Alerts {
		if a.Severity == alerts.SeverityInfo || named[a.Node] || a.Kind == alerts.LeaderLost && st.Raft != nil && st.Raft.Leader == "" {
			continue
		}
		r := fmt.Sprintf("alert %s is open", a.Kind)
		if a.Node != "" {
			r = fmt.Sprintf("alert %s on %s is open", a.Kind, a.Node)
		}
		reasons = append(reasons, r)
	}
	if len(reasons) == 0 {
		return control.Healthy, nil
	}
	return control.Degraded, slices.Compact(reasons)
}

// Alerts implements control.Source.
func (n *node) Alerts(count int) control.AlertList {
	recent := n.alerts.Recent(count) // newest first
	slices.Reverse(recent)
	return control.AlertList{Open: n.alerts.Open(), Recent: recent}
}

// report records a change of an alert that every node raises from what
// it sees (isSender pushes it), and reportLocal one that only this node
// can see (its own capacity, a corrupt copy it read or scrubbed): this
// node pushes it.
func (n *node) report(firing bool, kind alerts.Kind, subject string, details map[string]string) {
	n.reportAs(false, firing, kind, subject, details)
}

func (n *node) reportLocal(firing bool, kind alerts.Kind, subject string, details map[string]string) {
	n.reportAs(true, firing, kind, subject, details)
}

func (n *node) reportAs(local, firing bool, kind alerts.Kind, subject string, details map[string]string) {
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	n.alerts.SetSender(local || n.gossip == nil || n.isSender(subject))
	n.alerts.Report(alerts.Event{Kind: kind, Node: subject, Firing: firing, Details: details})
}

// raftListenAddr is --raft-addr, or the gossip IP with port 7947.
func raftListenAddr(cfg *config) string {
	if cfg.raftAddr != "" {
		return cfg.raftAddr
	}
	host, _, err := net.SplitHostPort(cfg.gossipAddr)
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, "7947")
}

// startRaft starts the namespace's Raft server and the replicated chunk
// backend over the placement layout.
func (n *node) startRaft(dataDir string, backend store.Backend) error {
	cfg := n.cfg
	rcfg := consensus.DefaultConfig()
	if cfg.gossipProfile == "test" {
		rcfg = consensus.DefaultTestConfig()
	}
	rcfg.Name = cfg.nodeName
	rcfg.BindAddr = raftListenAddr(cfg)
	if m, ok := n.gossip.Member(cfg.nodeName); ok {
		rcfg.AdvertiseAddr = m.Meta.RaftAddr
	}
	rcfg.Dir = filepath.Join(dataDir, "raft")
	rcfg.Key = n.key
	rcfg.FSM = n.fsm
	rcfg.BootstrapExpect = cfg.bootstrapExpect
	rcfg.Members = n.gossip.Members
	rcfg.ApplyTimeout = cfg.mutationTimeout
	rcfg.DownOut = cfg.downOut
	rcfg.Logger = n.log.With("part", "raft")
	r, err := consensus.Open(rcfg)
	if err != nil {
		return err
	}
	n.raft = r
	n.proposer = alertingProposer{r, n}
	if err := addMetricSources(n.metrics, metricSources{Raft: r.Status}); err != nil {
		return err
	}
	n.stops = append(n.stops, func() {
		if err := r.Close(); err != nil {
			n.log.Warn("stopping Raft", "err", err)
		}
	})
	n.goStop(n.watchLayout, nil)
	n.goStop(func(ctx context.Context) { n.raftAlerts(ctx, 3*rcfg.ElectionTimeout+time.Second) }, nil)

	hc := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32, IdleConnTimeout: time.Minute}}
	repCfg := replica.DefaultConfig()
	if cfg.gossipProfile == "test" {
		repCfg = replica.DefaultTestConfig()
	}
	repCfg.Local = backend
	n.placer = &layoutPlacer{fsm: n.fsm, log: n.log.With("part", "placement")}
	repCfg.Placer = n.placer
	peers := &gossipPeers{g: n.gossip, key: n.key, http: hc, clients: map[string]*peer.Client{}}
	n.peers = peers
	repCfg.Peers = peers
	repCfg.Logger = n.log.With("part", "replica")
	repCfg.OnCorrupt = func(node string, id store.ChunkID) {
		go n.reportLocal(true, alerts.CorruptReplica, node, map[string]string{"chunk": id.String()})
	}
	if repCfg.Observe, err = chunkRequestMetrics(n.metrics); err != nil {
		return err
	}
	rb, err := replica.New(repCfg)
	if err != nil {
		return err
	}
	n.chunks = clusterSpace{rb, n}
	return n.startKeeper(backend, peers)
}

// clusterSpace gives the replicated backend the cluster's capacity (for
// statfs): the sum over live members of their capacity and free bytes,
// divided by the replica count.
type clusterSpace struct {
	*replica.Backend
	n *node
}

func (c clusterSpace) Space(ctx context.Context) (store.Space, error) {
	var sp store.Space
	for _, m := range c.n.gossip.Members() {
		if m.State == cluster.MemberAlive || m.State == cluster.MemberSuspect {
			sp.Total += m.Meta.Capacity
			sp.Free += m.Meta.Capacity - min(m.Meta.Used, m.Meta.Capacity)
		}
	}
	r := uint64(max(1, min(c.n.cfg.replicas, len(c.n.gossip.Members()))))
	sp.Total /= r
	sp.Free /= r
	return sp, nil
}

// barrier is vfs's close-to-open barrier in a cluster.
func (n *node) barrier(ctx context.Context) error {
	return n.raft.Barrier(ctx, 2*time.Second)
}

// watchCapacity wraps a usage function: each time it is read (gossip
// refreshes it periodically), capacity_high fires for this node when more
// than --capacity-alert percent is used, and resolves below.
func (n *node) watchCapacity(usage func() (uint64, uint64, error)) func() (uint64, uint64, error) {
	return func() (uint64, uint64, error) {
		capacity, used, err := usage()
		if err != nil || capacity == 0 || n.cfg.capacityAlert == 0 || n.alerts == nil {
			return capacity, used, err
		}
		pct := 100 * float64(used) / float64(capacity)
		details := map[string]string{"used_percent": strconv.FormatFloat(pct, 'f', 1, 64), "threshold": strconv.Itoa(n.cfg.capacityAlert)}
		n.reportLocal(pct > float64(n.cfg.capacityAlert), alerts.CapacityHigh, n.cfg.nodeName, details)
		return capacity, used, nil
	}
}

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
	"sync"
	"time"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/store"
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

	// sendMu makes choosing the sender and reporting one step, so that an
	// event is pushed by exactly the node that was the sender for it.
	sendMu sync.Mutex

	stops []func()
	wg    sync.WaitGroup
}

// startNode starts the node's parts. fail is called (once, from another
// goroutine) when the node cannot go on, for example when the cluster
// refuses its key. The caller must call close.
func startNode(cfg *config, dataDir string, backend store.Backend, logger *slog.Logger, fail func(error)) (_ *node, err error) {
	n := &node{cfg: cfg, log: logger, started: time.Now()}
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
	n.usage = usageFunc(cfg, backend)

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

	if n.key != nil {
		if err := n.startGossip(fail); err != nil {
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

// startHTTP serves the peer API and the signed control API on --http-addr.
func (n *node) startHTTP(backend store.Backend) error {
	ph, err := peer.NewHandler(peer.HandlerConfig{Backend: backend, Key: n.key, Logger: n.log.With("part", "peer")})
	if err != nil {
		return err
	}
	ch, err := control.NewHandler(control.HandlerConfig{Source: n, Key: n.key, Logger: n.log.With("part", "control")})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/chunks", ph)
	mux.Handle("/v1/chunks/", ph)
	mux.Handle("/", ch)
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
	n.serveHTTP(l, h)
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

// isSender reports whether this node pushes the alerts about member
// subject: the lowest-named alive member other than subject (so that the
// alerts about a node are never left to that node itself, which cannot
// see its own failure and knows nothing of what happened while it was
// away).
func (n *node) isSender(subject string) bool {
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
	for _, ns := range st.Nodes {
		if ns.State == cluster.MemberSuspect.String() || ns.State == cluster.MemberDead.String() {
			reasons = append(reasons, fmt.Sprintf("%s is %s since %s (%s)", ns.Name, ns.State,
				ns.Since.Local().Format("15:04:05"), st.Time.Sub(ns.Since).Round(time.Second)))
			named[ns.Name] = true
		}
	}
	for _, a := range st.Alerts {
		if a.Severity == alerts.SeverityInfo || named[a.Node] {
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

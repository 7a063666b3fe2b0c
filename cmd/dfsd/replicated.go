package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/consensus"
	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/cluster/peer"
	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/cluster/repair"
	"github.com/dfsproject/dfs/cluster/replica"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// layoutPlacer implements replica.Placer over the layout committed in the
// namespace, compiled once per version.
type layoutPlacer struct {
	fsm *meta.FSM
	log *slog.Logger

	mu      sync.Mutex
	checked time.Time
	cur     atomic.Pointer[placement.Placer]
	// onChange, when set, is called when a new layout version is seen.
	onChange func()
}

// placer returns the current compiled layout (nil before the first one),
// re-reading the namespace at most every 100 ms.
func (l *layoutPlacer) placer() *placement.Placer {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.checked) < 100*time.Millisecond {
		return l.cur.Load()
	}
	l.checked = time.Now()
	b, ver, err := l.fsm.Layout(context.Background())
	if err != nil || b == nil {
		return l.cur.Load()
	}
	if p := l.cur.Load(); p != nil && p.Version() == ver {
		return p
	}
	lay, err := placement.DecodeLayout(b)
	if err == nil {
		var p *placement.Placer
		if p, err = lay.Compile(); err == nil {
			l.cur.Store(p)
			l.log.Info("placement layout", "version", ver, "nodes", len(lay.Nodes), "replicas", lay.Replicas)
			if l.onChange != nil {
				l.onChange()
			}
			return p
		}
	}
	l.log.Error("the committed layout cannot be used", "version", ver, "err", err)
	return l.cur.Load()
}

func (l *layoutPlacer) Order(id store.ChunkID) []string {
	if p := l.placer(); p != nil {
		return p.Order(id)
	}
	return nil
}

func (l *layoutPlacer) Replicas() int {
	if p := l.placer(); p != nil {
		return max(1, p.EffectiveReplicas())
	}
	return 1
}

// gossipPeers implements replica.Peers over the membership view.
type gossipPeers struct {
	g    *cluster.Node
	key  []byte
	http *http.Client

	mu      sync.Mutex
	clients map[string]*peer.Client // by HTTP address
}

func (p *gossipPeers) Local() string { return p.g.LocalName() }

func (p *gossipPeers) Alive(name string) bool {
	m, ok := p.g.Member(name)
	return ok && (m.State == cluster.MemberAlive || m.State == cluster.MemberSuspect)
}

func (p *gossipPeers) Client(name string) (replica.Remote, bool) {
	c, ok := p.peerClient(name)
	if !ok {
		return nil, false
	}
	return c, true
}

// peerClient returns a client for the named member's peer API.
func (p *gossipPeers) peerClient(name string) (*peer.Client, bool) {
	m, ok := p.g.Member(name)
	if !ok || m.Meta.HTTPAddr == "" {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.clients[m.Meta.HTTPAddr]
	if c == nil {
		c = &peer.Client{BaseURL: "http://" + m.Meta.HTTPAddr, Key: p.key, HTTP: p.http}
		p.clients[m.Meta.HTTPAddr] = c
	}
	return c, true
}

// repairPeers is gossipPeers for the repair keeper.
type repairPeers struct{ *gossipPeers }

func (p repairPeers) Client(name string) (repair.Peer, bool) {
	c, ok := p.peerClient(name)
	if !ok {
		return nil, false
	}
	return c, true
}

// startKeeper runs the repair keeper: it restores missing copies of the
// chunks this node is first live replica for, moves copies to their
// placement after a layout change, collects unreferenced local objects
// after --gc-grace, and scrubs local chunks. Replication health comes from
// its last passes.
func (n *node) startKeeper(backend store.Backend, peers *gossipPeers) error {
	kcfg := repair.DefaultConfig()
	if n.cfg.gossipProfile == "test" {
		kcfg = repair.DefaultTestConfig()
	}
	// Whatever the profile: an object a writer uploaded is referenced only
	// when its file is closed, so unreferenced objects are young ones too.
	kcfg.GCGrace = n.cfg.gcGrace
	if n.cfg.gossipProfile != "test" || n.cfg.repairSet {
		kcfg.BytesPerSec = n.cfg.repairBandwidth
		kcfg.ScrubBytesPerSec = n.cfg.scrubBandwidth
		kcfg.Concurrency = n.cfg.repairParallel
	}
	if kcfg.RepairInterval < 2*time.Second {
		kcfg.RepairInterval = 2 * time.Second // layout changes trigger a pass at once anyway
	}
	kcfg.Node = n.cfg.nodeName
	kcfg.Local = backend
	kcfg.Placer = n.placer.placer
	kcfg.Peers = repairPeers{peers}
	kcfg.Chunks = n.fsm
	// Deletions go through Raft tombstones, so that no writer commits a
	// chunk whose object GC deletes (see store/meta's Tombstones).
	kcfg.Condemner = meta.NewTombstones(n.raft)
	kcfg.Logger = n.log.With("part", "repair")
	kcfg.Hooks = repair.Hooks{
		Corrupt: func(id store.ChunkID, err error) {
			n.reportLocal(true, alerts.CorruptReplica, n.cfg.nodeName, map[string]string{"chunk": id.String(), "error": err.Error()})
		},
		Resolved: func(id store.ChunkID) {
			n.reportLocal(false, alerts.CorruptReplica, n.cfg.nodeName, map[string]string{"chunk": id.String()})
		},
	}
	k, err := repair.New(kcfg)
	if err != nil {
		return err
	}
	n.keeper = k
	n.placer.onChange = k.Trigger
	n.goStop(func(ctx context.Context) { k.Run(ctx) }, func() { k.Close() })
	n.goStop(n.sumReplication, nil)
	return addMetricSources(n.metrics, metricSources{Replication: n.repl.Load, LocalReplication: n.LocalReplication})
}

// defaultWeight stands for the capacity of a node whose backend cannot
// tell it (S3 without --capacity): 1 TiB.
const defaultWeight = 1 << 40

// updateLayout keeps the placement layout in step with gossip while this
// node leads: a node that joins is added (its weight is its capacity), a
// node dead or gone for longer than the down-out interval is taken out,
// and a removed node is dropped from the layout once it is gone. Brief
// absences change nothing.
func (n *node) updateLayout(ctx context.Context) error {
	cur, err := n.readLayout(ctx)
	if err != nil {
		return err
	}
	next := *cur
	inLayout := map[string]bool{}
	for _, ln := range cur.Nodes {
		inLayout[ln.Name] = true
	}
	now := time.Now()
	members := n.gossip.Members()
	up := map[string]bool{}
	for _, m := range members {
		up[m.Name] = m.State == cluster.MemberAlive || m.State == cluster.MemberSuspect
	}
	for _, ln := range cur.Nodes {
		if ln.State == placement.Removed && !up[ln.Name] {
			nl, err := next.Without(ln.Name)
			if err != nil {
				return err
			}
			next = *nl
			n.log.Info("a removed node is gone: dropping it from the placement layout", "node", ln.Name)
		}
	}
	for _, m := range members {
		up := up[m.Name]
		switch {
		case up && m.Meta.State != cluster.StateLeaving && !inLayout[m.Name]:
			w := m.Meta.Capacity
			if w == 0 {
				w = defaultWeight
			}
			nl, err := next.With(placement.Node{Name: m.Name, Zone: m.Meta.Zone, Weight: w, State: placement.Active})
			if err != nil {
				return err
			}
			next = *nl
		case !up && inLayout[m.Name] && now.Sub(m.Since) > n.cfg.downOut:
			nl, err := next.Without(m.Name)
			if err != nil {
				return err
			}
			next = *nl
			n.log.Info("taking a node out of the placement layout", "node", m.Name, "state", m.State.String(), "since", m.Since)
		}
	}
	if next.Version == cur.Version {
		return nil
	}
	next.Version = cur.Version + 1
	if err := n.proposeLayout(ctx, &next); err != nil {
		return err
	}
	n.log.Info("placement layout committed", "version", next.Version, "nodes", len(next.Nodes))
	return nil
}

// raftAlerts raises leader_lost when no leader has been known for a few
// election timeouts, and resolves it when one is.
func (n *node) raftAlerts(ctx context.Context, grace time.Duration) {
	t := time.NewTicker(grace / 4)
	defer t.Stop()
	since := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.raft.Leader() != "" {
			since = time.Time{}
			n.report(false, alerts.LeaderLost, "", nil)
			n.report(false, alerts.QuorumLost, "", nil)
			continue
		}
		if since.IsZero() {
			since = time.Now()
		} else if time.Since(since) > grace {
			n.report(true, alerts.LeaderLost, "", map[string]string{"since": since.UTC().Format(time.RFC3339)})
		}
	}
}

// alertingProposer raises quorum_lost when a metadata change fails for
// want of a Raft leader (the change itself fails with EIO); raftAlerts
// resolves it once a leader is back.
type alertingProposer struct {
	*consensus.Node
	n *node
}

func (p alertingProposer) Propose(ctx context.Context, cmd *meta.Cmd) (*meta.Result, error) {
	res, err := p.Node.Propose(ctx, cmd)
	if errors.Is(err, consensus.ErrNoLeader) {
		p.n.report(true, alerts.QuorumLost, "", map[string]string{"error": err.Error()})
	}
	return res, err
}

// RunPass implements control.PassRunner: dfsctl repair and dfsctl scrub.
func (n *node) RunPass(ctx context.Context, name string, progress func(done, total int64)) (control.PassReport, error) {
	if n.keeper == nil {
		return control.PassReport{}, errors.New("this node is not part of a cluster: it has no replicas to check")
	}
	rep := func(c repair.Counts) control.PassReport {
		return control.PassReport{Chunks: c.Chunks, Copied: c.Copied, CopiedBytes: c.CopiedBytes,
			Deleted: c.Deleted, Failed: c.Failed, Took: c.Took}
	}
	switch name {
	case "repair":
		r, err := n.keeper.Repair(ctx, progress)
		out := rep(r.Counts)
		out.UnderReplicated, out.Missing = r.Under, r.Missing
		return out, err
	case "scrub":
		r, err := n.keeper.Scrub(ctx, progress)
		out := rep(r.Counts)
		out.Corrupt, out.Fixed = r.Corrupt, r.Fixed
		return out, err
	}
	return control.PassReport{}, fmt.Errorf("no pass %q", name)
}

// FileInfo implements control.InfoSource: dfsctl info.
func (n *node) FileInfo(ctx context.Context, ino uint64) (control.FileInfo, error) {
	a, err := n.fsm.GetAttr(ctx, meta.Ino(ino))
	if err != nil {
		return control.FileInfo{}, err
	}
	fi := control.FileInfo{Ino: ino, Size: a.Size, Mode: a.Mode, Inline: a.Inline, Chunks: []control.ChunkInfo{}}
	if !a.IsReg() || a.Inline {
		return fi, nil
	}
	refs, err := n.fsm.Chunks(ctx, meta.Ino(ino))
	if err != nil {
		return control.FileInfo{}, err
	}
	var p *placement.Placer
	if n.placer != nil {
		p = n.placer.placer()
	}
	for _, ref := range refs {
		ci := control.ChunkInfo{Index: ref.Index, ID: ref.ID.String(), Len: ref.Len}
		placed := map[string]bool{}
		if p != nil {
			for _, name := range p.Place(ref.ID) {
				placed[name] = true
			}
		}
		if rb, ok := n.chunks.(clusterSpace); ok {
			for _, r := range rb.Locate(ctx, ref.ID) {
				ri := control.ReplicaInfo{Node: r.Node, Placed: placed[r.Node], Has: r.Has}
				if r.Err != nil {
					ri.Error = r.Err.Error()
				}
				ci.Replicas = append(ci.Replicas, ri)
			}
		} else {
			_, err := n.chunks.Stat(ctx, ref.ID.Key())
			ri := control.ReplicaInfo{Node: n.cfg.nodeName, Placed: true, Has: err == nil}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				ri.Error = err.Error()
			}
			ci.Replicas = append(ci.Replicas, ri)
		}
		fi.Chunks = append(fi.Chunks, ci)
	}
	return fi, nil
}

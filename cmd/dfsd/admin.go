package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dfsproject/dfs/alerts"
	"github.com/dfsproject/dfs/cluster"
	"github.com/dfsproject/dfs/cluster/control"
	"github.com/dfsproject/dfs/cluster/placement"
	"github.com/dfsproject/dfs/cluster/repair"
	"github.com/dfsproject/dfs/store"
	"github.com/dfsproject/dfs/store/meta"
)

// errRemoved ends dfsd once the layout says an operator removed this node.
var errRemoved = errors.New("this node was removed from the cluster (dfsctl node remove), so it stops; to bring it back, start it again with an empty data directory")

// errLayoutRaced: another layout change was committed first.
var errLayoutRaced = errors.New("another layout change came first")

// readLayout returns the committed layout, or an empty one with
// --replicas copies before the first.
func (n *node) readLayout(ctx context.Context) (*placement.Layout, error) {
	b, ver, err := n.fsm.Layout(ctx)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return &placement.Layout{Version: ver, Replicas: n.cfg.replicas}, nil
	}
	return placement.DecodeLayout(b)
}

// proposeLayout commits next, whose Version must be one more than the
// committed one's; errLayoutRaced when another change came first.
func (n *node) proposeLayout(ctx context.Context, next *placement.Layout) error {
	enc, err := next.Encode()
	if err != nil {
		return err
	}
	res, err := n.raft.Propose(ctx, &meta.Cmd{Op: meta.OpSetLayout, Size: next.Version, Value: enc})
	switch {
	case err != nil:
		return err
	case res.Errno == syscall.ESTALE:
		return errLayoutRaced
	case res.Errno != 0:
		return res.Errno
	}
	return nil
}

// refused is a control.ErrRefused with a sentence.
func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", control.ErrRefused, fmt.Sprintf(format, args...))
}

// NodeAction implements control.NodeAdmin: dfsctl node drain, undrain and
// remove. Any node may be asked; the change goes through the Raft leader
// as a compare-and-set of the layout, retried when another change comes
// first.
func (n *node) NodeAction(ctx context.Context, name, action string, force bool) (control.NodeResult, error) {
	res := control.NodeResult{Node: name, Action: action}
	if n.raft == nil || n.keeper == nil {
		return res, refused("this node is not part of a cluster: it has no placement layout")
	}
	for attempt := 0; ; attempt++ {
		// Read the layout the leader has committed, not an older copy.
		if err := n.raft.Barrier(ctx, 5*time.Second); err != nil {
			return res, fmt.Errorf("the namespace cannot catch up with the Raft leader: %w", err)
		}
		cur, err := n.readLayout(ctx)
		if err != nil {
			return res, err
		}
		res.LayoutVersion = cur.Version
		i := slices.IndexFunc(cur.Nodes, func(nd placement.Node) bool { return nd.Name == name })
		if i < 0 {
			names := make([]string, 0, len(cur.Nodes))
			for _, nd := range cur.Nodes {
				names = append(names, nd.Name)
			}
			return res, refused("%s is not in the placement layout (its nodes are %s)", name, strings.Join(names, ", "))
		}
		state := cur.Nodes[i].State
		var next *placement.Layout
		switch {
		case state == placement.Removed:
			if action == "remove" {
				res.Message = name + " is already removed"
				return res, nil
			}
			return res, refused("%s was removed from the cluster; it can only come back as a new node", name)
		case action == "drain" && state == placement.Draining:
			res.Message = name + " is already draining"
			return res, nil
		case action == "undrain" && state == placement.Active:
			res.Message = name + " is already active"
			return res, nil
		case action == "drain":
			active := 0
			for _, nd := range cur.Nodes {
				if nd.Name != name && nd.State == placement.Active {
					active++
				}
			}
			if active < cur.Replicas && !force {
				return res, refused("draining %s would leave %d active nodes, fewer than the %d copies each chunk needs: new chunks would get fewer copies and its own could not move away; add a node first, or use --force", name, active, cur.Replicas)
			}
			next, err = cur.SetState(name, placement.Draining)
			res.Message = fmt.Sprintf("%s is draining: it gets no new chunks and its chunks move to the other nodes; dfsctl status shows what it still holds, then run dfsctl node remove %s", name, name)
		case action == "undrain":
			next, err = cur.SetState(name, placement.Active)
			res.Message = name + " is active again: it gets new chunks and its share of the others"
		case action == "remove":
			if !force {
				if err := n.checkRemoval(ctx, name); err != nil {
					return res, err
				}
			}
			next, err = cur.SetState(name, placement.Removed)
			res.Message = fmt.Sprintf("%s is removed from the layout; if it runs, it stops by itself", name)
		default:
			return res, fmt.Errorf("no node action %q", action)
		}
		if err != nil {
			return res, err
		}
		err = n.proposeLayout(ctx, next)
		if errors.Is(err, errLayoutRaced) && attempt < 5 {
			continue
		}
		if err != nil {
			return res, err
		}
		res.LayoutVersion = next.Version
		n.log.Info("node action", "action", action, "node", name, "force", force, "layout_version", next.Version)
		return res, nil
	}
}

// checkRemoval refuses to remove a node while that would leave a
// referenced chunk with fewer than R copies on the other live nodes.
func (n *node) checkRemoval(ctx context.Context, name string) error {
	r, err := n.keeper.CheckRemoval(ctx, name)
	if err != nil {
		return fmt.Errorf("cannot check what removing %s would leave: %w", name, err)
	}
	if r.Short == 0 {
		return nil
	}
	held := "its chunks cannot be listed"
	if r.Held >= 0 {
		held = fmt.Sprintf("it holds %d of the %d referenced chunks", r.Held, r.Chunks)
	}
	msg := fmt.Sprintf("removing %s would leave %d chunks with fewer than %d copies (%s", name, r.Short, r.Need, held)
	if len(r.Unavailable) > 0 {
		msg += "; the copies on " + strings.Join(r.Unavailable, ", ") + " could not be counted"
	}
	return refused("%s); drain it first (dfsctl node drain %s) and wait until it holds nothing, or use --force to lose those copies", msg, name)
}

// watchLayout refreshes the compiled layout every tick on every node (so
// that a new version triggers the keeper at once), stops this node when
// the layout says it was removed, and, while this node leads, keeps the
// layout in step with gossip (updateLayout).
func (n *node) watchLayout(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var once sync.Once
	var seen uint64           // the layout version last looked at
	var known map[string]bool // its nodes, removed ones included
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p := n.placer.placer(); p != nil {
			if p.Version() != seen {
				all, placed := map[string]bool{}, map[string]bool{}
				for _, nd := range p.Layout().Nodes {
					all[nd.Name] = true
					placed[nd.Name] = nd.State != placement.Removed
				}
				if known != nil {
					n.resolveGone(known, placed)
				}
				seen, known = p.Version(), all
			}
			if nd, ok := p.Node(n.cfg.nodeName); ok && nd.State == placement.Removed {
				once.Do(func() {
					n.log.Warn("this node was removed from the cluster: stopping", "layout_version", p.Version())
					// Let the answer to dfsctl node remove go out first
					// when this node was the one asked.
					time.AfterFunc(time.Second, func() { n.fail(errRemoved) })
				})
			}
		}
		if n.raft.IsLeader() {
			if err := n.updateLayout(ctx); err != nil && ctx.Err() == nil && !errors.Is(err, errLayoutRaced) {
				n.log.Warn("placement layout not updated", "err", err)
			}
		}
	}
}

// resolveGone resolves the membership alerts of the nodes of the last
// layout (before) that the new one no longer places (placed: taken out
// after the down-out, removed, or dropped once removed) and that are not
// alive: the cluster no longer counts on them, and repair restores what
// they held.
func (n *node) resolveGone(before, placed map[string]bool) {
	for name := range before {
		if placed[name] {
			continue
		}
		if m, ok := n.gossip.Member(name); ok && m.State == cluster.MemberAlive {
			continue
		}
		for _, k := range []alerts.Kind{alerts.PeerSuspect, alerts.PeerDead, alerts.PeerLeft} {
			n.report(false, k, name, map[string]string{"reason": "taken out of the placement layout"})
		}
	}
}

// replicationInterval is how often the leader sums the nodes' replication
// health (and the others fetch its sum).
func (n *node) replicationInterval() time.Duration {
	if n.cfg.gossipProfile == "test" {
		return time.Second
	}
	return 10 * time.Second
}

// LocalReplication implements control.ReplicationSource: this node's
// share, from its keeper's last passes.
func (n *node) LocalReplication() control.NodeReplication {
	nr := control.NodeReplication{Node: n.cfg.nodeName}
	if n.keeper == nil {
		nr.Error = "this node is not part of a cluster"
		return nr
	}
	if p := n.placer.placer(); p != nil {
		if nd, ok := p.Node(n.cfg.nodeName); ok {
			nr.LayoutState = nd.State.String()
		}
	}
	if h := n.keeper.Health(); !h.RepairedAt.IsZero() {
		nr.Health = healthOf(h)
	}
	return nr
}

func healthOf(h repair.Health) *control.ReplicationHealth {
	return &control.ReplicationHealth{
		Replicated: h.Replicated, ReplicatedBytes: h.ReplicatedBytes,
		UnderReplicated: h.Under, UnderBytes: h.UnderBytes, Missing: h.Missing,
		ToMove: h.ToMove, ToMoveBytes: h.ToMoveBytes, Held: h.Held, HeldBytes: h.HeldBytes,
		CheckedAt: h.RepairedAt.UTC(),
	}
}

// ClusterReplication implements control.ReplicationSource: the leader's
// last sum (on another node, the copy last fetched from the leader).
func (n *node) ClusterReplication(context.Context) (control.ClusterReplication, error) {
	if cr := n.repl.Load(); cr != nil {
		return *cr, nil
	}
	return control.ClusterReplication{}, errors.New("the replication health has not been summed yet")
}

// sumReplication runs on every node: the leader sums the nodes' shares,
// the others fetch its sum; then each raises or resolves the replication
// alerts from it (only the leader pushes them).
func (n *node) sumReplication(ctx context.Context) {
	t := time.NewTicker(n.replicationInterval())
	defer t.Stop()
	var underSince time.Time // the leader's: since when chunks are under-replicated
	var rechecked time.Time  // the last recheckCorrupt: it reads whole chunks
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var cr control.ClusterReplication
		if n.raft.IsLeader() {
			cr = n.collectReplication(ctx)
			switch {
			case cr.Total.UnderReplicated == 0 && cr.Total.Missing == 0:
				underSince = time.Time{}
			case underSince.IsZero():
				underSince = cr.At
			}
			cr.UnderSince = underSince
		} else {
			underSince = time.Time{}
			m, ok := n.gossip.Member(n.raft.Leader())
			if !ok || m.Meta.HTTPAddr == "" {
				continue
			}
			c := control.Client{Addr: m.Meta.HTTPAddr, Key: n.key, Timeout: 2 * time.Second}
			var err error
			if cr, err = c.Replication(ctx); err != nil {
				continue
			}
		}
		n.repl.Store(&cr)
		n.replicationAlerts(cr)
		if time.Since(rechecked) >= 6*n.replicationInterval() {
			rechecked = time.Now()
			n.recheckCorrupt(ctx)
		}
	}
}

// recheckCorrupt resolves the corrupt_replica alerts this node raised
// about another node's copy (a read here found it corrupt) once that copy
// reads back sound, or is gone: the holder's scrub replaced or dropped
// it. Only the holder could resolve them otherwise, and it does so for
// its own alert only.
func (n *node) recheckCorrupt(ctx context.Context) {
	for _, ev := range n.alerts.Open() {
		if ev.Kind != alerts.CorruptReplica || ev.Node == n.cfg.nodeName || ev.Node == "" {
			continue
		}
		id, err := store.ParseChunkID(ev.Details["chunk"])
		if err != nil {
			continue
		}
		c, ok := n.peers.peerClient(ev.Node)
		if !ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = c.GetChunk(cctx, id)
		cancel()
		if err == nil || errors.Is(err, store.ErrNotFound) {
			n.reportLocal(false, alerts.CorruptReplica, ev.Node, map[string]string{"chunk": id.String(), "reason": "the copy reads back sound, or was dropped"})
		}
	}
}

// collectReplication asks every node of the layout that is up for its
// share, at once, and sums them.
func (n *node) collectReplication(ctx context.Context) control.ClusterReplication {
	cr := control.ClusterReplication{Leader: n.cfg.nodeName, At: time.Now().UTC(), Complete: true}
	p := n.placer.placer()
	if p == nil {
		cr.Complete = false
		return cr
	}
	lay := p.Layout()
	out := make([]control.NodeReplication, len(lay.Nodes))
	var wg sync.WaitGroup
	for i, nd := range lay.Nodes {
		out[i] = control.NodeReplication{Node: nd.Name, LayoutState: nd.State.String()}
		if nd.State == placement.Removed {
			continue
		}
		if nd.Name == n.cfg.nodeName {
			out[i] = n.LocalReplication()
			continue
		}
		m, ok := n.gossip.Member(nd.Name)
		switch {
		case !ok:
			out[i].Error = "not in the membership"
			continue
		case m.State != cluster.MemberAlive && m.State != cluster.MemberSuspect:
			out[i].Error = "the node is " + m.State.String()
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			c := control.Client{Addr: m.Meta.HTTPAddr, Key: n.key, Timeout: 2 * time.Second}
			nr, err := c.LocalReplication(cctx)
			if err != nil {
				out[i].Error = err.Error()
				return
			}
			out[i].Health = nr.Health
		})
	}
	wg.Wait()
	for _, nr := range out {
		switch {
		case nr.Health != nil:
			cr.Total.Add(*nr.Health)
		case nr.LayoutState != placement.Removed.String() && !strings.HasPrefix(nr.Error, "the node is "):
			// A live node that did not answer: its chunks are not
			// counted. (A dead node's are counted by the nodes that
			// took them over.)
			cr.Complete = false
		}
	}
	cr.Nodes = out
	return cr
}

// replicationAlerts raises chunks_missing while a referenced chunk has no
// live copy, and under_replicated when chunks have stayed short of their
// copies for --under-replicated-alert; both resolve once a complete sum
// finds none.
func (n *node) replicationAlerts(cr control.ClusterReplication) {
	t := cr.Total
	details := map[string]string{
		"under_replicated": strconv.FormatInt(t.UnderReplicated, 10),
		"missing":          strconv.FormatInt(t.Missing, 10),
	}
	switch {
	case t.Missing > 0:
		n.report(true, alerts.ChunksMissing, "", details)
	case cr.Complete:
		n.report(false, alerts.ChunksMissing, "", details)
	}
	under := t.UnderReplicated+t.Missing > 0
	switch {
	case under && !cr.UnderSince.IsZero() && cr.At.Sub(cr.UnderSince) >= n.cfg.underAlert:
		details["since"] = cr.UnderSince.Format(time.RFC3339)
		n.report(true, alerts.UnderReplicated, "", details)
	case !under && cr.Complete:
		n.report(false, alerts.UnderReplicated, "", details)
	}
}

// Holds implements control.HoldSource: whether this node's filesystem has
// inode ino open.
func (n *node) Holds(ino uint64) (bool, error) {
	v := n.vfs.Load()
	if v == nil {
		return false, errors.New("the filesystem is not open yet")
	}
	return v.Holds(meta.Ino(ino)), nil
}

// othersHold is vfs.Config.OthersHold: it asks every other live member,
// at once, whether it has inode ino open. Dead and departed members hold
// nothing (their mounts went with them); a suspect or silent one makes
// the answer unknown, so the orphan waits for the sweep.
func (n *node) othersHold(ctx context.Context, ino meta.Ino) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		held  bool
		first error
		wg    sync.WaitGroup
	)
	for _, m := range n.gossip.Members() {
		switch {
		case m.Local || m.State == cluster.MemberDead || m.State == cluster.MemberLeft:
			continue
		case m.State != cluster.MemberAlive || m.Meta.HTTPAddr == "":
			return false, fmt.Errorf("%s is %s: cannot ask whether it holds inode %d", m.Name, m.State, ino)
		}
		wg.Go(func() {
			c := control.Client{Addr: m.Meta.HTTPAddr, Key: n.key, Timeout: 2 * time.Second}
			h, err := c.Holds(ctx, uint64(ino))
			mu.Lock()
			defer mu.Unlock()
			held = held || h
			if err != nil && first == nil {
				first = fmt.Errorf("asking %s whether it holds inode %d: %w", m.Name, ino, err)
			}
		})
	}
	wg.Wait()
	if held {
		return true, nil
	}
	return false, first
}
